// Hostile inputs for the fuzz test, drawn from fast-check arbitraries with a fixed seed so a failing
// run replays: frames for the message ports (random bytes, wrong lengths, truncations, msgpack
// objects shaped like messages with random fields, byte flips of valid messages), HTTP requests for
// the admin port and commands for the Redis port (random bytes, byte flips of valid ones, hostile
// length headers). Each batch is the bytes one connection writes at once.

import fc from 'fast-check';
import { commitRulesOf, defaultProtocolConfig } from '../../src/protocol/config.js';
import type { Hello } from '../../src/protocol/messages.js';
import { keyValueService } from '../../src/state-machine/kv-service.js';
import { encodeMessage, frame, PROTOCOL_VERSION } from '../../src/transport/index.js';

export const fuzzClusterId = 'understudy';

export const clientHello = frame(
  encodeMessage({
    type: 'hello',
    clusterId: fuzzClusterId,
    protocolVersion: PROTOCOL_VERSION,
    peer: { kind: 'client' },
  } satisfies Hello),
);

/** A replica that is in no view: the peer path of the replica port. */
export const peerHello = frame(
  encodeMessage({
    type: 'hello',
    clusterId: fuzzClusterId,
    protocolVersion: PROTOCOL_VERSION,
    peer: {
      kind: 'replica',
      id: 'fuzz-peer',
      service: keyValueService,
      rules: commitRulesOf(defaultProtocolConfig),
    },
  } as Hello),
);

const messageTypes = [
  'heartbeat',
  'heartbeat_reply',
  'forget_reply',
  'forget_request',
  'hello',
  'lost_report',
  'prepare',
  'prepare_ok',
  'reply',
  'request',
  'snapshot_chunk',
  'snapshot_gone',
  'snapshot_offer',
  'snapshot_read',
  'status_reply',
  'status_request',
  'switchover_reply',
  'switchover_request',
  'sync',
  'view_change',
  'welcome',
];
const fieldNames = [
  'id',
  'view',
  'index',
  'clientId',
  'requestNumber',
  'kind',
  'entries',
  'from',
  'operation',
  'durability',
  'staleness',
  'peer',
  'clusterId',
  'protocolVersion',
  'commit',
  'incarnation',
  'position',
];

const fieldValue = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 24, size: 'max' }),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 48, size: 'max' }),
  fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 8 })), { maxLength: 4 }),
  fc.dictionary(fc.constantFrom(...fieldNames), fc.integer(), { maxKeys: 3 }),
);

/** An object that looks like a message of some kind, with random fields. */
const shapedMessage = fc
  .tuple(
    fc.constantFrom(...messageTypes),
    fc.dictionary(fc.constantFrom(...fieldNames), fieldValue, { maxKeys: 8 }),
  )
  .map(([type, fields]) => ({ ...fields, type }));

function encodeOrText(message: object): Buffer {
  try {
    return encodeMessage(message);
  } catch {
    // The binary layout of a hot message refuses fields of the wrong type: send it as text then.
    return Buffer.from(JSON.stringify(message));
  }
}

const validTemplates: readonly Buffer[] = [
  encodeMessage({
    type: 'request',
    id: 7,
    clientId: 'fuzz-client',
    requestNumber: 1,
    kind: 'write',
    staleness: null,
    durability: 'sync',
    operation: Buffer.from('{"op":"put","key":"fuzz","value":"x"}'),
  }),
  encodeMessage({ type: 'status_request', id: 1 }),
  encodeMessage({ type: 'prepare_ok', view: 1, index: 1, from: 'fuzz-peer' }),
];

/** Byte flips, a truncation or an extension of a valid payload. */
function mutated(templates: readonly Buffer[]): fc.Arbitrary<Buffer> {
  return fc
    .tuple(
      fc.constantFrom(...templates),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.oneof(fc.constant(0), fc.integer({ min: -8, max: 8 })),
    )
    .map(([template, flips, resize]) => {
      const bytes = Buffer.from(template);
      for (const [position, value] of flips) bytes[position % bytes.length] = value;
      if (resize < 0) return bytes.subarray(0, Math.max(0, bytes.length + resize));
      return Buffer.concat([bytes, Buffer.alloc(resize, 0xff)]);
    });
}

/** One frame's bytes as a hostile peer might send them. */
export const hostileFrame: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 64, size: 'max' }).map((payload) => frame(payload)),
  shapedMessage.map((message) => frame(encodeOrText(message))),
  mutated(validTemplates).map((payload) => frame(payload)),
  // A length header that lies: past the frame limit (refused before allocation) or beyond what follows.
  fc
    .tuple(fc.integer({ min: 0, max: 0xffff_ffff }), fc.uint8Array({ maxLength: 16, size: 'max' }))
    .map(([length, tail]) => {
      const header = Buffer.alloc(4);
      header.writeUInt32BE(length, 0);
      return Buffer.concat([header, tail]);
    }),
);

const httpTemplates = [
  'GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET /status HTTP/1.1\r\nHost: a\r\n\r\n',
  'POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc',
  'GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
].map((text) => Buffer.from(text));

export const hostileHttpRequest: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 96, size: 'max' }).map((bytes) => Buffer.from(bytes)),
  mutated(httpTemplates),
  fc
    .tuple(
      fc.string({ maxLength: 12, size: 'max' }),
      fc.string({ maxLength: 40, size: 'max' }),
      fc.string({ maxLength: 40, size: 'max' }),
    )
    .map(([method, target, header]) => Buffer.from(`${method} ${target} HTTP/1.1\r\n${header}\r\n\r\n`)),
);

const respTemplates = [
  '*3\r\n$3\r\nSET\r\n$4\r\nfuzz\r\n$1\r\nv\r\n',
  '*2\r\n$3\r\nGET\r\n$4\r\nfuzz\r\n',
  'PING\r\n',
  '*1\r\n$4\r\nINFO\r\n',
  // What monitoring tools send; a mutated MONITOR may leave a connection that is sent lines it never reads.
  'MONITOR\r\n',
  'CLIENT LIST\r\n',
  'SLOWLOG GET 5\r\n',
  '*3\r\n$6\r\nMEMORY\r\n$5\r\nUSAGE\r\n$4\r\nfuzz\r\n',
  'OBJECT ENCODING fuzz\r\n',
  'RANDOMKEY\r\n',
  'CLIENT SETINFO LIB-NAME fuzz\r\n',
].map((text) => Buffer.from(text));

export const hostileRespCommand: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 64, size: 'max' }).map((bytes) => Buffer.from(bytes)),
  mutated(respTemplates),
  fc
    .tuple(fc.constantFrom('*', '$'), fc.oneof(fc.integer(), fc.constant(2 ** 40), fc.constant(-5)))
    .map(([kind, count]) => Buffer.from(`${kind}${count}\r\n`)),
);

/** `count` values of `arbitrary`, the same ones for the same seed. */
export function draw<T>(arbitrary: fc.Arbitrary<T>, count: number, seed: number): T[] {
  return fc.sample(arbitrary, { numRuns: count, seed });
}
