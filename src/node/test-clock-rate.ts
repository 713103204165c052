// A test hook for the chaos runner: UNDERSTUDY_TEST_CLOCK_RATE=R makes this process's monotonic
// clock, performance.now(), run at R times the machine's, as on a server whose oscillator drifts.
// Every lease, timeout, staleness bound and pacing in the servers reads that clock, and the design
// allows for drift between processes (the lease's margin), so the chaos runner starts each server at
// a rate of its own to hold it to that. Timers are left alone: they only wake the process, and each
// reading of the clock then says how much time it believes has passed. The wall clock is left alone
// too (key expiry reads it; a stepped wall clock is another fault).

import { ConfigError } from '../errors.js';

export const TEST_CLOCK_RATE_VARIABLE = 'UNDERSTUDY_TEST_CLOCK_RATE';
/**
 * The rates the hook takes: far wider than any drift a run asks for (a test breaks the lease's margin
 * on purpose with a quarter), narrow enough to catch a typo.
 */
export const TEST_CLOCK_RATE_RANGE = [0.25, 4] as const;

/** The rate applied to this process's clock (1 without the hook). */
let appliedRate = 1;

/** How fast this process's performance.now() runs against the machine's monotonic clock. */
export function testClockRate(): number {
  return appliedRate;
}

/** Applies UNDERSTUDY_TEST_CLOCK_RATE (`value`) to this process's performance.now(); absent: nothing. */
export function applyTestClockRate(value: string | undefined): void {
  if (value === undefined || value === '') return;
  const rate = Number(value);
  const [low, high] = TEST_CLOCK_RATE_RANGE;
  if (!/^\d+(\.\d+)?$/.test(value) || !(rate >= low && rate <= high)) {
    throw new ConfigError(
      `${TEST_CLOCK_RATE_VARIABLE} must be a rate from ${low} to ${high} (1 for the machine's clock), got ${JSON.stringify(value)}`,
    );
  }
  if (rate === 1) return;
  appliedRate = rate;
  const machineNow = performance.now.bind(performance);
  const startMs = machineNow();
  performance.now = () => startMs + (machineNow() - startMs) * rate;
}
