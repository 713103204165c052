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
// byte per character), a u32 value length, the value (the same); little endian. Format 4 then has
// the keys with a time to live: a u32 count, and per key its u32 length, the key and the time it
// expires at (Unix milliseconds, f64). Format 5 is format 4 (the count of keys with a time to live
// is there even when it is 0) followed by the store's scan seed, two u32 words (kv-key-hash.ts).

import type { SnapshotEncoding } from '../protocol/state-machine.js';
import type { ScanSeed } from './kv-key-hash.js';

/** Work per piece: whichever limit comes first. A piece takes a few milliseconds. */
const pieceEntriesMax = 8192;
const pieceBytesMax = 1024 * 1024;
const headerBytes = 5;
const fieldLengthBytes = 4;
const expiryBytes = 8;
const seedBytes = 8;

export class KvSnapshotEncoding implements SnapshotEncoding {
  readonly sizeBytes: number;
  private readonly keys: string[];
  private readonly values: string[];
  /** Format 4's keys with a time to live and their times; null in the formats without them. */
  private readonly expiring: { readonly keys: string[]; readonly times: number[] } | null;
  private nextExpiring = 0;
  private expiringCountWritten = false;
  /** Format 5's seed, written after the last key with a time to live; null before format 5. */
  private readonly seed: ScanSeed | null;
  private seedWritten = false;
  private readonly version: number;
  /** Room for the header and the largest entry, at least: every piece holds one entry or more. */
  private readonly pieceBytes: number;
  private nextEntry = 0;
  /** Bytes returned in pieces so far; the first piece starts with the header. */
  private bytesReturned = 0;

  /**
   * Captures `entries` (and `expiries`, for formats 4 and 5, and `seed`, for format 5) as they are
   * now, in their Map order.
   */
  constructor(
    entries: ReadonlyMap<string, string>,
    version: number,
    expiries?: Iterable<readonly [string, number]>,
    seed: ScanSeed | null = null,
  ) {
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
    this.expiring = expiries === undefined ? null : { keys: [], times: [] };
    if (this.expiring !== null && expiries !== undefined) {
      size += fieldLengthBytes;
      for (const [key, atMs] of expiries) {
        this.expiring.keys.push(key);
        this.expiring.times.push(atMs);
        const itemBytes = fieldLengthBytes + key.length + expiryBytes;
        size += itemBytes;
        if (itemBytes > largestEntry) largestEntry = itemBytes;
      }
    }
    this.seed = seed;
    if (seed !== null) size += seedBytes;
    this.sizeBytes = size;
    this.version = version;
    this.pieceBytes = Math.max(pieceBytesMax, headerBytes + largestEntry);
  }

  next(): Uint8Array | null {
    const { keys, values } = this;
    if (this.bytesReturned === this.sizeBytes && this.bytesReturned > 0) {
      // The captured references are not needed any more.
      this.keys.length = 0;
      this.values.length = 0;
      if (this.expiring !== null) {
        this.expiring.keys.length = 0;
        this.expiring.times.length = 0;
      }
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
    if (index === keys.length && this.expiring !== null) offset = this.writeExpiring(out, offset);
    const expiringDone =
      this.expiring === null ||
      (this.expiringCountWritten && this.nextExpiring === this.expiring.keys.length);
    const seedDue = this.seed !== null && !this.seedWritten && index === keys.length && expiringDone;
    if (seedDue && offset + seedBytes <= out.length) {
      const seed = this.seed as ScanSeed;
      out.writeUInt32LE(seed.low >>> 0, offset);
      out.writeUInt32LE(seed.high >>> 0, offset + 4);
      offset += seedBytes;
      this.seedWritten = true;
    }
    this.bytesReturned += offset;
    return out.subarray(0, offset);
  }

  /** As many of format 4's keys with a time to live as fit in `out` from `offset` (first their count). */
  private writeExpiring(out: Buffer, offset: number): number {
    const { keys, times } = this.expiring as { readonly keys: string[]; readonly times: number[] };
    let at = offset;
    if (!this.expiringCountWritten) {
      if (at + fieldLengthBytes > out.length) return at;
      out.writeUInt32LE(keys.length, at);
      at += fieldLengthBytes;
      this.expiringCountWritten = true;
    }
    for (; this.nextExpiring < keys.length; this.nextExpiring++) {
      const key = keys[this.nextExpiring] as string;
      if (at + fieldLengthBytes + key.length + expiryBytes > out.length) break;
      at = writeField(out, at, key);
      out.writeDoubleLE(times[this.nextExpiring] as number, at);
      at += expiryBytes;
    }
    return at;
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
