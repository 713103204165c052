// Latency of completed calls in an HDR histogram (node:perf_hooks createHistogram: fixed memory,
// three significant digits at any magnitude), recorded in nanoseconds and reported in milliseconds.

import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/** The longest latency the histogram tracks exactly: ten minutes, in nanoseconds. */
const LATENCY_NS_MAX = 600_000_000_000;
const SIGNIFICANT_DIGITS = 3;
const NS_PER_MS = 1_000_000;

/** Percentiles of call latency, in milliseconds; all 0 when nothing completed. */
export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export function createLatencyHistogram(): RecordableHistogram {
  return createHistogram({ lowest: 1, highest: LATENCY_NS_MAX, figures: SIGNIFICANT_DIGITS });
}

/** Records one call that took `nanoseconds` (at least 1, at most the tracked maximum). */
export function recordLatency(histogram: RecordableHistogram, nanoseconds: bigint): void {
  const clamped = nanoseconds < 1n ? 1 : Math.min(Number(nanoseconds), LATENCY_NS_MAX);
  histogram.record(clamped);
}

export function summarizeLatency(histogram: RecordableHistogram): LatencySummary {
  if (histogram.count === 0) return { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  const ms = (nanoseconds: number) => round(nanoseconds / NS_PER_MS);
  return {
    p50: ms(histogram.percentile(50)),
    p90: ms(histogram.percentile(90)),
    p99: ms(histogram.percentile(99)),
    p999: ms(histogram.percentile(99.9)),
    max: ms(histogram.max),
    mean: ms(histogram.mean),
  };
}

/** Microsecond resolution is all a millisecond figure needs. */
function round(milliseconds: number): number {
  return Math.round(milliseconds * 1000) / 1000;
}
