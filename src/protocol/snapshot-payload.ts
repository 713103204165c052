// What a snapshot holds besides its position: the service's state (its own bytes), the session table,
// the async loss record, and the epochs of the log it replaces. The first three are replicated state;
// a replica restored from a snapshot must answer retries and report losses exactly as one that applied
// the whole log. The epochs say which view created each entry it covers, so a replica that discards
// its log for the snapshot can tell which of its async writes the snapshot holds (not lost) and which
// it does not.
//
//   u32 (little endian)  length of the header
//   header               msgpack [version, sessions, lost count, lost, epochs (view, start, ...)]
//                        (version 2, from older builds, has no epochs: none are known)
//   the rest             the service's state, as its snapshot() or beginSnapshot() encoded it (not
//                        re-encoded: a large state is written as its pieces come)
//
// A replica takes a snapshot in pieces (beginSnapshotPayload): the header and the state are captured
// at once, the state's bytes are encoded between other work, each piece written before the next.

import { Packr } from 'msgpackr';
import { AsyncLossRecord } from './async-loss.js';
import { type Session, SessionTable } from './sessions.js';
import { encodedSnapshot, finishSnapshot, type SnapshotEncoding } from './state-machine.js';
import { clientId, type Epoch, logIndex, viewNumber } from './types.js';

const payloadFormatVersion = 3;
const payloadFormatWithoutEpochs = 2;
const packr = new Packr({ useRecords: false });
const unpackr = new Packr({ useRecords: false, copyBuffers: true });

export interface SnapshotPayload {
  readonly state: Uint8Array;
  readonly sessions: SessionTable;
  readonly loss: AsyncLossRecord;
  /** The epochs of the entries the snapshot covers, oldest first (possibly not all of them). */
  readonly epochs: readonly Epoch[];
}

export function encodeSnapshotPayload(payload: SnapshotPayload): Uint8Array {
  const { state, ...rest } = payload;
  return finishSnapshot(beginSnapshotPayload({ ...rest, state: encodedSnapshot(state) }));
}

/** What the payload holds, with the state still being encoded. */
export interface SnapshotPayloadSource extends Omit<SnapshotPayload, 'state'> {
  readonly state: SnapshotEncoding;
}

/**
 * Encodes the header now (sessions, losses and epochs move on after this call) as the first piece;
 * the state's pieces follow as its encoding proceeds.
 */
export function beginSnapshotPayload(source: SnapshotPayloadSource): SnapshotEncoding {
  const sessions: unknown[] = [];
  for (const [id, session] of source.sessions.entries()) {
    sessions.push(id, session.requestNumber, session.refused, session.result, session.index);
  }
  const lost = source.loss.recent.map((entry) => [
    entry.view,
    entry.index,
    entry.clientId,
    entry.requestNumber,
  ]);
  const epochs = source.epochs.flatMap((epoch) => [epoch.view, epoch.startIndex]);
  const header = packr.pack([payloadFormatVersion, sessions, source.loss.count, lost, epochs]);
  let front: Uint8Array | null = new Uint8Array(4 + header.length);
  new DataView(front.buffer).setUint32(0, header.length, true);
  front.set(header, 4);
  return {
    sizeBytes: front.length + source.state.sizeBytes,
    next: () => {
      if (front === null) return source.state.next();
      const first = front;
      front = null;
      return first;
    },
  };
}

/** Decodes a payload; a malformed one throws (snapshot files and transfers are checksummed, so it is a bug). */
export function decodeSnapshotPayload(bytes: Uint8Array): SnapshotPayload {
  if (bytes.length < 4) throw new Error('a snapshot payload is shorter than its header length');
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (4 + headerLength > bytes.length) throw new Error('a snapshot payload header runs past its end');
  const decoded: unknown = unpackr.unpack(bytes.subarray(4, 4 + headerLength));
  const current = Array.isArray(decoded) && decoded.length === 5 && decoded[0] === payloadFormatVersion;
  const older = Array.isArray(decoded) && decoded.length === 4 && decoded[0] === payloadFormatWithoutEpochs;
  if (!current && !older) {
    throw new Error(
      `a snapshot payload header is not [${payloadFormatVersion}, sessions, lost count, lost, epochs]`,
    );
  }
  const [, flat, lostCount, lost, flatEpochs = []] = decoded as unknown[];
  const state = bytes.subarray(4 + headerLength);
  if (!Array.isArray(flat) || !Array.isArray(lost) || !Array.isArray(flatEpochs)) {
    throw new Error('a snapshot payload has fields of the wrong type');
  }
  const epochs: Epoch[] = [];
  for (let offset = 0; offset < flatEpochs.length; offset += 2) {
    const [view, startIndex] = flatEpochs.slice(offset, offset + 2) as unknown[];
    if (!isCount(view) || !isCount(startIndex)) throw new Error(`snapshot epoch ${offset / 2} is malformed`);
    epochs.push({ view: viewNumber(view), startIndex: logIndex(startIndex) });
  }
  const sessions: [ReturnType<typeof clientId>, Session][] = [];
  for (let offset = 0; offset < flat.length; offset += 5) {
    const [id, requestNumber, refused, result, index] = flat.slice(offset, offset + 5) as unknown[];
    if (
      typeof id !== 'string' ||
      !isCount(requestNumber) ||
      typeof refused !== 'boolean' ||
      !(result instanceof Uint8Array) ||
      !isCount(index)
    ) {
      throw new Error(`snapshot session ${offset / 5} is malformed`);
    }
    sessions.push([clientId(id), { requestNumber, refused, result: plain(result), index: logIndex(index) }]);
  }
  if (!isCount(lostCount)) throw new Error('snapshot lost count is malformed');
  const recent = lost.map((item) => {
    const [view, index, id, requestNumber] = Array.isArray(item) ? (item as unknown[]) : [];
    if (!isCount(view) || !isCount(index) || typeof id !== 'string' || !isCount(requestNumber)) {
      throw new Error('snapshot lost entry is malformed');
    }
    return { view: viewNumber(view), index: logIndex(index), clientId: clientId(id), requestNumber };
  });
  return {
    state: plain(state),
    sessions: SessionTable.from(sessions),
    loss: AsyncLossRecord.from(lostCount, recent),
    epochs,
  };
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
