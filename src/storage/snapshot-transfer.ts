// Receiving a snapshot by chunks (the learner's side of a state transfer), resumable across restarts.
// Two files sit beside the kept snapshots:
//
//   transfer.json  the SnapshotInfo being received, made durable before any byte of it is written
//   transfer.part  the bytes received so far, in order
//
//   none --begin(info)--> receiving --write(offset, bytes)...--> finish() --verified--> kept snapshot
//    ^                     |   begin(another info), abort(), or finish() found it bad
//    +---------------------+   (both files deleted)
//
// Invariants:
// - Nothing received is trusted before finish() has checked the whole file: it must decode (format and
//   CRC) and match the announced size, position and checksum, or both files are deleted and the
//   caller starts over. So a crash may leave anything in the part file; it costs a transfer, never state.
// - A restart resumes at the part file's length rounded down to a whole chunk (most of what a crash
//   leaves is intact: the part is fdatasynced at least every transferSyncIntervalBytes and at the end).
// - Chunks are written strictly in order, one at a time: the part file has no holes.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import { assert } from '../protocol/assert.js';
import {
  type LogPosition,
  logIndex,
  type SnapshotInfo,
  sameSnapshot,
  viewNumber,
} from '../protocol/types.js';
import { close, fdatasync, fsync, fsyncDirectoryAsync, writeAllAt } from './async-file.js';
import { fsyncDirectory, writeFileDurably } from './durable-file.js';
import {
  decodeSnapshotFile,
  recordedChecksum,
  SnapshotDamagedError,
  snapshotFileBytes,
} from './snapshot-file.js';

/** The unit of a transfer: a restart resumes at a multiple of it. */
export const transferChunkBytes = 1024 * 1024;
/** The most a crash can cost a resumed transfer, beyond the chunk being written. */
export const transferSyncIntervalBytes = 8 * transferChunkBytes;
assert(transferSyncIntervalBytes % transferChunkBytes === 0, 'the part file is synced at chunk boundaries');

const partFileName = 'transfer.part';
const stateFileName = 'transfer.json';

/** A received snapshot failed its check; its partial files are deleted, so the transfer starts over. */
export class SnapshotTransferError extends Error {
  override name = 'SnapshotTransferError';
}

export interface TransferProgress {
  readonly info: SnapshotInfo;
  readonly receivedBytes: number;
}

interface Receiving {
  readonly info: SnapshotInfo;
  receivedBytes: number;
  unsyncedBytes: number;
  /** The open part file; null for a transfer found at start and not yet resumed by begin(). */
  fd: number | null;
}

const describe = (position: LogPosition): string => `(view ${position.view}, index ${position.index})`;

function encodeState(info: SnapshotInfo): Buffer {
  const { position, sizeBytes, checksum } = info;
  return Buffer.from(
    `${JSON.stringify({ view: position.view, index: position.index, sizeBytes, checksum })}\n`,
  );
}

/** The SnapshotInfo in transfer.json, or null if there is none or it is not one (a torn write, say). */
function readState(file: string): SnapshotInfo | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const { view, index, sizeBytes, checksum } = parsed as Record<string, unknown>;
  const count = (value: unknown): value is number =>
    typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
  if (!count(view) || !count(index) || !count(sizeBytes) || !count(checksum)) return null;
  return { position: { view: viewNumber(view), index: logIndex(index) }, sizeBytes, checksum };
}

