// `understudy forget` on real processes: a backup stopped for good leaves the view by itself, but the
// coordinator lists it (not alive) until it is forgotten; then it leaves the status and the metrics
// (so an alert on a replica down resolves). A member, or a replica that still runs, is refused with
// why. A forgotten replica started again rejoins as a backup; every value reads back.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { adminAddressOf, LocalCluster, runCli } from './harness.js';

describe('understudy forget', { concurrency: false }, () => {
  let cluster: LocalCluster;

  before(async () => {
    cluster = await LocalCluster.start(3, [], ['--admin', '127.0.0.1:0']);
  });

  after(async () => {
    await cluster.close();
  });

  const coordinator = () => ['--coordinator', cluster.coordinatorAddress];
  const listed = async () => (await cluster.status()).replicas.map((replica) => replica.id).sort();
  const aliveMetric = async () => {
    const response = await fetch(`http://${adminAddressOf(cluster.coordinator)}/metrics`);
    return (await response.text()).split('\n').filter((line) => line.startsWith('understudy_replica_alive{'));
  };

  test('a stopped backup, out of the view, is forgotten; members and running replicas are refused', async () => {
    const view = await cluster.waitForView((current) => current.backups.length === 2);
    const gone = view.backups[0] as string;
    const staying = view.backups[1] as string;
    const client = await cluster.client();
    for (let key = 0; key < 20; key++) await client.put(`before-${key}`, `v${key}`);

    const running = await runCli(['forget', gone, ...coordinator()]);
    assert.equal(running.code, 1, running.stderr);
    assert.match(
      running.stdout,
      new RegExp(`^forget refused: ${gone} is a backup of view \\d+: stop its process`),
    );

    await cluster.kill(gone);
    await cluster.waitForView(
      (current) => !current.backups.includes(gone) && !current.learners.includes(gone),
    );
    assert.deepEqual(await listed(), ['r1', 'r2', 'r3'], 'out of the view, still listed');
    assert.ok((await aliveMetric()).includes(`understudy_replica_alive{replica="${gone}"} 0`));

    const forgotten = await runCli(['forget', gone, '--json', ...coordinator()]);
    assert.equal(forgotten.code, 0, forgotten.stderr + forgotten.stdout);
    const reply = JSON.parse(forgotten.stdout) as { ok: boolean; message: string };
    assert.equal(reply.ok, true);
    assert.match(reply.message, new RegExp(`^${gone} forgotten; it had not been heard from for `));
    assert.deepEqual(
      await listed(),
      ['r1', 'r2', 'r3'].filter((id) => id !== gone),
    );
    assert.ok(!(await aliveMetric()).some((line) => line.includes(`"${gone}"`)), 'gone from the metrics');

    const again = await runCli(['forget', gone, ...coordinator()]);
    assert.equal(again.code, 1);
    assert.match(again.stdout, new RegExp(`forget refused: ${gone} is not known to this coordinator`));
    const primary = await runCli(['forget', view.primary, ...coordinator()]);
    assert.equal(primary.code, 1);
    assert.match(primary.stdout, new RegExp(`forget refused: ${view.primary} is the primary of view`));
    const empty = await runCli(['forget', ' ', ...coordinator()]);
    assert.equal(empty.code, 2, 'a usage error');
    assert.match(empty.stderr, /the replica id must not be empty/);

    // Writes go on without it; started again on its directory, it is heard as new and catches up.
    for (let key = 0; key < 20; key++) await client.put(`after-${key}`, `w${key}`);
    await cluster.startReplica(gone);
    await cluster.waitForView(
      (current) => current.backups.includes(gone) && current.backups.includes(staying),
    );
    assert.deepEqual(await listed(), ['r1', 'r2', 'r3']);
    // A backup of a sync cluster holds every acknowledged write; the values read back are all there.
    for (let key = 0; key < 20; key++) {
      assert.equal(await client.getText(`before-${key}`), `v${key}`);
      assert.equal(await client.getText(`after-${key}`), `w${key}`);
    }
  });
});
