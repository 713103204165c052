// The steady scenario (issue 8, items 4 and 5): one long run of the normal load (10 minutes by
// default) with no fault at all, which must leave no trace in the cluster's membership or memory.
// Before it, every key the load touches is written (LoadSession.prefill), so the run starts with
// the state at its working size: a put-only load then replaces values of one size, and memory that
// grows is the servers' own, not the data's. A mix with appends grows its values by design.
// - view changes: the coordinator's view at the start and at the end of the run, and every view
//   seen by asking it four times a second. Each view the coordinator installs is numbered above the
//   last, so the difference of the two numbers counts its view changes; with nothing failing, any
//   is needless, and the target is 0. Why the coordinator did not count a replica as alive when it
//   was asked (no heartbeat, a stalled fsync, ...) is counted by kind, to say where they come from,
//   and each process's stall warnings during the run (stall-watch.ts: it did not run for 150 ms or
//   more) say which process stood still, if one did;
// - memory: each replica's resident memory, sampled once a second by its process id, the first
//   minute's peak against the last minute's (memory.ts states the rule).
// The verdicts are reported, not turned into an exit status: a timing on a shared machine is a
// measurement, not a test. The answers and, with --verify, the read-back are checked as in any run.

import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '../client/index.js';
import { STALL_MESSAGE } from '../node/stall-watch.js';
import type { StatusReply } from '../protocol/messages.js';
import type { View } from '../protocol/types.js';
import { type MeasuredCluster, waitForWholeView } from '../tools/measure-cluster.js';
import type { SecondReport } from './closed-loop.js';
import {
  RESIDENT_GROWTH_RULE,
  RESIDENT_SAMPLE_INTERVAL_MS,
  type ReplicaMemory,
  ResidentMemorySampler,
} from './memory.js';
import {
  BenchInterruptedError,
  type BenchReport,
  LoadSession,
  type PrefillReport,
  type RunReport,
} from './run.js';
import type { BenchShape } from './shape.js';
import type { LocalBenchTarget } from './target.js';
import type { VerifyReport } from './verify.js';

/** How often the coordinator is asked for its view during the run. */
export const VIEW_POLL_INTERVAL_MS = 250;
/** How many of the replica problems seen are kept with their details; beyond it they are counted. */
export const PROBLEM_DETAILS_MAX = 20;

export interface SteadyOptions {
  /** The load; `durationSeconds` is the run's length, `warmupSeconds` the load before it. */
  readonly shape: BenchShape;
  /** Deadline of each call, retries included, in milliseconds. */
  readonly timeoutMs: number;
  readonly verify: boolean;
  /** Closes the run early; what was measured is reported. */
  readonly signal?: AbortSignal;
  readonly onSecond?: (phase: string, second: SecondReport) => void;
  readonly onPhaseEnd?: (phase: string) => void;
  /** Told what the scenario is doing between phases, for a progress line. */
  readonly onNote?: (text: string) => void;
}

export interface ViewChanges {
  readonly atStart: View;
  /** Null if the coordinator did not answer at the end. */
  readonly atEnd: View | null;
  /** atEnd.number − atStart.number: the views the coordinator installed during the run. */
  readonly changes: number | null;
  /** Every distinct view seen, asking once a second, in order (the first is atStart, the last atEnd). */
  readonly seen: readonly View[];
  /** Times the coordinator was asked, and times it did not answer. */
  readonly polls: number;
  readonly unansweredPolls: number;
  /** Replicas the coordinator did not count as alive when asked: each time, by kind of problem. */
  readonly problems: ProblemsSeen;
}

export interface ProblemSeen {
  /** Since the run started. */
  readonly atMs: number;
  readonly view: number;
  readonly replica: string;
  /** As the coordinator says it (ReplicaStatus.problem). */
  readonly problem: string;
}

export interface ProblemsSeen {
  readonly count: number;
  /** The problem with its numbers replaced by N ("no heartbeat for N ms"), and how often it was seen. */
  readonly byKind: Readonly<Record<string, number>>;
  readonly first: readonly ProblemSeen[];
}

/** The stall warnings one process logged during the run. */
export interface ProcessStalls {
  /** "coordinator", "r1", ... */
  readonly process: string;
  readonly count: number;
  /** The longest, in milliseconds (0 if none). */
  readonly longestMs: number;
}

export interface MemoryReport {
  readonly rule: string;
  readonly sampleIntervalMs: number;
  /** The length of the first and the last window compared. */
  readonly windowMs: number;
  /** True if any replica's memory grew by the rule; null if some replica could not be judged. */
  readonly grew: boolean | null;
  readonly replicas: readonly ReplicaMemory[];
}

export interface SteadyReport {
  readonly scenario: 'steady';
  readonly coordinator: string;
  readonly startedReplicas: number;
  readonly keyPrefix: string;
  readonly shape: BenchShape;
  /** Every key written before the run, not measured. */
  readonly prefill: PrefillReport;
  readonly warmup: RunReport | null;
  readonly run: RunReport;
  readonly views: ViewChanges;
  /** Every process of the cluster, stalls or none. */
  readonly stalls: readonly ProcessStalls[];
  readonly memory: MemoryReport;
  readonly mismatches: BenchReport['mismatches'];
  readonly verify: VerifyReport | null;
  /** True if a signal closed the run before its time. */
  readonly interrupted: boolean;
}

/** Asks the coordinator for its view until stop(), keeping each distinct view and the problems it names. */
class ViewPoller {
  readonly seen: View[];
  polls = 0;
  unanswered = 0;
  private problemCount = 0;
  private readonly problemsByKind = new Map<string, number>();
  private readonly firstProblems: ProblemSeen[] = [];
  private readonly stopped = new AbortController();
  private readonly startedAt = performance.now();
  private polling: Promise<void> = Promise.resolve();

