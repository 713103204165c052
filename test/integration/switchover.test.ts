// A planned switchover on real processes, under load: `understudy switchover --to ID` hands the
// primary role to a backup, no write fails, none is lost or runs twice, and the old primary rejoins.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LocalCluster, runCli, waitFor } from './harness.js';

describe('understudy switchover', { concurrency: false }, () => {
  let cluster: LocalCluster;

  before(async () => {
    cluster = await LocalCluster.start(3);
  });

  after(async () => {
    await cluster.close();
  });

  test('under load: the backup leads, every write succeeds once, and the old primary catches up', async () => {
    const before = await cluster.waitForView((view) => view.backups.length === 2);
    const target = before.backups[0] as string;
    const writers = 4;
    const clients = await Promise.all(Array.from({ length: writers }, () => cluster.client()));
    const acknowledged: string[][] = clients.map(() => []);
    let running = true;
    const load = clients.map(async (client, writer) => {
      for (let number = 0; running && number < 5_000; number++) {
        const token = `w${writer}-${number};`;
        await client.append(`log-${writer}`, token); // any failure fails the test
        acknowledged[writer]?.push(token);
      }
    });
    const total = () => acknowledged.reduce((sum, tokens) => sum + tokens.length, 0);
    await waitFor('writes before', () => (total() >= 100 ? true : undefined));

    const coordinator = ['--coordinator', cluster.coordinatorAddress];
    const handover = await runCli(['switchover', '--to', target, '--json', ...coordinator]);
    assert.equal(handover.code, 0, handover.stderr + handover.stdout);
    const reply = JSON.parse(handover.stdout) as {
      ok: boolean;
      view: { primary: string; learners: string[] };
    };
    assert.equal(reply.ok, true);
    assert.equal(reply.view.primary, target);
    assert.ok(reply.view.learners.includes(before.primary), 'the old primary rejoins as a learner');

    const atHandover = total();
    await waitFor('writes after', () => (total() >= atHandover + 100 ? true : undefined));
    running = false;
    await Promise.all(load);

    for (const [writer, client] of clients.entries()) {
      const value = (await client.getText(`log-${writer}`)) ?? '';
      const tokens = value
        .split(';')
        .filter((token) => token !== '')
        .map((token) => `${token};`);
      assert.deepEqual(tokens, acknowledged[writer], `log-${writer}: every write once, in order`);
    }
    // The old primary catches up and is a backup again.
    await cluster.waitForView((view) => view.primary === target && view.backups.includes(before.primary));
    await Promise.all(clients.map((client) => client.close()));
  });

  test('refused with the reason, exit 1: the primary itself is fine, a replica that is no backup is not', async () => {
    const view = await cluster.waitForView((current) => current.backups.length === 2);
    const coordinator = ['--coordinator', cluster.coordinatorAddress];
    const same = await runCli(['switchover', '--to', view.primary, ...coordinator]);
    assert.deepEqual(
      [same.code, same.stdout],
      [0, `switchover done: ${view.primary} is already the primary\n`],
    );
    const unknown = await runCli(['switchover', '--to', 'r9', ...coordinator]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stdout, /switchover refused: r9 is not a member in view \d+: only a backup/);
    const missing = await runCli(['switchover', ...coordinator]);
    assert.equal(missing.code, 2, 'a usage error');
    assert.match(missing.stderr, /--to/);
  });
});
