// The write-ahead log: segment files of records (see record.ts), named by the index of their first
// entry, zero-padded so that lexical order is log order.
//
// Invariants:
// - Entries are contiguous across segments; views never decrease.
// - Group commit without timers: whatever is queued while a write + fdatasync is in flight becomes the
//   next batch, written with one writev and one fdatasync; onDurable fires once per batch.
// - A segment is fdatasynced before any byte goes to a later one, so after a crash only the last
//   segment can have a torn tail; a bad record anywhere else is corruption.
// - Truncation deletes later segments (newest first) before cutting the target one, so a crash half
//   way leaves a contiguous prefix.
// - A failed write or fsync is fatal and the log accepts nothing more: after a failed fsync the page
//   cache may have dropped the dirty pages, so a retry could report success for lost data (fsyncgate).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, LogCorruptedError } from '../errors.js';
import { assert } from '../protocol/assert.js';
import {
  type Entry,
  type Epoch,
  type LogIndex,
  type LogPosition,
  logIndex,
  positionZero,
} from '../protocol/types.js';
import { decodeRecord, encodeRecord } from './record.js';

export const segmentSizeBytesDefault = 64 * 1024 * 1024;
/** Record offsets are kept in Uint32Arrays and segments are read whole at recovery. */
export const segmentSizeMaxBytes = 1024 * 1024 * 1024;
const segmentNameDigits = 20;
const segmentNamePattern = /^\d{20}\.log$/;
const offsetsInitialLength = 1024;

export interface LogOptions {
  segmentSizeBytes: number;
  fatal: (error: Error) => void;
}

export interface RecoveredLog {
  entries: Entry[];
  tornBytesDropped: number;
}

interface Segment {
  readonly startIndex: number;
  readonly path: string;
  count: number;
  sizeBytes: number;
  /** offsets[i] is the byte offset of entry startIndex + i. */
  offsets: Uint32Array;
}

type Operation =
  | { readonly kind: 'append'; readonly firstIndex: number; readonly records: Buffer[] }
  | { readonly kind: 'truncate'; readonly index: number };

const fatalDefault = (error: Error): void => {
  console.error('understudy: the write-ahead log failed; stopping without retrying the fsync', error);
  process.exit(1);
};

const segmentName = (startIndex: number): string =>
  `${String(startIndex).padStart(segmentNameDigits, '0')}.log`;

