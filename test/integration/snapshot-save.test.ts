// `understudy snapshot save` and `snapshot restore` against real processes: a snapshot saved while
// writes go on holds every write acknowledged before the save began and none begun after it ended,
// and a cluster started from it (`understudy start --restore`) serves exactly that state.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { Client } from '../../src/client/index.js';
import { keyValueStoreOfSnapshot, textValueOf } from '../../src/state-machine/index.js';
import { readSavedSnapshot } from '../../src/storage/saved-snapshot.js';
import { LocalCluster, runCli, startOnFreePorts, waitFor } from './harness.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A key's value in the store a saved snapshot holds, or null. */
function savedStore(file: string): (key: string) => string | null {
  const store = keyValueStoreOfSnapshot(readSavedSnapshot(file).payload);
  return (key) => textValueOf(store, key);
}

interface Write {
  readonly value: string;
  readonly startedAtMs: number;
  readonly ackedAtMs: number;
  readonly index: number;
}

test('a snapshot saved under load holds every acknowledged write, and a cluster restored from it serves them', async (t) => {
  // A small threshold: the primary has taken snapshots of its own before the save asks for one.
  const cluster = await LocalCluster.start(3, ['--snapshot-log-bytes', '32768']);
  t.after(() => cluster.close());
  const client = await cluster.client();

  const writes = new Map<string, Write>();
  let writing = true;
  const writer = async (number: number) => {
    for (let n = 0; writing; n++) {
      const key = `w${number}-${n}`;
      const value = `${key}:${'x'.repeat(100)}`;
      const startedAtMs = performance.now();
      const { index } = await client.put(encoder.encode(key), encoder.encode(value));
      writes.set(key, { value, startedAtMs, ackedAtMs: performance.now(), index });
    }
  };
  const writers = [1, 2, 3, 4].map(writer);
  await waitFor('writes before the save', () => (writes.size >= 400 ? true : undefined));

  const askedAtMs = performance.now();
  const file = path.join(cluster.directory, 'saved.snap');
  const saved = await client.saveSnapshot(file);
  const endedAtMs = performance.now();
  const countAtEnd = writes.size;
  await waitFor('writes after the save', () => (writes.size >= countAtEnd + 100 ? true : undefined));
  writing = false;
  await Promise.all(writers);

  assert.ok(existsSync(file) && !existsSync(`${file}.part`));
  const read = savedStore(file);
  let before = 0;
  let after = 0;
  for (const [key, write] of writes) {
    if (write.ackedAtMs < askedAtMs) {
      before += 1;
      assert.equal(read(key), write.value, `${key}, acknowledged before the save began, is in it`);
      assert.ok(write.index <= saved.index, `${key} (index ${write.index}) is at or below ${saved.index}`);
    } else if (write.startedAtMs > endedAtMs) {
      after += 1;
      assert.equal(read(key), null, `${key}, begun after the save ended, is not in it`);
    }
  }
  assert.ok(before >= 400 && after >= 50, `${before} writes before the save, ${after} after`);
  assert.equal(saved.service.name, 'understudy-kv');

  // `snapshot status` checks the file and counts what it holds: exactly the keys read back from it.
  const held = [...writes.keys()].filter((key) => read(key) !== null).length;
  const status = await runCli(['snapshot', 'status', file, '--json']);
  assert.equal(status.code, 0, status.stderr);
  const described = JSON.parse(status.stdout) as { index: number; keys: number; sessions: number };
  assert.deepEqual([described.index, described.keys], [saved.index, held]);
  assert.ok(described.sessions >= 1, "the writers' sessions are in it");
  const damaged = path.join(cluster.directory, 'damaged.snap');
  const bytes = readFileSync(file);
  const middle = Math.floor(bytes.length / 2);
  bytes[middle] = (bytes[middle] ?? 0) ^ 0x01;
  writeFileSync(damaged, bytes);
  const checked = await runCli(['snapshot', 'status', damaged]);
  assert.equal(checked.code, 1, checked.stderr);
  assert.match(checked.stderr, /CRC mismatch/);

  // A new cluster from the file, as a user starts one.
  const { child, lines, port, exited, directory } = await startOnFreePorts(
    3,
    path.join(cluster.directory, 'restored'),
    ['--restore', file],
  );
  let restored: Client | null = null;
  try {
    assert.ok(lines.some((line) => line.includes(`restored r1, r2, r3 from ${file}`)));
    const restoredClient = await Client.connect({ coordinator: `127.0.0.1:${port}`, deadlineMs: 20_000 });
    restored = restoredClient;
    const status = await waitFor('a view of three', async () => {
      const reply = await restoredClient.status();
      return reply.view?.backups.length === 2 ? reply : undefined;
    });
    assert.ok(status.replicas.every((replica) => replica.appliedIndex >= saved.index));
    for (const [key, write] of writes) {
      const got = await restoredClient.get(encoder.encode(key));
      const value = got === null ? null : decoder.decode(got);
      assert.equal(value, read(key), `${key} in the restored cluster is what the file holds`);
      if (write.ackedAtMs < askedAtMs) assert.equal(value, write.value);
    }
    await restoredClient.put(encoder.encode('after-restore'), encoder.encode('yes'));
    assert.deepEqual(await restoredClient.get(encoder.encode('after-restore')), encoder.encode('yes'));
  } finally {
    await restored?.close();
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
  }
  assert.equal(await exited, 0);
  // The original cluster never saw the restored one's write.
  assert.equal(await client.get(encoder.encode('after-restore')), null);

  // Restoring into a directory that holds something is refused, and changes nothing.
  const again = await runCli(['snapshot', 'restore', file, '--dir', path.join(directory, 'r1')]);
  assert.equal(again.code, 2, again.stderr);
  assert.match(again.stderr, /is not empty: a snapshot is restored only into a new data directory/);
});