  constructor(
    private readonly observer: Client,
    first: View,
  ) {
    this.seen = [first];
  }

  start(): void {
    this.polling = this.poll();
  }

  async stop(): Promise<void> {
    this.stopped.abort();
    await this.polling;
  }

  get problems(): ProblemsSeen {
    return {
      count: this.problemCount,
      byKind: Object.fromEntries(this.problemsByKind),
      first: this.firstProblems,
    };
  }

  private async poll(): Promise<void> {
    while (!this.stopped.signal.aborted) {
      await sleep(VIEW_POLL_INTERVAL_MS, undefined, { signal: this.stopped.signal }).catch(() => {});
      if (this.stopped.signal.aborted) return;
      this.polls += 1;
      let status: StatusReply;
      try {
        status = await this.observer.status();
      } catch {
        this.unanswered += 1;
        continue;
      }
      const view = status.view;
      if (view !== null && view.number !== this.seen.at(-1)?.number) this.seen.push(view);
      for (const replica of status.replicas) {
        if (replica.problem === null) continue;
        this.problemCount += 1;
        const kind = replica.problem.replace(/\d+(\.\d+)?/g, 'N');
        this.problemsByKind.set(kind, (this.problemsByKind.get(kind) ?? 0) + 1);
        if (this.firstProblems.length < PROBLEM_DETAILS_MAX) {
          this.firstProblems.push({
            atMs: Math.round(performance.now() - this.startedAt),
            view: view?.number ?? 0,
            replica: replica.id,
            problem: replica.problem,
          });
        }
      }
    }
  }
}

/** The stall warnings each process of the cluster has logged so far, by process. */
function stallLines(cluster: MeasuredCluster): Map<string, Record<string, unknown>[]> {
  return new Map(
    cluster.processes().map(({ name }) => [name, cluster.logLines(name, STALL_MESSAGE)] as const),
  );
}

/** The warnings logged since `before`, process by process. */
function stallsSince(
  cluster: MeasuredCluster,
  before: ReadonlyMap<string, readonly unknown[]>,
): ProcessStalls[] {
  return [...stallLines(cluster)].map(([process, lines]) => {
    const during = lines.slice(before.get(process)?.length ?? 0);
    const longestMs = Math.max(0, ...during.map((line) => Number(line.stalledMs) || 0));
    return { process, count: during.length, longestMs };
  });
}

export async function runSteady(target: LocalBenchTarget, options: SteadyOptions): Promise<SteadyReport> {
  const { cluster } = target;
  const { shape, signal } = options;
  const interruptedNow = () => signal?.aborted === true; // a function: the signal changes under awaits
  const session = await LoadSession.open(target, options);
  try {
    const observer = await Client.connect({ coordinator: target.coordinator, clusterId: target.clusterId });
    try {
      const runPhase = async (phase: string, seconds: number): Promise<RunReport> => {
        const report = await session.runPhase(seconds, {
          ...(options.onSecond === undefined
            ? {}
            : { onSecond: (second: SecondReport) => options.onSecond?.(phase, second) }),
          ...(signal === undefined ? {} : { signal }),
        });
        options.onPhaseEnd?.(phase);
        return report;
      };
      options.onNote?.('prefill: every key the load touches, written once');
      const prefill = await session.prefill(signal);
      if (interruptedNow()) throw new BenchInterruptedError('interrupted before the steady run');
      const warmup = shape.warmupSeconds > 0 ? await runPhase('warmup', shape.warmupSeconds) : null;
      if (interruptedNow()) throw new BenchInterruptedError('interrupted before the steady run');
      const atStart = (await waitForWholeView(observer, cluster)).view;
      if (atStart === null) throw new Error('a whole view without a view');

      const poller = new ViewPoller(observer, atStart);
      const sampler = new ResidentMemorySampler(cluster);
      const stallsBefore = stallLines(cluster);
      poller.start();
      sampler.start();
      let memory: ReturnType<ResidentMemorySampler['stop']>;
      let run: RunReport;
      try {
        run = await runPhase('steady run', shape.durationSeconds);
      } finally {
        memory = sampler.stop();
        await poller.stop();
      }
      const stalls = stallsSince(cluster, stallsBefore);
      const atEnd = await observer.status().then(
        (status) => status.view,
        () => null,
      );
      if (atEnd !== null && atEnd.number !== poller.seen.at(-1)?.number) poller.seen.push(atEnd);
      const interrupted = interruptedNow();
      const verify = options.verify && !interrupted ? await session.verify() : null;
      const verdicts = memory.replicas.map((replica) => replica.grew);
      return {
        scenario: 'steady',
        coordinator: target.coordinator,
        startedReplicas: target.startedReplicas,
        keyPrefix: session.keyPrefix,
        shape,
        prefill,
        warmup,
        run,
        views: {
          atStart,
          atEnd,
          changes: atEnd === null ? null : atEnd.number - atStart.number,
          seen: poller.seen,
          polls: poller.polls,
          unansweredPolls: poller.unanswered,
          problems: poller.problems,
        },
        stalls,
        memory: {
          rule: RESIDENT_GROWTH_RULE,
          sampleIntervalMs: RESIDENT_SAMPLE_INTERVAL_MS,
          windowMs: memory.windowMs,
          grew: verdicts.includes(null) ? null : verdicts.includes(true),
          replicas: memory.replicas,
        },
        mismatches: session.mismatches,
        verify,
        interrupted,
      };
    } finally {
      await observer.close();
    }
  } finally {
    await session.close();
  }
}