function fsyncDirectory(directory: string): void {
  const fd = fs.openSync(directory, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

const newSegment = (directory: string, startIndex: number): Segment => ({
  startIndex,
  path: path.join(directory, segmentName(startIndex)),
  count: 0,
  sizeBytes: 0,
  offsets: new Uint32Array(offsetsInitialLength),
});

function pushOffset(segment: Segment, offset: number): void {
  if (segment.count === segment.offsets.length) {
    const grown = new Uint32Array(segment.offsets.length * 2);
    grown.set(segment.offsets);
    segment.offsets = grown;
  }
  segment.offsets[segment.count++] = offset;
}

/** The first offset after `from` where a record decodes with a good CRC, or -1. */
function findRecordAfter(data: Buffer, from: number): number {
  for (let offset = from; offset < data.length; offset++) {
    if (decodeRecord(data, offset).kind === 'record') return offset;
  }
  return -1;
}

export class WriteAheadLog {
  onDurable: (position: LogPosition) => void = () => {};
  readonly stats = { syncs: 0, batches: 0 };

  // Queued state (what the log will hold once the queue is written): checks appends, answers positions.
  private last: LogPosition;
  private readonly epochs: Epoch[];
  // Written state: the segments and the open file of the last one.
  private readonly segments: Segment[];
  private fd: number | null = null;

  private queue: Operation[] = [];
  private busy = false;
  private failure: Error | null = null;
  private closing: { resolve: () => void; reject: (error: Error) => void } | null = null;
  private closed: Promise<void> | null = null;

  private constructor(
    private readonly directory: string,
    private readonly options: LogOptions,
    segments: Segment[],
    epochs: Epoch[],
    last: LogPosition,
  ) {
    this.segments = segments;
    this.epochs = epochs;
    this.last = last;
    // What recovery read may still be only in the page cache (if just the process crashed): make it
    // durable before anything is built on it.
    const lastSegment = segments.at(-1);
    if (lastSegment !== undefined) {
      this.fd = fs.openSync(lastSegment.path, 'r+');
      fs.fsyncSync(this.fd);
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
      fatal: fatalDefault,
      ...options,
    };
    const size = resolved.segmentSizeBytes;
    if (!Number.isSafeInteger(size) || size < 1 || size > segmentSizeMaxBytes) {
      throw new ConfigError(
        `segmentSizeBytes must be an integer in [1, ${segmentSizeMaxBytes}], got ${size}`,
      );
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
    let tornBytesDropped = 0;
    for (const [position, name] of names.entries()) {
      const segment = newSegment(directory, Number(name.slice(0, segmentNameDigits)));
      const data = fs.readFileSync(segment.path);
      const corrupted = (offset: number, reason: string): LogCorruptedError =>
        new LogCorruptedError(
          `write-ahead log segment ${segment.path}: ${reason} at byte offset ${offset}; last good index ${last.index}`,
        );
      if (!Number.isSafeInteger(segment.startIndex) || segment.startIndex < 1) {
        throw corrupted(0, 'segment name is not a valid index');
      }
      if (position > 0 && segment.startIndex !== last.index + 1) {
        throw corrupted(
          0,
          `segment starts at index ${segment.startIndex} but the previous one ends at ${last.index}`,
        );
      }
      if (position === 0) last = { view: last.view, index: logIndex(segment.startIndex - 1) };

      let offset = 0;
      for (;;) {
        const decoded = decodeRecord(data, offset);
        if (decoded.kind === 'record') {
          const { entry } = decoded;
          if (entry.index !== last.index + 1 || entry.view < last.view) {
            throw corrupted(
              offset,
              `entry (view ${entry.view}, index ${entry.index}) does not follow its predecessor`,
            );
          }
          if (epochs.at(-1)?.view !== entry.view) epochs.push({ view: entry.view, startIndex: entry.index });
          entries.push(entry);
          pushOffset(segment, offset);
          last = { view: entry.view, index: entry.index };
          offset = decoded.nextOffset;
          continue;
        }
        if (decoded.kind === 'end' && offset === data.length) break;
        const reason =
          decoded.kind === 'bad' ? decoded.reason : 'zero length field before the end of the data';
        if (position < names.length - 1) {
          throw corrupted(offset, `${reason} in a segment that is not the last`);
        }
        const next = findRecordAfter(data, offset + 1);
        if (next !== -1) throw corrupted(offset, `${reason}, followed by a valid record at offset ${next}`);
        // A torn tail: the last write never completed, so nothing in it was ever reported durable.
        const fd = fs.openSync(segment.path, 'r+');
        try {
          fs.ftruncateSync(fd, offset);
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        tornBytesDropped += data.length - offset;
        break;
      }
      segment.sizeBytes = offset;
      segments.push(segment);
    }
    const log = new WriteAheadLog(directory, resolved, segments, epochs, last);
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
      operation = { kind: 'append', firstIndex: this.last.index + 1, records: [] };
      this.queue.push(operation);
    }
    let { view, index } = this.last;
    for (const entry of entries) {
      assert(entry.index === index + 1, `append of index ${entry.index} after ${index}`);
      assert(entry.view >= view, `append of view ${entry.view} after view ${view}`);
      if (this.epochs.at(-1)?.view !== entry.view) {
        this.epochs.push({ view: entry.view, startIndex: entry.index });
      }
      operation.records.push(encodeRecord(entry));
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

  /** Writes what is queued, fsyncs and closes the file. Rejects if the log has failed. */
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
    let recordIndex = 0;
    // Runs the operations in order; returns after starting an asynchronous write, which calls it again.
    const next = (): void => {
      try {
        while (operationIndex < operations.length) {
          const operation = operations[operationIndex];
          assert(operation !== undefined, 'operation index in range');
          if (operation.kind === 'truncate') {
            this.truncateNow(operation.index);
          } else if (recordIndex < operation.records.length) {
            this.writeRecords(operation, recordIndex, (written) => {
              recordIndex += written;
              next();
            });
            return;
          }
          operationIndex++;
          recordIndex = 0;
        }
      } catch (error) {
        this.fail(error);
        return;
      }
      this.finishBatch(durable);
    };
    next();
  }

  /** Writes and syncs the records from `first` that fit in one segment, rolling to a new one if needed. */
  private writeRecords(
    operation: Extract<Operation, { kind: 'append' }>,
    first: number,
    done: (written: number) => void,
  ): void {
    let segment = this.segments.at(-1);
    const nextIndex = operation.firstIndex + first;
    const firstRecord = operation.records[first];
    assert(firstRecord !== undefined, 'record index in range');
    const limit = this.options.segmentSizeBytes;
    if (segment === undefined || (segment.count > 0 && segment.sizeBytes + firstRecord.length > limit)) {
      segment = this.createSegment(nextIndex);
    }
    assert(nextIndex === segment.startIndex + segment.count, 'written records are contiguous');
    const fd = this.fd;
    assert(fd !== null, 'the last segment is open');
    const chunk: Buffer[] = [];
    const position = segment.sizeBytes;
    for (let i = first; i < operation.records.length; i++) {
      const record = operation.records[i];
      assert(record !== undefined, 'record index in range');
      if (chunk.length > 0 && segment.sizeBytes + record.length > limit) break;
      chunk.push(record);
      pushOffset(segment, segment.sizeBytes);
      segment.sizeBytes += record.length;
    }
    const chunkBytes = segment.sizeBytes - position;
    fs.writev(fd, chunk, position, (writeError, bytesWritten) => {
      if (writeError !== null) return this.fail(writeError);
      if (bytesWritten !== chunkBytes) {
        return this.fail(new Error(`short write: ${bytesWritten} of ${chunkBytes}`));
      }
      fs.fdatasync(fd, (syncError) => {
        if (syncError !== null) return this.fail(syncError);
        this.stats.syncs++;
        done(chunk.length);
      });
    });
  }

  /** Called only once the current segment is synced, so only the last segment can ever be torn. */
  private createSegment(startIndex: number): Segment {
    const segment = newSegment(this.directory, startIndex);
    const fd = fs.openSync(segment.path, 'wx');
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = fd;
    fsyncDirectory(this.directory);
    this.segments.push(segment);
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
  }

  private finishBatch(durable: LogPosition): void {
    this.busy = false;
    this.stats.batches++;
    if (this.queue.length > 0) this.startBatch();
    else if (this.closing !== null) this.finishClose();
    this.onDurable(durable);
  }

  private finishClose(): void {
    const closing = this.closing;
    assert(closing !== null, 'close was requested');
    if (this.failure !== null) {
      closing.reject(this.failure);
      return;
    }
    try {
      if (this.fd !== null) {
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
    if (this.fd !== null) fs.close(this.fd, () => {});
    this.fd = null;
    this.closing?.reject(failure);
    this.options.fatal(failure);
  }
}
