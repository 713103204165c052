// The TCP transport end to end on 127.0.0.1: handshake, ordered delivery, write coalescing,
// backpressure, pause/resume, and a listener that survives peers sending garbage.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { commitRulesOf, defaultProtocolConfig } from '../../src/protocol/config.js';
import type { Hello } from '../../src/protocol/messages.js';
import { replicaId } from '../../src/protocol/types.js';
import { parseAddress } from '../../src/transport/address.js';
import { encodeMessage } from '../../src/transport/codec.js';
import { MessageConnection } from '../../src/transport/connection.js';
import { transportCounters } from '../../src/transport/counters.js';
import { dial } from '../../src/transport/dial.js';
import { frame } from '../../src/transport/framing.js';
import { PROTOCOL_VERSION } from '../../src/transport/handshake.js';
import { listen } from '../../src/transport/server.js';
import { parseClientReply } from '../../src/transport/validate.js';
import {
  clientHello,
  echoClusterId,
  echoServer,
  expectEchoedInOrder,
  replies,
  request,
  turn,
} from './transport-echo.js';

const clusterId = echoClusterId;
const hello = clientHello;

/** Sends raw bytes from a plain socket and waits until the listener closes it. */
async function sendRaw(address: string, bytes: Buffer): Promise<void> {
  const socket = connect(parseAddress(address));
  socket.on('error', () => {});
  socket.resume();
  socket.write(bytes);
  await once(socket, 'close');
}

test('a dialled connection exchanges 10,000 messages in order', async () => {
  const listener = await echoServer();
  const connection = await dial(listener.address, hello);
  await expectEchoedInOrder(connection, 10_000);
  connection.close();
  await listener.close();
});

/** A connection to `address` whose socket counts the writes asked of it. */
function connectCountingWrites(address: string): { connection: MessageConnection; writes: () => number } {
  const socket = connect(parseAddress(address));
  let writes = 0;
  const write = socket.write;
  socket.write = function (this: Socket, ...args: unknown[]) {
    writes += 1;
    return Reflect.apply(write, this, args) as boolean;
  } as Socket['write'];
  return { connection: new MessageConnection(socket), writes: () => writes };
}

/** Waits for the echo server's Welcome and then `count` replies, and checks they came in order. */
async function expectWelcomeThenReplies(connection: MessageConnection, count: number): Promise<void> {
  const [welcome, ...rest] = await new Promise<unknown[]>((resolve) => {
    const received: unknown[] = [];
    connection.onMessage = (message) => {
      received.push(message);
      if (received.length === count + 1) resolve(received);
    };
  });
  assert.deepEqual(welcome, { type: 'welcome', ok: true, code: '', message: '' });
  assert.deepEqual(
    rest.map((message) => parseClientReply(message).id),
    rest.map((_, index) => index),
  );
}

test('sends issued in one turn go out as one socket write and arrive intact and in order', async () => {
  const listener = await echoServer();
  const { connection, writes } = connectCountingWrites(listener.address);
  connection.send(hello);
  for (let id = 0; id < 500; id += 1) connection.send(request(id));
  assert.equal(writes(), 0, 'nothing is written before the turn ends');
  await expectWelcomeThenReplies(connection, 500);
  assert.equal(writes(), 1);
  connection.close();
  await listener.close();
});

test('sendQueuedNow writes what was sent so far at once, as one write, and the turn adds no second', async () => {
  const listener = await echoServer();
  const { connection, writes } = connectCountingWrites(listener.address);
  connection.sendQueuedNow();
  assert.equal(writes(), 0, 'nothing queued, nothing written');
  connection.send(hello);
  for (let id = 0; id < 20; id += 1) connection.send(request(id));
  connection.sendQueuedNow();
  assert.equal(writes(), 1, 'written before this callback ends');
  await expectWelcomeThenReplies(connection, 20);
  assert.equal(writes(), 1, 'the microtask found nothing left to write');
  connection.close();
  await listener.close();
});

test('a Hello with the wrong cluster id or protocol version is refused with HANDSHAKE_REFUSED', async () => {
  let accepted = 0;
  const listener = await listen({
    host: '127.0.0.1',
    port: 0,
    clusterId,
    frameSizeMaxBytes: 1024,
    onConnection: () => {
      accepted += 1;
    },
  });
  const refusedBefore = transportCounters.handshakesRefused;
  for (const wrong of [
    { ...hello, clusterId: 'other' },
    { ...hello, protocolVersion: PROTOCOL_VERSION + 1 },
  ]) {
    await assert.rejects(dial(listener.address, wrong), {
      name: 'HandshakeError',
      code: 'HANDSHAKE_REFUSED',
    });
  }
  assert.equal(transportCounters.handshakesRefused, refusedBefore + 2);
  assert.equal(accepted, 0);
  await listener.close();
});

test('a Hello of another protocol version is refused for its version, whatever the shape of the rest', async () => {
  const listener = await echoServer();
  // Version 4's replica Hello had no service: it must hear about the version, not about a bad frame.
  const older = { ...hello, protocolVersion: 4, peer: { kind: 'replica', id: 'r1' } } as unknown as Hello;
  await assert.rejects(dial(listener.address, older), {
    name: 'HandshakeError',
    message: new RegExp(`protocol version 4 is not ${PROTOCOL_VERSION}`),
  });
  await listener.close();
});

