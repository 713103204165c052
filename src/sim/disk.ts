// A simulated disk that holds the bytes the real write-ahead log would write — a segment header,
// then records that each claim what was fsynced when their write was issued — and makes writes
// durable only when a simulated fsync completes. It also holds the replica's snapshots: one written
// aside (lost in a crash) and the kept ones (the newest two). Compaction and reset start the log image
// over as a new segment after the snapshot's position, as the real log deletes whole segments. A crash loses every write not yet fsynced; the
// write being synced may be torn: its pages land independently, so any subset of them survives
// (the rest read as zeros, as does the segment's unwritten space after them), and the REAL recovery
// code (`recoverSegment`) decides what comes back.
// Recovery must never call such a tear corruption (nothing in it was acknowledged), and never drop
// what was synced: the simulator's checks would see either.
//
// Damage (`damage`): while the process is down, one bit flips in a record that a later record claims
// was synced, or in a kept snapshot. The next start runs the real recovery, which must call it
// corruption, and then repairs as the shell does: kept snapshots whose checksum fails are dropped,
// the log keeps its intact prefix (the entries before the damaged record), and the directory gets a
// new identity (the cluster gives it), so the coordinator takes the replica for a new member that must
// fetch what it lacks before it counts again.
//
// The list of unreported async losses is durable the moment the replica hands it over: the real shell
// writes it synchronously (write, fsync, rename) before the truncation after it is even queued.

import { crc32 } from 'node:zlib';
import { LogCorruptedError } from '../errors.js';
import { assert } from '../protocol/assert.js';
import type { StorageOperation } from '../protocol/effects.js';
import type { LostEntry } from '../protocol/messages.js';
import { keptSnapshotsMax, type StoredSnapshot } from '../protocol/replica.js';
import { finishSnapshot } from '../protocol/state-machine.js';
import {
  type Entry,
  type LogPosition,
  logIndex,
  positionZero,
  type SnapshotInfo,
  samePosition,
  sameSnapshot,
} from '../protocol/types.js';
import {
  encodeBatch,
  encodeSegmentHeader,
  encodeSyncMarker,
  entryRecordBytes,
  recoverSegment,
} from '../storage/index.js';
import type { Random } from './random.js';

export interface DiskFaults {
  readonly fsyncTicksMin: number;
  readonly fsyncTicksMax: number;
  /** Probability that a crash during an fsync leaves part of that write on disk (a torn write). */
  readonly tornWriteProbability: number;
}

/** What a disk step did: a sync completed (with the snapshot operations in it), or the fsync failed. */
export type DiskStep =
  | { readonly kind: 'idle' }
  | { readonly kind: 'failed' }
  | {
      readonly kind: 'synced';
      readonly snapshotsWritten: readonly SnapshotInfo[];
      /** Snapshots whose write failed (failSnapshotWrites): the shell removed the file and serves on. */
      readonly snapshotsFailed: readonly LogPosition[];
      readonly snapshotsKept: readonly LogPosition[];
      /** Of those, keeps that kept on an older snapshot a follower was receiving. */
      readonly snapshotsRetained: number;
    };

/** The description a snapshot file of this payload would have. */
export function simSnapshotInfo(position: LogPosition, payload: Uint8Array): SnapshotInfo {
  return { position, sizeBytes: payload.length + 32, checksum: crc32(payload, position.index >>> 0) };
}

/** Zero bytes after a segment image's data when recovery reads it (see recoverSegmentImage). */
const spareBytesChoices = [0, 3, 40, 4096, 65536] as const;
/** Page sizes a torn write is cut into: small, so that tears land inside and between records. */
const tornPageBytesChoices = [16, 64, 512] as const;

/** What a start repaired after damage: a description, and a rule the real recovery broke, if any. */
export interface DiskRepair {
  readonly what: string;
  readonly problem: string | null;
}

/** What a start recovers from the disk. */
export interface DiskRecovery {
  readonly snapshot: StoredSnapshot | null;
  readonly entries: Entry[];
  /** Non-null when the start found damage and repaired it: the directory needs a new identity. */
  readonly repair: DiskRepair | null;
  readonly unreportedLosses: readonly LostEntry[];
}

/** The operations that go through the log's queue and its fsyncs. */
type LogOperation = Exclude<StorageOperation, { kind: 'unreported-losses' }>;

/** One write as the log issues it: a truncation, or records already encoded with their claim. */
type Write =
  | { readonly kind: 'truncate'; readonly afterIndex: number }
  | { readonly kind: 'append'; readonly entries: readonly Entry[]; readonly records: Buffer }
  | Extract<StorageOperation, { kind: 'snapshot' | 'keep-snapshot' | 'compact' | 'reset' }>;

