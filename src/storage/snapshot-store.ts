// A replica's snapshots/ folder: kept snapshots (snapshot-file.ts has the file format), the one being
// written, and one being received from another replica (snapshot-transfer.ts).
//
//   snapshot-<index, 20 digits>-<view>.snap   a kept snapshot; the newest is what the log continues
//   snapshot.tmp                              a snapshot being written; keep() renames it into place
//   transfer.json, transfer.part              a snapshot being received, resumable after a restart
//   <kept name>.damaged                       a kept file that failed its check at open, set aside
//
// Invariants:
// - A kept name only ever holds a whole snapshot: the file is written and fsynced under snapshot.tmp,
//   then renamed, and the rename is made durable before keep() resolves, so before the caller may
//   compact the log through it.
// - The newest two are kept: the newest is what the log continues, and the one before may still be
//   serving a transfer to a learner (readChunk of a deleted one throws SnapshotGoneError). So are
//   older ones the core says a follower is still receiving (keep()'s `retained`), until a later keep
//   no longer names them.
// - At open, the newest file that verifies is loaded. Newer ones that fail are damage: reported, and
//   set aside (renamed, never deleted). Older ones are not read: they verify when they are needed.
// - One write() or keep() at a time; writes never block the event loop (a snapshot may be large).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { assert } from '../protocol/assert.js';
import { keptSnapshotsMax } from '../protocol/replica.js';
import { type SnapshotEncoding, snapshotSizeError } from '../protocol/state-machine.js';
import { type LogPosition, type SnapshotInfo, samePosition, sameSnapshot } from '../protocol/types.js';
import { close, fsync, fsyncDirectoryAsync, openFile, readAt, writeAllAt } from './async-file.js';
import { fsyncDirectory } from './durable-file.js';
import { ensureRoom, type FreeSpaceReader, writableBytes } from './free-space.js';
import {
  decodeSnapshotFile,
  encodeSnapshotHeader,
  encodeSnapshotTrailer,
  parseSnapshotFileName,
  recordedChecksum,
  SnapshotDamagedError,
  snapshotFileBytes,
  snapshotFileName,
  snapshotTrailerBytes,
} from './snapshot-file.js';
import { type TransferProgress, TransferReceiver } from './snapshot-transfer.js';

export { keptSnapshotsMax } from '../protocol/replica.js';
export {
  decodeSnapshotFile,
  encodeSnapshotFile,
  SnapshotDamagedError,
  snapshotFileName,
  snapshotFormatVersion,
} from './snapshot-file.js';
export {
  SnapshotTransferError,
  type TransferProgress,
  transferChunkBytes,
  transferSyncIntervalBytes,
} from './snapshot-transfer.js';

/** Where a snapshot is written before keep() renames it (the chaos runner blocks it to fail writes). */
export const temporaryFileName = 'snapshot.tmp';
const damagedSuffix = '.damaged';

/** A snapshot asked for by its info is no longer kept (a newer one replaced it). */
export class SnapshotGoneError extends Error {
  override name = 'SnapshotGoneError';
}

export interface LoadedSnapshot {
  readonly info: SnapshotInfo;
  readonly payload: Uint8Array;
}

export interface DamagedSnapshot {
  /** The file as it was named; once set aside it is this name with ".damaged" after it. */
  readonly file: string;
  /** The position its name states (its content cannot be trusted). */
  readonly position: LogPosition;
  readonly reason: string;
}

export interface SnapshotStoreOpening {
  readonly store: SnapshotStore;
  /** The newest kept snapshot that verifies, or null if none does. */
  readonly newest: LoadedSnapshot | null;
  /** Kept files newer than `newest` that failed verification (and older ones too short to be snapshots). */
  readonly damaged: DamagedSnapshot[];
}

interface KeptSnapshot {
  readonly name: string;
  readonly info: SnapshotInfo;
}

const newestFirst = (a: LogPosition, b: LogPosition): number => b.index - a.index || b.view - a.view;

const describe = (position: LogPosition): string => `(view ${position.view}, index ${position.index})`;

