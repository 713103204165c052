// The client commands' output against scripted fake servers (the real `understudy` process, a fake
// coordinator and fake replicas in this one): status shows snapshots, sessions, snapshot transfers
// and async losses (and all of it with --json); request-status prints what became of a write, with
// its exit status; get --any passes its bound; a write out of time prints its request id and the
// command that asks about it.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ClientRequest } from '../../src/protocol/messages.js';
import { logIndex, replicaId, viewNumber } from '../../src/protocol/types.js';
import { encodeResult, encodeSequenceResult, type KvResult } from '../../src/state-machine/index.js';
import {
  type Answer,
  clusterId,
  type FakeCoordinator,
  type FakeReplica,
  failure,
  fakeCoordinator,
  fakeReplica,
  type ReplyBody,
  withSessions,
} from './client-fake-cluster.js';

const cli = fileURLToPath(new URL('../../../bin/understudy.js', import.meta.url));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

const bytes = (text: string) => new TextEncoder().encode(text);

const okReply = (result: Uint8Array, index = 17): ReplyBody => ({
  ok: true,
  result,
  view: viewNumber(1),
  index: logIndex(index),
  durability: 'sync',
  replicas: [replicaId('r1')],
});
const kvReply = (result: KvResult): ReplyBody => okReply(encodeResult(result));

/** One primary with `answer`, a backup and a learner receiving a snapshot; `run` talks to them. */
async function withCluster(
  answer: Answer,
  body: (cluster: {
    primary: FakeReplica;
    coordinator: FakeCoordinator;
    understudy: (...args: string[]) => Promise<Run>;
  }) => Promise<void>,
): Promise<void> {
  const primary = await fakeReplica(answer);
  const coordinator = await fakeCoordinator([
    { id: 'r1', address: primary.address, role: 'primary', snapshotIndex: 4096, sessions: 17 },
    { id: 'r2', address: '127.0.0.1:1', role: 'backup', alive: false, sessions: 17 },
    {
      id: 'r3',
      address: '127.0.0.1:2',
      role: 'learner',
      transfer: {
        snapshot: {
          position: { view: viewNumber(1), index: logIndex(4096) },
          sizeBytes: 210_000_000,
          checksum: 7,
        },
        receivedBytes: 42_118,
        bytesPerSecond: 105_000_000,
      },
    },
  ]);
  const flags = ['--coordinator', coordinator.listener.address, '--cluster-id', clusterId];
  try {
    await body({ primary, coordinator, understudy: (...args) => run(...args, ...flags) });
  } finally {
    await primary.close();
    await coordinator.listener.close();
  }
}