export class SimDisk {
  /** Fsyncs neither complete nor start while the disk hangs. */
  hung = false;
  /** The next fsync fails: the process stops, as the real log does (it never retries an fsync). */
  failNextSync = false;
  /**
   * Snapshot writes fail while set (a disk nearly full: a snapshot needs room for the whole state at
   * once), and the log's small writes go on. The disk's, so a restart keeps it; a wiped directory is a
   * new disk.
   */
  failSnapshotWrites = false;
  private readonly salt: number;
  /** The position the log image follows: its segment starts at base.index + 1. */
  private base: LogPosition = positionZero;
  /** The durable segment file, as the chunks it was written in: header, then records. */
  private chunks: Buffer[] = [];
  private imageBytes = 0;
  /** offsets[k] is the byte offset of entry base.index + k + 1 in the image. */
  private readonly offsets: number[] = [];
  private readonly entries: Entry[] = [];
  private queued: LogOperation[] = [];
  private unreportedLosses: readonly LostEntry[] = [];
  private syncing: { writes: Write[]; doneAt: number } | null = null;
  /** The snapshot written aside, not yet kept: a crash loses it. */
  private temporary: StoredSnapshot | null = null;
  /** Kept snapshots, oldest first. */
  private kept: StoredSnapshot[] = [];
  /** The synced log entry whose record `damage` flipped a bit of, until a start repairs it. */
  private damagedIndex: number | null = null;
  private damagedSnapshot = false;
  private identityName: string;

  /** `identity` names the directory this disk holds; a wiped one gets a new disk. */
  constructor(identity: string, random: Random) {
    this.identityName = identity;
    this.salt = random.nextUint32();
    this.startImage(positionZero, []);
  }

  /** The identity of the directory: new for a wiped disk, and after a repair. */
  get identity(): string {
    return this.identityName;
  }

  renewIdentity(identity: string): void {
    this.identityName = identity;
  }

  /** Whether the disk holds anything synced that `damage` could flip a bit of. */
  get damageable(): boolean {
    return this.kept.length > 0 || this.claimedEntries() > 0;
  }

  /**
   * Flips one bit of a synced log record (one that a later record claims was synced, so that recovery
   * can tell) or of a kept snapshot. For a disk whose process is down. Returns what it damaged.
   */
  damage(random: Random): string | null {
    const claimed = this.claimedEntries();
    const targets: ('record' | 'snapshot')[] = [];
    if (claimed > 0) targets.push('record');
    if (this.kept.length > 0) targets.push('snapshot');
    if (targets.length === 0) return null;
    if (random.pick(targets) === 'snapshot') {
      const position = random.integer(0, this.kept.length - 1);
      const snapshot = this.kept[position];
      assert(snapshot !== undefined, 'a kept snapshot');
      const payload = Uint8Array.from(snapshot.payload);
      const byte = random.integer(0, payload.length - 1);
      payload[byte] = (payload[byte] ?? 0) ^ (1 << random.integer(0, 7));
      this.kept[position] = { info: snapshot.info, payload };
      this.damagedSnapshot = true;
      return `kept snapshot at ${snapshot.info.position.index}, byte ${byte}`;
    }
    const position = random.integer(0, claimed - 1);
    const entry = this.entries[position];
    const offset = this.offsets[position];
    assert(entry !== undefined && offset !== undefined, 'a synced entry');
    const image = Buffer.concat(this.chunks);
    const byte = offset + random.integer(0, entryRecordBytes(entry) - 1);
    image[byte] = (image[byte] ?? 0) ^ (1 << random.integer(0, 7));
    this.chunks = [image];
    this.damagedIndex = Math.min(this.damagedIndex ?? entry.index, entry.index);
    return `log record of entry ${entry.index}, byte ${byte}`;
  }

  /** The entries on disk after the log's base, as the log's recovery would return them. */
  get durable(): readonly Entry[] {
    return this.entries;
  }

  get durablePosition(): LogPosition {
    const last = this.entries.at(-1);
    return last === undefined ? this.base : { view: last.view, index: logIndex(last.index) };
  }

  newestSnapshot(): StoredSnapshot | null {
    return this.kept.at(-1) ?? null;
  }

  /** Whether this disk keeps a snapshot with exactly this description (a transfer source). */
  keeps(info: SnapshotInfo): StoredSnapshot | null {
    return this.kept.find((kept) => sameSnapshot(kept.info, info)) ?? null;
  }

  /** A transferred snapshot, kept (durably) before the replica installs it. */
  keepTransferred(snapshot: StoredSnapshot): void {
    this.keepSnapshot(snapshot, []);
  }

