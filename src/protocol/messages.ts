// Every message that crosses a process boundary. Each is a plain object with a `type` tag so the
// codec can stay generic; the transport validates shape before anything here sees a message.

import type { CommitRules } from './config.js';
import type { ServiceIdentity } from './service-identity.js';
import type {
  Address,
  ClientId,
  Durability,
  Entry,
  Epoch,
  LogIndex,
  LogPosition,
  ReplicaId,
  Role,
  SnapshotInfo,
  View,
  ViewNumber,
} from './types.js';

// ---- replica ↔ replica -------------------------------------------------------------------------

/**
 * Primary → backups and learners. `entries` follow `previous` directly; an empty list is a
 * heartbeat that carries the commit index and lets a follower confirm its log matches.
 */
export interface Prepare {
  readonly type: 'prepare';
  readonly view: ViewNumber;
  readonly previous: LogPosition;
  readonly entries: readonly Entry[];
  readonly commitIndex: LogIndex;
  /**
   * The latest `time` this follower sent in a PrepareOk, echoed while the primary holds a lease; -1
   * for none. `commitIndex` then covers every write committed before that moment of the follower's
   * own clock, which bounds how stale a read the follower serves can be.
   */
  readonly echo: number;
}

/**
 * Follower → primary: "my log matches yours and is on disk up to `index`, and in memory up to
 * `received`" (received ≥ index). A follower sends one as soon as it appended a batch holding a
 * `replicated` entry (receipt), and again after the fsync (durability).
 */
export interface PrepareOk {
  readonly type: 'prepare_ok';
  readonly view: ViewNumber;
  readonly index: LogIndex;
  readonly received: LogIndex;
  /** The follower's monotonic clock when it sent this, in its ticks; echoed back in Prepares. */
  readonly time: number;
}

/**
 * Follower → primary: "your Prepare did not follow my log; here is its shape". The primary finds
 * the last position both logs share and resends from there.
 */
export interface SyncRequest {
  readonly type: 'sync';
  readonly view: ViewNumber;
  /** The snapshot the follower's log starts after: everything up to it is committed. */
  readonly base: LogPosition;
  /** The epochs of the entries after `base`. */
  readonly epochs: readonly Epoch[];
  readonly lastIndex: LogIndex;
  /**
   * The highest format level the follower's process reads (format-level.ts): the primary sends it
   * no snapshot and no entries while it reads less than they may hold. A build before format levels
   * sends none, read as UNREPORTED_FORMAT_LEVEL.
   */
  readonly formatLevel: number;
}

/**
 * Primary → a follower that needs entries the primary no longer keeps: fetch this snapshot (the
 * shells stream it in chunks), install it, then sync from there.
 */
export interface SnapshotOffer {
  readonly type: 'snapshot_offer';
  readonly view: ViewNumber;
  readonly snapshot: SnapshotInfo;
}

/** A log entry a replica discarded after a failover, identified for the async loss report. */
export interface LostEntry {
  readonly view: ViewNumber;
  readonly index: LogIndex;
  readonly clientId: ClientId;
  readonly requestNumber: number;
}

/**
 * Follower → primary: async writes this follower had to discard because they fell beyond the new
 * primary's log. Each may have been acknowledged (an async write is answered once its primary's
 * disk has it), so the primary records them in the log. Repeated until the record is applied.
 */
export interface LostReport {
  readonly type: 'lost_report';
  readonly view: ViewNumber;
  readonly entries: readonly LostEntry[];
}

export type PeerMessage = Prepare | PrepareOk | SyncRequest | SnapshotOffer | LostReport;

/** The progress of a snapshot a learner is receiving, for status pages. */
export interface TransferProgress {
  readonly snapshot: SnapshotInfo;
  readonly receivedBytes: number;
  readonly bytesPerSecond: number;
}

// ---- replica ↔ replica, between shells: snapshot transfer ----------------------------------------
// The core only offers a snapshot and installs one; the bytes travel between the shells, which read
// and write the files. A learner asks for one chunk at a time (a few in flight), so a transfer resumes
// from what it already holds and the serving side can pace it.

/** Learner → source: send `length` bytes of this snapshot's file from `offset`. */
export interface SnapshotRead {
  readonly type: 'snapshot_read';
  readonly snapshot: SnapshotInfo;
  readonly offset: number;
  readonly length: number;
}

