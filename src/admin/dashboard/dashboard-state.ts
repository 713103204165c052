// The JSON the dashboard page receives on its event stream: the only contract between the
// coordinator and the page's script (assets/dashboard.js reads exactly these fields). Every message
// carries the cluster's status now; the first one to a page (`full`) also carries every kept sample
// and timeline event, later ones only those added since the message before.

import type { Role } from '../../protocol/types.js';

export interface DashboardReplica {
  readonly id: string;
  readonly address: string;
  /** Where Redis clients dial it (its Redis port, as its heartbeats report it), or null. */
  readonly redisAddress: string | null;
  readonly role: Role;
  /** Whether the coordinator counts it as alive; `problem` says why not. */
  readonly alive: boolean;
  readonly problem: string | null;
  readonly durableIndex: number;
  readonly appliedIndex: number;
  /** Committed entries (by the primary's commit index) not on its disk yet; null with no primary. */
  readonly durableBehind: number | null;
  /** Committed entries its state machine has not applied yet; null with no primary. */
  readonly appliedBehind: number | null;
  /** A snapshot it is receiving. */
  readonly transfer: { readonly receivedBytes: number; readonly totalBytes: number } | null;
}

export interface DashboardView {
  readonly number: number;
  readonly primary: string;
  readonly backups: readonly string[];
  readonly learners: readonly string[];
}

export interface DashboardStatus {
  /** Wall-clock time of this status, ms since the epoch. */
  readonly at: number;
  readonly view: DashboardView | null;
  /** The primary's commit index as it last reported it in a heartbeat; null with no primary. */
  readonly commitIndex: number | null;
  readonly replicas: readonly DashboardReplica[];
  /** Counted since the coordinator process started. */
  readonly viewsInstalled: number;
  readonly failovers: number;
  readonly switchovers: number;
  readonly asyncLost: number;
  /** Why the coordinator does not act (it lost its state), or null. */
  readonly problem: string | null;
  /** Where latency comes from: null when the coordinator was given no replica admin ports. */
  readonly latencySource: LatencySource | null;
}

export interface LatencySource {
  /** Replica admin ports the coordinator reads. */
  readonly addresses: number;
  /** Of those, how many answered the last reading; null before the first (none while no page is open). */
  readonly reachable: number | null;
}

/** One point of the charts: the interval that ended at `at`. */
export interface DashboardSample {
  readonly at: number;
  /** Entries committed per second (from the primary's commit index); null when unknown. */
  readonly committedPerSecond: number | null;
  /** Writes the replicas answered in the interval, and their latency; null when unknown. */
  readonly writes: number | null;
  readonly writeP50Ms: number | null;
  readonly writeP99Ms: number | null;
}

/**
 * `first`: the cluster's first view (or the first after a rebuild); `current`: the view in force when
 * the coordinator started; `failover`: a failed primary replaced; `switchover`: a planned handover;
 * `reconfiguration`: the same primary, with other members (a backup removed, a learner caught up).
 */
export type ViewChangeKind = 'first' | 'current' | 'failover' | 'switchover' | 'reconfiguration';

export interface TimelineEvent {
  readonly at: number;
  readonly kind: ViewChangeKind;
  readonly view: DashboardView;
  readonly previousPrimary: string | null;
}

export interface DashboardMessage {
  readonly full: boolean;
  /** How far apart samples are and how many are kept (the charts' time range), and events kept. */
  readonly sampleIntervalMs: number;
  readonly samplesMax: number;
  readonly timelineEventsMax: number;
  readonly status: DashboardStatus;
  readonly samples: readonly DashboardSample[];
  readonly timeline: readonly TimelineEvent[];
}
