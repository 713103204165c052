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

// A hot message with one field of the wrong type or value goes out as msgpack with that field as
// it is, so the receiver refuses it by name: the binary layout would have coerced it ('7' to 7) or
// written garbage. Each prepare gets a fresh entries array, so it is checked whole, not as a batch
// encoded a moment ago for another backup.
const entries = () => prepare.entries.map((one) => ({ ...one }));
const withEntry = (change: Record<string, unknown>) => ({
  ...prepare,
  entries: [...entries(), { ...entry(11, false), ...change }],
});
const wrongShapes: ReadonlyArray<readonly [string, object, (value: unknown) => unknown, RegExp]> = [
  ['request kind', { ...request, kind: 'erase' }, parseClientRequest, /\.kind:/],
  ['request durability', { ...request, durability: 'maybe' }, parseClientRequest, /\.durability:/],
  ['request id', { ...request, id: '7' }, parseClientRequest, /\.id: expected a non-negative integer/],
  ['request number', { ...request, requestNumber: '5' }, parseClientRequest, /\.requestNumber:/],
  ['request client id', { ...request, clientId: 7 }, parseClientRequest, /\.clientId: expected a string/],
  ['request staleness', { ...request, staleness: 5 }, parseClientRequest, /\.staleness: expected an object/],
  [
    'request staleness bound',
    { ...boundedRead, staleness: { maxStalenessMs: '250', minIndex: 99 } },
    parseClientRequest,
    /\.staleness\.maxStalenessMs:/,
  ],
  [
    'request minimum index',
    { ...boundedRead, staleness: { maxStalenessMs: 250, minIndex: '99' } },
    parseClientRequest,
    /\.staleness\.minIndex:/,
  ],
  ['reply ok', { ...reply, ok: 'true' }, parseClientReply, /\.ok: expected a boolean/],
  ['reply id', { ...reply, id: '7' }, parseClientReply, /\.id: expected a non-negative integer/],
  ['reply view', { ...reply, view: '12' }, parseClientReply, /\.view:/],
  ['reply index', { ...reply, index: '4' }, parseClientReply, /\.index:/],
  ['reply durability', { ...reply, durability: 'maybe' }, parseClientReply, /\.durability:/],
  ['reply replicas', { ...reply, replicas: 'r1' }, parseClientReply, /\.replicas: expected an array/],
  [
    'reply replica',
    { ...reply, replicas: ['r1', 2] },
    parseClientReply,
    /\.replicas\[1\]: expected a string/,
  ],
  ['reply result', { ...reply, result: 'ok' }, parseClientReply, /\.result: expected binary/],
  ['prepare view', { ...prepare, entries: entries(), view: '3' }, parsePeerMessage, /\.view:/],
  [
    'prepare commit',
    { ...prepare, entries: entries(), commitIndex: '6' },
    parsePeerMessage,
    /\.commitIndex:/,
  ],
  ['prepare echo', { ...prepare, entries: entries(), echo: '-1' }, parsePeerMessage, /\.echo:/],
  [
    'prepare previous view',
    { ...prepare, entries: entries(), previous: { view: '2', index: 7 } },
    parsePeerMessage,
    /\.previous\.view:/,
  ],
  [
    'prepare previous index',
    { ...prepare, entries: entries(), previous: { view: 2, index: '7' } },
    parsePeerMessage,
    /\.previous\.index:/,
  ],
  ['prepare entries', { ...prepare, entries: 'all' }, parsePeerMessage, /\.entries: expected an array/],
  ['entry view', withEntry({ view: '3' }), parsePeerMessage, /\.entries\[3\]\.view:/],
  ['entry index', withEntry({ index: '11' }), parsePeerMessage, /\.entries\[3\]\.index:/],
  ['entry number', withEntry({ requestNumber: '110' }), parsePeerMessage, /\.entries\[3\]\.requestNumber:/],
  ['entry durability', withEntry({ durability: 'maybe' }), parsePeerMessage, /\.entries\[3\]\.durability:/],
  [
    'entry refused',
    withEntry({ refused: 0 }),
    parsePeerMessage,
    /\.entries\[3\]\.refused: expected a boolean/,
  ],
  ['entry client id', withEntry({ clientId: 7 }), parsePeerMessage, /\.entries\[3\]\.clientId:/],
  ['entry update', withEntry({ update: 'x' }), parsePeerMessage, /\.entries\[3\]\.update: expected binary/],
  ['entry result', withEntry({ result: 'x' }), parsePeerMessage, /\.entries\[3\]\.result: expected binary/],
  ['prepare_ok view', { ...prepareOk, view: '3' }, parsePeerMessage, /\.view:/],
  ['prepare_ok index', { ...prepareOk, index: '10' }, parsePeerMessage, /\.index:/],
  ['prepare_ok received', { ...prepareOk, received: '12' }, parsePeerMessage, /\.received:/],
  ['prepare_ok time', { ...prepareOk, time: '1' }, parsePeerMessage, /\.time:/],
];

for (const [name, malformed, parse, field] of wrongShapes) {
  test(`a ${name} of the wrong type goes out as msgpack and is refused by name`, () => {
    const encoded = encodeMessage(malformed);
    assert.notEqual(encoded[0], HOT_MESSAGE_MARKER);
    assert.throws(() => parse(decodeMessage(encoded)), { name: 'BadFrameError', message: field });
  });
}

test('a reply names at most 255 replicas, and a name in the layout at most 65,535 bytes', () => {
  const named = (count: number) => Array.from({ length: count }, (_, at) => replicaId(`r${at}`));
  const widest = { ...reply, replicas: named(255) };
  assert.deepEqual(parseClientReply(decodeMessage(encodeMessage(widest))), widest);
  assert.throws(() => encodeMessage({ ...reply, replicas: named(256) }), /at most 255 replicas/);
  // The validator refuses client ids over 256 bytes; the layout itself holds 65,535.
  const longest = { ...request, clientId: clientId('c'.repeat(0xffff)) };
  assert.equal((decodeMessage(encodeMessage(longest)) as ClientRequest).clientId, longest.clientId);
  const tooLong = { ...request, clientId: clientId('c'.repeat(0x10000)) };
  assert.throws(() => encodeMessage(tooLong), /a name of 65536 bytes does not fit/);
});