/** Source → learner: part of the file, with the crc32 of these bytes. */
export interface SnapshotChunk {
  readonly type: 'snapshot_chunk';
  readonly snapshot: SnapshotInfo;
  readonly offset: number;
  readonly bytes: Uint8Array;
  readonly checksum: number;
}

/** Source → learner: that snapshot is no longer kept here (a newer one replaced it). */
export interface SnapshotGone {
  readonly type: 'snapshot_gone';
  readonly snapshot: SnapshotInfo;
}

export type TransferMessage = SnapshotRead | SnapshotChunk | SnapshotGone;

// ---- replica ↔ coordinator ---------------------------------------------------------------------

export interface Heartbeat {
  readonly type: 'heartbeat';
  readonly replicaId: ReplicaId;
  /**
   * Differs each time the replica process starts. A primary that restarted may have lost entries
   * it had already sent, so it must never append again in the view it led before.
   */
  readonly incarnation: number;
  /** The identity of the replica's data directory: a wiped or replaced directory has a new one. */
  readonly directory: string;
  readonly address: Address;
  /** Grows by one per heartbeat of this incarnation; echoed in the reply, so a lease is measured from when this heartbeat left. */
  readonly sequence: number;
  /** The view this replica is in, whole: a coordinator that lost its state learns from these what it must never reissue. */
  readonly view: View | null;
  readonly durable: LogPosition;
  /**
   * The end of this replica's log in memory (≥ durable): what this process holds as long as it does
   * not restart. The coordinator ranks candidates for primary by it: a `replicated` write may be in
   * a backup's memory only. A report of an earlier process of the replica says nothing of the next.
   */
  readonly received: LogPosition;
  readonly commitIndex: LogIndex;
  readonly appliedIndex: LogIndex;
  /**
   * Primary only: it may lead its view. With a commit quorum (`syncQuorum`), only once enough backups
   * of the view hold on disk every entry that may have committed before it (see Replica.leadReady):
   * the coordinator acknowledges the view, and grants a lease in it, only then. Always true otherwise.
   */
  readonly leadReady: boolean;
  /** Ticks since this replica last heard the coordinator: one that hears nothing follows no view and holds no lease. */
  readonly coordinatorSilentTicks: number;
  /** Ticks the oldest write handed to storage has waited for its fsync; 0 when none waits. */
  readonly storageStalledTicks: number;
  /** Primary only: learners that hold every committed entry and are now waited for, found in `view`. */
  readonly syncedLearners: readonly ReplicaId[];
  /** Primary only: backups that stopped acknowledging in `view`. */
  readonly laggingBackups: readonly ReplicaId[];
  /** The snapshot this replica is receiving, or null. */
  readonly transfer: TransferProgress | null;
  /** Async writes the cluster recorded as lost in failovers (replicated state, as applied here). */
  readonly asyncLost: number;
  /** Index of the newest snapshot this replica keeps (0: none). */
  readonly snapshotIndex: LogIndex;
  /** Client sessions in the replicated session table, as applied here. */
  readonly sessions: number;
  /**
   * The highest format level this replica reads (format-level.ts): its build's, or lower with
   * `--format-level`. A build before format levels sends none, read as UNREPORTED_FORMAT_LEVEL.
   */
  readonly formatLevel: number;
  /**
   * The highest format level of what this replica holds: its store's content (the key/value store
   * holds level 2 once it has a scan seed) and its log's entries, applied or not. A coordinator that
   * lost its state learns from it that the cluster logged that level, and keeps out a replica that
   * reads less. Absent: level 1.
   */
  readonly formatLevelHeld: number;
  /**
   * Where Redis clients reach this replica's Redis port (`--resp`), for the coordinator's Sentinel
   * port to name; null when it serves none, or from a build before it was reported (an older build
   * ignores the field, so the protocol version stayed 7).
   */
  readonly redisAddress: Address | null;
}

export interface HeartbeatReply {
  readonly type: 'heartbeat_reply';
  /** The process the heartbeat came from: a lease is for that process only. */
  readonly incarnation: number;
  readonly sequence: number;
  readonly view: View | null;
  /** The process chosen to lead `view` (see ViewChange.primaryIncarnation); null with no view. */
  readonly primaryIncarnation: number | null;
  readonly addresses: Readonly<Record<string, Address>>;
  /** Ticks of lease granted to the primary of `view`, counted from when the heartbeat left; 0 for none. */
  readonly leaseTicks: number;
  /** The cluster's format level: the primary logs nothing above it. A coordinator before format levels sends none (1). */
  readonly formatLevel: number;
}

