// `understudy bench` with real processes: it starts its own cluster, loads it, reads back every key
// it wrote and stops every process; and it loads a running cluster with every kind of operation,
// pipelined through one shared client, leaving keys that read back as it says it wrote them. The
// runs are bounded (1 s each) and nothing here asserts speed: only that work was done, without
// errors, and that the cluster holds what the bench wrote.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { adminAddressOf, LocalCluster, runCli } from './harness.js';

/** The parts of `bench --json` these tests read. */
interface LatencyJson {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

interface RunJson {
  readonly ops: number;
  readonly opsPerSecond: number;
  readonly latencyMs: LatencyJson;
  readonly errors: number;
  readonly errorsByCode: Record<string, number>;
  readonly mismatches: number;
  readonly cpu: {
    readonly serversMicros: number;
    readonly clientMicros: number;
    readonly byProcess: Record<string, number>;
    readonly serversKernelMicros: number;
    readonly clientKernelMicros: number;
  } | null;
  readonly waits:
    | readonly {
        readonly replica: string;
        readonly fsyncs: number;
        readonly fsyncMeanMs: number | null;
        readonly writes: number;
        readonly writeMeanMs: number | null;
      }[]
    | null;
}

interface BenchJson {
  readonly coordinator: string;
  readonly startedReplicas: number | null;
  readonly slowBackup: { readonly replica: string; readonly fsyncDelayMs: number } | null;
  readonly keyPrefix: string;
  readonly shape: { readonly clients: number; readonly runs: number; readonly durationSeconds: number };
  readonly runs: readonly RunJson[];
  readonly median: RunJson & { readonly run: number };
  readonly mismatches: { readonly count: number };
  readonly verify: {
    readonly keysChecked: number;
    readonly keysUncertain: number;
    readonly mismatches: number;
    readonly readErrors: Record<string, number>;
  } | null;
  readonly interrupted: boolean;
}

function parseReport(stdout: string): BenchJson {
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1, `--json prints one line:\n${stdout}`);
  return JSON.parse(lines[0] ?? '') as BenchJson;
}

/** ops > 0, no error, no mismatch, and sane latency figures in every run. */
function assertCleanRuns(report: BenchJson): void {
  assert.ok(report.runs.length > 0);
  for (const run of [...report.runs, report.median]) {
    assert.ok(run.ops > 0, 'the run completed calls');
    assert.ok(run.opsPerSecond > 0);
    assert.equal(run.errors, 0, `errors: ${JSON.stringify(run.errorsByCode)}`);
    assert.equal(run.mismatches, 0);
    const { p50, p90, p99, p999, max } = run.latencyMs;
    assert.ok(
      p50 > 0 && p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= max,
      JSON.stringify(run.latencyMs),
    );
  }
  assert.equal(report.mismatches.count, 0);
  assert.equal(report.interrupted, false);
}

test('bench --start 3 loads its own cluster, and every key it wrote reads back as last written', async () => {
  const result = await runCli([
    'bench',
    '--start',
    '3',
    '--duration',
    '1',
    '--runs',
    '1',
    '--json',
    '--clients',
    '4',
    '--verify',
  ]);
  assert.equal(result.code, 0, result.stderr);
  const report = parseReport(result.stdout);
  assert.equal(report.startedReplicas, 3);
  assert.equal(report.shape.clients, 4);
  assert.equal(report.runs.length, 1);
  assert.equal(report.median.run, 1);
  assertCleanRuns(report);
  assert.ok(report.verify !== null);
  assert.ok(report.verify.keysChecked > 0, 'keys were read back');
  assert.equal(report.verify.keysUncertain, 0);
  assert.equal(report.verify.mismatches, 0);
  assert.deepEqual(report.verify.readErrors, {});
  assert.match(report.coordinator, /^127\.0\.0\.1:\d+$/);
  // The CPU each write cost, read from the processes the bench started and from its own.
  const { cpu } = report.median;
  assert.ok(cpu !== null, 'CPU per operation is measured on Linux');
  assert.deepEqual(Object.keys(cpu.byProcess).sort(), ['coordinator', 'r1', 'r2', 'r3']);
  const sum = Object.values(cpu.byProcess).reduce((total, micros) => total + micros, 0);
  assert.equal(cpu.serversMicros, sum);
  assert.ok(cpu.serversMicros > 0 && cpu.clientMicros > 0, JSON.stringify(cpu));
  // Every write crosses sockets and reaches disks: some of it is the kernel's, never more than all.
  assert.ok(cpu.serversKernelMicros > 0 && cpu.serversKernelMicros <= cpu.serversMicros, JSON.stringify(cpu));
  assert.ok(cpu.clientKernelMicros <= cpu.clientMicros, JSON.stringify(cpu));
  // Where the writes waited, from each replica's /metrics: every replica synced its log, and the
  // primary alone answered them all (the calls of the run, and at most one still in flight per
  // client when the window closed).
  const { waits, ops } = report.median;
  assert.ok(waits !== null, 'a started cluster is read');
  assert.deepEqual(waits.map(({ replica }) => replica).sort(), ['r1', 'r2', 'r3']);
  for (const replica of waits)
    assert.ok(replica.fsyncs > 0 && replica.fsyncMeanMs !== null, JSON.stringify(waits));
  const answering = waits.filter(({ writes }) => writes > 0);
  assert.equal(answering.length, 1, JSON.stringify(waits));
  const primary = answering[0];
  assert.ok(
    primary !== undefined && primary.writes >= ops && primary.writes <= ops + 4,
    JSON.stringify({ ops, waits }),
  );
});

