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

/** The deadline passed before an answer: the write may or may not have been applied. */
export class OutcomeUnknownError extends UnderstudyError {
  override name = 'OutcomeUnknownError';
  constructor(
    readonly clientId: string,
    readonly requestNumber: number,
    message: string,
  ) {
    super(ErrorCode.outcomeUnknown, message);
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

export class HandshakeError extends UnderstudyError {
  override name = 'HandshakeError';
  constructor(message: string) {
    super(ErrorCode.handshakeRefused, message);
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