/** Coordinator → every replica it knows, as soon as a view is stored. */
export interface ViewChange {
  readonly type: 'view_change';
  readonly view: View;
  /**
   * The incarnation of the primary the coordinator chose: a view names the process that leads it.
   * The coordinator may have chosen on a report of an earlier process of that replica, which held in
   * memory what the restarted one lost; the restarted process does not take that view.
   */
  readonly primaryIncarnation: number | null;
  readonly addresses: Readonly<Record<string, Address>>;
}

export type CoordinatorToReplica = HeartbeatReply | ViewChange;

// ---- client ↔ coordinator ----------------------------------------------------------------------

export interface StatusRequest {
  readonly type: 'status_request';
  readonly id: number;
}

export interface ReplicaStatus {
  readonly id: ReplicaId;
  readonly address: Address;
  readonly role: Role;
  readonly alive: boolean;
  readonly durableIndex: LogIndex;
  readonly appliedIndex: LogIndex;
  readonly commitIndex: LogIndex;
  /** Why the coordinator does not count this replica as alive (silent, deaf, disk stalled), or null. */
  readonly problem: string | null;
  /** The snapshot it is receiving, or null. */
  readonly transfer: TransferProgress | null;
  readonly snapshotIndex: LogIndex;
  readonly sessions: number;
  /** The highest format level it reads, as it last reported. */
  readonly formatLevel: number;
  /** Its Redis port's address as it last reported (Heartbeat.redisAddress); null: none known. */
  readonly redisAddress: Address | null;
}

export interface StatusReply {
  readonly type: 'status_reply';
  readonly id: number;
  readonly view: View | null;
  readonly replicas: readonly ReplicaStatus[];
  /** Why the coordinator forms no view and grants no lease (it lost its state), or null. */
  readonly problem: string | null;
  /** Async writes recorded as lost in failovers, as the primary last reported (0 with no primary). */
  readonly asyncLost: number;
  /**
   * Primaries this coordinator process chose among restarted replicas, no replica that held every
   * replicated write being alive to it: replicated writes not yet committed may have been lost then.
   */
  readonly promotionsWithoutHolders: number;
  /** The format level the cluster logs at (format-level.ts); 1 from a coordinator before format levels. */
  readonly formatLevel: number;
  /** The service the cluster runs, as its first replica named it; null before any replica joined. */
  readonly service: ServiceIdentity | null;
}

/** What the coordinator's core knows of the status: all but the service, which its shell records. */
export type CoordinatorStatus = Omit<StatusReply, 'service'>;

/** Hand the primary role to `to`, a backup of the current view (`understudy switchover`). */
export interface SwitchoverRequest {
  readonly type: 'switchover_request';
  readonly id: number;
  readonly to: ReplicaId;
}

/** Sent once the new view is acknowledged by `to`, or the switchover was refused or gave up. */
export interface SwitchoverReply {
  readonly type: 'switchover_reply';
  readonly id: number;
  readonly ok: boolean;
  readonly message: string;
  readonly view: View | null;
}

/**
 * Drop what the coordinator knows of `replica`, taken out of service for good (`understudy forget`).
 * A coordinator from before 2026-12-06 does not know it and closes the connection as bad input.
 */
export interface ForgetRequest {
  readonly type: 'forget_request';
  readonly id: number;
  readonly replica: ReplicaId;
}

/** Done, or refused with why (a member of the view, still heard, not known). */
export interface ForgetReply {
  readonly type: 'forget_reply';
  readonly id: number;
  readonly ok: boolean;
  readonly message: string;
}

// ---- client ↔ replica --------------------------------------------------------------------------

/**
 * What a client asks:
 * - `open-session`: create the session of `clientId` (a logged entry); writes need one;
 * - `write`: execute `operation` once (at most once per request number);
 * - `read`: answer `operation` from the state, at the primary (linearizable) or, with `staleness`,
 *   at any member that meets the bound;
 * - `request-status`: was write `requestNumber` of `clientId` executed, and what did it answer? A
 *   write that has not run is cancelled by the question, so the answer stays true.
 */
export type RequestKind = 'open-session' | 'write' | 'read' | 'request-status';

