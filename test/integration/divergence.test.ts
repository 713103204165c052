// A real replica whose log on disk diverged from the primary's: on restart it keeps the shared
// prefix, truncates exactly the diverged suffix, catches up, and can later serve as primary
// without a trace of the entries that never committed. And when the suffix held async writes, a
// crash right after the discard does not take them out of the cluster's count of lost writes.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Client } from '../../src/client/index.js';
import { clientId, logIndex } from '../../src/protocol/types.js';
import { encodeOperation, encodeResult, kvOperation } from '../../src/state-machine/index.js';
import { KeyValueStore } from '../../src/state-machine/kv-store.js';
import { readUnreportedLosses, unreportedLossesFileName } from '../../src/storage/unreported-losses.js';
import { WriteAheadLog } from '../../src/storage/write-ahead-log.js';
import { LocalCluster, waitFor } from './harness.js';

const text = (value: string): Uint8Array => new TextEncoder().encode(value);

/**
 * Writes k0..k9, stops a backup, and appends to its log three async puts of k0 after its last entry
 * and in its view: writes only an old view's primary ever took, as if it acknowledged them (async)
 * and died before any backup had them. Then writes k10..k19, which fill those indexes with other
 * entries. Returns the stopped backup and how many entries it shared with the cluster.
 */
async function divergeBackup(cluster: LocalCluster, client: Client) {
  for (let number = 0; number < 10; number++) await client.put(`k${number}`, `v${number}`);
  const first = await cluster.waitForView((view) => view.backups.length === 2);
  const victim = first.backups[1] ?? '';
  await cluster.kill(victim);
  await cluster.waitForView((view) => !view.backups.includes(victim) && !view.learners.includes(victim));
  const { log, recovered } = WriteAheadLog.open(path.join(cluster.replicaDirectory(victim), 'log'));
  const last = recovered.entries.at(-1);
  assert.ok(last !== undefined);
  const store = new KeyValueStore();
  const fabricated = [1, 2, 3].map((offset) => {
    const execution = store.execute(
      encodeOperation(kvOperation.put(text('k0'), text(`never-committed-${offset}`))),
    );
    return {
      view: last.view,
      index: logIndex(last.index + offset),
      clientId: clientId('ghost'),
      requestNumber: offset,
      durability: 'async' as const,
      refused: false,
      update: execution.update,
      result: encodeResult({ kind: 'put', existed: true }),
    };
  });
  log.append(fabricated);
  await log.close();
  for (let number = 10; number < 20; number++) await client.put(`k${number}`, `v${number}`);
  return { victim, sharedLength: recovered.entries.length };
}

describe('divergence', { concurrency: false }, () => {
  let cluster: LocalCluster;

  before(async () => {
    cluster = await LocalCluster.start(3);
  });

  after(async () => {
    await cluster.close();
  });

  test('a restarted replica truncates only the suffix that diverged and converges on the primary', async () => {
    const client = await cluster.client();
    const { victim, sharedLength } = await divergeBackup(cluster, client);
    await client.put('k0', 'rewritten');

    await cluster.startReplica(victim);
    await cluster.waitForView((view) => view.backups.includes(victim));
    await waitFor('the victim to hold the primary log', async () => {
      const status = await client.status();
      const primary = status.replicas.find((replica) => replica.id === status.view?.primary);
      const rejoined = status.replicas.find((replica) => replica.id === victim);
      return primary !== undefined && rejoined?.durableIndex === primary.durableIndex ? true : undefined;
    });

    // Kill everyone else: the rejoined replica is promoted and must serve exactly the committed state.
    const current = await cluster.waitForView((view) => view.backups.includes(victim));
    for (const id of [current.primary, ...current.backups.filter((id) => id !== victim)])
      await cluster.kill(id);
    await cluster.waitForView((view) => view.primary === victim, 30_000);
    assert.equal(await client.getText('k0'), 'rewritten');
    for (let number = 1; number < 20; number++)
      assert.equal(await client.getText(`k${number}`), `v${number}`);
    assert.ok(sharedLength >= 10);
  });
});

describe('async writes discarded on rejoin, then a crash', { concurrency: false }, () => {
  let cluster: LocalCluster;

  before(async () => {
    cluster = await LocalCluster.start(3);
  });

  after(async () => {
    await cluster.close();
  });

  test('a replica killed right after discarding them still gets them counted: it noted them on disk first', async () => {
    const client = await cluster.client();
    const { victim } = await divergeBackup(cluster, client);
    assert.equal((await client.status()).asyncLost, 0);

    // It rejoins, finds its suffix diverged, discards the three async writes, and dies (SIGKILL) once
    // that is on disk, before any tick could report them.
    const crashing = await cluster.startReplica(victim, {
      env: { UNDERSTUDY_TEST_CRASH_AT: 'after-discard' },
    });
    await waitFor(
      'the rejoining replica to kill itself after the discard',
      () => (crashing.child.signalCode === 'SIGKILL' ? true : undefined),
      30_000,
    );
    cluster.replicas.delete(victim);
    const directory = cluster.replicaDirectory(victim);
    const noted = readUnreportedLosses(directory);
    assert.equal(noted.damage, null);
    assert.deepEqual(
      noted.entries.map((lost) => `${lost.clientId}#${lost.requestNumber}`),
      ['ghost#1', 'ghost#2', 'ghost#3'],
    );
    assert.equal((await client.status()).asyncLost, 0, 'nothing was reported before the crash');

    // Restarted, its log no longer holds them: only the note can bring them to the record.
    await cluster.startReplica(victim);
    await waitFor('the cluster to record the three lost async writes', async () => {
      const status = await client.status();
      return status.asyncLost === 3 ? true : undefined;
    });
    await waitFor('the note to be removed once they are on record', () =>
      existsSync(path.join(directory, unreportedLossesFileName)) ? undefined : true,
    );
    assert.equal(await client.getText('k0'), 'v0');
    for (let number = 1; number < 20; number++)
      assert.equal(await client.getText(`k${number}`), `v${number}`);
  });
});
