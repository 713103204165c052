// The parts of the failover and steady scenarios that need no cluster: the memory verdict and its
// windows, the nearest-rank summary of the trials, how the failover scenario finds the first write
// a later view acknowledged, and the text reports. Speed is never asserted here.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AcknowledgedWrites } from '../../src/bench/failover.js';
import {
  judgeResident,
  RESIDENT_GROWTH_RULE,
  RESIDENT_GROWTH_SLACK_BYTES,
  RESIDENT_WINDOW_MS_MAX,
  type ResidentSample,
  residentWindowMs,
} from '../../src/bench/memory.js';
import { BenchInterruptedError, type RunReport } from '../../src/bench/run.js';
import { loadShapeOf, nearestRank, summarizeDurations } from '../../src/bench/scenario.js';
import { formatFailoverReport, formatSteadyReport } from '../../src/bench/scenario-report.js';
import { BENCH_SHAPE_DEFAULT } from '../../src/bench/shape.js';
import type { WriteMetadata } from '../../src/client/index.js';
import { logIndex, replicaId, viewNumber } from '../../src/protocol/types.js';

const MB = 1e6;

/** One sample a second over `seconds`, each of `bytesAt(second)`. */
function samplesOver(seconds: number, bytesAt: (second: number) => number): ResidentSample[] {
  return Array.from({ length: seconds + 1 }, (_, second) => ({
    atMs: second * 1000,
    bytes: bytesAt(second),
  }));
}

describe('resident memory: the last minute against the second', () => {
  test('a ten-minute run compares its second and last minutes, whatever happens between', () => {
    assert.equal(residentWindowMs(600_000), RESIDENT_WINDOW_MS_MAX);
    // A spike in the middle (a snapshot being written, say) is neither window.
    const samples = samplesOver(600, (second) => (second === 300 ? 500 * MB : 80 * MB));
    const verdict = judgeResident(samples, 600_000);
    assert.equal(verdict.baselineWindowMaxBytes, 80 * MB);
    assert.equal(verdict.lastWindowMaxBytes, 80 * MB);
    assert.equal(verdict.growthBytes, 0);
    assert.equal(verdict.grew, false);
  });

  test('a climb through the first minute that then holds is the warm-up, not growth', () => {
    // As measured: 260 MB in the first minute, then 290-300 MB to the end.
    const verdict = judgeResident(
      samplesOver(600, (second) => (second < 60 ? 200 * MB + second * MB : 290 * MB + (second % 7) * MB)),
      600_000,
    );
    assert.equal(verdict.baselineWindowMaxBytes, 296 * MB);
    assert.equal(verdict.grew, false);
  });

  test('memory that climbs the whole run grew', () => {
    const verdict = judgeResident(
      samplesOver(600, (second) => 80 * MB + second * 0.1 * MB),
      600_000,
    );
    assert.equal(verdict.baselineWindowMaxBytes, 80 * MB + 119 * 0.1 * MB);
    assert.equal(verdict.lastWindowMaxBytes, 80 * MB + 600 * 0.1 * MB);
    assert.equal(verdict.grew, true);
  });

  test('a creep after the warm-up grew: 303 MB in the second minute, 349 in the last (as measured)', () => {
    const verdict = judgeResident(
      samplesOver(600, (second) => (second < 60 ? 278 * MB : 303 * MB + ((second - 60) / 540) * 46 * MB)),
      600_000,
    );
    assert.equal(verdict.grew, true);
  });

  test('the bound is 1.1 × the second window’s peak plus 5 MB: at it, no growth; above it, growth', () => {
    const baseline = 100 * MB;
    const bound = 1.1 * baseline + RESIDENT_GROWTH_SLACK_BYTES;
    const at = judgeResident(
      samplesOver(600, (second) => (second < 120 ? baseline : bound)),
      600_000,
    );
    assert.equal(at.grew, false);
    const above = judgeResident(
      samplesOver(600, (second) => (second < 120 ? baseline : bound + 1)),
      600_000,
    );
    assert.equal(above.grew, true);
  });

  test('a run shorter than three minutes uses thirds: the second against the last', () => {
    assert.equal(residentWindowMs(6000), 2000);
    const verdict = judgeResident(
      samplesOver(6, (second) => (second + 1) * MB),
      6000,
    );
    assert.equal(verdict.baselineWindowMaxBytes, 4 * MB, 'seconds 2 and 3');
    assert.equal(verdict.lastWindowMaxBytes, 7 * MB, 'seconds 5 and 6');
  });

  test('a window with no sample cannot be judged', () => {
    const verdict = judgeResident([{ atMs: 0, bytes: MB }], 600_000);
    assert.equal(verdict.baselineWindowMaxBytes, null);
    assert.equal(verdict.grew, null);
  });
});

