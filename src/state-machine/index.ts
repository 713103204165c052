// The public face of the state-machine layer: the built-in key/value store, its operations and
// results with their encoding, and its limits.

export {
  type ExpireCondition,
  type Expiry,
  expireConditions,
  expiryAtMsMax,
} from './kv-expiry.js';
export { globMatches } from './kv-glob.js';
export { SCAN_CURSOR_BUILDING } from './kv-key-buckets.js';
export { halfSipHash, type ScanSeed } from './kv-key-hash.js';
export {
  checkKvLimits,
  entryOverheadBytes,
  type KvLimits,
  keySizeMaxBytes,
  keysPerOperationMax,
  kvLimitsDefault,
  kvLimitsTiny,
  operationsPerSequenceMax,
  readBytesMax,
  storeBytesMax,
  valueSizeMaxBytes,
} from './kv-limits.js';
export {
  decodeOperation,
  decodeResult,
  encodeOperation,
  encodeResult,
  isReadOnly,
  isValueCondition,
  type KvOperation,
  type KvOperationKind,
  type KvOperationOf,
  type KvReadOperation,
  type KvResult,
  type KvResultOf,
  type KvSingleKeyOperation,
  keysPageCount,
  kvOperation,
  type PutCondition,
  putConditions,
  type SetCondition,
} from './kv-operations.js';
export {
  decodeSequence,
  decodeSequenceResult,
  decodeSequenceResultAlone,
  encodeSequence,
  encodeSequenceResult,
  isReadOnlySequence,
  isSequence,
  isSequenceResult,
  type KvEncodedOutcome,
  type KvOutcome,
  type KvSequence,
} from './kv-sequence.js';
export { createKeyValueStore, keyValueService } from './kv-service.js';
export { keyValueStoreOfSnapshot, textValueOf } from './kv-snapshot-reader.js';
export { KeyValueStore } from './kv-store.js';
