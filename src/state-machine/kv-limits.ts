// The limits of the built-in key/value store, named once. A store takes a `KvLimits` so tests can
// run with `kvLimitsTiny` and actually reach the refusal paths; `checkKvLimits` guards the
// relations between limits that the store relies on.

import { assert } from '../protocol/assert.js';

/** The longest key the store accepts. */
export const keySizeMaxBytes = 1024;
/** The longest value the store holds, whether put, swapped in or grown by append. */
export const valueSizeMaxBytes = 1024 * 1024;
/** Keys one operation may name (get-many, lengths, put-many, delete-many). */
export const keysPerOperationMax = 10_000;
/**
 * The most value bytes one multi-key read may answer: its reply must fit a frame (16 MiB) with room
 * to spare, whatever the keys hold.
 */
export const readBytesMax = 8 * 1024 * 1024;
/** Length of the longest number incr can write: "-9007199254740991". */
export const integerTextSizeMaxBytes = String(-Number.MAX_SAFE_INTEGER).length;

export interface KvLimits {
  readonly keySizeMaxBytes: number;
  readonly valueSizeMaxBytes: number;
  readonly keysPerOperationMax: number;
  readonly readBytesMax: number;
}

export const kvLimitsDefault: KvLimits = {
  keySizeMaxBytes,
  valueSizeMaxBytes,
  keysPerOperationMax,
  readBytesMax,
};

/** Small enough that random workloads hit the key, value, append and multi-key limits. */
export const kvLimitsTiny: KvLimits = {
  keySizeMaxBytes: 8,
  valueSizeMaxBytes: 24,
  keysPerOperationMax: 4,
  readBytesMax: 40,
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
  // A multi-key read of one key answers whatever a get would.
  assert(
    Number.isSafeInteger(limits.readBytesMax) && limits.readBytesMax >= limits.valueSizeMaxBytes,
    'readBytesMax must hold the largest value',
  );
}

checkKvLimits(kvLimitsDefault);
checkKvLimits(kvLimitsTiny);
