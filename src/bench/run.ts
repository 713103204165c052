// One `understudy bench` against a target: connect the clients (one per --clients, or one shared),
// run the warmup and then --runs runs of the closed loop over the same callers (each keeps its keys
// and what it wrote across runs), and report every run, the median one, the mismatches and, with
// --verify, the read-back of every key written. The clients are closed whatever happens; the
// target belongs to the caller.

import { randomBytes } from 'node:crypto';
import { ATTEMPT_TIMEOUT_MS_DEFAULT, Client } from '../client/index.js';
import type { CallerKeys } from './caller-keys.js';
import { type LoopResult, runClosedLoop, type SecondReport } from './closed-loop.js';
import { medianRun } from './median.js';
import { runPhases } from './phases.js';
import type { BenchShape } from './shape.js';
import type { BenchTarget } from './target.js';
import { createCallers, type Mismatch, UnderstudyLoad } from './understudy-load.js';
import { readKeyThrough, type VerifyReport, verifyKeys } from './verify.js';

export interface BenchOptions {
  readonly shape: BenchShape;
  /** Deadline of each call, retries included, in milliseconds. */
  readonly timeoutMs: number;
  readonly verify: boolean;
  /**
   * The callers' keys and what was written to them, carried over from an earlier bench of the same
   * clients and pipeline on the same cluster (so reads find and check its writes); new callers
   * under a fresh key prefix by default, so that no earlier bench's keys are met.
   */
  readonly callers?: readonly CallerKeys[];
  /** Told once a second what the running phase ("warmup", "run 2/3") saw. */
  readonly onSecond?: (phase: string, second: SecondReport) => void;
  /** Told when a phase ends. */
  readonly onPhaseEnd?: (phase: string, result: RunReport) => void;
  /** Stops the run under way and skips the rest. */
  readonly signal?: AbortSignal;
}

export interface RunReport extends LoopResult {
  /** Answers that disagreed with what the bench wrote, during this run. */
  readonly mismatches: number;
}

export interface BenchReport {
  readonly coordinator: string;
  /** Replicas the bench started itself, or null for a running cluster. */
  readonly startedReplicas: number | null;
  readonly keyPrefix: string;
  readonly shape: BenchShape;
  readonly warmup: RunReport | null;
  readonly runs: readonly RunReport[];
  /** The median run by throughput (see median.ts), with its number (1-based). */
  readonly median: RunReport & { readonly run: number };
  readonly mismatches: { readonly count: number; readonly first: readonly Mismatch[] };
  readonly verify: VerifyReport | null;
  /** True if a signal cut the bench short (fewer runs than asked). */
  readonly interrupted: boolean;
}

export class BenchInterruptedError extends Error {
  override name = 'BenchInterruptedError';
}

export function newKeyPrefix(): string {
  return `bench-${randomBytes(4).toString('hex')}`;
}

export async function runBench(target: BenchTarget, options: BenchOptions): Promise<BenchReport> {
  const { shape } = options;
  const callers = options.callers ?? createCallers(shape, newKeyPrefix());
  const connect = () =>
    Client.connect({
      coordinator: target.coordinator,
      clusterId: target.clusterId,
      deadlineMs: options.timeoutMs,
      attemptTimeoutMs: Math.min(ATTEMPT_TIMEOUT_MS_DEFAULT, options.timeoutMs),
    });
  const clients: Client[] = [];
  try {
    for (let k = 0; k < (shape.sharedClient ? 1 : shape.clients); k++) clients.push(await connect());
    const load = new UnderstudyLoad(shape, clients, callers);
    const runPhase = async (phase: string, seconds: number): Promise<RunReport> => {
      const mismatchesBefore = load.mismatches.count;
      const result = await runClosedLoop({
        callers: load.callerCount,
        durationMs: seconds * 1000,
        call: load.call,
        ...(options.onSecond === undefined
          ? {}
          : { onSecond: (second: SecondReport) => options.onSecond?.(phase, second) }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      const report = { ...result, mismatches: load.mismatches.count - mismatchesBefore };
      options.onPhaseEnd?.(phase, report);
      return report;
    };

    const { warmup, runs } = await runPhases(
      { ...shape, ...(options.signal === undefined ? {} : { signal: options.signal }) },
      runPhase,
    );
    if (runs.length === 0) throw new BenchInterruptedError('interrupted before the first run');
    const median = medianRun(runs);
    let verify: VerifyReport | null = null;
    if (options.verify && options.signal?.aborted !== true) {
      const reader = await connect();
      try {
        verify = await verifyKeys(load.callers, readKeyThrough(reader));
      } finally {
        await reader.close();
      }
    }
    return {
      coordinator: target.coordinator,
      startedReplicas: target.startedReplicas,
      keyPrefix: callers[0]?.prefix ?? '',
      shape,
      warmup,
      runs,
      median: { ...median, run: runs.indexOf(median) + 1 },
      mismatches: { count: load.mismatches.count, first: load.mismatches.first },
      verify,
      interrupted: options.signal?.aborted === true,
    };
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}
