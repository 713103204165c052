// Backpressure: a client that pipelines far more requests than the primary lets wait is slowed
// down by TCP (its connection is no longer read), not answered OVERLOADED, and nothing is lost.
// (Found flaky under load: on a busy machine the lone replica's lease can lapse, and the NOT_PRIMARY
// answers it gives then are retried here as a client would, not counted as refusals.)

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { Client } from '../../src/client/index.js';
import { defaultNodeConfig } from '../../src/node/config.js';
import { CoordinatorServer } from '../../src/node/coordinator-server.js';
import { ReplicaServer } from '../../src/node/replica-server.js';
import { tinyProtocolConfig } from '../../src/protocol/config.js';
import type { ClientReply } from '../../src/protocol/messages.js';
import { encodeOperation, kvOperation } from '../../src/state-machine/index.js';
import { dial, PROTOCOL_VERSION, parseClientReply } from '../../src/transport/index.js';
import { waitFor } from './harness.js';

test('a client pipelining 20x more writes than may wait is paused, never refused', async () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'understudy-backpressure-'));
  const config = { ...defaultNodeConfig, protocol: tinyProtocolConfig };
  const coordinator = await CoordinatorServer.start({
    listen: '127.0.0.1:0',
    directory: path.join(directory, 'c'),
    config,
    newCluster: true,
  });
  const replica = await ReplicaServer.start({
    id: 'r1',
    listen: '127.0.0.1:0',
    coordinator: coordinator.address,
    directory: path.join(directory, 'r1'),
    config,
  });
  const client = await Client.connect({ coordinator: coordinator.address });
  try {
    await client.put('warm', 'up');
    const status = await client.status();
    const primary = status.replicas.find((candidate) => candidate.id === status.view?.primary);
    assert.ok(primary !== undefined);
    const connection = await dial(primary.address, {
      type: 'hello',
      clusterId: 'understudy',
      protocolVersion: PROTOCOL_VERSION,
      peer: { kind: 'client' },
    });
    // What a client library does: a NOT_PRIMARY refusal (the lease lapsed while the machine was
    // busy) means nothing happened, so the same request goes again; so does a write refused
    // SESSION_EXPIRED because its session's open was refused that way and has not run yet.
    const sent = new Map<number, object>();
    const replies = new Map<number, ClientReply>();
    const resend = (ids: readonly number[]) =>
      setTimeout(() => {
        for (const id of ids) connection.send(sent.get(id) ?? {});
      }, 50);
    connection.onMessage = (raw) => {
      const reply = parseClientReply(raw);
      if (!reply.ok && reply.code === 'NOT_PRIMARY') resend([reply.id]);
      else if (!reply.ok && reply.code === 'SESSION_EXPIRED') resend([reply.id - 1, reply.id]);
      else replies.set(reply.id, reply);
    };
    const count = tinyProtocolConfig.pendingRequestsMax * 10;
    for (let id = 1; id <= count; id++) {
      // Each client opens its session, then writes once: two requests in flight per client.
      const request = { type: 'request', clientId: `burst-${id}`, durability: 'sync', staleness: null };
      const open = {
        ...request,
        id: 2 * id - 1,
        kind: 'open-session',
        requestNumber: 0,
        operation: new Uint8Array(0),
      };
      const write = {
        ...request,
        id: 2 * id,
        kind: 'write',
        requestNumber: 1,
        operation: encodeOperation(kvOperation.incr(new TextEncoder().encode('n'))),
      };
      for (const message of [open, write]) {
        sent.set(message.id, message);
        connection.send(message);
      }
    }
    await waitFor('every reply', () => (replies.size === 2 * count ? true : undefined), 60_000);
    const refused = [...replies.values()].filter((reply) => !reply.ok);
    assert.deepEqual(refused, [], 'no request was refused');
    assert.equal((await client.incr('n', 0)).value, count);
    connection.close();
  } finally {
    await client.close();
    await replica.close();
    await coordinator.close();
    rmSync(directory, { recursive: true, force: true });
  }
});
