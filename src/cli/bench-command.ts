// `understudy bench`: a closed-loop load generator against a running cluster (--coordinator) or a
// local one it starts and stops itself (--start N). Scenarios (src/bench/scenario.ts): `load` (the
// default) measures runs; `failover` kills the primary trial after trial and `steady` counts view
// changes and samples memory through one long run, both on a cluster they start. Bad flags, and
// flags a scenario does not use, are usage errors (exit 2) before anything starts; errors of the
// cluster during the runs are counted and reported, not fatal; the exit status is 1 only if an
// answer or a read-back disagreed with what the bench wrote, the read-back could not read every
// key, a failover trial did not end, or a signal cut the bench short. The scenarios' verdicts
// (failover times, view changes, memory growth) are reported, not turned into an exit status. The
// bench code is imported lazily, so the other commands never load it.

import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  type BenchScenario,
  benchScenarios,
  FAILOVER_CLIENTS_DEFAULT,
  FAILOVER_REPLICAS_MIN,
  FAILOVER_TRIALS_DEFAULT,
  FAILOVER_TRIALS_MAX,
  STEADY_DURATION_SECONDS_DEFAULT,
} from '../bench/scenario.js';
import {
  BENCH_CLIENTS_MAX,
  BENCH_DURATION_SECONDS_MAX,
  BENCH_KEYS_MAX,
  BENCH_PIPELINE_MAX,
  BENCH_RUNS_MAX,
  BENCH_SHAPE_DEFAULT,
  BENCH_VALUE_BYTES_MAX,
  BENCH_VALUE_BYTES_MIN,
  BENCH_WARMUP_SECONDS_MAX,
  type BenchShape,
  checkShape,
  durabilities,
  formatMix,
  type Mix,
  parseMix,
  type ReadMode,
  readModes,
  ShapeError,
} from '../bench/shape.js';
import { clusterSettingArguments } from '../node/cluster-settings.js';
import { type LagPolicy, lagPolicies } from '../protocol/config.js';
import type { Durability } from '../protocol/types.js';
import { clientToken } from './auth-files.js';
import { addClientOptions, addressList, type ClientFlags, exitCode, integerIn } from './options.js';
import { backupLagMaxMsMin, CLUSTER_REPLICAS_MAX, failureTimeoutMsMin } from './server-commands.js';
import { clientTlsMaterial } from './tls-files.js';

interface BenchFlags extends ClientFlags {
  readonly scenario: BenchScenario;
  readonly trials: number;
  readonly start?: number;
  readonly slowBackupFsyncMs?: number;
  readonly syncQuorum?: number;
  readonly lagPolicy?: LagPolicy;
  readonly backupLagMaxMs?: number;
  readonly failureTimeoutMs?: number;
  readonly replicaAdmins?: string[];
  readonly adminTls?: boolean;
  readonly clients: number;
  readonly pipeline: number;
  readonly sharedClient?: boolean;
  readonly mix: Mix;
  readonly valueBytes: number;
  readonly keys: number;
  readonly durability: Durability;
  readonly read: ReadMode;
  readonly duration: number;
  readonly runs: number;
  readonly warmup: number;
  readonly verify?: boolean;
}