/** The checksum in a file's trailer, read without reading the file. */
function readRecordedChecksum(file: string, sizeBytes: number): number {
  const trailer = Buffer.alloc(snapshotTrailerBytes);
  const fd = fs.openSync(file, 'r');
  try {
    const read = fs.readSync(fd, trailer, 0, trailer.length, sizeBytes - trailer.length);
    assert(read === trailer.length, 'the trailer lies within the file');
  } finally {
    fs.closeSync(fd);
  }
  return recordedChecksum(trailer);
}

export class SnapshotStore {
  /** Newest first. */
  private readonly kept: KeptSnapshot[];
  private damagedToSetAside: DamagedSnapshot[];
  /** What snapshot.tmp holds, once write() has made it durable; null otherwise. */
  private written: SnapshotInfo | null = null;
  private temporaryBusy = false;
  private readonly transfer: TransferReceiver;

  private constructor(
    private readonly directory: string,
    kept: KeptSnapshot[],
    damaged: DamagedSnapshot[],
    private readonly readFree: FreeSpaceReader,
  ) {
    this.kept = kept;
    this.damagedToSetAside = damaged;
    this.transfer = new TransferReceiver(directory);
  }

  /**
   * Opens (creating if needed) the snapshots in `directory` and loads the newest that verifies.
   * Synchronous: run at start. Damaged files are set aside at once unless `setAsideDamaged` is false:
   * then the caller does it with setAsideDamaged(), after it has recorded what the damage cost (so a
   * crash in between cannot hide the damage from the next start). `readFree` says how much room the
   * file system has left (free-space.ts; tests give their own).
   */
  static open(
    directory: string,
    options: { setAsideDamaged?: boolean; readFree?: FreeSpaceReader } = {},
  ): SnapshotStoreOpening {
    if (!fs.existsSync(directory)) {
      fs.mkdirSync(directory, { recursive: true });
      fsyncDirectory(path.dirname(path.resolve(directory)));
    }
    const temporary = path.join(directory, temporaryFileName);
    if (fs.existsSync(temporary)) {
      // A write() that was never kept: nothing relies on it.
      fs.rmSync(temporary);
      fsyncDirectory(directory);
    }
    const candidates = fs
      .readdirSync(directory)
      .flatMap((name) => {
        const position = parseSnapshotFileName(name);
        return position === null ? [] : [{ name, position }];
      })
      .sort((a, b) => newestFirst(a.position, b.position));

    let newest: LoadedSnapshot | null = null;
    const kept: KeptSnapshot[] = [];
    const damaged: DamagedSnapshot[] = [];
    for (const { name, position } of candidates) {
      const file = path.join(directory, name);
      if (newest === null) {
        const bytes = fs.readFileSync(file);
        try {
          const { payload } = decodeSnapshotFile(bytes, name);
          const info: SnapshotInfo = { position, sizeBytes: bytes.length, checksum: recordedChecksum(bytes) };
          newest = { info, payload };
          kept.push({ name, info });
        } catch (error) {
          if (!(error instanceof SnapshotDamagedError)) throw error;
          damaged.push({ file, position, reason: error.message });
        }
        continue;
      }
      const sizeBytes = fs.statSync(file).size;
      if (sizeBytes < snapshotFileBytes(0)) {
        damaged.push({
          file,
          position,
          reason: `${name}: ${sizeBytes} bytes, shorter than an empty snapshot`,
        });
        continue;
      }
      kept.push({ name, info: { position, sizeBytes, checksum: readRecordedChecksum(file, sizeBytes) } });
    }
    const store = new SnapshotStore(directory, kept, damaged, options.readFree ?? writableBytes);
    if (options.setAsideDamaged !== false) store.setAsideDamaged();
    return { store, newest, damaged };
  }

  /** Renames the damaged files found at open to "<name>.damaged" (durably). Does nothing the second time. */
  setAsideDamaged(): void {
    if (this.damagedToSetAside.length === 0) return;
    for (const { file } of this.damagedToSetAside) fs.renameSync(file, `${file}${damagedSuffix}`);
    fsyncDirectory(this.directory);
    this.damagedToSetAside = [];
  }

  newestInfo(): SnapshotInfo | null {
    return this.kept[0]?.info ?? null;
  }

