// Stable error codes: clients and scripts match on these strings, so they never change meaning.
// docs/ERRORS.md describes each one; src/errors.ts has the classes users catch.

export const ErrorCode = {
  /** This replica is not the primary (or its lease ran out); ask the coordinator and retry. */
  notPrimary: 'NOT_PRIMARY',
  /** The request number is below the session's last one: an old retry, never re-executed. */
  requestTooOld: 'REQUEST_TOO_OLD',
  /** The primary has too many requests waiting; retry later. */
  overloaded: 'OVERLOADED',
  /** The deadline passed and the write may or may not have happened. */
  outcomeUnknown: 'OUTCOME_UNKNOWN',
  /** No primary could be reached before the deadline (nothing was written). */
  unavailable: 'UNAVAILABLE',
  /** The operation is not one the service knows. */
  unknownOperation: 'UNKNOWN_OPERATION',
  /** The operation is malformed (wrong types, missing fields). */
  badRequest: 'BAD_REQUEST',
  keyTooLarge: 'KEY_TOO_LARGE',
  valueTooLarge: 'VALUE_TOO_LARGE',
  /** The write would make a log entry too large to ever replicate (its update and result exceed the Prepare limit). */
  entryTooLarge: 'ENTRY_TOO_LARGE',
  /** The key/value store holds as many keys as it may (`keysMax`): a write that would add one is refused. */
  storeFull: 'STORE_FULL',
  /** incr on a value that is not a decimal integer. */
  notAnInteger: 'NOT_AN_INTEGER',
  /** incr-float on a value that is not a decimal number, or a sum that would not be finite. */
  notAFloat: 'NOT_A_FLOAT',
  /** rename of a key that is absent (Redis RENAME's `ERR no such key`). */
  noSuchKey: 'NO_SUCH_KEY',
  /** A frame longer than the limit, or one that does not decode. */
  badFrame: 'BAD_FRAME',
  /** The peer speaks another protocol version or belongs to another cluster. */
  handshakeRefused: 'HANDSHAKE_REFUSED',
  /** The port asks for a token (or the cluster secret) and the Hello brought none, or a wrong one. */
  unauthenticated: 'UNAUTHENTICATED',
  /** The token is valid but may not do this: another client's id, or an admin call without an admin token. */
  notAuthorized: 'NOT_AUTHORIZED',
  /** This coordinator stands by (the coordinator runs on etcd): try the next one of the list; the message names the leader. */
  notLeader: 'NOT_LEADER',
  /** The connection closed before the answer came. */
  connectionClosed: 'CONNECTION_CLOSED',
  /** The write-ahead log is damaged in a way recovery must not repair silently. */
  logCorrupted: 'LOG_CORRUPTED',
  /** The client's session expired (idle too long, or too many sessions): whether its request ran is unknown; open a new session. */
  sessionExpired: 'SESSION_EXPIRED',
  /** A backup could not answer a read within the asked staleness bound or at the asked index; try another member. */
  stale: 'STALE',
  /** Asked for the status of a request that had not run: it is cancelled and will never run. */
  requestCancelled: 'REQUEST_CANCELLED',
  /** The session moved past this request: it will never run now, but whether it ran is no longer known. */
  resultForgotten: 'RESULT_FORGOTTEN',
  /**
   * An operation of a sequence that did not run, nor did any after it: the results of the ones
   * before it reached the sequence's limit (readBytesMax). Send it and the rest again.
   */
  notRun: 'NOT_RUN',
  /**
   * An expect found a key holding another value than the one expected (the Redis port's WATCH saw a
   * watched key change): nothing of its whole sequence ran.
   */
  valueChanged: 'VALUE_CHANGED',
  /**
   * The snapshot a save was reading is no longer kept (two newer ones replaced it while the save
   * read slowly): ask for a new save.
   */
  snapshotGone: 'SNAPSHOT_GONE',
  /** A configuration value or command-line flag is invalid. */
  badConfig: 'BAD_CONFIG',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