test('with a slow backup, a sync write waits for its fsync: none is answered sooner than the delay', async () => {
  const delayMs = 40;
  const result = await runCli([
    'bench',
    '--start',
    '3',
    '--slow-backup-fsync-ms',
    String(delayMs),
    '--duration',
    '1',
    '--runs',
    '1',
    '--warmup',
    '0',
    '--clients',
    '2',
    '--json',
    '--verify',
  ]);
  assert.equal(result.code, 0, result.stderr);
  const report = parseReport(result.stdout);
  assert.deepEqual(report.slowBackup, { replica: 'r3', fsyncDelayMs: delayMs });
  assertCleanRuns(report);
  assert.ok(report.verify !== null && report.verify.keysChecked > 0 && report.verify.mismatches === 0);
  // Every write is acknowledged only once r3's disk has it, and every fsync of r3 takes the delay.
  assert.ok(report.median.latencyMs.p50 >= delayMs, JSON.stringify(report.median.latencyMs));
  // And the report says which disk the writes waited for.
  const { waits } = report.median;
  assert.ok(waits !== null, 'a started cluster is read');
  const slowest = waits.reduce((most, replica) =>
    (replica.fsyncMeanMs ?? 0) > (most.fsyncMeanMs ?? 0) ? replica : most,
  );
  assert.equal(slowest.replica, 'r3', JSON.stringify(waits));
  assert.ok((slowest.fsyncMeanMs ?? 0) >= delayMs, JSON.stringify(waits));
});

describe('bench against a running cluster', { concurrency: false }, () => {
  let cluster: LocalCluster;
  before(async () => {
    cluster = await LocalCluster.start(3, ['--admin', '127.0.0.1:0']);
  });
  after(async () => {
    await cluster.close();
  });

  test('every kind of operation through one shared, pipelined client, and the keys read back', async () => {
    const result = await runCli([
      'bench',
      '--coordinator',
      cluster.coordinatorAddress,
      '--clients',
      '3',
      '--pipeline',
      '2',
      '--shared-client',
      '--mix',
      'put=2,get=1,append=1,cas=1,incr=1',
      '--keys',
      '20',
      '--duration',
      '1',
      '--runs',
      '2',
      '--warmup',
      '0',
      '--json',
      '--verify',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const report = parseReport(result.stdout);
    assert.equal(report.startedReplicas, null);
    assert.equal(report.runs.length, 2);
    assertCleanRuns(report);
    // A running cluster's processes are not the bench's: only its own CPU is counted.
    assert.deepEqual(report.median.cpu?.byProcess, {});
    assert.ok((report.median.cpu?.clientMicros ?? 0) > 0);
    assert.ok(report.verify !== null && report.verify.keysChecked > 0 && report.verify.mismatches === 0);

    // Independently of the bench's own read-back: the first key each kind reached holds a value of
    // the documented form (the number of the write that made it, padded to 64 bytes), and the
    // first counter a decimal number.
    const client = await cluster.client();
    const register = await client.getText(`${report.keyPrefix}/0/r0`);
    assert.match(register ?? '', /^[1-9]\d*\.+$/);
    assert.equal(register?.length, 64);
    const appended = await client.getText(`${report.keyPrefix}/0/a0`);
    assert.ok(appended !== null && appended.length > 0 && appended.length % 64 === 0);
    assert.match(appended, /^1\.+/);
    assert.match((await client.getText(`${report.keyPrefix}/0/i0`)) ?? '', /^[1-9]\d*$/);
  });

  test('the text report names the target and shows the runs, the median, and where writes waited', async () => {
    const admins = [...cluster.replicas.values()].map((replica) => adminAddressOf(replica));
    const result = await runCli([
      'bench',
      '--coordinator',
      cluster.coordinatorAddress,
      '--replica-admins',
      admins.join(','),
      '--clients',
      '2',
      '--duration',
      '1',
      '--runs',
      '1',
      '--warmup',
      '0',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      new RegExp(`the cluster at ${cluster.coordinatorAddress.replaceAll('.', '\\.')}`),
    );
    assert.match(result.stdout, /ops\/s[\s\S]*p99 ms[\s\S]*median \(run 1\)/);
    assert.match(result.stdout, /answers: every one as the bench wrote/);
    assert.match(
      result.stdout,
      /CPU per operation \(median run, user \+ system\): [\d,]+ µs in this client \([\d,]+ in the kernel\)\n/,
    );
    // Every replica named by the id its metrics give, the primary the one that answered the writes.
    const fsyncs = String.raw`(r\d) [\d.]+ ms \([\d,]+, [\d.]+ writes each\)`;
    const waits = new RegExp(
      String.raw`where a write waited \(median run, means\): [\d.]+ ms at this client, [\d.]+ of them at the primary (r\d); fsyncs ${fsyncs}, ${fsyncs}, ${fsyncs}\n`,
    ).exec(result.stdout);
    assert.ok(waits !== null, result.stdout);
    assert.deepEqual(waits.slice(2).sort(), ['r1', 'r2', 'r3']);
    assert.equal(waits[1], (await cluster.status()).view?.primary);
    assert.equal(result.stderr, '', 'no progress line when stderr is not a terminal');
  });

  test('admin ports that serve no metrics: the run goes on, and the report says the waits were not measured', async () => {
    const result = await runCli([
      'bench',
      '--coordinator',
      cluster.coordinatorAddress,
      // The coordinator's client port speaks the framed protocol, not HTTP.
      '--replica-admins',
      cluster.coordinatorAddress,
      '--clients',
      '1',
      '--duration',
      '1',
      '--runs',
      '1',
      '--warmup',
      '0',
      '--json',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const report = parseReport(result.stdout);
    assertCleanRuns(report);
    assert.deepEqual(report.median.waits, []);
  });
});
