// The admin HTTP port of real processes: a coordinator and three replicas on 127.0.0.1, each with
// `--admin 127.0.0.1:0` (the OS picks the port, which each prints), stopped by process id. Metrics
// are valid Prometheus text that moves with writes; the health checks follow the roles, also through
// a kill -9 of the primary; /status has the shape `understudy status --json` prints.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FORMAT_LEVEL } from '../../src/protocol/format-level.js';
import { entryOverheadBytes, keysMax } from '../../src/state-machine/kv-limits.js';
import { type Family, parsePrometheusText, sampleValue } from '../prometheus-text.js';
import { adminAddressOf, LocalCluster, runCli, waitFor } from './harness.js';

const admin = ['--admin', '127.0.0.1:0'];
let cluster: LocalCluster;

before(async () => {
  cluster = await LocalCluster.start(3, admin, admin);
});

after(() => cluster.close());

const replicaAdmin = (id: string) => adminAddressOf(cluster.replicas.get(id));

async function ask(address: string, path: string, method = 'GET') {
  const response = await fetch(`http://${address}${path}`, { method });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

async function metrics(address: string): Promise<Map<string, Family>> {
  const answer = await ask(address, '/metrics');
  assert.equal(answer.status, 200);
  assert.match(answer.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(answer.body);
}

async function primaryId(): Promise<string> {
  const view = (await cluster.status()).view;
  assert.ok(view !== null);
  return view.primary;
}

const writeSync = { op: 'write', durability: 'sync' };

test('/metrics is Prometheus text whose commit index and request histogram move with writes', async () => {
  const primary = await primaryId();
  const before = await metrics(replicaAdmin(primary));
  const commitBefore = sampleValue(before, 'understudy_commit_index');
  const requestsBefore = sampleValue(before, 'understudy_request_duration_seconds_count', writeSync);
  const entriesBefore = sampleValue(before, 'understudy_state_entries');
  const bytesBefore = sampleValue(before, 'understudy_state_bytes');
  const expiringBefore = sampleValue(before, 'understudy_state_entries_expiring');
  const client = await cluster.client();
  const writes = 20;
  let bytesWritten = 0;
  for (let number = 0; number < writes; number++) {
    const [key, value] = [`metrics-${number}`, `value-${number}`];
    // Every fourth with a time to live, long enough to outlast the test.
    if (number % 4 === 0) await client.set(key, value, { ttlMs: 600_000 });
    else await client.put(key, value);
    bytesWritten += key.length + value.length + entryOverheadBytes;
  }
  const after = await waitFor('the primary to count the writes', async () => {
    const now = await metrics(replicaAdmin(primary));
    const moved =
      sampleValue(now, 'understudy_commit_index') >= commitBefore + writes &&
      sampleValue(now, 'understudy_request_duration_seconds_count', writeSync) >= requestsBefore + writes;
    return moved ? now : undefined;
  });
  assert.equal(sampleValue(after, 'understudy_replica_info', { replica: primary }), 1);
  assert.equal(sampleValue(after, 'understudy_role', { role: 'primary' }), 1);
  assert.equal(sampleValue(after, 'understudy_role', { role: 'backup' }), 0);
  assert.ok(sampleValue(after, 'understudy_view_number') >= 1);
  assert.ok(sampleValue(after, 'understudy_durable_index') >= sampleValue(after, 'understudy_commit_index'));
  assert.ok(sampleValue(after, 'understudy_fsync_seconds_count') > 0);
  assert.ok(
    sampleValue(after, 'understudy_request_duration_seconds_bucket', { ...writeSync, le: '+Inf' }) >= writes,
  );
  assert.ok(sampleValue(after, 'understudy_connections') > 0);
  assert.equal(sampleValue(after, 'understudy_bad_frames_total'), 0);
  assert.equal(sampleValue(after, 'understudy_async_at_risk'), 0);
  // Twenty new keys: the store's size moves by exactly what they count against its bound.
  assert.equal(sampleValue(after, 'understudy_state_entries'), entriesBefore + writes);
  assert.equal(sampleValue(after, 'understudy_state_bytes'), bytesBefore + bytesWritten);
  assert.equal(sampleValue(after, 'understudy_state_entries_expiring'), expiringBefore + writes / 4);
  assert.equal(sampleValue(after, 'understudy_state_entries_max'), keysMax);
  assert.ok(sampleValue(after, 'understudy_state_bytes_max') > bytesBefore + bytesWritten);
  const view = (await cluster.status()).view;
  for (const backup of view?.backups ?? []) {
    assert.ok(sampleValue(after, 'understudy_backup_lag_entries', { backup }) >= 0);
    assert.ok(sampleValue(after, 'understudy_backup_lag_seconds', { backup }) >= 0);
  }
  for (const name of [
    'understudy_view_changes_total',
    'understudy_failovers_total',
    'understudy_stalls_total',
    'understudy_stall_longest_seconds',
    'process_cpu_user_seconds_total',
  ]) {
    assert.ok(after.has(name), name);
  }
  // A backup reports its own copy: it learns the commit index with the next entries or heartbeat.
  for (const backup of view?.backups ?? []) {
    await waitFor(`${backup} to report the commit`, async () => {
      const now = await metrics(replicaAdmin(backup));
      return sampleValue(now, 'understudy_commit_index') >= commitBefore + writes &&
        sampleValue(now, 'understudy_role', { role: 'backup' }) === 1 &&
        sampleValue(now, 'understudy_state_bytes') === bytesBefore + bytesWritten
        ? true
        : undefined;
    });
  }
  const coordinator = await metrics(adminAddressOf(cluster.coordinator));
  assert.equal(sampleValue(coordinator, 'understudy_role', { role: 'coordinator' }), 1);
  assert.equal(sampleValue(coordinator, 'understudy_replica_alive', { replica: primary }), 1);
  assert.equal(sampleValue(coordinator, 'understudy_format_level'), FORMAT_LEVEL);
  const backup = await metrics(adminAddressOf(cluster.replicas.get(view?.backups[0] ?? '')));
  assert.equal(sampleValue(backup, 'understudy_format_level'), FORMAT_LEVEL);
  assert.equal(sampleValue(backup, 'understudy_format_level_readable'), FORMAT_LEVEL);
});

// A full disk stops a replica (docs/OPERATIONS.md, "A full disk"): the space left is what to alert on.
test("/metrics reports the space left on the disk that holds each server's data directory", async () => {
  const servers = [
    { name: 'coordinator', address: adminAddressOf(cluster.coordinator) },
    ...[...cluster.replicas.keys()].map((id) => ({ name: id, address: replicaAdmin(id) })),
  ];
  for (const { name, address } of servers) {
    const reported = await metrics(address);
    const disk = statfsSync(join(cluster.directory, name));
    assert.equal(sampleValue(reported, 'understudy_disk_size_bytes'), disk.blocks * disk.bsize, name);
    // Free as df shows it, without the blocks reserved for root; other writers on this machine move
    // it between the two reads, by far less than that reserve (a gauge of all free blocks fails).
    const free = sampleValue(reported, 'understudy_disk_free_bytes');
    assert.ok(Math.abs(free - disk.bavail * disk.bsize) < 256 * 1024 * 1024, `${name}: ${free}`);
  }
});

test('/primary is 200 only on the primary and /replica only on the backups; the coordinator is neither', async () => {
  const view = (await cluster.status()).view;
  assert.ok(view !== null);
  await waitFor('the health checks to follow the roles', async () => {
    for (const id of cluster.replicas.keys()) {
      const isPrimary = id === view.primary;
      const primary = await ask(replicaAdmin(id), '/primary');
      const replica = await ask(replicaAdmin(id), '/replica');
      if (primary.status !== (isPrimary ? 200 : 503)) return undefined;
      if (replica.status !== (isPrimary ? 503 : 200)) return undefined;
    }
    return true;
  });
  const body = JSON.parse((await ask(replicaAdmin(view.backups[0] ?? ''), '/primary')).body);
  assert.equal(body.role, 'backup');
  assert.equal(typeof body.reason, 'string');
  for (const path of ['/primary', '/replica']) {
    assert.equal((await ask(adminAddressOf(cluster.coordinator), path)).status, 503);
  }
});

test('/status has the JSON shape of understudy status --json: all replicas at the coordinator, itself at a replica', async () => {
  const cli = await runCli(['status', '--json', '--coordinator', cluster.coordinatorAddress]);
  assert.equal(cli.code, 0, cli.stderr);
  const printed = JSON.parse(cli.stdout);
  assert.deepEqual(printed.service, { name: 'understudy-kv', version: 1 }, 'the service the cluster runs');
  const rowKeys = Object.keys(printed.replicas[0]).sort();
  const fromCoordinator = JSON.parse((await ask(adminAddressOf(cluster.coordinator), '/status')).body);
  assert.deepEqual(Object.keys(fromCoordinator).sort(), Object.keys(printed).sort());
  assert.deepEqual(fromCoordinator.view, printed.view);
  assert.deepEqual(
    fromCoordinator.replicas.map((row: { id: string }) => row.id),
    printed.replicas.map((row: { id: string }) => row.id),
  );
  for (const row of fromCoordinator.replicas) assert.deepEqual(Object.keys(row).sort(), rowKeys);
  for (const id of cluster.replicas.keys()) {
    const own = JSON.parse((await ask(replicaAdmin(id), '/status')).body);
    assert.deepEqual(Object.keys(own).sort(), Object.keys(printed).sort());
    assert.deepEqual(own.view, printed.view);
    assert.equal(own.replicas.length, 1);
    assert.equal(own.replicas[0].id, id);
    assert.deepEqual(own.service, printed.service);
    assert.deepEqual(Object.keys(own.replicas[0]).sort(), rowKeys);
    assert.equal(own.replicas[0].role, printed.replicas.find((row: { id: string }) => row.id === id)?.role);
  }
});

test('an unknown path is 404 and a method other than GET or HEAD is 405, on every admin port', async () => {
  const addresses = [adminAddressOf(cluster.coordinator), ...[...cluster.replicas.keys()].map(replicaAdmin)];
  for (const address of addresses) {
    assert.equal((await ask(address, '/nope')).status, 404);
    // The dashboard is the coordinator's alone (test/integration/dashboard.test.ts drives it).
    assert.equal((await ask(address, '/')).status, address === addresses[0] ? 200 : 404);
    const posted = await ask(address, '/metrics', 'POST');
    assert.equal(posted.status, 405);
    assert.equal(posted.headers.get('allow'), 'GET, HEAD');
    const head = await ask(address, '/status', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  }
});

test('after kill -9 of the primary, the new primary answers 200 on /primary and the coordinator counts a failover', async () => {
  const coordinatorAdmin = adminAddressOf(cluster.coordinator);
  const failoversBefore = sampleValue(await metrics(coordinatorAdmin), 'understudy_failovers_total');
  const viewBefore = sampleValue(await metrics(coordinatorAdmin), 'understudy_view_number');
  const killed = await primaryId();
  await cluster.kill(killed);
  const survivors = [...cluster.replicas.keys()];
  const promoted = await waitFor(
    'a surviving replica to answer 200 on /primary',
    async () => {
      for (const id of survivors) if ((await ask(replicaAdmin(id), '/primary')).status === 200) return id;
      return undefined;
    },
    60_000,
  );
  assert.notEqual(promoted, killed);
  assert.equal(await primaryId(), promoted);
  const coordinator = await metrics(coordinatorAdmin);
  assert.ok(sampleValue(coordinator, 'understudy_failovers_total') >= failoversBefore + 1);
  assert.ok(sampleValue(coordinator, 'understudy_view_number') > viewBefore);
  assert.equal(sampleValue(coordinator, 'understudy_replica_alive', { replica: killed }), 0);
  const promotedMetrics = await metrics(replicaAdmin(promoted));
  assert.equal(sampleValue(promotedMetrics, 'understudy_role', { role: 'primary' }), 1);
  assert.ok(sampleValue(promotedMetrics, 'understudy_failovers_total') >= 1);
  const client = await cluster.client();
  await client.put('after-failover', 'yes');
  // The other survivor is a backup of the new view: /replica says so.
  const other = survivors.find((id) => id !== promoted);
  if (other !== undefined) {
    await waitFor('the other survivor to pass /replica', async () =>
      (await ask(replicaAdmin(other), '/replica')).status === 200 ? true : undefined,
    );
  }
});

test('a bad --admin value is refused with a clear error, and a taken admin port stops the server', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'understudy-admin-'));
  try {
    const replica = (adminValue: string) =>
      runCli([
        'replica',
        '--id',
        'r9',
        '--listen',
        '127.0.0.1:0',
        '--coordinator',
        '127.0.0.1:1',
        '--dir',
        join(directory, 'r9'),
        '--admin',
        adminValue,
      ]);
    for (const bad of ['nonsense', '127.0.0.1:99999', 'http://127.0.0.1:80']) {
      const refused = await replica(bad);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(
        refused.stderr,
        /--admin <\[host:\]port>' argument .* is invalid\. expected \[host:\]port/,
      );
    }
    const coordinator = await runCli([
      'coordinator',
      '--listen',
      '127.0.0.1:0',
      '--dir',
      directory,
      '--admin',
      '65536',
    ]);
    assert.equal(coordinator.code, 2);
    assert.match(coordinator.stderr, /--admin.*expected \[host:\]port with a port from 0 to 65535/);
    const overlap = await runCli(['start', '--port', '47000', '--admin-port', '47002', '--dir', directory]);
    assert.equal(overlap.code, 2);
    assert.match(overlap.stderr, /--admin-port 47002 overlaps the cluster's ports 47000\.\.47003/);
    const tooHigh = await runCli(['start', '--port', '64600', '--dir', directory]);
    assert.equal(tooHigh.code, 2);
    assert.match(tooHigh.stderr, /admin port 65600 leaves no room .* choose --admin-port/);
    // Taken: the replica started, could not open its admin port, closed again and exited 1.
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const address = holder.address();
    assert.ok(typeof address === 'object' && address !== null);
    try {
      const taken = await replica(`127.0.0.1:${address.port}`);
      assert.equal(taken.code, 1, taken.stderr);
      // A fatal line for the log pipeline, then the command line's own.
      assert.match(
        taken.stderr,
        /^\{"level":"fatal"[^\n]*"error":"[^"]*EADDRINUSE[^"]*","message":"could not start; stopping"\}\n/m,
      );
      assert.match(taken.stderr, /^error: .*EADDRINUSE/m);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
