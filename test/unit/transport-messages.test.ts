// Codec and validators together: every message kind survives encode → decode → validate unchanged
// (binary fields stay binary), and malformed input is rejected with the offending field named.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commitRulesOf, defaultProtocolConfig } from '../../src/protocol/config.js';
import type { Hello } from '../../src/protocol/messages.js';
import { clientId, logIndex, replicaId, type View, viewNumber } from '../../src/protocol/types.js';
import { decodeMessage, encodeMessage } from '../../src/transport/codec.js';
import {
  isSaveMessage,
  isTransferMessage,
  parseClientReply,
  parseClientRequest,
  parseCoordinatorRequest,
  parseCoordinatorToReplica,
  parseForgetReply,
  parseHeartbeat,
  parseHello,
  parsePeerMessage,
  parseSaveClientMessage,
  parseSaveReply,
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
const snapshot = { position: { view: 2, index: 5 }, sizeBytes: 210_000_000, checksum: 0xdeadbeef };
const transfer = { snapshot, receivedBytes: 42_118, bytesPerSecond: 105_000_000.5 };
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
      echo: 1234.5,
    },
    parsePeerMessage,
  ],
  [
    'prepare without an echo',
    { type: 'prepare', view: 3, previous: position, entries: [], commitIndex: 6, echo: -1 },
    parsePeerMessage,
  ],
  ['prepare_ok', { type: 'prepare_ok', view: 3, index: 9, received: 11, time: 1234.5 }, parsePeerMessage],
  [
    'sync',
    {
      type: 'sync',
      view: 3,
      base: position,
      epochs: [{ view: 1, startIndex: 1 }],
      lastIndex: 5,
      formatLevel: 2,
    },
    parsePeerMessage,
  ],
  ['snapshot_offer', { type: 'snapshot_offer', view: 3, snapshot }, parsePeerMessage],
  [
    'lost_report',
    {
      type: 'lost_report',
      view: 3,
      entries: [
        { view: 2, index: 8, clientId: 'client-1', requestNumber: 4 },
        { view: 2, index: 9, clientId: 'client-2', requestNumber: 1 },
      ],
    },
    parsePeerMessage,
  ],
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
      received: { view: 3, index: 9 },
      commitIndex: 6,
      appliedIndex: 5,
      leadReady: true,
      coordinatorSilentTicks: 3,
      storageStalledTicks: 0,
      syncedLearners: ['c'],
      laggingBackups: [],
      transfer: null,
      asyncLost: 0,
      snapshotIndex: 0,
      sessions: 12,
      formatLevel: 2,
      formatLevelHeld: 2,
      redisAddress: '127.0.0.1:6379',
    },
    parseHeartbeat,
  ],
  [
    'heartbeat of a learner receiving a snapshot',
    {
      type: 'heartbeat',
      replicaId: 'c',
      incarnation: 5,
      directory: 'c0ffee00-0d7a-4c55-8f21-3e0c2b7d9a10',
      address: '127.0.0.1:7003',
      sequence: 1,
      view,
      durable: { view: 0, index: 0 },
      received: { view: 0, index: 0 },
      commitIndex: 0,
      appliedIndex: 0,
      leadReady: false,
      coordinatorSilentTicks: 0,
      storageStalledTicks: 0,
      syncedLearners: [],
      laggingBackups: [],
      transfer,
      asyncLost: 3,
      snapshotIndex: 0,
      sessions: 0,
      formatLevel: 1,
      formatLevelHeld: 1,
      redisAddress: null,
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
      primaryIncarnation: 123456789,
      addresses: { a: 'h:1', b: '[::1]:2' },
      leaseTicks: 40,
      formatLevel: 2,
    },
    parseCoordinatorToReplica,
  ],
  [
    'heartbeat_reply without view',
    {
      type: 'heartbeat_reply',
      incarnation: 7,
      sequence: 0,
      view: null,
      primaryIncarnation: null,
      addresses: {},
      leaseTicks: 0,
      formatLevel: 1,
    },
    parseCoordinatorToReplica,
  ],
  [
    'view_change',
    { type: 'view_change', view, primaryIncarnation: 5, addresses: { a: 'h:1' } },
    parseCoordinatorToReplica,
  ],
  ['status_request', { type: 'status_request', id: 1 }, parseStatusRequest],
  ['forget_request', { type: 'forget_request', id: 4, replica: 'r3' }, parseCoordinatorRequest],
  [
    'forget_reply',
    { type: 'forget_reply', id: 4, ok: false, message: 'r3 is a backup of view 2' },
    parseForgetReply,
  ],
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
          transfer: null,
          snapshotIndex: 4096,
          sessions: 17,
          formatLevel: 2,
          redisAddress: '[::1]:6380',
        },
        {
          id: 'c',
          address: 'h:3',
          role: 'learner',
          alive: true,
          durableIndex: 0,
          appliedIndex: 0,
          commitIndex: 0,
          problem: null,
          transfer,
          snapshotIndex: 0,
          sessions: 0,
          formatLevel: 2,
          redisAddress: null,
        },
      ],
      problem: null,
      asyncLost: 2,
      promotionsWithoutHolders: 1,
      formatLevel: 2,
      service: { name: 'understudy-kv', version: 1 },
    },
    parseStatusReply,
  ],
  [
    'request',
    {
      type: 'request',
      id: 5,
      kind: 'write',
      clientId: 'client-1',
      requestNumber: 4,
      durability: 'async',
      operation: bytes(0xff, 0),
      staleness: null,
    },
    parseClientRequest,
  ],
  [
    'request open-session',
    {
      type: 'request',
      id: 6,
      kind: 'open-session',
      clientId: 'client-1',
      requestNumber: 0,
      durability: 'sync',
      operation: bytes(),
      staleness: null,
    },
    parseClientRequest,
  ],
  [
    'request read with a staleness bound',
    {
      type: 'request',
      id: 7,
      kind: 'read',
      clientId: 'client-1/read',
      requestNumber: 0,
      durability: 'sync',
      operation: bytes(1),
      staleness: { maxStalenessMs: 1000, minIndex: 42 },
    },
    parseClientRequest,
  ],
  [
    'request-status',
    {
      type: 'request',
      id: 8,
      kind: 'request-status',
      clientId: 'client-1',
      requestNumber: 3,
      durability: 'sync',
      operation: bytes(),
      staleness: null,
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
  [
    'hello replica',
    {
      ...hello,
      peer: {
        kind: 'replica',
        id: 'b',
        service: { name: 'lock', version: 2 },
        rules: commitRulesOf(defaultProtocolConfig),
      },
    },
    parseHello,
  ],
  ['hello coordinator', { ...hello, peer: { kind: 'coordinator' } }, parseHello],
  ['welcome', { type: 'welcome', ok: false, code: 'HANDSHAKE_REFUSED', message: 'no' }, parseWelcome],
  ['save_request', { type: 'save_request', id: 3 }, parseSaveClientMessage],
  [
    'save_read',
    { type: 'save_read', id: 4, snapshot, offset: 1_048_576, length: 1_048_576 },
    parseSaveClientMessage,
  ],
  [
    'save_ready',
    { type: 'save_ready', id: 3, snapshot, service: { name: 'understudy-kv', version: 1 }, replica: 'a' },
    parseSaveReply,
  ],
  ['save_chunk', { type: 'save_chunk', id: 4, offset: 0, bytes: bytes(1, 2), checksum: 12 }, parseSaveReply],
  [
    'save_refused',
    { type: 'save_refused', id: 4, code: 'SNAPSHOT_GONE', message: 'save again', primary: null },
    parseSaveReply,
  ],
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

test("one batch of entries sent to two backups is the same entries with each backup's header", () => {
  // The primary hands both backups one array; its bytes are encoded once and reused.
  const entries = [entry, { ...entry, index: 9, clientId: 'client-2' }];
  const toFirst = { type: 'prepare', view: 3, previous: position, entries, commitIndex: 6, echo: 12.5 };
  const toSecond = { ...toFirst, previous: { view: 2, index: 4 }, commitIndex: 7, echo: -1 };
  const first = parsePeerMessage(decodeMessage(encodeMessage(toFirst)));
  const second = parsePeerMessage(decodeMessage(encodeMessage(toSecond)));
  assert.deepEqual(first, toFirst);
  assert.deepEqual(second, toSecond);
  // Another batch right after is encoded anew, not taken for the last one.
  const next = { ...toFirst, entries: [{ ...entry, index: 10, update: bytes(7) }] };
  assert.deepEqual(parsePeerMessage(decodeMessage(encodeMessage(next))), next);
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

/** The sample message of that name. */
function sample(name: string): Record<string, unknown> {
  const found = samples.find(([sampleName]) => sampleName === name)?.[1];
  assert(found !== undefined, `no sample named ${name}`);
  return found;
}

test('a build before Redis addresses were reported sends none: it has none; a bad one is refused', () => {
  const { redisAddress: _address, ...oldHeartbeat } = sample('heartbeat');
  assert.equal(parseHeartbeat(oldHeartbeat).redisAddress, null);
  const status = sample('status_reply');
  const replicas = (status.replicas as Record<string, unknown>[]).map(({ redisAddress: _, ...row }) => row);
  assert.deepEqual(
    parseStatusReply({ ...status, replicas }).replicas.map((row) => row.redisAddress),
    [null, null],
  );
  assert.throws(
    () => parseHeartbeat({ ...sample('heartbeat'), redisAddress: 6379 }),
    /heartbeat.redisAddress: expected a string/,
  );
  for (const bad of ['6379', 'host', 'host:port', '::1:6379', 'a b:1']) {
    assert.throws(
      () => parseHeartbeat({ ...sample('heartbeat'), redisAddress: bad }),
      /heartbeat.redisAddress: expected host:port or \[ipv6\]:port, got string/,
      bad,
    );
  }
  assert.throws(
    () => parseHeartbeat({ ...sample('heartbeat'), redisAddress: 'h'.repeat(300) }),
    /heartbeat.redisAddress: longer than/,
  );
});

test('a build before format levels sends none in heartbeats, replies, syncs and status: it reads level 1', () => {
  const { formatLevel: _heartbeatLevel, formatLevelHeld: _held, ...oldHeartbeat } = sample('heartbeat');
  assert.equal(parseHeartbeat(oldHeartbeat).formatLevel, 1);
  assert.equal(parseHeartbeat(oldHeartbeat).formatLevelHeld, 1);
  const { formatLevel: _replyLevel, ...oldReply } = sample('heartbeat_reply');
  const reply = parseCoordinatorToReplica(oldReply);
  assert.equal(reply.type === 'heartbeat_reply' ? reply.formatLevel : null, 1);
  const { formatLevel: _statusLevel, ...oldStatus } = sample('status_reply');
  assert.equal(parseStatusReply(oldStatus).formatLevel, 1);
  const { formatLevel: _syncLevel, ...oldSync } = sample('sync');
  const sync = parsePeerMessage(oldSync);
  assert.equal(sync.type === 'sync' ? sync.formatLevel : null, 1);
  // A newer build may read more than this one knows of: taken as it says.
  assert.equal(parseHeartbeat({ ...sample('heartbeat'), formatLevel: 9 }).formatLevel, 9);
});

const prepare = sample('prepare');
const request = sample('request');
const boundedRead = sample('request read with a staleness bound');
const heartbeat = sample('heartbeat');
const statusReply = sample('status_reply');
const lostReport = sample('lost_report');
const rejected: ReadonlyArray<readonly [string, () => unknown, RegExp]> = [
  ['a non-object', () => parseHello(null), /^hello: expected an object, got null/],
  ['binary for an object', () => parseHello(Buffer.from([1])), /^hello: expected an object, got binary/],
  [
    'binary for a string',
    () => parseHello({ ...hello, clusterId: Buffer.from('test') }),
    /^hello\.clusterId: expected a string, got binary/,
  ],
  ['an array', () => parseHello([1]), /^hello: expected an object, got an array/],
  ['an unknown type', () => parsePeerMessage({ type: 'commit' }), /peer message\.type: expected one of/],
  ['the wrong family', () => parseHello({ ...hello, type: 'welcome' }), /hello\.type/],
  [
    'a negative index',
    () => parsePeerMessage({ ...prepare, commitIndex: -1 }),
    /\.commitIndex: expected a non/,
  ],
  ['a fractional view', () => parsePeerMessage({ ...prepare, view: 1.5 }), /peer message\.view:/],
  [
    'a missing field',
    () => parsePeerMessage({ type: 'prepare_ok', view: 1, time: 0 }),
    /\.index: .* got nothing/,
  ],
  [
    'an entry with a string update',
    () => parsePeerMessage({ ...prepare, entries: [entry, { ...entry, update: 'x' }] }),
    /\.entries\[1\]\.update: expected binary, got string/,
  ],
  [
    'epochs not a list',
    () => parsePeerMessage({ type: 'sync', view: 1, base: position, epochs: {}, lastIndex: 0 }),
    /\.epochs:/,
  ],
  [
    'a prepare without echo',
    () => parsePeerMessage({ ...prepare, echo: undefined }),
    /\.echo: .* got nothing/,
  ],
  [
    'an echo below -1',
    () => parsePeerMessage({ ...prepare, echo: -2 }),
    /\.echo: expected a non-negative number or -1/,
  ],
  [
    'an infinite prepare_ok time',
    () =>
      parsePeerMessage({
        type: 'prepare_ok',
        view: 1,
        index: 1,
        received: 1,
        time: Number.POSITIVE_INFINITY,
      }),
    /\.time: expected a non-negative number or -1/,
  ],
  [
    'a sync without its base',
    () => parsePeerMessage({ type: 'sync', view: 1, epochs: [], lastIndex: 0 }),
    /\.base: .* got nothing/,
  ],
  [
    'a snapshot offer with a negative size',
    () => parsePeerMessage({ type: 'snapshot_offer', view: 3, snapshot: { ...snapshot, sizeBytes: -1 } }),
    /\.snapshot\.sizeBytes: expected a non-negative integer/,
  ],
  [
    'a snapshot offer with a fractional position',
    () =>
      parsePeerMessage({
        type: 'snapshot_offer',
        view: 3,
        snapshot: { ...snapshot, position: { view: 2, index: 1.5 } },
      }),
    /\.snapshot\.position\.index:/,
  ],
  [
    'a lost entry with a numeric client id',
    () =>
      parsePeerMessage({
        ...lostReport,
        entries: [{ view: 2, index: 8, clientId: 7, requestNumber: 1 }],
      }),
    /\.entries\[0\]\.clientId: expected a string/,
  ],
  [
    'a lost report whose entries are not a list',
    () => parsePeerMessage({ ...lostReport, entries: 'all' }),
    /\.entries:/,
  ],
  [
    'a heartbeat with a fractional async loss count',
    () => parseHeartbeat({ ...heartbeat, asyncLost: 0.5 }),
    /\.asyncLost: expected a non-negative integer/,
  ],
  [
    'a heartbeat without its session count',
    () => parseHeartbeat({ ...heartbeat, sessions: undefined }),
    /\.sessions: .* got nothing/,
  ],
  [
    'a heartbeat with a format level of 0',
    () => parseHeartbeat({ ...heartbeat, formatLevel: 0 }),
    /\.formatLevel: expected a positive integer/,
  ],
  [
    'a transfer with a negative rate',
    () => parseHeartbeat({ ...heartbeat, transfer: { ...transfer, bytesPerSecond: -5 } }),
    /\.transfer\.bytesPerSecond: expected a non-negative number or -1/,
  ],
  [
    'a transfer without its snapshot',
    () => parseHeartbeat({ ...heartbeat, transfer: { receivedBytes: 1, bytesPerSecond: 1 } }),
    /\.transfer\.snapshot: .* got nothing/,
  ],
  [
    'a status reply without asyncLost',
    () => parseStatusReply({ ...statusReply, asyncLost: undefined }),
    /\.asyncLost: .* got nothing/,
  ],
  [
    'a replica status with a negative snapshot index',
    () =>
      parseStatusReply({
        ...statusReply,
        replicas: [{ ...(statusReply.replicas as object[])[0], snapshotIndex: -1 }],
      }),
    /\.replicas\[0\]\.snapshotIndex: expected a non-negative integer/,
  ],
  [
    'a replica id over 256 bytes',
    () => parseHeartbeat({ ...heartbeat, replicaId: 'é'.repeat(129) }),
    /\.replicaId: longer than 256 bytes/,
  ],
  [
    'a view with a numeric backup',
    () => parseCoordinatorToReplica({ ...sample('heartbeat_reply'), view: { ...view, backups: [1] } }),
    /\.view\.backups\[0\]: expected a string/,
  ],
  [
    'an address that is not a string',
    () =>
      parseCoordinatorToReplica({ type: 'view_change', view, primaryIncarnation: 1, addresses: { a: 5 } }),
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
    'an unknown request kind',
    () => parseClientRequest({ ...request, kind: 'delete-everything' }),
    /\.kind: expected one of open-session, write, read, request-status/,
  ],
  [
    'a request of the old shape (readOnly, no kind)',
    () => parseClientRequest({ ...request, kind: undefined, readOnly: true }),
    /\.kind: .* got nothing/,
  ],
  [
    'a request without staleness',
    () => parseClientRequest({ ...request, staleness: undefined }),
    /\.staleness: .* got nothing/,
  ],
  [
    'a negative staleness bound',
    () => parseClientRequest({ ...boundedRead, staleness: { maxStalenessMs: -1, minIndex: 0 } }),
    /\.staleness\.maxStalenessMs: expected a non-negative integer/,
  ],
  [
    'a fractional minimum index',
    () => parseClientRequest({ ...boundedRead, staleness: { maxStalenessMs: 10, minIndex: 2.5 } }),
    /\.staleness\.minIndex: expected a non-negative integer/,
  ],
  [
    'a staleness bound that is not an object',
    () => parseClientRequest({ ...boundedRead, staleness: 1000 }),
    /\.staleness: expected an object/,
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
    'a replica peer that names no service (the Hello of protocol version 4)',
    () => parseHello({ ...hello, peer: { kind: 'replica', id: 'b' } }),
    /hello\.peer\.service: it is not an object/,
  ],
  [
    'a replica peer whose service has version 0',
    () => parseHello({ ...hello, peer: { kind: 'replica', id: 'b', service: { name: 'kv', version: 0 } } }),
    /hello\.peer\.service: "version" must be a positive integer/,
  ],
  [
    'a save read without a snapshot',
    () => parseSaveClientMessage({ type: 'save_read', id: 1, offset: 0, length: 10 }),
    /^save message\.snapshot: expected an object/,
  ],
  [
    'a save read at a negative offset',
    () => parseSaveClientMessage({ type: 'save_read', id: 1, snapshot, offset: -1, length: 10 }),
    /^save message\.offset: expected a non-negative integer/,
  ],
  [
    'a save of an unknown type',
    () => parseSaveClientMessage({ type: 'save_everything', id: 1 }),
    /^save message\.type: expected one of/,
  ],
  [
    'a forget request without a replica',
    () => parseCoordinatorRequest({ type: 'forget_request', id: 1 }),
    /^forget request\.replica: expected a string/,
  ],
  [
    'a forget reply whose ok is not a boolean',
    () => parseForgetReply({ type: 'forget_reply', id: 1, ok: 1, message: '' }),
    /^forget reply\.ok: expected a boolean/,
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

test('values at the edge of a rule are taken: a time of 0, names of exactly 256 bytes', () => {
  const ok = { type: 'prepare_ok', view: 1, index: 1, received: 1, time: 0 };
  assert.deepEqual(parsePeerMessage(ok), ok);
  // 256 bytes as 256 one-byte characters and as 128 two-byte ones; 257 is refused.
  for (const replicaId of ['r'.repeat(256), 'é'.repeat(128)]) {
    assert.equal(parseHeartbeat({ ...sample('heartbeat'), replicaId }).replicaId, replicaId);
  }
  assert.throws(
    () => parseHeartbeat({ ...sample('heartbeat'), replicaId: 'r'.repeat(257) }),
    /longer than 256/,
  );
});

test('the coordinator tells a switchover, a forget and a status request apart by their type', () => {
  const switchover = { type: 'switchover_request', id: 4, to: 'r2' };
  assert.deepEqual(parseCoordinatorRequest(switchover), switchover);
  const forget = { type: 'forget_request', id: 5, replica: 'r3' };
  assert.deepEqual(parseCoordinatorRequest(forget), forget);
  const status = { type: 'status_request', id: 6 };
  assert.deepEqual(parseCoordinatorRequest(status), status);
  assert.throws(
    () => parseCoordinatorRequest({ type: 'switchover_request', id: 4 }),
    /switchover request\.to/,
  );
});

test("a frame is told to be a transfer's or a save's by its type alone, whatever else it is", () => {
  for (const type of ['snapshot_read', 'snapshot_chunk', 'snapshot_gone']) {
    assert.equal(isTransferMessage({ type }), true, type);
    assert.equal(isSaveMessage({ type }), false, type);
  }
  for (const type of ['save_request', 'save_read']) {
    assert.equal(isSaveMessage({ type }), true, type);
    assert.equal(isTransferMessage({ type }), false, type);
  }
  // Whatever a peer sends decodes to some value: none of these is either, and none throws.
  for (const value of [null, undefined, 7, 'snapshot_read', 'save_read', [], {}, { type: 'prepare' }]) {
    assert.equal(isTransferMessage(value), false, String(value));
    assert.equal(isSaveMessage(value), false, String(value));
  }
});
