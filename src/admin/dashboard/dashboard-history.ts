// What the dashboard remembers: the last few minutes of samples (commit throughput, write latency)
// and a timeline of view changes, both bounded (the oldest go first). It is fed inspections of the
// coordinator and the times they were taken; it reads no clock and does no I/O, so tests drive it
// with made-up inspections.
//
// A view change is told apart by the coordinator's own counters: `primariesReplaced` moves on a
// failover, `switchoversDone` on a planned switchover; a new view with neither is the cluster's
// first or a reconfiguration. Throughput is the primary's commit index over monotonic time.

import type { CoordinatorInspection } from '../../node/coordinator-server.js';
import type { DashboardLimits } from './dashboard-limits.js';
import type { DashboardSample, TimelineEvent, ViewChangeKind } from './dashboard-state.js';
import { dashboardView, primaryCommitIndex } from './dashboard-status.js';
import type { WriteLatency } from './write-latency-scraper.js';

interface SeenView {
  readonly number: number;
  readonly primary: string | null;
  readonly failovers: number;
  readonly switchovers: number;
}

export class DashboardHistory {
  private readonly kept: DashboardSample[] = [];
  private readonly events: TimelineEvent[] = [];
  private seen: SeenView;
  private lastCommit: { readonly index: number; readonly monotonicMs: number } | null = null;

  /** `initial`: the coordinator when the dashboard starts; a view it already has is `current`. */
  constructor(
    private readonly limits: Pick<DashboardLimits, 'samplesMax' | 'timelineEventsMax'>,
    atMs: number,
    initial: CoordinatorInspection,
  ) {
    this.seen = {
      number: 0,
      primary: null,
      failovers: initial.primariesReplaced,
      switchovers: initial.switchoversDone,
    };
    this.noteView(atMs, initial, 'current');
  }

  get samples(): readonly DashboardSample[] {
    return this.kept;
  }

  get timeline(): readonly TimelineEvent[] {
    return this.events;
  }

  /**
   * The coordinator's view now: a timeline event if its number differs from the last one seen, else
   * null. `kindOfNew` names a view whose change the counters do not explain (at start: `current`).
   */
  noteView(
    atMs: number,
    inspection: CoordinatorInspection,
    kindOfNew: ViewChangeKind = 'first',
  ): TimelineEvent | null {
    const view = inspection.status.view;
    if (view === null || view.number === this.seen.number) return null;
    const previous = this.seen;
    this.seen = {
      number: view.number,
      primary: view.primary,
      failovers: inspection.primariesReplaced,
      switchovers: inspection.switchoversDone,
    };
    const kind: ViewChangeKind =
      inspection.primariesReplaced > previous.failovers
        ? 'failover'
        : inspection.switchoversDone > previous.switchovers
          ? 'switchover'
          : previous.primary === null
            ? kindOfNew
            : 'reconfiguration';
    const event: TimelineEvent = {
      at: atMs,
      kind,
      view: dashboardView(view),
      previousPrimary: previous.primary,
    };
    push(this.events, event, this.limits.timelineEventsMax);
    return event;
  }

  /** The interval that ends now: committed entries per second and the write latency scraped for it. */
  addSample(
    atMs: number,
    monotonicMs: number,
    inspection: CoordinatorInspection,
    latency: WriteLatency | null,
  ): DashboardSample {
    const index = primaryCommitIndex(inspection);
    const last = this.lastCommit;
    const seconds = last === null ? 0 : (monotonicMs - last.monotonicMs) / 1000;
    // No rate across a gap: no primary, or a new one whose report is still behind its predecessor's.
    const committedPerSecond =
      index === null || last === null || index < last.index || seconds <= 0
        ? null
        : (index - last.index) / seconds;
    this.lastCommit = index === null ? null : { index, monotonicMs };
    const sample: DashboardSample = {
      at: atMs,
      committedPerSecond,
      writes: latency?.count ?? null,
      writeP50Ms: latency?.p50Ms ?? null,
      writeP99Ms: latency?.p99Ms ?? null,
    };
    push(this.kept, sample, this.limits.samplesMax);
    return sample;
  }
}

function push<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}
