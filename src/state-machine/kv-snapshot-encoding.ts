// The key/value store's snapshot layout, encoded a piece at a time. A snapshot begins with a capture of
// the store's shards (kv-entries.ts: nothing is copied, and a write to a captured shard changes a copy
// of it), whose sizes give the output's size; the shards are then encoded in order, whole shards up to
// 1 MiB or 8192 entries per piece, which the replica writes to the snapshot file before it asks for the next, serving
// requests and heartbeats in between. A shard larger than that has its entries copied out and is
// encoded over several pieces. Each shard is released once read, so writes stop copying it.
//
// Layout: a u8 format version, a u32 count, then per entry a u32 key length, the key (latin1: one
// byte per character), a u32 value length, the value (the same); little endian.

import { assert } from '../protocol/assert.js';
import type { SnapshotEncoding } from '../protocol/state-machine.js';
import { entryFramingBytes, type KvCapture } from './kv-entries.js';

/** Work per piece, whichever limit comes first (unless one shard or entry is larger). */
export interface PieceLimits {
  readonly bytes: number;
  readonly entries: number;
}

/** A piece of these takes a few milliseconds. */
export const pieceLimitsDefault: PieceLimits = { bytes: 1024 * 1024, entries: 8192 };
const headerBytes = 5;
const fieldLengthBytes = 4;

export class KvSnapshotEncoding implements SnapshotEncoding {
  readonly sizeBytes: number;
  readonly #capture: KvCapture;
  readonly #version: number;
  #nextShard = 0;
  #headerWritten = false;
  /** The entries of a shard too large for one piece, copied out, and the next one to encode. */
  #keys: string[] = [];
  #values: string[] = [];
  #nextEntry = 0;

  readonly #limits: PieceLimits;

  constructor(capture: KvCapture, version: number, limits: PieceLimits = pieceLimitsDefault) {
    this.#capture = capture;
    this.#version = version;
    this.#limits = limits;
    this.sizeBytes = headerBytes + capture.bytes;
  }

  next(): Uint8Array | null {
    if (this.#nextEntry < this.#keys.length) return this.#copiedPiece();
    const capture = this.#capture;
    const limits = this.#limits;
    const room = limits.bytes - (this.#headerWritten ? 0 : headerBytes);
    const first = this.#nextShard < capture.length ? capture.shard(this.#nextShard) : null;
    if (first !== null && (first.bytes > room || first.map.size > limits.entries)) {
      this.#copyOut(this.#nextShard);
      return this.#copiedPiece();
    }
    if (this.#nextShard === capture.length && this.#headerWritten) return null;
    let end = this.#nextShard;
    let bytes = 0;
    let entries = 0;
    for (; end < capture.length; end++) {
      const shard = capture.shard(end);
      if (bytes + shard.bytes > room || entries + shard.map.size > limits.entries) break;
      bytes += shard.bytes;
      entries += shard.map.size;
    }
    const out = this.#startPiece(bytes);
    let offset = this.#headerWritten ? 0 : this.#writeHeader(out);
    const encodeEntry = (value: string, key: string) => {
      offset = writeField(out, writeField(out, offset, key), value);
    };
    for (; this.#nextShard < end; this.#nextShard++) {
      capture.shard(this.#nextShard).map.forEach(encodeEntry);
      capture.release(this.#nextShard);
    }
    assert(offset === out.length, `a snapshot piece came to ${offset} bytes, its shards to ${out.length}`);
    return out;
  }

  /** Copies the entries of the shard at `index` out and releases it. */
  #copyOut(index: number): void {
    const shard = this.#capture.shard(index);
    const keys = new Array<string>(shard.map.size);
    const values = new Array<string>(shard.map.size);
    let at = 0;
    // forEach, not for...of: destructuring [key, value] makes a pair per entry.
    shard.map.forEach((value, key) => {
      keys[at] = key;
      values[at] = value;
      at += 1;
    });
    this.#keys = keys;
    this.#values = values;
    this.#nextEntry = 0;
    this.#capture.release(index);
    this.#nextShard = index + 1;
  }

  /** The next piece of a copied-out shard: entries up to a piece's limits, one at least. */
  #copiedPiece(): Uint8Array {
    const keys = this.#keys;
    const values = this.#values;
    let bytes = 0;
    let end = this.#nextEntry;
    const room = this.#limits.bytes - (this.#headerWritten ? 0 : headerBytes);
    const last = Math.min(keys.length, this.#nextEntry + this.#limits.entries);
    while (end < last) {
      const entryBytes = entryFramingBytes + (keys[end] as string).length + (values[end] as string).length;
      if (end > this.#nextEntry && bytes + entryBytes > room) break;
      bytes += entryBytes;
      end += 1;
    }
    const out = this.#startPiece(bytes);
    let offset = this.#headerWritten ? 0 : this.#writeHeader(out);
    for (let index = this.#nextEntry; index < end; index++) {
      offset = writeField(out, writeField(out, offset, keys[index] as string), values[index] as string);
    }
    this.#nextEntry = end;
    if (end === keys.length) {
      // The copied references are not needed any more.
      this.#keys = [];
      this.#values = [];
      this.#nextEntry = 0;
    }
    return out;
  }

  /** A buffer for `entryBytes` of entries, and the header if it is still to come. */
  #startPiece(entryBytes: number): Buffer {
    return Buffer.allocUnsafe(entryBytes + (this.#headerWritten ? 0 : headerBytes));
  }

  #writeHeader(out: Buffer): number {
    out.writeUInt8(this.#version, 0);
    out.writeUInt32LE(this.#capture.count, 1);
    this.#headerWritten = true;
    return headerBytes;
  }
}

/** Writes a u32 length and the latin1 bytes of `text`; returns the offset after them. */
function writeField(out: Buffer, offset: number, text: string): number {
  out.writeUInt32LE(text.length, offset);
  const start = offset + fieldLengthBytes;
  // By hand for short strings: several times faster than a call into Buffer's native write.
  if (text.length <= 64) {
    for (let at = 0; at < text.length; at++) out[start + at] = text.charCodeAt(at);
  } else {
    out.write(text, start, 'latin1');
  }
  return start + text.length;
}
