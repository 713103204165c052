// A full etcd under the coordinator, against a real etcd on loopback with a small space quota: filled
// past it (etcd's NOSPACE alarm), it refuses every write. The primary keeps serving (its lease needs
// no write), but a failover needs its view stored first, so none happens: the leader gives up when its
// write is refused. Once space is freed as etcd's documentation says (compact, defragment, disarm),
// a coordinator leads again, the failover happens, and every acknowledged write reads back.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { EtcdMembers, etcdSkipReason } from '../../src/chaos/etcd-members.js';
import { Client } from '../../src/client/index.js';
import { parsePrometheusText, sampleValue } from '../prometheus-text.js';
import { adminAddressOf, type RunningProcess, startProcess, stop, waitFor } from './harness.js';

test('etcd past its quota: writes go on, no failover until space is freed, then one, and nothing is lost', {
  skip: etcdSkipReason(),
}, async (t) => {
  const directory = mkdtempSync(path.join(tmpdir(), 'understudy-etcd-full-'));
  const etcd = await EtcdMembers.start(path.join(directory, 'etcd'), 1, [
    '--quota-backend-bytes',
    String(8 * 1024 * 1024),
  ]);
  const processes: RunningProcess[] = [];
  const replicas = new Map<string, RunningProcess>();
  let client: Client | null = null;
  t.after(async () => {
    await client?.close();
    for (const running of [...processes, ...replicas.values()]) await stop(running);
    await etcd.close();
    rmSync(directory, { recursive: true, force: true });
  });
  const [endpoint] = etcd.urls as [string];
  const coordinator = await startProcess([
    'coordinator',
    '--listen',
    '127.0.0.1:0',
    '--etcd',
    endpoint,
    '--etcd-lease-seconds',
    '2',
    '--new-cluster',
    '--admin',
    '127.0.0.1:0',
  ]);
  processes.push(coordinator);
  for (const id of ['r1', 'r2', 'r3']) {
    const args = ['--listen', '127.0.0.1:0', '--coordinator', coordinator.address];
    replicas.set(id, await startProcess(['replica', '--id', id, ...args, '--dir', path.join(directory, id)]));
  }
  client = await Client.connect({ coordinator: coordinator.address, deadlineMs: 20_000 });
  const connected = client;
  const whole = await waitFor('a whole view', async () => {
    const { view } = await connected.status();
    return view !== null && view.backups.length === 2 ? view : undefined;
  });
  const written: string[] = [];
  const write = async (key: string) => {
    await connected.put(key, `value of ${key}`);
    written.push(key);
  };
  for (let at = 0; at < 20; at++) await write(`before-${at}`);

  // Fill etcd past its quota with values of 1 MB until it refuses.
  assert.ok((await etcd.fill('/junk/')).values > 0);
  assert.ok(await etcd.outOfSpace(), 'the NOSPACE alarm is raised');

  // The primary keeps serving: no write of etcd's is needed for that.
  for (let at = 0; at < 5; at++) await write(`while-full-${at}`);

  // Its failure calls for a view that cannot be stored: no failover while etcd is full.
  await stop(replicas.get(whole.primary) as RunningProcess);
  replicas.delete(whole.primary);
  await waitFor(
    'the leader to give up (its state write refused)',
    () => (/mvcc: database space exceeded/.test(coordinator.stderr()) ? true : undefined),
    30_000,
  );
  assert.match(coordinator.stderr(), /no longer the leading coordinator/);
  await waitFor(
    'the coordinator to say etcd is out of space, and what to do',
    () =>
      /"hint":"etcd is past its space quota[^"]*alarm disarm[^"]*","message":"etcd is out of space"/.test(
        coordinator.stderr(),
      )
        ? true
        : undefined,
    30_000,
  );
  // No coordinator leads now: a short question gets no answer, or the view from before.
  const quiet = await Client.connect({ coordinator: coordinator.address, deadlineMs: 2_000 })
    .then(async (asking) => {
      try {
        return await asking.status();
      } finally {
        await asking.close();
      }
    })
    .catch(() => null);
  assert.ok(quiet === null || quiet.view?.number === whole.number, 'no view was stored while full');

  // Free the space as etcd's documentation says: delete, compact, defragment, disarm.
  await etcd.free('/junk/');
  assert.equal(await etcd.outOfSpace(), false);

  const after = await waitFor(
    'a failover once etcd has room',
    async () => {
      const { view } = await connected.status().catch(() => ({ view: null }));
      return view !== null && view.primary !== whole.primary ? view : undefined;
    },
    60_000,
  );
  assert.ok(after.number > whole.number);
  await write('after-the-failover');
  for (const key of written) assert.equal(await connected.getText(key), `value of ${key}`, key);

  // The coordinator's counters are its process's, across the term it gave up and the one it won
  // back, and count the views it stored and told: exactly its logged view changes and failovers
  // (the view etcd refused is in neither).
  const logged = (message: string) =>
    coordinator
      .stderr()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { message?: string; from?: string; to?: string })
      .filter((line) => line.message === message)
      // A failover that keeps its primary (restarted in place) replaces none.
      .filter((line) => message !== 'failover' || line.from !== line.to).length;
  let counted = '';
  await waitFor('the metrics to count every logged view change', async () => {
    const response = await fetch(`http://${adminAddressOf(coordinator)}/metrics`);
    const metrics = parsePrometheusText(await response.text());
    const views = sampleValue(metrics, 'understudy_view_changes_total');
    const failovers = sampleValue(metrics, 'understudy_failovers_total');
    counted = `counted ${views} views and ${failovers} failovers; logged ${logged('view change')} and ${logged('failover')}`;
    return views === logged('view change') && failovers === logged('failover') ? true : undefined;
  }).catch((error: unknown) => assert.fail(`${String(error)}: ${counted}`));
  assert.ok(logged('failover') >= 1);
  assert.ok(logged('view change') > logged('failover'), 'views before the fill are counted too');
});

test('a NOSPACE alarm a client raises holds etcd full as a filled database does, until it is freed', {
  skip: etcdSkipReason(),
}, async (t) => {
  // What the chaos runner's etcd-full relies on when etcd refuses a filler value but raises no alarm.
  const directory = mkdtempSync(path.join(tmpdir(), 'understudy-etcd-alarm-'));
  const etcd = await EtcdMembers.start(path.join(directory, 'etcd'), 1);
  t.after(async () => {
    await etcd.close();
    rmSync(directory, { recursive: true, force: true });
  });
  const [endpoint] = etcd.urls as [string];
  const put = async (key: string): Promise<unknown> => {
    const response = await fetch(`${endpoint}/v3/kv/put`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from(key).toString('base64'), value: 'dg==' }),
    });
    return ((await response.json()) as { error?: unknown }).error;
  };
  assert.equal(await put('/before'), undefined);
  assert.equal(await etcd.raiseNoSpace(), true, 'no alarm stood: it raised one');
  assert.equal(await etcd.outOfSpace(), true);
  assert.match(String(await put('/while-raised')), /database space exceeded/);
  assert.equal(await etcd.raiseNoSpace(), false, 'the alarm stands already');
  await etcd.free('/nothing-filled/');
  assert.equal(await etcd.outOfSpace(), false);
  assert.equal(await put('/after'), undefined);
});