function mixArgument(text: string): Mix {
  try {
    return parseMix(text);
  } catch (error) {
    if (error instanceof ShapeError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

export function addBenchCommand(program: Command): void {
  const defaults = BENCH_SHAPE_DEFAULT;
  const command = program
    .command('bench')
    .summary('measure throughput and latency with a closed-loop load')
    .description(
      'Run a closed-loop load (each call waits for its answer before the next) against the cluster at ' +
        '--coordinator, or against a local cluster of N replicas that --start runs and stops. Prints ' +
        'each run, the median run, the errors by code, and any answer that disagreed with what the ' +
        'bench wrote (exit 1, as when --verify cannot read every key back). --scenario failover kills ' +
        'the primary of a cluster it starts, trial after trial, and reports the time to the first sync ' +
        'write a new primary acknowledges; --scenario steady runs the load with no fault for ' +
        `${STEADY_DURATION_SECONDS_DEFAULT} s and reports the view changes and each replica's resident memory.`,
    )
    .addOption(
      new Option('--scenario <name>', 'load: runs; failover: kill -9 of the primary; steady: one long run')
        .choices(benchScenarios)
        .default('load'),
    )
    .option(
      '--trials <n>',
      'failover: kills of the primary',
      integerIn(1, FAILOVER_TRIALS_MAX),
      FAILOVER_TRIALS_DEFAULT,
    )
    .option(
      '--start <n>',
      'start a local cluster of N replicas and a coordinator (127.0.0.1, free ports, a temporary directory) and stop it at the end',
      integerIn(1, CLUSTER_REPLICAS_MAX),
    )
    .option(
      '--slow-backup-fsync-ms <ms>',
      'with --start: make every fsync of the last replica (a backup) this much slower, to measure a slow backup',
      integerIn(0, 60_000),
    )
    .option(
      '--sync-quorum <k>',
      "with --start: the cluster's commit quorum, backups a sync write waits for (default: every backup)",
      integerIn(1, CLUSTER_REPLICAS_MAX),
    )
    .addOption(
      new Option(
        '--lag-policy <policy>',
        "with --start: the cluster's policy for a backup that lags (default: demote)",
      ).choices(lagPolicies),
    )
    .option(
      '--backup-lag-max-ms <ms>',
      'with --start: how far behind a backup may fall before it lags (default: 1000)',
      integerIn(backupLagMaxMsMin, 600_000),
    )
    .option(
      '--failure-timeout-ms <ms>',
      'with --start: how long a silent replica has before it is judged dead (default: 600)',
      integerIn(failureTimeoutMsMin, 600_000),
    )
    .option(
      '--replica-admins <addresses>',
      "a running cluster's replica admin ports (host:port, comma-separated): their /metrics say where each write waited (a cluster --start runs is read anyway)",
      addressList('--replica-admins'),
    )
    .option(
      '--admin-tls',
      'read --replica-admins over HTTPS, trusting --tls-ca (replicas run with --admin-tls)',
    )
    .option(
      '--clients <n>',
      `clients, each its own connection (${FAILOVER_CLIENTS_DEFAULT} with --scenario failover)`,
      integerIn(1, BENCH_CLIENTS_MAX),
      defaults.clients,
    )
    .option(
      '--pipeline <k>',
      'calls each client keeps in flight',
      integerIn(1, BENCH_PIPELINE_MAX),
      defaults.pipeline,
    )
    .option('--shared-client', 'every call goes through one client object (one connection)')
    .addOption(
      new Option('--mix <weights>', 'operation mix: weights of put, get, append, cas, incr')
        .argParser(mixArgument)
        .default(defaults.mix, formatMix(defaults.mix)),
    )
    .option(
      '--value-bytes <n>',
      'size of each value written',
      integerIn(BENCH_VALUE_BYTES_MIN, BENCH_VALUE_BYTES_MAX),
      defaults.valueBytes,
    )
    .option('--keys <n>', 'keys each client cycles over', integerIn(1, BENCH_KEYS_MAX), defaults.keys)
    .addOption(
      new Option('--durability <level>', 'when a write is acknowledged')
        .choices(durabilities)
        .default(defaults.durability),
    )
    .addOption(
      new Option('--read <from>', 'where gets are answered').choices(readModes).default(defaults.read),
    )
    .option(
      '--duration <seconds>',
      `length of each run (${STEADY_DURATION_SECONDS_DEFAULT} with --scenario steady: its one run)`,
      integerIn(1, BENCH_DURATION_SECONDS_MAX),
      defaults.durationSeconds,
    )
    .option('--runs <n>', 'runs; the median one is reported', integerIn(1, BENCH_RUNS_MAX), defaults.runs)
    .option(
      '--warmup <seconds>',
      'load before the first run, not counted (0: none)',
      integerIn(0, BENCH_WARMUP_SECONDS_MAX),
      defaults.warmupSeconds,
    )
    .option(
      '--verify',
      'after the runs, read back every key written and compare it with what was last written (failover: always)',
    );
  addClientOptions(command).action((flags: BenchFlags, self: Command) => {
    const usage = (message: string): never =>
      self.error(`error: ${message}`, { exitCode: exitCode.usage, code: 'understudy.usage' });
    const given = (option: keyof BenchFlags) => self.getOptionValueSource(option) === 'cli';
    if (flags.start !== undefined) {
      for (const option of ['coordinator', 'clusterId'] as const) {
        if (given(option)) {
          const flag = option === 'coordinator' ? '--coordinator' : '--cluster-id';
          usage(`--start runs its own cluster: it takes no ${flag}`);
        }
      }
    }
    // A cluster the bench starts is plain TCP: the TLS flags are for one already running.
    if (flags.start !== undefined && (flags.tlsCa !== undefined || flags.tlsCert !== undefined)) {
      usage('--start runs its own cluster on plain TCP: it takes no --tls-ca or --tls-cert');
    }
    if (flags.start !== undefined && given('replicaAdmins'))
      usage('--replica-admins names the admin ports of a running cluster: --start reads its own');
    if (given('adminTls') && (flags.replicaAdmins === undefined || flags.tlsCa === undefined))
      usage('--admin-tls reads --replica-admins over HTTPS: it needs both --replica-admins and --tls-ca');
    for (const [option, flag] of [
      ['syncQuorum', '--sync-quorum'],
      ['lagPolicy', '--lag-policy'],
      ['backupLagMaxMs', '--backup-lag-max-ms'],
      ['failureTimeoutMs', '--failure-timeout-ms'],
    ] as const) {
      if (given(option) && flags.start === undefined) {
        usage(`${flag} is a setting of a cluster this bench starts: it needs --start N`);
      }
    }
    if (given('slowBackupFsyncMs')) {
      if (flags.start === undefined)
        usage('--slow-backup-fsync-ms slows a replica this bench starts: it needs --start N');
      else if (flags.start < 2) usage('--slow-backup-fsync-ms slows a backup: --start 2 or more');
    }
    const { scenario } = flags;
    const notFor = (flag: string, why: string) => usage(`--scenario ${scenario} takes no ${flag}: ${why}`);
    if (scenario !== 'failover' && given('trials')) usage('--trials is for --scenario failover');
    if (scenario === 'failover') {
      if (flags.start === undefined) {
        return usage('--scenario failover kills and restarts replicas: it needs --start N');
      }
      if (flags.start < FAILOVER_REPLICAS_MIN) {
        usage(`--scenario failover needs a backup to promote: --start ${FAILOVER_REPLICAS_MIN} or more`);
      }
      if (flags.durability === 'async')
        usage('--scenario failover times writes a failover must keep: it takes no --durability async');
      if (flags.mix.put + flags.mix.append + flags.mix.cas + flags.mix.incr === 0) {
        usage('--scenario failover times writes: --mix needs a put, append, cas or incr');
      }
      if (given('duration')) notFor('--duration', 'the load runs until the trials are done');
      if (given('runs')) notFor('--runs', 'it counts --trials');
      if (given('warmup')) notFor('--warmup', 'each trial waits for a write in a whole view before its kill');
    }
    if (scenario === 'steady') {
      if (flags.start === undefined)
        usage("--scenario steady samples the replicas' memory: it needs --start N");
      if (given('runs')) notFor('--runs', 'it is one run of --duration');
    }
    const shape: BenchShape = {
      clients: scenario === 'failover' && !given('clients') ? FAILOVER_CLIENTS_DEFAULT : flags.clients,
      pipeline: flags.pipeline,
      sharedClient: flags.sharedClient === true,
      mix: flags.mix,
      valueBytes: flags.valueBytes,
      keys: flags.keys,
      durability: flags.durability,
      read: flags.read,
      durationSeconds:
        scenario === 'steady' && !given('duration') ? STEADY_DURATION_SECONDS_DEFAULT : flags.duration,
      runs: scenario === 'load' ? flags.runs : 1,
      warmupSeconds: scenario === 'failover' ? 0 : flags.warmup,
    };
    try {
      checkShape(shape);
    } catch (error) {
      if (error instanceof ShapeError) usage(error.message);
      throw error;
    }
    return bench(flags, shape);
  });
}

/** What a scenario reports: the object of --json, the text otherwise, and whether the exit is 1. */
interface Outcome {
  readonly report: object;
  readonly text: string;
  readonly failed: boolean;
}

/** What every scenario's report says of its answers and of itself. */
interface Checked {
  readonly mismatches: { readonly count: number };
  readonly verify: {
    readonly mismatches: number;
    readonly readErrors: Readonly<Record<string, number>>;
  } | null;
  readonly interrupted: boolean;
}

/**
 * A scenario's outcome: it failed if an answer or a read-back disagreed with what the bench wrote, a
 * key could not be read back, or the run was interrupted.
 */
function outcomeOf<R extends Checked>(report: R, format: (report: R) => string): Outcome {
  const count = report.mismatches.count + (report.verify?.mismatches ?? 0);
  const disagreed = count > 0 || Object.keys(report.verify?.readErrors ?? {}).length > 0;
  return { report, text: format(report), failed: disagreed || report.interrupted };
}

async function bench(flags: BenchFlags, shape: BenchShape): Promise<void> {
  const { jsonReport } = await import('../bench/report.js');
  const { ProgressLine } = await import('../bench/progress.js');
  const { runningCluster, startLocalCluster, METRICS_TIMEOUT_MS } = await import('../bench/target.js');
  const { httpMetricsFetcher, httpsMetricsFetcher } = await import(
    '../admin/dashboard/write-latency-scraper.js'
  );
  const progress = process.stderr.isTTY ? new ProgressLine(process.stderr) : null;
  const interrupted = new AbortController();
  const interrupt = () => interrupted.abort();
  process.once('SIGINT', interrupt).once('SIGTERM', interrupt);
  const { signal } = interrupted;
  const timeoutMs = flags.timeout;
  const onSecond = progress === null ? {} : { onSecond: progress.show.bind(progress) };
  const onPhaseEnd = progress === null ? {} : { onPhaseEnd: () => progress.clear() };
  try {
    if (flags.start !== undefined)
      progress?.note(`starting a cluster of ${flags.start} replica${flags.start === 1 ? '' : 's'}`);
    const started =
      flags.start === undefined
        ? null
        : await startLocalCluster(flags.start, {
            ...(flags.slowBackupFsyncMs === undefined ? {} : { slowBackupFsyncMs: flags.slowBackupFsyncMs }),
            clusterArguments: clusterSettingArguments(flags),
          });
    const tls = clientTlsMaterial(flags);
    const target =
      started ??
      runningCluster(flags.coordinator, flags.clusterId, tls, clientToken(flags.tokenFile), {
        addresses: flags.replicaAdmins ?? [],
        fetchMetrics:
          flags.adminTls === true && tls !== undefined
            ? httpsMetricsFetcher(METRICS_TIMEOUT_MS, { ca: tls.ca })
            : httpMetricsFetcher(METRICS_TIMEOUT_MS),
      });
    try {
      let outcome: Outcome;
      if (flags.scenario === 'load') {
        const { runBench } = await import('../bench/run.js');
        const { formatReport } = await import('../bench/report.js');
        const verify = flags.verify === true;
        const report = await runBench(target, {
          shape,
          timeoutMs,
          verify,
          signal,
          ...onSecond,
          ...onPhaseEnd,
        });
        outcome = outcomeOf(report, formatReport);
      } else {
        if (started === null) throw new Error(`--scenario ${flags.scenario} needs a cluster it started`);
        const { formatFailoverReport, formatSteadyReport } = await import('../bench/scenario-report.js');
        if (flags.scenario === 'failover') {
          const { runFailover } = await import('../bench/failover.js');
          const onNote = progress === null ? {} : { onNote: (text: string) => progress.note(text) };
          const report = await runFailover(started, {
            shape,
            trials: flags.trials,
            timeoutMs,
            signal,
            ...onNote,
          });
          outcome = outcomeOf(report, formatFailoverReport);
        } else {
          const { runSteady } = await import('../bench/steady.js');
          const verify = flags.verify === true;
          const report = await runSteady(started, {
            shape,
            timeoutMs,
            verify,
            signal,
            ...onSecond,
            ...onPhaseEnd,
          });
          outcome = outcomeOf(report, formatSteadyReport);
        }
      }
      progress?.clear();
      process.stdout.write(flags.json ? jsonReport(outcome.report) : outcome.text);
      if (outcome.failed) process.exitCode = exitCode.failed;
    } finally {
      progress?.clear();
      await target.close();
    }
  } finally {
    process.off('SIGINT', interrupt).off('SIGTERM', interrupt);
  }
}
