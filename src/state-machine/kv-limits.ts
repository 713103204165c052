// The limits of the built-in key/value store, named once. A store takes a `KvLimits` so tests can
// run with `kvLimitsTiny` and actually reach the refusal paths; `checkKvLimits` guards the
// relations between limits that the store relies on.

import { getHeapStatistics } from 'node:v8';
import { assert } from '../protocol/assert.js';

/** The longest key the store accepts. */
export const keySizeMaxBytes = 1024;
/** The longest value the store holds, whether put, swapped in or grown by append. */
export const valueSizeMaxBytes = 1024 * 1024;
/** Keys one operation may name (get-many, lengths, put-many, delete-many). */
export const keysPerOperationMax = 10_000;
/** Operations one sequence may hold (kv-sequence.ts): a Redis pipeline is sent in sequences of at most this many. */
export const operationsPerSequenceMax = 1024;
/**
 * The most result bytes a sequence with a write may answer (past its first operation): its results are
 * kept in its log entry with its update, and an entry must fit a Prepare (4 MiB by default), so a
 * sequence of writes and large reads is cut (NOT_RUN) rather than refused as a whole.
 */
export const writeSequenceResultBytesMax = 1024 * 1024;
/**
 * The most value bytes one multi-key read may answer: its reply must fit a frame (16 MiB) with room
 * to spare, whatever the keys hold.
 */
export const readBytesMax = 8 * 1024 * 1024;
/**
 * The most keys one scan call looks at, whatever COUNT it asks (Redis's COUNT is a hint), and puts in
 * SCAN's buckets while it makes them (kv-key-buckets.ts): about 10-20 ms of the event loop, where all
 * 320,000 keys of a large store at once took 340 ms to put in buckets and 2.5 s to answer.
 */
export const scanKeysPerCallMax = 16_384;
/**
 * The most keys the store holds. Its keys live in one JavaScript Map, and a Map holds at most 2^24
 * (16,777,216) entries: one more throws. The throw would come in `apply`, on every replica at the
 * same log entry, and again at every restart as the log is replayed: the cluster would be down for
 * good. So a write that would add a key past this is refused with STORE_FULL when it executes.
 */
export const keysMax = 16_000_000;
/**
 * What the store counts for each key besides its key and value bytes: the key's and value's string
 * headers and the Map's entry, 62-66 bytes measured on Node 20 (docs/PERFORMANCE.md, "How big a
 * store"), so the count follows the heap the store takes whether it holds few large values or many
 * small ones.
 */
export const entryOverheadBytes = 64;
/**
 * The most the store holds, counted as its keys' and values' bytes plus entryOverheadBytes a key: a
 * quarter of this process's V8 heap limit (4 GiB on a machine with 16 GiB or more, so 1 GiB; raise
 * it with `--max-old-space-size`). Its state lives in the heap, and a replica that runs out of heap
 * dies in `apply`, every replica at the same log entry and again at every restart as it replays the
 * log; a quarter leaves room for the log held in memory, a snapshot's capture, and a restore, which
 * holds the old state and the new one at once. Measured: a process holding the store alone died at
 * 3.0 GiB of 64 KiB values with that 4 GiB limit.
 */
export const storeBytesMax = Math.floor(getHeapStatistics().heap_size_limit / 4);
/** What one JavaScript Map can hold (V8): the store's keys must stay below it. */
const mapEntriesMax = 2 ** 24;
/** Length of the longest number incr can write: "-9007199254740991". */
export const integerTextSizeMaxBytes = String(-Number.MAX_SAFE_INTEGER).length;

export interface KvLimits {
  readonly keySizeMaxBytes: number;
  readonly valueSizeMaxBytes: number;
  readonly keysPerOperationMax: number;
  readonly operationsPerSequenceMax: number;
  readonly writeSequenceResultBytesMax: number;
  readonly readBytesMax: number;
  readonly scanKeysPerCallMax: number;
  readonly keysMax: number;
  readonly storeBytesMax: number;
}

export const kvLimitsDefault: KvLimits = {
  keySizeMaxBytes,
  valueSizeMaxBytes,
  keysPerOperationMax,
  operationsPerSequenceMax,
  writeSequenceResultBytesMax,
  readBytesMax,
  scanKeysPerCallMax,
  keysMax,
  storeBytesMax,
};

/**
 * Small enough that random workloads hit the key, value, append, multi-key, key-count and store-size
 * limits (four keys of the largest size would take 384 bytes).
 */
export const kvLimitsTiny: KvLimits = {
  keySizeMaxBytes: 8,
  valueSizeMaxBytes: 24,
  keysPerOperationMax: 4,
  operationsPerSequenceMax: 4,
  writeSequenceResultBytesMax: 30,
  readBytesMax: 40,
  scanKeysPerCallMax: 2,
  keysMax: 4,
  storeBytesMax: 300,
};

export function checkKvLimits(limits: KvLimits): void {
  assert(
    Number.isSafeInteger(limits.keySizeMaxBytes) && limits.keySizeMaxBytes >= 1,
    'keys may be non-empty',
  );
  // An incr never fails for lack of room: any safe integer's text fits in a value.
  assert(
    Number.isSafeInteger(limits.valueSizeMaxBytes) && limits.valueSizeMaxBytes >= integerTextSizeMaxBytes,
    `valueSizeMaxBytes must hold any integer incr writes (${integerTextSizeMaxBytes} bytes)`,
  );
  assert(
    Number.isSafeInteger(limits.keysPerOperationMax) && limits.keysPerOperationMax >= 1,
    'a multi-key operation may name a key',
  );
  assert(
    Number.isSafeInteger(limits.operationsPerSequenceMax) && limits.operationsPerSequenceMax >= 1,
    'a sequence may hold an operation',
  );
  assert(
    Number.isSafeInteger(limits.writeSequenceResultBytesMax) &&
      limits.writeSequenceResultBytesMax >= 1 &&
      limits.writeSequenceResultBytesMax <= limits.readBytesMax,
    'writeSequenceResultBytesMax is positive and no more than readBytesMax',
  );
  // A multi-key read of one key answers whatever a get would.
  assert(
    Number.isSafeInteger(limits.readBytesMax) && limits.readBytesMax >= limits.valueSizeMaxBytes,
    'readBytesMax must hold the largest value',
  );
  assert(
    Number.isSafeInteger(limits.scanKeysPerCallMax) && limits.scanKeysPerCallMax >= 1,
    'a scan call looks at one key at least',
  );
  assert(
    Number.isSafeInteger(limits.keysMax) &&
      limits.keysMax >= limits.keysPerOperationMax &&
      limits.keysMax < mapEntriesMax,
    `keysMax must let one multi-key write fill an empty store, and stay below a Map's ${mapEntriesMax} entries`,
  );
  const largestEntry = limits.keySizeMaxBytes + limits.valueSizeMaxBytes + entryOverheadBytes;
  assert(
    Number.isSafeInteger(limits.storeBytesMax) && limits.storeBytesMax >= largestEntry,
    `storeBytesMax must hold one entry of the largest key and value (${largestEntry} bytes)`,
  );
}

checkKvLimits(kvLimitsDefault);
checkKvLimits(kvLimitsTiny);
