// The bytes of one segment as recovery reads them. A segment can be 64 MiB; recovery must not hold
// it whole just to walk its records once (a restarted replica's memory would jump by a segment), so
// a file is read through a window that moves record by record. Only the rare path that looks at the
// whole file (the search through damage for a claim) reads it all.
//
// A segment is created at its full size (write-ahead-log.ts): the space after the records is zeros
// until written, so where the data ends is found from the back, over the zeros, not from the length.

import * as fs from 'node:fs';
import { asBuffer } from '../buffers.js';
import { assert } from '../protocol/assert.js';
import { type DecodedRecord, decodeRecord, recordPrefixBytes } from './record.js';

export interface SegmentBytes {
  readonly length: number;
  /**
   * Decodes the record at byte `offset`, as decodeRecord does over the whole segment. An entry's
   * update and result may be views into a buffer the next call reuses: copy what you keep.
   */
  decodeAt(offset: number, salt: number): DecodedRecord;
  /** The first `count` bytes (fewer if the segment is shorter). */
  prefix(count: number): Buffer;
  /** Every byte of the segment. */
  whole(): Buffer;
  /** The length without the zero bytes at the end: every byte from here on is zero. */
  dataEnd(): number;
}

/** A segment image already in memory (the simulated disk, tests). */
export function segmentBytesOf(data: Uint8Array): SegmentBytes {
  const bytes = asBuffer(data);
  return {
    length: bytes.length,
    decodeAt: (offset, salt) => decodeRecord(bytes, offset, salt),
    prefix: (count) => bytes.subarray(0, Math.min(count, bytes.length)),
    whole: () => bytes,
    dataEnd: () => dataEndOf(bytes, 0),
  };
}

/** The offset after the last non-zero byte of `bytes`, which start at byte `start` of the segment. */
function dataEndOf(bytes: Buffer, start: number): number {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return start + end;
}

const windowBytesDefault = 1024 * 1024;
/** Enough to see any record's prefix and fixed fields before its length decides the window. */
const peekBytes = 64;

/** A segment file open as `fd`, `length` bytes long, read through a moving window. */
export class SegmentFileBytes implements SegmentBytes {
  private window: Buffer;
  private windowStart = 0;
  private windowEnd = 0;
  private all: Buffer | null = null;
  private end: number | null = null;

  constructor(
    private readonly fd: number,
    readonly length: number,
    windowBytes = windowBytesDefault,
  ) {
    this.window = Buffer.allocUnsafe(windowBytes);
  }

  decodeAt(offset: number, salt: number): DecodedRecord {
    assert(Number.isSafeInteger(offset) && offset >= 0 && offset <= this.length, 'offset out of range');
    if (this.all !== null) return decodeRecord(this.all, offset, salt);
    this.cover(offset, Math.min(peekBytes, this.length - offset));
    const available = this.windowEnd - offset;
    if (available >= 4) {
      const recordBytes = recordPrefixBytes + this.window.readUInt32LE(offset - this.windowStart);
      // A length that runs past the file is damage: judge it over the whole file, as decodeRecord
      // would, rather than allocate a window from a length field.
      if (offset + recordBytes > this.length) return decodeRecord(this.whole(), offset, salt);
      this.cover(offset, recordBytes);
    }
    const visible = this.window.subarray(0, this.windowEnd - this.windowStart);
    const decoded = decodeRecord(visible, offset - this.windowStart, salt);
    if (decoded.kind !== 'entry' && decoded.kind !== 'syncMarker') return decoded;
    return { ...decoded, nextOffset: decoded.nextOffset + this.windowStart };
  }

  prefix(count: number): Buffer {
    const wanted = Math.min(count, this.length);
    this.cover(0, wanted);
    return Buffer.from(this.window.subarray(0, wanted));
  }

  whole(): Buffer {
    if (this.all === null) {
      const all = Buffer.allocUnsafe(this.length);
      readFully(this.fd, all, 0);
      this.all = all;
    }
    return this.all;
  }

  dataEnd(): number {
    this.end ??= this.all === null ? this.findDataEnd() : dataEndOf(this.all, 0);
    return this.end;
  }

  /** Window by window from the back: a fresh segment is 64 MiB of zeros behind a few records. */
  private findDataEnd(): number {
    const zeros = Buffer.alloc(this.window.length);
    for (let end = this.length; end > 0; ) {
      const start = Math.max(0, end - this.window.length);
      this.cover(start, end - start);
      const window = this.window.subarray(start - this.windowStart, end - this.windowStart);
      if (!window.equals(zeros.subarray(0, window.length))) return dataEndOf(window, start);
      end = start;
    }
    return 0;
  }

  /** Makes the window hold bytes [offset, offset + count) of the file; count stays within the file. */
  private cover(offset: number, count: number): void {
    if (offset >= this.windowStart && offset + count <= this.windowEnd) return;
    if (this.window.length < count) this.window = Buffer.allocUnsafe(count);
    const wanted = Math.min(this.window.length, this.length - offset);
    readFully(this.fd, this.window.subarray(0, wanted), offset);
    this.windowStart = offset;
    this.windowEnd = offset + wanted;
  }
}

function readFully(fd: number, target: Buffer, position: number): void {
  for (let done = 0; done < target.length; ) {
    const read = fs.readSync(fd, target, done, target.length - done, position + done);
    assert(read > 0, 'the segment file is shorter than its size said');
    done += read;
  }
}
