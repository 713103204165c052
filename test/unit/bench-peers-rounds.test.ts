// `npm run bench:peers -- --rounds R`: each cell is its median round, each ratio the median of the
// ratios taken within each round, shown with the lowest and the highest.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatComparison, Results, ratios, type SystemId } from '../../src/bench/peers/comparison.js';
import type { PeerRun } from '../../src/bench/peers/peer-load.js';
import { combineCells, ratiosOverRounds } from '../../src/bench/peers/rounds.js';

const clientCounts = [1, 32];

function run(opsPerSecond: number, p99: number): PeerRun {
  return {
    ops: opsPerSecond * 5,
    seconds: 5,
    opsPerSecond,
    latencyMs: { p50: p99 / 4, p90: p99 / 2, p99, p999: p99 * 2, max: p99 * 3, mean: p99 / 3 },
    errors: 0,
    errorsByCode: {},
    tail: {
      thresholdMs: p99,
      slowCalls: 0,
      stalls: 0,
      stallCallsMin: 2,
      slowCallsInStalls: 0,
      truncated: false,
    },
    cpu: {
      serversMicros: 100,
      clientMicros: 40,
      byProcess: {},
      serversKernelMicros: 30,
      clientKernelMicros: 20,
    },
  };
}

/** A round in which Redis WAIT and Understudy's 3-replica sync puts did `wait` and `sync` ops/s at 32 clients. */
function round(wait: number, sync: number, p99: number): Results {
  const results = new Results();
  const cells: [SystemId, number][] = [
    ['redis-wait', wait],
    ['u3-sync', sync],
  ];
  for (const [system, ops] of cells) {
    results.set(system, 1, run(ops / 10, p99 / 10));
    results.set(system, 32, run(ops, p99));
  }
  results.set('etcd-put', 1, { skipped: 'etcd not installed' });
  return results;
}

test('a cell is its median round, with that round latency; a cell no round measured keeps its reason', () => {
  const rounds = [round(6000, 7000, 20), round(3000, 5000, 30), round(6400, 6600, 25)];
  const combined = combineCells(rounds, clientCounts);
  const sync = combined.get('u3-sync', 32);
  assert.ok(sync !== undefined && !('skipped' in sync));
  assert.equal(sync.opsPerSecond, 6600);
  assert.equal(sync.latencyMs.p99, 25, 'the latency of the round whose throughput is the median');
  assert.deepStrictEqual(combined.get('etcd-put', 1), { skipped: 'etcd not installed' });
  assert.equal(combined.get('etcd-put', 32), undefined, 'never run');
});

test('a ratio is the median of the rounds, each taken within its round, not the ratio of the medians', () => {
  // Round 2 ran while the machine was busy: both systems slowed, their ratio did not.
  const rounds = [round(6000, 7200, 20), round(3000, 3300, 30), round(6400, 6400, 25)];
  const ratio = ratiosOverRounds(rounds, clientCounts).find(
    (r) => r.understudy === 'u3-sync' && r.peer === 'redis-wait' && r.clients === 32,
  );
  assert.deepStrictEqual(ratio?.byRound, [1.2, 1.1, 1]);
  assert.equal(ratio?.ratio, 1.1);
  assert.equal(ratio?.lowest, 1);
  assert.equal(ratio?.highest, 1.2);
  // The medians of the cells would say 6,400 / 6,000 = 1.07.
  const etcd = ratiosOverRounds(rounds, clientCounts).find((r) => r.peer === 'etcd-put' && r.clients === 1);
  assert.deepStrictEqual(etcd?.byRound, [null, null, null]);
  assert.equal(etcd?.ratio, null);
});

test('a ratio some round could not take is the median of the others (the lower middle of an even count)', () => {
  const missing = round(6000, 6000, 20);
  missing.set('u3-sync', 32, { skipped: 'failed: cluster did not start' });
  const rounds = [round(5000, 6000, 20), missing, round(5000, 5500, 20)];
  const ratio = ratiosOverRounds(rounds, clientCounts).find(
    (r) => r.understudy === 'u3-sync' && r.peer === 'redis-wait' && r.clients === 32,
  );
  assert.deepStrictEqual(ratio?.byRound, [1.2, null, 1.1]);
  assert.equal(ratio?.ratio, 1.1);
});

test('the table shows the median ratio with the lowest and highest; one round shows the ratio alone', () => {
  const rounds = [round(6000, 7200, 20), round(3000, 3300, 30), round(6400, 6400, 25)];
  const table = formatComparison(
    combineCells(rounds, clientCounts),
    clientCounts,
    ratiosOverRounds(rounds, clientCounts),
  );
  assert.match(table, /1\.10 \(1\.00–1\.20\)/);
  const single = formatComparison(rounds[0] ?? new Results(), clientCounts);
  assert.match(single, /1\.20/);
  assert.doesNotMatch(single, /\d\.\d\d \(/);
});

test('ratios pair like with like: gets over Redis GET and etcd get, puts over the writes', () => {
  const results = new Results();
  for (const [system, ops] of [
    ['redis-set', 10_000],
    ['redis-wait', 8_000],
    ['etcd-put', 2_000],
    ['redis-get', 40_000],
    ['etcd-get', 5_000],
    ['u3-sync', 6_000],
    ['u3-get', 20_000],
  ] as const) {
    results.set(system, 32, run(ops, 10));
  }
  const list = ratios(results, [32]);
  const of = (understudy: SystemId) =>
    Object.fromEntries(list.filter((r) => r.understudy === understudy).map((r) => [r.peer, r.ratio]));
  assert.deepStrictEqual(of('u3-get'), { 'redis-get': 0.5, 'etcd-get': 4 });
  assert.deepStrictEqual(of('u3-sync'), { 'redis-set': 0.6, 'redis-wait': 0.75, 'etcd-put': 3 });
  const getRow = formatComparison(results, [32])
    .split('\n')
    .find((line) => line.includes('Understudy 3 replicas, get'));
  // Columns: ×Redis SET, ×Redis WAIT, ×etcd put (empty for a get), then ×Redis GET, ×etcd get.
  const cells = getRow?.split('│').map((cell) => cell.trim());
  assert.deepStrictEqual(cells?.slice(-6), ['', '', '', '0.50', '4.00', '']);
});
