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
   * Optional, for a large state: captures the state as it is now and encodes it later, a piece at a
   * time, so the replica's event loop (heartbeats, requests) never stops for long and no buffer of
   * the whole state is needed; the state keeps changing between pieces, and the encoding must still
   * be the state at this call. Without it the replica calls `snapshot()`, which stops everything
   * else until it returns.
   */
  beginSnapshot?(): SnapshotEncoding;
  restore(snapshot: Uint8Array): void;
  /**
   * Optional: an update the service makes by itself as time passes (the key/value store deletes the
   * keys whose time to live ran out), at most `bytesMax` bytes, or null when there is none. Asked of
   * the primary each tick while it holds its lease; it is logged and applied as it is, so it must be
   * an update this state machine's `apply` takes, true of the state now.
   */
  dueUpdate?(bytesMax: number): Uint8Array | null;
  /**
   * Optional, for a service whose formats follow Understudy's format levels (StateMachineContext):
   * the highest level of what its state holds (format-level.ts). Level 1 without it.
   */
  formatLevelHeld?(): number;
  /**
   * Optional, with `formatLevelHeld`: the level of an update `execute` or `dueUpdate` produced, so a
   * replica reports what its log holds before it is applied (a coordinator that lost its state must
   * not admit a replica that reads less than an entry a primary may yet send). Level 1 without it.
   */
  formatLevelOf?(update: Uint8Array): number;
  /**
   * Optional: how large the state is now, for the replica's metrics (`understudy_state_*`), so an
   * operator sees a bound coming before the service refuses writes at it.
   */
  size?(): StateSize;
}

/** A state's size against the bounds its service refuses writes at (null: no such bound). */
export interface StateSize {
  readonly entries: number;
  readonly entriesMax: number | null;
  /** In the service's own measure (the key/value store: keys' and values' bytes plus 64 a key). */
  readonly bytes: number;
  readonly bytesMax: number | null;
  /** Entries that will go by themselves, where the service has such (the key/value store: keys with a time to live). */
  readonly expiring?: number;
}

/**
 * A snapshot being encoded a piece at a time (see `StateMachine.beginSnapshot`). The replica writes
 * each piece to the snapshot file before it asks for the next, so a state of any size never needs a
 * buffer of its whole size (at 320,000 keys one was 30 MB, and the allocator kept such buffers'
 * memory resident after they were freed).
 */
export interface SnapshotEncoding {
  /** The length of the whole snapshot, known when it is captured (the file's header states it). */
  readonly sizeBytes: number;
  /**
   * Encodes and returns the next piece, or null once every piece has been returned; the pieces in
   * order are the snapshot. A piece need only stay valid until the next call (an encoding may reuse
   * one buffer for all of them).
   */
  next(): Uint8Array | null;
}

/** A snapshot already encoded, as an encoding of one piece. */
export function encodedSnapshot(bytes: Uint8Array): SnapshotEncoding {
  let taken = false;
  return {
    sizeBytes: bytes.length,
    next: () => {
      if (taken) return null;
      taken = true;
      return bytes;
    },
  };
}

/** Runs every piece now and joins them. */
export function finishSnapshot(encoding: SnapshotEncoding): Uint8Array {
  const out = new Uint8Array(encoding.sizeBytes);
  let offset = 0;
  for (let piece = encoding.next(); piece !== null; piece = encoding.next()) {
    if (offset + piece.length > out.length) throw snapshotSizeError(encoding, offset + piece.length);
    out.set(piece, offset);
    offset += piece.length;
  }
  if (offset !== out.length) throw snapshotSizeError(encoding, offset);
  return out;
}

/** An encoding whose pieces do not add up to the size it stated: a bug in the service. */
export function snapshotSizeError(encoding: SnapshotEncoding, piecesBytes: number): Error {
  return new Error(
    `a snapshot encoding stated ${encoding.sizeBytes} bytes but its pieces came to ${piecesBytes}` +
      `${piecesBytes > encoding.sizeBytes ? ' or more' : ''}`,
  );
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

/**
 * What a replica tells the state machines it makes. A service whose formats follow Understudy's
 * format levels (format-level.ts; the built-in key/value store) writes nothing above
 * `clusterFormatLevel()` and refuses what is above `formatLevel`; any other service names its own
 * formats by its service version (service-identity.ts) and may ignore both.
 */
export interface StateMachineContext {
  /** The level the cluster logs at now, as the coordinator last said; read when the primary executes. */
  readonly clusterFormatLevel: () => number;
  /** The highest level this replica reads. */
  readonly formatLevel: number;
}

export type StateMachineFactory = (context?: StateMachineContext) => StateMachine;
