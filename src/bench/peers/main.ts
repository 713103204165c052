// `npm run bench:peers`: Understudy beside Redis and etcd on this machine, in one run, with the load
// shape of `understudy bench` (closed loop, 64-byte values, keys cycling over 10,000 per client,
// 5 s runs after a 5 s warmup, the median of 3), at 1 and 32 clients, printed as one table with
// the ratios; `--rounds R` runs the whole comparison R times over and reports medians (rounds.ts).
// Installs redis-server and etcd-server from Debian's packages when missing (a peer that cannot be
// had is skipped and says why). Every server listens on 127.0.0.1 and is stopped
// by its process id; the data directories live in one temporary directory, removed at the end
// (each round starts every server afresh, in a folder of its own).
//
// Each Understudy row's ratios are against the peers of its operation: puts over Redis's SET and
// etcd's put, gets over Redis's GET and etcd's get.
//
//   npm run bench:peers -- [--duration S] [--runs N] [--warmup S] [--rounds R] [--clients 1,32] [--json]

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { formatCpu, formatKernelCpu } from '../process-cpu.js';
import { BENCH_KEYS_DEFAULT, BENCH_VALUE_BYTES_DEFAULT } from '../shape.js';
import { formatCount, formatMs } from '../table.js';
import {
  type Cell,
  formatComparison,
  isMeasured,
  Results,
  type SystemId,
  skippedCells,
  systems,
} from './comparison.js';
import { EtcdGroup, etcdLoad } from './etcd.js';
import { type BinaryLookup, ETCD_BINARY, ensureBinaries, type PeerBinary, REDIS_BINARY } from './install.js';
import { measureLoad } from './peer-load.js';
import { parsePlan } from './plan.js';
import { RedisGroup, redisLoad } from './redis.js';
import { combineCells, ratiosOverRounds } from './rounds.js';
import { measureUnderstudy } from './understudy.js';

const round2 = (value: number) => Math.round(value * 100) / 100;
const log = (line: string) => process.stderr.write(`${line}\n`);

/** The version a binary prints for --version (its first x.y.z), or why there is none. */
function versionOf(lookup: BinaryLookup | undefined): string {
  if (lookup === undefined || !('path' in lookup)) return 'not installed';
  const result = spawnSync(lookup.path, ['--version'], { encoding: 'utf8' });
  return /\d+\.\d+\.\d+/.exec(result.stdout ?? '')?.[0] ?? 'unknown version';
}

const clientsText = (clients: number) => `${clients} client${clients === 1 ? '' : 's'}`;

function describeCell(label: string, clients: number, cell: Cell): string {
  if (!isMeasured(cell)) return `${label}, ${clientsText(clients)}: skipped: ${cell.skipped}`;
  const errors =
    cell.errors > 0 ? `, ${formatCount(cell.errors)} errors ${JSON.stringify(cell.errorsByCode)}` : '';
  const kernel = cell.cpu == null ? '' : ` (${formatKernelCpu(cell.cpu)} in the kernel)`;
  return `${label}, ${clientsText(clients)}: ${formatCount(cell.opsPerSecond)} ops/s, p50 ${formatMs(cell.latencyMs.p50)} ms, p99 ${formatMs(cell.latencyMs.p99)} ms, CPU ${formatCpu(cell.cpu)} µs/op${kernel}${errors}`;
}

