// The write-ahead log: segment files (see segment.ts for their format and for recovery, record.ts for
// records), named by the index of their first entry, zero-padded so that lexical order is log order.
//
// Invariants:
// - Entries are contiguous across segments; views never decrease.
// - Group commit without timers: whatever is queued while a write + fdatasync is in flight becomes the
//   next batch, written with one write and one fdatasync (more only if it spans segments or holds a
//   truncation); onDurable fires once per batch.
// - A segment's header is fdatasynced before any record is written to it, and a segment is
//   fdatasynced before any byte goes to a later one, so after a crash only the last segment can hold a
//   torn write; a bad record anywhere else is corruption.
// - Every record claims syncedThrough = the highest index fsynced when its write was issued. Records
//   are encoded when their write is issued, not when appended, so the claim is exact even when a
//   truncation earlier in the same batch lowered what is synced. Under load the next batch carries the
//   claim for the previous one; once the log is idle for syncMarkerIdleMs, a sync marker (a record
//   holding only the claim) covers the last batch, and close() and open() leave one covering
//   everything. Damage at an index some intact record claims synced is corruption, never a torn tail.
// - Each segment keeps room for one sync marker: an entry goes into the segment only if a marker still
//   fits after it (a segment's first entry always goes in, however large).
// - Truncation deletes later segments (newest first) before cutting the target one, so a crash half
//   way leaves a contiguous prefix; the cut removes the claims about what it removes.
// - A failed write or fsync is fatal and the log accepts nothing more: after a failed fsync the page
//   cache may have dropped the dirty pages, so a retry could report success for lost data (fsyncgate).
// - Appended entries are encoded when written: the caller must not change their bytes afterwards.
//
//   batch written, fdatasynced ──more queued──> next batch (its records claim this one)
//        │ nothing queued
//        └──syncMarkerIdleMs, still idle──> sync marker written, fdatasynced: everything claimed

import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import { assert } from '../protocol/assert.js';
import {
  type Entry,
  type Epoch,
  type LogIndex,
  type LogPosition,
  logIndex,
  positionZero,
} from '../protocol/types.js';
import { fsyncDirectory } from './durable-file.js';
import { encodeSyncMarker, entryRecordBytes, syncMarkerRecordBytes, writeEntryRecord } from './record.js';
import { encodeSegmentHeader, recoverSegment, segmentHeaderBytes } from './segment.js';

export const segmentSizeBytesDefault = 64 * 1024 * 1024;
/** Record offsets are kept in Uint32Arrays and segments are read whole at recovery. */
export const segmentSizeMaxBytes = 1024 * 1024 * 1024;
/** How long the log waits, idle after a batch, before a sync marker covers that batch. */
export const syncMarkerIdleMsDefault = 50;
/** The longest delay setTimeout honours. */
const timerDelayMaxMs = 0x7fff_ffff;
const segmentNameDigits = 20;
const segmentNamePattern = /^\d{20}\.log$/;
const offsetsInitialLength = 1024;
const saltLimit = 0x1_0000_0000;

export interface LogOptions {
  segmentSizeBytes: number;
  /** Idle time after a batch before a sync marker is written and fsynced to cover it. */
  syncMarkerIdleMs: number;
  fatal: (error: Error) => void;
}

export interface RecoveredLog {
  entries: Entry[];
  tornBytesDropped: number;
}

interface Segment {
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

type Operation =
  | {
      readonly kind: 'append';
      readonly firstIndex: number;
      readonly entries: Entry[];
      /** recordBytes[i] is the size of entries[i]'s record. */
      readonly recordBytes: number[];
    }
  | { readonly kind: 'truncate'; readonly index: number };

const fatalDefault = (error: Error): void => {
  console.error('understudy: the write-ahead log failed; stopping without retrying the fsync', error);
  process.exit(1);
};

const segmentName = (startIndex: number): string =>
  `${String(startIndex).padStart(segmentNameDigits, '0')}.log`;

/** Writes all of `data` at `position`; a short write is an error like any other (never retried). */
function writeSyncAt(fd: number, data: Buffer, position: number): void {
  const written = fs.writeSync(fd, data, 0, data.length, position);
  if (written !== data.length) throw new Error(`short write: ${written} of ${data.length}`);
}

function pushOffset(segment: Segment, offset: number): void {
  if (segment.count === segment.offsets.length) {
    const grown = new Uint32Array(segment.offsets.length * 2);
    grown.set(segment.offsets);
    segment.offsets = grown;
  }
  segment.offsets[segment.count++] = offset;
}

export class WriteAheadLog {
  onDurable: (position: LogPosition) => void = () => {};
  /** syncs: fdatasyncs of entries; syncMarkers: markers written (idle, at open, at close), each fsynced. */
  readonly stats = { syncs: 0, batches: 0, syncMarkers: 0 };

