// Codec and validators together: every message kind survives encode → decode → validate unchanged
// (binary fields stay binary), and malformed input is rejected with the offending field named.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Hello } from '../../src/protocol/messages.js';
import { clientId, logIndex, replicaId, type View, viewNumber } from '../../src/protocol/types.js';
import { decodeMessage, encodeMessage } from '../../src/transport/codec.js';
import {
  parseClientReply,
  parseClientRequest,
  parseCoordinatorToReplica,
  parseHeartbeat,
  parseHello,
  parsePeerMessage,
  parseStatusReply,
  parseStatusRequest,
  parseWelcome,
} from '../../src/transport/validate.js';

const bytes = (...values: number[]): Buffer => Buffer.from(values);
const view: View = {
  number: viewNumber(3),
  primary: replicaId('a'),
  backups: [replicaId('b')],
  learners: [replicaId('c')],
};
const entry = {
  view: viewNumber(3),
  index: logIndex(8),
  clientId: clientId('client-1'),
  requestNumber: 4,
  durability: 'sync',
  refused: false,
  update: bytes(1, 2, 3),
  result: bytes(),
};
const position = { view: viewNumber(2), index: logIndex(7) };
const hello: Hello = { type: 'hello', clusterId: 'test', protocolVersion: 1, peer: { kind: 'client' } };

const samples: ReadonlyArray<readonly [string, Record<string, unknown>, (value: unknown) => unknown]> = [
  [
    'prepare',
    {
      type: 'prepare',
      view: 3,
      previous: position,
      entries: [entry, { ...entry, index: 9 }],
      commitIndex: 6,
    },
    parsePeerMessage,
  ],
  ['prepare_ok', { type: 'prepare_ok', view: 3, index: 9 }, parsePeerMessage],
  ['sync', { type: 'sync', view: 3, epochs: [{ view: 1, startIndex: 1 }], lastIndex: 5 }, parsePeerMessage],
  [
    'heartbeat',
    {
      type: 'heartbeat',
      replicaId: 'a',
      incarnation: 123456789,
      directory: '9b2f6c1e-0d7a-4c55-8f21-3e0c2b7d9a10',
      address: '127.0.0.1:7001',
      sequence: 12,
      view,
      durable: position,
      commitIndex: 6,
      appliedIndex: 5,
      coordinatorSilentTicks: 3,
      storageStalledTicks: 0,
      syncedLearners: ['c'],
      laggingBackups: [],
    },
    parseHeartbeat,
  ],
  [
    'heartbeat_reply',
    {
      type: 'heartbeat_reply',
      incarnation: 7,
      sequence: 12,
      view,
      addresses: { a: 'h:1', b: '[::1]:2' },
      leaseTicks: 40,
    },
    parseCoordinatorToReplica,
  ],
  [
    'heartbeat_reply without view',
    { type: 'heartbeat_reply', incarnation: 7, sequence: 0, view: null, addresses: {}, leaseTicks: 0 },
    parseCoordinatorToReplica,
  ],
  ['view_change', { type: 'view_change', view, addresses: { a: 'h:1' } }, parseCoordinatorToReplica],
  ['status_request', { type: 'status_request', id: 1 }, parseStatusRequest],
  [
    'status_reply',
    {
      type: 'status_reply',
      id: 1,
      view,
      replicas: [
        {
          id: 'a',
          address: 'h:1',
          role: 'primary',
          alive: true,
          durableIndex: 9,
          appliedIndex: 8,
          commitIndex: 9,
          problem: 'its disk has not completed an fsync for 70 ticks',
        },
      ],
      problem: null,
    },
    parseStatusReply,
  ],
  [
    'request',
    {
      type: 'request',
      id: 5,
      clientId: 'client-1',
      requestNumber: 4,
      readOnly: false,
      durability: 'async',
      operation: bytes(0xff, 0),
    },
    parseClientRequest,
  ],
  [
    'reply ok',
    {
      type: 'reply',
      id: 5,
      ok: true,
      result: bytes(9),
      view: 3,
      index: 9,
      durability: 'sync',
      replicas: ['a', 'b'],
    },
    parseClientReply,
  ],
  [
    'reply failure',
    { type: 'reply', id: 5, ok: false, code: 'NOT_PRIMARY', message: 'ask b', primary: 'b' },
    parseClientReply,
  ],
  ['hello client', { ...hello }, parseHello],
  ['hello replica', { ...hello, peer: { kind: 'replica', id: 'b' } }, parseHello],
  ['hello coordinator', { ...hello, peer: { kind: 'coordinator' } }, parseHello],
  ['welcome', { type: 'welcome', ok: false, code: 'HANDSHAKE_REFUSED', message: 'no' }, parseWelcome],
];

