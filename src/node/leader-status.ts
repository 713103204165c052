// A standby coordinator's copy of the leader's status, for the Sentinel port. Redis Sentinels all
// answer where the master is, and some clients ask only the first Sentinel they reach (Lettuce, and
// so Spring Data Redis, gives up with "Cannot provide redisAddress using sentinel" when it answers
// nil): a standby that named no master broke them whenever the first coordinator in their list was
// not the leader. So a standby dials the leader as a coordinator peer (bringing the cluster secret,
// or its certificate, as members do), asks for the status every `pollMs`, and answers from the last
// reply for `staleMs`; past that, or while no leader is known, it knows nothing. The leader is the
// one that decides and stores views, so a standby's answer is the leader's, at most one poll late.

import type { Hello, StatusReply } from '../protocol/messages.js';
import type { MessageConnection } from '../transport/connection.js';
import { type DialOptions, dial } from '../transport/dial.js';
import { parseStatusReply } from '../transport/validate.js';
import type { Logger } from './logger.js';

export interface LeaderStatusOptions {
  /** The leader's address, or null while this process leads or no leader is known. */
  readonly leader: () => string | null;
  readonly hello: Hello;
  readonly dialOptions: DialOptions;
  readonly pollMs: number;
  /** How long a reply is answered from; a leader silent longer is not spoken for. */
  readonly staleMs: number;
  readonly logger: Logger;
}

export class LeaderStatus {
  readonly #options: LeaderStatusOptions;
  readonly #timer: NodeJS.Timeout;
  readonly #listeners = new Set<() => void>();
  #connection: MessageConnection | null = null;
  /** The leader the connection (or the dial under way) is to. */
  #address: string | null = null;
  #dialing = false;
  #closed = false;
  #nextId = 1;
  /** The request awaiting its reply, and when it left. */
  #asked: { readonly id: number; readonly atMs: number } | null = null;
  #latest: { readonly status: StatusReply; readonly atMs: number } | null = null;
  /** What listeners last heard of: the view number and the primary's Redis address. */
  #told = '';

  constructor(options: LeaderStatusOptions) {
    this.#options = options;
    this.#timer = setInterval(() => this.#poll(), options.pollMs);
    this.#timer.unref();
  }

  /** The leader's status as last answered, or null: none within `staleMs`, or no leader to ask. */
  status(): StatusReply | null {
    const latest = this.#latest;
    if (latest === null || performance.now() - latest.atMs > this.#options.staleMs) return null;
    return latest.status;
  }

  /** Calls `listener` when a reply names another view or another primary Redis address. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#drop();
  }

  #poll(): void {
    if (this.#closed) return;
    const leader = this.#options.leader();
    if (leader !== this.#address) {
      this.#drop();
      this.#latest = null;
      this.#address = leader;
    }
    if (leader === null) return;
    const connection = this.#connection;
    if (connection === null) {
      this.#dial(leader);
      return;
    }
    // One request at a time; one unanswered for a whole staleness bound is given up on.
    if (this.#asked !== null && performance.now() - this.#asked.atMs < this.#options.staleMs) return;
    this.#asked = { id: this.#nextId++, atMs: performance.now() };
    connection.send({ type: 'status_request', id: this.#asked.id });
  }

  #dial(address: string): void {
    if (this.#dialing) return;
    this.#dialing = true;
    dial(address, this.#options.hello, this.#options.dialOptions).then(
      (connection) => {
        this.#dialing = false;
        if (this.#closed || this.#address !== address) {
          connection.close();
          return;
        }
        this.#connection = connection;
        connection.onMessage = (raw) => this.#answered(connection, raw);
        connection.onClose = () => {
          if (this.#connection !== connection) return;
          this.#connection = null;
          this.#asked = null;
        };
        this.#poll();
      },
      (error: unknown) => {
        this.#dialing = false;
        this.#options.logger.debug(
          { leader: address, error: error instanceof Error ? error.message : String(error) },
          'could not reach the leader for its status (the Sentinel port answers from it)',
        );
      },
    );
  }

  #answered(connection: MessageConnection, raw: unknown): void {
    let status: StatusReply;
    try {
      status = parseStatusReply(raw);
    } catch (error) {
      this.#options.logger.warn(
        { leader: this.#address, error: error instanceof Error ? error.message : String(error) },
        "the leader's status could not be read; dialling it again",
      );
      connection.close();
      return;
    }
    if (status.id !== this.#asked?.id) return;
    this.#asked = null;
    this.#latest = { status, atMs: performance.now() };
    const primary = status.replicas.find((replica) => replica.id === status.view?.primary);
    const told = `${status.view?.number ?? '-'} ${primary?.redisAddress ?? '-'}`;
    if (told === this.#told) return;
    this.#told = told;
    for (const listener of this.#listeners) listener();
  }

  #drop(): void {
    this.#connection?.close();
    this.#connection = null;
    this.#asked = null;
  }
}