describe('the trials summarized by nearest rank', () => {
  test('over 20 trials, p99 is the slowest and p50 the tenth', () => {
    const trials = [...Array.from({ length: 20 }, (_, k) => 20 - k)]; // 20 .. 1, unsorted on purpose
    assert.deepEqual(summarizeDurations(trials), { count: 20, p50: 10, p99: 20, max: 20, min: 1 });
  });

  test('one trial is every percentile; none is no summary', () => {
    assert.deepEqual(summarizeDurations([812.5]), {
      count: 1,
      p50: 812.5,
      p99: 812.5,
      max: 812.5,
      min: 812.5,
    });
    assert.equal(summarizeDurations([]), null);
    assert.throws(() => nearestRank([], 50), /no value/);
  });
});

describe('the first write a later view acknowledged', () => {
  const reply = (view: number, durability: 'sync' | 'async' = 'sync'): WriteMetadata => ({
    view: viewNumber(view),
    index: logIndex(1),
    durability,
    replicas: ['r1'],
  });

  test('an answer already seen in that view or a later one is the first', async () => {
    const acknowledged = new AcknowledgedWrites();
    acknowledged.record(reply(3));
    acknowledged.record(reply(5));
    acknowledged.record(reply(4));
    assert.equal((await acknowledged.first(3, 'test')).view, 3);
    assert.equal((await acknowledged.first(4, 'test')).view, 5, 'view 5 answered before view 4');
  });

  test('an answer from the killed primary’s view does not end the wait; the next view’s does', async () => {
    const acknowledged = new AcknowledgedWrites();
    acknowledged.record(reply(3));
    const waiting = acknowledged.first(4, 'after the kill');
    acknowledged.record(reply(3)); // the old primary's answer, read after the kill
    acknowledged.record(reply(4, 'async')); // not a sync write
    const before = process.hrtime.bigint();
    acknowledged.record(reply(4));
    const first = await waiting;
    assert.equal(first.view, 4);
    assert.ok(first.at >= before);
  });

  test('an interrupt ends the wait', async () => {
    const acknowledged = new AcknowledgedWrites();
    const interrupt = new AbortController();
    const waiting = acknowledged.first(2, 'after the kill', interrupt.signal);
    interrupt.abort();
    await assert.rejects(waiting, BenchInterruptedError);
  });
});

