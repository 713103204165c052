// The key/value store's snapshot layout, encoded a piece at a time. A snapshot begins with a capture of
// the store's entries (kv-entries.ts: nothing is copied; the store keeps what the snapshot has not read
// yet as it was), whose count and size are known at once; the entries are then read and encoded a
// piece of at most 8192 entries or 1 MiB at a time, which the replica writes to the snapshot file
// before it asks for the next, serving requests and heartbeats in between. At 320,000 keys a copy of
// the whole state took 157-272 ms, and a copy of every reference 20-45 ms, on the event loop; one
// buffer of the whole snapshot (30 MB) each time left the C allocator holding ever more memory on the
// primary (docs/PERFORMANCE.md, "Steady run", "Memory through a 10-minute load").
//
// Layout: a u8 format version, a u32 count, then per entry a u32 key length, the key (latin1: one
// byte per character), a u32 value length, the value (the same); little endian.

import type { SnapshotEncoding } from '../protocol/state-machine.js';
import { entryFramingBytes, type KvCapture } from './kv-entries.js';

/** Work per piece, whichever limit comes first (a single larger entry gets a piece of its own). */
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
  readonly #limits: PieceLimits;
  #headerWritten = false;
  /** Entries read from the capture and not yet encoded, from `#next` on. */
  #keys: string[] = [];
  #values: string[] = [];
  #next = 0;

  constructor(capture: KvCapture, version: number, limits: PieceLimits = pieceLimitsDefault) {
    this.#capture = capture;
    this.#version = version;
    this.#limits = limits;
    this.sizeBytes = headerBytes + capture.bytes;
  }

  next(): Uint8Array | null {
    const keys = this.#keys;
    const values = this.#values;
    if (this.#next === keys.length) {
      keys.length = 0;
      values.length = 0;
      this.#next = 0;
      const taken = this.#capture.take(keys, values, this.#limits.entries);
      if (taken === 0 && this.#headerWritten) return null;
    }
    const room = this.#limits.bytes - (this.#headerWritten ? 0 : headerBytes);
    let bytes = 0;
    let end = this.#next;
    while (end < keys.length) {
      const entryBytes = entryFramingBytes + (keys[end] as string).length + (values[end] as string).length;
      if (end > this.#next && bytes + entryBytes > room) break;
      bytes += entryBytes;
      end += 1;
    }
    const out = Buffer.allocUnsafe(bytes + (this.#headerWritten ? 0 : headerBytes));
    let offset = 0;
    if (!this.#headerWritten) {
      out.writeUInt8(this.#version, 0);
      out.writeUInt32LE(this.#capture.count, 1);
      offset = headerBytes;
      this.#headerWritten = true;
    }
    for (let index = this.#next; index < end; index++) {
      offset = writeField(out, writeField(out, offset, keys[index] as string), values[index] as string);
    }
    this.#next = end;
    return out;
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
