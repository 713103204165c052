// What the pure core asks its shell to do: storage operations (in list order), messages and
// replies. Acknowledgements that promise durability (PrepareOk, async replies) are only produced
// after the shell has reported the fsync through `durable()`, so a shell can send every message as
// soon as it has one, before the same batch's storage operations run; the node's shell does, so that
// a primary's Prepares leave before its own log write.

import { BASE_FORMAT_LEVEL } from './format-level.js';
import type { ClientReply, CoordinatorToReplica, Heartbeat, LostEntry, PeerMessage } from './messages.js';
import type { SnapshotEncoding } from './state-machine.js';
import type {
  ConnectionId,
  Entry,
  LogIndex,
  LogPosition,
  ReplicaId,
  ReplicaIdentity,
  SnapshotInfo,
  View,
} from './types.js';
import type { ViewTransition } from './view-change.js';

/**
 * Log operations run in list order. Snapshot operations run one at a time, in order among
 * themselves; each reports back: `snapshot` through `snapshotWritten`, `keep-snapshot` through
 * `snapshotKept`. `compact` comes only after the snapshot it relies on was reported kept.
 */
export type StorageOperation =
  | { readonly kind: 'append'; readonly entries: readonly Entry[] }
  | { readonly kind: 'truncate'; readonly afterIndex: LogIndex }
  /**
   * Write the snapshot aside (a temporary file, fsynced); it is not yet the replica's snapshot. The
   * payload is the state at `position`, still to be encoded: run its slices between other work.
   */
  | { readonly kind: 'snapshot'; readonly position: LogPosition; readonly payload: SnapshotEncoding }
  /**
   * The snapshot written aside is committed: make it the newest kept snapshot (rename, fsync). Of the
   * older ones keep the one before it, and those at `retained` (a follower is receiving them).
   */
  | {
      readonly kind: 'keep-snapshot';
      readonly position: LogPosition;
      readonly retained: readonly LogPosition[];
    }
  /** The log up to `throughIndex` is covered by a kept snapshot: whole segments there may go. */
  | { readonly kind: 'compact'; readonly throughIndex: LogIndex }
  /** An installed snapshot replaced the log: drop all of it; it continues after `position`. */
  | { readonly kind: 'reset'; readonly position: LogPosition }
  /**
   * The async writes this replica discarded and has not yet seen on the loss record: the whole list,
   * replacing the one kept before. Durable before the next operation runs, so a truncation or reset
   * that discards a write never reaches the disk before the note that it may be lost does.
   */
  | { readonly kind: 'unreported-losses'; readonly entries: readonly LostEntry[] };

/** Fetch this snapshot from `from` (resuming a partial copy of it), then call `installSnapshot`. */
export interface TransferRequest {
  readonly from: ReplicaId;
  readonly snapshot: SnapshotInfo;
}

export interface ReplicaEffects {
  readonly storage: StorageOperation[];
  readonly peerMessages: { readonly to: ReplicaId; readonly message: PeerMessage }[];
  readonly heartbeats: Heartbeat[];
  readonly replies: { readonly connection: ConnectionId; readonly reply: ClientReply }[];
  readonly transfers: TransferRequest[];
}

/** A view with the identity each of its members had when the coordinator installed it. */
export interface ViewRecord {
  readonly view: View;
  readonly identities: Readonly<Record<string, ReplicaIdentity>>;
}

/** What the coordinator keeps on disk. */
export interface CoordinatorState {
  /** The current view; null before the first one forms. */
  readonly current: ViewRecord | null;
  /** The primary of the current view acknowledged it: only then may it hold a lease and create entries. */
  readonly acknowledged: boolean;
  /**
   * The last view whose primary acknowledged it. Views after it created no entry and answered no
   * client, so every member of it still holds every committed entry and stays a candidate.
   */
  readonly lastAcknowledged: ViewRecord | null;
  /**
   * The format level the cluster logs at (format-level.ts): raised once every member of the view
   * reads more, never lowered, so a replica that reads less never rejoins a log it could not read.
   */
  readonly formatLevel: number;
}

export const emptyCoordinatorState: CoordinatorState = {
  current: null,
  acknowledged: false,
  lastAcknowledged: null,
  formatLevel: BASE_FORMAT_LEVEL,
};

/** What became of `understudy forget` (Coordinator.forgetReplica): done, or refused with why. */
export interface ForgetOutcome {
  readonly ok: boolean;
  readonly message: string;
}

/** How a planned switchover (Coordinator.requestSwitchover) ended. */
export interface SwitchoverOutcome {
  readonly to: ReplicaId;
  readonly ok: boolean;
  /** What happened, for the operator: on failure, why and what to do. */
  readonly message: string;
  /** The current view when it ended. */
  readonly view: View | null;
}

export interface CoordinatorEffects {
  /** State to store durably before any message of this batch leaves. */
  readonly save: CoordinatorState | null;
  readonly messages: { readonly to: ReplicaId; readonly message: CoordinatorToReplica }[];
  /** Switchovers that ended in this batch. */
  readonly switchovers: SwitchoverOutcome[];
  /** Views installed in this batch, each with why (the shell logs them). */
  readonly viewChanges: ViewTransition[];
  /** The cluster's format level, when this batch raised it (the shell logs it). */
  readonly formatLevelRaised: { readonly from: number; readonly to: number } | null;
  /** Replica processes first heard in this batch that read less than the cluster's format level: kept out. */
  readonly formatRefusals: { readonly id: ReplicaId; readonly reason: string }[];
}

export function emptyReplicaEffects(): ReplicaEffects {
  return { storage: [], peerMessages: [], heartbeats: [], replies: [], transfers: [] };
}
