// How a failure becomes a RESP error reply. The first word of a Redis error is its kind: Redis's own
// where one fits (ERR, NOPROTO), the project's stable codes (docs/ERRORS.md) where the condition is
// Understudy's own, so a script matches on the same words whatever it talks through:
// - UNAVAILABLE: no primary took the command before its deadline; it did not run;
// - OUTCOME_UNKNOWN: a write's deadline passed unanswered; it may or may not have run (the message
//   names its request id, for `understudy request-status`);
// - SESSION_EXPIRED: the write's session expired meanwhile; whether it ran can no longer be learned.
// A refusal by the store (a key too long, a value not a number) is ERR with the store's message,
// except NOT_AN_INTEGER, NOT_A_FLOAT and NO_SUCH_KEY, which Redis clients know by their Redis texts.

import { ErrorCode, RequestRefusedError, UnderstudyError } from '../errors.js';
import { type RespReply, reply } from './replies.js';

export const notAFloatText = 'ERR value is not a valid float';

/** A bad argument: answered with `text` (a whole error line, prefix included). */
export class RespArgumentError extends Error {
  override readonly name = 'RespArgumentError';
  constructor(readonly text: string) {
    super(text);
  }
}

/** The reply for the store's refusal of a command, with its code and message. */
export function refusalReply(code: string, message: string): RespReply {
  if (code === ErrorCode.notAnInteger) return reply.error('ERR value is not an integer or out of range');
  if (code === ErrorCode.notAFloat) return reply.error(notAFloatText);
  if (code === ErrorCode.noSuchKey) return reply.error('ERR no such key');
  return reply.error(`ERR ${message}`);
}

/** The reply for a command that failed with `error`; null for an error that is a bug (rethrow it). */
export function errorReply(error: unknown): RespReply | null {
  if (error instanceof RespArgumentError) return reply.error(error.text);
  if (error instanceof RequestRefusedError) return refusalReply(error.code, error.message);
  // UNAVAILABLE, OUTCOME_UNKNOWN, SESSION_EXPIRED and any other of the project's errors: its code first.
  if (error instanceof UnderstudyError) return reply.error(`${error.code} ${error.message}`);
  return null;
}

/** What a log line says of a bug: its stack where it has one. */
export function bugDetail(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/** The reply for a command that failed for a bug (logged by the caller): ERR internal error and its message. */
export function internalErrorReply(error: unknown): RespReply {
  return reply.error(`ERR internal error: ${error instanceof Error ? error.message : String(error)}`);
}
