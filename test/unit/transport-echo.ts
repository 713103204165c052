// A listener whose connections echo each request's operation back, and what its tests send, collect
// and check: shared by the transport tests over TCP and over the in-process link.

import assert from 'node:assert/strict';
import { BadFrameError } from '../../src/errors.js';
import type { ClientReply, ClientRequest, Hello } from '../../src/protocol/messages.js';
import { clientId, logIndex, viewNumber } from '../../src/protocol/types.js';
import type { MessageConnection } from '../../src/transport/connection.js';
import { PROTOCOL_VERSION } from '../../src/transport/handshake.js';
import { type ListenOptions, listen } from '../../src/transport/server.js';
import { parseClientReply, parseClientRequest } from '../../src/transport/validate.js';

export const echoClusterId = 'test-cluster';

export const clientHello: Hello = {
  type: 'hello',
  clusterId: echoClusterId,
  protocolVersion: PROTOCOL_VERSION,
  peer: { kind: 'client' },
};

export const request = (id: number): ClientRequest => ({
  type: 'request',
  id,
  clientId: clientId('c'),
  requestNumber: id + 1,
  kind: 'write',
  staleness: null,
  durability: 'sync',
  operation: Buffer.from(`op-${id}`),
});

/** A listener whose connections answer each valid request and fail on anything else. */
export function echoServer(overrides: Partial<ListenOptions> = {}) {
  return listen({
    host: '127.0.0.1',
    port: 0,
    clusterId: echoClusterId,
    frameSizeMaxBytes: 1024 * 1024,
    onConnection: (_peer, connection) => {
      connection.onMessage = (message) => {
        try {
          const { id, operation } = parseClientRequest(message);
          const reply: ClientReply = {
            type: 'reply',
            id,
            ok: true,
            result: operation,
            view: viewNumber(1),
            index: logIndex(id),
            durability: 'sync',
            replicas: [],
          };
          connection.send(reply);
        } catch (error) {
          if (!(error instanceof BadFrameError)) throw error;
          connection.fail(error.code, error.message);
        }
      };
    },
    ...overrides,
  });
}

/** Collects the next `count` replies on a connection. */
export function replies(connection: MessageConnection, count: number): Promise<ClientReply[]> {
  return new Promise((resolve, reject) => {
    const received: ClientReply[] = [];
    connection.onClose = (error) => reject(error ?? new Error('closed'));
    connection.onMessage = (message) => {
      received.push(parseClientReply(message));
      if (received.length === count) resolve(received);
    };
  });
}

export const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Sends `count` requests (a turn every 100) and checks that every echo came back, in order. */
export async function expectEchoedInOrder(connection: MessageConnection, count: number): Promise<void> {
  const received = replies(connection, count);
  for (let id = 0; id < count; id += 1) {
    connection.send(request(id));
    if (id % 100 === 99) await turn();
  }
  const all = await received;
  assert.deepEqual(
    all.map((reply) => reply.id),
    all.map((_, index) => index),
  );
  assert.deepEqual(all.map((reply) => (reply.ok ? Buffer.from(reply.result).toString() : '')).slice(-1), [
    `op-${count - 1}`,
  ]);
}
