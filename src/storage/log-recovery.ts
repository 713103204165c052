// Opening a log directory: which segment files hold the log, what survives in them, and the repairs
// made before the log takes appends. write-ahead-log.ts writes the log; this file reads it back once.
//
// The log continues a base: the position of the snapshot the replica recovered (positionZero if none).
// Everything up to base.index is in that snapshot, so:
//
//   segments whose entries all lie below base.index (the next segment starts at or below it)
//        -> deleted unread, oldest first (never the last segment): damage there costs nothing
//   the first remaining segment starts above base.index + 1
//        -> a gap: the indexes between are in neither the snapshot nor the log (lost)
//   the log holds base.index with another view, or ends below base.index
//        -> it diverges: benign (a crash between installing a transferred snapshot and resetting the
//           log), and the snapshot wins
//   gap or divergence -> the log is reset: every segment deleted (newest first), next index base + 1
//
// The remaining segments are read in order. At the first corruption (see segment.ts), onCorruption
// 'throw' throws LogCorruptedError; 'truncate' keeps the intact prefix: later segments are deleted
// newest first, then the damaged one is cut at the damage (or deleted if nothing in it is intact).
// A gap is lost data too, so 'throw' throws for it; 'truncate' resets and reports it.
//
// Invariants: every check is made before any file changes, so a throw leaves the directory exactly as
// it was; each repair deletes from one end (a crash part way leaves a contiguous log); the entries
// returned are contiguous from base.index + 1.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { LogCorruptedError } from '../errors.js';
import { assert } from '../protocol/assert.js';
import { type Entry, type Epoch, type LogPosition, logIndex, viewNumber } from '../protocol/types.js';
import { fsyncDirectory } from './durable-file.js';
import { type SegmentRecovery, type SegmentRecoveryOptions, salvageSegment } from './segment.js';
import { SegmentFileBytes } from './segment-bytes.js';

export type CorruptionHandling = 'throw' | 'truncate';

/** Where recovery found damage to synced data, and cut the log. */
export interface LogCorruption {
  readonly file: string;
  readonly offset: number;
  /** The first index lost: the log keeps the entries before it. */
  readonly index: number;
  readonly reason: string;
}

/** A segment file as the log tracks it. */
export interface LogSegment {
  readonly startIndex: number;
  readonly path: string;
  /** Starts every record CRC in this segment (see record.ts). */
  readonly salt: number;
  /** Entries (sync markers are not counted). */
  count: number;
  sizeBytes: number;
  /** offsets[i] is the byte offset of entry startIndex + i. */
  offsets: Uint32Array;
}

export interface LogRecovery {
  readonly segments: LogSegment[];
  /** The kept entries after base.index, contiguous from base.index + 1. */
  readonly entries: Entry[];
  /** Where each view starts among the kept entries, from the floor on. */
  readonly epochs: Epoch[];
  /** The position just before the first entry on disk (base if the log holds none). */
  readonly floor: LogPosition;
  readonly last: LogPosition;
  /** Every index up to this one is claimed synced by a kept record of the last segment, or lies before it. */
  readonly coveredIndex: number;
  readonly tornBytesDropped: number;
  readonly continuesBase: boolean;
  readonly gap: boolean;
  readonly corruption: LogCorruption | null;
}

const segmentNameDigits = 20;
export const segmentFilePattern = /^\d{20}\.log$/;
const offsetsInitialLength = 1024;

export const segmentFileName = (startIndex: number): string =>
  `${String(startIndex).padStart(segmentNameDigits, '0')}.log`;

interface SegmentFile {
  readonly path: string;
  readonly startIndex: number;
}

interface SegmentReading {
  readonly file: SegmentFile;
  readonly sizeBytes: number;
  readonly recovery: SegmentRecovery;
}

/** Deletes `files` in the order given, then makes the deletions durable. */
function deleteFiles(directory: string, files: readonly SegmentFile[]): void {
  for (const file of files) fs.unlinkSync(file.path);
  if (files.length > 0) fsyncDirectory(directory);
}

