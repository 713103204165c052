// The dashboard's model, without sockets or clocks: quantiles estimated from histogram buckets as
// Prometheus does, the write histogram read from the text a replica's registry really produces,
// latency taken as the difference between two scrapes (restarts and silent replicas add nothing),
// view changes told apart by the coordinator's counters, and bounded samples and timeline.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { DashboardHistory } from '../../src/admin/dashboard/dashboard-history.js';
import { dashboardStatus } from '../../src/admin/dashboard/dashboard-status.js';
import {
  type CumulativeHistogram,
  histogramDifference,
  histogramQuantile,
} from '../../src/admin/dashboard/histogram-quantile.js';
import { writeHistogramFromText } from '../../src/admin/dashboard/write-histogram-text.js';
import { WriteLatencyScraper } from '../../src/admin/dashboard/write-latency-scraper.js';
import { ScrapedHistogram } from '../../src/admin/scraped-histogram.js';
import { createRequestHistogram, requestSeriesLabels } from '../../src/node/request-timing.js';
import { inspection } from './dashboard-fixtures.js';

const seriesOf = (op: string, durability: string) =>
  requestSeriesLabels.findIndex((each) => each.op === op && each.durability === durability);

function histogram(bounds: number[], counts: number[]): CumulativeHistogram {
  return { upperBoundsSeconds: [...bounds, Number.POSITIVE_INFINITY], cumulativeCounts: counts };
}

test('a quantile is interpolated inside the bucket that holds its rank, as histogram_quantile does', () => {
  // 10 requests: 4 up to 1 ms, 4 more up to 2 ms, 2 more up to 4 ms.
  const h = histogram([0.001, 0.002, 0.004], [4, 8, 10, 10]);
  assert.equal(histogramQuantile(0.4, h), 0.001);
  assert.ok(Math.abs((histogramQuantile(0.5, h) ?? 0) - 0.00125) < 1e-12);
  assert.ok(Math.abs((histogramQuantile(0.9, h) ?? 0) - 0.003) < 1e-12);
  // Beyond the last finite bound only "more than that" is known.
  assert.equal(histogramQuantile(0.99, histogram([0.001], [0, 5])), 0.001);
  assert.equal(histogramQuantile(0.5, histogram([0.001], [0, 0])), null);
});

test('the difference of two scrapes is the interval; a count that went down (a restart) has none', () => {
  const earlier = histogram([0.001, 0.002], [1, 2, 2]);
  const later = histogram([0.001, 0.002], [3, 7, 8]);
  assert.deepEqual(histogramDifference(later, earlier)?.cumulativeCounts, [2, 5, 6]);
  assert.equal(histogramDifference(earlier, later), null);
  assert.equal(histogramDifference(histogram([0.005], [1, 1]), earlier), null, 'other buckets');
});

/** The /metrics text of a replica whose request histogram holds `observations` (op, durability, seconds). */
async function replicaMetricsText(observations: readonly [string, string, number][]): Promise<string> {
  const timings = createRequestHistogram();
  for (const [op, durability, seconds] of observations) timings.observe(seriesOf(op, durability), seconds);
  const registry = new Registry();
  new ScrapedHistogram(registry, {
    name: 'understudy_request_duration_seconds',
    help: 'requests',
    labelNames: ['op', 'durability'],
    source: timings,
    seriesLabels: requestSeriesLabels,
  });
  return registry.metrics();
}

test("the write histogram is read from a replica's real /metrics text, every durability summed, reads left out", async () => {
  const text = await replicaMetricsText([
    ['write', 'sync', 0.003],
    ['write', 'async', 0.0004],
    ['write', 'replicated', 0.02],
    ['read', 'none', 0.0001],
    ['read', 'none', 0.0001],
  ]);
  const read = writeHistogramFromText(text);
  assert.ok(read !== null);
  assert.equal(read.upperBoundsSeconds.at(-1), Number.POSITIVE_INFINITY);
  assert.equal(read.cumulativeCounts.at(-1), 3, 'three writes, no reads');
  const upTo = (bound: number) => read.cumulativeCounts[read.upperBoundsSeconds.indexOf(bound)];
  assert.equal(upTo(0.0005), 1);
  assert.equal(upTo(0.005), 2);
  assert.equal(upTo(0.025), 3);
});

