// A simulated disk that holds the bytes the real write-ahead log would write — a segment header,
// then records that each claim what was fsynced when their write was issued — and makes writes
// durable only when a simulated fsync completes. A crash loses every write not yet fsynced; the
// write being synced may be torn: its pages land independently, so any subset of them survives
// (the rest read as zeros), and the REAL recovery code (`recoverSegment`) decides what comes back.
// Recovery must never call such a tear corruption (nothing in it was acknowledged), and never drop
// what was synced: the simulator's checks would see either.

import { assert } from '../protocol/assert.js';
import type { StorageOperation } from '../protocol/effects.js';
import { type Entry, type LogPosition, logIndex, positionZero } from '../protocol/types.js';
import { encodeBatch, encodeSegmentHeader, entryRecordBytes, recoverSegment } from '../storage/index.js';
import type { Random } from './random.js';

export interface DiskFaults {
  readonly fsyncTicksMin: number;
  readonly fsyncTicksMax: number;
  /** Probability that a crash during an fsync leaves part of that write on disk (a torn write). */
  readonly tornWriteProbability: number;
}

/** What a disk step did. */
export type DiskStep = 'idle' | 'synced' | 'failed';

/** Page sizes a torn write is cut into: small, so that tears land inside and between records. */
const tornPageBytesChoices = [16, 64, 512] as const;

/** One write as the log issues it: a truncation, or records already encoded with their claim. */
type Write =
  | { readonly kind: 'truncate'; readonly afterIndex: number }
  | { readonly kind: 'append'; readonly entries: readonly Entry[]; readonly records: Buffer };

export class SimDisk {
  /** Fsyncs neither complete nor start while the disk hangs. */
  hung = false;
  /** The next fsync fails: the process stops, as the real log does (it never retries an fsync). */
  failNextSync = false;
  private readonly salt: number;
  /** The durable segment file, as the chunks it was written in: header, then records. */
  private chunks: Buffer[];
  private imageBytes: number;
  /** offsets[k] is the byte offset of entry k + 1 in the image. */
  private readonly offsets: number[] = [];
  private readonly entries: Entry[] = [];
  private queued: StorageOperation[] = [];
  private syncing: { writes: Write[]; doneAt: number } | null = null;

  /** `identity` names the directory this disk holds; a wiped one gets a new disk. */
  constructor(
    readonly identity: string,
    random: Random,
  ) {
    this.salt = random.nextUint32();
    const header = encodeSegmentHeader({ startIndex: 1, salt: this.salt });
    this.chunks = [header];
    this.imageBytes = header.length;
  }

  /** The entries on disk, as recovery at the next start would return them. */
  get durable(): readonly Entry[] {
    return this.entries;
  }

  get durablePosition(): LogPosition {
    const last = this.entries.at(-1);
    return last === undefined ? positionZero : { view: last.view, index: logIndex(last.index) };
  }

  submit(operations: readonly StorageOperation[]): void {
    this.queued.push(...operations);
  }

  step(now: number, random: Random, faults: DiskFaults): DiskStep {
    if (this.hung) return 'idle';
    let result: DiskStep = 'idle';
    if (this.syncing !== null && this.syncing.doneAt <= now) {
      if (this.failNextSync) {
        this.failNextSync = false;
        return 'failed';
      }
      for (const write of this.syncing.writes) this.apply(write);
      this.syncing = null;
      result = 'synced';
    }
    if (this.syncing === null && this.queued.length > 0) {
      this.syncing = {
        writes: this.encode(this.queued),
        doneAt: now + random.integer(faults.fsyncTicksMin, faults.fsyncTicksMax),
      };
      this.queued = [];
    }
    return result;
  }

  /**
   * The process dies. Unsynced writes are lost; appends being synced may be torn into any subset of
   * their pages. Then recovery runs over what is on disk, as at the next start.
   */
  crash(random: Random, faults: DiskFaults): void {
    const syncing = this.syncing;
    this.queued = [];
    this.syncing = null;
    this.hung = false;
    this.failNextSync = false;
    const appendOnly = syncing?.writes.every((write) => write.kind === 'append') === true;
    if (syncing === null || !appendOnly || !random.chance(faults.tornWriteProbability)) return;
    const before = this.imageBytes;
    const written = Buffer.concat([
      ...this.chunks,
      ...syncing.writes.flatMap((write) => (write.kind === 'append' ? [write.records] : [])),
    ]);
    const pageBytes = random.pick(tornPageBytesChoices);
    const torn = Buffer.alloc(written.length);
    written.copy(torn, 0, 0, before);
    let end = before;
    for (let page = Math.floor(before / pageBytes) * pageBytes; page < written.length; page += pageBytes) {
      if (!random.chance(0.5)) continue; // this page never reached the disk: it reads as zeros
      const from = Math.max(page, before);
      const to = Math.min(page + pageBytes, written.length);
      written.copy(torn, from, from, to);
      end = to;
    }
    this.recover(torn.subarray(0, end));
  }

  /** Runs the real recovery over `image`, as the log would at its next start. */
  private recover(image: Buffer): void {
    const recovered = recoverSegment(image, {
      path: `sim:${this.identity}`,
      isLast: true,
      startIndex: 1,
      previous: positionZero,
    });
    assert(recovered.created, 'the segment header is synced before any record');
    this.chunks = [Buffer.from(image.subarray(0, recovered.validBytes))];
    this.imageBytes = recovered.validBytes;
    this.entries.length = 0;
    this.entries.push(...recovered.entries);
    this.offsets.length = 0;
    this.offsets.push(...recovered.entryOffsets.subarray(0, recovered.entries.length));
  }

  /** Encodes the operations as the real log writes them: each record claims what was fsynced before. */
  private encode(operations: readonly StorageOperation[]): Write[] {
    let lastIndex = this.entries.length;
    let syncedThrough = lastIndex;
    return operations.map((operation): Write => {
      if (operation.kind === 'truncate') {
        lastIndex = Math.min(lastIndex, operation.afterIndex);
        syncedThrough = Math.min(syncedThrough, operation.afterIndex);
        return { kind: 'truncate', afterIndex: operation.afterIndex };
      }
      assert(operation.entries[0]?.index === lastIndex + 1, 'appends continue the log');
      lastIndex += operation.entries.length;
      return {
        kind: 'append',
        entries: operation.entries,
        records: encodeBatch(operation.entries, syncedThrough, this.salt),
      };
    });
  }

  private apply(write: Write): void {
    if (write.kind === 'truncate') {
      if (write.afterIndex >= this.entries.length) return;
      const cut = this.offsets[write.afterIndex] ?? this.imageBytes;
      const image = Buffer.concat(this.chunks).subarray(0, cut);
      this.chunks = [image];
      this.imageBytes = cut;
      this.offsets.length = write.afterIndex;
      this.entries.length = write.afterIndex;
      return;
    }
    let offset = this.imageBytes;
    for (const entry of write.entries) {
      this.offsets.push(offset);
      offset += entryRecordBytes(entry);
      this.entries.push(entry);
    }
    this.chunks.push(write.records);
    this.imageBytes = offset;
  }
}
