// The failover scenario (issue 8, item 4). Under a closed loop of sync writes, trial after trial:
// kill -9 the primary (SIGKILL to its process id) and time how long until a write is acknowledged
// in a later view, that is by the new primary; then restart the killed replica from its data
// directory, wait until the view holds every replica again and has acknowledged a write, and go on.
//
//   whole view V, writes acked in V
//     │ kill -9 of V's primary                      ┐
//     ▼                                             │ failover time
//   first write acked in a view > V                 ┘
//     │ restart of the killed replica (same data)   ┐
//     ▼                                             │ rejoin time
//   whole view W (every replica primary or backup)  ┘
//     │ a write acked in W: the cluster serves writes again
//     ▼
//   next trial
//
// The clients retry on their own (the bench only watches their answers, watchWrites), so the time
// is what an application sees: failure detection, the lease wait, the view change, the client
// finding the new primary and its retry back-off. Times are the bench's monotonic clock
// (process.hrtime), from just before the SIGKILL to when the first such answer reached a client. An
// answer counts only if its view is later than the one whose primary was killed, so an answer the
// old primary sent before it died cannot end the failover. At the end every key written is read back
// at the primary: an acknowledged write missing there is a mismatch.

import { Client, type WriteMetadata } from '../client/index.js';
import type { View } from '../protocol/types.js';
import { type MeasuredCluster, waitForWholeView } from '../tools/measure-cluster.js';
import { BenchInterruptedError, type BenchReport, LoadSession, type RunReport } from './run.js';
import {
  type DurationSummary,
  FAILOVER_FIRST_WRITE_TIMEOUT_MS,
  FAILOVER_TRIAL_LOAD_MS_MAX,
  type LoadShape,
  loadShapeOf,
  summarizeDurations,
} from './scenario.js';
import type { BenchShape } from './shape.js';
import type { LocalBenchTarget } from './target.js';
import type { VerifyReport } from './verify.js';

export interface FailoverOptions {
  /** The load; its durability must be sync or replicated (a failover keeps both) and its mix must hold a write. */
  readonly shape: BenchShape;
  readonly trials: number;
  /** Deadline of each call, retries included, in milliseconds. */
  readonly timeoutMs: number;
  /** Ends the scenario after the trial under way; what was measured is reported. */
  readonly signal?: AbortSignal;
  /** Told what the scenario is doing, for a progress line. */
  readonly onNote?: (text: string) => void;
}

export interface FailoverTrial {
  /** 1-based. */
  readonly trial: number;
  /** The primary killed, and the view it led. */
  readonly killed: string;
  readonly viewKilled: number;
  /** The view that acknowledged the first write after the kill, and its primary (null if unseen). */
  readonly viewAfter: number;
  readonly newPrimary: string | null;
  /** From just before the SIGKILL to the first write acknowledged in a later view. */
  readonly failoverMs: number;
  /** From the restart of the killed replica to a view holding every replica again. */
  readonly rejoinMs: number;
  /** That whole view. */
  readonly viewRejoined: number;
  /** From that whole view to the first write it acknowledged: the cluster serves writes again. */
  readonly servedAfterRejoinMs: number;
}

export interface FailoverReport {
  readonly scenario: 'failover';
  readonly coordinator: string;
  readonly startedReplicas: number;
  readonly keyPrefix: string;
  readonly shape: LoadShape;
  readonly trialsRequested: number;
  readonly trials: readonly FailoverTrial[];
  /** Over the trials, by nearest rank; null with no trial done. */
  readonly failoverMs: DurationSummary | null;
  readonly rejoinMs: DurationSummary | null;
  /** The load through every trial: its calls, latency and errors by code (failed calls were retried until their deadline). */
  readonly load: RunReport;
  readonly mismatches: BenchReport['mismatches'];
  /** The read-back of every key written; null only when interrupted. */
  readonly verify: VerifyReport | null;
  /** True if a signal cut the scenario short (fewer trials than asked). */
  readonly interrupted: boolean;
}

interface Acknowledgement {
  readonly view: number;
  /** process.hrtime.bigint() when the answer reached the client. */
  readonly at: bigint;
}

interface AcknowledgementWaiter {
  readonly minView: number;
  readonly resolve: (acknowledgement: Acknowledgement) => void;
}

/** The sync (or replicated) writes acknowledged during the scenario: when each view first acknowledged one. */
export class AcknowledgedWrites {
  private readonly firstByView = new Map<number, bigint>();
  private readonly waiters = new Set<AcknowledgementWaiter>();

  /** For watchWrites: one acknowledged write. */
  readonly record = (reply: WriteMetadata): void => {
    if (reply.durability === 'async') return; // a failover may lose it: it proves nothing
    const at = process.hrtime.bigint();
    if (!this.firstByView.has(reply.view)) this.firstByView.set(reply.view, at);
    for (const waiter of this.waiters) {
      if (reply.view >= waiter.minView) waiter.resolve({ view: reply.view, at });
    }
  };

