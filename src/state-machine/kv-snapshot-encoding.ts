// The key/value store's snapshot layout, written a slice at a time. Taking a snapshot copies the
// references to every key and value (strings, which never change, so the references are the state
// at that moment) and sizes the output; the entries are then copied into it in slices of
// bounded work, between which the replica serves requests and heartbeats. At 320,000 keys the
// whole copy took 157-272 ms and three replicas doing it at once on two cores stopped each for
// 0.6-0.9 s, longer than the failure timeout (docs/PERFORMANCE.md, "Steady run").
//
// Layout: a u8 format version, a u32 count, then per entry a u32 key length, the key (latin1: one
// byte per character), a u32 value length, the value (the same); little endian.

import type { SnapshotEncoding } from '../protocol/state-machine.js';

/** Work per slice: whichever limit comes first. A slice takes a few milliseconds. */
const sliceEntriesMax = 8192;
const sliceBytesMax = 4 * 1024 * 1024;

export class KvSnapshotEncoding implements SnapshotEncoding {
  private readonly keys: string[];
  private readonly values: string[];
  private readonly size: number;
  private readonly version: number;
  /** Made by the first slice, with `front` bytes before the snapshot (reserveFront). */
  private out: Buffer | null = null;
  private front = 0;
  private nextEntry = 0;
  private offset = 0;

  /** Captures `entries` as they are now, in their Map order. */
  constructor(entries: ReadonlyMap<string, string>, version: number) {
    this.keys = new Array<string>(entries.size);
    this.values = new Array<string>(entries.size);
    let size = 5;
    let at = 0;
    for (const [key, value] of entries) {
      this.keys[at] = key;
      this.values[at] = value;
      size += 8 + key.length + value.length;
      at += 1;
    }
    this.size = size;
    this.version = version;
  }

  reserveFront(bytes: number): void {
    if (this.out !== null) throw new Error('reserveFront after the first slice');
    this.front = bytes;
  }

  next(): Uint8Array | null {
    const out = this.out ?? this.allocate();
    const { keys, values } = this;
    const end = Math.min(keys.length, this.nextEntry + sliceEntriesMax);
    const bytesEnd = this.offset + sliceBytesMax;
    let offset = this.offset;
    let index = this.nextEntry;
    for (; index < end && offset < bytesEnd; index++) {
      offset = writeField(out, offset, keys[index] as string);
      offset = writeField(out, offset, values[index] as string);
    }
    this.nextEntry = index;
    this.offset = offset;
    if (index < keys.length) return null;
    // The captured references are not needed any more; the output may live on in a file write.
    this.keys.length = 0;
    this.values.length = 0;
    return new Uint8Array(out.buffer, out.byteOffset + this.front, this.size);
  }

  private allocate(): Buffer {
    const out = Buffer.allocUnsafe(this.front + this.size);
    out.writeUInt8(this.version, this.front);
    out.writeUInt32LE(this.keys.length, this.front + 1);
    this.out = out;
    this.offset = this.front + 5;
    return out;
  }
}

/** Writes a u32 length and the latin1 bytes of `text`; returns the offset after them. */
function writeField(out: Buffer, offset: number, text: string): number {
  out.writeUInt32LE(text.length, offset);
  const start = offset + 4;
  // By hand for short strings: several times faster than a call into Buffer's native write.
  if (text.length <= 64) {
    for (let at = 0; at < text.length; at++) out[start + at] = text.charCodeAt(at);
  } else {
    out.write(text, start, 'latin1');
  }
  return start + text.length;
}
