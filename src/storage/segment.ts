// One segment file of the write-ahead log, as bytes: its header, how a batch of entries is encoded
// into it, and recovery of what a crash left in it. Pure (bytes in, bytes or entries out), so a
// simulated disk can build realistic images and run the real recovery code over them.
//
//   offset  size  segment header
//        0     8  magic "USTDYLOG"
//        8     4  format version (u32; this build writes and reads only logFormatVersion)
//       12     4  salt: a random u32 that starts every record CRC in this segment (see record.ts)
//       16     8  startIndex (f64): the index of the segment's first entry, also in the file name
//       24     4  crc32 of bytes 0..24
//       28        records (record.ts): entries and sync markers, in the order they were written
//
// Torn or corrupted. Every record carries syncedThrough, the highest index known fsynced when its
// write was issued; a sync marker is a record with only that claim. A write that was never fsynced
// may reach the disk in any order (pages land independently at a power cut), so a bad record
// followed by intact ones can be a torn write. But if an intact record anywhere in the segment claims
// that the index at the damage point was synced, the damaged bytes were fsynced: that is corruption.
// So, at the first bad record of the last segment (the index it would hold is last good index + 1):
//
//     any intact record in the segment (before or after the damage) claims syncedThrough >= that index?
//        yes -> corruption, named with the file, the offset, the index and the claiming record
//               (recoverSegment throws it; salvageSegment reports it with the intact prefix)
//        no  -> a torn write: keep the bytes before the damage, drop the rest
//
// A segment is created at its full size, the space after its records reading as zeros until written
// (write-ahead-log.ts says why): where every byte from some offset on is zero, the data ends there.
// Only the last segment keeps that unwritten rest; an earlier one was cut to its data and synced
// before the next was created.
//
// A bad record in a segment that is not the last is always corruption: a segment is fsynced before
// any byte goes to the next one. The header is fsynced before any record is written, so a damaged
// header is a torn segment creation (drop the whole file) only in the last segment and only if
// nothing but zeros follows it. A header with another magic or version is refused (ConfigError: this
// build cannot read it), never misread.
//
// Two ways to meet corruption: recoverSegment throws LogCorruptedError and touches nothing (the log's
// 'throw' mode); salvageSegment returns the intact prefix before the damage with a `corruption` report
// (the log's 'truncate' mode, for a replica that repairs itself and rejoins under a new identity).
//
// What this cannot see: damage that also wiped every record claiming the damaged index (say, the last
// entry and the sync marker after it both zeroed) looks exactly like a torn write.

import { crc32 } from 'node:zlib';
import { ConfigError, LogCorruptedError } from '../errors.js';
import { assert } from '../protocol/assert.js';
import type { Entry, Epoch, LogPosition } from '../protocol/types.js';
import { entryRecordBytes, writeEntryRecord } from './record.js';
import { type SegmentBytes, segmentBytesOf } from './segment-bytes.js';

export const logFormatVersion = 2;
const segmentMagic = Buffer.from('USTDYLOG', 'latin1');
export const segmentHeaderBytes = 28;
const headerCrcOffset = 24;

export interface SegmentHeader {
  readonly startIndex: number;
  /** A random 32-bit unsigned integer, fresh for each segment file. */
  readonly salt: number;
}

export interface SegmentRecoveryOptions {
  /** The file, for error messages. */
  readonly path: string;
  /** Only the last segment can hold a torn write. */
  readonly isLast: boolean;
  /** The index of the segment's first entry (from its file name). */
  readonly startIndex: number;
  /** The last entry before this segment: its first entry must follow it. */
  readonly previous: LogPosition;
  /**
   * Entries at or below this index are checked but not returned: a snapshot holds them. Recovery
   * then keeps no object per record of a segment the snapshot mostly covers. Default: return all.
   */
  readonly keepAfter?: number;
}

/** Damage to synced data, or a segment that does not belong where it is. */
export interface SegmentCorruption {
  /** The byte offset of the damage: everything before it is intact (0: nothing in the file is). */
  readonly offset: number;
  /** The index the damaged record would hold: the first index lost. */
  readonly index: number;
  /** What is wrong there, and why it is not a torn write. */
  readonly reason: string;
  /** The whole account, naming the file: LogCorruptedError's message. */
  readonly message: string;
}

