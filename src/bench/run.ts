// One `understudy bench` against a target: connect the clients (one per --clients, or one shared),
// run the warmup and then --runs runs of the closed loop over the same callers (each keeps its keys
// and what it wrote across runs), and report every run, the median one, the mismatches and, with
// --verify, the read-back of every key written. The clients are closed whatever happens; the
// target belongs to the caller. A LoadSession (the clients, the callers, the phases, the read-back)
// is what the other scenarios (failover.ts, steady.ts) load the cluster through as well.

import { randomBytes } from 'node:crypto';
import { ATTEMPT_TIMEOUT_MS_DEFAULT, Client, type WriteMetadata } from '../client/index.js';
import { FailureCount } from '../tools/measure-cluster.js';
import type { CallerKeys } from './caller-keys.js';
import { type LoopResult, runClosedLoop, type SecondReport } from './closed-loop.js';
import { medianRun } from './median.js';
import { runPhases } from './phases.js';
import { CpuMeter, type CpuPerOperation } from './process-cpu.js';
import { type ReplicaWaits, ServerWaitsMeter } from './server-waits.js';
import type { BenchShape } from './shape.js';
import type { BenchTarget, SlowBackup } from './target.js';
import { createCallers, type Mismatch, UnderstudyLoad, watchWrites } from './understudy-load.js';
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
  readonly onPhaseEnd?: (phase: string, result: MeasuredRunReport) => void;
  /** Stops the run under way and skips the rest. */
  readonly signal?: AbortSignal;
}

export interface RunReport extends LoopResult {
  /** Answers that disagreed with what the bench wrote, during this run. */
  readonly mismatches: number;
}

/**
 * A run of `bench` proper, with what each operation cost in CPU (process-cpu.ts) and, where the bench
 * knows the replicas' admin ports, where its writes waited (server-waits.ts).
 */
export interface MeasuredRunReport extends RunReport {
  /** Null when a process could not be read (not Linux) or nothing completed. */
  readonly cpu: CpuPerOperation | null;
  /**
   * Each replica's fsyncs and answered writes in the run, of those whose /metrics were read before
   * and after it (a cluster the bench started, or --replica-admins); null with no admin port to read.
   */
  readonly waits: readonly ReplicaWaits[] | null;
}

export interface BenchReport {
  readonly scenario: 'load';
  readonly coordinator: string;
  /** Replicas the bench started itself, or null for a running cluster. */
  readonly startedReplicas: number | null;
  /** A started replica whose fsyncs were slowed (--slow-backup-fsync-ms), or null. */
  readonly slowBackup: SlowBackup | null;
  readonly keyPrefix: string;
  readonly shape: BenchShape;
  readonly warmup: MeasuredRunReport | null;
  readonly runs: readonly MeasuredRunReport[];
  /** The median run by throughput (see median.ts), with its number (1-based). */
  readonly median: MeasuredRunReport & { readonly run: number };
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

/** What a load session needs: where, the load shape, and the deadline of each call. */
export interface SessionOptions {
  readonly shape: BenchShape;
  /** Deadline of each call, retries included, in milliseconds. */
  readonly timeoutMs: number;
  /** See BenchOptions.callers. */
  readonly callers?: readonly CallerKeys[];
  /** Told of every acknowledged write, as its answer arrives (the failover scenario's clock). */
  readonly onWrite?: (reply: WriteMetadata) => void;
}

/** What LoadSession.prefill did. */
export interface PrefillReport {
  /** Calls answered. */
  readonly calls: number;
  readonly seconds: number;
  readonly errors: number;
  readonly errorsByCode: Readonly<Record<string, number>>;
}

/** How one phase of closed loop reports and ends. */
export interface PhaseHooks {
  readonly onSecond?: (second: SecondReport) => void;
  /** Closes the phase's window early. */
  readonly signal?: AbortSignal;
}

/**
 * The clients and callers of one bench against a target, kept across its phases: every scenario
 * (the runs of `bench`, the failover trials, the steady run) loads the cluster through one of these.
 * close() closes the clients; the target belongs to the caller.
 */
export class LoadSession {
  private constructor(
    readonly load: UnderstudyLoad,
    private readonly clients: readonly Client[],
    private readonly connect: () => Promise<Client>,
  ) {}