test('text that does not parse, or has no write histogram, reads as unknown rather than as zero', () => {
  assert.equal(writeHistogramFromText(''), null);
  assert.equal(
    writeHistogramFromText('understudy_request_duration_seconds_bucket{op="write",le="+Inf"} x'),
    null,
  );
  assert.equal(writeHistogramFromText('understudy_request_duration_seconds_bucket{op="write"} 3'), null);
  const decreasing = [
    'understudy_request_duration_seconds_bucket{le="0.001",op="write",durability="sync"} 5',
    'understudy_request_duration_seconds_bucket{le="+Inf",op="write",durability="sync"} 4',
  ].join('\n');
  assert.equal(writeHistogramFromText(decreasing), null);
});

test('latency is what the replicas answered between two scrapes; a silent or restarted replica adds nothing', async () => {
  const texts = new Map<string, string>();
  const scraper = new WriteLatencyScraper(['a:1', 'b:2'], async (address) => {
    const text = texts.get(address);
    if (text === undefined) throw new Error('connection refused');
    return text;
  });
  texts.set('a:1', await replicaMetricsText([['write', 'sync', 0.003]]));
  texts.set('b:2', await replicaMetricsText([]));
  const first = await scraper.scrape();
  assert.equal(first.latency, null, 'nothing to compare with yet');
  assert.equal(first.reachable, 2);

  const tenMs = Array.from({ length: 99 }, (): [string, string, number] => ['write', 'sync', 0.009]);
  texts.set('a:1', await replicaMetricsText([['write', 'sync', 0.003], ...tenMs, ['write', 'sync', 0.2]]));
  const second = await scraper.scrape();
  assert.equal(second.latency?.count, 100);
  const p50 = second.latency?.p50Ms ?? 0;
  assert.ok(p50 > 5 && p50 <= 10, `p50 ${p50} ms in the 5-10 ms bucket`);

  // a restarted (its counts start over) and b gone: no interval this time.
  texts.set('a:1', await replicaMetricsText([['write', 'sync', 0.003]]));
  texts.delete('b:2');
  const third = await scraper.scrape();
  assert.equal(third.latency, null);
  assert.equal(third.reachable, 1);
  assert.equal(third.addresses, 2);

  texts.set('a:1', await replicaMetricsText([['write', 'sync', 0.003]]));
  const idle = await scraper.scrape();
  assert.deepEqual(idle.latency, { count: 0, p50Ms: null, p99Ms: null }, 'no writes: known, and none');
});

test('view changes are told apart by the coordinator counters: first, failover, switchover, reconfiguration', () => {
  const limits = { samplesMax: 10, timelineEventsMax: 3 };
  const history = new DashboardHistory(limits, 0, inspection({ view: null }));
  assert.equal(history.timeline.length, 0, 'no view yet');
  const first = history.noteView(
    1,
    inspection({ view: { number: 1, primary: 'r1', backups: ['r2', 'r3'] } }),
  );
  assert.equal(first?.kind, 'first');
  assert.equal(
    history.noteView(2, inspection({ view: { number: 1, primary: 'r1', backups: ['r2', 'r3'] } })),
    null,
  );
  const failover = history.noteView(
    3,
    inspection({ view: { number: 2, primary: 'r2', backups: ['r3'] }, primariesReplaced: 1 }),
  );
  assert.equal(failover?.kind, 'failover');
  assert.equal(failover?.previousPrimary, 'r1');
  const rejoin = history.noteView(
    4,
    inspection({
      view: { number: 3, primary: 'r2', backups: ['r3'], learners: ['r1'] },
      primariesReplaced: 1,
    }),
  );
  assert.equal(rejoin?.kind, 'reconfiguration');
  const handover = history.noteView(
    5,
    inspection({
      view: { number: 4, primary: 'r3', backups: ['r1', 'r2'] },
      primariesReplaced: 1,
      switchoversDone: 1,
    }),
  );
  assert.equal(handover?.kind, 'switchover');
  assert.deepEqual(
    history.timeline.map((event) => event.view.number),
    [2, 3, 4],
    'bounded: the oldest went first',
  );
});

