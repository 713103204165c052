// The key/value store's snapshot layout, written a slice at a time. Taking a snapshot copies the
// references to every key and value (values are never changed in place, so the references are the
// state at that moment) and sizes the output; the entries are then copied into it in slices of
// bounded work, between which the replica serves requests and heartbeats. At 320,000 keys the
// whole copy took 157-272 ms and three replicas doing it at once on two cores stopped each for
// 0.6-0.9 s, longer than the failure timeout (docs/PERFORMANCE.md, "Steady run").
//
// Layout: a u8 format version, a u32 count, then per entry a u32 key length, the key (latin1: one
// byte per character), a u32 value length, the value; little endian.

import type { SnapshotEncoding } from '../protocol/state-machine.js';

/** Work per slice: whichever limit comes first. A slice takes a few milliseconds. */
const sliceEntriesMax = 8192;
const sliceBytesMax = 4 * 1024 * 1024;

export class KvSnapshotEncoding implements SnapshotEncoding {
  private readonly keys: string[];
  private readonly values: Uint8Array[];
  private readonly out: Buffer;
  private nextEntry = 0;
  private offset = 5;

  /** Captures `entries` as they are now, in their Map order. */
  constructor(entries: ReadonlyMap<string, Uint8Array>, version: number) {
    this.keys = new Array<string>(entries.size);
    this.values = new Array<Uint8Array>(entries.size);
    let size = 5;
    let at = 0;
    for (const [key, value] of entries) {
      this.keys[at] = key;
      this.values[at] = value;
      size += 8 + key.length + value.byteLength;
      at += 1;
    }
    this.out = Buffer.allocUnsafe(size);
    this.out.writeUInt8(version, 0);
    this.out.writeUInt32LE(entries.size, 1);
  }

  next(): Uint8Array | null {
    const { keys, values, out } = this;
    const end = Math.min(keys.length, this.nextEntry + sliceEntriesMax);
    const bytesEnd = this.offset + sliceBytesMax;
    let offset = this.offset;
    let index = this.nextEntry;
    for (; index < end && offset < bytesEnd; index++) {
      const key = keys[index] as string;
      const value = values[index] as Uint8Array;
      out.writeUInt32LE(key.length, offset);
      offset += 4;
      // Copied by hand: for short keys several times faster than a Buffer.write call.
      for (let at = 0; at < key.length; at++) out[offset + at] = key.charCodeAt(at);
      offset += key.length;
      out.writeUInt32LE(value.byteLength, offset);
      out.set(value, offset + 4);
      offset += 4 + value.byteLength;
    }
    this.nextEntry = index;
    this.offset = offset;
    if (index < keys.length) return null;
    // The captured references are not needed any more; the output may live on in a file write.
    this.keys.length = 0;
    this.values.length = 0;
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
}
