// The key/value store's updates, the side effects every replica applies from the log. Written in a
// fixed binary layout: a primary built each as msgpack and every replica unpacked it again, several
// microseconds and a few copies per write. Updates logged by older builds are msgpack
// (`['set', key, value]`, `['append', key, suffix]`, `['delete', key]`); they are still applied.
//
//   0xc1 (a byte msgpack never uses), the kind (1 set, 2 append, 3 delete, 5 expire, 6 persist, 7
//   clear, 8 scan seed), a u32 (little endian) key length, the key, then for set and append the
//   value (or suffix) up to the end, for expire the time it expires at (Unix milliseconds, f64). A
//   clear names no key (length 0); nor does a scan seed, whose two u32 words follow.
//   Kind 4 is a batch of these (a multi-key write): kv-batch-updates.ts.
//
// A set or an append keeps the key's time to live; a delete ends it with the key; expire sets it and
// persist removes it (kv-expiry.ts); a clear deletes every key. A scan seed keys the hash of SCAN's
// buckets (kv-key-hash.ts): the primary adds one to the first write of a store that has none, and
// only the first a store applies counts, so every replica holds the same.

import { asBuffer } from '../buffers.js';
import type { ScanSeed } from './kv-key-hash.js';

export const binaryUpdateMarker = 0xc1;

export type KvUpdate =
  | { readonly kind: 'set' | 'append'; readonly key: string; readonly value: string }
  | { readonly kind: 'delete' | 'persist'; readonly key: string }
  | { readonly kind: 'expire'; readonly key: string; readonly atMs: number }
  /** Every key deleted. */
  | { readonly kind: 'clear' }
  /** The key of SCAN's bucket hash, unless the store has one already. */
  | { readonly kind: 'scan-seed'; readonly seed: ScanSeed };

const kindCodes = { set: 1, append: 2, delete: 3, expire: 5, persist: 6, clear: 7, scanSeed: 8 } as const;
const headerBytes = 6;
const expiryBytes = 8;
const seedBytes = 8;

export function encodeUpdate(
  kind: 'set' | 'append' | 'delete' | 'persist',
  key: Uint8Array,
  value?: Uint8Array,
): Uint8Array {
  const valueBytes = value?.byteLength ?? 0;
  const out = Buffer.allocUnsafe(headerBytes + key.byteLength + valueBytes);
  out[0] = binaryUpdateMarker;
  out[1] = kindCodes[kind];
  out.writeUInt32LE(key.byteLength, 2);
  out.set(key, headerBytes);
  if (value !== undefined) out.set(value, headerBytes + key.byteLength);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** The update, or null if the bytes are not a binary update of a known kind and shape. */
export function decodeBinaryUpdate(update: Uint8Array): KvUpdate | null {
  if (update.byteLength < headerBytes || update[0] !== binaryUpdateMarker) return null;
  const bytes = asBuffer(update); // a backup's updates are Buffers already (views of the Prepare)
  const keyEnd = headerBytes + bytes.readUInt32LE(2);
  if (keyEnd > bytes.length) return null;
  const key = bytes.toString('latin1', headerBytes, keyEnd);
  switch (bytes[1]) {
    case kindCodes.set:
      return { kind: 'set', key, value: bytes.toString('latin1', keyEnd) };
    case kindCodes.append:
      return { kind: 'append', key, value: bytes.toString('latin1', keyEnd) };
    case kindCodes.delete:
      return keyEnd === bytes.length ? { kind: 'delete', key } : null;
    case kindCodes.persist:
      return keyEnd === bytes.length ? { kind: 'persist', key } : null;
    case kindCodes.clear:
      return keyEnd === headerBytes && keyEnd === bytes.length ? { kind: 'clear' } : null;
    case kindCodes.scanSeed:
      return keyEnd === headerBytes && keyEnd + seedBytes === bytes.length
        ? {
            kind: 'scan-seed',
            seed: { low: bytes.readUInt32LE(keyEnd), high: bytes.readUInt32LE(keyEnd + 4) },
          }
        : null;
    case kindCodes.expire: {
      if (keyEnd + expiryBytes !== bytes.length) return null;
      const atMs = bytes.readDoubleLE(keyEnd);
      return Number.isSafeInteger(atMs) ? { kind: 'expire', key, atMs } : null;
    }
    default:
      return null;
  }
}

/** The update that deletes every key. */
export function encodeClearUpdate(): Uint8Array {
  const out = Buffer.alloc(headerBytes);
  out[0] = binaryUpdateMarker;
  out[1] = kindCodes.clear;
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** The update that makes `key` expire at `atMs` (Unix milliseconds). */
export function encodeExpireUpdate(key: Uint8Array, atMs: number): Uint8Array {
  const out = Buffer.allocUnsafe(headerBytes + key.byteLength + expiryBytes);
  out[0] = binaryUpdateMarker;
  out[1] = kindCodes.expire;
  out.writeUInt32LE(key.byteLength, 2);
  out.set(key, headerBytes);
  out.writeDoubleLE(atMs, headerBytes + key.byteLength);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Whether `update` is a scan seed (format level 2), read from its first two bytes alone. */
export function isScanSeedUpdate(update: Uint8Array): boolean {
  return update.byteLength >= 2 && update[0] === binaryUpdateMarker && update[1] === kindCodes.scanSeed;
}

/** The update that keys SCAN's bucket hash with `seed` in a store that has no seed yet. */
export function encodeScanSeedUpdate(seed: ScanSeed): Uint8Array {
  const out = Buffer.alloc(headerBytes + seedBytes);
  out[0] = binaryUpdateMarker;
  out[1] = kindCodes.scanSeed;
  out.writeUInt32LE(seed.low >>> 0, headerBytes);
  out.writeUInt32LE(seed.high >>> 0, headerBytes + 4);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