test('a view the coordinator already had when the dashboard started is marked current, not first', () => {
  const history = new DashboardHistory(
    { samplesMax: 10, timelineEventsMax: 10 },
    7,
    inspection({ view: { number: 9, primary: 'r2', backups: ['r1'] }, primariesReplaced: 0 }),
  );
  assert.equal(history.timeline[0]?.kind, 'current');
  assert.equal(history.timeline[0]?.at, 7);
});

test('throughput is the primary commit index over time, with no rate across a gap in the primary', () => {
  const history = new DashboardHistory(
    { samplesMax: 3, timelineEventsMax: 10 },
    0,
    inspection({ view: null }),
  );
  const view = { number: 1, primary: 'r1', backups: ['r2'] };
  const at = (commitIndex: number, viewOf: typeof view | null = view) =>
    inspection({ view: viewOf, commitIndex: { r1: commitIndex, r2: commitIndex - 1 } });
  assert.equal(history.addSample(0, 1000, at(100), null).committedPerSecond, null, 'first reading');
  assert.equal(history.addSample(1, 2000, at(600), null).committedPerSecond, 500);
  assert.equal(
    history.addSample(2, 2500, at(700), null).committedPerSecond,
    200,
    'per second, not per sample',
  );
  assert.equal(history.addSample(3, 3500, at(700, null), null).committedPerSecond, null, 'no primary');
  assert.equal(history.addSample(4, 4500, at(800), null).committedPerSecond, null, 'starts over');
  assert.deepEqual(
    history.samples.map((sample) => sample.at),
    [2, 3, 4],
    'bounded to samplesMax',
  );
  const latency = { count: 7, p50Ms: 1.5, p99Ms: 9 };
  const sample = history.addSample(5, 5500, at(810), latency);
  assert.equal(sample.writes, 7);
  assert.equal(sample.writeP99Ms, 9);
});

test("a replica's lag is how far its disk and state machine are behind the primary's commit index", () => {
  const status = dashboardStatus(
    42,
    inspection({
      view: { number: 3, primary: 'r1', backups: ['r2'], learners: ['r3'] },
      commitIndex: { r1: 100, r2: 100, r3: 40 },
      durableIndex: { r1: 105, r2: 97, r3: 60 },
      appliedIndex: { r1: 100, r2: 90, r3: 40 },
      dead: ['r3'],
    }),
    null,
  );
  assert.equal(status.commitIndex, 100);
  const row = (id: string) => status.replicas.find((replica) => replica.id === id);
  assert.deepEqual([row('r1')?.durableBehind, row('r1')?.appliedBehind], [0, 0], 'ahead is not behind');
  assert.deepEqual([row('r2')?.durableBehind, row('r2')?.appliedBehind], [3, 10]);
  assert.deepEqual([row('r3')?.durableBehind, row('r3')?.appliedBehind, row('r3')?.alive], [40, 60, false]);
  assert.equal(status.latencySource, null);
  const none = dashboardStatus(42, inspection({ view: null }), { reachable: 1, addresses: 3 });
  assert.equal(none.commitIndex, null);
  assert.deepEqual(none.latencySource, { addresses: 3, reachable: 1 });
});

test("a replica's Redis port, as its heartbeats report it, reaches the page; none for one that serves none", () => {
  const status = dashboardStatus(
    42,
    inspection({
      view: { number: 3, primary: 'r1', backups: ['r2'] },
      commitIndex: { r1: 10, r2: 10 },
      redis: { r1: '127.0.0.1:6379' },
    }),
    null,
  );
  const row = (id: string) => status.replicas.find((replica) => replica.id === id);
  assert.equal(row('r1')?.redisAddress, '127.0.0.1:6379');
  assert.equal(row('r2')?.redisAddress, null);
});
