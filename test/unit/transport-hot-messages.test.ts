// The binary layout of the four messages every write sends: each survives encode → decode →
// validate unchanged, goes out in the binary form (not msgpack), and a damaged binary payload is a
// BadFrameError at every length, never a crash or a wrong message.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BadFrameError } from '../../src/errors.js';
import type { ClientRequest, ClientSuccess, Prepare, PrepareOk } from '../../src/protocol/messages.js';
import { clientId, type Entry, logIndex, replicaId, viewNumber } from '../../src/protocol/types.js';
import { decodeMessage, encodeMessage } from '../../src/transport/codec.js';
import { HOT_MESSAGE_MARKER } from '../../src/transport/hot-messages.js';
import { parseClientReply, parseClientRequest, parsePeerMessage } from '../../src/transport/validate.js';

const entry = (index: number, refused: boolean): Entry => ({
  view: viewNumber(3),
  index: logIndex(index),
  clientId: clientId(`clïent-${index}`),
  requestNumber: index * 10,
  durability: (['sync', 'async', 'replicated'] as const)[index % 3] ?? 'sync',
  refused,
  update: Buffer.from([1, 2, index]),
  result: Buffer.alloc(0),
});

const request: ClientRequest = {
  type: 'request',
  id: 2 ** 40,
  kind: 'write',
  clientId: clientId('0b6f3c1e-6f0a-4b7e-9d55-5f2f0c8f3a11/17'),
  requestNumber: 123_456,
  durability: 'replicated',
  operation: Buffer.from('put hello world'),
  staleness: null,
};
const boundedRead: ClientRequest = {
  ...request,
  kind: 'read',
  requestNumber: 0,
  durability: 'sync',
  staleness: { maxStalenessMs: 250, minIndex: logIndex(99) },
};
const reply: ClientSuccess = {
  type: 'reply',
  id: 7,
  ok: true,
  result: Buffer.from([0x92, 0xa3]),
  view: viewNumber(12),
  index: logIndex(4_000_000_123),
  durability: 'sync',
  replicas: [replicaId('r1'), replicaId('r2'), replicaId('r3')],
};
const prepare: Prepare = {
  type: 'prepare',
  view: viewNumber(3),
  previous: { view: viewNumber(2), index: logIndex(7) },
  entries: [entry(8, false), entry(9, true), entry(10, false)],
  commitIndex: logIndex(6),
  echo: -1,
};
const prepareOk: PrepareOk = {
  type: 'prepare_ok',
  view: viewNumber(3),
  index: logIndex(10),
  received: logIndex(12),
  time: 123_456.75,
};

const cases = [
  { name: 'request', message: request, parse: parseClientRequest },
  { name: 'bounded read', message: boundedRead, parse: parseClientRequest },
  { name: 'reply', message: reply, parse: parseClientReply },
  { name: 'prepare', message: prepare, parse: parsePeerMessage },
  { name: 'prepare with no entries', message: { ...prepare, entries: [] }, parse: parsePeerMessage },
  { name: 'prepare_ok', message: prepareOk, parse: parsePeerMessage },
] as const;

for (const { name, message, parse } of cases) {
  test(`${name}: binary on the wire, and the same message after decode and validation`, () => {
    const encoded = encodeMessage(message);
    assert.equal(encoded[0], HOT_MESSAGE_MARKER);
    assert.deepEqual(parse(decodeMessage(encoded)), message);
  });

  test(`${name}: every truncation and an extra byte are bad frames`, () => {
    const encoded = encodeMessage(message);
    for (let length = 1; length < encoded.length; length++) {
      assert.throws(() => decodeMessage(encoded.subarray(0, length)), BadFrameError, `cut to ${length}`);
    }
    assert.throws(() => decodeMessage(Buffer.concat([encoded, Buffer.from([0])])), BadFrameError);
  });
}

test('unknown kinds and codes are bad frames; a false entry count does not allocate', () => {
  assert.throws(() => decodeMessage(Buffer.from([HOT_MESSAGE_MARKER, 99])), /unknown kind 99/);
  const badDurability = encodeMessage(request);
  badDurability[2 + 1 + 8 + 8] = 77;
  assert.throws(() => decodeMessage(badDurability), /unknown durability code 77/);
  const lying = encodeMessage({ ...prepare, entries: [] });
  lying.writeUInt32LE(0xffffffff, lying.length - 4);
  assert.throws(() => decodeMessage(lying), /claims 4294967295 entries/);
});

test('a refused flag other than 0 or 1 reaches the validator and is refused there', () => {
  const encoded = encodeMessage({ ...prepare, entries: [entry(8, false)] });
  // The refused byte of the one entry: after the header (2 + 5 × 8 + 4) and view, index, number, durability.
  encoded[2 + 5 * 8 + 4 + 3 * 8 + 1] = 2;
  assert.throws(() => parsePeerMessage(decodeMessage(encoded)), /refused/);
});

test('a message of the wrong shape goes out as msgpack, for the receiver to refuse', () => {
  const malformed = { ...request, operation: 'not binary' };
  const encoded = encodeMessage(malformed);
  assert.notEqual(encoded[0], HOT_MESSAGE_MARKER);
  assert.throws(() => parseClientRequest(decodeMessage(encoded)), /operation/);
  const failure = { type: 'reply', id: 1, ok: false, code: 'NOT_PRIMARY', message: 'no', primary: null };
  assert.deepEqual(parseClientReply(decodeMessage(encodeMessage(failure))), failure);
});
