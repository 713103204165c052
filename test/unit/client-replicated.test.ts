// The replicated client's retry, session and read rules against scripted fake servers (a fake
// coordinator and fake replicas on loopback, speaking the real transport): it opens a session before
// a slot's first write, follows the primary after NOT_PRIMARY with the same client id and request
// number, gives each concurrent write its own session, refuses at once what the service refuses,
// reports a write out of time as outcome-unknown (naming it for request-status) and an expired
// session as SessionExpiredError with a fresh session after; it asks request-status and maps each
// answer to its state; and it spreads bounded reads over the members, moving on from a stale one.

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import {
  parseRequestId,
  type ReadOptions,
  ReplicatedClient,
  type WriteOptions,
} from '../../src/client/index.js';
import {
  ConfigError,
  OutcomeUnknownError,
  RequestRefusedError,
  SessionExpiredError,
  UnavailableError,
} from '../../src/errors.js';
import type { ClientRequest } from '../../src/protocol/messages.js';
import { logIndex, replicaId, viewNumber } from '../../src/protocol/types.js';
import {
  type Answer,
  clusterId,
  type FakeCoordinator,
  type FakeReplica,
  failure,
  fakeCoordinator,
  fakeReplica,
  type ReplyBody,
  success,
  withSessions,
} from './client-fake-cluster.js';

type Timing = { deadlineMs?: number; attemptTimeoutMs?: number };

/** What each test opened: closed after it, also when an assertion failed first (else the file hangs). */
const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const thing of opened.splice(0)) await thing.close();
});

async function cluster(answer: Answer, options: Timing = {}) {
  const replica = await fakeReplica(answer);
  const coordinator = await fakeCoordinator([{ id: 'r1', address: replica.address, role: 'primary' }]);
  const client = await ReplicatedClient.connect({
    coordinator: coordinator.listener.address,
    clusterId,
    ...options,
  });
  opened.push(client, replica, coordinator.listener);
  return { client, replica, coordinator };
}

/** A primary and two backups, each answering with its own script. */
async function threeMembers(answers: { primary: Answer; b1: Answer; b2: Answer }, options: Timing = {}) {
  const primary = await fakeReplica(answers.primary);
  const b1 = await fakeReplica(answers.b1);
  const b2 = await fakeReplica(answers.b2);
  const coordinator = await fakeCoordinator([
    { id: 'r1', address: primary.address, role: 'primary' },
    { id: 'r2', address: b1.address, role: 'backup' },
    { id: 'r3', address: b2.address, role: 'backup' },
  ]);
  const client = await ReplicatedClient.connect({
    coordinator: coordinator.listener.address,
    clusterId,
    ...options,
  });
  opened.push(client, primary, b1, b2, coordinator.listener);
  return { client, primary, b1, b2, coordinator };
}

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (value: Uint8Array) => new TextDecoder().decode(value);
const reads = (replica: FakeReplica) => replica.of('read').length;

/** Answers the n-th request of a kind (from 0) with `script[n]`, and the rest with the last. */
function scripted(kind: ClientRequest['kind'], script: Answer[]): Answer {
  let seen = 0;
  return (request) => {
    if (request.kind !== kind) return success(1)(request);
    const answer = script[Math.min(seen, script.length - 1)];
    seen += 1;
    return answer === undefined ? null : answer(request);
  };
}

// ---- sessions and writes ----------------------------------------------------------------------

test('a new session is opened before its first write, and a settled one is reused without reopening', async () => {
  const { client, replica } = await cluster(success(1));
  await client.write(bytes('a'));
  await client.write(bytes('b'));
  const [open, ...others] = replica.of('open-session');
  assert(open !== undefined);
  assert.equal(others.length, 0, 'one session for two writes in a row');
  assert.equal(open.requestNumber, 0);
  assert.equal(replica.requests[0], open, 'the session is opened before anything is written');
  assert.deepEqual(
    replica.of('write').map((write) => [write.clientId, write.requestNumber]),
    [
      [open.clientId, 1],
      [open.clientId, 2],
    ],
  );
});

