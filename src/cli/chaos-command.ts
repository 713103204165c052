// `understudy chaos`: a fault-injection run against real processes (a coordinator and replicas behind
// fault-injecting proxies), with a workload, a seeded nemesis and the history checks; prints the
// report and exits 0 only if every check held. Bad flags are usage errors (exit 2). The chaos code
// is imported lazily, so the other commands never load it.

import { randomInt } from 'node:crypto';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { CLOCK_DRIFT_DEFAULT, CLOCK_DRIFT_MAX } from '../chaos/clock-rates.js';
import {
  CHAOS_REDIS_PROCESSES_DEFAULT,
  CHAOS_SESSIONS_MAX_CHOICES,
  CHAOS_TRANSFER_BYTES_PER_SECOND,
} from '../chaos/cluster-settings.js';
import {
  defaultNemesisKinds,
  diskNemesisKinds,
  etcdNemesisKinds,
  type NemesisKind,
  nemesisKinds,
} from '../chaos/nemesis-kinds.js';
import {
  type FileSystem,
  fileSystems,
  powerCutsUnavailable,
  serverDisksUnavailable,
} from '../chaos/server-disks.js';
import { clusterSettingArguments } from '../node/cluster-settings.js';
import { type LagPolicy, lagPolicies } from '../protocol/config.js';
import { decimalIn, exitCode, integerIn, nonEmpty } from './options.js';
import { backupLagMaxMsMin, CLUSTER_REPLICAS_MAX, failureTimeoutMsMin } from './server-commands.js';

export const CHAOS_DURATION_SECONDS_DEFAULT = 60;
export const CHAOS_DURATION_SECONDS_MAX = 24 * 60 * 60;
export const CHAOS_CLIENTS_DEFAULT = 5;
export const CHAOS_CLIENTS_MAX = 64;
/** Two calls in flight per connection by default: pipelining is how real clients use one. */
export const CHAOS_PIPELINE_DEFAULT = 2;
export const CHAOS_PIPELINE_MAX = 16;
/**
 * Two faults at once by default, so a plain `understudy chaos` covers overlapping faults (the fault
 * model allows them); --concurrency 1 gives the one-fault-at-a-time schedule of earlier versions.
 */
export const CHAOS_CONCURRENCY_DEFAULT = 2;
export const CHAOS_CONCURRENCY_MAX = 8;
export const CHAOS_REPLICAS_DEFAULT = 3;
/** One replica down at a time must leave another to serve. */
export const CHAOS_REPLICAS_MIN = 2;
export const CHAOS_KEYS_DEFAULT = 4;
export const CHAOS_KEYS_MAX = 64;
export const CHAOS_SEED_MAX = 0xffff_ffff;
/**
 * At 10 s a fault meant to outlast the failure timeout holds 11 to 22 s, so a run of a few minutes
 * still sees a dozen; longer timeouts belong to the simulator, where time costs nothing.
 */
const CHAOS_FAILURE_TIMEOUT_MS_MAX = 10_000;
export const CHAOS_SESSIONS_MAX_MAX = 100_000_000;
export const CHAOS_TRANSFER_RATE_MAX = 2 ** 40;
interface ChaosFlags {
  readonly duration: number;
  readonly clients: number;
  readonly redisClients: number;
  readonly pipeline: number;
  readonly nemesis: readonly NemesisKind[];
  readonly concurrency: number;
  readonly history?: string;
  readonly replicas: number;
  readonly keys: number;
  readonly sessionsMax?: number;
  readonly transferRate?: number;
  readonly syncQuorum?: number;
  readonly lagPolicy?: LagPolicy;
  readonly backupLagMaxMs?: number;
  readonly failureTimeoutMs?: number;
  readonly clockDrift?: number;
  readonly fileSystem: FileSystem;
  readonly etcd?: boolean;
  readonly seed?: number;
  readonly dir?: string;
  readonly keep?: boolean;
}

/** "kill,pause" → the kinds; "none" → no faults (a control run). */
function nemesisList(text: string): NemesisKind[] {
  if (text.trim() === 'none') return [];
  const names = text.split(',').map((name) => name.trim());
  const kinds: NemesisKind[] = [];
  for (const name of names) {
    const kind = nemesisKinds.find((known) => known === name);
    if (kind === undefined) {
      throw new InvalidArgumentError(
        `expected a comma-separated subset of ${nemesisKinds.join(',')} or none.`,
      );
    }
    if (!kinds.includes(kind)) kinds.push(kind);
  }
  return kinds;
}

