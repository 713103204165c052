// Shared by the storage tests: log entries with varied bytes, temporary directories (removed after),
// crash copies, appends that resolve once durable, and a look at the records of a segment file.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { clientId, type Entry, logIndex, viewNumber } from '../../src/protocol/types.js';
import { segmentFilePattern } from '../../src/storage/log-recovery.js';
import { decodeRecord } from '../../src/storage/record.js';
import { segmentHeaderBytes } from '../../src/storage/segment.js';
import { type LogOptions, WriteAheadLog } from '../../src/storage/write-ahead-log.js';

export const tinySegmentBytes = 300;
export const oneSegmentBytes = 64 * 1024;
/** Long enough that no idle sync marker is written during a test (the timer is unref'd and cleared). */
export const idleNeverMs = 60_000;

export function entry(index: number, view = 1, updateBytes = index % 50): Entry {
  return {
    view: viewNumber(view),
    index: logIndex(index),
    clientId: clientId(`client-${index % 3}`),
    requestNumber: index * 2,
    durability: index % 2 === 0 ? 'sync' : 'async',
    refused: index % 5 === 0,
    update: Uint8Array.from({ length: updateBytes }, (_, i) => (index + i) & 0xff),
    result: Uint8Array.from({ length: index % 7 }, (_, i) => (view + i) & 0xff),
  };
}

export const range = (from: number, to: number, view = 1): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, view));

/** Runs `body` with a log directory (not yet created) inside a temporary root, removed afterwards. */
export async function withDirectory(body: (directory: string) => Promise<void> | void): Promise<void> {
  await withTemporaryRoot((root) => body(path.join(root, 'log')));
}

/** Runs `body` with a fresh temporary directory, removed afterwards. */
export async function withTemporaryRoot(body: (root: string) => Promise<void> | void): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'understudy-storage-'));
  try {
    await body(root);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

let crashes = 0;
/** The log directory as a crash would leave it now (a process crash; for a power cut, see the damage). */
export function crashCopy(directory: string): string {
  const copy = path.join(path.dirname(directory), `crash-${++crashes}`);
  fs.cpSync(directory, copy, { recursive: true });
  return copy;
}

/** What open() reports for a log with nothing wrong (entries aside). */
export const intact = { tornBytesDropped: 0, continuesBase: true, gap: false, corruption: null } as const;

export const openLog = (directory: string, options: Partial<LogOptions> = {}) =>
  WriteAheadLog.open(directory, { segmentSizeBytes: tinySegmentBytes, ...options });

export async function writeLog(directory: string, entries: Entry[], options: Partial<LogOptions> = {}) {
  const { log } = openLog(directory, options);
  log.append(entries);
  await log.close();
}

/** Appends `entries` and resolves once the batch that ends with them is fsynced. */
export function appendDurably(log: WriteAheadLog, entries: Entry[]): Promise<void> {
  const last = entries.at(-1);
  const durable = new Promise<void>((resolve) => {
    log.onDurable = (position) => {
      if (position.index === last?.index && position.view === last.view) resolve();
    };
  });
  log.append(entries);
  return durable;
}

export async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** The log's segment files by name, in log order (not what else the directory holds). */
export const segmentFiles = (directory: string): string[] =>
  fs
    .readdirSync(directory)
    .filter((name) => segmentFilePattern.test(name))
    .sort();
export const lastSegment = (directory: string): string =>
  path.join(directory, segmentFiles(directory).at(-1) ?? '');

export interface RecordOnDisk {
  readonly offset: number;
  readonly bytes: number;
  readonly kind: 'entry' | 'syncMarker';
  /** The entry's index; null for a sync marker. */
  readonly index: number | null;
  readonly syncedThrough: number;
}

/** The intact records of a segment file, in order, up to the first that does not decode. */
export function recordsIn(file: string): RecordOnDisk[] {
  const data = fs.readFileSync(file);
  const salt = data.readUInt32LE(12); // the salt field of the segment header (segment.ts)
  const records: RecordOnDisk[] = [];
  for (let offset = segmentHeaderBytes; ; ) {
    const decoded = decodeRecord(data, offset, salt);
    if (decoded.kind !== 'entry' && decoded.kind !== 'syncMarker') return records;
    const index = decoded.kind === 'entry' ? decoded.entry.index : null;
    const { syncedThrough, nextOffset } = decoded;
    records.push({ offset, bytes: nextOffset - offset, kind: decoded.kind, index, syncedThrough });
    offset = nextOffset;
  }
}

/** Where a segment file's last record ends: the next write would land there. */
export function recordsEndOf(file: string): number {
  const last = recordsIn(file).at(-1);
  assert.ok(last !== undefined, `${file} holds records`);
  return last.offset + last.bytes;
}

/**
 * A segment file's length up to its last non-zero byte. The log creates a segment at its full size,
 * so after the records the file reads as zeros: where the next write would land, not the file's end.
 */
export function dataBytesOf(file: string): number {
  const data = fs.readFileSync(file);
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) end--;
  return end;
}

/** Writes `bytes` into a segment file at `offset`, as a write that reached the disk would be. */
export function writeInto(file: string, bytes: Uint8Array, offset: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    fs.closeSync(fd);
  }
}

export function recordOf(file: string, index: number): RecordOnDisk {
  const record = recordsIn(file).find((candidate) => candidate.index === index);
  assert.ok(record !== undefined, `entry ${index} is in ${file}`);
  return record;
}

export type Damage = 'zeroed' | 'one byte flipped' | 'length field claims 4 GiB';
export const damages: readonly Damage[] = ['zeroed', 'one byte flipped', 'length field claims 4 GiB'];

export function damage(file: string, record: RecordOnDisk, how: Damage): void {
  const data = fs.readFileSync(file);
  if (how === 'zeroed') data.fill(0, record.offset, record.offset + record.bytes);
  else if (how === 'length field claims 4 GiB') data.writeUInt32LE(0xffff_ffff, record.offset);
  else {
    const inPayload = record.offset + record.bytes - 3;
    data.writeUInt8((data[inPayload] ?? 0) ^ 0x10, inPayload);
  }
  fs.writeFileSync(file, data);
}

export const filesOf = (directory: string): Map<string, Buffer> =>
  new Map(segmentFiles(directory).map((name) => [name, fs.readFileSync(path.join(directory, name))]));
