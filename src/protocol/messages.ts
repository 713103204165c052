// Every message that crosses a process boundary. Each is a plain object with a `type` tag so the
// codec can stay generic; the transport validates shape before anything here sees a message.

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
}

/** Follower → primary: "my log matches yours and is on disk up to `index`". */
export interface PrepareOk {
  readonly type: 'prepare_ok';
  readonly view: ViewNumber;
  readonly index: LogIndex;
}

/**
 * Follower → primary: "your Prepare did not follow my log; here is its shape". The primary finds
 * the last position both logs share and resends from there.
 */
export interface SyncRequest {
  readonly type: 'sync';
  readonly view: ViewNumber;
  readonly epochs: readonly Epoch[];
  readonly lastIndex: LogIndex;
}

export type PeerMessage = Prepare | PrepareOk | SyncRequest;

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
  readonly commitIndex: LogIndex;
  readonly appliedIndex: LogIndex;
  /** Ticks since this replica last heard the coordinator: one that hears nothing follows no view and holds no lease. */
  readonly coordinatorSilentTicks: number;
  /** Ticks the oldest write handed to storage has waited for its fsync; 0 when none waits. */
  readonly storageStalledTicks: number;
  /** Primary only: learners that hold every committed entry and are now waited for, found in `view`. */
  readonly syncedLearners: readonly ReplicaId[];
  /** Primary only: backups that stopped acknowledging in `view`. */
  readonly laggingBackups: readonly ReplicaId[];
}

export interface HeartbeatReply {
  readonly type: 'heartbeat_reply';
  /** The process the heartbeat came from: a lease is for that process only. */
  readonly incarnation: number;
  readonly sequence: number;
  readonly view: View | null;
  readonly addresses: Readonly<Record<string, Address>>;
  /** Ticks of lease granted to the primary of `view`, counted from when the heartbeat left; 0 for none. */
  readonly leaseTicks: number;
}

/** Coordinator → every replica it knows, as soon as a view is stored. */
export interface ViewChange {
  readonly type: 'view_change';
  readonly view: View;
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
}

export interface StatusReply {
  readonly type: 'status_reply';
  readonly id: number;
  readonly view: View | null;
  readonly replicas: readonly ReplicaStatus[];
  /** Why the coordinator forms no view and grants no lease (it lost its state), or null. */
  readonly problem: string | null;
}

// ---- client ↔ replica --------------------------------------------------------------------------

export interface ClientRequest {
  readonly type: 'request';
  /** Chosen by the client to match the reply; unique per connection. */
  readonly id: number;
  readonly clientId: ClientId;
  /** Starts at 1 and grows by one per write of this client id; 0 for reads, which have no session. */
  readonly requestNumber: number;
  readonly readOnly: boolean;
  readonly durability: Durability;
  readonly operation: Uint8Array;
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

// ---- handshake ---------------------------------------------------------------------------------

export type PeerKind =
  | { readonly kind: 'client' }
  | { readonly kind: 'replica'; readonly id: ReplicaId }
  | { readonly kind: 'coordinator' };

/** The first frame on every connection, from the side that dialled. */
export interface Hello {
  readonly type: 'hello';
  readonly clusterId: string;
  readonly protocolVersion: number;
  readonly peer: PeerKind;
}

/** The answer to Hello; `ok: false` is followed by closing the connection. */
export interface Welcome {
  readonly type: 'welcome';
  readonly ok: boolean;
  readonly code: string;
  readonly message: string;
}
