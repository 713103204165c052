// A typed client of the lock service, over understudy's ReplicatedClient: it finds the primary,
// retries a request under the same request number until it is answered (so an acquire runs at most
// once, also across a failover), and reports a timeout as OutcomeUnknownError, never as "not granted".
// Writes are `sync`: a grant is answered only once every backup has it on disk, so it survives the
// loss of the primary. Each request carries this client's clock (see lock-service.ts).

import { type ClientOptions, ReplicatedClient, type StatusReply } from 'understudy';
import {
  type AcquireResult,
  decodeTrusted,
  encode,
  type LockOperation,
  type LockState,
  type ReleaseResult,
} from './lock-messages.js';

export interface LockClientOptions extends ClientOptions {
  /** The clock requests carry, in ms; `Date.now` unless given (a test or simulation may pass its own). */
  readonly now?: () => number;
}

export class LockClient {
  private constructor(
    /** The client underneath, for what this wrapper does not cover (status, requestStatus). */
    readonly replicated: ReplicatedClient,
    private readonly now: () => number,
  ) {}

  static async connect(options: LockClientOptions): Promise<LockClient> {
    const { now = Date.now, ...clientOptions } = options;
    return new LockClient(await ReplicatedClient.connect(clientOptions), now);
  }

  /**
   * Asks for `lock` for `leaseMs`. Granted: the lease, with its fencing token and expiry. An acquire
   * by the holder renews its lease (same token). Refused: who holds it, until when.
   */
  async acquire(
    lock: string,
    options: { readonly owner: string; readonly leaseMs: number },
  ): Promise<AcquireResult> {
    return this.write({
      op: 'acquire',
      lock,
      owner: options.owner,
      leaseMs: options.leaseMs,
      nowMs: this.now(),
    });
  }

  /** Gives the lock back, if this grant (owner and token) still holds it. */
  async release(
    lock: string,
    lease: { readonly owner: string; readonly token: number },
  ): Promise<ReleaseResult> {
    return this.write({ op: 'release', lock, owner: lease.owner, token: lease.token, nowMs: this.now() });
  }

  /** Who holds `lock` now, read at the primary (linearizable). */
  async inspect(lock: string): Promise<LockState> {
    const reply = await this.replicated.read(encode({ op: 'inspect', lock, nowMs: this.now() }));
    return decodeTrusted<LockState>(reply.result);
  }

  status(): Promise<StatusReply> {
    return this.replicated.status();
  }

  close(): Promise<void> {
    return this.replicated.close();
  }

  private async write<T extends AcquireResult | ReleaseResult>(operation: LockOperation): Promise<T> {
    const reply = await this.replicated.write(encode(operation), { durability: 'sync' });
    return decodeTrusted<T>(reply.result);
  }
}
