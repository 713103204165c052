// The scenarios of `understudy bench`, their defaults and their limits, named once:
// - load: the runs of closed loop, each reported with its throughput and latency (run.ts);
// - failover: kill -9 of the primary under load, trial after trial, and how long until a new
//   primary acknowledges a sync write (failover.ts);
// - steady: one long run with no fault, counting the view changes the coordinator made and
//   sampling each replica's resident memory (steady.ts).
// Failover and steady need a cluster the bench started (--start): they kill, restart and measure
// its processes by their ids. Everything here is pure.

import type { BenchShape } from './shape.js';

export const benchScenarios = ['load', 'failover', 'steady'] as const;
export type BenchScenario = (typeof benchScenarios)[number];

/** Trials of the failover scenario: issue 8 asks for p50 / p99 / max over at least 20. */
export const FAILOVER_TRIALS_DEFAULT = 20;
export const FAILOVER_TRIALS_MAX = 100;
/** "A few clients": the failover load is there to be acknowledged, not to saturate the machine. */
export const FAILOVER_CLIENTS_DEFAULT = 4;
/** A failover needs a backup to promote. */
export const FAILOVER_REPLICAS_MIN = 2;
/** How long after the kill a new primary may take to acknowledge a write before the trial fails. */
export const FAILOVER_FIRST_WRITE_TIMEOUT_MS = 60_000;
/**
 * The failover load runs until the trials are done; this bounds its window per trial (the kill,
 * the first write, the restart and a whole view again, each bounded by its own timeout).
 */
export const FAILOVER_TRIAL_LOAD_MS_MAX = 5 * 60_000;

/** The steady run: issue 8 asks for 10 minutes. */
export const STEADY_DURATION_SECONDS_DEFAULT = 600;

/** The load shape without what only the load scenario's runs use (their length, count and warmup). */
export type LoadShape = Omit<BenchShape, 'durationSeconds' | 'runs' | 'warmupSeconds'>;

export function loadShapeOf(shape: BenchShape): LoadShape {
  const { durationSeconds: _duration, runs: _runs, warmupSeconds: _warmup, ...load } = shape;
  return load;
}

/** p50, p99, max and min of some durations in milliseconds, by nearest rank. */
export interface DurationSummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly min: number;
}

/**
 * The nearest-rank percentile: the smallest value with at least `percent` % of the values at or
 * below it. Over 20 trials, p99 is the largest: each trial is a whole value, none is interpolated.
 */
export function nearestRank(sorted: readonly number[], percent: number): number {
  const rank = Math.max(1, Math.ceil((percent / 100) * sorted.length));
  const value = sorted[rank - 1];
  if (value === undefined) throw new Error(`no value at rank ${rank} of ${sorted.length}`);
  return value;
}

export function summarizeDurations(values: readonly number[]): DurationSummary | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: nearestRank(sorted, 50),
    p99: nearestRank(sorted, 99),
    max: nearestRank(sorted, 100),
    min: nearestRank(sorted, 0),
  };
}
