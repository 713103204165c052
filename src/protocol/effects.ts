// What the pure core asks its shell to do. The shell executes a batch in this order: storage
// operations (in list order), then messages and replies. Acknowledgements that promise durability
// (PrepareOk, async replies) are only produced after the shell has reported the fsync through
// `durable()`, so a shell can send every message as soon as it has one.

import type { ClientReply, CoordinatorToReplica, Heartbeat, PeerMessage } from './messages.js';
import type { ConnectionId, Entry, LogIndex, ReplicaId, View } from './types.js';

export type StorageOperation =
  | { readonly kind: 'append'; readonly entries: readonly Entry[] }
  | { readonly kind: 'truncate'; readonly afterIndex: LogIndex };

export interface ReplicaEffects {
  readonly storage: StorageOperation[];
  readonly peerMessages: { readonly to: ReplicaId; readonly message: PeerMessage }[];
  readonly heartbeats: Heartbeat[];
  readonly replies: { readonly connection: ConnectionId; readonly reply: ClientReply }[];
}

/** What the coordinator keeps on disk. */
export interface CoordinatorState {
  readonly view: View | null;
  /** The incarnation of the primary that acknowledged `view`; null until it has. */
  readonly primaryIncarnation: number | null;
}

export interface CoordinatorEffects {
  /** State to store durably before any message of this batch leaves. */
  readonly save: CoordinatorState | null;
  readonly messages: { readonly to: ReplicaId; readonly message: CoordinatorToReplica }[];
}

export function emptyReplicaEffects(): ReplicaEffects {
  return { storage: [], peerMessages: [], heartbeats: [], replies: [] };
}
