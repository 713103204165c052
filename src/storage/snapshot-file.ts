// One snapshot file, as bytes: the replicated state at a committed log position. Pure (bytes in,
// bytes out), so a simulated disk can build and check the same files the store writes.
//
//   offset  size  field (little-endian)
//        0     8  magic "USTDYSNP"
//        8     4  format version (u32; this build writes and reads only snapshotFormatVersion)
//       12     4  position view (u32)
//       16     8  position index (f64, a safe non-negative integer)
//       24     8  payload length (f64, a safe non-negative integer)
//       32     n  payload: opaque here (the core encodes the state machine and its sessions)
//     32+n     4  crc32 of every byte before it
//
// The CRC covers the whole file, so it is also the file's checksum in SnapshotInfo: a learner that
// received a file by chunks compares it with what the primary announced before it trusts a byte.
// A kept file's name repeats its position (snapshotFileName); a name that disagrees with the content
// is damage like a bad CRC. A file with another version is refused, never misread: as a configuration
// error if it is intact under this layout (a newer build wrote it), as damage if not (a flipped bit in
// the version field must not stop a replica).

import { crc32 } from 'node:zlib';
import { asBuffer } from '../buffers.js';
import { ConfigError } from '../errors.js';
import { assert } from '../protocol/assert.js';
import { type LogPosition, logIndex, viewNumber } from '../protocol/types.js';

export const snapshotFormatVersion = 1;
const snapshotMagic = Buffer.from('USTDYSNP', 'latin1');
export const snapshotHeaderBytes = 32;
export const snapshotTrailerBytes = 4;
const viewMax = 0xffff_ffff;
const indexNameDigits = 20;
const snapshotNamePattern = /^snapshot-(\d{20})-(\d{1,10})\.snap$/;

/** The file does not hold an intact snapshot (or not the one its name says). */
export class SnapshotDamagedError extends Error {
  override name = 'SnapshotDamagedError';
}

const isCount = (value: number): boolean => Number.isSafeInteger(value) && value >= 0;

/** The name a kept snapshot at `position` has. */
export function snapshotFileName(position: LogPosition): string {
  return `snapshot-${String(position.index).padStart(indexNameDigits, '0')}-${position.view}.snap`;
}

/** The position a kept snapshot's name states, or null if it is not such a name. */
export function parseSnapshotFileName(name: string): LogPosition | null {
  const match = snapshotNamePattern.exec(name);
  if (match === null) return null;
  const index = Number(match[1]);
  const view = Number(match[2]);
  if (!isCount(index) || view > viewMax) return null;
  return { view: viewNumber(view), index: logIndex(index) };
}

/** The size of the file holding a payload of `payloadBytes`. */
export function snapshotFileBytes(payloadBytes: number): number {
  return snapshotHeaderBytes + payloadBytes + snapshotTrailerBytes;
}

/** The bytes before the payload. Asserts the position can be written. */
export function encodeSnapshotHeader(position: LogPosition, payloadBytes: number): Buffer {
  assert(Number.isInteger(position.view) && position.view >= 0 && position.view <= viewMax, 'view is a u32');
  assert(isCount(position.index), 'index is a safe non-negative integer');
  assert(isCount(payloadBytes), 'payload length is a safe non-negative integer');
  const header = Buffer.alloc(snapshotHeaderBytes);
  snapshotMagic.copy(header, 0);
  header.writeUInt32LE(snapshotFormatVersion, 8);
  header.writeUInt32LE(position.view, 12);
  header.writeDoubleLE(position.index, 16);
  header.writeDoubleLE(payloadBytes, 24);
  return header;
}

/** The trailing CRC of the file made of `header` and `payload`, without joining them. */
export function snapshotChecksum(header: Uint8Array, payload: Uint8Array): number {
  return crc32(payload, crc32(header));
}

export function encodeSnapshotTrailer(checksum: number): Buffer {
  const trailer = Buffer.alloc(snapshotTrailerBytes);
  trailer.writeUInt32LE(checksum, 0);
  return trailer;
}

/** A whole snapshot file. The store writes the same bytes in three parts, never copying the payload. */
export function encodeSnapshotFile(position: LogPosition, payload: Uint8Array): Buffer {
  const header = encodeSnapshotHeader(position, payload.length);
  return Buffer.concat([header, payload, encodeSnapshotTrailer(snapshotChecksum(header, payload))]);
}

/** The checksum recorded in a file's last four bytes (what SnapshotInfo carries). */
export function recordedChecksum(bytes: Uint8Array): number {
  assert(bytes.length >= snapshotTrailerBytes, 'a snapshot file ends with its CRC');
  return asBuffer(bytes).readUInt32LE(bytes.length - snapshotTrailerBytes);
}

/**
 * Checks every byte of a snapshot file and returns its position and payload (a view into `bytes`).
 * Throws SnapshotDamagedError for anything but an intact file (whose name, if given, states its
 * position), and ConfigError for an intact file of another format version. Never trusts a length.
 */
export function decodeSnapshotFile(
  data: Uint8Array,
  name?: string,
): { position: LogPosition; payload: Uint8Array } {
  const bytes = asBuffer(data);
  const what = name ?? 'snapshot file';
  const damaged = (reason: string): SnapshotDamagedError => new SnapshotDamagedError(`${what}: ${reason}`);
  if (bytes.length < snapshotHeaderBytes + snapshotTrailerBytes) {
    throw damaged(`${bytes.length} bytes, shorter than an empty snapshot`);
  }
  if (!bytes.subarray(0, snapshotMagic.length).equals(snapshotMagic)) {
    throw damaged('it does not start with the snapshot magic');
  }
  const intact = crc32(bytes.subarray(0, bytes.length - snapshotTrailerBytes)) === recordedChecksum(bytes);
  const version = bytes.readUInt32LE(8);
  if (version !== snapshotFormatVersion) {
    if (intact) {
      throw new ConfigError(
        `${what} is a snapshot of format ${version}; this build reads only format ${snapshotFormatVersion}`,
      );
    }
    throw damaged(`format version ${version} and a CRC mismatch`);
  }
  const view = bytes.readUInt32LE(12);
  const index = bytes.readDoubleLE(16);
  const payloadBytes = bytes.readDoubleLE(24);
  if (!isCount(index) || !isCount(payloadBytes)) throw damaged('malformed position or payload length');
  if (snapshotFileBytes(payloadBytes) !== bytes.length) {
    throw damaged(`payload length ${payloadBytes} does not match the file's ${bytes.length} bytes`);
  }
  if (!intact) throw damaged('CRC mismatch');
  const position: LogPosition = { view: viewNumber(view), index: logIndex(index) };
  if (name !== undefined) {
    const named = parseSnapshotFileName(name);
    if (named === null || named.view !== position.view || named.index !== position.index) {
      throw damaged(`the name does not match the content (view ${view}, index ${index})`);
    }
  }
  const payload = new Uint8Array(bytes.buffer, bytes.byteOffset + snapshotHeaderBytes, payloadBytes);
  return { position, payload };
}