function sizeOf(file: string): number | null {
  try {
    return fs.statSync(file).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** The payload of `bytes` if they are the snapshot `info` announced, or what is wrong with them. */
function verify(bytes: Buffer, info: SnapshotInfo): { payload: Uint8Array } | { problem: string } {
  if (bytes.length !== info.sizeBytes) {
    return { problem: `${bytes.length} bytes, not the ${info.sizeBytes} announced` };
  }
  let decoded: { position: LogPosition; payload: Uint8Array };
  try {
    decoded = decodeSnapshotFile(bytes);
  } catch (error) {
    if (error instanceof SnapshotDamagedError || error instanceof ConfigError)
      return { problem: error.message };
    throw error;
  }
  const checksum = recordedChecksum(bytes);
  if (checksum !== info.checksum)
    return { problem: `checksum ${checksum}, not the ${info.checksum} announced` };
  const { position, payload } = decoded;
  if (position.view !== info.position.view || position.index !== info.position.index) {
    return { problem: `it holds ${describe(position)}` };
  }
  return { payload };
}

/**
 * What a transfer left in `directory` so far, read from its files alone: the snapshot being received
 * and the bytes written (not all of them synced). For the chaos runner, which must catch a learner
 * in the middle of a transfer even when the coordinator's status comes late; null if none is under way.
 */
export function transferInDirectory(directory: string): { info: SnapshotInfo; receivedBytes: number } | null {
  const info = readState(path.join(directory, stateFileName));
  if (info === null) return null;
  let receivedBytes: number | null;
  try {
    receivedBytes = sizeOf(path.join(directory, partFileName));
  } catch {
    return null; // the directory itself is gone (a wipe), or unreadable for a moment
  }
  return receivedBytes === null ? null : { info, receivedBytes };
}

export class TransferReceiver {
  private receiving: Receiving | null = null;
  private writing: Promise<void> | null = null;
  private readonly partPath: string;
  private readonly statePath: string;

  /** Finds a transfer a previous process left in `directory` (which exists), or clears its leftovers. */
  constructor(private readonly directory: string) {
    this.partPath = path.join(directory, partFileName);
    this.statePath = path.join(directory, stateFileName);
    const info = readState(this.statePath);
    const partBytes = sizeOf(this.partPath);
    if (info !== null && partBytes !== null) {
      this.receiving = { info, receivedBytes: partBytes, unsyncedBytes: 0, fd: null };
    } else {
      this.deleteFilesSync();
    }
  }

  progress(): TransferProgress | null {
    if (this.receiving === null) return null;
    return { info: this.receiving.info, receivedBytes: this.receiving.receivedBytes };
  }

  /** Starts receiving `info`, or resumes it; returns the offset of the first chunk to ask for. */
  begin(info: SnapshotInfo): number {
    assert(this.writing === null, 'no chunk is being written');
    assert(Number.isSafeInteger(info.sizeBytes) && info.sizeBytes >= snapshotFileBytes(0), 'a snapshot size');
    const previous = this.receiving;
    this.receiving = null;
    if (previous?.fd != null) fs.closeSync(previous.fd);

    const partBytes = sizeOf(this.partPath);
    const state = readState(this.statePath);
    if (state !== null && sameSnapshot(state, info) && partBytes !== null && partBytes <= info.sizeBytes) {
      const resumeAt = partBytes - (partBytes % transferChunkBytes);
      const fd = fs.openSync(this.partPath, 'r+');
      if (resumeAt < partBytes) {
        fs.ftruncateSync(fd, resumeAt);
        fs.fsyncSync(fd);
      }
      this.receiving = { info, receivedBytes: resumeAt, unsyncedBytes: 0, fd };
      return resumeAt;
    }

    this.deleteFilesSync();
    const fd = fs.openSync(this.partPath, 'w');
    try {
      fs.fsyncSync(fd);
      // Also makes the part file's creation durable (it fsyncs the directory).
      writeFileDurably(this.statePath, encodeState(info));
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
    this.receiving = { info, receivedBytes: 0, unsyncedBytes: 0, fd };
    return 0;
  }

  /** Appends a chunk, which must start where the received bytes end. */
  async write(offset: number, bytes: Uint8Array): Promise<void> {
    const receiving = this.receiving;
    assert(receiving !== null && receiving.fd !== null, 'beginTransfer before writing chunks');
    assert(this.writing === null, 'one chunk write at a time');
    assert(
      offset === receiving.receivedBytes,
      `chunk at offset ${offset}, but ${receiving.receivedBytes} bytes are received`,
    );
    assert(offset + bytes.length <= receiving.info.sizeBytes, 'the chunk lies within the announced size');
    const fd = receiving.fd;
    const work = (async () => {
      await writeAllAt(fd, bytes, offset);
      receiving.receivedBytes += bytes.length;
      receiving.unsyncedBytes += bytes.length;
      const complete = receiving.receivedBytes === receiving.info.sizeBytes;
      if (complete || receiving.unsyncedBytes >= transferSyncIntervalBytes) {
        await fdatasync(fd);
        receiving.unsyncedBytes = 0;
      }
    })();
    this.writing = work;
    try {
      await work;
    } finally {
      this.writing = null;
    }
  }

  /**
   * Checks the whole received file; if good, moves it to `keptPath` (durably) and forgets the
   * transfer. If bad, deletes both files and throws SnapshotTransferError.
   */
  async finish(keptPath: string): Promise<{ info: SnapshotInfo; payload: Uint8Array }> {
    const receiving = this.receiving;
    assert(receiving !== null && receiving.fd !== null, 'beginTransfer before finishTransfer');
    assert(this.writing === null, 'no chunk is being written');
    assert(receiving.receivedBytes === receiving.info.sizeBytes, 'every byte is received');
    const { fd, info } = receiving;
    receiving.fd = null;
    try {
      await fsync(fd);
    } finally {
      await close(fd);
    }
    const bytes = await fs.promises.readFile(this.partPath);
    const verified = verify(bytes, info);
    if ('problem' in verified) {
      this.receiving = null;
      await this.deleteFiles();
      throw new SnapshotTransferError(
        `the snapshot received for ${describe(info.position)} does not verify: ${verified.problem}. ` +
          'Its partial files were deleted; the transfer must start again',
      );
    }
    await fs.promises.rename(this.partPath, keptPath);
    await fsyncDirectoryAsync(this.directory);
    this.receiving = null;
    await fs.promises.rm(this.statePath, { force: true });
    await fsyncDirectoryAsync(this.directory);
    return { info, payload: verified.payload };
  }

  /** Deletes the partial files (after the chunk being written, if any). */
  async abort(): Promise<void> {
    if (this.writing !== null) await this.writing.catch(() => {});
    const fd = this.receiving?.fd ?? null;
    this.receiving = null;
    if (fd !== null) await close(fd);
    await this.deleteFiles();
  }

  private async deleteFiles(): Promise<void> {
    // The state first: a part file without it is never resumed.
    await fs.promises.rm(this.statePath, { force: true });
    await fs.promises.rm(this.partPath, { force: true });
    await fsyncDirectoryAsync(this.directory);
  }

  private deleteFilesSync(): void {
    if (sizeOf(this.statePath) === null && sizeOf(this.partPath) === null) return;
    fs.rmSync(this.statePath, { force: true });
    fs.rmSync(this.partPath, { force: true });
    fsyncDirectory(this.directory);
  }
}