  /** Whether a kept file is exactly this snapshot (position, size and checksum). */
  has(info: SnapshotInfo): boolean {
    return this.kept.some((kept) => sameSnapshot(kept.info, info));
  }

  /**
   * Writes a snapshot of the state at `position` to snapshot.tmp, a piece at a time (each written
   * before the encoding is asked for the next, which may reuse its buffer), and fsyncs it; keep(position)
   * then makes it a kept snapshot. Nothing relies on it before then. A snapshot the file system has no
   * room for is not tried (NoRoomError: free-space.ts says why). If it fails, snapshot.tmp is
   * removed (best effort) before the error is thrown, so a disk that filled up gets its space back.
   */
  async write(position: LogPosition, encoding: SnapshotEncoding): Promise<SnapshotInfo> {
    assert(!this.temporaryBusy, 'one snapshot write or keep at a time');
    this.temporaryBusy = true;
    this.written = null;
    try {
      return await this.writeTemporary(position, encoding);
    } catch (error) {
      await fs.promises.rm(path.join(this.directory, temporaryFileName), { force: true }).catch(() => {});
      throw error;
    } finally {
      this.temporaryBusy = false;
    }
  }

  private async writeTemporary(position: LogPosition, encoding: SnapshotEncoding): Promise<SnapshotInfo> {
    const payloadBytes = encoding.sizeBytes;
    await ensureRoom(this.directory, snapshotFileBytes(payloadBytes), 'a snapshot', this.readFree);
    const header = encodeSnapshotHeader(position, payloadBytes);
    let checksum = crc32(header);
    const fd = await openFile(path.join(this.directory, temporaryFileName), 'w');
    try {
      await writeAllAt(fd, header, 0);
      let offset = header.length;
      for (let piece = encoding.next(); piece !== null; piece = encoding.next()) {
        if (offset + piece.length > header.length + payloadBytes) {
          throw snapshotSizeError(encoding, offset + piece.length - header.length);
        }
        checksum = crc32(piece, checksum);
        await writeAllAt(fd, piece, offset);
        offset += piece.length;
      }
      if (offset !== header.length + payloadBytes) throw snapshotSizeError(encoding, offset - header.length);
      await writeAllAt(fd, encodeSnapshotTrailer(checksum), offset);
      await fsync(fd);
    } finally {
      await close(fd);
    }
    const info: SnapshotInfo = { position, sizeBytes: snapshotFileBytes(payloadBytes), checksum };
    this.written = info;
    return info;
  }

  /**
   * Renames snapshot.tmp (which must hold `position`) to its kept name, durably; then deletes all but
   * the newest keptSnapshotsMax and those at `retained` (a follower is receiving them). Once it
   * resolves, the log may be compacted through position.index.
   */
  async keep(position: LogPosition, retained: readonly LogPosition[] = []): Promise<void> {
    assert(!this.temporaryBusy, 'one snapshot write or keep at a time');
    const written = this.written;
    assert(written !== null && samePosition(written.position, position), 'keep() follows the write() of it');
    const newest = this.kept[0];
    assert(
      newest === undefined || position.index >= newest.info.position.index,
      `keep of index ${position.index} after index ${newest?.info.position.index}: snapshots are kept in log order`,
    );
    this.temporaryBusy = true;
    try {
      const name = snapshotFileName(position);
      await fs.promises.rename(path.join(this.directory, temporaryFileName), path.join(this.directory, name));
      this.written = null;
      await fsyncDirectoryAsync(this.directory);
      this.addKept({ name, info: written });
      await this.deleteAllButNewest(retained);
    } finally {
      this.temporaryBusy = false;
    }
  }