test("the listener's owner may refuse a peer, and the dialler hears its reason", async () => {
  let accepted = 0;
  const listener = await listen({
    host: '127.0.0.1',
    port: 0,
    clusterId,
    frameSizeMaxBytes: 1024,
    admit: (peer) => (peer.kind === 'replica' && peer.service.name !== 'lock' ? 'not a lock replica' : null),
    onConnection: (_peer, connection) => {
      accepted += 1;
      connection.close();
    },
  });
  const replica = (name: string): Hello => ({
    ...hello,
    peer: {
      kind: 'replica',
      id: replicaId('r2'),
      service: { name, version: 1 },
      rules: commitRulesOf(defaultProtocolConfig),
    },
  });
  await assert.rejects(dial(listener.address, replica('kv')), {
    name: 'HandshakeError',
    code: 'HANDSHAKE_REFUSED',
    message: /not a lock replica/,
  });
  assert.equal(accepted, 0);
  (await dial(listener.address, replica('lock'))).close();
  (await dial(listener.address, hello)).close();
  assert.equal(accepted, 2); // the listener hands a connection over as it sends its Welcome
  await listener.close();
});

test('peers sending garbage are counted and closed, and the listener keeps serving others', async () => {
  const listener = await echoServer();
  const badFramesBefore = transportCounters.badFrames;
  const closedBefore = transportCounters.connectionsClosedForErrors;
  const hugeHeader = Buffer.alloc(4);
  hugeHeader.writeUInt32BE(1024 * 1024 * 1024);
  await sendRaw(listener.address, hugeHeader);
  await sendRaw(listener.address, frame(Buffer.from([0xdc, 0xff, 0xff])));
  await sendRaw(listener.address, frame(encodeMessage({ ...hello, clusterId: 42 })));
  // After a good handshake, the owner's validator refuses a request of the wrong shape.
  const badRequest = frame(encodeMessage({ ...request(1), operation: 'not binary' }));
  await sendRaw(listener.address, Buffer.concat([frame(encodeMessage(hello)), badRequest]));
  assert.equal(transportCounters.badFrames, badFramesBefore + 4);
  assert.equal(transportCounters.connectionsClosedForErrors, closedBefore + 4);

  const connection = await dial(listener.address, hello);
  const received = replies(connection, 1);
  connection.send(request(7));
  assert.equal((await received)[0]?.id, 7);
  connection.close();
  await listener.close();
});

test('a peer that sends no Hello is closed after the handshake timeout', async () => {
  const listener = await echoServer({ handshakeTimeoutMs: 50 });
  await sendRaw(listener.address, Buffer.alloc(0));
  await listener.close();
});

test('dial fails with typed errors: refused connection, and no Welcome in time', async () => {
  const closedListener = await echoServer();
  await closedListener.close();
  await assert.rejects(dial(closedListener.address, hello), { name: 'ConnectionClosedError' });

  const silent = createServer((socket) => socket.resume());
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  const port = (silent.address() as { port: number }).port;
  await assert.rejects(dial(`127.0.0.1:${port}`, hello, { timeoutMs: 50 }), { name: 'UnavailableError' });
  silent.close();
});

test('a peer that stops reading is dropped once the send buffer limit is exceeded', async () => {
  const sockets: Socket[] = [];
  const stalled = createServer((socket) => {
    socket.pause();
    sockets.push(socket);
  });
  stalled.listen(0, '127.0.0.1');
  await once(stalled, 'listening');
  const port = (stalled.address() as { port: number }).port;
  const connection = new MessageConnection(connect({ host: '127.0.0.1', port }), {
    sendBufferMaxBytes: 1024 * 1024,
  });
  const closed = new Promise<Error | undefined>((resolve) => {
    connection.onClose = resolve;
  });
  const overflowsBefore = transportCounters.sendBufferOverflows;
  const payload = { type: 'filler', data: Buffer.alloc(256 * 1024) };
  for (let sent = 0; sent < 1000 && !connection.isClosed; sent += 1) {
    connection.send(payload);
    await turn();
  }
  const error = await closed;
  assert.equal(error?.name, 'ConnectionClosedError');
  assert.equal(transportCounters.sendBufferOverflows, overflowsBefore + 1);
  for (const socket of sockets) socket.destroy();
  stalled.close();
});

test('pause holds messages back and resume delivers the rest in order', async () => {
  const listener = await listen({
    host: '127.0.0.1',
    port: 0,
    clusterId,
    frameSizeMaxBytes: 1024,
    // Sent right behind the Welcome, before the dialler has set its handler.
    onConnection: (_peer, connection) => {
      for (let id = 0; id < 10; id += 1) connection.send({ type: 'status_request', id });
    },
  });
  const connection = await dial(listener.address, hello);
  const ids: number[] = [];
  const allTen = new Promise<void>((resolve) => {
    connection.onMessage = (message) => {
      ids.push((message as { id: number }).id);
      if (ids.length === 3) connection.pause();
      if (ids.length === 10) resolve();
    };
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(ids, [0, 1, 2]);
  connection.resume();
  await allTen;
  assert.deepEqual(ids, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  connection.close();
  await listener.close();
});
