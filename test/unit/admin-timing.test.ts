// The admin port's hot-path timings: requests and fsyncs are counted into typed arrays, and a scrape
// turns those arrays into Prometheus histograms that a strict parser accepts, with the counts put in.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { ScrapedHistogram } from '../../src/admin/scraped-histogram.js';
import {
  createRequestHistogram,
  InFlightRequests,
  requestSeries,
  requestSeriesLabels,
} from '../../src/node/request-timing.js';
import { TimingHistogram } from '../../src/node/timing-histogram.js';
import type { ClientRequest } from '../../src/protocol/messages.js';
import { clientId, logIndex } from '../../src/protocol/types.js';
import { parsePrometheusText, sampleValue } from '../prometheus-text.js';

function request(id: number, fields: Partial<ClientRequest> = {}): ClientRequest {
  return {
    type: 'request',
    id,
    kind: 'write',
    clientId: clientId('c'),
    requestNumber: id,
    durability: 'sync',
    operation: new Uint8Array(0),
    staleness: null,
    ...fields,
  };
}

const seriesOf = (labels: { op: string; durability: string }) =>
  requestSeriesLabels.findIndex((each) => each.op === labels.op && each.durability === labels.durability);

test('each kind of request is counted in the series its labels name', () => {
  const cases: [Partial<ClientRequest>, { op: string; durability: string }][] = [
    [
      { kind: 'write', durability: 'sync' },
      { op: 'write', durability: 'sync' },
    ],
    [
      { kind: 'write', durability: 'replicated' },
      { op: 'write', durability: 'replicated' },
    ],
    [
      { kind: 'write', durability: 'async' },
      { op: 'write', durability: 'async' },
    ],
    [{ kind: 'read' }, { op: 'read', durability: 'none' }],
    [
      { kind: 'read', staleness: { maxStalenessMs: 10, minIndex: logIndex(0) } },
      { op: 'read-any', durability: 'none' },
    ],
    [{ kind: 'open-session' }, { op: 'open-session', durability: 'sync' }],
    [{ kind: 'request-status' }, { op: 'request-status', durability: 'none' }],
  ];
  for (const [fields, labels] of cases) assert.equal(requestSeries(request(1, fields)), seriesOf(labels));
});

test('a request is timed from its arrival to its answer, once', () => {
  const histogram = createRequestHistogram();
  const inFlight = new InFlightRequests(histogram);
  inFlight.started(request(7, { durability: 'async' }), 1000);
  inFlight.answered(7, 1003);
  inFlight.answered(7, 1500); // a second answer to the same id is not counted again
  const series = seriesOf({ op: 'write', durability: 'async' });
  assert.equal(histogram.counts[series], 1);
  assert.ok(Math.abs((histogram.sumsSeconds[series] ?? 0) - 0.003) < 1e-9);
  inFlight.answered(8, 2000); // never started: ignored
  assert.equal(
    histogram.counts.reduce((sum, count) => sum + count, 0),
    1,
  );
});

test('many requests in flight on one connection are each timed (the ring grows)', () => {
  const histogram = createRequestHistogram();
  const inFlight = new InFlightRequests(histogram);
  const pipelined = 500;
  for (let id = 1; id <= pipelined; id++) inFlight.started(request(id), id);
  for (let id = pipelined; id >= 1; id--) inFlight.answered(id, id + 2);
  assert.equal(histogram.counts[0], pipelined);
  assert.ok(Math.abs((histogram.sumsSeconds[0] ?? 0) - pipelined * 0.002) < 1e-9);
});

test('a scraped histogram is valid Prometheus text holding the counts of its typed arrays', async () => {
  const source = new TimingHistogram([0.001, 0.01, 0.1], 2);
  for (const seconds of [0.0005, 0.001, 0.005, 0.05, 0.5]) source.observe(0, seconds);
  source.observe(1, 0.02);
  const registry = new Registry();
  new ScrapedHistogram(registry, {
    name: 'test_duration_seconds',
    help: 'A test histogram.',
    labelNames: ['op'],
    source,
    seriesLabels: [{ op: 'a' }, { op: 'b"quoted"' }],
  });
  const families = parsePrometheusText(await registry.metrics());
  const family = families.get('test_duration_seconds');
  assert.equal(family?.type, 'histogram');
  const bucket = (op: string, le: string) =>
    sampleValue(families, 'test_duration_seconds_bucket', { op, le });
  // 0.001 is at its bound, so in the 0.001 bucket (le is "less or equal").
  assert.deepEqual(
    ['0.001', '0.01', '0.1', '+Inf'].map((le) => bucket('a', le)),
    [2, 3, 4, 5],
  );
  assert.equal(sampleValue(families, 'test_duration_seconds_count', { op: 'a' }), 5);
  assert.ok(Math.abs(sampleValue(families, 'test_duration_seconds_sum', { op: 'a' }) - 0.5565) < 1e-9);
  assert.equal(bucket('b"quoted"', '0.01'), 0);
  assert.equal(bucket('b"quoted"', '0.1'), 1);
  // prom-client's JSON reads the same samples.
  const json = await registry.getMetricsAsJSON();
  const values = json[0]?.values ?? [];
  assert.ok(
    values.some((value) => value.labels.op === 'a' && value.labels.le === '+Inf' && value.value === 5),
  );
});

test('the histogram of a series never observed is all zeros, and bounds must ascend', async () => {
  const registry = new Registry();
  new ScrapedHistogram(registry, {
    name: 'idle_seconds',
    help: 'Nothing yet.',
    labelNames: [],
    source: new TimingHistogram([1, 2], 1),
    seriesLabels: [{}],
  });
  const families = parsePrometheusText(await registry.metrics());
  assert.equal(sampleValue(families, 'idle_seconds_count'), 0);
  assert.equal(sampleValue(families, 'idle_seconds_bucket', { le: '+Inf' }), 0);
  assert.throws(() => new TimingHistogram([2, 1], 1), /ascend/);
});