test('a write refused with NOT_PRIMARY is resent to the new primary with the same id and number', async () => {
  const { client, replica, coordinator } = await cluster(withSessions(failure('NOT_PRIMARY')));
  const successor = await fakeReplica(success(2));
  opened.push(successor);
  const first = coordinator.members[0];
  assert(first !== undefined);
  first.role = 'none';
  coordinator.members.push({ id: 'r2', address: successor.address, role: 'primary' });
  const reply = await client.write(bytes('op'));
  assert.equal(reply.view, 2);
  const [sent] = replica.of('write');
  const [resent] = successor.of('write');
  assert(sent !== undefined && resent !== undefined);
  assert.equal(resent.clientId, sent.clientId);
  assert.equal(resent.requestNumber, sent.requestNumber);
  assert.equal(sent.requestNumber, 1);
  assert.equal(successor.of('open-session').length, 0, 'the session is replicated state: not reopened');
});

test('concurrent writes hold distinct sessions; a settled session is reused with the next number', async () => {
  const { client, replica } = await cluster(success(1));
  await Promise.all([client.write(bytes('a')), client.write(bytes('b')), client.write(bytes('c'))]);
  const ids = new Set(replica.of('write').map((request) => request.clientId));
  assert.equal(ids.size, 3);
  assert.deepEqual(new Set(replica.of('open-session').map((request) => request.clientId)), ids);
  assert.deepEqual(
    replica.of('write').map((request) => request.requestNumber),
    [1, 1, 1],
  );
  const reply = await client.write(bytes('d'), { durability: 'async' });
  assert.equal(reply.durability, 'async');
  const last = replica.of('write').at(-1);
  assert(last !== undefined && ids.has(last.clientId));
  assert.equal(last.requestNumber, 2);
});

test('a refused operation rejects at once with RequestRefusedError', async () => {
  const { client, replica } = await cluster(withSessions(failure('KEY_TOO_LARGE')));
  await assert.rejects(client.write(bytes('op')), (error: unknown) => {
    assert(error instanceof RequestRefusedError);
    assert.equal(error.code, 'KEY_TOO_LARGE');
    return true;
  });
  assert.equal(replica.of('write').length, 1);
});

test('a session whose write was refused is given back: the next write uses it, with the next number', async () => {
  const { client, replica } = await cluster(scripted('write', [failure('NOT_AN_INTEGER'), success(1)]));
  await assert.rejects(client.write(bytes('incr')), RequestRefusedError);
  await client.write(bytes('put'));
  assert.equal(replica.of('open-session').length, 1, 'a refusal settles the write: no new session');
  assert.deepEqual(
    replica.of('write').map(({ clientId, requestNumber }) => [clientId, requestNumber]),
    [
      [replica.of('open-session')[0]?.clientId, 1],
      [replica.of('open-session')[0]?.clientId, 2],
    ],
  );
});

test('a durability the cluster does not know is a ConfigError, and nothing is sent', async () => {
  const { client, replica } = await cluster(success(1));
  const options = { durability: 'fast' } as unknown as WriteOptions;
  await assert.rejects(client.write(bytes('op'), options), (error: unknown) => {
    assert(error instanceof ConfigError);
    assert.match(error.message, /durability must be one of 'sync', 'replicated', 'async', got fast/);
    return true;
  });
  assert.equal(replica.requests.length, 0);
});

test('a write out of time is outcome-unknown, naming itself for request-status; its session is not reused', async () => {
  let silent = true;
  const { client, replica } = await cluster(
    withSessions((request) => (silent ? null : success(1)(request))),
    // Room for the dial, the open and a send or two on a busy machine; the attempts stay short.
    { deadlineMs: 1500, attemptTimeoutMs: 100 },
  );
  await assert.rejects(client.write(bytes('op')), (error: unknown) => {
    assert(error instanceof OutcomeUnknownError);
    const [first] = replica.of('write');
    assert(first !== undefined);
    assert.equal(error.clientId, first.clientId);
    assert.equal(error.requestNumber, first.requestNumber);
    assert.equal(error.requestId, `${first.clientId}#${first.requestNumber}`);
    assert.match(
      error.message,
      new RegExp(`understudy request-status ${error.requestId.replace('/', '\\/')}`),
    );
    assert(replica.of('write').length > 1, 'retried before giving up');
    assert(replica.of('write').every((request) => request.requestNumber === first.requestNumber));
    return true;
  });
  silent = false;
  const [unknown] = replica.of('write');
  await client.write(bytes('next'));
  const next = replica.of('write').at(-1);
  assert(unknown !== undefined && next !== undefined);
  assert.notEqual(next.clientId, unknown.clientId, 'the session of an unknown outcome stays where it is');
  assert.equal(replica.of('open-session').length, 2);
});

