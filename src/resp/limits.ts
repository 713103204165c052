// The limits of the Redis-protocol port, named once. Each is checked before anything is allocated
// for what it bounds, so a client cannot make a replica buffer more than about one command's worth
// of its bytes; the relations between them are checked below, as the key/value limits are.

import { assert } from '../protocol/assert.js';
import {
  keysPerOperationMax,
  operationsPerSequenceMax,
  valueSizeMaxBytes,
} from '../state-machine/kv-limits.js';

/** A line without its newline (an inline command, or a `*`/`$` header): Redis's PROTO_INLINE_MAX_SIZE. */
export const inlineBytesMax = 64 * 1024;
/**
 * One bulk string (a key or value argument). Above the store's value limit, so that a value that is
 * only somewhat too long gets the store's own VALUE_TOO_LARGE answer on a connection that stays up;
 * beyond this the stream is refused as a protocol error, as Redis refuses past proto-max-bulk-len.
 */
export const bulkBytesMax = 4 * valueSizeMaxBytes;
/** Arguments of one command: enough for MSET of the most keys an operation may name. */
export const argumentsMax = 2 * keysPerOperationMax + 1;
/** All argument bytes of one command: a command must fit in one request frame to the primary. */
export const commandBytesMax = 12 * 1024 * 1024;
/** Commands read from one connection and not yet answered; reading pauses beyond it. */
export const pipelinedCommandsMax = 1024;
/** Pipelined key/value commands run as one sequence (pipeline.ts), at most. */
export const pipelineSequenceCommandsMax = 256;
/** The argument bytes of the commands of one sequence, at most (a command past it starts the next). */
export const pipelineSequenceBytesMax = 1024 * 1024;
/** How long INFO waits for the coordinator's view of the other replicas before it leaves them out. */
export const infoStatusWaitMs = 300;
/** A connection name (CLIENT SETNAME), in bytes. */
export const clientNameBytesMax = 256;

assert(bulkBytesMax <= commandBytesMax, 'one bulk string fits a command');
assert(pipelineSequenceCommandsMax <= operationsPerSequenceMax, 'a pipeline sequence is one the store takes');
assert(
  pipelineSequenceBytesMax + pipelineSequenceCommandsMax * 16 < commandBytesMax,
  'a pipeline sequence fits a request frame as a command does',
);
assert(valueSizeMaxBytes <= bulkBytesMax, 'the largest value the store holds fits a bulk string');
assert(commandBytesMax < 16 * 1024 * 1024, 'a command fits a request frame (16 MiB) with its envelope');
/** Client connections one port accepts at once; beyond it new ones are refused. */
export const connectionsMax = 10_000;
/**
 * The keys one connection may WATCH at once: its guard is one expect operation at EXEC (watch.ts).
 */
export const watchedKeysMax = keysPerOperationMax;
/** The bytes of the watched keys and of the values they held when watched, at most, per connection. */
export const watchedBytesMax = valueSizeMaxBytes;

assert(
  watchedBytesMax + pipelineSequenceBytesMax < commandBytesMax,
  'a guard fits a request frame beside a transaction',
);