  /** The earliest write acknowledged in view `minView` or later: one already seen, or the next. */
  first(minView: number, what: string, signal?: AbortSignal): Promise<Acknowledgement> {
    let earliest: Acknowledgement | null = null;
    for (const [view, at] of this.firstByView) {
      if (view >= minView && (earliest === null || at < earliest.at)) earliest = { view, at };
    }
    if (earliest !== null) return Promise.resolve(earliest);
    return new Promise((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: AcknowledgementWaiter = {
        minView,
        resolve: (acknowledgement) => {
          settle();
          resolve(acknowledgement);
        },
      };
      const timer = setTimeout(() => {
        settle();
        reject(
          new Error(
            `no write was acknowledged in view ${minView} or later within ${FAILOVER_FIRST_WRITE_TIMEOUT_MS} ms ${what}`,
          ),
        );
      }, FAILOVER_FIRST_WRITE_TIMEOUT_MS);
      const onAbort = () => {
        settle();
        reject(new BenchInterruptedError(`interrupted while waiting for a write ${what}`));
      };
      this.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted === true) onAbort();
    });
  }
}

/** The view once it holds every replica of the cluster as primary or backup. */
async function wholeView(observer: Client, cluster: MeasuredCluster): Promise<View> {
  const status = await waitForWholeView(observer, cluster);
  if (status.view === null) throw new Error('a whole view without a view');
  return status.view;
}

/** Milliseconds between two process.hrtime.bigint() readings, to the microsecond. */
const elapsedMs = (from: bigint, to: bigint): number => Math.round(Number(to - from) / 1000) / 1000;

export async function runFailover(
  target: LocalBenchTarget,
  options: FailoverOptions,
): Promise<FailoverReport> {
  const { cluster } = target;
  const { signal } = options;
  const note = options.onNote ?? (() => {});
  const acknowledged = new AcknowledgedWrites();
  const session = await LoadSession.open(target, { ...options, onWrite: acknowledged.record });
  try {
    const observer = await Client.connect({ coordinator: target.coordinator, clusterId: target.clusterId });
    try {
      const trialsDone = new AbortController();
      const loadSignal =
        signal === undefined ? trialsDone.signal : AbortSignal.any([trialsDone.signal, signal]);
      const loadRun = session.runPhase((options.trials * FAILOVER_TRIAL_LOAD_MS_MAX) / 1000, {
        signal: loadSignal,
      });

      /** One trial, from a whole view that acknowledged a write to another one that did. */
      const runTrial = async (trial: number): Promise<FailoverTrial> => {
        const before = await wholeView(observer, cluster);
        await acknowledged.first(before.number, `in view ${before.number} before trial ${trial}`, signal);
        const killed = before.primary;
        note(`trial ${trial}/${options.trials}: kill -9 of the primary ${killed} (view ${before.number})`);
        const killedAt = process.hrtime.bigint();
        await cluster.replica(killed).kill();
        const first = await acknowledged.first(
          before.number + 1,
          `after the kill of ${killed}, the primary of view ${before.number}`,
          signal,
        );
        if (first.at < killedAt) {
          // The status was stale: a newer view existed at the kill, so what was killed was not its primary.
          throw new Error(
            `trial ${trial}: view ${first.view} acknowledged a write before the kill of ${killed}`,
          );
        }
        const failoverMs = elapsedMs(killedAt, first.at);
        const status = await observer.status();
        const newPrimary = status.view?.number === first.view ? status.view.primary : null;
        note(
          `trial ${trial}/${options.trials}: ${failoverMs} ms to a write in view ${first.view}; restarting ${killed}`,
        );
        const restartedAt = process.hrtime.bigint();
        await cluster.replica(killed).start();
        const rejoined = await wholeView(observer, cluster);
        const rejoinedAt = process.hrtime.bigint();
        const rejoinMs = elapsedMs(restartedAt, rejoinedAt);
        const served = await acknowledged.first(
          rejoined.number,
          `in view ${rejoined.number} after ${killed} rejoined`,
          signal,
        );
        return {
          trial,
          killed,
          viewKilled: before.number,
          viewAfter: first.view,
          newPrimary,
          failoverMs,
          rejoinMs,
          viewRejoined: rejoined.number,
          // A write of the whole view may have been answered before the status that showed it.
          servedAfterRejoinMs: Math.max(0, elapsedMs(rejoinedAt, served.at)),
        };
      };

      const trials: FailoverTrial[] = [];
      let failure: unknown = null;
      try {
        for (let trial = 1; trial <= options.trials && signal?.aborted !== true; trial++) {
          trials.push(await runTrial(trial));
        }
      } catch (error) {
        if (!(error instanceof BenchInterruptedError)) failure = error;
      } finally {
        trialsDone.abort();
      }
      const load = await loadRun;
      if (failure !== null) throw failure;
      const interrupted = signal?.aborted === true;
      if (trials.length === 0 && interrupted)
        throw new BenchInterruptedError('interrupted before the first trial');
      note('reading back every key written');
      const verify = interrupted ? null : await session.verify();
      return {
        scenario: 'failover',
        coordinator: target.coordinator,
        startedReplicas: target.startedReplicas,
        keyPrefix: session.keyPrefix,
        shape: loadShapeOf(options.shape),
        trialsRequested: options.trials,
        trials,
        failoverMs: summarizeDurations(trials.map((trial) => trial.failoverMs)),
        rejoinMs: summarizeDurations(trials.map((trial) => trial.rejoinMs)),
        load,
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
