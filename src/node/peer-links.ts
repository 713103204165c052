// Outbound connections from one replica to its peers, dialled on first use. Messages to a peer
// whose connection is still being made wait in a bounded queue; when it is full, or the dial
// fails, they are dropped: the protocol retransmits, so loss only costs time.

import { HandshakeError } from '../errors.js';
import { commitRulesOf } from '../protocol/config.js';
import type { PeerMessage, TransferMessage } from '../protocol/messages.js';
import type { ServiceIdentity } from '../protocol/service-identity.js';
import type { Address, ReplicaId } from '../protocol/types.js';
import {
  type ClusterSecret,
  dial,
  type MessageConnection,
  PROTOCOL_VERSION,
  type TlsMaterial,
} from '../transport/index.js';
import type { NodeConfig } from './config.js';

interface Link {
  readonly address: Address;
  connection: MessageConnection | null;
  queue: (PeerMessage | TransferMessage)[];
}

export class PeerLinks {
  private readonly links = new Map<ReplicaId, Link>();
  /**
   * After a failed dial, when we may dial that peer again: performance.now(), since a wall clock
   * stepped back would hold the link down until it caught up.
   */
  private readonly retryAt = new Map<ReplicaId, number>();
  private closed = false;

  constructor(
    private readonly selfId: ReplicaId,
    private readonly clusterId: string,
    /** Named in every Hello: a peer that runs another service refuses us. */
    private readonly service: ServiceIdentity,
    private readonly config: NodeConfig,
    /** Told when a peer refused the handshake (another service or cluster), with its reason. */
    private readonly onRefused: (to: ReplicaId, reason: string) => void = () => {},
    /** Mutual TLS: dial over TLS and require the peer's certificate to name the replica we meant. */
    private readonly tls?: TlsMaterial,
    /** Brought in every Hello when the cluster has a secret (peers refuse a replica without it). */
    private readonly clusterSecret?: ClusterSecret,
  ) {}

  send(to: ReplicaId, address: Address | undefined, message: PeerMessage | TransferMessage): void {
    if (address === undefined || this.closed) return;
    let link = this.links.get(to);
    if (link !== undefined && link.address !== address) {
      link.connection?.close();
      link = undefined;
    }
    if (link === undefined) {
      if (performance.now() < (this.retryAt.get(to) ?? 0)) return;
      link = { address, connection: null, queue: [] };
      this.links.set(to, link);
      this.connect(to, link);
    }
    if (link.connection !== null && !link.connection.isClosed) {
      link.connection.send(message);
      return;
    }
    if (link.queue.length < this.config.peerQueueMessagesMax) link.queue.push(message);
  }

  /** Writes every message sent so far to its socket now (MessageConnection.sendQueuedNow). */
  sendQueuedNow(): void {
    for (const link of this.links.values()) link.connection?.sendQueuedNow();
  }

  close(): void {
    this.closed = true;
    for (const link of this.links.values()) link.connection?.close();
    this.links.clear();
  }

  private connect(to: ReplicaId, link: Link): void {
    const hello = {
      type: 'hello',
      clusterId: this.clusterId,
      protocolVersion: PROTOCOL_VERSION,
      peer: {
        kind: 'replica',
        id: this.selfId,
        service: this.service,
        rules: commitRulesOf(this.config.protocol),
      },
      ...(this.clusterSecret === undefined ? {} : { credential: this.clusterSecret.presented }),
    } as const;
    const tls =
      this.tls === undefined ? {} : { tls: this.tls, expectPeer: { kind: 'replica', id: to } as const };
    dial(link.address, hello, {
      frameSizeMaxBytes: this.config.frameSizeMaxBytes,
      timeoutMs: 2_000,
      ...tls,
    }).then(
      (connection) => {
        if (this.closed || this.links.get(to) !== link) {
          connection.close();
          return;
        }
        link.connection = connection;
        connection.onMessage = () => {}; // peers answer on their own outbound link
        connection.onClose = () => {
          if (this.links.get(to) === link) this.links.delete(to);
        };
        for (const message of link.queue) connection.send(message);
        link.queue = [];
      },
      (error: unknown) => {
        if (error instanceof HandshakeError && !this.closed) this.onRefused(to, error.message);
        this.retryAt.set(to, performance.now() + this.config.reconnectDelayMs);
        if (this.links.get(to) === link) this.links.delete(to);
      },
    );
  }
}
