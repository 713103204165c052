// A replica shell's part of a snapshot save (snapshot-saves.ts): who may save, waiting for a kept
// snapshot that reaches the index the core named, refusing when it cannot come, and serving the
// file's chunks under the client's call ids.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { createLogger } from '../../src/node/logger.js';
import { type SaveConnection, SnapshotSaves, saveReadKeepsMs } from '../../src/node/snapshot-saves.js';
import { SnapshotServer, saveReadWaitMaxMs } from '../../src/node/snapshot-transfer.js';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import type { SaveReply } from '../../src/protocol/messages.js';
import type { SaveAnswer } from '../../src/protocol/replica.js';
import { logIndex, type Role, replicaId, type SnapshotInfo, viewNumber } from '../../src/protocol/types.js';
import type { Principal } from '../../src/transport/index.js';

const silent = createLogger({ level: 'silent' });
const service = { name: 'understudy-kv', version: 1 };
const snapshotAt = (index: number, bytes = 10): SnapshotInfo => ({
  position: { view: viewNumber(2), index: logIndex(index) },
  sizeBytes: bytes,
  checksum: 7,
});

class Connection implements SaveConnection {
  readonly sent: SaveReply[] = [];
  isClosed = false;
  send(message: object): void {
    this.sent.push(message as SaveReply);
  }
}

/** A shell with a core that answers `answer`, a store whose newest kept snapshot the test sets, and a clock it moves. */
function shell(answer: SaveAnswer = { ok: true, index: logIndex(40) }) {
  const state = {
    kept: snapshotAt(30) as SnapshotInfo | null,
    role: 'primary' as Role,
    now: 0,
    asked: 0,
    file: Uint8Array.from({ length: 10 }, (_, i) => i + 1),
  };
  const server = new SnapshotServer(
    {
      has: (info) => state.kept !== null && info.position.index === state.kept.position.index,
      readChunk: async (_info, offset, length) => state.file.slice(offset, offset + length),
    },
    () => assert.fail('no learner here'),
    0,
    silent,
  );
  const saves = new SnapshotSaves({
    replica: replicaId('r1'),
    service,
    requestSave: () => {
      state.asked += 1;
      return answer;
    },
    role: () => state.role,
    newestKept: () => state.kept,
    server,
    scheduleFlush: () => {},
    logger: silent,
    waitMs: 1000,
    clock: () => state.now,
  });
  return { state, saves };
}

const client: Principal = { role: 'client', name: 'app' };
const admin: Principal = { role: 'admin', name: 'ops' };

test('a save is answered once a kept snapshot reaches the index the core named, with the service and replica', () => {
  const { state, saves } = shell();
  const connection = new Connection();
  saves.onMessage(connection, admin, { type: 'save_request', id: 5 });
  assert.deepEqual(connection.sent, [], 'the kept snapshot (30) is older than the log end (40)');
  state.kept = snapshotAt(39);
  saves.tick();
  assert.deepEqual(connection.sent, []);
  state.kept = snapshotAt(41);
  saves.tick();
  saves.tick();
  assert.deepEqual(connection.sent, [
    { type: 'save_ready', id: 5, snapshot: snapshotAt(41), service, replica: replicaId('r1') },
  ]);
});

test('a save is refused when the token is not an admin, when the core refuses, when the primary changes and past the wait', () => {
  const byClient = shell();
  const connection = new Connection();
  byClient.saves.onMessage(connection, client, { type: 'save_request', id: 1 });
  assert.equal(byClient.state.asked, 0, 'the core never hears of it');
  assert.deepEqual(
    connection.sent.map((reply) => (reply.type === 'save_refused' ? reply.code : reply.type)),
    [ErrorCode.notAuthorized],
  );

  const atBackup = shell({
    ok: false,
    code: ErrorCode.notPrimary,
    message: 'not the primary',
    primary: replicaId('r2'),
  });
  atBackup.saves.onMessage(connection, null, { type: 'save_request', id: 2 });
  assert.deepEqual(connection.sent.at(-1), {
    type: 'save_refused',
    id: 2,
    code: ErrorCode.notPrimary,
    message: 'not the primary',
    primary: replicaId('r2'),
  });

  const deposed = shell();
  deposed.saves.onMessage(connection, null, { type: 'save_request', id: 3 });
  deposed.state.role = 'backup';
  deposed.saves.tick();
  const refused = connection.sent.at(-1);
  assert.ok(refused?.type === 'save_refused' && refused.id === 3 && refused.code === ErrorCode.notPrimary);

  const stuck = shell();
  stuck.saves.onMessage(connection, null, { type: 'save_request', id: 4 });
  stuck.state.now = 1000;
  stuck.saves.tick();
  assert.equal(connection.sent.at(-1)?.id, 3, 'still waiting at the deadline itself');
  stuck.state.now = 1001;
  stuck.saves.tick();
  const late = connection.sent.at(-1);
  assert.ok(
    late?.type === 'save_refused' && late.id === 4 && late.code === ErrorCode.unavailable,
    JSON.stringify(late),
  );
  stuck.state.kept = snapshotAt(50);
  stuck.saves.tick();
  assert.equal(connection.sent.filter((reply) => reply.id === 4).length, 1, 'answered once');
});

