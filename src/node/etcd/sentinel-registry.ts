// The coordinators' Sentinel ports, listed in etcd, so that each answers `SENTINEL SENTINELS` with the
// others as a Redis Sentinel lists its peers: a client given one Sentinel learns the rest (ioredis
// with `updateSentinels`, its default), and goes on through them when that one's machine dies.
//
// Each coordinator puts its Sentinel's run id and address under the cluster's `sentinels/` prefix,
// attached to the etcd lease it keeps alive whether it leads or not, so the entry goes when the
// process does (a lease revoked at close, or run out after a crash); it puts it again whenever it
// holds a new lease. Every `pollMs` it reads the prefix back. Nothing of the protocol reads it: a
// failed put or read (etcd unavailable, or out of space) leaves the last list, and is tried again.

import { parseAddress } from '../../transport/address.js';
import type { Logger } from '../logger.js';
import type { EtcdClient } from './etcd-client.js';

/** Another coordinator's Sentinel port, as its entry in etcd gives it. */
export interface SentinelPeer {
  readonly runId: string;
  /** Where Redis clients dial it (host:port). */
  readonly address: string;
}

export interface SentinelRegistryOptions {
  readonly client: EtcdClient;
  /** The cluster's `sentinels/` prefix (etcdKeysOf). */
  readonly prefix: string;
  /** The lease this process holds now, or null. */
  readonly lease: () => string | null;
  /** This process's Sentinel port. */
  readonly self: SentinelPeer;
  readonly pollMs: number;
  readonly logger: Logger;
}

/** Entries read at most: a few coordinators are expected; more is not a list a client should take. */
const peersMax = 32;

export class SentinelRegistry {
  readonly #options: SentinelRegistryOptions;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  /** The lease the entry was last put with. */
  #registeredWith: string | null = null;
  #peers: readonly SentinelPeer[] = [];
  #lastProblem: string | null = null;

  constructor(options: SentinelRegistryOptions) {
    this.#options = options;
    void this.#step();
  }

  /** The other coordinators' Sentinel ports, as last read from etcd. */
  peers(): readonly SentinelPeer[] {
    return this.#peers;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
  }

  async #step(): Promise<void> {
    const { client, prefix, self, logger } = this.#options;
    try {
      const lease = this.#options.lease();
      if (lease !== null && lease !== this.#registeredWith) {
        await client.txn([], [{ key: `${prefix}${self.runId}`, value: entryOf(self), lease }]);
        this.#registeredWith = lease;
      }
      const entries = await client.rangePrefix(prefix);
      this.#peers = entries
        .map((entry) => peerOf(entry.value))
        .filter((peer): peer is SentinelPeer => peer !== null && peer.runId !== self.runId)
        .slice(0, peersMax);
      if (this.#lastProblem !== null) logger.info("the Sentinel ports' list in etcd is read again");
      this.#lastProblem = null;
    } catch (error) {
      const problem = error instanceof Error ? error.message : String(error);
      if (problem !== this.#lastProblem) {
        logger.warn(
          { problem },
          "the Sentinel ports' list in etcd could not be updated (SENTINEL SENTINELS keeps the last)",
        );
      }
      this.#lastProblem = problem;
    }
    if (!this.#closed) this.#timer = setTimeout(() => void this.#step(), this.#options.pollMs);
  }
}

function entryOf(peer: SentinelPeer): Buffer {
  return Buffer.from(JSON.stringify({ runId: peer.runId, address: peer.address }), 'utf8');
}

/** An entry's peer, or null for one that is not (another build's, or damaged): it is left out. */
function peerOf(value: Buffer): SentinelPeer | null {
  try {
    const parsed: unknown = JSON.parse(value.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null) return null;
    const { runId, address } = parsed as Record<string, unknown>;
    if (typeof runId !== 'string' || !/^[0-9a-f]{40}$/.test(runId)) return null;
    if (typeof address !== 'string') return null;
    parseAddress(address); // throws for anything but host:port or [ipv6]:port
    return { runId, address };
  } catch {
    return null;
  }
}