test('a save whose primary is stopped (SIGSTOP) while the file is read starts over at the new primary, within its deadline', async (t) => {
  // Paced, so the file takes seconds to read; the primary stops after the first chunk and stays
  // stopped. A chunk waits up to 30 s for its answer, so a save that noticed no new primary would
  // still be waiting when its 20 s deadline ran out.
  const cluster = await LocalCluster.start(3, ['--transfer-rate', '300000']);
  const client = await cluster.client();
  const value = (key: string) => encoder.encode(`${key}:${'v'.repeat(1000)}`);
  for (let batch = 0; batch < 60; batch++) {
    const names = Array.from({ length: 30 }, (_, n) => `s${batch}-${n}`);
    await client.putMany(names.map((name) => [encoder.encode(name), value(name)] as const));
  }
  const before = await cluster.waitForView((view) => view.backups.length === 2);
  const stopped = cluster.replicas.get(before.primary);
  assert(stopped !== undefined);
  t.after(async () => {
    stopped.child.kill('SIGCONT');
    await cluster.close();
  });
  const file = path.join(cluster.directory, 'stopped.snap');
  let stoppedIt = false;
  const saved = await client.saveSnapshot(file, {
    deadlineMs: 20_000,
    onProgress: (written, total) => {
      if (!stoppedIt && written < total) stoppedIt = stopped.child.kill('SIGSTOP');
    },
  });
  assert.ok(stoppedIt, 'the primary was stopped while its file was read');
  assert.notEqual(saved.replica, before.primary, 'the save was read from the new primary');
  const read = savedStore(file);
  for (let batch = 0; batch < 60; batch++) {
    for (let n = 0; n < 30; n++)
      assert.equal(read(`s${batch}-${n}`), decoder.decode(value(`s${batch}-${n}`)));
  }
});

test('a save whose primary is killed while the file is read starts over at the new primary and holds every write', async (t) => {
  // Paced, so the file takes seconds to read: the kill lands after its first chunk, before its last.
  const cluster = await LocalCluster.start(3, ['--transfer-rate', '300000']);
  t.after(() => cluster.close());
  const client = await cluster.client();
  const keys = Array.from({ length: 60 }, (_, batch) => batch);
  const value = (key: string) => encoder.encode(`${key}:${'v'.repeat(1000)}`);
  // 1,800 keys of about 1 KB: a snapshot of two chunks or more.
  await Promise.all(
    keys.map(async (batch) => {
      const names = Array.from({ length: 30 }, (_, n) => `k${batch}-${n}`);
      await client.putMany(names.map((name) => [encoder.encode(name), value(name)] as const));
    }),
  );
  const before = await cluster.waitForView((view) => view.backups.length === 2);
  const file = path.join(cluster.directory, 'killed.snap');
  let killed: Promise<void> | null = null;
  const saved = await client.saveSnapshot(file, {
    onProgress: (written, total) => {
      if (killed === null && written < total) killed = cluster.kill(before.primary);
    },
  });
  assert.ok(killed !== null, 'the primary was killed while its file was read');
  await killed;
  assert.notEqual(saved.replica, before.primary, 'the save was read from the new primary');
  const read = savedStore(file);
  for (const batch of keys) {
    for (let n = 0; n < 30; n++) {
      const key = `k${batch}-${n}`;
      assert.equal(read(key), decoder.decode(value(key)), `${key} is in the save`);
    }
  }
});
