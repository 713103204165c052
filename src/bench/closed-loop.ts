// The closed-loop load generator, the same for Understudy and for its peers: each caller issues one
// call, waits for its answer, and issues the next, until the run's window closes. Throughput is the
// calls that completed inside the window over the window's length; latency is theirs alone. A call
// that throws is counted by its error code and the caller goes on: errors are part of the result,
// never the end of the run. Calls still in flight when the window closes are awaited (each call
// must be bounded by its own deadline) but not counted, so they cannot leak into the next run.

import { FailureCount } from '../tools/measure-cluster.js';
import { createLatencyHistogram, type LatencySummary, recordLatency, summarizeLatency } from './latency.js';
import { CallTimeline, type TailShape } from './stalls.js';

const NS_PER_MS = 1_000_000n;
const PROGRESS_INTERVAL_MS = 1000;

export interface ClosedLoopOptions {
  readonly callers: number;
  readonly durationMs: number;
  /** One call of caller `caller` (0 .. callers-1); a throw counts as a failed call. */
  readonly call: (caller: number) => Promise<void>;
  /** Told once a second, while the window is open, what that second saw. */
  readonly onSecond?: (second: SecondReport) => void;
  /** Closes the window early. */
  readonly signal?: AbortSignal;
}

export interface SecondReport {
  /** Seconds since the window opened. */
  readonly elapsedSeconds: number;
  /** Calls completed during the last second. */
  readonly ops: number;
  /** The 99th percentile of those calls, in milliseconds. */
  readonly p99: number;
  /** Failed calls since the window opened. */
  readonly errors: number;
}

export interface LoopResult {
  /** Calls that completed inside the window. */
  readonly ops: number;
  readonly seconds: number;
  readonly opsPerSecond: number;
  readonly latencyMs: LatencySummary;
  /** Calls that failed inside the window, in total and by error code. */
  readonly errors: number;
  readonly errorsByCode: Readonly<Record<string, number>>;
  /** Whether the slowest calls were slow alone or in stalls of most callers at once (stalls.ts). */
  readonly tail: TailShape;
}

export async function runClosedLoop(options: ClosedLoopOptions): Promise<LoopResult> {
  const histogram = createLatencyHistogram();
  const secondHistogram = createLatencyHistogram();
  const timeline = new CallTimeline();
  const failures = new FailureCount();
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(options.durationMs) * NS_PER_MS;
  let closed = false;
  let closedAt = deadline;
  const close = () => {
    if (closed) return;
    closed = true;
    const now = process.hrtime.bigint();
    if (now < closedAt) closedAt = now;
  };
  const windowTimer = setTimeout(close, options.durationMs);
  options.signal?.addEventListener('abort', close, { once: true });
  if (options.signal?.aborted) close();

  let secondsElapsed = 0;
  const progressTimer =
    options.onSecond === undefined
      ? null
      : setInterval(() => {
          secondsElapsed += 1;
          options.onSecond?.({
            elapsedSeconds: secondsElapsed,
            ops: secondHistogram.count,
            p99: summarizeLatency(secondHistogram).p99,
            errors: failures.total,
          });
          secondHistogram.reset();
        }, PROGRESS_INTERVAL_MS);

  const caller = async (index: number): Promise<void> => {
    // The clock is read as well as the flag: calls that fail at once never let the timer run.
    while (!closed && process.hrtime.bigint() < deadline) {
      const start = process.hrtime.bigint();
      try {
        await options.call(index);
        const end = process.hrtime.bigint();
        if (end > closedAt) continue;
        const latency = end - start;
        recordLatency(histogram, latency);
        timeline.push(Number(end - started) / 1e6, Number(latency) / 1e6);
        if (progressTimer !== null) recordLatency(secondHistogram, latency);
      } catch (error) {
        if (process.hrtime.bigint() <= closedAt) failures.add(error);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.callers }, (_, index) => caller(index)));
  } finally {
    clearTimeout(windowTimer);
    if (progressTimer !== null) clearInterval(progressTimer);
    options.signal?.removeEventListener('abort', close);
  }
  const seconds = Number(closedAt - started) / 1e9;
  const latencyMs = summarizeLatency(histogram);
  return {
    ops: histogram.count,
    seconds,
    opsPerSecond: seconds > 0 ? Math.round(histogram.count / seconds) : 0,
    latencyMs,
    errors: failures.total,
    errorsByCode: failures.toJSON(),
    tail: timeline.tailShape(latencyMs.p99, options.callers),
  };
}