test('status shows snapshot index, sessions and transfers, and async writes lost when there are any', async () => {
  await withCluster(
    () => null,
    async ({ coordinator, understudy }) => {
      const quiet = await understudy('status');
      assert.equal(quiet.code, 0, quiet.stderr);
      const lines = quiet.stdout.trimEnd().split('\n');
      assert.match(
        lines[1] ?? '',
        /^ID +ADDRESS +ROLE +ALIVE +DURABLE +BEHIND +APPLIED +COMMIT +SNAPSHOT +SESSIONS$/,
      );
      assert.match(lines[2] ?? '', /^r1 .* primary .* 4096 +17$/);
      assert.match(lines[4] ?? '', /^r3 .* learner .* - +0$/);
      assert.equal(lines[5], 'r3  receiving snapshot 42,118 of 210,000,000 bytes  0%  105 MB/s  2.0 s left');
      assert.doesNotMatch(quiet.stdout, /async writes lost/);

      assert.doesNotMatch(
        quiet.stdout,
        /format level/,
        'every replica reads what the cluster logs: nothing to say',
      );

      coordinator.asyncLost = 3;
      const lossy = await understudy('status');
      assert.match(lossy.stdout, /\nasync writes lost in failovers: 3\n$/);

      // Half way through a rolling upgrade: r3 still on the older build.
      const r3 = coordinator.members[2];
      assert.ok(r3 !== undefined);
      r3.formatLevel = 1;
      coordinator.formatLevel = 1;
      const upgrading = await understudy('status');
      assert.match(upgrading.stdout, /\nformat level 1 \(r1 reads 2, r2 reads 2, r3 reads 1\)\n/);
      delete r3.formatLevel;
      coordinator.formatLevel = 2;

      // Replicas that serve Redis ports: a column says where Redis clients dial each.
      const [r1, r2] = coordinator.members;
      assert.ok(r1 !== undefined && r2 !== undefined);
      r1.redisAddress = '127.0.0.1:6379';
      r2.redisAddress = '127.0.0.1:6380';
      const redis = (await understudy('status')).stdout.split('\n');
      assert.match(redis[1] ?? '', /^ID +ADDRESS +REDIS +ROLE +ALIVE +DURABLE /);
      assert.match(redis[2] ?? '', /^r1 +\S+ +127\.0\.0\.1:6379 +primary /);
      assert.match(redis[3] ?? '', /^r2 +127\.0\.0\.1:1 +127\.0\.0\.1:6380 +backup /);
      assert.match(redis[4] ?? '', /^r3 +127\.0\.0\.1:2 +- +learner /, 'r3 serves none');
      delete r1.redisAddress;
      delete r2.redisAddress;

      const json = await understudy('status', '--json');
      assert.equal(json.code, 0, json.stderr);
      const status = JSON.parse(json.stdout) as {
        asyncLost: number;
        replicas: {
          id: string;
          snapshotIndex: number;
          sessions: number;
          transfer: { receivedBytes: number } | null;
        }[];
      };
      assert.equal(status.asyncLost, 3);
      assert.deepEqual(
        status.replicas.map((replica) => [replica.id, replica.snapshotIndex, replica.sessions]),
        [
          ['r1', 4096, 17],
          ['r2', 0, 17],
          ['r3', 0, 0],
        ],
      );
      assert.equal(status.replicas[2]?.transfer?.receivedBytes, 42_118);
    },
  );
});

test('request-status prints what became of the write, exit 0 only if it ran', async () => {
  const answers: Record<number, ReplyBody> = {
    1: kvReply({ kind: 'put', existed: false }),
    2: kvReply({ kind: 'append', length: 4 }),
    3: failure('REQUEST_CANCELLED')(),
    4: failure('RESULT_FORGOTTEN')(),
    5: failure('SESSION_EXPIRED')(),
    6: failure('VALUE_TOO_LARGE', 'value longer than 1048576 bytes')(),
    7: okReply(bytes('not msgpack of a kv result')),
    8: okReply(
      encodeSequenceResult([
        { ok: true, result: encodeResult({ kind: 'incr', value: 42 }) },
        { ok: false, code: 'NOT_AN_INTEGER', message: 'incr: the value "x" is not a decimal safe integer' },
      ]),
    ),
  };
  const answer: Answer = (request: ClientRequest) =>
    request.kind === 'request-status' ? (answers[request.requestNumber] ?? null) : null;
  await withCluster(answer, async ({ primary, understudy }) => {
    const expected: [string, number, RegExp][] = [
      ['c/0#1', 0, /^executed at index 17 \(answered in view 1\): put created\n$/],
      ['c/0#2', 0, /^executed at index 17 \(answered in view 1\): append length 4\n$/],
      ['c/0#3', 1, /^cancelled: it had not run; asking cancelled it, so it never will\n$/],
      ['c/0#4', 1, /^forgotten: /],
      ['c/0#5', 1, /^expired: /],
      ['c/0#6', 1, /^refused: VALUE_TOO_LARGE: value longer than 1048576 bytes\n$/],
      ['c/0#7', 0, /not a key\/value result \(base64 bm90IG1zZ3BhY2sgb2YgYSBrdiByZXN1bHQ=\)/],
      [
        'c/0#8',
        0,
        /: a sequence of 2: incr 42; NOT_AN_INTEGER: incr: the value "x" is not a decimal safe integer\n$/,
      ],
    ];
    for (const [id, code, output] of expected) {
      const result = await understudy('request-status', id);
      assert.equal(result.code, code, `${id}: ${result.stderr}`);
      assert.match(result.stdout, output, id);
    }
    assert.deepEqual(
      primary.of('request-status').map((request) => [request.clientId, request.requestNumber]),
      expected.map((_, k) => ['c/0', k + 1]),
    );

    const executed = await understudy('request-status', 'c/0#2', '--json');
    assert.deepEqual(JSON.parse(executed.stdout), {
      requestId: 'c/0#2',
      state: 'executed',
      index: 17,
      view: 1,
      result: { kind: 'append', length: 4 },
    });
    const sequence = await understudy('request-status', 'c/0#8', '--json');
    assert.deepEqual(JSON.parse(sequence.stdout).outcomes, [
      { ok: true, result: { kind: 'incr', value: 42 } },
      { ok: false, code: 'NOT_AN_INTEGER', message: 'incr: the value "x" is not a decimal safe integer' },
    ]);
    const cancelled = await understudy('request-status', 'c/0#3', '--json');
    assert.equal(cancelled.code, 1);
    assert.deepEqual(JSON.parse(cancelled.stdout), { requestId: 'c/0#3', state: 'cancelled' });
  });
});