export interface SegmentRecovery {
  /**
   * False for a last segment whose creation never completed (its header never reached the disk and
   * nothing follows it), and for a segment whose header is corrupted or misplaced: the file holds
   * nothing to keep; remove it.
   */
  readonly created: boolean;
  readonly salt: number;
  /** Every intact entry record (kept or not). */
  readonly count: number;
  /** The kept entries (index above keepAfter), copied out of the bytes read: they can be dropped. */
  readonly entries: Entry[];
  /** entryOffsets[i] is the byte offset of the segment's i-th entry, kept or not. */
  readonly entryOffsets: Uint32Array;
  /** Where each view starts among the segment's entries (kept or not), oldest first. */
  readonly epochs: Epoch[];
  /** Keep this many bytes; a torn write lies after them. */
  readonly validBytes: number;
  /** Bytes of a torn write after validBytes, up to the last non-zero byte. */
  readonly tornBytes: number;
  /**
   * The zero bytes after the data (and after a torn write, if any): space the segment was created
   * with and nothing wrote. validBytes + tornBytes + spareBytes is the segment's length, unless
   * corruption was found (then both are 0 and only the first validBytes are kept).
   */
  readonly spareBytes: number;
  /**
   * Every index up to this one is known fsynced from the kept records' claims, or is in an earlier
   * segment (at least startIndex - 1). A recovered tail above it is covered by no claim yet.
   */
  readonly coveredThrough: number;
  /** The last entry kept, or `previous` if none. */
  readonly last: LogPosition;
  /**
   * Null unless salvageSegment met corruption: then the fields above describe the intact prefix
   * before it (validBytes is the corruption's offset, or 0 if the header itself is bad), and
   * tornBytes is 0.
   */
  readonly corruption: SegmentCorruption | null;
}

export function encodeSegmentHeader(header: SegmentHeader): Buffer {
  assert(Number.isSafeInteger(header.startIndex) && header.startIndex >= 1, 'startIndex is a positive index');
  assert(
    Number.isInteger(header.salt) && header.salt >= 0 && header.salt <= 0xffff_ffff,
    'salt is a 32-bit unsigned integer',
  );
  const buffer = Buffer.alloc(segmentHeaderBytes);
  segmentMagic.copy(buffer, 0);
  buffer.writeUInt32LE(logFormatVersion, 8);
  buffer.writeUInt32LE(header.salt, 12);
  buffer.writeDoubleLE(header.startIndex, 16);
  buffer.writeUInt32LE(crc32(buffer.subarray(0, headerCrcOffset)), headerCrcOffset);
  return buffer;
}

/**
 * The records of `entries` as one write, each claiming `syncedThrough` (the highest index fsynced
 * before this write was issued; below the first entry's index), for a segment with this `salt`.
 */
export function encodeBatch(entries: readonly Entry[], syncedThrough: number, salt: number): Buffer {
  let totalBytes = 0;
  for (const entry of entries) totalBytes += entryRecordBytes(entry);
  const buffer = Buffer.allocUnsafe(totalBytes);
  let offset = 0;
  for (const entry of entries) offset = writeEntryRecord(buffer, offset, entry, syncedThrough, salt);
  return buffer;
}

const isAllZero = (data: Uint8Array, from: number, to: number): boolean => {
  for (let offset = from; offset < to; offset++) if (data[offset] !== 0) return false;
  return true;
};

/** The first offset in [from, end) where a record decodes intact, or -1. */
function findRecordFrom(data: SegmentBytes, from: number, end: number, salt: number): number {
  for (let offset = from; offset < end; offset++) {
    const kind = data.decodeAt(offset, salt).kind;
    if (kind === 'entry' || kind === 'syncMarker') return offset;
  }
  return -1;
}

function growOffsets(offsets: Uint32Array, count: number): Uint32Array {
  if (count < offsets.length) return offsets;
  const grown = new Uint32Array(offsets.length * 2);
  grown.set(offsets);
  return grown;
}

/**
 * Recovers one segment's bytes: its entries, or where a torn write starts. Throws LogCorruptedError
 * for damage to synced data (see the file header) or a broken sequence, touching nothing, and
 * ConfigError for a segment of another format.
 */
export function recoverSegment(data: Uint8Array, options: SegmentRecoveryOptions): SegmentRecovery {
  const recovery = salvageSegment(data, options);
  if (recovery.corruption !== null) throw new LogCorruptedError(recovery.corruption.message);
  return recovery;
}

