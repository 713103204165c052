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
import { type RunningProcess, startProcess, stop, waitFor } from './harness.js';

/** etcd's v3 JSON gateway: POST `body` to `route`, the answer's JSON. */
async function gateway(endpoint: string, route: string, body: object): Promise<Record<string, unknown>> {
  const response = await fetch(`${endpoint}/v3/${route}`, { method: 'POST', body: JSON.stringify(body) });
  return (await response.json()) as Record<string, unknown>;
}

const base64 = (text: string) => Buffer.from(text).toString('base64');

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
  let refusal = '';
  for (let at = 0; at < 40 && refusal === ''; at++) {
    const answer = await gateway(endpoint, 'kv/put', {
      key: base64(`/junk/${at}`),
      value: Buffer.alloc(1_000_000, 120).toString('base64'),
    });
    if (typeof answer.error === 'string') refusal = answer.error;
  }
  assert.match(refusal, /database space exceeded/);
  const { alarms } = (await gateway(endpoint, 'maintenance/alarm', { action: 'GET' })) as {
    alarms?: { memberID: string; alarm: string }[];
  };
  assert.equal(alarms?.[0]?.alarm, 'NOSPACE');

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
  await gateway(endpoint, 'kv/deleterange', { key: base64('/junk/'), range_end: base64('/junk0') });
  const { header } = (await gateway(endpoint, 'kv/range', { key: base64('/any') })) as {
    header: { revision: string };
  };
  await gateway(endpoint, 'kv/compaction', { revision: header.revision, physical: true });
  await gateway(endpoint, 'maintenance/defragment', {});
  await gateway(endpoint, 'maintenance/alarm', {
    action: 'DEACTIVATE',
    alarm: 'NOSPACE',
    memberID: alarms?.[0]?.memberID,
  });

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
});
