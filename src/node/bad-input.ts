// What a server does with bad input from a connection: close that one connection, count it, log
// it once when it has closed. Any other error is our own bug and is rethrown.

import { BadFrameError } from '../errors.js';
import { type MessageConnection, transportCounters } from '../transport/index.js';
import type { Logger } from './logger.js';

export function refuseBadInput(connection: MessageConnection, error: unknown): void {
  if (!(error instanceof BadFrameError)) throw error;
  connection.fail(error.code, error.message);
}

export function logIfClosedForBadInput(logger: Logger, error: Error | undefined): void {
  if (!(error instanceof BadFrameError)) return;
  logger.warn(
    { reason: error.message, badFrames: transportCounters.badFrames },
    'closed a connection that sent a bad frame',
  );
}

export function logRejectedHandshake(logger: Logger, reason: string): void {
  logger.warn(
    {
      reason,
      badFrames: transportCounters.badFrames,
      handshakesRefused: transportCounters.handshakesRefused,
      tlsIdentitiesRefused: transportCounters.tlsIdentitiesRefused,
    },
    'closed a connection that sent a bad frame or handshake',
  );
}