  /**
   * Reads bytes [offset, offset + length) of a kept snapshot (fewer at its end), to serve a transfer.
   * Throws SnapshotGoneError if that snapshot is no longer kept.
   */
  async readChunk(info: SnapshotInfo, offset: number, length: number): Promise<Uint8Array> {
    assert(
      Number.isSafeInteger(offset) && offset >= 0 && offset <= info.sizeBytes,
      'offset within the snapshot',
    );
    assert(Number.isSafeInteger(length) && length >= 0, 'length is a count of bytes');
    const gone = (): SnapshotGoneError =>
      new SnapshotGoneError(
        `snapshot ${describe(info.position)} is no longer kept (a newer one replaced it); ` +
          'a transfer of it must start again from the newest',
      );
    const kept = this.kept.find((candidate) => sameSnapshot(candidate.info, info));
    if (kept === undefined) throw gone();
    let fd: number;
    try {
      fd = await openFile(path.join(this.directory, kept.name), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw gone();
      throw error;
    }
    try {
      const wanted = Math.min(length, info.sizeBytes - offset);
      const chunk = await readAt(fd, wanted, offset);
      if (chunk.length !== wanted) {
        throw new SnapshotDamagedError(`${kept.name} is shorter than the ${info.sizeBytes} bytes it had`);
      }
      return chunk;
    } finally {
      await close(fd);
    }
  }

  /**
   * The newest kept snapshot, read and verified again (synchronously): for rolling the state back to
   * it. Throws SnapshotDamagedError if the file no longer verifies.
   */
  readNewestPayload(): LoadedSnapshot | null {
    const newest = this.kept[0];
    if (newest === undefined) return null;
    const bytes = fs.readFileSync(path.join(this.directory, newest.name));
    const { payload } = decodeSnapshotFile(bytes, newest.name);
    if (bytes.length !== newest.info.sizeBytes || recordedChecksum(bytes) !== newest.info.checksum) {
      throw new SnapshotDamagedError(`${newest.name} changed on disk since it was kept`);
    }
    return { info: newest.info, payload };
  }

  /**
   * Starts receiving the snapshot `info`, or resumes it if the partial files a previous process left
   * are of exactly this snapshot; returns the offset to ask for next (a multiple of transferChunkBytes,
   * or info.sizeBytes if every byte had arrived: then finishTransfer() is next).
   */
  beginTransfer(info: SnapshotInfo): number {
    return this.transfer.begin(info);
  }

  /**
   * Resolves if the `bytes` a transfer has yet to receive fit on the file system (with the log's
   * headroom), else rejects with NoRoomError: a transfer that cannot fit is not tried.
   */
  ensureRoomToReceive(bytes: number): Promise<void> {
    return ensureRoom(this.directory, bytes, 'the rest of a snapshot being received', this.readFree);
  }

  /** Writes a received chunk, which must start where the received bytes end. */
  writeTransferChunk(offset: number, bytes: Uint8Array): Promise<void> {
    return this.transfer.write(offset, bytes);
  }

  /**
   * Verifies the whole received file against its info; keeps it (durably) and returns its payload.
   * Throws SnapshotTransferError if it does not verify: its partial files are then deleted. Like
   * keep(), it then deletes all but the newest keptSnapshotsMax: receive only what is newer.
   */
  async finishTransfer(): Promise<LoadedSnapshot> {
    const progress = this.transfer.progress();
    assert(progress !== null, 'beginTransfer before finishTransfer');
    const name = snapshotFileName(progress.info.position);
    const received = await this.transfer.finish(path.join(this.directory, name));
    this.addKept({ name, info: received.info });
    await this.deleteAllButNewest([]);
    return received;
  }

  /** Deletes a partial transfer's files. */
  abortTransfer(): Promise<void> {
    return this.transfer.abort();
  }

  transferProgress(): TransferProgress | null {
    return this.transfer.progress();
  }

  private addKept(snapshot: KeptSnapshot): void {
    const same = this.kept.findIndex((kept) => kept.name === snapshot.name);
    if (same !== -1) this.kept.splice(same, 1);
    this.kept.push(snapshot);
    this.kept.sort((a, b) => newestFirst(a.info.position, b.info.position));
  }

  private async deleteAllButNewest(retained: readonly LogPosition[]): Promise<void> {
    const held = (kept: KeptSnapshot): boolean =>
      retained.some((position) => samePosition(position, kept.info.position));
    const deleted = this.kept.filter((kept, at) => at >= keptSnapshotsMax && !held(kept));
    if (deleted.length === 0) return;
    for (const gone of deleted) this.kept.splice(this.kept.indexOf(gone), 1);
    for (const { name } of deleted) await fs.promises.rm(path.join(this.directory, name), { force: true });
    await fsyncDirectoryAsync(this.directory);
  }
}
