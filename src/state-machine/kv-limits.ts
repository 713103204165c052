// The limits of the built-in key/value store, named once. A store takes a `KvLimits` so tests can
// run with `kvLimitsTiny` and actually reach the refusal paths; `checkKvLimits` guards the
// relations between limits that the store relies on.

import { assert } from '../protocol/assert.js';

/** The longest key the store accepts. */
export const keySizeMaxBytes = 1024;
/** The longest value the store holds, whether put, swapped in or grown by append. */
export const valueSizeMaxBytes = 1024 * 1024;
/** Length of the longest number incr can write: "-9007199254740991". */
export const integerTextSizeMaxBytes = String(-Number.MAX_SAFE_INTEGER).length;

export interface KvLimits {
  readonly keySizeMaxBytes: number;
  readonly valueSizeMaxBytes: number;
}

export const kvLimitsDefault: KvLimits = { keySizeMaxBytes, valueSizeMaxBytes };

/** Small enough that random workloads hit the key, value and append limits. */
export const kvLimitsTiny: KvLimits = { keySizeMaxBytes: 8, valueSizeMaxBytes: 24 };

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
}

checkKvLimits(kvLimitsDefault);
checkKvLimits(kvLimitsTiny);