  // Queued state (what the log will hold once the queue is written): checks appends, answers positions.
  private last: LogPosition;
  private readonly epochs: Epoch[];
  // Written state: the segments and the open file of the last one.
  private readonly segments: Segment[];
  private fd: number | null = null;
  /** Every entry up to this index is written and fsynced. */
  private syncedIndex: number;
  /** Every index up to this one is claimed synced by a record of the last segment, or lies before it. */
  private coveredIndex: number;

  private queue: Operation[] = [];
  private busy = false;
  private syncMarkerTimer: NodeJS.Timeout | null = null;
  private failure: Error | null = null;
  private closing: { resolve: () => void; reject: (error: Error) => void } | null = null;
  private closed: Promise<void> | null = null;

  private constructor(
    private readonly directory: string,
    private readonly options: LogOptions,
    segments: Segment[],
    epochs: Epoch[],
    last: LogPosition,
    coveredIndex: number,
  ) {
    this.segments = segments;
    this.epochs = epochs;
    this.last = last;
    // What recovery read may still be only in the page cache (if just the process crashed): make it
    // durable before anything is built on it, and then claim it, so that damage to it is never
    // mistaken for a torn write.
    this.syncedIndex = last.index;
    this.coveredIndex = coveredIndex;
    const lastSegment = segments.at(-1);
    if (lastSegment !== undefined) {
      this.fd = fs.openSync(lastSegment.path, 'r+');
      try {
        fs.fsyncSync(this.fd);
        if (this.coveredIndex < this.syncedIndex) this.writeSyncMarkerNow();
      } catch (error) {
        fs.closeSync(this.fd);
        throw error;
      }
    }
    fsyncDirectory(directory);
  }