  /**
   * What a start recovers: the newest kept snapshot and the log entries after it. A log that does not
   * continue the snapshot (a crash between installing a transferred snapshot and resetting the log)
   * is reset to it, as the real recovery does.
   */
  recoverForStart(): DiskRecovery {
    const repair = this.damagedIndex !== null || this.damagedSnapshot ? this.repair() : null;
    const snapshot = this.newestSnapshot();
    if (snapshot === null) {
      // A log after a base with no snapshot to stand for it is of no use (a repair dropped it).
      if (this.base.index > 0) this.startImage(positionZero, []);
      return { snapshot, entries: [...this.entries], repair, unreportedLosses: this.unreportedLosses };
    }
    const position = snapshot.info.position;
    const at = this.entries.find((entry) => entry.index === position.index);
    const continues =
      (this.base.index === position.index && this.base.view === position.view) ||
      (at !== undefined && at.view === position.view);
    if (!continues) {
      this.startImage(position, []);
      return { snapshot, entries: [], repair, unreportedLosses: this.unreportedLosses };
    }
    return {
      snapshot,
      entries: this.entries.filter((entry) => entry.index > position.index),
      repair,
      unreportedLosses: this.unreportedLosses,
    };
  }

  /**
   * The shell's repair after damage below the sync point: kept snapshots that fail their checksum are
   * dropped; the log runs through the real recovery, which must call the damage corruption, and keeps
   * the entries before the damaged record.
   */
  private repair(): DiskRepair {
    const notes: string[] = [];
    let problem: string | null = null;
    for (let position = this.kept.length - 1; position >= 0; position--) {
      const snapshot = this.kept[position];
      if (snapshot === undefined) continue;
      const intact =
        simSnapshotInfo(snapshot.info.position, snapshot.payload).checksum === snapshot.info.checksum;
      if (intact) continue;
      this.kept.splice(position, 1);
      notes.push(`dropped the damaged snapshot at ${snapshot.info.position.index}`);
    }
    const damagedIndex = this.damagedIndex;
    if (damagedIndex !== null) {
      try {
        const recovered = this.recoverSegmentImage(Buffer.concat(this.chunks));
        problem =
          `recovery took damage to synced entry ${damagedIndex} for a torn write ` +
          `(kept ${recovered.entries.length} entries, dropped ${recovered.tornBytes} bytes)`;
      } catch (error) {
        if (!(error instanceof LogCorruptedError)) throw error;
      }
      const last = this.durablePosition.index;
      const prefix = this.entries.filter((entry) => entry.index < damagedIndex);
      notes.push(`kept log entries ${this.base.index + 1}..${damagedIndex - 1} of ..${last}`);
      this.startImage(this.base, prefix);
    }
    this.damagedIndex = null;
    this.damagedSnapshot = false;
    return { what: notes.join('; ') || 'nothing damaged was found', problem };
  }

  /** Entries (from the first after the base) that a later record claims were synced. */
  private claimedEntries(): number {
    if (this.entries.length === 0) return 0;
    const { coveredThrough } = this.recoverSegmentImage(Buffer.concat(this.chunks));
    return this.entries.filter((entry) => entry.index <= coveredThrough).length;
  }

  submit(operations: readonly StorageOperation[]): void {
    for (const operation of operations) {
      if (operation.kind === 'unreported-losses') this.unreportedLosses = operation.entries;
      else this.queued.push(operation);
    }
  }

