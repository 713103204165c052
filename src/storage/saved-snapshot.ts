// A saved snapshot: what `understudy snapshot save` writes and `understudy snapshot restore` reads.
// It is a kept snapshot file of the primary, exactly as the replica keeps it, wrapped with what a
// restore must know besides: the service whose state it holds (a replica refuses another service's
// data), and where and when it was taken.
//
//   offset  size  field (little-endian)
//        0     8  magic "USTDYSAV"
//        8     4  format version (u32; this build writes and reads only savedFormatVersion)
//       12     4  metadata length m (u32, at most metadataBytesMax)
//       16     m  metadata: JSON { service: { name, version }, replica, savedAt }
//     16+m     n  the snapshot file (snapshot-file.ts: its own header, payload and CRC)
//   16+m+n     4  crc32 of every byte before it
//
// The file is written to `<file>.part`, read back and verified whole, fsynced, and only then renamed
// to its name: a file under the name is complete, and a save cut short leaves only the .part.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { asBuffer } from '../buffers.js';
import { ConfigError } from '../errors.js';
import { type ServiceIdentity, serviceIdentityProblem } from '../protocol/service-identity.js';
import type { LogPosition, SnapshotInfo } from '../protocol/types.js';
import { close, fsync, fsyncDirectoryAsync, openFile, writeAllAt } from './async-file.js';
import { decodeSnapshotFile, recordedChecksum, SnapshotDamagedError } from './snapshot-file.js';

export const savedFormatVersion = 1;
const savedMagic = Buffer.from('USTDYSAV', 'latin1');
const fixedHeaderBytes = 16;
const trailerBytes = 4;
const metadataBytesMax = 64 * 1024;

/** What a saved snapshot says of itself besides the state. */
export interface SavedSnapshotMetadata {
  readonly service: ServiceIdentity;
  /** The replica that took it: the primary when it was saved. */
  readonly replica: string;
  /** When the save finished (ISO 8601). */
  readonly savedAt: string;
}

export interface SavedSnapshot {
  readonly metadata: SavedSnapshotMetadata;
  readonly position: LogPosition;
  /** The snapshot file as a replica keeps it (a view into the bytes read). */
  readonly snapshotFile: Uint8Array;
  /** The snapshot's payload (a view into the same bytes). */
  readonly payload: Uint8Array;
}

/** The file is not an intact saved snapshot. */
export class SavedSnapshotDamagedError extends Error {
  override name = 'SavedSnapshotDamagedError';
}

function encodeHeader(metadata: SavedSnapshotMetadata): Buffer {
  const json = Buffer.from(JSON.stringify(metadata), 'utf8');
  const header = Buffer.alloc(fixedHeaderBytes + json.length);
  savedMagic.copy(header, 0);
  header.writeUInt32LE(savedFormatVersion, 8);
  header.writeUInt32LE(json.length, 12);
  json.copy(header, fixedHeaderBytes);
  return header;
}

/**
 * Throws ConfigError if a saved snapshot cannot be written at `file`: its directory is missing, or
 * it names a directory. Checked before a save asks the cluster for anything.
 */
export function checkSaveTarget(file: string): void {
  const directory = path.dirname(path.resolve(file));
  if (!fs.existsSync(directory) || !fs.statSync(directory).isDirectory()) {
    throw new ConfigError(`cannot save to ${file}: ${directory} is not a directory`);
  }
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) {
    throw new ConfigError(`cannot save to ${file}: it is a directory; name a file`);
  }
}

/**
 * Writes a saved snapshot as its chunks arrive, in order: `begin` (again to start over), `write`
 * each chunk, `finish` to verify, fsync and name it. `abort` removes the partial file.
 */
export class SavedSnapshotWriter {
  private fd: number | null = null;
  private written = 0;
  private checksum = 0;
  private readonly partial: string;

  /** Throws ConfigError at once if `file` cannot be written (checkSaveTarget). */
  constructor(private readonly file: string) {
    checkSaveTarget(file);
    this.partial = `${file}.part`;
  }

