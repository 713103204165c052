// Damage to a stopped replica's data directory, as a bad disk does it: one flipped bit, either in a
// synced record of the write-ahead log, in the middle of its segment, or in the newest kept snapshot.
// The `corrupt` fault uses these between a SIGKILL and the restart; the replica must find the damage
// when it opens the directory, keep what is intact and rejoin (replica-directory.ts says how).
//
// A record counts as synced only if a later record of its segment claims so (its syncedThrough
// reaches the record's index): recovery tells damage to synced data from a torn write by exactly
// that claim, so damage elsewhere would be a torn write the replica may rightly drop in silence.
// The bit is flipped after the record's length field: a zeroed length reads as the end of the data,
// which is a different fault (a torn tail) from the one this injects.
// Invariant: nothing here runs while the replica's process does (the caller killed it first).

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Random } from '../sim/random.js';
import { decodeRecord, parseSnapshotFileName, segmentHeaderBytes } from '../storage/index.js';
import { segmentFilePattern } from '../storage/log-recovery.js';
import { logDirectoryName, snapshotDirectoryName } from '../storage/replica-directory.js';

/** Where the segment header keeps the salt every record's CRC starts from (see segment.ts). */
const segmentSaltOffset = 12;
/** bodyLength: flipping it would fake an end of data rather than damage a record. */
const recordLengthFieldBytes = 4;
/** Records are chosen from this middle share of a segment's synced records. */
const middleShare = [0.25, 0.75] as const;

export type DamageKind = 'log record' | 'snapshot';

export interface Damage {
  readonly kind: DamageKind;
  readonly file: string;
  /** The byte whose bit was flipped. */
  readonly offset: number;
  readonly bit: number;
  /** The log index of the damaged record, or the snapshot's index. */
  readonly index: number;
  readonly description: string;
}

/** Damages `kind` in the replica directory `directory`, or the other kind if there is none; null if neither exists. */
export function damageDirectory(directory: string, kind: DamageKind, random: Random): Damage | null {
  const first = kind === 'log record' ? damageLogRecord : damageNewestSnapshot;
  const second = kind === 'log record' ? damageNewestSnapshot : damageLogRecord;
  return first(directory, random) ?? second(directory, random);
}

/** Flips a bit of a synced entry record in the middle of the newest segment; null if it has none. */
export function damageLogRecord(directory: string, random: Random): Damage | null {
  const logDirectory = path.join(directory, logDirectoryName);
  const segments = listFiles(logDirectory).filter((name) => segmentFilePattern.test(name));
  const newest = segments.at(-1);
  if (newest === undefined) return null;
  const file = path.join(logDirectory, newest);
  const bytes = fs.readFileSync(file);
  if (bytes.length <= segmentHeaderBytes) return null;
  const salt = bytes.readUInt32LE(segmentSaltOffset);
  // Every intact record in order: entries carry an index, sync markers only a claim.
  const records: { offset: number; end: number; index: number | null; syncedThrough: number }[] = [];
  for (let offset = segmentHeaderBytes; ; ) {
    const decoded = decodeRecord(bytes, offset, salt);
    if (decoded.kind !== 'entry' && decoded.kind !== 'syncMarker') break;
    const index = decoded.kind === 'entry' ? decoded.entry.index : null;
    records.push({ offset, end: decoded.nextOffset, index, syncedThrough: decoded.syncedThrough });
    offset = decoded.nextOffset;
  }
  // An entry is synced if a record written after it claims its index.
  const synced: { offset: number; end: number; index: number }[] = [];
  let claimAfter = -1;
  for (let position = records.length - 1; position >= 0; position--) {
    const record = records[position];
    if (record === undefined) break;
    if (record.index !== null && claimAfter >= record.index) synced.push({ ...record, index: record.index });
    claimAfter = Math.max(claimAfter, record.syncedThrough);
  }
  synced.reverse();
  if (synced.length === 0) return null;
  const from = Math.floor(synced.length * middleShare[0]);
  const to = Math.max(from, Math.ceil(synced.length * middleShare[1]) - 1);
  const chosen = synced[random.integer(from, to)];
  if (chosen === undefined) return null;
  const offset = random.integer(chosen.offset + recordLengthFieldBytes, chosen.end - 1);
  const bit = random.integer(0, 7);
  flipBit(file, offset, bit);
  return {
    kind: 'log record',
    file,
    offset,
    bit,
    index: chosen.index,
    description: `flipped bit ${bit} of byte ${offset} of ${path.basename(file)}, in the record of index ${chosen.index} (synced)`,
  };
}

/** Flips a bit of the newest kept snapshot file; null if there is none. */
export function damageNewestSnapshot(directory: string, random: Random): Damage | null {
  const snapshotDirectory = path.join(directory, snapshotDirectoryName);
  const newest = newestKeptSnapshot(snapshotDirectory);
  if (newest === null) return null;
  const file = path.join(snapshotDirectory, newest.name);
  const size = fs.statSync(file).size;
  if (size === 0) return null;
  const offset = random.integer(0, size - 1);
  const bit = random.integer(0, 7);
  flipBit(file, offset, bit);
  return {
    kind: 'snapshot',
    file,
    offset,
    bit,
    index: newest.index,
    description: `flipped bit ${bit} of byte ${offset} of ${newest.name} (${size} bytes)`,
  };
}

function flipBit(file: string, offset: number, bit: number): void {
  const descriptor = fs.openSync(file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    fs.readSync(descriptor, byte, 0, 1, offset);
    byte[0] = (byte[0] ?? 0) ^ (1 << bit);
    fs.writeSync(descriptor, byte, 0, 1, offset);
    fs.fsyncSync(descriptor);
  } finally {
    fs.closeSync(descriptor);
  }
}

/** The newest kept snapshot file in a replica's snapshot directory, by the files' names; null if none. */
export function newestKeptSnapshot(snapshotDirectory: string): { name: string; index: number } | null {
  let newest: { name: string; index: number } | null = null;
  for (const name of listFiles(snapshotDirectory)) {
    const position = parseSnapshotFileName(name);
    if (position !== null && (newest === null || position.index > newest.index)) {
      newest = { name, index: position.index };
    }
  }
  return newest;
}

function listFiles(directory: string): string[] {
  try {
    return fs.readdirSync(directory).sort();
  } catch {
    return [];
  }
}