test('a read out of time is unavailable', async () => {
  const { client } = await cluster(
    withSessions(() => null),
    { deadlineMs: 300, attemptTimeoutMs: 100 },
  );
  await assert.rejects(client.read(bytes('op')), UnavailableError);
});

test('a write whose session cannot be opened is unavailable and was never sent', async () => {
  const { client, replica } = await cluster(() => null, { deadlineMs: 1500, attemptTimeoutMs: 100 });
  await assert.rejects(client.write(bytes('op')), (error: unknown) => {
    assert(error instanceof UnavailableError);
    assert.match(error.message, /never sent, so it never ran/);
    return true;
  });
  assert.equal(replica.of('write').length, 0);
  assert(replica.of('open-session').length > 1, 'the open was retried');
});

test('SESSION_EXPIRED after a resend is SessionExpiredError, and the next write opens a new session', async () => {
  const { client, replica } = await cluster(
    scripted('write', [() => null, failure('SESSION_EXPIRED'), success(1)]),
    { deadlineMs: 2000, attemptTimeoutMs: 100 },
  );
  await assert.rejects(client.write(bytes('op')), (error: unknown) => {
    assert(error instanceof SessionExpiredError);
    assert.equal(error.code, 'SESSION_EXPIRED');
    const [first] = replica.of('write');
    assert(first !== undefined);
    assert.equal(error.clientId, first.clientId);
    assert.equal(error.requestNumber, 1);
    assert.equal(error.requestId, `${first.clientId}#1`);
    return true;
  });
  await client.write(bytes('next'));
  const opens = replica.of('open-session');
  const writes = replica.of('write');
  assert.equal(opens.length, 2);
  assert.notEqual(opens[1]?.clientId, opens[0]?.clientId, 'an expired client id is never reopened');
  assert.equal(writes.at(-1)?.clientId, opens[1]?.clientId);
  assert.equal(writes.at(-1)?.requestNumber, 1);
});

test('a write whose only copy found no session never ran: it is sent again under a fresh session', async () => {
  const { client, replica } = await cluster(scripted('write', [failure('SESSION_EXPIRED'), success(1)]));
  const reply = await client.write(bytes('op'));
  assert.equal(text(reply.result), 'op');
  const opens = replica.of('open-session');
  const writes = replica.of('write');
  assert.equal(opens.length, 2);
  assert.equal(writes.length, 2);
  assert.equal(writes[0]?.clientId, opens[0]?.clientId);
  assert.equal(writes[1]?.clientId, opens[1]?.clientId);
  assert.notEqual(opens[0]?.clientId, opens[1]?.clientId);
});

