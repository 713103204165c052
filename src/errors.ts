// The errors users of Understudy catch. Each carries a stable `code` (see src/protocol/error-codes.ts
// and docs/ERRORS.md); match on the code or the class, never on the message.

import { ErrorCode } from './protocol/error-codes.js';

export { ErrorCode };

export class UnderstudyError extends Error {
  override name = 'UnderstudyError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Names one write: `<clientId>#<requestNumber>`. `understudy request-status` and
 * `ReplicatedClient.requestStatus` take it; the client library parses it back.
 */
export function formatRequestId(clientId: string, requestNumber: number): string {
  return `${clientId}#${requestNumber}`;
}

/**
 * The deadline passed before an answer: the write may or may not have been applied. The client
 * never reuses its session, so `requestStatus(requestId)` can still tell what became of it (and
 * cancels it if it has not run).
 */
export class OutcomeUnknownError extends UnderstudyError {
  override name = 'OutcomeUnknownError';
  readonly requestId: string;
  constructor(
    readonly clientId: string,
    readonly requestNumber: number,
    message: string,
  ) {
    super(ErrorCode.outcomeUnknown, message);
    this.requestId = formatRequestId(clientId, requestNumber);
  }
}

/**
 * The write's session was gone when the cluster looked (it expired after idle time, or beyond the
 * session count): whether an earlier attempt of it ran is unknown and can no longer be learned.
 * The client retired that session; its next write uses a fresh one.
 */
export class SessionExpiredError extends UnderstudyError {
  override name = 'SessionExpiredError';
  readonly requestId: string;
  constructor(
    readonly clientId: string,
    readonly requestNumber: number,
    message: string,
  ) {
    super(ErrorCode.sessionExpired, message);
    this.requestId = formatRequestId(clientId, requestNumber);
  }
}

/** No primary answered before the deadline; nothing was written. */
export class UnavailableError extends UnderstudyError {
  override name = 'UnavailableError';
  constructor(message: string) {
    super(ErrorCode.unavailable, message);
  }
}

/** The service refused the operation (too large, wrong type, unknown command, too old a retry). */
export class RequestRefusedError extends UnderstudyError {
  override name = 'RequestRefusedError';
}

export class BadFrameError extends UnderstudyError {
  override name = 'BadFrameError';
  constructor(message: string) {
    super(ErrorCode.badFrame, message);
  }
}

/** The listener refused us: HANDSHAKE_REFUSED (cluster, version, service) or UNAUTHENTICATED (token, secret). */
export class HandshakeError extends UnderstudyError {
  override name = 'HandshakeError';
  constructor(
    message: string,
    code: typeof ErrorCode.handshakeRefused | typeof ErrorCode.unauthenticated = ErrorCode.handshakeRefused,
  ) {
    super(code, message);
  }
}

/** A standby coordinator (the coordinator runs on etcd) refused the handshake: try the next one. */
export class NotLeaderError extends UnderstudyError {
  override name = 'NotLeaderError';
  constructor(message: string) {
    super(ErrorCode.notLeader, message);
  }
}

export class ConnectionClosedError extends UnderstudyError {
  override name = 'ConnectionClosedError';
  constructor(message: string) {
    super(ErrorCode.connectionClosed, message);
  }
}

export class LogCorruptedError extends UnderstudyError {
  override name = 'LogCorruptedError';
  constructor(message: string) {
    super(ErrorCode.logCorrupted, message);
  }
}

export class ConfigError extends UnderstudyError {
  override name = 'ConfigError';
  constructor(message: string) {
    super(ErrorCode.badConfig, message);
  }
}