/**
 * Like recoverSegment, but corruption ends the recovery instead of throwing: what comes back is the
 * intact prefix before the damage, with `corruption` saying where and why. Still throws ConfigError
 * for a segment of another format: that is not damage, and this build must not guess at it.
 */
export function salvageSegment(
  data: Uint8Array | SegmentBytes,
  options: SegmentRecoveryOptions,
): SegmentRecovery {
  const { path, isLast, startIndex, previous } = options;
  const keepAfter = options.keepAfter ?? previous.index;
  const bytes = data instanceof Uint8Array ? segmentBytesOf(data) : data;
  let last = previous;
  const corruption = (offset: number, reason: string, detail = ''): SegmentCorruption => ({
    offset,
    index: last.index + 1,
    reason: `${reason}${detail}`,
    message: `write-ahead log segment ${path}: ${reason} at byte offset ${offset}${detail}; last good index ${last.index}`,
  });
  /** Nothing in the file can be kept: its header is bad, or it does not belong after `previous`. */
  const unusable = (reason: string): SegmentRecovery => ({
    created: false,
    salt: 0,
    count: 0,
    entries: [],
    entryOffsets: new Uint32Array(0),
    epochs: [],
    validBytes: 0,
    tornBytes: 0,
    spareBytes: 0,
    coveredThrough: previous.index,
    last,
    corruption: corruption(0, reason),
  });
  if (!Number.isSafeInteger(startIndex) || startIndex < 1) {
    return unusable('segment name is not a valid index');
  }
  if (startIndex !== previous.index + 1) {
    return unusable(`segment starts at index ${startIndex} but the previous one ends at ${previous.index}`);
  }

  const header = readHeader(bytes.prefix(segmentHeaderBytes), startIndex);
  if (header.kind === 'misplaced') return unusable(header.reason);
  if (header.kind === 'foreign') {
    throw new ConfigError(
      `write-ahead log segment ${path} is not a log of format ${logFormatVersion}: ${header.reason}. ` +
        'This build cannot read it; move the data directory aside and let the replica catch up',
    );
  }
  const dataEnd = bytes.dataEnd();
  if (header.kind === 'damaged') {
    if (!isLast) return unusable(`${header.reason} in a segment that is not the last`);
    if (dataEnd > segmentHeaderBytes) {
      // Records are written only after the header was fsynced, so the header was synced.
      return unusable(`${header.reason}, but records follow it (the header is fsynced before them)`);
    }
    return {
      created: false,
      salt: 0,
      count: 0,
      entries: [],
      entryOffsets: new Uint32Array(0),
      epochs: [],
      validBytes: 0,
      tornBytes: dataEnd,
      spareBytes: bytes.length - dataEnd,
      coveredThrough: previous.index,
      last,
      corruption: null,
    };
  }

  const salt = header.salt;
  const entries: Entry[] = [];
  const epochs: Epoch[] = [];
  let count = 0;
  let entryOffsets: Uint32Array = new Uint32Array(1024);
  let coveredThrough = startIndex - 1;
  let offset = segmentHeaderBytes;
  let found: SegmentCorruption | null = null;
  for (;;) {
    // Nothing but zeros from here: the data ends (in an earlier segment, only at the file's end).
    if (offset === bytes.length || (isLast && offset >= dataEnd)) break;
    const decoded = bytes.decodeAt(offset, salt);
    if (decoded.kind === 'entry') {
      const { entry, syncedThrough } = decoded;
      if (entry.index !== last.index + 1 || entry.view < last.view) {
        found = corruption(
          offset,
          `entry (view ${entry.view}, index ${entry.index}) does not follow its predecessor`,
        );
        break;
      }
      if (syncedThrough >= entry.index) {
        found = corruption(offset, `entry ${entry.index} claims index ${syncedThrough} was synced before it`);
        break;
      }
      entryOffsets = growOffsets(entryOffsets, count);
      entryOffsets[count++] = offset;
      if (entry.view !== epochs.at(-1)?.view) epochs.push({ view: entry.view, startIndex: entry.index });
      if (entry.index > keepAfter) {
        entries.push({ ...entry, update: entry.update.slice(), result: entry.result.slice() });
      }
      last = { view: entry.view, index: entry.index };
      coveredThrough = Math.max(coveredThrough, syncedThrough);
      offset = decoded.nextOffset;
      continue;
    }
    if (decoded.kind === 'syncMarker') {
      if (decoded.syncedThrough > last.index) {
        found = corruption(
          offset,
          `sync marker claims index ${decoded.syncedThrough}, past the entries before it`,
        );
        break;
      }
      coveredThrough = Math.max(coveredThrough, decoded.syncedThrough);
      offset = decoded.nextOffset;
      continue;
    }
    const reason = decoded.kind === 'bad' ? decoded.reason : 'zero length field before the end of the data';
    if (!isLast) {
      found = corruption(offset, `${reason} in a segment that is not the last`);
      break;
    }
    const damagedIndex = last.index + 1;
    bytes.whole(); // the search below decodes at every offset: read the file once, not a window each

    // Claims before the damage are at most last.index, below damagedIndex: only later records count.
    let claim: { syncedThrough: number; offset: number } | null = null;
    for (let at = findRecordFrom(bytes, offset + 1, dataEnd, salt); at !== -1; ) {
      const intact = bytes.decodeAt(at, salt);
      assert(intact.kind === 'entry' || intact.kind === 'syncMarker', 'found an intact record');
      if (claim === null || intact.syncedThrough > claim.syncedThrough) {
        claim = { syncedThrough: intact.syncedThrough, offset: at };
      }
      at = findRecordFrom(bytes, intact.nextOffset, dataEnd, salt);
    }
    if (claim !== null && damagedIndex <= claim.syncedThrough) {
      found = corruption(
        offset,
        reason,
        ` where index ${damagedIndex} would be, but the intact record at byte offset ${claim.offset} says ` +
          `every index through ${claim.syncedThrough} was fsynced (damage to synced data, not a torn write)`,
      );
      break;
    }
    // A torn write: nothing at or after the damage was ever reported durable. Keep what is before it.
    break;
  }
  return {
    created: true,
    salt,
    count,
    entries,
    entryOffsets: entryOffsets.slice(0, count),
    epochs,
    validBytes: offset,
    tornBytes: found === null ? Math.max(0, dataEnd - offset) : 0,
    spareBytes: found === null ? bytes.length - Math.max(offset, dataEnd) : 0,
    coveredThrough,
    last,
    corruption: found,
  };
}