test('get --any sends its staleness bound and prints the value', async () => {
  await withCluster(
    (request) => (request.kind === 'read' ? kvReply({ kind: 'get', value: bytes('v1') }) : null),
    async ({ primary, understudy }) => {
      const bounded = await understudy('get', 'k', '--any', '--max-staleness', '250', '--min-index', '7');
      assert.equal(bounded.code, 0, bounded.stderr);
      assert.equal(bounded.stdout, 'v1\n');
      const plain = await understudy('get', 'k', '--any');
      assert.equal(plain.code, 0, plain.stderr);
      const linearizable = await understudy('get', 'k');
      assert.equal(linearizable.code, 0, linearizable.stderr);
      assert.deepEqual(
        primary.of('read').map((request) => request.staleness),
        [{ maxStalenessMs: 250, minIndex: 7 }, { maxStalenessMs: 1000, minIndex: 0 }, null],
      );
    },
  );
});

test('a write out of time prints its request id and how to ask whether it ran', async () => {
  await withCluster(
    withSessions(() => null),
    async ({ primary, coordinator, understudy }) => {
      const result = await understudy('put', 'k', 'v', '--timeout', '400');
      assert.equal(result.code, 1, result.stderr);
      assert.equal(result.stdout, '');
      const [write] = primary.of('write');
      assert(write !== undefined);
      const id = `${write.clientId}#${write.requestNumber}`;
      const lines = result.stderr.trimEnd().split('\n');
      assert.match(lines[0] ?? '', /^error: OUTCOME_UNKNOWN: write .* it may or may not have run/);
      assert.equal(lines[1], `request id: ${id}`);
      assert.equal(
        lines[2],
        `to ask whether it ran: understudy request-status ${id} --coordinator ${coordinator.listener.address} --cluster-id ${clusterId}`,
      );
    },
  );
});

test('a write asks for the durability of --durability (or --async), and prints the one reached', async () => {
  await withCluster(
    withSessions((request) =>
      request.kind === 'write'
        ? { ...kvReply({ kind: 'put', existed: false }), durability: request.durability }
        : null,
    ),
    async ({ primary, understudy }) => {
      const replicated = await understudy('put', 'k', 'v', '--durability', 'replicated');
      assert.equal(replicated.code, 0, replicated.stderr);
      assert.match(replicated.stdout, /^created \(view 1, index 17, replicated on r1\)\n$/);
      assert.equal((await understudy('put', 'k', 'v', '--async')).code, 0);
      assert.equal((await understudy('put', 'k', 'v')).code, 0);
      assert.deepEqual(
        primary.of('write').map((request) => request.durability),
        ['replicated', 'async', 'sync'],
      );
    },
  );
});