/** A read any member may serve: one whose state is at most `maxStalenessMs` old and at `minIndex` or later. */
export interface StalenessBound {
  readonly maxStalenessMs: number;
  readonly minIndex: LogIndex;
}

export interface ClientRequest {
  readonly type: 'request';
  /** Chosen by the client to match the reply; unique per connection. */
  readonly id: number;
  readonly kind: RequestKind;
  readonly clientId: ClientId;
  /** Starts at 1 and grows by one per write of this client id; 0 for reads and session opens. */
  readonly requestNumber: number;
  readonly durability: Durability;
  readonly operation: Uint8Array;
  /** Reads only: null reads at the primary; a bound lets any member answer. */
  readonly staleness: StalenessBound | null;
}

export interface ClientSuccess {
  readonly type: 'reply';
  readonly id: number;
  readonly ok: true;
  readonly result: Uint8Array;
  readonly view: ViewNumber;
  /** The entry's log index; for a read, the index the read observed. */
  readonly index: LogIndex;
  readonly durability: Durability;
  /** The replicas known to hold the entry on disk when the reply left. */
  readonly replicas: readonly ReplicaId[];
}

export interface ClientFailure {
  readonly type: 'reply';
  readonly id: number;
  readonly ok: false;
  readonly code: string;
  readonly message: string;
  /** For NOT_PRIMARY: the primary this replica believes in, if any. */
  readonly primary: ReplicaId | null;
}

export type ClientReply = ClientSuccess | ClientFailure;

// ---- client ↔ primary: saving a snapshot (`understudy snapshot save`) ---------------------------
// The client asks the primary for a snapshot that holds every write acknowledged before it asked;
// the primary takes one if its newest kept snapshot is older, and names it once it is kept (so
// committed). The client then reads the file chunk by chunk, as a learner does, over the same
// connection; the primary's shell serves the chunks from its kept files.

/** Client → primary: a snapshot holding every write acknowledged until now. */
export interface SaveRequest {
  readonly type: 'save_request';
  readonly id: number;
}

/** Primary → client: the kept snapshot to read, and the service whose state it holds. */
export interface SaveReady {
  readonly type: 'save_ready';
  readonly id: number;
  readonly snapshot: SnapshotInfo;
  readonly service: ServiceIdentity;
  /** The replica that took it (the primary). */
  readonly replica: ReplicaId;
}

/** Client → replica: `length` bytes of that snapshot's file from `offset`. */
export interface SaveRead {
  readonly type: 'save_read';
  readonly id: number;
  readonly snapshot: SnapshotInfo;
  readonly offset: number;
  readonly length: number;
}

/** Replica → client: part of the file, with the crc32 of these bytes. */
export interface SaveChunk {
  readonly type: 'save_chunk';
  readonly id: number;
  readonly offset: number;
  readonly bytes: Uint8Array;
  readonly checksum: number;
}

/** Replica → client: no snapshot for it (not the primary, no admin token, the file gone). */
export interface SaveRefused {
  readonly type: 'save_refused';
  readonly id: number;
  readonly code: string;
  readonly message: string;
  /** For NOT_PRIMARY: the primary this replica believes in, if any. */
  readonly primary: ReplicaId | null;
}

export type SaveClientMessage = SaveRequest | SaveRead;
export type SaveReply = SaveReady | SaveChunk | SaveRefused;

// ---- handshake ---------------------------------------------------------------------------------

/**
 * Who dialled. A replica names the service it runs, which every replica of a cluster must share, and
 * the commit rules it runs by.
 */
export type PeerKind =
  | { readonly kind: 'client' }
  | {
      readonly kind: 'replica';
      readonly id: ReplicaId;
      readonly service: ServiceIdentity;
      readonly rules: CommitRules;
    }
  | { readonly kind: 'coordinator' };

/** The first frame on every connection, from the side that dialled. */
export interface Hello {
  readonly type: 'hello';
  readonly clusterId: string;
  readonly protocolVersion: number;
  readonly peer: PeerKind;
  /**
   * What proves who dialled, when the listener asks for it: a client's token (`<name>.<secret>`), or
   * the cluster secret for a replica. Absent when there is none. Never logged.
   */
  readonly credential?: string;
}

/** The answer to Hello; `ok: false` is followed by closing the connection. */
export interface Welcome {
  readonly type: 'welcome';
  readonly ok: boolean;
  readonly code: string;
  readonly message: string;
}
