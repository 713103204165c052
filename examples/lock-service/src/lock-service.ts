// The lock service: named locks, each held by at most one owner at a time under a lease, with a
// fencing token per grant. Loaded by `understudy replica --service` (and `start --service`): the
// default export is its StateMachineFactory and `service` its name and version.
//
// Time. Whether a lease has run out must be decided the same way on every replica, after any
// failover, and when the simulator replays a seed; so the service never reads a clock. Each request
// carries its client's clock (`nowMs`), and the state keeps `clockMs`, the latest time a write
// carried. A write is decided at `max(clockMs, nowMs)` and its update carries that time: backups
// apply what the primary decided, and the clock never runs backwards — not for a request delayed
// in the network, and not after a failover (no machine's clock is ever used, so a new primary whose
// clock is behind changes nothing). A lease granted at t for L ms ends at t + L in this clock: once
// any request has carried a later time, it is over for everyone.
// The price: the service runs on the fastest client's clock, so a client whose clock is ahead ends
// leases early for all. Keep client clocks in sync (NTP) and leases much longer than their skew; a
// holder that must be sure passes its fencing token to the resource, which refuses older tokens.
// (The primary could read its own clock in `execute` instead, as passive replication allows: but a
// failover to a machine whose clock is ahead would end leases early, and the simulator could not
// replay it.)
//
// Invariants: at most one lease per lock; tokens grow with every new grant; a lease only ever gets
// longer until it is released; `clockMs` only grows.
// A lease that ran out stays in the state until the next acquire or release of its lock (a service
// for millions of lock names would sweep them).

import { ErrorCode, type Execution, ServiceError, type ServiceIdentity, type StateMachine } from 'understudy';
import {
  type AcquireResult,
  decodeOperation,
  decodeTrusted,
  encode,
  type Lease,
  type LockOperation,
  type LockState,
  type LockUpdate,
  type ReleaseResult,
} from './lock-messages.js';

export const service: ServiceIdentity = { name: 'lock', version: 1 };

interface LockSnapshot {
  readonly clockMs: number;
  readonly lastToken: number;
  /** Sorted by lock name, so one state has one encoding. */
  readonly locks: readonly (readonly [string, Lease])[];
}

export class LockService implements StateMachine {
  private clockMs = 0;
  private lastToken = 0;
  private readonly locks = new Map<string, Lease>();

  execute(bytes: Uint8Array): Execution {
    const operation = decodeOperation(bytes);
    const atMs = Math.max(this.clockMs, operation.nowMs);
    if (operation.op === 'inspect') {
      throw new ServiceError(ErrorCode.badRequest, 'inspect is a read: send it with read(), not write()');
    }
    const [result, change] =
      operation.op === 'acquire' ? this.acquire(operation, atMs) : this.release(operation, atMs);
    const update: LockUpdate = { atMs, change };
    return { result: encode(result), update: encode(update) };
  }

  query(bytes: Uint8Array): Uint8Array {
    const operation = decodeOperation(bytes);
    if (operation.op !== 'inspect') {
      throw new ServiceError(
        ErrorCode.badRequest,
        `${operation.op} is a write: send it with write(), not read()`,
      );
    }
    const atMs = Math.max(this.clockMs, operation.nowMs);
    const state: LockState = { lock: operation.lock, holder: this.holderAt(operation.lock, atMs), atMs };
    return encode(state);
  }

  apply(bytes: Uint8Array): void {
    const { atMs, change } = decodeTrusted<LockUpdate>(bytes);
    this.clockMs = Math.max(this.clockMs, atMs);
    if (change === null) return;
    if (change.lease === null) {
      this.locks.delete(change.lock);
      return;
    }
    this.locks.set(change.lock, change.lease);
    this.lastToken = Math.max(this.lastToken, change.lease.token);
  }

  snapshot(): Uint8Array {
    const locks = [...this.locks].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const snapshot: LockSnapshot = { clockMs: this.clockMs, lastToken: this.lastToken, locks };
    return new TextEncoder().encode(JSON.stringify(snapshot));
  }

  restore(bytes: Uint8Array): void {
    const snapshot = decodeTrusted<LockSnapshot>(bytes);
    if (!Number.isSafeInteger(snapshot.clockMs) || !Array.isArray(snapshot.locks)) {
      throw new Error('not a lock service snapshot');
    }
    this.clockMs = snapshot.clockMs;
    this.lastToken = snapshot.lastToken;
    this.locks.clear();
    for (const [lock, lease] of snapshot.locks) this.locks.set(lock, lease);
  }

  /** The lease on `lock` that is still running at `atMs`, if any. */
  private holderAt(lock: string, atMs: number): Lease | null {
    const lease = this.locks.get(lock);
    return lease !== undefined && lease.expiresAtMs > atMs ? lease : null;
  }

  private acquire(
    operation: Extract<LockOperation, { op: 'acquire' }>,
    atMs: number,
  ): [AcquireResult, LockUpdate['change']] {
    const holder = this.holderAt(operation.lock, atMs);
    if (holder !== null && holder.owner !== operation.owner) return [{ granted: false, holder, atMs }, null];
    // A renewal keeps its token (the holder never lost the lock) and never shortens the lease: giving
    // the lock up early is what release is for.
    const token = holder?.token ?? this.lastToken + 1;
    const expiresAtMs = Math.max(holder?.expiresAtMs ?? 0, atMs + operation.leaseMs);
    const lease: Lease = { owner: operation.owner, token, expiresAtMs };
    return [
      { granted: true, lease, atMs },
      { lock: operation.lock, lease },
    ];
  }

  private release(
    operation: Extract<LockOperation, { op: 'release' }>,
    atMs: number,
  ): [ReleaseResult, LockUpdate['change']] {
    const holder = this.holderAt(operation.lock, atMs);
    if (holder === null || holder.owner !== operation.owner || holder.token !== operation.token) {
      // Not this grant's to release. A lease that ran out is dropped here, whoever asks.
      const expired = holder === null && this.locks.has(operation.lock);
      return [{ released: false, holder, atMs }, expired ? { lock: operation.lock, lease: null } : null];
    }
    return [
      { released: true, atMs },
      { lock: operation.lock, lease: null },
    ];
  }
}

/** The StateMachineFactory `--service` loads: a new, empty lock service. */
export default function createLockService(): StateMachine {
  return new LockService();
}
