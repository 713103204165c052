// A prom-client histogram whose counts live in a TimingHistogram (typed arrays the hot path fills).
// prom-client's own `observe` hashes its labels and allocates on every call, which the write path
// cannot afford; this one reads the arrays only when the registry asks, at a scrape.
//
// prom-client 15 reads a histogram through `getForPromString()` (its registry's text, and `get()`,
// which splays the same samples for JSON), so that is the one method answered here from the arrays,
// in the layout prom-client's own histogram produces. The unit test of this file parses the text, so
// a prom-client upgrade that reads metrics another way shows up there.

import { Histogram, type Registry } from 'prom-client';
import type { TimingHistogram } from '../node/timing-histogram.js';

interface Sample {
  readonly value: number;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly sharedLabels: Readonly<Record<string, string>>;
  readonly metricName: string;
}

export interface ScrapedHistogramOptions<T extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly T[];
  readonly source: TimingHistogram;
  /** The labels of each series of `source`, in series order. */
  readonly seriesLabels: readonly Readonly<Record<T, string>>[];
}

export class ScrapedHistogram<T extends string> extends Histogram<T> {
  private readonly options: ScrapedHistogramOptions<T>;

  constructor(registry: Registry, options: ScrapedHistogramOptions<T>) {
    super({
      name: options.name,
      help: options.help,
      labelNames: options.labelNames,
      buckets: [...options.source.boundsSeconds],
      registers: [],
    });
    if (options.seriesLabels.length !== options.source.seriesCount) {
      throw new Error(`${options.name}: one label set per series`);
    }
    this.options = options;
    registry.registerMetric(this);
  }

  /** What prom-client's registry formats (see the header). */
  async getForPromString() {
    const { name, help, source, seriesLabels } = this.options;
    const values: Sample[] = [];
    for (let series = 0; series < source.seriesCount; series++) {
      const sharedLabels = seriesLabels[series] ?? {};
      let cumulative = 0;
      for (let bucket = 0; bucket < source.bucketCount - 1; bucket++) {
        cumulative += source.bucketCounts[series * source.bucketCount + bucket] ?? 0;
        const le = source.boundsSeconds[bucket] ?? 0;
        values.push({ value: cumulative, labels: { le }, sharedLabels, metricName: `${name}_bucket` });
      }
      const count = source.counts[series] ?? 0;
      values.push({ value: count, labels: { le: '+Inf' }, sharedLabels, metricName: `${name}_bucket` });
      values.push({
        value: source.sumsSeconds[series] ?? 0,
        labels: {},
        sharedLabels,
        metricName: `${name}_sum`,
      });
      values.push({ value: count, labels: {}, sharedLabels, metricName: `${name}_count` });
    }
    return { name, help, type: 'histogram', values, aggregator: 'sum' };
  }
}
