// A batch of key/value updates applied as one: what a multi-key write (put-many, delete-many) logs,
// so every replica applies all of its effects at the same log index or none of them. Kept apart
// from kv-updates.ts, whose single-key layout it wraps without changing:
//
//   0xc1 (the binary marker), the kind 4 (batch), then per part a u32 (little endian) length and
//   the part: a binary update of kv-updates.ts (set, append, delete, expire, persist, clear or scan
//   seed), never another batch.

import { asBuffer } from '../buffers.js';
import { binaryUpdateMarker } from './kv-updates.js';

export const batchUpdateKind = 4;
const headerBytes = 2;
const partLengthBytes = 4;

/** One update holding `parts` (each from encodeUpdate); apply them in order. */
export function encodeBatchUpdate(parts: readonly Uint8Array[]): Uint8Array {
  let size = headerBytes;
  for (const part of parts) size += partLengthBytes + part.byteLength;
  const out = Buffer.allocUnsafe(size);
  out[0] = binaryUpdateMarker;
  out[1] = batchUpdateKind;
  let offset = headerBytes;
  for (const part of parts) {
    out.writeUInt32LE(part.byteLength, offset);
    out.set(part, offset + partLengthBytes);
    offset += partLengthBytes + part.byteLength;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

export function isBatchUpdate(update: Uint8Array): boolean {
  return (
    update.byteLength >= headerBytes && update[0] === binaryUpdateMarker && update[1] === batchUpdateKind
  );
}

/**
 * Whether some part of a batch update passes `test`, walking the parts in place (none is copied).
 * A part whose length runs past the end is not tested.
 */
export function someBatchPart(update: Uint8Array, test: (part: Uint8Array) => boolean): boolean {
  const bytes = asBuffer(update);
  let offset = headerBytes;
  while (offset + partLengthBytes <= bytes.length) {
    const end = offset + partLengthBytes + bytes.readUInt32LE(offset);
    if (end > bytes.length) return false;
    if (test(update.subarray(offset + partLengthBytes, end))) return true;
    offset = end;
  }
  return false;
}

/** The parts of a batch update (views into it), or null if its lengths do not add up or a part is a batch. */
export function decodeBatchUpdate(update: Uint8Array): Uint8Array[] | null {
  if (!isBatchUpdate(update)) return null;
  const bytes = asBuffer(update);
  const parts: Uint8Array[] = [];
  let offset = headerBytes;
  while (offset < bytes.length) {
    if (offset + partLengthBytes > bytes.length) return null;
    const end = offset + partLengthBytes + bytes.readUInt32LE(offset);
    if (end > bytes.length) return null;
    const part = update.subarray(offset + partLengthBytes, end);
    if (isBatchUpdate(part)) return null;
    parts.push(part);
    offset = end;
  }
  return parts;
}