  /** Opens (creating if needed) the log in `directory` and recovers its entries. Synchronous: run at start. */
  static open(
    directory: string,
    options: Partial<LogOptions> = {},
  ): { log: WriteAheadLog; recovered: RecoveredLog } {
    const resolved: LogOptions = {
      segmentSizeBytes: segmentSizeBytesDefault,
      syncMarkerIdleMs: syncMarkerIdleMsDefault,
      fatal: fatalDefault,
      ...options,
    };
    const size = resolved.segmentSizeBytes;
    if (!Number.isSafeInteger(size) || size < 1 || size > segmentSizeMaxBytes) {
      throw new ConfigError(
        `segmentSizeBytes must be an integer in [1, ${segmentSizeMaxBytes}], got ${size}`,
      );
    }
    const idle = resolved.syncMarkerIdleMs;
    if (!Number.isSafeInteger(idle) || idle < 0 || idle > timerDelayMaxMs) {
      throw new ConfigError(`syncMarkerIdleMs must be an integer in [0, ${timerDelayMaxMs}], got ${idle}`);
    }
    if (!fs.existsSync(directory)) {
      fs.mkdirSync(directory, { recursive: true });
      fsyncDirectory(path.dirname(path.resolve(directory)));
    }

    const names = fs
      .readdirSync(directory)
      .filter((name) => segmentNamePattern.test(name))
      .sort();
    const segments: Segment[] = [];
    const epochs: Epoch[] = [];
    const entries: Entry[] = [];
    let last = positionZero;
    let coveredIndex = 0;
    let tornBytesDropped = 0;
    for (const [position, name] of names.entries()) {
      const file = path.join(directory, name);
      const startIndex = Number(name.slice(0, segmentNameDigits));
      const previous = position === 0 ? { view: last.view, index: logIndex(startIndex - 1) } : last;
      const isLast = position === names.length - 1;
      const recovery = recoverSegment(fs.readFileSync(file), { path: file, isLast, startIndex, previous });
      tornBytesDropped += recovery.tornBytes;
      if (!recovery.created) {
        // The last segment's creation never completed: nothing was ever written to it.
        fs.unlinkSync(file);
        fsyncDirectory(directory);
        continue;
      }
      if (recovery.tornBytes > 0) {
        // A torn write: nothing in it was ever reported durable (recoverSegment checked the claims).
        const fd = fs.openSync(file, 'r+');
        try {
          fs.ftruncateSync(fd, recovery.validBytes);
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
      }
      const offsets = new Uint32Array(Math.max(offsetsInitialLength, recovery.entryOffsets.length * 2));
      offsets.set(recovery.entryOffsets);
      segments.push({
        startIndex,
        path: file,
        salt: recovery.salt,
        count: recovery.entries.length,
        sizeBytes: recovery.validBytes,
        offsets,
      });
      for (const entry of recovery.entries) {
        if (epochs.at(-1)?.view !== entry.view) epochs.push({ view: entry.view, startIndex: entry.index });
        entries.push(entry);
      }
      last = recovery.last;
      coveredIndex = recovery.coveredThrough;
    }
    const log = new WriteAheadLog(directory, resolved, segments, epochs, last, coveredIndex);
    return { log, recovered: { entries, tornBytesDropped } };
  }

  /** The last entry once everything queued is written ({view: 0, index: 0} if none). */
  get lastPosition(): LogPosition {
    return this.last;
  }

  /** Queues entries, which must continue the log; they are written in order. */
  append(entries: readonly Entry[]): void {
    if (this.failure !== null || entries.length === 0) return;
    assert(this.closed === null, 'append after close');
    let operation = this.queue.at(-1);
    if (operation?.kind !== 'append') {
      operation = { kind: 'append', firstIndex: this.last.index + 1, entries: [], recordBytes: [] };
      this.queue.push(operation);
    }
    let { view, index } = this.last;
    for (const entry of entries) {
      assert(entry.index === index + 1, `append of index ${entry.index} after ${index}`);
      assert(entry.view >= view, `append of view ${entry.view} after view ${view}`);
      if (this.epochs.at(-1)?.view !== entry.view) {
        this.epochs.push({ view: entry.view, startIndex: entry.index });
      }
      // Sized (and checked) now, encoded when written, with the claim true at that moment.
      operation.recordBytes.push(entryRecordBytes(entry));
      operation.entries.push(entry);
      ({ view, index } = entry);
    }
    this.last = { view, index };
    if (!this.busy) this.startBatch();
  }

  /** Queues the removal of every entry with an index above `index`, in order with appends. */
  truncateAfter(index: LogIndex): void {
    if (this.failure !== null || index >= this.last.index) return;
    assert(this.closed === null, 'truncate after close');
    const startIndex = this.segments[0]?.startIndex ?? 1;
    assert(index >= startIndex - 1, `truncate to ${index} below the start of the log (${startIndex})`);
    while ((this.epochs.at(-1)?.startIndex ?? 0) > index) this.epochs.pop();
    this.last = { view: this.epochs.at(-1)?.view ?? positionZero.view, index };
    this.queue.push({ kind: 'truncate', index });
    if (!this.busy) this.startBatch();
  }

  /** Writes what is queued, leaves a sync marker covering it, fsyncs and closes the file. Rejects if the log has failed. */
  close(): Promise<void> {
    this.closed ??= new Promise((resolve, reject) => {
      this.closing = { resolve, reject };
      if (!this.busy) this.finishClose();
    });
    return this.closed;
  }

  private startBatch(): void {
    const operations = this.queue;
    const durable = this.last;
    this.queue = [];
    this.busy = true;
    let operationIndex = 0;
    let entryIndex = 0;
    // Runs the operations in order; returns after starting an asynchronous write, which calls it again.
    const next = (): void => {
      try {
        while (operationIndex < operations.length) {
          const operation = operations[operationIndex];
          assert(operation !== undefined, 'operation index in range');
          if (operation.kind === 'truncate') {
            this.truncateNow(operation.index);
          } else if (entryIndex < operation.entries.length) {
            this.writeEntries(operation, entryIndex, (written) => {
              entryIndex += written;
              next();
            });
            return;
          }
          operationIndex++;
          entryIndex = 0;
        }
      } catch (error) {
        this.fail(error);
        return;
      }
      this.finishBatch(durable);
    };
    next();
  }

  /** Writes and syncs the entries from `first` that fit in one segment, rolling to a new one if needed. */
  private writeEntries(
    operation: Extract<Operation, { kind: 'append' }>,
    first: number,
    done: (written: number) => void,
  ): void {
    const { entries, recordBytes } = operation;
    const nextIndex = operation.firstIndex + first;
    const firstBytes = recordBytes[first];
    assert(firstBytes !== undefined, 'entry index in range');
    const limit = this.options.segmentSizeBytes;
    // Room for the records and, after them, one sync marker.
    const fits = (sizeBytes: number): boolean => sizeBytes + syncMarkerRecordBytes <= limit;
    let segment = this.segments.at(-1);
    if (segment === undefined || (segment.count > 0 && !fits(segment.sizeBytes + firstBytes))) {
      segment = this.createSegment(nextIndex);
    }
    assert(nextIndex === segment.startIndex + segment.count, 'written entries are contiguous');
    const fd = this.fd;
    assert(fd !== null, 'the last segment is open');
    let end = first + 1;
    let chunkBytes = firstBytes;
    for (let bytes = recordBytes[end]; bytes !== undefined; bytes = recordBytes[++end]) {
      if (!fits(segment.sizeBytes + chunkBytes + bytes)) break;
      chunkBytes += bytes;
    }
    // Encoded now: each record claims exactly what is fsynced as its write is issued.
    const claim = this.syncedIndex;
    const chunk = Buffer.allocUnsafe(chunkBytes);
    const position = segment.sizeBytes;
    let offset = 0;
    for (let i = first; i < end; i++) {
      const entry = entries[i];
      assert(entry !== undefined, 'entry index in range');
      pushOffset(segment, position + offset);
      offset = writeEntryRecord(chunk, offset, entry, claim, segment.salt);
    }
    assert(offset === chunkBytes, 'the records fill the chunk');
    segment.sizeBytes += chunkBytes;
    const lastIndex = nextIndex + (end - first) - 1;
    fs.write(fd, chunk, 0, chunkBytes, position, (writeError, bytesWritten) => {
      if (writeError !== null) return this.fail(writeError);
      if (bytesWritten !== chunkBytes) {
        return this.fail(new Error(`short write: ${bytesWritten} of ${chunkBytes}`));
      }
      fs.fdatasync(fd, (syncError) => {
        if (syncError !== null) return this.fail(syncError);
        this.stats.syncs++;
        this.syncedIndex = lastIndex;
        this.coveredIndex = Math.max(this.coveredIndex, claim);
        done(end - first);
      });
    });
  }

  /**
   * Called only once the current segment is synced, so only the last segment can ever be torn. The
   * header is synced before any record goes in, so a damaged header with records after it is corruption.
   */
  private createSegment(startIndex: number): Segment {
    const segment: Segment = {
      startIndex,
      path: path.join(this.directory, segmentName(startIndex)),
      salt: randomInt(saltLimit),
      count: 0,
      sizeBytes: segmentHeaderBytes,
      offsets: new Uint32Array(offsetsInitialLength),
    };
    const fd = fs.openSync(segment.path, 'wx');
    try {
      writeSyncAt(fd, encodeSegmentHeader(segment), 0);
      fs.fdatasyncSync(fd);
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = fd;
    fsyncDirectory(this.directory);
    this.segments.push(segment);
    this.coveredIndex = startIndex - 1;
    return segment;
  }

  private truncateNow(index: number): void {
    let target = this.segments.at(-1);
    let deleted = false;
    while (target !== undefined && target.startIndex > index + 1) {
      // Newest first, so that a crash part way leaves a contiguous log.
      if (this.fd !== null) fs.closeSync(this.fd);
      this.fd = null;
      fs.unlinkSync(target.path);
      this.segments.pop();
      target = this.segments.at(-1);
      deleted = true;
    }
    if (deleted) fsyncDirectory(this.directory);
    assert(target !== undefined, 'truncation point lies within the log');
    // Everything queued before this truncation is written, and it removes at least one entry.
    const kept = index + 1 - target.startIndex;
    assert(kept < target.count, 'truncation point lies within the written log');
    const offset = target.offsets[kept];
    assert(offset !== undefined, 'offset table covers the segment');
    this.fd ??= fs.openSync(target.path, 'r+');
    fs.ftruncateSync(this.fd, offset);
    fs.fsyncSync(this.fd);
    target.count = kept;
    target.sizeBytes = offset;
    this.syncedIndex = Math.min(this.syncedIndex, index);
    // Which claims survived the cut is not tracked: assume none, so a marker will cover what is left.
    this.coveredIndex = target.startIndex - 1;
  }

  private finishBatch(durable: LogPosition): void {
    this.stats.batches++;
    this.whenWritten();
    this.onDurable(durable);
  }

  /** After a batch or a sync marker is written: the next batch, the close, or (once idle) a marker. */
  private whenWritten(): void {
    this.busy = false;
    if (this.queue.length > 0) this.startBatch();
    else if (this.closing !== null) this.finishClose();
    else if (this.coveredIndex < this.syncedIndex) this.scheduleSyncMarker();
  }

  /** One timer, re-armed rather than re-created, so a batch that ends idle allocates nothing. */
  private scheduleSyncMarker(): void {
    if (this.syncMarkerTimer === null) {
      this.syncMarkerTimer = setTimeout(() => this.writeIdleSyncMarker(), this.options.syncMarkerIdleMs);
      this.syncMarkerTimer.unref();
    } else {
      this.syncMarkerTimer.refresh();
    }
  }

  private writeIdleSyncMarker(): void {
    // A batch since the timer was armed carries the claim itself (and re-arms the timer when it ends).
    if (this.busy || this.queue.length > 0 || this.closed !== null || this.failure !== null) return;
    if (this.coveredIndex >= this.syncedIndex) return;
    const segment = this.segments.at(-1);
    const fd = this.fd;
    assert(segment !== undefined && fd !== null, 'entries were written, so the last segment is open');
    const claim = this.syncedIndex;
    const marker = encodeSyncMarker(claim, segment.salt);
    const position = segment.sizeBytes;
    segment.sizeBytes += marker.length;
    this.busy = true;
    fs.write(fd, marker, 0, marker.length, position, (writeError, bytesWritten) => {
      if (writeError !== null) return this.fail(writeError);
      if (bytesWritten !== marker.length) {
        return this.fail(new Error(`short write: ${bytesWritten} of ${marker.length}`));
      }
      fs.fdatasync(fd, (syncError) => {
        if (syncError !== null) return this.fail(syncError);
        this.stats.syncMarkers++;
        this.coveredIndex = claim;
        this.whenWritten();
      });
    });
  }

  /** Writes and fsyncs a sync marker claiming everything synced, blocking (at open and close). */
  private writeSyncMarkerNow(): void {
    const segment = this.segments.at(-1);
    const fd = this.fd;
    assert(segment !== undefined && fd !== null, 'the last segment is open');
    const marker = encodeSyncMarker(this.syncedIndex, segment.salt);
    writeSyncAt(fd, marker, segment.sizeBytes);
    fs.fdatasyncSync(fd);
    segment.sizeBytes += marker.length;
    this.stats.syncMarkers++;
    this.coveredIndex = this.syncedIndex;
  }

  private finishClose(): void {
    const closing = this.closing;
    assert(closing !== null, 'close was requested');
    if (this.syncMarkerTimer !== null) clearTimeout(this.syncMarkerTimer);
    if (this.failure !== null) {
      closing.reject(this.failure);
      return;
    }
    try {
      if (this.fd !== null) {
        if (this.coveredIndex < this.syncedIndex) this.writeSyncMarkerNow();
        fs.fsyncSync(this.fd);
        fs.closeSync(this.fd);
        this.fd = null;
      }
      closing.resolve();
    } catch (error) {
      this.fail(error);
    }
  }

  private fail(error: unknown): void {
    if (this.failure !== null) return;
    const failure = error instanceof Error ? error : new Error(String(error));
    this.failure = failure;
    this.queue = [];
    this.busy = false;
    if (this.syncMarkerTimer !== null) clearTimeout(this.syncMarkerTimer);
    if (this.fd !== null) fs.close(this.fd, () => {});
    this.fd = null;
    this.closing?.reject(failure);
    this.options.fatal(failure);
  }
}