test("a save's reads are served under their call ids, checked, and refused for a replaced snapshot or an offset past its end", async () => {
  const { state, saves } = shell();
  const connection = new Connection();
  const snapshot = snapshotAt(30);
  saves.onMessage(connection, admin, { type: 'save_read', id: 9, snapshot, offset: 4, length: 100 });
  await new Promise<void>((resolve) => setImmediate(resolve));
  const chunk = state.file.slice(4);
  assert.deepEqual(connection.sent, [
    { type: 'save_chunk', id: 9, offset: 4, bytes: chunk, checksum: crc32(chunk) },
  ]);

  saves.onMessage(connection, admin, { type: 'save_read', id: 10, snapshot, offset: 11, length: 1 });
  const past = connection.sent.at(-1);
  assert.ok(past?.type === 'save_refused' && past.code === ErrorCode.badRequest, JSON.stringify(past));

  state.kept = snapshotAt(60);
  saves.onMessage(connection, admin, { type: 'save_read', id: 11, snapshot, offset: 0, length: 10 });
  await new Promise<void>((resolve) => setImmediate(resolve));
  const gone = connection.sent.at(-1);
  assert.ok(
    gone?.type === 'save_refused' && gone.id === 11 && gone.code === ErrorCode.snapshotGone,
    JSON.stringify(gone),
  );

  saves.onMessage(connection, client, {
    type: 'save_read',
    id: 12,
    snapshot: snapshotAt(60),
    offset: 0,
    length: 10,
  });
  const unauthorized = connection.sent.at(-1);
  assert.ok(unauthorized?.type === 'save_refused' && unauthorized.code === ErrorCode.notAuthorized);
});

test('the snapshots saves read are named to the store to keep on, until no save asked for a chunk of one for a minute', () => {
  const { state, saves } = shell();
  const connection = new Connection();
  const read = (snapshot: SnapshotInfo, id: number, offset: number) =>
    saves.onMessage(connection, admin, { type: 'save_read', id, snapshot, offset, length: 4 });
  assert.deepEqual(saves.beingRead(), []);
  read(snapshotAt(30), 1, 0);
  state.now += saveReadKeepsMs / 2;
  read(snapshotAt(50), 2, 0);
  assert.deepEqual(saves.beingRead(), [snapshotAt(30).position, snapshotAt(50).position]);
  state.now += saveReadKeepsMs / 2;
  read(snapshotAt(30), 3, 4);
  state.now += saveReadKeepsMs / 2 + 1;
  assert.deepEqual(saves.beingRead(), [snapshotAt(30).position], 'the save of 50 stopped asking');
  read(snapshotAt(30), 4, 8);
  saves.onMessage(connection, client, {
    type: 'save_read',
    id: 5,
    snapshot: snapshotAt(70),
    offset: 0,
    length: 4,
  });
  read({ ...snapshotAt(80), sizeBytes: 4 }, 6, 5);
  assert.deepEqual(saves.beingRead(), [snapshotAt(30).position], 'refused reads keep nothing');
  state.now += saveReadKeepsMs + 1;
  assert.deepEqual(saves.beingRead(), []);
});

/** A source of a 64-byte snapshot at pace 0, recording what it served to whom, on a clock the test moves. */
function servingSource() {
  const file = Uint8Array.from({ length: 64 }, (_, i) => i);
  const served: string[] = [];
  const clock = { now: 0 };
  const server = new SnapshotServer(
    { has: () => true, readChunk: async (_info, offset, length) => file.slice(offset, offset + length) },
    (to, message) => {
      if (message.type === 'snapshot_chunk') served.push(`${to}@${message.offset}`);
    },
    0,
    silent,
    undefined,
    () => clock.now,
  );
  const snapshot = snapshotAt(30, file.length);
  const read = (offset: number) => ({ type: 'snapshot_read' as const, snapshot, offset, length: 8 });
  const save = (name: string) => ({
    kind: 'save' as const,
    asker: { name },
    reply: (message: { type: string; offset?: number }) => {
      if (message.type === 'snapshot_chunk') served.push(`${name}@${message.offset}`);
    },
  });
  const learner = { kind: 'learner' as const, id: replicaId('r3') };
  const servedCount = async (count: number) => {
    while (served.length < count) await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  return { server, served, clock, read, save, learner, servedCount };
}

test("a learner's reads are served before the saves' queued ahead of them", async () => {
  const { server, served, read, save, learner, servedCount } = servingSource();
  const saving = save('save');
  for (const offset of [0, 8, 16]) server.onRead(saving, read(offset));
  for (const offset of [0, 8]) server.onRead(learner, read(offset));
  await servedCount(5);
  // The first save read was being served when the learner asked; the learner's go next.
  assert.deepEqual(served, ['save@0', 'r3@0', 'r3@8', 'save@8', 'save@16']);
  server.close();
});

test("a read asked again while the first waits is served once; a save's read that waited 30 s is dropped", async () => {
  const { server, served, clock, read, save, learner, servedCount } = servingSource();
  const [a, b, c] = [save('a'), save('b'), save('c')];
  server.onRead(a, read(0)); // served at once
  server.onRead(a, read(8));
  server.onRead(a, read(8)); // asked again: one is enough
  server.onRead(b, read(8)); // another save's
  server.onRead(learner, read(0));
  server.onRead(learner, read(0));
  await servedCount(4);
  assert.deepEqual(served, ['a@0', 'r3@0', 'a@8', 'b@8']);
  served.length = 0;
  server.onRead(b, read(16)); // served at once
  server.onRead(a, read(24));
  clock.now += saveReadWaitMaxMs + 1; // a has asked again or given up by now
  server.onRead(c, read(32));
  await servedCount(2);
  assert.deepEqual(served, ['b@16', 'c@32']);
  server.close();
});
