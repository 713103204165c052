// A real replica whose log on disk diverged from the primary's: on restart it keeps the shared
// prefix, truncates exactly the diverged suffix, catches up, and can later serve as primary
// without a trace of the entries that never committed.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { clientId, logIndex } from '../../src/protocol/types.js';
import { encodeOperation, encodeResult, kvOperation } from '../../src/state-machine/index.js';
import { KeyValueStore } from '../../src/state-machine/kv-store.js';
import { WriteAheadLog } from '../../src/storage/write-ahead-log.js';
import { LocalCluster, waitFor } from './harness.js';

const text = (value: string): Uint8Array => new TextEncoder().encode(value);

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
    for (let number = 0; number < 10; number++) await client.put(`k${number}`, `v${number}`);
    const first = await cluster.waitForView((view) => view.backups.length === 2);
    const victim = first.backups[1] ?? '';
    await cluster.kill(victim);
    await cluster.waitForView((view) => !view.backups.includes(victim) && !view.learners.includes(victim));
    // Entries that only the old view's primary ever wrote: same view as the victim's last entry,
    // indexes the new view fills with other entries.
    const { log, recovered } = WriteAheadLog.open(path.join(cluster.replicaDirectory(victim), 'log'));
    const last = recovered.entries.at(-1);
    assert.ok(last !== undefined);
    const sharedLength = recovered.entries.length;
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