test('close() ends a write in flight promptly', async () => {
  const { client, replica } = await cluster(
    withSessions(() => null),
    { deadlineMs: 60_000 },
  );
  const write = client.write(bytes('op'));
  // Closed once it was sent (before, it never ran: unavailable, not unknown).
  while (replica.of('write').length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  void client.close();
  await assert.rejects(write, OutcomeUnknownError);
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

// ---- request status -----------------------------------------------------------------------------

test('a request id is split at its last "#"', () => {
  assert.deepEqual(parseRequestId('0b7e/3#7'), { clientId: '0b7e/3', requestNumber: 7 });
  assert.deepEqual(parseRequestId('a#b#12'), { clientId: 'a#b', requestNumber: 12 });
  // The longest client id the cluster takes, 256 bytes (128 two-byte characters), is taken here too.
  assert.deepEqual(parseRequestId(`${'é'.repeat(128)}#1`), { clientId: 'é'.repeat(128), requestNumber: 1 });
  assert.throws(() => parseRequestId('#1'), /the client id before "#" is empty/);
});

for (const malformed of [
  '',
  'abc',
  '#1',
  'abc#',
  'abc#0',
  'abc#-1',
  'abc#1.5',
  'abc#x',
  'abc# 1',
  `${'é'.repeat(129)}#1`,
]) {
  test(`a malformed request id is a ConfigError: ${JSON.stringify(malformed.slice(0, 20))}`, async () => {
    assert.throws(() => parseRequestId(malformed), ConfigError);
    const { client, replica } = await cluster(success(1));
    await assert.rejects(client.requestStatus(malformed), (error: unknown) => {
      assert(error instanceof ConfigError);
      assert.equal(error.code, 'BAD_CONFIG');
      assert.match(error.message, /bad request id .*expected <clientId>#<requestNumber>/);
      return true;
    });
    assert.equal(replica.of('request-status').length, 0);
  });
}

test('request-status asks about the named write and maps each answer to its state', async () => {
  const answers: Record<number, ReplyBody> = {
    1: {
      ok: true,
      result: bytes('it ran'),
      view: viewNumber(4),
      index: logIndex(17),
      durability: 'sync',
      replicas: [replicaId('r1')],
    },
    2: failure('KEY_TOO_LARGE', 'key longer than 1024 bytes')(),
    3: failure('REQUEST_CANCELLED')(),
    4: failure('RESULT_FORGOTTEN')(),
    5: failure('SESSION_EXPIRED')(),
  };
  let overloadedOnce = false;
  const { client, replica } = await cluster((request) => {
    if (request.kind !== 'request-status') return null;
    if (!overloadedOnce) {
      overloadedOnce = true;
      return failure('OVERLOADED')();
    }
    return answers[request.requestNumber] ?? null;
  });
  const executed = await client.requestStatus('someone-else/0#1');
  assert(executed.state === 'executed');
  assert.equal(text(executed.result), 'it ran');
  assert.deepEqual([executed.index, executed.view], [17, 4]);
  assert.deepEqual(await client.requestStatus('someone-else/0#2'), {
    state: 'refused',
    code: 'KEY_TOO_LARGE',
    message: 'key longer than 1024 bytes',
  });
  assert.deepEqual(await client.requestStatus('someone-else/0#3'), { state: 'cancelled' });
  assert.deepEqual(await client.requestStatus('someone-else/0#4'), { state: 'forgotten' });
  assert.deepEqual(await client.requestStatus('someone-else/0#5'), { state: 'expired' });
  const asked = replica.of('request-status');
  assert.equal(asked.length, 6, 'the OVERLOADED answer was retried');
  assert(asked.every((request) => request.clientId === 'someone-else/0' && request.staleness === null));
  assert.deepEqual(
    asked.map((request) => request.requestNumber),
    [1, 1, 2, 3, 4, 5],
  );
  assert.equal(replica.of('open-session').length, 0, 'asking needs no session of its own');
});

test('request-status with no answer in time is unavailable (asking again is safe)', async () => {
  const { client } = await cluster(() => null, { deadlineMs: 300, attemptTimeoutMs: 100 });
  await assert.rejects(client.requestStatus('c/0#1'), UnavailableError);
});

// ---- reads --------------------------------------------------------------------------------------

test('reads go to the primary by default, with no staleness bound', async () => {
  const { client, primary, b1, b2 } = await threeMembers({
    primary: success(1),
    b1: success(1),
    b2: success(1),
  });
  await client.read(bytes('get'));
  await client.read(bytes('get'));
  assert.equal(reads(primary), 2);
  assert.equal(reads(b1) + reads(b2), 0);
  assert(primary.of('read').every((request) => request.staleness === null && request.requestNumber === 0));
});

test("'any' reads spread round-robin over the members, with the default bound", async () => {
  const { client, primary, b1, b2 } = await threeMembers({
    primary: success(1),
    b1: success(1),
    b2: success(1),
  });
  for (let k = 0; k < 6; k += 1) await client.read(bytes('get'), { read: 'any' });
  assert.deepEqual([reads(primary), reads(b1), reads(b2)], [2, 2, 2]);
  for (const member of [primary, b1, b2]) {
    for (const request of member.of('read')) {
      assert.deepEqual(request.staleness, { maxStalenessMs: 1000, minIndex: 0 });
    }
  }
});

test("an 'any' read answered STALE moves on to the next member", async () => {
  const { client, primary, b1, b2 } = await threeMembers({
    primary: success(1),
    b1: failure('STALE'),
    b2: success(1),
  });
  const answers: [string, number][] = [];
  for (let k = 0; k < 3; k += 1) {
    const reply = await client.read(bytes('get'), { read: 'any', maxStalenessMs: 250, minIndex: 9 });
    assert.equal(text(reply.result), 'get');
    answers.push([reply.member, reply.staleAnswers]);
  }
  // Rounds start at r1, r2, r3 in turn; the one that starts at stale r2 is answered by r3.
  assert.deepEqual([reads(primary), reads(b1), reads(b2)], [1, 1, 2]);
  // Each reply names who answered, and counts the STALE answers before it.
  assert.deepEqual(answers, [
    [primary.address, 0],
    [b2.address, 1],
    [b2.address, 0],
  ]);
  assert.deepEqual(b1.of('read')[0]?.staleness, { maxStalenessMs: 250, minIndex: 9 });
});

test('a member the view no longer names has its connection closed at the next refresh', async () => {
  const { client, b1, b2, coordinator } = await threeMembers({
    primary: scripted('read', [success(1), failure('NOT_PRIMARY'), success(1)]),
    b1: success(1),
    b2: success(1),
  });
  for (let k = 0; k < 3; k += 1) await client.read(bytes('get'), { read: 'any' });
  assert.deepEqual([b1.connections.open, b2.connections.open], [1, 1]);
  coordinator.members = coordinator.members.filter((member) => member.address !== b2.address);
  // NOT_PRIMARY: the client asks the coordinator for the view again, which no longer names r3.
  await client.read(bytes('get'));
  const deadline = Date.now() + 10_000;
  while (b2.connections.open > 0 && Date.now() < deadline) await new Promise((go) => setTimeout(go, 10));
  assert.deepEqual([b1.connections.open, b2.connections.open], [1, 0]);
});

test("an 'any' read that finds every member stale asks the coordinator again and goes on", async () => {
  const fresh = await fakeReplica(success(1));
  let coordinator: FakeCoordinator | undefined;
  const stale = await fakeReplica(() => {
    // Meanwhile the view moved on: the coordinator now names another backup.
    coordinator?.members.splice(0, 1, { id: 'r3', address: fresh.address, role: 'backup' });
    return failure('STALE')();
  });
  coordinator = await fakeCoordinator([{ id: 'r2', address: stale.address, role: 'backup' }]);
  const client = await ReplicatedClient.connect({ coordinator: coordinator.listener.address, clusterId });
  opened.push(client, stale, fresh, coordinator.listener);
  const askedBefore = coordinator.asked.count;
  const reply = await client.read(bytes('get'), { read: 'any' });
  assert.equal(text(reply.result), 'get');
  assert.equal(reads(stale), 1);
  assert.equal(reads(fresh), 1);
  assert(coordinator.asked.count > askedBefore, 'the members were asked for again after a round');
});

test("an 'any' read from a silent member moves on within the attempt timeout", async () => {
  const { client, b1, b2 } = await threeMembers(
    { primary: success(1), b1: () => null, b2: success(1) },
    { deadlineMs: 5000, attemptTimeoutMs: 100 },
  );
  await client.read(bytes('get'), { read: 'any' }); // r1
  // r2, silent, then r3: had it waited on r2 for the deadline, the read would be unavailable.
  await client.read(bytes('get'), { read: 'any' });
  assert.equal(reads(b1), 1);
  assert.equal(reads(b2), 1);
});

test("a refusal by the service at a backup ends an 'any' read at once", async () => {
  const { client, primary, b1, b2 } = await threeMembers({
    primary: success(1),
    b1: failure('BAD_REQUEST'),
    b2: failure('BAD_REQUEST'),
  });
  await client.read(bytes('get'), { read: 'any' }); // r1
  await assert.rejects(client.read(bytes('get'), { read: 'any' }), RequestRefusedError);
  assert.equal(reads(primary) + reads(b1) + reads(b2), 2);
});

test("an 'any' read with preferMember asks that member first, every time, and the next one when it is stale", async () => {
  let b1Stale = false;
  const { client, primary, b1, b2 } = await threeMembers({
    primary: success(1),
    b1: (request) => (b1Stale ? failure('STALE')() : success(1)(request)),
    b2: success(1),
  });
  const members: string[] = [];
  for (let k = 0; k < 4; k += 1) {
    members.push((await client.read(bytes('get'), { read: 'any', preferMember: b1.address })).member);
  }
  assert.deepEqual(members, [b1.address, b1.address, b1.address, b1.address]);
  b1Stale = true;
  const moved = await client.read(bytes('get'), { read: 'any', preferMember: b1.address });
  assert.equal(moved.member, b2.address, 'the member after the preferred one answered');
  assert.equal(moved.staleAnswers, 1);
  // A member the coordinator does not name is no preference: the reads go round as usual.
  const unnamed = await client.read(bytes('get'), { read: 'any', preferMember: '127.0.0.1:1' });
  assert.equal(unnamed.member, primary.address);
  assert.deepEqual([reads(primary), reads(b1), reads(b2)], [1, 5, 1]);
});

test('readYourWrites asks for the highest index a write reply named', async () => {
  const { client, primary, b1 } = await threeMembers({
    primary: success(1, 41),
    b1: success(1),
    b2: success(1),
  });
  const written = await client.write(bytes('put'));
  assert.equal(written.index, 42);
  await client.read(bytes('get'), { read: 'any', readYourWrites: true }); // r1
  await client.read(bytes('get'), { read: 'any', readYourWrites: true, minIndex: 50 }); // r2
  assert.deepEqual(primary.of('read')[0]?.staleness, { maxStalenessMs: 1000, minIndex: 42 });
  assert.deepEqual(b1.of('read')[0]?.staleness, { maxStalenessMs: 1000, minIndex: 50 });
});

const badReadOptions: readonly (readonly [string, ReadOptions, RegExp])[] = [
  [
    'a negative staleness',
    { read: 'any', maxStalenessMs: -1 },
    /maxStalenessMs must be a non-negative integer/,
  ],
  ['a fractional staleness', { read: 'any', maxStalenessMs: 1.5 }, /maxStalenessMs must be/],
  [
    'an infinite staleness',
    { read: 'any', maxStalenessMs: Number.POSITIVE_INFINITY },
    /maxStalenessMs must be/,
  ],
  ['a negative index', { read: 'any', minIndex: -3 }, /minIndex must be a non-negative integer/],
  [
    'read-your-writes that is no boolean',
    { read: 'any', readYourWrites: 'yes' } as unknown as ReadOptions,
    /readYourWrites must be a boolean, got "yes"/,
  ],
  ['a NaN index', { read: 'any', minIndex: Number.NaN }, /minIndex must be/],
  ['a bound on a primary read', { maxStalenessMs: 10 }, /maxStalenessMs applies to read: 'any' only/],
  ['an index on a primary read', { read: 'primary', minIndex: 3 }, /minIndex applies to read: 'any' only/],
  [
    'a preferred member on a primary read',
    { preferMember: '127.0.0.1:7000' },
    /preferMember applies to read: 'any' only/,
  ],
  [
    'a preferred member that is not an address',
    { read: 'any', preferMember: 7000 } as unknown as ReadOptions,
    /preferMember must be a member's address/,
  ],
  ['an unknown place', { read: 'nearest' } as unknown as ReadOptions, /read must be 'primary' or 'any'/],
];

for (const [name, options, message] of badReadOptions) {
  test(`read options with ${name} are a ConfigError, and nothing is sent`, async () => {
    const { client, replica } = await cluster(success(1));
    await assert.rejects(client.read(bytes('get'), options), (error: unknown) => {
      assert(error instanceof ConfigError);
      assert.match(error.message, message);
      return true;
    });
    assert.equal(replica.requests.length, 0);
  });
}

test('many calls waiting in retry back-off at once raise no listener-leak warning', async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.name);
  process.on('warning', onWarning);
  // The primary answers every write NOT_PRIMARY: each call backs off and retries until its deadline.
  const { client } = await cluster(withSessions(failure('NOT_PRIMARY')), { deadlineMs: 400 });
  try {
    const calls = Array.from({ length: 20 }, (_, number) => client.write(new Uint8Array([number])));
    const settled = await Promise.allSettled(calls);
    assert.ok(settled.every((outcome) => outcome.status === 'rejected'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, []);
  } finally {
    process.off('warning', onWarning);
  }
});
