// Keys with a time to live, against real processes: a key lives at least its time to live and is then
// deleted by the cluster itself; the command line sets, shows, removes and renames times to live; a time to
// live survives a failover (the new primary deletes the key) and travels in a saved snapshot.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { keyValueStoreOfSnapshot } from '../../src/state-machine/index.js';
import { readSavedSnapshot } from '../../src/storage/saved-snapshot.js';
import { LocalCluster, runCli, waitFor } from './harness.js';

test('a key lives at least its time to live, then the cluster deletes it; the CLI sets, shows and removes times to live', async (t) => {
  const cluster = await LocalCluster.start(3);
  t.after(() => cluster.close());
  const client = await cluster.client();

  const ttlMs = 800;
  const askedAtMs = Date.now();
  const { written } = await client.set('brief', 'here for a while', { ttlMs });
  assert.equal(written, true);
  const ttl = await client.ttl('brief');
  assert.equal(ttl.exists, true);
  assert.ok(ttl.expiresAtMs !== null && ttl.expiresAtMs >= askedAtMs + ttlMs, 'expires no sooner than asked');
  assert.ok(ttl.remainingMs !== null && ttl.remainingMs <= ttlMs, `${ttl.remainingMs} ms left`);

  // Every read answered before the time to live ran out (from before the set was sent) sees the key.
  let reads = 0;
  for (;;) {
    const value = await client.getText('brief');
    const answeredAtMs = Date.now();
    if (value === null) {
      assert.ok(answeredAtMs >= askedAtMs + ttlMs, `gone ${answeredAtMs - askedAtMs} ms after the set`);
      break;
    }
    assert.equal(value, 'here for a while');
    reads += 1;
    assert.ok(answeredAtMs - askedAtMs < 15_000, 'the key was never deleted');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(reads > 0);
  assert.deepEqual(await client.ttl('brief'), { exists: false, expiresAtMs: null, remainingMs: null });

  const coordinator = ['--coordinator', cluster.coordinatorAddress];
  const put = await runCli(['put', 'session', 'abc', '--ttl', '60000', ...coordinator]);
  assert.equal(put.code, 0, put.stderr);
  assert.match(put.stdout, /^written, expires in 60000 ms \(view \d+, index \d+, sync on r\d, r\d, r\d\)\n$/);
  const left = await runCli(['ttl', 'session', ...coordinator]);
  assert.equal(left.code, 0, left.stderr);
  const leftMs = Number(left.stdout);
  assert.ok(leftMs > 30_000 && leftMs <= 60_000, left.stdout);
  const persisted = await runCli(['persist', 'session', ...coordinator]);
  assert.match(persisted.stdout, /^expiry removed /);
  assert.deepEqual((await runCli(['ttl', 'session', ...coordinator])).stdout, 'no expiry\n');
  const expired = await runCli(['expire', 'session', '0', ...coordinator]);
  assert.equal(expired.code, 0, expired.stderr);
  const gone = await runCli(['ttl', 'session', ...coordinator]);
  assert.deepEqual([gone.code, gone.stderr], [1, 'key not found: session\n']);
  const absent = await runCli(['expire', 'nothing-here', '1000', ...coordinator]);
  assert.equal(absent.code, 1);
  assert.match(absent.stdout, /^not found /);

  // The commands that answer the value a write replaced: getset, getex, getdel.
  const first = await runCli(['getset', 'swap', 'one', ...coordinator]);
  assert.deepEqual([first.code, first.stdout, first.stderr], [0, '', '(none)\n']);
  const second = await runCli(['getset', 'swap', 'two', '--ttl', '60000', ...coordinator]);
  assert.deepEqual([second.code, second.stdout], [0, 'one\n']);
  assert.ok(((await client.ttl('swap')).remainingMs ?? 0) > 30_000, 'getset --ttl gave a time to live');
  const kept = await runCli(['getex', 'swap', '--persist', ...coordinator]);
  assert.deepEqual([kept.code, kept.stdout], [0, 'two\n']);
  assert.equal((await client.ttl('swap')).expiresAtMs, null, 'getex --persist removed it');
  const taken = await runCli(['getdel', 'swap', '--json', ...coordinator]);
  assert.equal(taken.code, 0, taken.stderr);
  assert.equal(JSON.parse(taken.stdout).value, 'two');
  assert.equal(await client.getText('swap'), null, 'getdel deleted it');
  const none = await runCli(['getdel', 'swap', ...coordinator]);
  assert.deepEqual([none.code, none.stdout, none.stderr], [1, '', 'key not found: swap\n']);
  const neither = await runCli(['getex', 'swap', ...coordinator]);
  assert.equal(neither.code, 2);
  assert.match(neither.stderr, /exactly one of --ttl MS and --persist/);

  // rename moves the value and its time to live; with --nx only onto an absent key.
  await client.set('draft', 'd1', { ttlMs: 60_000 });
  const moved = await runCli(['rename', 'draft', 'published', ...coordinator]);
  assert.equal(moved.code, 0, moved.stderr);
  assert.match(moved.stdout, /^renamed \(view \d+, index \d+, sync on r\d, r\d, r\d\)\n$/);
  assert.equal(await client.getText('draft'), null);
  assert.equal(await client.getText('published'), 'd1');
  assert.ok(((await client.ttl('published')).remainingMs ?? 0) > 30_000, 'the time to live moved with it');
  await client.put('draft', 'd2');
  const taken2 = await runCli(['rename', 'draft', 'published', '--nx', ...coordinator]);
  assert.equal(taken2.code, 1);
  assert.match(taken2.stdout, /^not renamed: the new key exists /);
  assert.equal(await client.getText('published'), 'd1');
  const missing = await runCli(['rename', 'nothing-here', 'published', ...coordinator]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: NO_SUCH_KEY: rename: no such key "nothing-here"/);
});

test('a time to live survives a failover, where the new primary deletes the key, and travels in a saved snapshot', async (t) => {
  const cluster = await LocalCluster.start(3);
  t.after(() => cluster.close());
  const client = await cluster.client();
  const before = await cluster.waitForView((view) => view.backups.length === 2);

  await client.set('through-failover', 'v', { ttlMs: 4000 });
  await client.set('far-off', 'v', { ttlMs: 3_600_000 });
  await client.put('forever', 'v');
  const { expiresAtMs } = await client.ttl('through-failover');
  assert.ok(expiresAtMs !== null);

  const file = path.join(cluster.directory, 'expiring.snap');
  await client.saveSnapshot(file);
  const saved = keyValueStoreOfSnapshot(readSavedSnapshot(file).payload);
  assert.equal(saved.expiryOf('through-failover'), expiresAtMs, 'the saved snapshot holds the time');
  assert.equal(saved.expiryOf('forever'), undefined);

  await cluster.kill(before.primary);
  await cluster.waitForView((view) => view.primary !== before.primary);
  const after = await client.ttl('through-failover');
  if (Date.now() < expiresAtMs) {
    assert.deepEqual(after.expiresAtMs, expiresAtMs, 'the new primary holds the same time');
  }
  await waitFor(
    'the new primary deletes the key',
    async () => ((await client.getText('through-failover')) === null ? true : undefined),
    30_000,
  );
  assert.ok(Date.now() >= expiresAtMs, 'not before its time');
  assert.equal(await client.getText('forever'), 'v');
  assert.equal(await client.getText('far-off'), 'v');
  assert.ok(((await client.ttl('far-off')).remainingMs ?? 0) > 3_000_000);
});
