// `npm run bench:redis-benchmark`: Redis's own load tool, `redis-benchmark -t set,get,incr`, with
// the same flags against Redis (a primary and two replicas, `appendfsync always`, as in
// `bench:peers`) and against the Redis port of a 3-replica Understudy cluster's primary, in one run,
// printed as one table: what a Redis user would see in their own tool. Installs redis-server and
// redis-tools from Debian's packages when missing; every server listens on 127.0.0.1 and is stopped
// by its process id; data lives in one temporary directory, removed at the end.
//
//   npm run bench:redis-benchmark -- [--clients 1,32] [--requests N] [--json]
//
// The shape: 64-byte values (-d 64), keys random over 10,000 (-r 10000), no pipelining but in the
// two tests that pipeline 16 commands a client (-P 16: Understudy's port runs them as one sequence,
// one log entry, where Redis writes its AOF once for them); -n requests
// per test (default 10,000 at 1 client, 100,000 at more: shorter runs scattered more than a change
// of 15 % between builds), after one unmeasured pass of the same tests (10,000 requests by 8 clients)
// against each system: a fresh Understudy cluster spends its first seconds in V8's compiler, and
// redis-benchmark has no warmup of its own. Each test is its own redis-benchmark run, so that the
// servers' CPU time (every process of the system, from /proc) can be divided by that test's requests:
// on a machine the servers share with the load, that figure scatters far less than requests a second.
// Understudy's writes through the port are `sync` (on every replica's disk before the reply); Redis's
// SET and INCR are answered once the primary's AOF is fsynced, and replicate asynchronously.
//
// One more test at 3 clients or more, "GET, every member": the clients split over the three
// members' ports, three redis-benchmark runs at once, their requests a second added up. Redis's
// replicas answer reads as they are; Understudy's replicas run `--resp-reads replica`, so each
// port's own replica answers within 1 s of the primary's state (its primary's port reads at the
// primary).

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../../tools/free-port.js';
import { MEASURE_HOST, MeasuredCluster } from '../../tools/measure-cluster.js';
import { CpuMeter, perOperation } from '../process-cpu.js';
import { formatCount, formatMs } from '../table.js';
import { ensureBinaries, findOnPath, type PeerBinary, REDIS_BINARY } from './install.js';
import { RedisGroup } from './redis.js';

const REDIS_BENCHMARK_BINARY: PeerBinary = {
  peer: 'redis-benchmark',
  command: 'redis-benchmark',
  debianPackage: 'redis-tools',
};
/** The tests at the primary's port: redis-benchmark's test name, and how many commands each client pipelines. */
const TESTS: readonly { readonly label: string; readonly test: string; readonly pipeline: number }[] = [
  { label: 'SET', test: 'set', pipeline: 1 },
  { label: 'GET', test: 'get', pipeline: 1 },
  { label: 'INCR', test: 'incr', pipeline: 1 },
  { label: 'SET, -P 16', test: 'set', pipeline: 16 },
  { label: 'GET, -P 16', test: 'get', pipeline: 16 },
];
/** The reads spread over every member's port (at 3 clients or more). */
const SPREAD_TEST = 'GET, every member';
const SPREAD_CLIENTS_MIN = 3;
/** The unmeasured pass before the measured ones, the same for both systems. */
const WARMUP_FLAGS = { clients: 8, requests: 10_000 } as const;
/** Longest a redis-benchmark run may take before it is stopped (a hung server). */
const RUN_TIMEOUT_MS = 10 * 60_000;

interface Plan {
  readonly clients: readonly number[];
  readonly requests: number | null;
  readonly json: boolean;
}

