// ReplicatedClient.saveSnapshot against a scripted primary: a chunk lost with its connection, or
// damaged on the way, is read again from where the file stands, without asking for another save;
// a primary that keeps failing the same chunk makes the attempt start over, until the deadline.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { ReplicatedClient, type SnapshotSaveSink } from '../../src/client/index.js';
import { UnavailableError } from '../../src/errors.js';
import { logIndex, type SnapshotInfo, viewNumber } from '../../src/protocol/types.js';
import { listen, type MessageConnection, parseSaveClientMessage } from '../../src/transport/index.js';
import { clusterId, fakeCoordinator } from './client-fake-cluster.js';

const mebibyte = 1024 * 1024;
const file = Uint8Array.from({ length: 2.5 * mebibyte }, (_, i) => (i * 31 + (i >> 12)) & 0xff);
const snapshot: SnapshotInfo = {
  position: { view: viewNumber(1), index: logIndex(42) },
  sizeBytes: file.length,
  checksum: 7,
};

/**
 * How the scripted primary treats a read: answer it, cut the connection, or answer with one byte
 * flipped under the checksum of the true bytes (`damage`), with the bytes of the next offset
 * (`misplace`), or with the chunk's first half under that half's own checksum (`short`).
 */
type ReadScript = (offset: number, connection: number) => 'answer' | 'cut' | 'damage' | 'misplace' | 'short';

/**
 * A primary that names `snapshot` to every save (or, `silent`, never answers one, as a primary that
 * cannot keep its snapshot) and serves `file` by the script; it counts what it got.
 */
async function scriptedPrimary(script: ReadScript, { replica = 'r1', silent = false } = {}) {
  const seen = { requests: 0, connections: 0, reads: [] as number[] };
  const listener = await listen({
    host: '127.0.0.1',
    port: 0,
    clusterId,
    frameSizeMaxBytes: 4 * mebibyte,
    onConnection: (_peer, connection: MessageConnection) => {
      const number = ++seen.connections;
      connection.onMessage = (raw) => {
        const message = parseSaveClientMessage(raw);
        if (message.type === 'save_request') {
          seen.requests += 1;
          if (silent) return;
          const service = { name: 'understudy-kv', version: 1 };
          connection.send({ type: 'save_ready', id: message.id, snapshot, service, replica });
          return;
        }
        seen.reads.push(message.offset);
        const action = script(message.offset, number);
        if (action === 'cut') {
          connection.destroy();
          return;
        }
        const offset = action === 'misplace' ? message.offset + 1 : message.offset;
        const length = Math.min(message.length, mebibyte);
        const bytes = file.slice(offset, offset + (action === 'short' ? length / 2 : length));
        const checksum = crc32(bytes);
        if (action === 'damage') bytes[0] = (bytes[0] ?? 0) ^ 1;
        connection.send({ type: 'save_chunk', id: message.id, offset, bytes, checksum });
      };
    },
  });
  return { listener, seen };
}

/** A sink in memory: what was begun, and the bytes written since. */
function memorySink() {
  const sink = { begun: 0, chunks: [] as Uint8Array[] };
  const methods: SnapshotSaveSink = {
    begin: async () => {
      sink.begun += 1;
      sink.chunks = [];
    },
    write: async (bytes) => {
      sink.chunks.push(bytes);
    },
  };
  return { sink, methods };
}

async function withPrimary(
  script: ReadScript,
  body: (
    client: ReplicatedClient,
    seen: Awaited<ReturnType<typeof scriptedPrimary>>['seen'],
  ) => Promise<void>,
): Promise<void> {
  const { listener, seen } = await scriptedPrimary(script);
  const coordinator = await fakeCoordinator([{ id: 'r1', address: listener.address, role: 'primary' }]);
  const client = await ReplicatedClient.connect({ coordinator: coordinator.listener.address, clusterId });
  try {
    await body(client, seen);
  } finally {
    await client.close();
    await coordinator.listener.close();
    await listener.close();
  }
}

test('a save whose connection is cut mid-file reads on from where the file stands, under the same save', () =>
  withPrimary(
    (offset, connection) => (offset === mebibyte && connection === 1 ? 'cut' : 'answer'),
    async (client, seen) => {
      const { sink, methods } = memorySink();
      const ready = await client.saveSnapshot(methods);
      assert.deepEqual(ready.snapshot, snapshot);
      assert.equal(seen.requests, 1, 'the save was asked once');
      assert.equal(sink.begun, 1, 'the file was begun once');
      assert.deepEqual(Buffer.concat(sink.chunks), Buffer.from(file));
      assert.equal(seen.connections, 2);
      assert.ok(
        seen.reads.filter((offset) => offset === mebibyte).length >= 2,
        'the lost chunk was asked again',
      );
    },
  ));

for (const fault of ['damage', 'misplace', 'short'] as const) {
  test(`a chunk that arrives wrong (${fault}) is asked for again, and never written`, () => {
    let done = false;
    return withPrimary(
      (offset) => {
        if (offset !== mebibyte || done) return 'answer';
        done = true;
        return fault;
      },
      async (client, seen) => {
        const { sink, methods } = memorySink();
        await client.saveSnapshot(methods);
        assert.equal(seen.requests, 1);
        assert.deepEqual(Buffer.concat(sink.chunks), Buffer.from(file));
        assert.equal(seen.reads.filter((offset) => offset === mebibyte).length, 2, 'asked again once');
      },
    );
  });
}

test('a chunk that keeps failing ends the attempt: the save starts over, then gives up at its deadline', () =>
  withPrimary(
    (offset) => (offset === mebibyte ? 'cut' : 'answer'),
    async (client, seen) => {
      const { methods } = memorySink();
      // Room for two attempts of 2.5 MiB on a busy machine.
      await assert.rejects(client.saveSnapshot(methods, { deadlineMs: 4000 }), UnavailableError);
      assert.ok(seen.requests >= 2, `the save was asked again (${seen.requests} times)`);
    },
  ));

test('a save waiting on a primary the coordinator replaced asks the new one, without waiting out the old', async () => {
  const stuck = await scriptedPrimary(() => 'answer', { replica: 'r1', silent: true });
  const next = await scriptedPrimary(() => 'answer', { replica: 'r2' });
  const coordinator = await fakeCoordinator([
    { id: 'r1', address: stuck.listener.address, role: 'primary' },
    { id: 'r2', address: next.listener.address, role: 'backup' },
  ]);
  const client = await ReplicatedClient.connect({ coordinator: coordinator.listener.address, clusterId });
  try {
    const { sink, methods } = memorySink();
    // A deadline far below the 65 s an attempt may wait for its answer: only asking the coordinator meets it.
    const saving = client.saveSnapshot(methods, { deadlineMs: 10_000 });
    await waitUntil(() => stuck.seen.requests === 1);
    coordinator.members = [
      { id: 'r1', address: stuck.listener.address, role: 'none', alive: false },
      { id: 'r2', address: next.listener.address, role: 'primary' },
    ];
    const ready = await saving;
    assert.equal(ready.replica, 'r2');
    assert.equal(next.seen.requests, 1);
    assert.deepEqual(Buffer.concat(sink.chunks), Buffer.from(file));
  } finally {
    await client.close();
    await coordinator.listener.close();
    await stuck.listener.close();
    await next.listener.close();
  }
});

/** Resolves once `condition` holds, checking every 10 ms (the save under test runs meanwhile). */
async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}
