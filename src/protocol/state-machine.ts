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
  restore(snapshot: Uint8Array): void;
}

/** A refusal by the service (bad operation, limit exceeded); answered to the client, never logged. */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type StateMachineFactory = () => StateMachine;
