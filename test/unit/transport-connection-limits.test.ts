// The accept-time limits of a listening port: the total and per-address caps refuse (and count)
// the connection beyond them and admit again once one closes; the handshake deadline and the
// client idle deadline cut connections that send nothing, counted by reason.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { commitRulesOf, defaultProtocolConfig } from '../../src/protocol/config.js';
import type { Hello } from '../../src/protocol/messages.js';
import { parseAddress } from '../../src/transport/address.js';
import { encodeMessage } from '../../src/transport/codec.js';
import { transportCounters } from '../../src/transport/counters.js';
import { frame } from '../../src/transport/framing.js';
import { PROTOCOL_VERSION } from '../../src/transport/handshake.js';
import { type ListenOptions, listen } from '../../src/transport/server.js';

const clusterId = 'limits-cluster';
const hello: Hello = {
  type: 'hello',
  clusterId,
  protocolVersion: PROTOCOL_VERSION,
  peer: { kind: 'client' },
};

function quietServer(overrides: Partial<ListenOptions>) {
  return listen({
    host: '127.0.0.1',
    port: 0,
    clusterId,
    frameSizeMaxBytes: 1024,
    onConnection: () => {},
    ...overrides,
  });
}

/** Opens a raw socket and resolves once it is connected. */
async function open(address: string): Promise<Socket> {
  const socket = connect(parseAddress(address));
  socket.on('error', () => {});
  socket.resume();
  await once(socket, 'connect');
  return socket;
}

/** Resolves with whether the server closed `socket` within `ms`. */
function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

test('a port refuses the connection beyond its total cap, counts it, and admits again once one closes', async () => {
  const listener = await quietServer({
    connectionLimits: { connectionsMax: 3, connectionsPerAddressMax: 3 },
  });
  const before = transportCounters.connectionsRefused.connections_max;
  const held = [await open(listener.address), await open(listener.address), await open(listener.address)];
  const refused = await open(listener.address);
  assert.equal(await closedWithin(refused, 2000), true, 'the fourth is closed at once');
  assert.equal(transportCounters.connectionsRefused.connections_max, before + 1);
  held[0]?.destroy();
  // The server frees the slot once it sees the close, which a busy machine may delay: ask again until.
  let admitted: Socket | undefined;
  for (const endMs = performance.now() + 10_000; admitted === undefined && performance.now() < endMs; ) {
    const socket = await open(listener.address);
    if (!(await closedWithin(socket, 300))) admitted = socket;
  }
  assert.ok(admitted !== undefined, 'a slot freed by a close is given again');
  for (const socket of [...held, admitted]) socket.destroy();
  await listener.close();
});

test('one address cannot take more than its per-address cap', async () => {
  const listener = await quietServer({
    connectionLimits: { connectionsMax: 100, connectionsPerAddressMax: 2 },
  });
  const before = transportCounters.connectionsRefused.address_connections_max;
  const held = [await open(listener.address), await open(listener.address)];
  const refused = await open(listener.address);
  assert.equal(await closedWithin(refused, 2000), true);
  assert.equal(transportCounters.connectionsRefused.address_connections_max, before + 1);
  for (const socket of held) socket.destroy();
  await listener.close();
});

test('a connection that sends no Hello within the handshake deadline is closed and counted', async () => {
  const listener = await quietServer({ handshakeTimeoutMs: 100 });
  const before = transportCounters.connectionsRefused.handshake_timeout;
  const silent = await open(listener.address);
  assert.equal(await closedWithin(silent, 2000), true);
  assert.equal(transportCounters.connectionsRefused.handshake_timeout, before + 1);
  await listener.close();
});

test('a client connection idle past the client idle deadline is closed and counted; a peer link is not', async () => {
  const listener = await quietServer({ clientIdleTimeoutMs: 150 });
  const before = transportCounters.connectionsRefused.idle_timeout;
  const client = await open(listener.address);
  client.write(frame(encodeMessage(hello)));
  assert.equal(await closedWithin(client, 3000), true);
  assert.equal(transportCounters.connectionsRefused.idle_timeout, before + 1);
  const replica = await open(listener.address);
  const replicaHello = {
    ...hello,
    peer: {
      kind: 'replica',
      id: 'r9',
      service: { name: 'kv', version: 1 },
      rules: commitRulesOf(defaultProtocolConfig),
    },
  };
  replica.write(frame(encodeMessage(replicaHello)));
  assert.equal(await closedWithin(replica, 500), false, 'peers have heartbeats: no idle deadline here');
  replica.destroy();
  await listener.close();
});