  async begin(metadata: SavedSnapshotMetadata): Promise<void> {
    await this.closeFile();
    this.fd = await openFile(this.partial, 'w');
    const header = encodeHeader(metadata);
    await writeAllAt(this.fd, header, 0);
    this.written = header.length;
    this.checksum = crc32(header);
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.fd === null) throw new Error('a saved snapshot is written after begin()');
    await writeAllAt(this.fd, bytes, this.written);
    this.written += bytes.length;
    this.checksum = crc32(bytes, this.checksum);
  }

  /** Ends the file, checks every byte of it as read back from disk against `snapshot`, and names it. */
  async finish(snapshot: SnapshotInfo): Promise<SavedSnapshot> {
    const fd = this.fd;
    if (fd === null) throw new Error('a saved snapshot is finished after begin()');
    const trailer = Buffer.alloc(trailerBytes);
    trailer.writeUInt32LE(this.checksum >>> 0, 0);
    await writeAllAt(fd, trailer, this.written);
    await fsync(fd);
    await this.closeFile();
    const saved = readSavedSnapshot(this.partial);
    const inner = saved.snapshotFile;
    if (inner.length !== snapshot.sizeBytes || recordedChecksum(inner) !== snapshot.checksum) {
      throw new SavedSnapshotDamagedError(
        `${this.partial}: the snapshot read back is not the one the primary named ` +
          `(${inner.length} bytes, checksum ${recordedChecksum(inner)}; named ${snapshot.sizeBytes} bytes, checksum ${snapshot.checksum})`,
      );
    }
    fs.renameSync(this.partial, this.file);
    await fsyncDirectoryAsync(path.dirname(path.resolve(this.file)));
    return saved;
  }

  async abort(): Promise<void> {
    await this.closeFile();
    fs.rmSync(this.partial, { force: true });
  }

  private async closeFile(): Promise<void> {
    const fd = this.fd;
    this.fd = null;
    if (fd !== null) await close(fd);
  }
}

/**
 * Reads and checks every byte of a saved snapshot. Throws SavedSnapshotDamagedError for anything but
 * an intact one, ConfigError for an intact file of another format version or a missing file.
 */
export function readSavedSnapshot(file: string): SavedSnapshot {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch (error) {
    throw new ConfigError(`cannot read saved snapshot ${file}: ${(error as Error).message}`);
  }
  return decodeSavedSnapshot(data, file);
}

/** Checks every byte of a saved snapshot held in memory (see readSavedSnapshot). */
export function decodeSavedSnapshot(data: Uint8Array, what = 'saved snapshot'): SavedSnapshot {
  const bytes = asBuffer(data);
  const damaged = (reason: string) => new SavedSnapshotDamagedError(`${what}: ${reason}`);
  if (bytes.length < fixedHeaderBytes + trailerBytes) {
    throw damaged(`${bytes.length} bytes, shorter than any saved snapshot`);
  }
  if (!bytes.subarray(0, savedMagic.length).equals(savedMagic)) {
    throw damaged('it does not start with the saved snapshot magic (is it a saved snapshot?)');
  }
  const body = bytes.subarray(0, bytes.length - trailerBytes);
  const intact = crc32(body) === bytes.readUInt32LE(bytes.length - trailerBytes);
  const version = bytes.readUInt32LE(8);
  if (version !== savedFormatVersion) {
    if (intact) {
      throw new ConfigError(
        `${what} is a saved snapshot of format ${version}; this build reads only format ${savedFormatVersion}`,
      );
    }
    throw damaged(`format version ${version} and a CRC mismatch`);
  }
  if (!intact) throw damaged('CRC mismatch: the file is damaged or was cut short');
  const metadataBytes = bytes.readUInt32LE(12);
  if (metadataBytes > metadataBytesMax || fixedHeaderBytes + metadataBytes > body.length) {
    throw damaged(`metadata length ${metadataBytes} does not fit the file`);
  }
  const metadata = parseMetadata(bytes.subarray(fixedHeaderBytes, fixedHeaderBytes + metadataBytes), damaged);
  const snapshotFile = body.subarray(fixedHeaderBytes + metadataBytes);
  let decoded: { position: LogPosition; payload: Uint8Array };
  try {
    decoded = decodeSnapshotFile(snapshotFile);
  } catch (error) {
    if (error instanceof SnapshotDamagedError) throw damaged(`its snapshot: ${error.message}`);
    throw error;
  }
  return { metadata, position: decoded.position, snapshotFile, payload: decoded.payload };
}

function parseMetadata(
  bytes: Uint8Array,
  damaged: (reason: string) => SavedSnapshotDamagedError,
): SavedSnapshotMetadata {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw damaged('its metadata is not JSON');
  }
  if (typeof value !== 'object' || value === null) throw damaged('its metadata is not an object');
  const { service, replica, savedAt } = value as Record<string, unknown>;
  const problem = serviceIdentityProblem(service, metadataBytesMax);
  if (problem !== null) throw damaged(`its metadata names no service (${problem})`);
  if (typeof replica !== 'string' || typeof savedAt !== 'string') {
    throw damaged('its metadata lacks the replica or the time it was saved');
  }
  const { name, version } = service as ServiceIdentity;
  return { service: { name, version }, replica, savedAt };
}