for (const [name, message, parse] of samples) {
  test(`${name} survives encode, decode and validation unchanged`, () => {
    const decoded = decodeMessage(encodeMessage(message));
    assert.deepEqual(decoded, message);
    assert.deepEqual(parse(decoded), message);
  });
}

test('binary fields come back as binary, and encoded buffers are not reused', () => {
  const first = encodeMessage(samples[0]?.[1] ?? {});
  const copy = Buffer.from(first);
  encodeMessage({ type: 'other', filler: 'x'.repeat(1000) });
  assert.deepEqual(first, copy);
  const prepare = parsePeerMessage(decodeMessage(first));
  assert.ok(prepare.type === 'prepare');
  assert.ok(prepare.entries[0]?.update instanceof Uint8Array);
  assert.deepEqual([...(prepare.entries[0]?.update ?? [])], [1, 2, 3]);
});

test('validators drop fields they do not know', () => {
  assert.deepEqual(parseStatusRequest({ type: 'status_request', id: 2, extra: 'x' }), {
    type: 'status_request',
    id: 2,
  });
});

test('bytes that are not one msgpack value are a BadFrameError', () => {
  for (const payload of [bytes(), bytes(0x92, 0x01), bytes(0x01, 0x02)]) {
    assert.throws(() => decodeMessage(payload), { name: 'BadFrameError', code: 'BAD_FRAME' });
  }
});

const prepare = samples[0]?.[1] ?? {};
const request = samples[9]?.[1] ?? {};
const rejected: ReadonlyArray<readonly [string, () => unknown, RegExp]> = [
  ['a non-object', () => parseHello(null), /^hello: expected an object, got object/],
  ['an array', () => parseHello([1]), /^hello: expected an object, got an array/],
  ['an unknown type', () => parsePeerMessage({ type: 'commit' }), /peer message\.type: expected one of/],
  ['the wrong family', () => parseHello({ ...hello, type: 'welcome' }), /hello\.type/],
  [
    'a negative index',
    () => parsePeerMessage({ ...prepare, commitIndex: -1 }),
    /\.commitIndex: expected a non/,
  ],
  ['a fractional view', () => parsePeerMessage({ ...prepare, view: 1.5 }), /peer message\.view:/],
  ['a missing field', () => parsePeerMessage({ type: 'prepare_ok', view: 1 }), /\.index: .* got nothing/],
  [
    'an entry with a string update',
    () => parsePeerMessage({ ...prepare, entries: [entry, { ...entry, update: 'x' }] }),
    /\.entries\[1\]\.update: expected binary, got string/,
  ],
  [
    'epochs not a list',
    () => parsePeerMessage({ type: 'sync', view: 1, epochs: {}, lastIndex: 0 }),
    /\.epochs:/,
  ],
  [
    'a replica id over 256 bytes',
    () => parseHeartbeat({ ...samples[3]?.[1], replicaId: 'é'.repeat(129) }),
    /\.replicaId: longer than 256 bytes/,
  ],
  [
    'a view with a numeric backup',
    () => parseCoordinatorToReplica({ ...samples[4]?.[1], view: { ...view, backups: [1] } }),
    /\.view\.backups\[0\]: expected a string/,
  ],
  [
    'an address that is not a string',
    () => parseCoordinatorToReplica({ type: 'view_change', view, addresses: { a: 5 } }),
    /\.addresses\.a: expected a string/,
  ],
  [
    'an unknown durability',
    () => parseClientRequest({ ...request, durability: 'maybe' }),
    /\.durability: .*sync/,
  ],
  [
    'a string operation',
    () => parseClientRequest({ ...request, operation: 'get' }),
    /\.operation: expected binary/,
  ],
  [
    'a non-boolean ok',
    () => parseClientReply({ type: 'reply', id: 1, ok: 'yes' }),
    /\.ok: expected a boolean/,
  ],
  [
    'an unknown role',
    () =>
      parseStatusReply({
        type: 'status_reply',
        id: 1,
        view: null,
        replicas: [{ id: 'a', address: 'h:1', role: 'king' }],
      }),
    /\.replicas\[0\]\.role: expected one of primary/,
  ],
  [
    'a replica peer without id',
    () => parseHello({ ...hello, peer: { kind: 'replica' } }),
    /hello\.peer\.id:/,
  ],
  [
    'a numeric cluster id',
    () => parseHello({ ...hello, clusterId: 42 }),
    /hello\.clusterId: expected a string/,
  ],
];

for (const [name, run, field] of rejected) {
  test(`validation rejects ${name}, naming the field`, () => {
    assert.throws(run, { name: 'BadFrameError', code: 'BAD_FRAME', message: field });
  });
}
