// FLUSHALL against real processes: every replica empties at one index, writes after it stay, and a
// backup killed with kill -9 and restarted on its own directory comes back to the same state (its log
// replays the clear, or a snapshot after it holds the state).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { LocalCluster, type RunningProcess, waitFor } from './harness.js';

function respPortOf(running: RunningProcess | undefined): number {
  const match = /Redis protocol on \S+:(\d+)/.exec(running?.stdout() ?? '');
  assert(match?.[1] !== undefined, 'the replica printed its Redis address');
  return Number(match[1]);
}

test('FLUSHALL empties every replica at one index; a backup killed and restarted comes back to the same keys', async (t) => {
  const cluster = await LocalCluster.start(3, ['--resp', '127.0.0.1:0']);
  const clients: Redis[] = [];
  t.after(async () => {
    for (const client of clients) client.disconnect();
    await cluster.close();
  });
  const connect = async (id: string): Promise<Redis> => {
    const client = new Redis({
      host: '127.0.0.1',
      port: respPortOf(cluster.replicas.get(id)),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    clients.push(client);
    await client.connect();
    return client;
  };
  const view = await cluster.waitForView((candidate) => candidate.backups.length === 2);
  const backupId = view.backups[0] as string;
  const primary = await connect(view.primary);
  const backup = await connect(backupId);

  for (let at = 0; at < 50; at++) {
    if (at % 5 === 0) await backup.set(`before:${at}`, `v${at}`, 'EX', 600);
    else await backup.set(`before:${at}`, `v${at}`);
  }
  assert.equal(await backup.call('FLUSHALL'), 'OK');
  assert.equal(await backup.dbsize(), 0, 'a DBSIZE after it, at the same port, sees none');
  assert.equal(await primary.exists('before:0', 'before:49'), 0, 'a read after it sees none');
  for (let at = 0; at < 5; at++) await primary.set(`after:${at}`, `w${at}`);
  // What the port's own replica has applied (DBSIZE is a read at the primary).
  const keysAt = async (client: Redis): Promise<number> =>
    Number(/db0:keys=(\d+)/.exec(await client.info('keyspace'))?.[1] ?? 0);
  for (const [id, client] of [
    [view.primary, primary],
    [backupId, backup],
    [view.backups[1] as string, await connect(view.backups[1] as string)],
  ] as const) {
    await waitFor(`${id} holds the 5 keys written after the flush`, async () =>
      (await keysAt(client)) === 5 ? true : undefined,
    );
  }

  backup.disconnect(); // no reconnecting to a port that is gone
  await cluster.kill(backupId);
  await cluster.startReplica(backupId, {});
  const restarted = await connect(backupId);
  await waitFor('the restarted backup holds the 5 keys written after the flush', async () =>
    (await keysAt(restarted)) === 5 ? true : undefined,
  );
  await restarted.call('READONLY');
  assert.equal(await restarted.dbsize(), 5, 'a READONLY DBSIZE at the restarted backup counts its own keys');
  assert.deepEqual(await restarted.mget('after:0', 'after:4', 'before:0'), ['w0', 'w4', null]);
  const info = await restarted.info('keyspace');
  assert.match(info, /db0:keys=5,expires=0/, 'no time to live outlived the flush');
  const client = await cluster.client();
  assert.equal(await client.keyCount(), 5);
  assert.equal((await client.deleteAll()).count, 5);
  assert.equal(await client.keyCount(), 0);
  assert.equal((await client.deleteAll()).count, 0, 'nothing left, nothing logged');
});
