// How the bench reads where a write waited from the replicas' /metrics: the fsync and request
// counters in their text, the difference between two readings, and the line it prints. The real
// text of a real replica is read in the bench's integration test; here, what must not be misread.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeWaits } from '../../src/bench/report.js';
import type { MeasuredRunReport } from '../../src/bench/run.js';
import { countersFromMetrics, type ReplicaCounters, waitsBetween } from '../../src/bench/server-waits.js';

function metricsText(counters: ReplicaCounters, extra = ''): string {
  return [
    ...(counters.id === null
      ? []
      : ['# TYPE understudy_replica_info gauge', `understudy_replica_info{replica="${counters.id}"} 1`]),
    '# HELP understudy_fsync_seconds Time of each fdatasync of a batch of log entries.',
    '# TYPE understudy_fsync_seconds histogram',
    'understudy_fsync_seconds_bucket{le="0.001"} 3',
    'understudy_fsync_seconds_bucket{le="+Inf"} 4',
    `understudy_fsync_seconds_sum ${counters.fsyncSeconds}`,
    `understudy_fsync_seconds_count ${counters.fsyncs}`,
    'understudy_request_duration_seconds_bucket{le="0.001",op="write",durability="sync"} 1',
    // Writes of every durability count; reads and session openings do not.
    `understudy_request_duration_seconds_sum{op="write",durability="sync"} ${counters.writeSeconds / 2}`,
    `understudy_request_duration_seconds_count{op="write",durability="sync"} ${counters.writes - 1}`,
    `understudy_request_duration_seconds_sum{op="write",durability="async"} ${counters.writeSeconds / 2}`,
    'understudy_request_duration_seconds_count{op="write",durability="async"} 1',
    'understudy_request_duration_seconds_sum{op="read",durability="none"} 99',
    'understudy_request_duration_seconds_count{op="read",durability="none"} 1000',
    'understudy_request_duration_seconds_sum{op="open-session",durability="sync"} 7',
    'understudy_request_duration_seconds_count{op="open-session",durability="sync"} 70',
    extra,
  ].join('\n');
}

test('a replica’s counters: its id, its fsyncs, and the client writes it answered in every durability', () => {
  const counters = { id: 'r2', fsyncs: 4, fsyncSeconds: 0.004, writes: 10, writeSeconds: 0.02 };
  assert.deepEqual(countersFromMetrics(metricsText(counters)), counters);
  // A build that does not say its id is still read; the bench then names it by its address.
  assert.deepEqual(countersFromMetrics(metricsText({ ...counters, id: null })), { ...counters, id: null });
});

test('text without the counters, or with a value that is not a count, is read as nothing', () => {
  const counters = { id: 'r1', fsyncs: 4, fsyncSeconds: 0.004, writes: 10, writeSeconds: 0.02 };
  assert.equal(countersFromMetrics('<html>not metrics</html>'), null);
  assert.equal(
    countersFromMetrics(metricsText(counters).replace(/^understudy_fsync_seconds_count.*$/m, '')),
    null,
  );
  assert.equal(
    countersFromMetrics(
      metricsText(counters).replace(/^(understudy_request_duration_seconds_\w+)\{op="write".*$/gm, ''),
    ),
    null,
  );
  assert.equal(countersFromMetrics(metricsText({ ...counters, fsyncSeconds: Number.NaN })), null);
  assert.equal(countersFromMetrics(metricsText({ ...counters, fsyncs: -1 })), null);
});

test('a run’s waits: what each replica did between the readings, by its id; a restarted or unread one is left out', () => {
  const before = new Map<string, ReplicaCounters | null>([
    ['10.0.0.1:9100', { id: 'r1', fsyncs: 10, fsyncSeconds: 0.01, writes: 100, writeSeconds: 0.2 }],
    ['10.0.0.2:9100', { id: null, fsyncs: 20, fsyncSeconds: 0.01, writes: 0, writeSeconds: 0 }],
    ['10.0.0.3:9100', { id: 'r3', fsyncs: 500, fsyncSeconds: 1, writes: 0, writeSeconds: 0 }],
    ['10.0.0.4:9100', null],
  ]);
  const after = new Map<string, ReplicaCounters | null>([
    ['10.0.0.1:9100', { id: 'r1', fsyncs: 30, fsyncSeconds: 0.03, writes: 340, writeSeconds: 0.68 }],
    ['10.0.0.2:9100', { id: null, fsyncs: 20, fsyncSeconds: 0.01, writes: 0, writeSeconds: 0 }],
    ['10.0.0.3:9100', { id: 'r3', fsyncs: 5, fsyncSeconds: 0.01, writes: 0, writeSeconds: 0 }],
    ['10.0.0.4:9100', { id: 'r4', fsyncs: 5, fsyncSeconds: 0.01, writes: 0, writeSeconds: 0 }],
  ]);
  assert.deepEqual(waitsBetween(before, after), [
    { replica: 'r1', fsyncs: 20, fsyncMeanMs: 1, writes: 240, writeMeanMs: 2 },
    { replica: '10.0.0.2:9100', fsyncs: 0, fsyncMeanMs: null, writes: 0, writeMeanMs: null },
  ]);
});

test('the line names the primary by the writes it answered, and each replica’s fsyncs with the writes per sync', () => {
  const run: Pick<MeasuredRunReport, 'waits' | 'latencyMs'> = {
    latencyMs: { p50: 2.5, p90: 3, p99: 9, p999: 15, max: 20, mean: 2.71 },
    waits: [
      { replica: 'r1', fsyncs: 800, fsyncMeanMs: 0.55, writes: 0, writeMeanMs: null },
      { replica: 'r2', fsyncs: 1000, fsyncMeanMs: 0.93, writes: 12_000, writeMeanMs: 2.02 },
      { replica: 'r3', fsyncs: 0, fsyncMeanMs: null, writes: 0, writeMeanMs: null },
    ],
  };
  assert.equal(
    describeWaits(run),
    'where a write waited (median run, means): 2.71 ms at this client, 2.02 of them at the primary r2; ' +
      'fsyncs r1 0.55 ms (800, 15.0 writes each), r2 0.93 ms (1,000, 12.0 writes each), r3 none',
  );
  assert.equal(describeWaits({ ...run, waits: null }), null);
  assert.equal(
    describeWaits({ ...run, waits: [] }),
    "where a write waited: not measured (no replica's /metrics could be read before and after the run)",
  );
});
