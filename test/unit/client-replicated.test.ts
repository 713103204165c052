// The replicated client's retry and session rules against scripted fake servers (a fake coordinator
// and fake replicas on loopback, speaking the real transport): it follows the primary after
// NOT_PRIMARY with the same client id and request number, gives each concurrent write its own
// session, refuses at once what the service refuses, and reports a write out of time as
// outcome-unknown and a read out of time as unavailable.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplicatedClient } from '../../src/client/index.js';
import { OutcomeUnknownError, RequestRefusedError, UnavailableError } from '../../src/errors.js';
import type {
  ClientFailure,
  ClientRequest,
  ClientSuccess,
  ReplicaStatus,
  StatusReply,
} from '../../src/protocol/messages.js';
import { logIndex, replicaId, viewNumber } from '../../src/protocol/types.js';
import { type Listener, listen, parseClientRequest, parseStatusRequest } from '../../src/transport/index.js';

const clusterId = 'test-client';
const frameSizeMaxBytes = 1024 * 1024;

type ReplyBody = Omit<ClientSuccess, 'type' | 'id'> | Omit<ClientFailure, 'type' | 'id'>;
type Answer = (request: ClientRequest) => ReplyBody | null;

const success =
  (view: number) =>
  (request: ClientRequest): ReplyBody => ({
    ok: true,
    result: request.operation,
    view: viewNumber(view),
    index: logIndex(request.requestNumber),
    durability: request.durability,
    replicas: [replicaId('r1')],
  });

const failure = (code: string) => (): ReplyBody => ({
  ok: false,
  code,
  message: `scripted ${code}`,
  primary: null,
});

/** A replica that answers each request with `answer` (null: stays silent) and records it. */
async function fakeReplica(answer: Answer): Promise<Listener & { requests: ClientRequest[] }> {
  const requests: ClientRequest[] = [];
  const listener = await listen({
    host: '127.0.0.1',
    port: 0,
    clusterId,
    frameSizeMaxBytes,
    onConnection: (_peer, connection) => {
      connection.onMessage = (message) => {
        const request = parseClientRequest(message);
        requests.push(request);
        const reply = answer(request);
        if (reply !== null) connection.send({ type: 'reply', id: request.id, ...reply });
      };
    },
  });
  return Object.assign(listener, { requests });
}

/** A coordinator whose answer names `primary.id` at `primary.address`, changeable by the test. */
async function fakeCoordinator(primary: { id: string; address: string }) {
  const listener = await listen({
    host: '127.0.0.1',
    port: 0,
    clusterId,
    frameSizeMaxBytes,
    onConnection: (_peer, connection) => {
      connection.onMessage = (message) => {
        const { id } = parseStatusRequest(message);
        const replica: ReplicaStatus = {
          id: replicaId(primary.id),
          address: primary.address,
          role: 'primary',
          alive: true,
          durableIndex: logIndex(0),
          appliedIndex: logIndex(0),
          commitIndex: logIndex(0),
          problem: null,
        };
        const view = { number: viewNumber(1), primary: replicaId(primary.id), backups: [], learners: [] };
        connection.send({
          type: 'status_reply',
          id,
          view,
          replicas: [replica],
          problem: null,
        } satisfies StatusReply);
      };
    },
  });
  return { listener, primary };
}

async function cluster(answer: Answer, options: { deadlineMs?: number; attemptTimeoutMs?: number } = {}) {
  const replica = await fakeReplica(answer);
  const coordinator = await fakeCoordinator({ id: 'r1', address: replica.address });
  const client = await ReplicatedClient.connect({
    coordinator: coordinator.listener.address,
    clusterId,
    ...options,
  });
  const close = async () => {
    await client.close();
    await replica.close();
    await coordinator.listener.close();
  };
  return { client, replica, coordinator, close };
}

const bytes = (text: string) => new TextEncoder().encode(text);

test('a write refused with NOT_PRIMARY is resent to the new primary with the same id and number', async () => {
  const { client, replica, coordinator, close } = await cluster(failure('NOT_PRIMARY'));
  const successor = await fakeReplica(success(2));
  coordinator.primary.id = 'r2';
  coordinator.primary.address = successor.address;
  const reply = await client.write(bytes('op'));
  assert.equal(reply.view, 2);
  const [first] = replica.requests;
  const [resent] = successor.requests;
  assert(first !== undefined && resent !== undefined);
  assert.equal(resent.clientId, first.clientId);
  assert.equal(resent.requestNumber, first.requestNumber);
  assert.equal(first.requestNumber, 1);
  await successor.close();
  await close();
});

test('concurrent writes hold distinct sessions; a settled session is reused with the next number', async () => {
  const { client, replica, close } = await cluster(success(1));
  await Promise.all([client.write(bytes('a')), client.write(bytes('b')), client.write(bytes('c'))]);
  const ids = new Set(replica.requests.map((request) => request.clientId));
  assert.equal(ids.size, 3);
  assert.deepEqual(
    replica.requests.map((request) => request.requestNumber),
    [1, 1, 1],
  );
  const reply = await client.write(bytes('d'), { durability: 'async' });
  assert.equal(reply.durability, 'async');
  const last = replica.requests.at(-1);
  assert(last !== undefined && ids.has(last.clientId));
  assert.equal(last.requestNumber, 2);
  await close();
});

test('a refused operation rejects at once with RequestRefusedError', async () => {
  const { client, replica, close } = await cluster(failure('KEY_TOO_LARGE'));
  await assert.rejects(client.write(bytes('op')), (error: unknown) => {
    assert(error instanceof RequestRefusedError);
    assert.equal(error.code, 'KEY_TOO_LARGE');
    return true;
  });
  assert.equal(replica.requests.length, 1);
  await close();
});

test('a write out of time is outcome-unknown, naming its session; a read is unavailable', async () => {
  const { client, replica, close } = await cluster(() => null, { deadlineMs: 300, attemptTimeoutMs: 100 });
  await assert.rejects(client.write(bytes('op')), (error: unknown) => {
    assert(error instanceof OutcomeUnknownError);
    const [first] = replica.requests;
    assert(first !== undefined);
    assert.equal(error.clientId, first.clientId);
    assert.equal(error.requestNumber, first.requestNumber);
    assert(replica.requests.length > 1, 'retried before giving up');
    assert(replica.requests.every((request) => request.requestNumber === first.requestNumber));
    return true;
  });
  await assert.rejects(client.read(bytes('op')), UnavailableError);
  await close();
});

test('close() ends a write in flight promptly', async () => {
  const { client, close } = await cluster(() => null, { deadlineMs: 60_000 });
  const write = client.write(bytes('op'));
  setTimeout(() => void client.close(), 50);
  await assert.rejects(write, OutcomeUnknownError);
  await close();
});

test('connect fails as UNAVAILABLE when no coordinator answers', async () => {
  const replica = await fakeReplica(() => null);
  const address = replica.address;
  await replica.close();
  await assert.rejects(
    ReplicatedClient.connect({ coordinator: address, clusterId, deadlineMs: 200 }),
    UnavailableError,
  );
});
