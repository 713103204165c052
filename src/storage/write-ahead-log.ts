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
// - A segment file is created at its full size (sparse: the rest reads as zeros until written), so an
//   append never changes the file's size and its fdatasync has no size to write to the inode: on ext4
//   here 15-25 % less time per fdatasync alone, 6-13 % in a busy cluster (docs/PERFORMANCE.md,
//   "Segments created at full size").
//   Recovery reads zeros after the records as the end of the data (segment.ts). Only the last segment
//   keeps such space: before the next segment is created the current one is cut to its data and
//   synced. A cut (truncation, a torn tail) shrinks the file before it grows it again, so no byte
//   beyond the data ever survives to be read as a record.
// - Each segment keeps room for one sync marker: an entry goes into the segment only if a marker still
//   fits after it (a segment's first entry always goes in, however large).
// - Truncation deletes later segments (newest first) before cutting the target one, so a crash half
//   way leaves a contiguous prefix; the cut removes the claims about what it removes.
// - To delete a segment is to retire it: renamed out of the log at once, unlinked on the thread pool
//   later (segment-reaper.ts: an unlink of a cached 64 MiB file held the event loop ~60 ms).
// - The log continues a base, the position of the replica's newest snapshot (log-recovery.ts says
//   how open() checks that, and repairs). Compaction deletes only whole segments whose entries all lie
//   at or below an index the caller has in a kept snapshot, oldest first, never the last segment (the
//   open one), so the log stays contiguous and its end is never touched. Reset deletes every segment,
//   newest first: the log then holds nothing and continues the given position (an installed snapshot).
// - Compaction, reset and truncation are queued in order with appends, like everything that writes.
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
import { type Entry, type Epoch, type LogIndex, type LogPosition, positionZero } from '../protocol/types.js';
import { fsyncDirectory } from './durable-file.js';
import {
  type CorruptionHandling,
  type LogCorruption,
  type LogRecovery,
  type LogSegment,
  recoverLogDirectory,
  segmentFileName,
} from './log-recovery.js';
import { encodeSyncMarker, entryRecordBytes, syncMarkerRecordBytes, writeEntryRecord } from './record.js';
import { encodeSegmentHeader, segmentHeaderBytes } from './segment.js';
import { SegmentReaper } from './segment-reaper.js';

export const segmentSizeBytesDefault = 64 * 1024 * 1024;
/** Record offsets are kept in Uint32Arrays and segments are read whole at recovery. */
export const segmentSizeMaxBytes = 1024 * 1024 * 1024;
/** How long the log waits, idle after a batch, before a sync marker covers that batch. */
export const syncMarkerIdleMsDefault = 50;
/** The longest delay setTimeout honours. */
const timerDelayMaxMs = 0x7fff_ffff;

/**
 * Tests and benchmarks only: every fdatasync of a batch takes this many milliseconds longer, as on
 * a slow disk (`understudy bench --slow-backup-fsync-ms`). Unset in production.
 */
const fsyncDelayMs = testFsyncDelayMs(process.env.UNDERSTUDY_TEST_FSYNC_DELAY_MS);

function testFsyncDelayMs(value: string | undefined): number {
  if (value === undefined) return 0;
  const delay = Number(value);
  if (!/^[0-9]+$/.test(value) || delay > 60_000) {
    throw new ConfigError(
      `UNDERSTUDY_TEST_FSYNC_DELAY_MS must be a whole number of milliseconds up to 60000, got ${JSON.stringify(value)}`,
    );
  }
  return delay;
}
const offsetsInitialLength = 1024;
const saltLimit = 0x1_0000_0000;

export interface LogOptions {
  segmentSizeBytes: number;
  /** Idle time after a batch before a sync marker is written and fsynced to cover it. */
  syncMarkerIdleMs: number;
  fatal: (error: Error) => void;
  /** The position of the snapshot the replica recovered: the log continues it. */
  base: LogPosition;
  /** What open() does with damage to synced data: throw LogCorruptedError, or keep the intact prefix. */
  onCorruption: CorruptionHandling;
}

