// `understudy bench --scenario failover` and `--scenario steady` with real processes, each on a
// cluster it starts and stops. Failover: every trial killed a primary, a later view acknowledged a
// write, the killed replica came back into a whole view that served writes, and every key written
// (before, during and after the kills) read back as last acknowledged. Steady: the report's shape,
// and a resident-memory sample series for each replica. Nothing here asserts a time or a verdict
// (a view change or memory growth on this shared machine is a measurement, not a test failure).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from './harness.js';

interface ViewJson {
  readonly number: number;
  readonly primary: string;
  readonly backups: readonly string[];
  readonly learners: readonly string[];
}

interface VerifyJson {
  readonly keysChecked: number;
  readonly keysUncertain: number;
  readonly mismatches: number;
  readonly readErrors: Record<string, number>;
}

interface RunJson {
  readonly ops: number;
  readonly errors: number;
  readonly errorsByCode: Record<string, number>;
  readonly mismatches: number;
}

interface SummaryJson {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly min: number;
}

interface FailoverJson {
  readonly scenario: string;
  readonly startedReplicas: number;
  readonly shape: { readonly clients: number; readonly durability: string };
  readonly trialsRequested: number;
  readonly trials: readonly {
    readonly trial: number;
    readonly killed: string;
    readonly viewKilled: number;
    readonly newPrimary: string | null;
    readonly viewAfter: number;
    readonly failoverMs: number;
    readonly rejoinMs: number;
    readonly viewRejoined: number;
    readonly servedAfterRejoinMs: number;
  }[];
  readonly failoverMs: SummaryJson | null;
  readonly rejoinMs: SummaryJson | null;
  readonly load: RunJson;
  readonly mismatches: { readonly count: number };
  readonly verify: VerifyJson | null;
  readonly interrupted: boolean;
}

interface SteadyJson {
  readonly scenario: string;
  readonly startedReplicas: number;
  readonly shape: { readonly durationSeconds: number; readonly clients: number; readonly keys: number };
  readonly prefill: { readonly calls: number; readonly errors: number };
  readonly warmup: RunJson | null;
  readonly run: RunJson;
  readonly views: {
    readonly atStart: ViewJson;
    readonly atEnd: ViewJson | null;
    readonly changes: number | null;
    readonly seen: readonly ViewJson[];
    readonly polls: number;
    readonly problems: { readonly count: number; readonly byKind: Record<string, number> };
  };
  readonly stalls: readonly {
    readonly process: string;
    readonly count: number;
    readonly longestMs: number;
  }[];
  readonly memory: {
    readonly rule: string;
    readonly sampleIntervalMs: number;
    readonly windowMs: number;
    readonly grew: boolean | null;
    readonly replicas: readonly {
      readonly id: string;
      readonly samples: readonly { readonly atMs: number; readonly bytes: number }[];
      readonly notRunningSamples: number;
      readonly baselineWindowMaxBytes: number | null;
      readonly lastWindowMaxBytes: number | null;
      readonly growthBytes: number | null;
      readonly grew: boolean | null;
    }[];
  };
  readonly mismatches: { readonly count: number };
  readonly verify: VerifyJson | null;
  readonly interrupted: boolean;
}

function parseReport<T>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1, `--json prints one line:\n${stdout}`);
  return JSON.parse(lines[0] ?? '') as T;
}

function assertEveryKeyReadBack(verify: VerifyJson | null): void {
  assert.ok(verify !== null, 'the keys were read back');
  assert.ok(verify.keysChecked > 0, 'keys were read back');
  assert.equal(verify.mismatches, 0, 'every acknowledged write is there');
  assert.deepEqual(verify.readErrors, {});
}