interface Row {
  readonly test: string;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The system's server processes' CPU time per request, µs; null where /proc could not tell. */
  readonly serverMicros: number | null;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

function parsePlan(args: readonly string[]): Plan {
  let clients: readonly number[] = [1, 32];
  let requests: number | null = null;
  let json = false;
  for (let k = 0; k < args.length; k++) {
    const flag = args[k];
    const value = args[k + 1];
    const positive = (text: string | undefined): number => {
      const number = Number(text);
      if (text === undefined || !Number.isSafeInteger(number) || number < 1) {
        throw new Error(`${flag} takes a positive integer, got ${text ?? 'nothing'}`);
      }
      return number;
    };
    if (flag === '--clients') {
      clients = (value ?? '').split(',').map(positive);
      k++;
    } else if (flag === '--requests') {
      requests = positive(value);
      k++;
    } else if (flag === '--json') {
      json = true;
    } else {
      throw new Error(
        `unknown flag ${flag}; usage: npm run bench:redis-benchmark -- [--clients 1,32] [--requests N] [--json]`,
      );
    }
  }
  return { clients, requests, json };
}

/** The flags every run gets, the same for both systems. */
function benchmarkFlags(
  port: number,
  clients: number,
  requests: number,
  tests = 'set,get,incr',
  pipeline = 1,
): string[] {
  return [
    '-P',
    String(pipeline),
    '-h',
    MEASURE_HOST,
    '-p',
    String(port),
    '-t',
    tests,
    '-n',
    String(requests),
    '-c',
    String(clients),
    '-d',
    '64',
    '-r',
    '10000',
    '--csv',
  ];
}

/** Runs redis-benchmark and reads its CSV: one row per test. */
function runRedisBenchmark(binary: string, args: readonly string[]): Promise<Omit<Row, 'serverMicros'>[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`redis-benchmark exited with ${code}: ${err.trim().slice(0, 500)}`));
        return;
      }
      try {
        resolve(parseCsv(out));
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"`. */
function parseCsv(text: string): Omit<Row, 'serverMicros'>[] {
  const lines = text
    .trim()
    .split('\n')
    .map((line) => line.split(',').map((cell) => cell.replace(/"/g, '')));
  const header = lines[0] ?? [];
  const column = (name: string): number => {
    const index = header.indexOf(name);
    if (index < 0) throw new Error(`redis-benchmark's CSV has no ${name} column: ${header.join(',')}`);
    return index;
  };
  const [test, rps, p50, p99] = ['test', 'rps', 'p50_latency_ms', 'p99_latency_ms'].map(column) as [
    number,
    number,
    number,
    number,
  ];
  return lines.slice(1).map((cells) => ({
    test: cells[test] ?? '?',
    rps: Number(cells[rps]),
    p50Ms: Number(cells[p50]),
    p99Ms: Number(cells[p99]),
  }));
}

async function measureRedis(
  binaries: { server: string; benchmark: string },
  directory: string,
  plan: Plan,
): Promise<Map<number, Row[]>> {
  const rows = new Map<number, Row[]>();
  const group = await RedisGroup.start(binaries.server, directory);
  try {
    await warmUpAll(binaries.benchmark, group.ports);
    const meter = new CpuMeter(() => group.processes());
    for (const clients of plan.clients) {
      log(`redis-benchmark against Redis, ${clients} client(s)`);
      rows.set(clients, await runTests(binaries.benchmark, meter, group.ports, clients, plan));
    }
  } finally {
    await group.close();
  }
  return rows;
}

async function measureUnderstudy(
  benchmark: string,
  directory: string,
  plan: Plan,
): Promise<Map<number, Row[]>> {
  const rows = new Map<number, Row[]>();
  // r1, the primary of a new cluster, first: the same node redis-benchmark talks to on Redis.
  const ids = ['r1', 'r2', 'r3'];
  const ports = await freePorts(ids.length);
  const cluster = await MeasuredCluster.start({
    directory,
    replicaCount: ids.length,
    replicaFlags: [],
    replicaEnv: new Map(
      ids.map((id, k) => [
        id,
        { UNDERSTUDY_RESP: `${MEASURE_HOST}:${ports[k]}`, UNDERSTUDY_RESP_READS: 'replica' },
      ]),
    ),
  });
  try {
    await warmUpAll(benchmark, ports);
    const meter = new CpuMeter(() => cluster.processes());
    for (const clients of plan.clients) {
      log(`redis-benchmark against Understudy's Redis ports, ${clients} client(s)`);
      rows.set(clients, await runTests(benchmark, meter, ports, clients, plan));
    }
  } finally {
    await cluster.close();
  }
  return rows;
}

/**
 * One redis-benchmark run per test at the primary's port (`ports[0]`), then, with enough clients,
 * the GETs spread over every port; each with the servers' CPU time over it per request.
 */
async function runTests(
  benchmark: string,
  meter: CpuMeter,
  ports: readonly number[],
  clients: number,
  plan: Plan,
): Promise<Row[]> {
  const rows: Row[] = [];
  const requests = requestsFor(plan, clients);
  const port = ports[0] ?? 0;
  for (const { label, test, pipeline } of TESTS) {
    const before = meter.read();
    const [row] = await runRedisBenchmark(benchmark, benchmarkFlags(port, clients, requests, test, pipeline));
    if (row === undefined) throw new Error(`redis-benchmark printed no row for ${label}`);
    rows.push({
      ...row,
      test: label,
      serverMicros: perOperation(before, meter.read(), requests)?.serversMicros ?? null,
    });
  }
  if (clients >= SPREAD_CLIENTS_MIN) rows.push(await spreadGets(benchmark, meter, ports, clients, requests));
  return rows;
}

/**
 * `clients` split over `ports`, one redis-benchmark run each, all at once: their requests a second
 * added up, and the worst p50 and p99 of the runs.
 */
async function spreadGets(
  benchmark: string,
  meter: CpuMeter,
  ports: readonly number[],
  clients: number,
  requests: number,
): Promise<Row> {
  const share = (total: number, k: number) =>
    Math.floor(total / ports.length) + (k < total % ports.length ? 1 : 0);
  const before = meter.read();
  const runs = await Promise.all(
    ports.map((port, k) =>
      runRedisBenchmark(benchmark, benchmarkFlags(port, share(clients, k), share(requests, k), 'get')),
    ),
  );
  const after = meter.read();
  const measured = runs.map(([row]) => {
    if (row === undefined) throw new Error(`redis-benchmark printed no row for ${SPREAD_TEST}`);
    return row;
  });
  return {
    test: SPREAD_TEST,
    rps: measured.reduce((sum, row) => sum + row.rps, 0),
    p50Ms: Math.max(...measured.map((row) => row.p50Ms)),
    p99Ms: Math.max(...measured.map((row) => row.p99Ms)),
    serverMicros: perOperation(before, after, requests)?.serversMicros ?? null,
  };
}

/** The unmeasured pass: every test at the primary's port (first), GETs at the others (Redis's replicas take no writes). */
async function warmUpAll(benchmark: string, ports: readonly number[]): Promise<void> {
  for (const [k, port] of ports.entries()) {
    const tests = k === 0 ? 'set,get,incr' : 'get';
    log(
      `warming up on port ${port} (${tests}: ${WARMUP_FLAGS.requests} requests each, ${WARMUP_FLAGS.clients} clients)`,
    );
    await runRedisBenchmark(
      benchmark,
      benchmarkFlags(port, WARMUP_FLAGS.clients, WARMUP_FLAGS.requests, tests),
    );
  }
}

function requestsFor(plan: Plan, clients: number): number {
  return plan.requests ?? (clients === 1 ? 10_000 : 100_000);
}

function formatTable(plan: Plan, redis: Map<number, Row[]>, understudy: Map<number, Row[]>): string {
  const lines = [
    '| test | clients | Redis ops/s (p50 / p99 ms) | CPU µs/request | Understudy ops/s (p50 / p99 ms) | CPU µs/request | Understudy / Redis |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const clients of plan.clients) {
    const labels = TESTS.map(({ label }) => label);
    for (const test of [...labels, ...(clients >= SPREAD_CLIENTS_MIN ? [SPREAD_TEST] : [])]) {
      const peer = redis.get(clients)?.find((row) => row.test === test);
      const ours = understudy.get(clients)?.find((row) => row.test === test);
      const cell = (row: Row | undefined) =>
        row === undefined ? '—' : `${formatCount(row.rps)} (${formatMs(row.p50Ms)} / ${formatMs(row.p99Ms)})`;
      const cpu = (row: Row | undefined) => (row?.serverMicros == null ? '—' : formatCount(row.serverMicros));
      const ratio = peer === undefined || ours === undefined ? '—' : `${(ours.rps / peer.rps).toFixed(2)}×`;
      lines.push(
        `| ${test} | ${clients} | ${cell(peer)} | ${cpu(peer)} | ${cell(ours)} | ${cpu(ours)} | ${ratio} |`,
      );
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const plan = parsePlan(process.argv.slice(2));
  const found = ensureBinaries([REDIS_BINARY, REDIS_BENCHMARK_BINARY], log);
  const server = findOnPath(REDIS_BINARY.command);
  const benchmark = findOnPath(REDIS_BENCHMARK_BINARY.command);
  if (server === null || benchmark === null) {
    const why = [...found.values()]
      .map((lookup) => ('missing' in lookup ? lookup.missing : ''))
      .filter(Boolean);
    throw new Error(`cannot run: ${why.join('; ')}`);
  }
  const directory = mkdtempSync(join(tmpdir(), 'understudy-redis-benchmark-'));
  try {
    const started = new Date().toISOString();
    const redis = await measureRedis({ server, benchmark }, join(directory, 'redis'), plan);
    const understudy = await measureUnderstudy(benchmark, join(directory, 'understudy'), plan);
    if (plan.json) {
      process.stdout.write(
        `${JSON.stringify({ started, clients: plan.clients, redis: Object.fromEntries(redis), understudy: Object.fromEntries(understudy) })}\n`,
      );
      return;
    }
    const flags = `redis-benchmark -t T -d 64 -r 10000 -c C -n ${plan.requests ?? '10000 (1 client) / 100000'} [-P 16], one run per test T of set, get, incr, set -P 16, get -P 16, after an unmeasured pass of ${WARMUP_FLAGS.requests} by ${WARMUP_FLAGS.clients} clients; CPU µs/request: every server process of the system, user + system, from /proc`;
    process.stdout.write(`${started}: ${flags}\n`);
    process.stdout.write(
      "Redis: primary + 2 replicas, appendonly yes, appendfsync always; Understudy: 3 replicas, sync writes, the primary's Redis port\n" +
        `${SPREAD_TEST} (at ${SPREAD_CLIENTS_MIN} clients or more): the clients split over the 3 members' ports, 3 runs at once, requests a second added up, the worst p50 / p99; Redis's replicas read as they are, Understudy's with --resp-reads replica (within 1 s)\n\n`,
    );
    process.stdout.write(`${formatTable(plan, redis, understudy)}\n`);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:redis-benchmark: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
