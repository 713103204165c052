// The on-disk format of one log entry: a fixed little-endian binary header, then the variable fields.
// A binary header rather than a general codec because it is on the hot path (~0.25 µs vs ~0.8 µs).
//
//   offset  size  field
//        0     4  bodyLength: bytes after the CRC field (0 = end of data, e.g. zero-filled space)
//        4     4  crc32 of the body
//        8     8  view           (f64, a safe non-negative integer)
//       16     8  index          (f64, a safe non-negative integer)
//       24     8  requestNumber  (f64, a safe non-negative integer)
//       32     1  durability     (0 = sync, 1 = async)
//       33     2  clientIdLength, then the client id in UTF-8
//              4  updateLength, then the update bytes
//              4  resultLength, then the result bytes
//
// Invariant: decodeRecord never trusts the bytes. Every length is checked against the data actually
// present before anything is sliced, the cheap structural checks run before the CRC (so a byte-by-byte
// search through garbage stays linear in practice), and nothing is ever allocated from a length field.

import { crc32 } from 'node:zlib';
import { assert } from '../protocol/assert.js';
import { clientId, type Durability, type Entry, logIndex, viewNumber } from '../protocol/types.js';

/** bodyLength and crc32. */
export const recordPrefixBytes = 8;
const fixedFieldsBytes = 8 + 8 + 8 + 1 + 2;
/** The body of a record with an empty client id, update and result. */
export const recordBodyMinBytes = fixedFieldsBytes + 4 + 4;
export const recordBodyMaxBytes = 0xffff_ffff;
const clientIdMaxBytes = 0xffff;

const durabilityCodes: Record<Durability, number> = { sync: 0, async: 1 };
const durabilities: readonly Durability[] = ['sync', 'async'];

export type DecodedRecord =
  | { readonly kind: 'record'; readonly entry: Entry; readonly nextOffset: number }
  | { readonly kind: 'end' }
  | { readonly kind: 'bad'; readonly reason: string };

const isCount = (value: number): boolean => Number.isSafeInteger(value) && value >= 0;

export function encodeRecord(entry: Entry): Buffer {
  assert(isCount(entry.view) && isCount(entry.index), 'entry position must be safe non-negative integers');
  assert(isCount(entry.requestNumber), 'requestNumber must be a safe non-negative integer');
  const clientIdBytes = Buffer.byteLength(entry.clientId, 'utf8');
  assert(
    clientIdBytes <= clientIdMaxBytes,
    `clientId is ${clientIdBytes} bytes; at most ${clientIdMaxBytes}`,
  );
  const bodyLength = fixedFieldsBytes + clientIdBytes + 4 + entry.update.length + 4 + entry.result.length;
  assert(bodyLength <= recordBodyMaxBytes, `record body of ${bodyLength} bytes is too large`);

  const buffer = Buffer.allocUnsafe(recordPrefixBytes + bodyLength);
  buffer.writeUInt32LE(bodyLength, 0);
  buffer.writeDoubleLE(entry.view, 8);
  buffer.writeDoubleLE(entry.index, 16);
  buffer.writeDoubleLE(entry.requestNumber, 24);
  buffer.writeUInt8(durabilityCodes[entry.durability], 32);
  buffer.writeUInt16LE(clientIdBytes, 33);
  let offset = 35 + buffer.write(entry.clientId, 35, clientIdBytes, 'utf8');
  offset = buffer.writeUInt32LE(entry.update.length, offset);
  buffer.set(entry.update, offset);
  offset = buffer.writeUInt32LE(entry.result.length, offset + entry.update.length);
  buffer.set(entry.result, offset);
  buffer.writeUInt32LE(crc32(buffer.subarray(recordPrefixBytes)), 4);
  return buffer;
}

/**
 * Decodes the record at `offset`. The entry's update and result are views into `buffer` (no copy).
 * 'end' means no record starts here: exactly at the end of the data, or a zero length field.
 */
export function decodeRecord(buffer: Buffer, offset: number): DecodedRecord {
  assert(Number.isSafeInteger(offset) && offset >= 0 && offset <= buffer.length, 'offset out of range');
  const available = buffer.length - offset;
  if (available === 0) return { kind: 'end' };
  if (available < 4) return { kind: 'bad', reason: `truncated length field (${available} bytes)` };
  const bodyLength = buffer.readUInt32LE(offset);
  if (bodyLength === 0) return { kind: 'end' };
  if (available < recordPrefixBytes) return { kind: 'bad', reason: 'truncated record header' };
  if (bodyLength < recordBodyMinBytes) return { kind: 'bad', reason: `body length ${bodyLength} too small` };
  if (bodyLength > available - recordPrefixBytes) {
    return { kind: 'bad', reason: `body length ${bodyLength} runs past the data (${available} bytes left)` };
  }

  const body = offset + recordPrefixBytes;
  const bodyEnd = body + bodyLength;
  const view = buffer.readDoubleLE(body);
  const index = buffer.readDoubleLE(body + 8);
  const requestNumber = buffer.readDoubleLE(body + 16);
  const durability = durabilities[buffer.readUInt8(body + 24)];
  if (!isCount(view) || !isCount(index) || !isCount(requestNumber) || durability === undefined) {
    return { kind: 'bad', reason: 'malformed fixed fields' };
  }
  const clientIdStart = body + fixedFieldsBytes;
  const clientIdEnd = clientIdStart + buffer.readUInt16LE(body + 25);
  // Each length is checked against bodyEnd before the next one is read from behind it.
  if (clientIdEnd + 4 > bodyEnd) return { kind: 'bad', reason: 'client id runs past the body' };
  const updateStart = clientIdEnd + 4;
  const updateEnd = updateStart + buffer.readUInt32LE(clientIdEnd);
  if (updateEnd + 4 > bodyEnd) return { kind: 'bad', reason: 'update runs past the body' };
  const resultStart = updateEnd + 4;
  if (resultStart + buffer.readUInt32LE(updateEnd) !== bodyEnd) {
    return { kind: 'bad', reason: 'field lengths do not add up to the body length' };
  }
  if (crc32(buffer.subarray(body, bodyEnd)) !== buffer.readUInt32LE(offset + 4)) {
    return { kind: 'bad', reason: 'CRC mismatch' };
  }

  const entry: Entry = {
    view: viewNumber(view),
    index: logIndex(index),
    clientId: clientId(buffer.toString('utf8', clientIdStart, clientIdEnd)),
    requestNumber,
    durability,
    update: new Uint8Array(buffer.buffer, buffer.byteOffset + updateStart, updateEnd - updateStart),
    result: new Uint8Array(buffer.buffer, buffer.byteOffset + resultStart, bodyEnd - resultStart),
  };
  return { kind: 'record', entry, nextOffset: bodyEnd };
}