export function addChaosCommand(program: Command): void {
  program
    .command('chaos')
    .description(
      'start a cluster behind fault-injecting proxies, run clients while faults are injected, then check the history',
    )
    .option(
      '--duration <seconds>',
      'how long the workload and the faults run',
      integerIn(1, CHAOS_DURATION_SECONDS_MAX),
      CHAOS_DURATION_SECONDS_DEFAULT,
    )
    .option(
      '--clients <n>',
      'clients, each with its own connection to the primary',
      integerIn(1, CHAOS_CLIENTS_MAX),
      CHAOS_CLIENTS_DEFAULT,
    )
    .option(
      '--pipeline <k>',
      'calls in flight per client: each client is shared by this many processes of the history',
      integerIn(1, CHAOS_PIPELINE_MAX),
      CHAOS_PIPELINE_DEFAULT,
    )
    .option(
      '--redis-clients <n>',
      "history processes that run GET, SET, APPEND and INCR through the replicas' Redis ports (each replica gets one), 0 for none",
      integerIn(0, CHAOS_CLIENTS_MAX),
      CHAOS_REDIS_PROCESSES_DEFAULT,
    )
    .addOption(
      new Option(
        '--nemesis <list>',
        `faults to inject: a subset of ${nemesisKinds.join(',')} (etcd and etcd-full only with --etcd; disk-hang, disk-full, disk-slow and power-loss only as root, where it can mount, fsfreeze and fill a file system per server, power-loss with xfs_io too; upgrade, only when named, starts every replica at --format-level 1 and upgrades them one at a time, then tries rollbacks the cluster must refuse), or none`,
      )
        .argParser(nemesisList)
        .default([...defaultNemesisKinds], defaultNemesisKinds.join(',')),
    )
    .option(
      '--concurrency <n>',
      'faults that may be in progress at once (within the fault model: one lost directory at a time, at most replicas-1 down)',
      integerIn(1, CHAOS_CONCURRENCY_MAX),
      CHAOS_CONCURRENCY_DEFAULT,
    )
    .option(
      '--history <file>',
      'write the history as JSON lines (final reads included)',
      nonEmpty('--history'),
    )
    .option(
      '--replicas <n>',
      'number of replicas',
      integerIn(CHAOS_REPLICAS_MIN, CLUSTER_REPLICAS_MAX),
      CHAOS_REPLICAS_DEFAULT,
    )
    .option(
      '--keys <n>',
      'register keys (and as many append keys)',
      integerIn(1, CHAOS_KEYS_MAX),
      CHAOS_KEYS_DEFAULT,
    )
    .option(
      '--sessions-max <n>',
      `client sessions each replica keeps (its --sessions-max), small so sessions expire under the workload (default: the seed picks one of ${CHAOS_SESSIONS_MAX_CHOICES.join(', ')})`,
      integerIn(1, CHAOS_SESSIONS_MAX_MAX),
    )
    .option(
      '--transfer-rate <bytes-per-second>',
      `the replicas' --transfer-rate (default: ${CHAOS_TRANSFER_BYTES_PER_SECOND} with the transfer-kill nemesis, unlimited without)`,
      integerIn(1, CHAOS_TRANSFER_RATE_MAX),
    )
    .option(
      '--sync-quorum <k>',
      "the cluster's --sync-quorum: a commit waits for k backups, a failover for enough backups' reports (default: every backup)",
      integerIn(1, CLUSTER_REPLICAS_MAX),
    )
    .addOption(
      new Option(
        '--lag-policy <policy>',
        "the cluster's --lag-policy for a backup that lags (default: demote)",
      ).choices(lagPolicies),
    )
    .option(
      '--backup-lag-max-ms <ms>',
      "the cluster's --backup-lag-max-ms: how far behind a backup may fall before it lags (default: 1000)",
      integerIn(backupLagMaxMsMin, 600_000),
    )
    .option(
      '--failure-timeout-ms <ms>',
      "the cluster's --failure-timeout-ms (default: 600); the faults meant to outlast it (kill, pause, " +
        'partition, disk-hang, a cut coordinator link, a wiped replica kept down) hold that much longer',
      integerIn(failureTimeoutMsMin, CHAOS_FAILURE_TIMEOUT_MS_MAX),
    )
    .option(
      '--clock-drift <fraction>',
      `each server's monotonic clock runs at a rate of its own, drawn by the seed within 1 ± this ` +
        `(the drift the lease's margin allows for; 0: the machine's clock everywhere) (default: ${CLOCK_DRIFT_DEFAULT})`,
      decimalIn(0, CLOCK_DRIFT_MAX),
    )
    .addOption(
      new Option(
        '--file-system <name>',
        "the file system of each server's own disk, which the disk nemeses freeze, fill and cut the power of " +
          '(xfs needs mkfs.xfs: Debian package xfsprogs)',
      )
        .choices(fileSystems)
        .default('ext4'),
    )
    .option(
      '--etcd',
      'run two coordinators on a 3-member etcd started for the run (needs the etcd binary): the ' +
        'coordinator nemesis then kills or stops the leading one, the etcd nemesis kills members',
    )
    .option(
      '--seed <n>',
      'seed of the fault schedule and the workload (random by default)',
      integerIn(0, CHAOS_SEED_MAX),
    )
    .option(
      '--dir <path>',
      'parent of the run directory (the system temporary directory by default)',
      nonEmpty('--dir'),
    )
    .option('--keep', "keep the run's directory (data directories, server logs, history) when it passes too")
    .action(async (flags: ChaosFlags, self: Command) => {
      // Every kind by default, less those this run cannot inject (said in a log line); a kind asked
      // for by name that cannot be injected is bad usage: the run would go without the fault it was for.
      if (self.getOptionValueSource('nemesis') === 'cli') {
        const usage = (message: string): never =>
          self.error(`error: ${message}`, { exitCode: exitCode.usage, code: 'understudy.usage' });
        const etcdNemeses = flags.nemesis.filter((kind) => etcdNemesisKinds.includes(kind));
        if (etcdNemeses.length > 0 && flags.etcd !== true) {
          usage(`--nemesis ${etcdNemeses.join(',')} acts on the etcd that --etcd starts: add --etcd`);
        }
        const diskNemeses = flags.nemesis.filter((kind) => diskNemesisKinds.includes(kind));
        if (diskNemeses.length > 0) {
          const missing = serverDisksUnavailable(flags.fileSystem);
          if (missing !== null) usage(`--nemesis ${diskNemeses.join(',')} cannot run here: ${missing}`);
          const noPowerCuts = flags.nemesis.includes('power-loss') ? powerCutsUnavailable() : null;
          if (noPowerCuts !== null) usage(`--nemesis power-loss cannot run here: ${noPowerCuts}`);
        }
      }
      const { runChaos } = await import('../chaos/run.js');
      const { formatReport } = await import('../chaos/report.js');
      const seed = flags.seed ?? randomInt(CHAOS_SEED_MAX);
      const nemeses = flags.nemesis.length === 0 ? 'none' : flags.nemesis.join(',');
      const print = (line: string) => process.stdout.write(`${line}\n`);
      // A schedule replays only with the cluster settings it ran under: name them with the seed.
      const settings = clusterSettingArguments(flags).join(' ');
      print(
        `chaos: starting with seed ${seed} (--seed ${seed}${settings === '' ? '' : ` ${settings}`} replays the schedule), nemesis ${nemeses}, concurrency ${flags.concurrency}`,
      );
      const interrupted = new AbortController();
      const interrupt = () => interrupted.abort();
      process.once('SIGINT', interrupt).once('SIGTERM', interrupt);
      try {
        const report = await runChaos({
          durationSeconds: flags.duration,
          clients: flags.clients,
          pipeline: flags.pipeline,
          redisClients: flags.redisClients,
          nemeses: flags.nemesis,
          concurrency: flags.concurrency,
          replicas: flags.replicas,
          keys: flags.keys,
          ...(flags.sessionsMax === undefined ? {} : { sessionsMax: flags.sessionsMax }),
          ...(flags.transferRate === undefined ? {} : { transferBytesPerSecond: flags.transferRate }),
          ...(flags.syncQuorum === undefined ? {} : { syncQuorum: flags.syncQuorum }),
          ...(flags.lagPolicy === undefined ? {} : { lagPolicy: flags.lagPolicy }),
          ...(flags.backupLagMaxMs === undefined ? {} : { backupLagMaxMs: flags.backupLagMaxMs }),
          ...(flags.failureTimeoutMs === undefined ? {} : { failureTimeoutMs: flags.failureTimeoutMs }),
          ...(flags.clockDrift === undefined ? {} : { clockDrift: flags.clockDrift }),
          fileSystem: flags.fileSystem,
          ...(flags.etcd === true ? { etcd: true } : {}),
          seed,
          ...(flags.history === undefined ? {} : { historyFile: flags.history }),
          ...(flags.dir === undefined ? {} : { directory: flags.dir }),
          ...(flags.keep === true ? { keepDirectory: true } : {}),
          log: print,
          signal: interrupted.signal,
        });
        process.stdout.write(formatReport(report));
        process.exitCode = report.passed ? exitCode.success : exitCode.failed;
      } finally {
        process.off('SIGINT', interrupt).off('SIGTERM', interrupt);
      }
    });
}
