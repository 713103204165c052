// A rolling upgrade, one replica at a time, with real processes: a replica held at format level 1
// (`--format-level 1`, what a build of 2026-12-05 reads) keeps the cluster's log readable to it, so
// the primary logs no scan seed; once it runs at this build's level the coordinator raises the
// cluster's level and the primary seeds the store by itself. A replica that reads less than the
// level the cluster reached is kept out, alive and told why, and rejoins once it reads it.

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Client } from '../../src/client/index.js';
import { keyValueStoreOfSnapshot, textValueOf } from '../../src/state-machine/index.js';
import type { KeyValueStore } from '../../src/state-machine/kv-store.js';
import { readSavedSnapshot } from '../../src/storage/saved-snapshot.js';
import { LocalCluster, waitFor } from './harness.js';

const encoder = new TextEncoder();
const keys = Array.from({ length: 40 }, (_, n) => `upgrade-${n}`);

async function saved(cluster: LocalCluster, client: Client, name: string): Promise<KeyValueStore> {
  const file = path.join(cluster.directory, `${name}.snap`);
  await client.saveSnapshot(file, { deadlineMs: 20_000 });
  return keyValueStoreOfSnapshot(readSavedSnapshot(file).payload);
}

test('a cluster logs no scan seed while a member reads format level 1, and seeds its store once all read 2', async (t) => {
  // r1 starts first, so the first view holds it: the cluster forms at level 1.
  const pinned = new Set(['r1']);
  const cluster = await LocalCluster.start(3, (id) => (pinned.has(id) ? ['--format-level', '1'] : []));
  t.after(() => cluster.close());
  const client = await cluster.client();
  for (const key of keys) await client.put(encoder.encode(key), encoder.encode(`${key}=1`));

  const mixed = await cluster.status();
  assert.equal(mixed.formatLevel, 1);
  assert.deepEqual(
    mixed.replicas.map(({ id, formatLevel }) => [id, formatLevel]),
    [
      ['r1', 1],
      ['r2', 2],
      ['r3', 2],
    ],
  );
  const beforeUpgrade = await saved(cluster, client, 'before');
  assert.equal(beforeUpgrade.scanSeed, null, 'no seed while r1 reads level 1');
  assert.equal(beforeUpgrade.snapshot()[0], 3, 'a snapshot format level 1 reads');
  for (const key of keys) assert.equal(textValueOf(beforeUpgrade, key), `${key}=1`);

  // r1, the primary, is upgraded: stopped (a backup takes over), started again at this build's
  // level on the same directory. Down, it still holds the level where it could rejoin.
  await cluster.kill('r1');
  await cluster.waitForView((view) => view.primary !== 'r1');
  assert.equal((await cluster.status()).formatLevel, 1, 'r1, down, may come back on its older build');
  pinned.delete('r1');
  await cluster.startReplica('r1');
  await waitFor('format level 2', async () =>
    (await cluster.status()).formatLevel === 2 ? true : undefined,
  );
  const upgraded = await cluster.waitForView((view) => view.backups.includes('r1'));
  // The store had keys and no seed: the primary logs one by itself, without a write.
  const seeded = await waitFor('a seeded store', async () => {
    const store = await saved(cluster, client, 'after');
    return store.scanSeed === null ? undefined : store;
  });
  for (const key of keys) assert.equal(textValueOf(seeded, key), `${key}=1`);
  for (const [id, running] of cluster.replicas) assert.equal(running.child.exitCode, null, `${id} runs`);

  // A backup on the older build now (level 1, a wiped directory) is kept out, alive, and told why.
  const rolledBack = upgraded.backups.find((id) => id !== 'r1') ?? 'r1';
  await cluster.kill(rolledBack);
  rmSync(cluster.replicaDirectory(rolledBack), { recursive: true, force: true });
  pinned.add(rolledBack);
  const older = await cluster.startReplica(rolledBack);
  const refused = await waitFor(`${rolledBack} refused for its format level`, async () => {
    const status = await cluster.status();
    const row = status.replicas.find((replica) => replica.id === rolledBack);
    return row?.formatLevel === 1 && row.problem !== null ? { status, row } : undefined;
  });
  assert.equal(refused.row.alive, false);
  assert.match(refused.row.problem ?? '', /it reads format level 1 but the cluster logs level 2/);
  assert.equal(refused.status.formatLevel, 2, 'the level never falls');
  const without = await cluster.waitForView(
    (view) => ![view.primary, ...view.backups, ...view.learners].includes(rolledBack),
  );
  assert.ok(without.backups.length >= 1);
  for (const key of keys) await client.put(encoder.encode(key), encoder.encode(`${key}=2`));
  assert.equal(older.child.exitCode, null, 'kept out, not crashed: it was never sent what it cannot read');

  // Upgraded, it rejoins and catches up.
  await cluster.kill(rolledBack);
  pinned.delete(rolledBack);
  await cluster.startReplica(rolledBack);
  await cluster.waitForView((view) => view.backups.includes(rolledBack) && view.backups.length === 2, 60_000);
  const after = await saved(cluster, client, 'rejoined');
  for (const key of keys) assert.equal(textValueOf(after, key), `${key}=2`);
  assert.notEqual(after.scanSeed, null);
});