describe('the text reports', () => {
  const run: RunReport = {
    ops: 1000,
    seconds: 10,
    opsPerSecond: 100,
    latencyMs: { p50: 1, p90: 2, p99: 3, p999: 4, max: 5, mean: 1.5 },
    errors: 2,
    errorsByCode: { UNAVAILABLE: 2 },
    tail: {
      thresholdMs: 3,
      slowCalls: 10,
      stalls: 1,
      stallCallsMin: 2,
      slowCallsInStalls: 8,
      truncated: false,
    },
    mismatches: 0,
  };
  const shape = { ...BENCH_SHAPE_DEFAULT, clients: 4 };
  const view = (number: number, primary: string) => ({
    number: viewNumber(number),
    primary: replicaId(primary),
    backups: [],
    learners: [],
  });

  test('failover: every trial, the percentiles, the load and the read-back', () => {
    const trial = {
      trial: 1,
      killed: 'r1',
      viewKilled: 3,
      viewAfter: 4,
      newPrimary: 'r2',
      failoverMs: 725.5,
      rejoinMs: 800,
      viewRejoined: 6,
      servedAfterRejoinMs: 0,
    };
    const text = formatFailoverReport({
      scenario: 'failover',
      coordinator: '127.0.0.1:7000',
      startedReplicas: 3,
      keyPrefix: 'bench-x',
      shape: loadShapeOf(shape),
      trialsRequested: 1,
      trials: [trial],
      failoverMs: summarizeDurations([725.5]),
      rejoinMs: summarizeDurations([800]),
      load: run,
      mismatches: { count: 0, first: [] },
      verify: { keysChecked: 10, keysUncertain: 0, mismatches: 0, firstMismatches: [], readErrors: {} },
      interrupted: false,
    });
    assert.match(text, /--scenario failover: 3 replicas started here/);
    assert.match(text, /│ 1 +│ +r1 │ +3 │ +r2 │ +4 │ +725\.50 │ +800\.00 │ +6 │ +0\.00 │/);
    assert.match(text, /failover over 1 trial: p50 725\.50 ms, p99 725\.50 ms, max 725\.50 ms/);
    assert.match(text, /errors by code: UNAVAILABLE 2/);
    assert.match(text, /verify: 10 keys read back at the primary, 0 not as last written/);
  });

  test('steady: the views, the stalls, the memory table and the verdict with its rule', () => {
    const samples = samplesOver(4, () => 70 * MB);
    const text = formatSteadyReport({
      scenario: 'steady',
      coordinator: '127.0.0.1:7000',
      startedReplicas: 3,
      keyPrefix: 'bench-x',
      shape,
      prefill: { calls: 40_000, seconds: 12.5, errors: 0, errorsByCode: {} },
      warmup: null,
      run,
      views: {
        atStart: view(3, 'r1'),
        atEnd: view(5, 'r2'),
        changes: 2,
        seen: [view(3, 'r1'), view(5, 'r2')],
        polls: 40,
        unansweredPolls: 0,
        problems: {
          count: 3,
          byKind: { 'no heartbeat for N ms': 2, 'its oldest write has waited N ms for an fsync': 1 },
          first: [],
        },
      },
      stalls: [
        { process: 'coordinator', count: 0, longestMs: 0 },
        { process: 'r1', count: 2, longestMs: 640 },
        { process: 'r2', count: 0, longestMs: 0 },
      ],
      memory: {
        rule: RESIDENT_GROWTH_RULE,
        sampleIntervalMs: 1000,
        windowMs: 2000,
        grew: false,
        replicas: [{ id: 'r1', ...judgeResident(samples, 4000), samples, notRunningSamples: 0 }],
      },
      mismatches: { count: 0, first: [] },
      verify: null,
      interrupted: false,
    });
    assert.match(text, /every key written once: 40,000 calls in 12\.5 s/);
    assert.match(
      text,
      /view changes: 2 \(view 3 at the start, 5 at the end; 2 seen: 3 \(primary r1\), 5 \(primary r2\)\)/,
    );
    assert.match(
      text,
      /not counted as alive, at 3 of 40 polls × 3 replicas: "no heartbeat for N ms" 2, "its oldest write has waited N ms for an fsync" 1/,
    );
    assert.match(text, /stalls: r1 2 \(longest 640 ms\); a view change with no fault, right after one/);
    assert.match(text, /second 2 s max MB │ last 2 s max MB/);
    assert.match(text, /│ r1 +│ +5 │ +70\.0 │ +70\.0 │ +0\.0 │ +no │/);
    assert.match(
      text,
      /resident memory: did not grow; grew if the last minute's max > 1\.1 × the second minute's max \+ 5 MB/,
    );
  });
});