  static async open(target: BenchTarget, options: SessionOptions): Promise<LoadSession> {
    const { shape, onWrite } = options;
    const callers = options.callers ?? createCallers(shape, newKeyPrefix());
    const connect = () =>
      Client.connect({
        coordinator: target.coordinator,
        clusterId: target.clusterId,
        deadlineMs: options.timeoutMs,
        attemptTimeoutMs: Math.min(ATTEMPT_TIMEOUT_MS_DEFAULT, options.timeoutMs),
        ...(target.tls === undefined ? {} : { tls: target.tls }),
        ...(target.token === undefined ? {} : { token: target.token }),
      });
    const clients: Client[] = [];
    try {
      for (let k = 0; k < (shape.sharedClient ? 1 : shape.clients); k++) clients.push(await connect());
    } catch (error) {
      await Promise.all(clients.map((client) => client.close()));
      throw error;
    }
    const loadClients =
      onWrite === undefined ? clients : clients.map((client) => watchWrites(client, onWrite));
    return new LoadSession(new UnderstudyLoad(shape, loadClients, callers), clients, connect);
  }

  get keyPrefix(): string {
    return this.load.callers[0]?.prefix ?? '';
  }

  /** One window of closed loop over the session's callers, with the mismatches it saw. */
  async runPhase(seconds: number, hooks: PhaseHooks = {}): Promise<RunReport> {
    const mismatchesBefore = this.load.mismatches.count;
    const result = await runClosedLoop({
      callers: this.load.callerCount,
      durationMs: seconds * 1000,
      call: this.load.call,
      ...(hooks.onSecond === undefined ? {} : { onSecond: hooks.onSecond }),
      ...(hooks.signal === undefined ? {} : { signal: hooks.signal }),
    });
    return { ...result, mismatches: this.load.mismatches.count - mismatchesBefore };
  }

  /**
   * Takes every caller through each of its keys with every kind of the mix, so that the state holds
   * every key the load touches: a long run after it measures a cluster at its working size, not one
   * filling up. Not a measured phase: its calls are counted, failed ones by code, and that is all.
   */
  async prefill(signal?: AbortSignal): Promise<PrefillReport> {
    const failures = new FailureCount();
    const started = performance.now();
    let calls = 0;
    const caller = async (index: number): Promise<void> => {
      const total = this.load.callsToCoverKeys(index);
      for (let call = 0; call < total && signal?.aborted !== true; call++) {
        try {
          await this.load.call(index);
          calls += 1;
        } catch (error) {
          failures.add(error);
        }
      }
    };
    await Promise.all(Array.from({ length: this.load.callerCount }, (_, index) => caller(index)));
    return {
      calls,
      seconds: Math.round(performance.now() - started) / 1000,
      errors: failures.total,
      errorsByCode: failures.toJSON(),
    };
  }

  /** Every key written so far, read back at the primary through a client of its own (verify.ts). */
  async verify(): Promise<VerifyReport> {
    const reader = await this.connect();
    try {
      return await verifyKeys(this.load.callers, readKeyThrough(reader));
    } finally {
      await reader.close();
    }
  }

  get mismatches(): BenchReport['mismatches'] {
    return { count: this.load.mismatches.count, first: this.load.mismatches.first };
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.close()));
  }
}

export async function runBench(target: BenchTarget, options: BenchOptions): Promise<BenchReport> {
  const { shape } = options;
  const session = await LoadSession.open(target, options);
  const meter = new CpuMeter(() => target.processes());
  const waitsMeter = new ServerWaitsMeter(() => target.replicaAdmins(), target.fetchMetrics);
  try {
    const runPhase = async (phase: string, seconds: number): Promise<MeasuredRunReport> => {
      // The replicas' readings outside the CPU's, so that serving them is not counted as the writes'.
      const report = await waitsMeter.measure(() =>
        meter.measure(() =>
          session.runPhase(seconds, {
            ...(options.onSecond === undefined
              ? {}
              : { onSecond: (second: SecondReport) => options.onSecond?.(phase, second) }),
            ...(options.signal === undefined ? {} : { signal: options.signal }),
          }),
        ),
      );
      options.onPhaseEnd?.(phase, report);
      return report;
    };

    const { warmup, runs } = await runPhases(
      { ...shape, ...(options.signal === undefined ? {} : { signal: options.signal }) },
      runPhase,
    );
    if (runs.length === 0) throw new BenchInterruptedError('interrupted before the first run');
    const median = medianRun(runs);
    const verify = options.verify && options.signal?.aborted !== true ? await session.verify() : null;
    return {
      scenario: 'load',
      coordinator: target.coordinator,
      startedReplicas: target.startedReplicas,
      slowBackup: target.slowBackup,
      keyPrefix: session.keyPrefix,
      shape,
      warmup,
      runs,
      median: { ...median, run: runs.indexOf(median) + 1 },
      mismatches: session.mismatches,
      verify,
      interrupted: options.signal?.aborted === true,
    };
  } finally {
    await session.close();
  }
}
