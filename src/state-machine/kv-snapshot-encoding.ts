// The key/value store's snapshot layout, encoded a piece at a time. Taking a snapshot copies the
// references to every key and value (strings, which never change, so the references are the state
// at that moment) and sizes the output; the entries are then encoded a piece of at most 1 MiB at a
// time, which the replica writes to the snapshot file before it asks for the next, serving requests
// and heartbeats in between. At 320,000 keys the whole copy took 157-272 ms and three replicas doing
// it at once on two cores stopped each for 0.6-0.9 s, longer than the failure timeout; and one
// buffer of the whole snapshot (30 MB) each time left the C allocator holding ever more memory on
// the primary (docs/PERFORMANCE.md, "Steady run", "Memory through a 10-minute load").
//
// Layout: a u8 format version, a u32 count, then per entry a u32 key length, the key (latin1: one
// byte per character), a u32 value length, the value (the same); little endian.

import type { SnapshotEncoding } from '../protocol/state-machine.js';

/** Work per piece: whichever limit comes first. A piece takes a few milliseconds. */
const pieceEntriesMax = 8192;
const pieceBytesMax = 1024 * 1024;
const headerBytes = 5;
const fieldLengthBytes = 4;

export class KvSnapshotEncoding implements SnapshotEncoding {
  readonly sizeBytes: number;
  private readonly keys: string[];
  private readonly values: string[];
  private readonly version: number;
  /** Room for the header and the largest entry, at least: every piece holds one entry or more. */
  private readonly pieceBytes: number;
  private nextEntry = 0;
  /** Bytes returned in pieces so far; the first piece starts with the header. */
  private bytesReturned = 0;

  /** Captures `entries` as they are now, in their Map order. */
  constructor(entries: ReadonlyMap<string, string>, version: number) {
    this.keys = new Array<string>(entries.size);
    this.values = new Array<string>(entries.size);
    let size = headerBytes;
    let largestEntry = 0;
    let at = 0;
    // forEach, not for...of: destructuring [key, value] made a pair per entry, 320,000 pairs at once on
    // the event loop, and every allocation there pays for steps of the collector's marking.
    entries.forEach((value, key) => {
      this.keys[at] = key;
      this.values[at] = value;
      const entryBytes = 2 * fieldLengthBytes + key.length + value.length;
      size += entryBytes;
      if (entryBytes > largestEntry) largestEntry = entryBytes;
      at += 1;
    });
    this.sizeBytes = size;
    this.version = version;
    this.pieceBytes = Math.max(pieceBytesMax, headerBytes + largestEntry);
  }

  next(): Uint8Array | null {
    const { keys, values } = this;
    if (this.bytesReturned > 0 && this.nextEntry === keys.length) {
      // The captured references are not needed any more.
      this.keys.length = 0;
      this.values.length = 0;
      return null;
    }
    const out = Buffer.allocUnsafe(Math.min(this.pieceBytes, this.sizeBytes - this.bytesReturned));
    let offset = 0;
    if (this.bytesReturned === 0) {
      out.writeUInt8(this.version, 0);
      out.writeUInt32LE(keys.length, 1);
      offset = headerBytes;
    }
    const end = Math.min(keys.length, this.nextEntry + pieceEntriesMax);
    let index = this.nextEntry;
    for (; index < end; index++) {
      const key = keys[index] as string;
      const value = values[index] as string;
      if (offset + 2 * fieldLengthBytes + key.length + value.length > out.length) break;
      offset = writeField(out, offset, key);
      offset = writeField(out, offset, value);
    }
    this.nextEntry = index;
    this.bytesReturned += offset;
    return out.subarray(0, offset);
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
