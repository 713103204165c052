// The in-process link (local-link.ts): two ends that keep a socket's promises to a MessageConnection
// (order, no delivery inside a write, pause, end after the data, destroy, one 'close', idle timeout),
// and a listener that serves its local connections as it serves sockets: the same handshake, token
// check and close.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { ConnectionClosedError, ErrorCode, HandshakeError } from '../../src/errors.js';
import { makeToken, parseCredentials } from '../../src/transport/auth.js';
import { transportCounters } from '../../src/transport/counters.js';
import { dial } from '../../src/transport/dial.js';
import { LocalStream } from '../../src/transport/local-link.js';
import { clientHello, echoServer, expectEchoedInOrder, replies, request, turn } from './transport-echo.js';

const hello = clientHello;

/** Everything `stream` receives, as text, in order. */
function received(stream: LocalStream): string[] {
  const chunks: string[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  return chunks;
}

test('what one end writes arrives at the other in order, never inside the write', async () => {
  const [near, far] = LocalStream.pair();
  const atFar = received(far);
  const atNear = received(near);
  for (let n = 0; n < 100; n += 1) assert.equal(near.write(Buffer.from(`a${n}`)), true);
  far.write(new Uint8Array([98]));
  assert.deepEqual(atFar, [], 'nothing is handed over inside write');
  await turn();
  assert.deepEqual(
    atFar,
    Array.from({ length: 100 }, (_, n) => `a${n}`),
  );
  assert.deepEqual(atNear, ['b']);
  near.destroy();
  await turn();
});

test('a paused end holds what arrives, counts it as unread for the writer, and hands it over in order on resume', async () => {
  const [near, far] = LocalStream.pair();
  const atFar = received(far);
  near.write(Buffer.from('1'));
  await turn();
  far.pause();
  near.write(Buffer.from('22'));
  near.write(Buffer.from('333'));
  await turn();
  assert.deepEqual(atFar, ['1']);
  assert.equal(near.writableLength, 5, 'held bytes are unread bytes to the writer');
  far.resume();
  near.write(Buffer.from('4'));
  await turn();
  assert.deepEqual(atFar, ['1', '22', '333', '4']);
  assert.equal(near.writableLength, 0);
  near.destroy();
  await turn();
});

test('end closes both ends only after what was written before it is handed over, even to a paused end', async () => {
  const [near, far] = LocalStream.pair();
  const atFar = received(far);
  const closes: string[] = [];
  near.on('close', () => closes.push('near'));
  far.on('close', () => closes.push('far'));
  far.pause();
  near.write(Buffer.from('last words'));
  near.end();
  assert.equal(near.write(Buffer.from('too late')), false, 'nothing is written after end');
  await turn();
  assert.deepEqual(closes, [], 'a paused end keeps the link open until it took the data');
  far.resume();
  await turn();
  assert.deepEqual(atFar, ['last words']);
  assert.deepEqual(closes.sort(), ['far', 'near']);
});

test('destroy closes both ends at once: queued data is dropped, each emits close once, and the link is counted while open', async () => {
  const before = transportCounters.localLinksOpen;
  const [near, far] = LocalStream.pair();
  assert.equal(transportCounters.localLinksOpen, before + 1);
  const atFar = received(far);
  let closes = 0;
  near.on('close', () => (closes += 1));
  far.on('close', () => (closes += 1));
  near.write(Buffer.from('dropped'));
  far.destroy();
  near.destroy();
  await turn();
  assert.deepEqual(atFar, []);
  assert.equal(closes, 2);
  assert.equal(transportCounters.localLinksOpen, before);
  assert.equal(near.write(Buffer.from('x')), false);
});

test('an end emits timeout once it has neither read nor written for its idle time, counted from its last traffic', async () => {
  const [near, far] = LocalStream.pair();
  received(far);
  const idleMs = 150;
  let timedOutAt = 0;
  far.setTimeout(idleMs, () => {
    timedOutAt = performance.now();
  });
  let lastTrafficAt = performance.now();
  for (let n = 0; n < 4; n += 1) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    near.write(Buffer.from('keep alive'));
    lastTrafficAt = performance.now();
  }
  // The link's timer does not keep a process alive (a socket's does not either): this one does.
  const alive = setInterval(() => {}, 1000);
  await once(far, 'timeout');
  clearInterval(alive);
  // However slow the machine, the timer counts from the last write (a timer may fire a millisecond
  // early by rounding), not from setTimeout.
  assert.ok(
    timedOutAt - lastTrafficAt >= idleMs - 2,
    `timed out ${timedOutAt - lastTrafficAt} ms after the last write`,
  );
  near.destroy();
  await turn();
});

test("a dial of the listener's own address takes the link: 10,000 messages in order, and no TCP connection opened", async () => {
  const listener = await echoServer();
  const tcpBefore = transportCounters.connectionsOpen;
  const linksBefore = transportCounters.localLinksOpen;
  const connection = await dial(listener.address, hello, {
    local: { address: listener.address, connect: () => listener.connectLocal() },
  });
  assert.equal(transportCounters.localLinksOpen, linksBefore + 1);
  assert.equal(transportCounters.connectionsOpen, tcpBefore, 'neither end is a socket');
  await expectEchoedInOrder(connection, 10_000);
  connection.close();
  await listener.close();
  assert.equal(transportCounters.localLinksOpen, linksBefore);
});

test('a dial of any other address goes over TCP as before', async () => {
  const listener = await echoServer();
  const connection = await dial(listener.address, hello, {
    local: {
      address: '127.0.0.1:1',
      connect: () => {
        throw new Error('the link was taken for another address');
      },
    },
  });
  const [answer] = await (async () => {
    const all = replies(connection, 1);
    connection.send(request(7));
    return all;
  })();
  assert.equal(answer?.id, 7);
  connection.close();
  await listener.close();
});

test('a local connection passes the same handshake: another cluster is refused, and so is a client without a token', async () => {
  const listener = await echoServer();
  const local = { address: listener.address, connect: () => listener.connectLocal() };
  await assert.rejects(
    dial(listener.address, { ...hello, clusterId: 'other' }, { local }),
    (error: unknown) => {
      assert.ok(error instanceof HandshakeError);
      assert.match(error.message, /cluster other is not test-cluster/);
      return true;
    },
  );
  await listener.close();

  const { token, digest } = makeToken('app1');
  const credentials = parseCredentials(JSON.stringify({ clients: { app1: digest } }), 'test credentials');
  const guarded = await echoServer({ access: { credentials } });
  const guardedLocal = { address: guarded.address, connect: () => guarded.connectLocal() };
  await assert.rejects(dial(guarded.address, hello, { local: guardedLocal }), (error: unknown) => {
    assert.ok(error instanceof HandshakeError);
    assert.equal(error.code, ErrorCode.unauthenticated);
    return true;
  });
  const admitted = await dial(guarded.address, { ...hello, credential: token }, { local: guardedLocal });
  const all = replies(admitted, 1);
  admitted.send(request(1));
  assert.equal((await all)[0]?.id, 1);
  admitted.close();
  await guarded.close();
});

test('closing the listener closes its local connections, and a closed listener refuses new ones', async () => {
  const listener = await echoServer();
  const connection = await dial(listener.address, hello, {
    local: { address: listener.address, connect: () => listener.connectLocal() },
  });
  const closed = new Promise<void>((resolve) => {
    connection.onClose = () => resolve();
  });
  await listener.close();
  await closed;
  assert.equal(connection.isClosed, true);
  assert.throws(() => listener.connectLocal(), ConnectionClosedError);
});
