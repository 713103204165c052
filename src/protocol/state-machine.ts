// The service a cluster replicates. The primary executes each request once; backups only apply
// the update it produced (passive replication), so `execute` may be nondeterministic while
// `apply` must be deterministic.

export interface Execution {
  /** What the client is answered. */
  readonly result: Uint8Array;
  /** The side effects, applied by every replica in log order; empty for a write that changed nothing. */
  readonly update: Uint8Array;
}

export interface StateMachine {
  /** Runs a write against the current state without changing it. Throws `ServiceError` to refuse it. */
  execute(operation: Uint8Array): Execution;
  /** Answers a read from the current state. Throws `ServiceError` to refuse it. */
  query(operation: Uint8Array): Uint8Array;
  /** Applies an update produced by `execute`, on this replica or another. */
  apply(update: Uint8Array): void;
  snapshot(): Uint8Array;
  /**
   * Optional, for a large state: captures the state as it is now and encodes it later, a slice at a
   * time, so the replica's event loop (heartbeats, requests) never stops for long; the state keeps
   * changing between slices, and the encoding must still be the state at this call. Without it the
   * replica calls `snapshot()`, which stops everything else until it returns.
   */
  beginSnapshot?(): SnapshotEncoding;
  restore(snapshot: Uint8Array): void;
}

/** A snapshot being encoded a slice at a time (see `StateMachine.beginSnapshot`). */
export interface SnapshotEncoding {
  /** Encodes the next slice; returns the whole snapshot after the last one, null before it. */
  next(): Uint8Array | null;
  /**
   * Optional, called before the first slice: leave `bytes` unused in front of the snapshot that
   * next() returns, in the same ArrayBuffer, so that the replica can put its own header there
   * instead of copying the whole snapshot behind it.
   */
  reserveFront?(bytes: number): void;
}

/** A snapshot already encoded, as an encoding of one slice. */
export function encodedSnapshot(bytes: Uint8Array): SnapshotEncoding {
  return { next: () => bytes };
}

/** Runs every slice now. */
export function finishSnapshot(encoding: SnapshotEncoding): Uint8Array {
  for (;;) {
    const bytes = encoding.next();
    if (bytes !== null) return bytes;
  }
}

/**
 * Marks a ServiceError of any copy of this package: a service loaded from its own package may bring
 * its own copy of `understudy`, whose class is not the one the replica checks with `instanceof`.
 */
const serviceErrorBrand = Symbol.for('understudy.ServiceError');

/** A refusal by the service (bad operation, limit exceeded); answered to the client, never logged. */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  readonly [serviceErrorBrand] = true;
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A ServiceError, from this copy of the package or another. */
export function isServiceError(error: unknown): error is ServiceError {
  if (error instanceof ServiceError) return true;
  if (!(error instanceof Error)) return false;
  const marked = error as Error & { readonly [serviceErrorBrand]?: unknown; readonly code?: unknown };
  return marked[serviceErrorBrand] === true && typeof marked.code === 'string';
}

export type StateMachineFactory = () => StateMachine;
