// The public face of the state-machine layer: the built-in key/value store, its operations and
// results with their encoding, and its limits.

export {
  checkKvLimits,
  type KvLimits,
  keySizeMaxBytes,
  kvLimitsDefault,
  kvLimitsTiny,
  valueSizeMaxBytes,
} from './kv-limits.js';
export {
  decodeOperation,
  decodeResult,
  encodeOperation,
  encodeResult,
  isReadOnly,
  type KvOperation,
  type KvOperationKind,
  type KvOperationOf,
  type KvResult,
  type KvResultOf,
  kvOperation,
} from './kv-operations.js';
export { createKeyValueStore, keyValueService } from './kv-service.js';
export { KeyValueStore } from './kv-store.js';
