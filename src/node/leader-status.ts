// A standby coordinator's copy of the leader's status, for the Sentinel port. Redis Sentinels all
// answer where the master is, and some clients ask only the first Sentinel they reach (Lettuce, and
// so Spring Data Redis, gives up with "Cannot provide redisAddress using sentinel" when it answers
// nil): a standby that named no master broke them whenever the first coordinator in their list was
// not the leader. So a standby dials the leader as a coordinator peer (bringing the cluster secret,
// or its certificate, as members do), asks for the status every `pollMs`, and answers from the last
// reply for `staleMs`; past that, or while no leader is known, it knows nothing. The leader is the
// one that decides and stores views, so a standby's answer is the leader's, at most one poll late.
// A SENTINEL FAILOVER the standby's port is asked goes to the leader over the same connection, and
// is answered as the leader answers it (once done), as any Sentinel of a deployment takes one.

import type { SwitchoverOutcome } from '../protocol/effects.js';
import type { Hello, StatusReply } from '../protocol/messages.js';
import type { ReplicaId } from '../protocol/types.js';
import type { MessageConnection } from '../transport/connection.js';
import { type DialOptions, dial } from '../transport/dial.js';
import { parseStatusReply, parseSwitchoverReply } from '../transport/validate.js';
import type { Logger } from './logger.js';

/** How long a switchover handed to the leader is waited for: a handoff takes about a second. */
const SWITCHOVER_ANSWER_MS = 30_000;

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
  /** Switchovers handed to the leader, by request id: each one's answer. */
  readonly #switchovers = new Map<number, (answer: Omit<SwitchoverOutcome, 'to'>) => void>();

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

  /**
   * Hands a switchover to `to` to the leader (SENTINEL FAILOVER at a standby), over the connection
   * the status comes by; resolves with null once the leader says it is done, or with why not. Never
   * rejects.
   */
  switchover(to: ReplicaId): Promise<SwitchoverOutcome | null> {
    const connection = this.#connection;
    const refused = (message: string): SwitchoverOutcome => ({ ok: false, to, message, view: null });
    if (connection === null) {
      const leader =
        this.#address === null
          ? 'no leading coordinator is known'
          : `the leader at ${this.#address} is not reachable`;
      return Promise.resolve(refused(`this coordinator stands by and ${leader}; ask the leader`));
    }
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#switchovers.delete(id);
        resolve(
          refused(
            `the leader at ${this.#address} did not answer within ${SWITCHOVER_ANSWER_MS / 1000} s; the switchover may still happen`,
          ),
        );
      }, SWITCHOVER_ANSWER_MS);
      this.#switchovers.set(id, (answer) => {
        clearTimeout(timer);
        this.#switchovers.delete(id);
        resolve(answer.ok ? null : { ...answer, to });
      });
      connection.send({ type: 'switchover_request', id, to });
    });
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
          this.#leaderGone(address);
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
    if (isSwitchoverReply(raw)) {
      const answer = this.#read(connection, raw, parseSwitchoverReply, 'switchover answer');
      if (answer === null) return;
      this.#switchovers.get(answer.id)?.({ ok: answer.ok, message: answer.message, view: answer.view });
      return;
    }
    const status = this.#read(connection, raw, parseStatusReply, 'status');
    if (status === null || status.id !== this.#asked?.id) return;
    this.#asked = null;
    this.#latest = { status, atMs: performance.now() };
    const primary = status.replicas.find((replica) => replica.id === status.view?.primary);
    const told = `${status.view?.number ?? '-'} ${primary?.redisAddress ?? '-'}`;
    if (told === this.#told) return;
    this.#told = told;
    for (const listener of this.#listeners) listener();
  }

  /** `raw` read by `parse`; null, the connection closed to be dialled again, if it cannot be. */
  #read<T>(connection: MessageConnection, raw: unknown, parse: (raw: unknown) => T, what: string): T | null {
    try {
      return parse(raw);
    } catch (error) {
      this.#options.logger.warn(
        { leader: this.#address, error: error instanceof Error ? error.message : String(error) },
        `the leader's ${what} could not be read; dialling it again`,
      );
      connection.close();
      return null;
    }
  }

  /** The switchovers handed to a leader whose connection closed: each told it may still happen. */
  #leaderGone(address: string): void {
    for (const [id, answer] of this.#switchovers) {
      answer({
        ok: false,
        message: `the connection to the leader at ${address} closed before it answered; the switchover may still happen`,
        view: null,
      });
      this.#switchovers.delete(id);
    }
  }

  #drop(): void {
    const address = this.#address;
    this.#connection?.close();
    this.#connection = null;
    this.#asked = null;
    if (address !== null) this.#leaderGone(address);
  }
}

function isSwitchoverReply(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && (raw as { type?: unknown }).type === 'switchover_reply';
}
