// What `understudy status` says while a view is on its way to etcd: the view etcd holds, never the one
// the leader decided and is still storing. A replica hears of a view only once it is stored; status
// (and what reads it: the admin port, the dashboard, the Sentinel port) must not run ahead of that,
// since a view whose save etcd refuses (past its quota, a lost term) never happens. Found by chaos
// seed 20262300: a status named view 38 while etcd, full, refused it; the view 38 stored later was
// another.
//
// A proxy in front of etcd holds each state write for a while, and the test compares every status
// the coordinator answers with what etcd holds right after.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EtcdMembers, etcdSkipReason } from '../../src/chaos/etcd-members.js';
import { Client } from '../../src/client/index.js';
import { EtcdClient } from '../../src/node/etcd/etcd-client.js';
import { etcdKeysOf } from '../../src/node/etcd/etcd-state-home.js';
import { parseCoordinatorState } from '../../src/node/state-store.js';
import { type RunningProcess, startProcess, stop, waitFor } from './harness.js';

/** Below the coordinator's etcd request timeout (1 s), so the held write still succeeds. */
const TXN_HOLD_MS = 600;

/** An HTTP proxy to `target` that holds each transaction (`/v3/kv/txn`) for `holdMs` while set. */
async function startHoldingProxy(target: URL): Promise<{ url: string; holdMs: number; close(): void }> {
  const proxy = {
    url: '',
    holdMs: 0,
    close: () => server.close(),
  };
  const forward = (incoming: IncomingMessage, outgoing: ServerResponse, body: Buffer) => {
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    upstream.on('error', () => outgoing.destroy());
    upstream.end(body);
  };
  const server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      const holdMs = incoming.url === '/v3/kv/txn' ? proxy.holdMs : 0;
      if (holdMs === 0) forward(incoming, outgoing, body);
      else setTimeout(() => forward(incoming, outgoing, body), holdMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}

test('status shows the view etcd holds, not one still being stored', {
  skip: etcdSkipReason(),
}, async (t) => {
  const directory = mkdtempSync(path.join(tmpdir(), 'understudy-etcd-status-'));
  const etcd = await EtcdMembers.start(path.join(directory, 'etcd'), 1);
  const [endpoint] = etcd.urls as [string];
  const proxy = await startHoldingProxy(new URL(endpoint));
  const direct = new EtcdClient([endpoint], 5_000);
  const processes: RunningProcess[] = [];
  let client: Client | null = null;
  t.after(async () => {
    await client?.close();
    for (const running of processes) await stop(running);
    proxy.close();
    direct.close();
    await etcd.close();
    rmSync(directory, { recursive: true, force: true });
  });
  const coordinator = await startProcess([
    'coordinator',
    '--listen',
    '127.0.0.1:0',
    '--etcd',
    proxy.url,
    '--new-cluster',
  ]);
  processes.push(coordinator);
  const replicas = new Map<string, RunningProcess>();
  for (const id of ['r1', 'r2', 'r3']) {
    const args = ['--listen', '127.0.0.1:0', '--coordinator', coordinator.address];
    const replica = await startProcess(['replica', '--id', id, ...args, '--dir', path.join(directory, id)]);
    replicas.set(id, replica);
    processes.push(replica);
  }
  client = await Client.connect({ coordinator: coordinator.address, deadlineMs: 20_000 });
  const connected = client;
  const whole = await waitFor('a whole view', async () => {
    const { view } = await connected.status();
    return view !== null && view.backups.length === 2 ? view : undefined;
  });
  const storedViewNumber = async (): Promise<number> => {
    const { kv } = await direct.range(etcdKeysOf('understudy').state);
    assert.ok(kv !== null, 'etcd holds the state');
    return parseCoordinatorState(kv.value.toString('utf8'), 'etcd').current?.view.number ?? 0;
  };

  // Each state write now waits 0.6 s on its way to etcd; a backup's failure then calls for a view.
  proxy.holdMs = TXN_HOLD_MS;
  const backup = whole.backups[1] as (typeof whole.backups)[number];
  await stop(replicas.get(String(backup)) as RunningProcess);
  let statuses = 0;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { view } = await connected.status();
    const stored = await storedViewNumber();
    statuses += 1;
    assert.ok(view !== null);
    assert.ok(
      view.number <= stored,
      `status answered view ${view.number} while etcd held view ${stored} (status ${statuses})`,
    );
    // Done once the view without the backup is stored and shown.
    if (!view.backups.includes(backup) && view.number === stored) break;
    assert.ok(Date.now() < deadline, `no view without ${backup} within 30 s (last: ${JSON.stringify(view)})`);
    await sleep(10);
  }
  // The statuses compared span at least one held write: more than one poll per hold.
  assert.ok(statuses > 5, `only ${statuses} statuses compared`);
});