export interface RecoveredLog {
  /** The entries after base, in order. */
  entries: Entry[];
  tornBytesDropped: number;
  /** False if the log did not continue base (a gap, or a log that diverges): it was reset to follow it. */
  continuesBase: boolean;
  /** The log started above base.index + 1: the indexes between were lost (only 'truncate'; 'throw' throws). */
  gap: boolean;
  /** Only with onCorruption 'truncate': where the log was cut because synced data was damaged. */
  corruption: LogCorruption | null;
}

type Operation =
  | {
      readonly kind: 'append';
      readonly firstIndex: number;
      readonly entries: Entry[];
      /** recordBytes[i] is the size of entries[i]'s record. */
      readonly recordBytes: number[];
    }
  | { readonly kind: 'truncate'; readonly index: number }
  | { readonly kind: 'compact'; readonly index: number }
  | { readonly kind: 'reset'; readonly position: LogPosition };

const fatalDefault = (error: Error): void => {
  console.error('understudy: the write-ahead log failed; stopping without retrying the fsync', error);
  process.exit(1);
};

/**
 * Writes all of `data` at `position`. A short write (a nearly full disk) is resumed where it stopped,
 * the same bytes at the same place, so that what ends it is the system's own error, which says why
 * (ENOSPC): the caller's failure is then fatal, as for any failed write.
 */
function writeSyncAt(fd: number, data: Buffer, position: number): void {
  for (let written = 0; written < data.length; ) {
    const count = fs.writeSync(fd, data, written, data.length - written, position + written);
    if (count <= 0) throw new Error(`a write made no progress at byte ${written} of ${data.length}`);
    written += count;
  }
}

function pushOffset(segment: LogSegment, offset: number): void {
  if (segment.count === segment.offsets.length) {
    const grown = new Uint32Array(segment.offsets.length * 2);
    grown.set(segment.offsets);
    segment.offsets = grown;
  }
  segment.offsets[segment.count++] = offset;
}

export class WriteAheadLog {
  onDurable: (position: LogPosition) => void = () => {};
  /** Told how long each fdatasync of a batch of entries took, in seconds (the admin port's histogram). */
  onFsyncTimed: (seconds: number) => void = () => {};
  /** syncs: fdatasyncs of entries; syncMarkers: markers written (idle, at open, at close), each fsynced. */
  readonly stats = { syncs: 0, batches: 0, syncMarkers: 0 };
  /**
   * Where a batch's fdatasync runs. False: on the thread pool, and the event loop goes on meanwhile (a
   * primary's: client requests and acknowledgements keep arriving). True: on the event loop itself,
   * once the current callback has ended (setImmediate), which a backup can afford: what arrives
   * during the sync waits for it and is written as the next batch anyway, and it saves the pool's
   * hand-offs, two thread wake-ups per sync (docs/PERFORMANCE.md, "A backup's fdatasync on its
   * event loop"). Read as each batch's sync starts, so it may change at any time.
   */
  fsyncOnEventLoop = false;
  /**
   * The longest the event loop waited in one write of this log, one batch's fdatasync on it, or one
   * of its rare operations (a new segment, a truncation, a compaction, a reset, with their fsyncs).
   */
  private longestWaitOnLoopMs = 0;

  // Queued state (what the log will hold once the queue is written): checks appends, answers positions.
  private last: LogPosition;
  private epochs: Epoch[];
  /** No truncation may go below this index: the position before the first entry on disk, or a reset's. */
  private floorIndex: number;
  /** Resets queued and not yet run: a compaction before them works on segments they will delete. */
  private resetsQueued = 0;
  // Written state: the segments and the open file of the last one.
  private readonly segments: LogSegment[];
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
  private readonly reaper = new SegmentReaper((error) => this.fail(error));