  step(now: number, random: Random, faults: DiskFaults): DiskStep {
    if (this.hung) return { kind: 'idle' };
    let result: DiskStep = { kind: 'idle' };
    if (this.syncing !== null && this.syncing.doneAt <= now) {
      if (this.failNextSync) {
        this.failNextSync = false;
        return { kind: 'failed' };
      }
      const snapshotsWritten: SnapshotInfo[] = [];
      const snapshotsFailed: LogPosition[] = [];
      const snapshotsKept: LogPosition[] = [];
      let snapshotsRetained = 0;
      for (const write of this.syncing.writes) {
        if (write.kind === 'snapshot' && this.failSnapshotWrites) {
          this.temporary = null;
          snapshotsFailed.push(write.position);
        } else if (write.kind === 'snapshot') {
          // Encoded only now, after the replica has applied more: the encoding must still be the
          // state at write.position.
          const payload = finishSnapshot(write.payload);
          const info = simSnapshotInfo(write.position, payload);
          this.temporary = { info, payload };
          snapshotsWritten.push(info);
        } else if (write.kind === 'keep-snapshot') {
          const temporary = this.temporary;
          if (temporary !== null && temporary.info.position.index === write.position.index) {
            this.keepSnapshot(temporary, write.retained);
            this.temporary = null;
            snapshotsKept.push(write.position);
            if (write.retained.length > 0) snapshotsRetained += 1;
          }
        } else {
          this.apply(write);
        }
      }
      this.syncing = null;
      result = { kind: 'synced', snapshotsWritten, snapshotsFailed, snapshotsKept, snapshotsRetained };
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
    this.temporary = null;
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
    const recovered = this.recoverSegmentImage(image);
    assert(recovered.created, 'the segment header is synced before any record');
    // A torn record whose missing last bytes were zeros reads whole against the zeros after the image
    // (as against a real segment's): those zeros are part of the log now (sim seed 1305144, where the
    // image was a byte short of the entries' offsets, and a later read met a record cut in two).
    const valid =
      image.length >= recovered.validBytes
        ? image.subarray(0, recovered.validBytes)
        : Buffer.concat([image, Buffer.alloc(recovered.validBytes - image.length)]);
    this.chunks = [Buffer.from(valid)];
    this.imageBytes = recovered.validBytes;
    this.entries.length = 0;
    this.entries.push(...recovered.entries);
    this.offsets.length = 0;
    this.offsets.push(...recovered.entryOffsets.subarray(0, recovered.entries.length));
  }

  private recoverSegmentImage(image: Buffer): ReturnType<typeof recoverSegment> {
    // The real log creates a segment at its full size, so recovery meets zeros after what was
    // written. Their length follows from the image's (the run's random choices stay as they were):
    // none, fewer than a record's length field, less than a record, or pages.
    const spare = spareBytesChoices[image.length % spareBytesChoices.length] ?? 0;
    return recoverSegment(spare === 0 ? image : Buffer.concat([image, Buffer.alloc(spare)]), {
      path: `sim:${this.identity}`,
      isLast: true,
      startIndex: this.base.index + 1,
      previous: this.base,
    });
  }

  /** Starts the log image over as a segment after `base` holding `entries` (all of them synced). */
  private startImage(base: LogPosition, entries: readonly Entry[]): void {
    this.base = base;
    const header = encodeSegmentHeader({ startIndex: base.index + 1, salt: this.salt });
    this.chunks = [header];
    this.imageBytes = header.length;
    this.entries.length = 0;
    this.offsets.length = 0;
    if (entries.length === 0) return;
    let offset = this.imageBytes;
    for (const entry of entries) {
      this.offsets.push(offset);
      offset += entryRecordBytes(entry);
      this.entries.push(entry);
    }
    const last = entries.at(-1)?.index ?? base.index;
    // Re-encoded as synced: claimed by a marker, so damage to them would read as corruption.
    this.chunks.push(encodeBatch(entries, base.index, this.salt), encodeSyncMarker(last, this.salt));
    this.imageBytes = offset + (this.chunks.at(-1)?.length ?? 0);
  }

  /** Keeps the newest keptSnapshotsMax, and older ones at `retained`, as SnapshotStore.keep() does. */
  private keepSnapshot(snapshot: StoredSnapshot, retained: readonly LogPosition[]): void {
    const index = this.kept.findIndex((kept) => kept.info.position.index >= snapshot.info.position.index);
    if (index >= 0 && this.kept[index]?.info.position.index === snapshot.info.position.index) {
      this.kept[index] = snapshot;
    } else if (index >= 0) {
      this.kept.splice(index, 0, snapshot);
    } else {
      this.kept.push(snapshot);
    }
    const held = ({ info }: StoredSnapshot): boolean =>
      retained.some((position) => samePosition(position, info.position));
    const newestFrom = this.kept.length - keptSnapshotsMax;
    this.kept = this.kept.filter((kept, at) => at >= newestFrom || held(kept));
  }

  /** Encodes the operations as the real log writes them: each record claims what was fsynced before. */
  private encode(operations: readonly LogOperation[]): Write[] {
    let lastIndex: number = this.durablePosition.index;
    let syncedThrough = lastIndex;
    return operations.map((operation): Write => {
      if (
        operation.kind === 'snapshot' ||
        operation.kind === 'keep-snapshot' ||
        operation.kind === 'compact'
      ) {
        return operation;
      }
      if (operation.kind === 'reset') {
        lastIndex = operation.position.index;
        syncedThrough = operation.position.index;
        return operation;
      }
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
    if (write.kind === 'snapshot' || write.kind === 'keep-snapshot') return;
    if (write.kind === 'reset') {
      this.startImage(write.position, []);
      return;
    }
    if (write.kind === 'compact') {
      if (write.throughIndex <= this.base.index) return;
      const at = this.entries.find((entry) => entry.index === write.throughIndex);
      if (at === undefined) return; // beyond what is written: nothing to delete yet
      const kept = this.entries.filter((entry) => entry.index > write.throughIndex);
      this.startImage({ view: at.view, index: write.throughIndex }, kept);
      return;
    }
    if (write.kind === 'truncate') {
      const keep = write.afterIndex - this.base.index;
      if (keep >= this.entries.length) return;
      assert(keep >= 0, 'truncation below the log base');
      const cut = this.offsets[keep] ?? this.imageBytes;
      const image = Buffer.concat(this.chunks).subarray(0, cut);
      this.chunks = [image];
      this.imageBytes = cut;
      this.offsets.length = keep;
      this.entries.length = keep;
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