type HeaderReading =
  | { readonly kind: 'good'; readonly salt: number }
  /** Damage a torn creation could leave: all zeros, a short prefix, or a bad CRC. */
  | { readonly kind: 'damaged'; readonly reason: string }
  /** A header of this format with a good CRC that does not belong here: never a torn write. */
  | { readonly kind: 'misplaced'; readonly reason: string }
  /** Not a segment of this format: another magic, or another version. */
  | { readonly kind: 'foreign'; readonly reason: string };

function readHeader(bytes: Buffer, startIndex: number): HeaderReading {
  const present = Math.min(bytes.length, segmentHeaderBytes);
  if (isAllZero(bytes, 0, present)) {
    return { kind: 'damaged', reason: `segment header never written (${present} zero bytes)` };
  }
  const magicPresent = Math.min(present, segmentMagic.length);
  if (!bytes.subarray(0, magicPresent).equals(segmentMagic.subarray(0, magicPresent))) {
    return { kind: 'foreign', reason: 'it does not start with the segment magic (a log of an older build?)' };
  }
  if (present < segmentHeaderBytes) {
    return {
      kind: 'damaged',
      reason: `segment header cut short (${present} of ${segmentHeaderBytes} bytes)`,
    };
  }
  // The version before the CRC: another format may lay out (and checksum) its header differently.
  const version = bytes.readUInt32LE(8);
  if (version !== logFormatVersion) {
    return { kind: 'foreign', reason: `its header says format version ${version}` };
  }
  if (crc32(bytes.subarray(0, headerCrcOffset)) !== bytes.readUInt32LE(headerCrcOffset)) {
    return { kind: 'damaged', reason: 'segment header CRC mismatch' };
  }
  const headerStartIndex = bytes.readDoubleLE(16);
  if (headerStartIndex !== startIndex) {
    return { kind: 'misplaced', reason: `segment header says it starts at index ${headerStartIndex}` };
  }
  return { kind: 'good', salt: bytes.readUInt32LE(12) };
}