function cutFile(file: string, sizeBytes: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.ftruncateSync(fd, sizeBytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The view of the entry at `index` among the readings, or null if they do not hold it. */
function viewAt(readings: readonly SegmentReading[], index: number): number | null {
  for (const { file, recovery } of readings) {
    if (index < file.startIndex || index > recovery.last.index) continue;
    let view: number | null = null;
    for (const epoch of recovery.epochs) if (epoch.startIndex <= index) view = epoch.view;
    return view;
  }
  return null;
}

function readSegmentFile(
  file: string,
  options: SegmentRecoveryOptions,
): { recovery: SegmentRecovery; sizeBytes: number } {
  const fd = fs.openSync(file, 'r');
  try {
    const sizeBytes = fs.fstatSync(fd).size;
    return { recovery: salvageSegment(new SegmentFileBytes(fd, sizeBytes), options), sizeBytes };
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads the log in `directory` (which exists), repairs it as the file header says, and returns what is kept. */
export function recoverLogDirectory(
  directory: string,
  base: LogPosition,
  onCorruption: CorruptionHandling,
): LogRecovery {
  const files: SegmentFile[] = fs
    .readdirSync(directory)
    .filter((name) => segmentFilePattern.test(name))
    .sort()
    .map((name) => ({
      path: path.join(directory, name),
      startIndex: Number(name.slice(0, segmentNameDigits)),
    }));

  let firstRead = 0;
  while (firstRead < files.length - 1 && (files[firstRead + 1]?.startIndex ?? 0) <= base.index) firstRead++;
  const below = files.slice(0, firstRead);
  const rest = files.slice(firstRead);
  const start = rest[0]?.startIndex ?? base.index + 1;
  const gap = start > base.index + 1;
  if (gap && onCorruption === 'throw') {
    throw new LogCorruptedError(
      `write-ahead log ${directory} starts at index ${start}, but the snapshot it continues ends at ` +
        `index ${base.index}: indexes ${base.index + 1}..${start - 1} are lost`,
    );
  }

  const readings: SegmentReading[] = [];
  let corruption: LogCorruption | null = null;
  if (!gap) {
    // Below base.index the view before the first entry is unknown: only base.index itself is checked.
    let previous: LogPosition =
      start === base.index + 1 ? base : { view: viewNumber(0), index: logIndex(start - 1) };
    for (const [position, file] of rest.entries()) {
      const isLast = position === rest.length - 1;
      const { recovery, sizeBytes } = readSegmentFile(file.path, {
        path: file.path,
        isLast,
        startIndex: file.startIndex,
        previous,
        keepAfter: base.index,
      });
      readings.push({ file, sizeBytes, recovery });
      if (recovery.corruption !== null) {
        if (onCorruption === 'throw') throw new LogCorruptedError(recovery.corruption.message);
        const { offset, index, reason } = recovery.corruption;
        corruption = { file: file.path, offset, index, reason };
        break;
      }
      previous = recovery.last;
    }
  }

  const end = readings.at(-1)?.recovery.last ?? base;
  let continuesBase = !gap;
  if (continuesBase && end.index < base.index) continuesBase = false;
  else if (continuesBase && start <= base.index) continuesBase = viewAt(readings, base.index) === base.view;
  const tornBytesDropped = readings.reduce((sum, reading) => sum + reading.recovery.tornBytes, 0);

  // Nothing has changed on disk so far. Now the repairs, each from one end of the log.
  deleteFiles(directory, below);
  if (!continuesBase) {
    deleteFiles(directory, [...rest].reverse());
    return {
      segments: [],
      entries: [],
      epochs: [{ view: base.view, startIndex: base.index }],
      floor: base,
      last: base,
      coveredIndex: base.index,
      tornBytesDropped,
      continuesBase,
      gap,
      corruption,
    };
  }
  // After a corruption: the segments never read, newest first.
  deleteFiles(directory, rest.slice(readings.length).reverse());
  const lastReading = readings.at(-1);
  if (lastReading !== undefined) {
    const { file, recovery, sizeBytes } = lastReading;
    // A torn creation, or a header that cannot be trusted: nothing in the file is kept.
    if (!recovery.created) deleteFiles(directory, [file]);
    // A torn write (nothing in it was ever reported durable), or the bytes from a corruption on. Zeros
    // after the data are the segment's unwritten space: kept, so the log goes on writing into it.
    else if (recovery.validBytes + recovery.spareBytes < sizeBytes) cutFile(file.path, recovery.validBytes);
  }

  // Only the last reading can be a file just deleted, so the kept ones start at `start`.
  const kept = readings.filter((reading) => reading.recovery.created);
  let floor: LogPosition = end;
  if (kept.length > 0)
    floor = start === base.index + 1 ? base : { view: viewNumber(0), index: logIndex(start - 1) };
  const segments: LogSegment[] = [];
  const entries: Entry[] = [];
  const epochs: Epoch[] = [{ view: floor.view, startIndex: floor.index }];
  let coveredIndex: number = end.index;
  for (const { file, recovery } of kept) {
    const offsets = new Uint32Array(Math.max(offsetsInitialLength, recovery.entryOffsets.length * 2));
    offsets.set(recovery.entryOffsets);
    segments.push({
      startIndex: file.startIndex,
      path: file.path,
      salt: recovery.salt,
      count: recovery.count,
      sizeBytes: recovery.validBytes,
      offsets,
    });
    for (const epoch of recovery.epochs) if (epochs.at(-1)?.view !== epoch.view) epochs.push(epoch);
    for (const entry of recovery.entries) entries.push(entry);
    coveredIndex = recovery.coveredThrough;
  }
  assert(entries.length === end.index - base.index, 'the kept entries continue base without a hole');
  return {
    segments,
    entries,
    epochs,
    floor,
    last: end,
    coveredIndex,
    tornBytesDropped,
    continuesBase,
    gap,
    corruption,
  };
}