  private constructor(
    private readonly directory: string,
    private readonly options: LogOptions,
    recovery: LogRecovery,
  ) {
    this.segments = recovery.segments;
    this.epochs = recovery.epochs;
    this.last = recovery.last;
    this.floorIndex = recovery.floor.index;
    // What recovery read may still be only in the page cache (if just the process crashed): make it
    // durable before anything is built on it, and then claim it, so that damage to it is never
    // mistaken for a torn write.
    this.syncedIndex = recovery.last.index;
    this.coveredIndex = recovery.coveredIndex;
    this.reaper.reapLeftovers(directory);
    const lastSegment = this.segments.at(-1);
    if (lastSegment !== undefined) {
      this.fd = fs.openSync(lastSegment.path, 'r+');
      try {
        // A segment cut at recovery, or written by a build that appended to it, gets its space back.
        this.growToSegmentSize(this.fd);
        fs.fsyncSync(this.fd);
        if (this.coveredIndex < this.syncedIndex) this.writeSyncMarkerNow();
      } catch (error) {
        fs.closeSync(this.fd);
        throw error;
      }
    }
    fsyncDirectory(directory);
  }

  /**
   * Opens (creating if needed) the log in `directory` and recovers its entries after `options.base`
   * (see log-recovery.ts). Synchronous: run at start.
   */
  static open(
    directory: string,
    options: Partial<LogOptions> = {},
  ): { log: WriteAheadLog; recovered: RecoveredLog } {
    const resolved: LogOptions = {
      segmentSizeBytes: segmentSizeBytesDefault,
      syncMarkerIdleMs: syncMarkerIdleMsDefault,
      fatal: fatalDefault,
      base: positionZero,
      onCorruption: 'throw',
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

    const recovery = recoverLogDirectory(directory, resolved.base, resolved.onCorruption);
    const log = new WriteAheadLog(directory, resolved, recovery);
    const { entries, tornBytesDropped, continuesBase, gap, corruption } = recovery;
    return { log, recovered: { entries, tornBytesDropped, continuesBase, gap, corruption } };
  }

  /** Everything queued so far (appends, truncations, compactions, resets) is written and synced. */
  get idle(): boolean {
    return !this.busy && this.queue.length === 0;
  }

  /** The last entry once everything queued is written ({view: 0, index: 0} if none). */
  get lastPosition(): LogPosition {
    return this.last;
  }

  /** The first index held on disk (once compacted, what the segments still hold), or last + 1 if none. */
  get firstIndex(): number {
    return this.segments[0]?.startIndex ?? this.last.index + 1;
  }

  /** The bytes the segment files hold, as written so far. */
  diskBytes(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.sizeBytes;
    return total;
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
    assert(
      index >= this.floorIndex,
      `truncate to ${index} below the start of the log (${this.floorIndex + 1})`,
    );
    while ((this.epochs.at(-1)?.startIndex ?? 0) > index) this.epochs.pop();
    this.last = { view: this.epochs.at(-1)?.view ?? positionZero.view, index };
    this.queue.push({ kind: 'truncate', index });
    if (!this.busy) this.startBatch();
  }

  /**
   * Queues the deletion of every segment whose entries all lie at or below `index`, which the caller
   * holds in a kept snapshot; never the last segment. In order with appends and truncations.
   */
  compactThrough(index: LogIndex): void {
    if (this.failure !== null) return;
    assert(this.closed === null, 'compact after close');
    assert(Number.isSafeInteger(index) && index >= 0, 'compactThrough takes a log index');
    this.queue.push({ kind: 'compact', index });
    if (!this.busy) this.startBatch();
  }

  /**
   * Queues the deletion of every segment: the log then continues `position` (an installed snapshot),
   * and the next append must be at position.index + 1. In order with appends and truncations.
   */
  resetTo(position: LogPosition): void {
    if (this.failure !== null) return;
    assert(this.closed === null, 'reset after close');
    assert(Number.isSafeInteger(position.index) && position.index >= 0, 'resetTo takes a log position');
    this.last = position;
    this.epochs = [{ view: position.view, startIndex: position.index }];
    this.floorIndex = position.index;
    this.resetsQueued++;
    this.queue.push({ kind: 'reset', position });
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
            this.timedOnLoop(() => this.truncateNow(operation.index));
          } else if (operation.kind === 'compact') {
            this.timedOnLoop(() => this.compactNow(operation.index));
          } else if (operation.kind === 'reset') {
            this.timedOnLoop(() => this.resetNow(operation.position));
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
      segment = this.timedOnLoop(() => this.createSegment(nextIndex));
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
    // The write only copies into the page cache: done on the event loop, it saves a thread-pool round
    // trip (and an event-loop turn) per batch; the fdatasync is what waits for the disk.
    try {
      this.writeOnLoop(fd, chunk, position);
    } catch (error) {
      this.fail(error);
      return;
    }
    const syncStartedMs = performance.now();
    const synced = (syncError: NodeJS.ErrnoException | null) => {
      if (syncError !== null) return this.fail(syncError);
      this.onFsyncTimed((performance.now() - syncStartedMs) / 1000);
      this.stats.syncs++;
      this.syncedIndex = lastIndex;
      this.coveredIndex = Math.max(this.coveredIndex, claim);
      done(end - first);
    };
    const syncHere = (): void => {
      let syncError: NodeJS.ErrnoException | null = null;
      const startedMs = performance.now();
      try {
        fs.fdatasyncSync(fd);
      } catch (error) {
        syncError = error as NodeJS.ErrnoException;
      }
      this.noteWaitOnLoop(startedMs);
      synced(syncError);
    };
    const onLoop = this.fsyncOnEventLoop;
    if (fsyncDelayMs > 0) setTimeout(() => (onLoop ? syncHere() : fs.fdatasync(fd, synced)), fsyncDelayMs);
    else if (onLoop) setImmediate(syncHere);
    else fs.fdatasync(fd, synced);
  }

  /**
   * The longest the event loop waited in one of this log's disk calls since the last call of this, in
   * milliseconds: what a stall can be blamed on. Timed: every write (a batch's, a sync marker's, a
   * segment header's), a batch's fdatasync when it runs on the loop, and each new segment, truncation,
   * compaction and reset whole (the fsyncs of the file and the directory in them); not the fsyncs of
   * opening and closing the log, before and after the process serves.
   */
  takeLongestWaitOnLoopMs(): number {
    const waitedMs = this.longestWaitOnLoopMs;
    this.longestWaitOnLoopMs = 0;
    return waitedMs;
  }

  /**
   * writeSyncAt, timed: a write only copies into the page cache, unless the disk holds it up. Not
   * through timedOnLoop: it runs for every batch, where a closure each time is garbage.
   */
  private writeOnLoop(fd: number, data: Buffer, position: number): void {
    const startedMs = performance.now();
    try {
      writeSyncAt(fd, data, position);
    } finally {
      this.noteWaitOnLoop(startedMs);
    }
  }

  /** Runs one of the rare disk operations on the loop (a new segment, a truncation), timed. */
  private timedOnLoop<T>(work: () => T): T {
    const startedMs = performance.now();
    try {
      return work();
    } finally {
      this.noteWaitOnLoop(startedMs);
    }
  }

  private noteWaitOnLoop(startedMs: number): void {
    this.longestWaitOnLoopMs = Math.max(this.longestWaitOnLoopMs, performance.now() - startedMs);
  }

  /**
   * Called only once the current segment is synced, so only the last segment can ever be torn. The
   * header is synced before any record goes in, so a damaged header with records after it is corruption.
   */
  private createSegment(startIndex: number): LogSegment {
    const previous = this.segments.at(-1);
    if (previous !== undefined && this.fd !== null) {
      // The new segment makes this one not the last, where recovery allows no space after the data.
      fs.ftruncateSync(this.fd, previous.sizeBytes);
      fs.fsyncSync(this.fd);
    }
    const segment: LogSegment = {
      startIndex,
      path: path.join(this.directory, segmentFileName(startIndex)),
      salt: randomInt(saltLimit),
      count: 0,
      sizeBytes: segmentHeaderBytes,
      offsets: new Uint32Array(offsetsInitialLength),
    };
    const fd = fs.openSync(segment.path, 'wx');
    try {
      this.writeOnLoop(fd, encodeSegmentHeader(segment), 0);
      this.growToSegmentSize(fd);
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

  /** Extends the open last segment's file to the segment size with zeros (sparse), if it is shorter. */
  private growToSegmentSize(fd: number): void {
    if (fs.fstatSync(fd).size < this.options.segmentSizeBytes)
      fs.ftruncateSync(fd, this.options.segmentSizeBytes);
  }

  private truncateNow(index: number): void {
    let target = this.segments.at(-1);
    let deleted = false;
    while (target !== undefined && target.startIndex > index + 1) {
      // Newest first, so that a crash part way leaves a contiguous log.
      if (this.fd !== null) fs.closeSync(this.fd);
      this.fd = null;
      this.reaper.retire(target.path);
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
    // Cut first, then grow: the cut-off records must read as zeros, never as records.
    fs.ftruncateSync(this.fd, offset);
    this.growToSegmentSize(this.fd);
    fs.fsyncSync(this.fd);
    target.count = kept;
    target.sizeBytes = offset;
    this.syncedIndex = Math.min(this.syncedIndex, index);
    // Which claims survived the cut is not tracked: assume none, so a marker will cover what is left.
    this.coveredIndex = target.startIndex - 1;
  }

  private compactNow(index: number): void {
    let deleted = false;
    // Oldest first, so that a crash part way leaves a contiguous log.
    for (
      let next = this.segments[1];
      next !== undefined && next.startIndex - 1 <= index;
      next = this.segments[1]
    ) {
      const oldest = this.segments.shift();
      assert(oldest !== undefined, 'a segment precedes the next one');
      this.reaper.retire(oldest.path);
      deleted = true;
    }
    if (!deleted) return;
    fsyncDirectory(this.directory);
    const first = this.segments[0];
    assert(first !== undefined, 'compaction keeps the last segment');
    // A reset queued after this compaction has already set the floor above what is deleted here.
    if (this.resetsQueued === 0) {
      this.floorIndex = first.startIndex - 1;
      while ((this.epochs[1]?.startIndex ?? Number.POSITIVE_INFINITY) <= this.floorIndex) this.epochs.shift();
    }
  }

  private resetNow(position: LogPosition): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
    // Newest first, so that a crash part way leaves a contiguous log (which open() then resets again).
    for (let newest = this.segments.pop(); newest !== undefined; newest = this.segments.pop()) {
      this.reaper.retire(newest.path);
    }
    fsyncDirectory(this.directory);
    // Everything up to position is in the snapshot the caller installed: nothing is left to claim.
    this.syncedIndex = position.index;
    this.coveredIndex = position.index;
    this.resetsQueued--;
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
    try {
      this.writeOnLoop(fd, marker, position);
    } catch (error) {
      this.fail(error);
      return;
    }
    fs.fdatasync(fd, (syncError) => {
      if (syncError !== null) return this.fail(syncError);
      this.stats.syncMarkers++;
      this.coveredIndex = claim;
      this.whenWritten();
    });
  }

  /** Writes and fsyncs a sync marker claiming everything synced, blocking (at open and close). */
  private writeSyncMarkerNow(): void {
    const segment = this.segments.at(-1);
    const fd = this.fd;
    assert(segment !== undefined && fd !== null, 'the last segment is open');
    const marker = encodeSyncMarker(this.syncedIndex, segment.salt);
    this.writeOnLoop(fd, marker, segment.sizeBytes);
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
      // Resolved once the retired segments are deleted too, so that nothing of the log is left running.
      void this.reaper.whenIdle().then(() => closing.resolve());
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
