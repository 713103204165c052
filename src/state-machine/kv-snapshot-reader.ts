// The key/value store a snapshot payload holds, read outside a replica: what a saved snapshot (or a
// replica's kept one) says each key holds. The simulator, the chaos runner and `snapshot status`
// read saves this way, and the tests read kept snapshots.

import { decodeSnapshotPayload } from '../protocol/snapshot-payload.js';
import { decodeResult, encodeOperation, kvOperation } from './kv-operations.js';
import { KeyValueStore } from './kv-store.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The store a snapshot payload (snapshot-payload.ts) of the key/value service holds. */
export function keyValueStoreOfSnapshot(payload: Uint8Array): KeyValueStore {
  const store = new KeyValueStore();
  store.restore(decodeSnapshotPayload(payload).state);
  return store;
}

/** `key`'s value in `store` as UTF-8 text, or null where it is absent. */
export function textValueOf(store: KeyValueStore, key: string): string | null {
  const { value } = decodeResult('get', store.query(encodeOperation(kvOperation.get(encoder.encode(key)))));
  return value === null ? null : decoder.decode(value);
}