test('bench --scenario failover: each kill -9 of the primary ends in a write a new primary acknowledged, and no acknowledged write is lost', async () => {
  const result = await runCli(['bench', '--scenario', 'failover', '--start', '3', '--trials', '2', '--json']);
  assert.equal(result.code, 0, result.stderr);
  const report = parseReport<FailoverJson>(result.stdout);
  assert.equal(report.scenario, 'failover');
  assert.equal(report.startedReplicas, 3);
  assert.equal(report.shape.clients, 4, 'a few clients by default');
  assert.equal(report.shape.durability, 'sync');
  assert.equal(report.trialsRequested, 2);
  assert.equal(report.interrupted, false);
  assert.deepEqual(
    report.trials.map((trial) => trial.trial),
    [1, 2],
  );
  for (const trial of report.trials) {
    assert.ok(trial.failoverMs > 0, `trial ${trial.trial} took a positive time: ${trial.failoverMs}`);
    assert.ok(trial.rejoinMs > 0);
    assert.ok(trial.servedAfterRejoinMs >= 0);
    assert.match(trial.killed, /^r[123]$/);
    assert.ok(trial.viewAfter > trial.viewKilled, 'a later view acknowledged the write');
    assert.notEqual(trial.newPrimary, trial.killed, 'a backup took over');
    assert.ok(trial.viewRejoined >= trial.viewAfter, 'the killed replica came back in a later view');
  }
  const [first, second] = report.trials;
  assert.ok(first !== undefined && second !== undefined);
  assert.ok(second.viewKilled >= first.viewRejoined, 'the second trial started from a whole view');
  for (const summary of [report.failoverMs, report.rejoinMs]) {
    assert.ok(summary !== null);
    assert.equal(summary.count, 2);
    assert.ok(summary.min <= summary.p50 && summary.p50 <= summary.p99 && summary.p99 <= summary.max);
  }
  const times = report.trials.map((trial) => trial.failoverMs);
  assert.equal(report.failoverMs?.min, Math.min(...times));
  assert.equal(report.failoverMs?.max, Math.max(...times));
  assert.ok(report.load.ops > 0, 'the load ran through the trials');
  assert.equal(report.load.mismatches, 0);
  assert.equal(report.mismatches.count, 0, 'every answer was as the bench wrote');
  assertEveryKeyReadBack(report.verify);
});

test('bench --scenario steady: the view at the start and the end, and a memory sample series for each replica', async () => {
  const result = await runCli([
    'bench',
    '--scenario',
    'steady',
    '--start',
    '3',
    '--duration',
    '5',
    '--clients',
    '4',
    '--keys',
    '50',
    '--warmup',
    '0',
    '--verify',
    '--json',
  ]);
  assert.equal(result.code, 0, result.stderr);
  const report = parseReport<SteadyJson>(result.stdout);
  assert.equal(report.scenario, 'steady');
  assert.equal(report.startedReplicas, 3);
  assert.equal(report.shape.durationSeconds, 5);
  assert.ok(report.prefill.calls + report.prefill.errors >= 4 * 50, 'every key was written before the run');
  assert.equal(report.warmup, null);
  assert.ok(report.run.ops > 0);
  assert.equal(report.interrupted, false);

  const { views } = report;
  assert.ok(views.atStart.number > 0);
  assert.ok(views.atEnd !== null);
  assert.equal(views.changes, views.atEnd.number - views.atStart.number);
  assert.ok(views.seen.length >= 1);
  assert.deepEqual(views.seen[0], views.atStart);
  assert.ok(views.polls > 0, 'the coordinator was asked during the run');
  assert.equal(
    views.problems.count,
    Object.values(views.problems.byKind).reduce((sum, count) => sum + count, 0),
  );

  // Every process of the cluster is accounted for, stalled or not (stalls.test.ts makes one stall).
  assert.deepEqual(report.stalls.map((stall) => stall.process).sort(), ['coordinator', 'r1', 'r2', 'r3']);
  for (const stall of report.stalls) {
    assert.ok(stall.count === 0 ? stall.longestMs === 0 : stall.longestMs >= 150, JSON.stringify(stall));
  }

  const { memory } = report;
  assert.match(memory.rule, /1\.1 × .* \+ 5 MB/);
  assert.equal(memory.sampleIntervalMs, 1000);
  assert.ok(memory.windowMs > 0);
  assert.deepEqual(
    memory.replicas.map((replica) => replica.id),
    ['r1', 'r2', 'r3'],
  );
  for (const replica of memory.replicas) {
    assert.ok(replica.samples.length >= 2, `${replica.id}: ${replica.samples.length} samples`);
    assert.equal(replica.notRunningSamples, 0);
    for (const [index, sample] of replica.samples.entries()) {
      assert.ok(sample.bytes > 0);
      assert.ok(index === 0 || sample.atMs >= (replica.samples[index - 1]?.atMs ?? 0));
    }
    assert.ok(replica.baselineWindowMaxBytes !== null && replica.baselineWindowMaxBytes > 0);
    assert.ok(replica.lastWindowMaxBytes !== null && replica.lastWindowMaxBytes > 0);
    assert.equal(replica.growthBytes, replica.lastWindowMaxBytes - replica.baselineWindowMaxBytes);
    assert.equal(typeof replica.grew, 'boolean');
  }
  assert.equal(typeof memory.grew, 'boolean');
  assert.equal(report.mismatches.count, 0);
  assertEveryKeyReadBack(report.verify);
});