async function main(): Promise<void> {
  const plan = parsePlan(process.argv.slice(2));
  const interrupted = new AbortController();
  process.once('SIGINT', () => interrupted.abort()).once('SIGTERM', () => interrupted.abort());
  const phasePlan = { ...plan, signal: interrupted.signal };
  const shape = { keys: BENCH_KEYS_DEFAULT, valueBytes: BENCH_VALUE_BYTES_DEFAULT };
  const rounds: Results[] = [];
  let results = new Results();
  const record = (system: SystemId, clients: number, cell: Cell) => {
    results.set(system, clients, cell);
    const label = systems.find((known) => known.id === system)?.label ?? system;
    const round = plan.rounds > 1 ? `round ${rounds.length} of ${plan.rounds}: ` : '';
    log(`${round}${describeCell(label, clients, cell)}`);
  };
  /** Marks the cells of these systems that have no result yet as skipped, and why. */
  const skip = (ids: readonly SystemId[], why: string) => {
    for (const id of ids) {
      for (const clients of plan.clientCounts) {
        if (results.get(id, clients) === undefined) record(id, clients, { skipped: why });
      }
    }
  };

  const binaries = ensureBinaries([REDIS_BINARY, ETCD_BINARY], log);
  const started = new Date();
  // The machine may be shared: the 1-minute load average as the comparison starts tells whether
  // something else ran in the last minutes.
  const loadBefore = loadavg()[0] ?? 0;
  const directory = mkdtempSync(join(tmpdir(), 'understudy-peers-'));
  /**
   * Runs one stage (a system's servers and its loads); if it fails or is interrupted, its cells
   * without a result are skipped with the reason, and the comparison goes on with the next.
   */
  const stage = async (
    ids: readonly SystemId[],
    binary: BinaryLookup | null,
    run: (path: string) => Promise<void>,
  ) => {
    if (interrupted.signal.aborted) return skip(ids, 'interrupted');
    if (binary !== null && 'missing' in binary) return skip(ids, binary.missing);
    try {
      await run(binary === null ? '' : binary.path);
    } catch (error) {
      skip(ids, interrupted.signal.aborted ? 'interrupted' : `failed: ${(error as Error).message}`);
    }
  };
  const lookup = (binary: PeerBinary): BinaryLookup =>
    binaries.get(binary) ?? { missing: `${binary.command} was not looked for` };
  try {
    for (let round = 1; round <= plan.rounds && !interrupted.signal.aborted; round++) {
      results = new Results();
      rounds.push(results);
      // Fresh data for every server each round: a second etcd over the first's members never elected a leader.
      const roundDirectory = join(directory, `round-${round}`);
      mkdirSync(roundDirectory);
      await runRound(roundDirectory);
      rmSync(roundDirectory, { recursive: true, force: true });
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }

  /** Every system once, one after another, into `results`; their data under `roundDirectory`. */
  async function runRound(roundDirectory: string): Promise<void> {
    await stage(['redis-set', 'redis-wait', 'redis-get'], lookup(REDIS_BINARY), async (path) => {
      const group = await RedisGroup.start(path, roundDirectory);
      try {
        for (const [id, kind] of [
          ['redis-set', 'set'],
          ['redis-wait', 'set-wait'],
          ['redis-get', 'get'],
        ] as const) {
          for (const clients of plan.clientCounts) {
            const load = await redisLoad(group.primaryPort, clients, kind, shape);
            try {
              record(
                id,
                clients,
                (await measureLoad(phasePlan, clients, load.call, () => group.processes())).median,
              );
            } finally {
              load.close();
            }
          }
        }
      } finally {
        await group.close();
      }
    });

    await stage(['etcd-put', 'etcd-get'], lookup(ETCD_BINARY), async (path) => {
      const group = await EtcdGroup.start(path, roundDirectory);
      try {
        const leader = await group.leaderUrl();
        for (const [id, kind] of [
          ['etcd-put', 'put'],
          ['etcd-get', 'get'],
        ] as const) {
          for (const clients of plan.clientCounts) {
            const call = etcdLoad(leader, clients, kind, shape);
            record(
              id,
              clients,
              (await measureLoad(phasePlan, clients, call, () => group.processes())).median,
            );
          }
        }
      } finally {
        await group.close();
      }
    });

    await stage(['u1-sync', 'u3-sync', 'u3-replicated', 'u3-async', 'u3-get'], null, () =>
      measureUnderstudy(phasePlan, (system, clients, report) => {
        if (report.mismatches.count > 0) {
          log(
            `warning: ${system} at ${clients} clients: ${report.mismatches.count} answers disagreed with the writes`,
          );
        }
        record(system, clients, report.median);
      }),
    );
  }

  const combined = combineCells(rounds, plan.clientCounts);
  const ratioList = ratiosOverRounds(rounds, plan.clientCounts);

  const machine = {
    cpus: cpus().length,
    loadAverage: { before: round2(loadBefore), after: round2(loadavg()[0] ?? 0) },
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    redis: versionOf(binaries.get(REDIS_BINARY)),
    etcd: versionOf(binaries.get(ETCD_BINARY)),
  };
  const loadShape = {
    ...shape,
    durationSeconds: plan.durationSeconds,
    runs: plan.runs,
    rounds: plan.rounds,
    warmupSeconds: plan.warmupSeconds,
    clientCounts: plan.clientCounts,
  };
  if (plan.json) {
    const rows = systems.map((system) => ({
      system: system.id,
      label: system.label,
      byClients: Object.fromEntries(
        plan.clientCounts.map((clients) => [clients, combined.get(system.id, clients) ?? null]),
      ),
      byRound: rounds.map((round) =>
        Object.fromEntries(
          plan.clientCounts.map((clients) => [clients, round.get(system.id, clients) ?? null]),
        ),
      ),
    }));
    process.stdout.write(
      `${JSON.stringify({ date: started.toISOString(), machine, shape: loadShape, rows, ratios: ratioList })}\n`,
    );
  } else {
    process.stdout.write(
      [
        `peers: ${started.toISOString()}, ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Linux ${machine.kernel}, Node ${machine.node}`,
        `  1-minute load average ${machine.loadAverage.before} at the start (before its own load), ${machine.loadAverage.after} at the end`,
        `  Redis (${machine.redis}): a primary and 2 replicas, appendonly yes, appendfsync always`,
        `  etcd (${machine.etcd}): 3 members; Understudy: a coordinator and 1 or 3 replicas; all on 127.0.0.1`,
        `  closed loop, ${shape.valueBytes}-byte values, ${shape.keys} keys per client, ${plan.runs} × ${plan.durationSeconds} s runs ${plan.warmupSeconds === 0 ? 'with no warmup' : `after a ${plan.warmupSeconds} s warmup`}, median run; latency in ms; CPU µs/op: user + system time of the servers' processes + the load generator's, per operation; ratios: Understudy ops/s over the peer's, puts over writes and gets over reads`,
        ...(plan.rounds > 1
          ? [
              `  ${plan.rounds} rounds, every system once in each: a cell is its median round; a ratio the median of the rounds' ratios (the lowest–the highest)`,
            ]
          : []),
        formatComparison(combined, plan.clientCounts, ratioList),
        ...skippedCells(combined, plan.clientCounts).map((line) => `not measured: ${line}`),
        '',
      ].join('\n'),
    );
  }
  if (interrupted.signal.aborted) process.exitCode = 1;
}

await main();
