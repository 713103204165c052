// Each server of a chaos run keeps its monotonic clock at a rate of its own, as servers whose
// oscillators drift do (test-clock-rate.ts puts it in the process). The design allows for drift
// between processes: the coordinator waits out a lease plus a margin before it appoints another
// primary, and a backup's staleness bound is judged by its own clock. The simulator draws ±5 % in
// half its seeds; the chaos runner draws within ±`drift` for every server, fixed for the run (a
// machine keeps its oscillator), from a stream of its own so the seed's schedule stays the same.

import { Random } from '../sim/random.js';

/** How far from 1 a server's clock rate is drawn by default: the simulator's bound. */
export const CLOCK_DRIFT_DEFAULT = 0.05;
/** Drift past this is outside what the lease's margin allows for; the runner refuses it. */
export const CLOCK_DRIFT_MAX = 0.05;
/** Mixed into the seed for the rates' own stream. */
const CLOCK_RATE_SALT = 0x636c_6f63;

export interface ClockRates {
  /** The rate of `name`'s clock, drawn at its first ask. */
  rateOf(name: string): number;
  /** Each server's rate, in the order they were drawn. */
  readonly drawn: ReadonlyMap<string, number>;
}

export function drawClockRates(seed: number, drift: number): ClockRates {
  const random = new Random((seed ^ CLOCK_RATE_SALT) >>> 0);
  const drawn = new Map<string, number>();
  return {
    drawn,
    rateOf(name) {
      let rate = drawn.get(name);
      if (rate === undefined) {
        rate = drift === 0 ? 1 : Number((1 + drift * (2 * random.next() - 1)).toFixed(4));
        drawn.set(name, rate);
      }
      return rate;
    },
  };
}

/** The report's line on the clocks: each server's rate. */
export function describeClockRates(rates: ReadonlyMap<string, number>, drift: number): string {
  if (drift === 0) return 'clocks: every server at the machine rate (--clock-drift 0)';
  const each = [...rates].map(([name, rate]) => `${name} ${rate.toFixed(3)}×`).join(', ');
  return `clocks: each server's monotonic clock at a rate of its own within ±${(drift * 100).toFixed(1)} %: ${each}`;
}
