// Scenario tests of the pure protocol core, run in the deterministic simulated cluster.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultProtocolConfig, tinyProtocolConfig } from '../../src/protocol/config.js';
import type { ClientReply, ClientRequest } from '../../src/protocol/messages.js';
import { clientId, type Durability, type ReplicaId } from '../../src/protocol/types.js';
import { SimCluster } from '../../src/sim/cluster.js';
import {
  decodeResult,
  encodeOperation,
  type KvOperation,
  kvOperation,
} from '../../src/state-machine/index.js';
import { KeyValueStore } from '../../src/state-machine/kv-store.js';

const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const decodeText = (value: Uint8Array | null): string | null =>
  value === null ? null : new TextDecoder().decode(value);

function newCluster(seed = 1, config = defaultProtocolConfig): SimCluster {
  return new SimCluster({ seed, replicaCount: 3, config, createStateMachine: () => new KeyValueStore() });
}

function awaitView(
  cluster: SimCluster,
  condition: (view: NonNullable<ReturnType<SimCluster['view']>>) => boolean,
) {
  const ok = cluster.runUntil(() => {
    const view = cluster.view();
    return view !== null && condition(view) && cluster.replica(view.primary)?.status().leaseValid === true;
  }, 5_000);
  assert.ok(ok, `view condition not reached; view is ${JSON.stringify(cluster.view())}`);
  const view = cluster.view();
  assert.ok(view !== null);
  return view;
}

let requestIds = 0;

const openedSessions = new WeakMap<SimCluster, Set<string>>();

/** Opens the session of `client` (once per cluster), as a client does before its first write. */
function openSession(cluster: SimCluster, client: string): void {
  const opened = openedSessions.get(cluster) ?? new Set<string>();
  openedSessions.set(cluster, opened);
  if (opened.has(client)) return;
  opened.add(client);
  const view = cluster.view();
  assert.ok(view !== null, 'no view yet');
  const request: ClientRequest = {
    type: 'request',
    id: ++requestIds,
    kind: 'open-session',
    clientId: clientId(client),
    requestNumber: 0,
    durability: 'sync',
    operation: new Uint8Array(0),
    staleness: null,
  };
  const connection = 6;
  cluster.submit(connection, view.primary, request);
  let reply: ClientReply | undefined;
  cluster.runUntil(() => {
    reply ??= cluster.takeReplies(connection).find((candidate) => candidate.id === request.id);
    return reply !== undefined;
  }, 2_000);
  assert.ok(reply?.ok, `session of ${client} not opened`);
}

/** Sends one request to the current primary and steps until its reply arrives. */
function call(
  cluster: SimCluster,
  operation: KvOperation,
  options: { client?: string; requestNumber?: number; durability?: Durability; to?: ReplicaId } = {},
): ClientReply {
  const view = cluster.view();
  assert.ok(view !== null, 'no view yet');
  const read = operation.kind === 'get';
  const client = options.client ?? 'client-1';
  if (!read) openSession(cluster, client);
  const request: ClientRequest = {
    type: 'request',
    id: ++requestIds,
    kind: read ? 'read' : 'write',
    clientId: clientId(client),
    requestNumber: read ? 0 : (options.requestNumber ?? requestIds),
    durability: options.durability ?? 'sync',
    operation: encodeOperation(operation),
    staleness: null,
  };
  const connection = 7;
  cluster.submit(connection, options.to ?? view.primary, request);
  let reply: ClientReply | undefined;
  cluster.runUntil(() => {
    reply ??= cluster.takeReplies(connection).find((candidate) => candidate.id === request.id);
    return reply !== undefined;
  }, 2_000);
  assert.ok(reply !== undefined, 'no reply');
  return reply;
}

function get(cluster: SimCluster, key: string): string | null {
  const reply = call(cluster, kvOperation.get(text(key)));
  assert.ok(reply.ok, `get failed: ${JSON.stringify(reply)}`);
  return decodeText(decodeResult('get', reply.result).value);
}

test('the first view has one primary, two backups, and a lease', () => {
  const cluster = newCluster();
  const view = awaitView(cluster, (candidate) => candidate.backups.length === 2);
  assert.equal(view.number, 1);
  assert.deepEqual([view.primary, ...view.backups].sort(), ['r1', 'r2', 'r3']);
});

test('a sync write is answered once every backup has it on disk, and reads return it', () => {
  const cluster = newCluster();
  const view = awaitView(cluster, (candidate) => candidate.backups.length === 2);
  const reply = call(cluster, kvOperation.put(text('k'), text('v1')));
  assert.ok(reply.ok);
  assert.equal(reply.durability, 'sync');
  assert.deepEqual([...reply.replicas].sort(), ['r1', 'r2', 'r3']);
  for (const id of view.backups) {
    const entries = cluster.replica(id)?.entries() ?? [];
    assert.equal(entries.at(-1)?.index, reply.index, `backup ${id} holds the entry`);
  }
  assert.equal(get(cluster, 'k'), 'v1');
});

test('an async write is answered after the primary alone has it on disk', () => {
  const cluster = newCluster();
  awaitView(cluster, (candidate) => candidate.backups.length === 2);
  const reply = call(cluster, kvOperation.put(text('k'), text('fast')), { durability: 'async' });
  assert.ok(reply.ok);
  assert.equal(reply.durability, 'async');
  assert.equal(reply.replicas.length, 1);
  assert.equal(get(cluster, 'k'), 'fast');
});

test('a retried request is answered from the session table, never executed twice', () => {
  const cluster = newCluster();
  awaitView(cluster, (candidate) => candidate.backups.length === 2);
  const first = call(cluster, kvOperation.append(text('list'), text('a;')), { requestNumber: 1 });
  const retry = call(cluster, kvOperation.append(text('list'), text('a;')), { requestNumber: 1 });
  assert.ok(first.ok && retry.ok);
  assert.equal(retry.index, first.index);
  assert.equal(get(cluster, 'list'), 'a;');
  assert.ok(call(cluster, kvOperation.append(text('list'), text('b;')), { requestNumber: 2 }).ok);
  const old = call(cluster, kvOperation.append(text('list'), text('a;')), { requestNumber: 1 });
  assert.equal(old.ok, false);
  assert.equal(old.ok === false && old.code, 'REQUEST_TOO_OLD');
  assert.equal(get(cluster, 'list'), 'a;b;');
});

test('when the primary crashes, a backup takes over after the lease and keeps every acknowledged write', () => {
  const cluster = newCluster(3);
  const view = awaitView(cluster, (candidate) => candidate.backups.length === 2);
  for (let number = 1; number <= 5; number++) {
    const reply = call(cluster, kvOperation.append(text('list'), text(`${number};`)), {
      requestNumber: number,
    });
    assert.ok(reply.ok);
  }
  const crashedAt = cluster.now;
  cluster.crash(view.primary);
  const next = awaitView(cluster, (candidate) => candidate.primary !== view.primary);
  assert.ok(view.backups.includes(next.primary), 'the new primary was a backup');
  assert.ok(cluster.now - crashedAt >= defaultProtocolConfig.leaseTicks, 'not before the old lease ran out');
  // The client retries its last request at the new primary: answered, not executed again.
  const retry = call(cluster, kvOperation.append(text('list'), text('5;')), { requestNumber: 5 });
  assert.ok(retry.ok);
  assert.equal(get(cluster, 'list'), '1;2;3;4;5;');
});

test('a crashed backup is removed by a new view and writes go on', () => {
  const cluster = newCluster(4);
  const view = awaitView(cluster, (candidate) => candidate.backups.length === 2);
  const victim = view.backups[0] as ReplicaId;
  cluster.crash(victim);
  const next = awaitView(cluster, (candidate) => !candidate.backups.includes(victim));
  assert.equal(next.primary, view.primary);
  const reply = call(cluster, kvOperation.put(text('k'), text('after')));
  assert.ok(reply.ok);
  assert.equal(get(cluster, 'k'), 'after');
});

test('a restarted replica rejoins as a learner, catches up and becomes a backup again', () => {
  const cluster = newCluster(5, tinyProtocolConfig);
  const view = awaitView(cluster, (candidate) => candidate.backups.length === 2);
  const victim = view.backups[0] as ReplicaId;
  cluster.crash(victim);
  awaitView(
    cluster,
    (candidate) => !candidate.backups.includes(victim) && !candidate.learners.includes(victim),
  );
  for (let number = 1; number <= 20; number++) {
    assert.ok(call(cluster, kvOperation.incr(text('n')), { requestNumber: number }).ok);
  }
  cluster.start(victim);
  awaitView(cluster, (candidate) => candidate.backups.includes(victim));
  const primary = cluster.replica(view.primary);
  assert.ok(primary !== null);
  const lastIndex = primary.status().lastIndex;
  cluster.runUntil(() => (cluster.replica(victim)?.status().commitIndex ?? 0) >= lastIndex, 1_000);
  const rejoined = cluster.replica(victim);
  assert.ok(rejoined !== null);
  assert.equal(rejoined.status().lastIndex, lastIndex);
  // Each replica compacts its log to its own snapshots (at thresholds of its own): the entries both
  // still hold must agree, and so must the state they apply to.
  const views = new Map(rejoined.entries().map((entry) => [entry.index, entry.view]));
  for (const entry of primary.entries()) {
    if (views.has(entry.index)) assert.equal(views.get(entry.index), entry.view, `entry ${entry.index}`);
  }
  rejoined.applyCommitted();
  assert.deepEqual(
    Buffer.from(rejoined.currentStateMachine().snapshot()),
    Buffer.from(primary.currentStateMachine().snapshot()),
  );
});

test('a replica whose log diverged truncates exactly the diverged suffix', () => {
  const cluster = newCluster(6);
  const view = awaitView(cluster, (candidate) => candidate.backups.length === 2);
  const old = view.primary;
  assert.ok(call(cluster, kvOperation.put(text('k'), text('committed'))).ok);
  openSession(cluster, 'lonely');
  const committedLength = cluster.replica(old)?.entries().length ?? 0;
  // Cut the primary off, let it append an entry nobody else gets, then crash it.
  cluster.isolate(old);
  cluster.submit(9, old, {
    type: 'request',
    id: 1_000,
    clientId: clientId('lonely'),
    requestNumber: 1,
    kind: 'write',
    staleness: null,
    durability: 'async',
    operation: encodeOperation(kvOperation.put(text('k'), text('lost'))),
  });
  cluster.heal();
  cluster.isolate(old);
  cluster.run(5);
  assert.equal(cluster.replica(old)?.entries().length, committedLength + 1, 'the old primary appended alone');
  cluster.crash(old);
  cluster.heal();
  const next = awaitView(cluster, (candidate) => candidate.primary !== old);
  assert.ok(call(cluster, kvOperation.put(text('k'), text('new-1'))).ok);
  assert.ok(call(cluster, kvOperation.put(text('k'), text('new-2'))).ok);
  cluster.start(old);
  awaitView(cluster, (candidate) => candidate.backups.includes(old));
  const expected = cluster.replica(next.primary)?.entries() ?? [];
  cluster.runUntil(() => cluster.replica(old)?.entries().length === expected.length, 1_000);
  const rejoined = cluster.replica(old)?.entries() ?? [];
  assert.deepEqual(
    rejoined.map((entry) => [entry.view, entry.index]),
    expected.map((entry) => [entry.view, entry.index]),
  );
  assert.equal(get(cluster, 'k'), 'new-2');
});

test('a primary cut off from the coordinator stops answering reads before a new primary is appointed', () => {
  const cluster = newCluster(7);
  const view = awaitView(cluster, (candidate) => candidate.backups.length === 2);
  assert.ok(call(cluster, kvOperation.put(text('k'), text('v1'))).ok);
  cluster.isolate(view.primary);
  awaitView(cluster, (candidate) => candidate.primary !== view.primary);
  assert.ok(call(cluster, kvOperation.put(text('k'), text('v2'))).ok);
  // The deposed primary still believes in its old view, but its lease ran out: no stale read.
  cluster.heal();
  cluster.block(view.primary, 'coordinator');
  cluster.block('coordinator', view.primary);
  const stale = call(cluster, kvOperation.get(text('k')), { to: view.primary });
  assert.equal(stale.ok, false);
  assert.equal(get(cluster, 'k'), 'v2');
});

test('a primary restarted within the failure timeout leads only in a new view, and logs stay equal', () => {
  const cluster = newCluster(11);
  const view = awaitView(cluster, (candidate) => candidate.backups.length === 2);
  const old = view.primary;
  assert.ok(call(cluster, kvOperation.incr(text('n')), { requestNumber: 1 }).ok);
  openSession(cluster, 'burst');
  // The primary's disk is slow: the backups have the next entries on disk, the primary does not.
  cluster.setDiskFaults(old, { fsyncTicksMin: 50, fsyncTicksMax: 50, tornWriteProbability: 0 });
  for (let number = 2; number <= 4; number++) {
    cluster.submit(3, old, {
      type: 'request',
      id: 500 + number,
      clientId: clientId('burst'),
      requestNumber: number,
      kind: 'write',
      staleness: null,
      durability: 'sync',
      operation: encodeOperation(kvOperation.incr(text('n'))),
    });
  }
  cluster.run(10);
  const backupEntries = cluster.replica(view.backups[0] as ReplicaId)?.entries().length ?? 0;
  assert.ok(
    backupEntries > (cluster.replica(old)?.status().durableIndex ?? 0),
    'backups are ahead of the primary disk',
  );
  cluster.crash(old);
  cluster.setDiskFaults(old, null);
  cluster.start(old); // back before anyone noticed it was gone
  const next = awaitView(cluster, (candidate) => candidate.number > view.number);
  for (let number = 5; number <= 8; number++) {
    assert.ok(call(cluster, kvOperation.incr(text('n')), { requestNumber: number }).ok);
  }
  awaitView(cluster, (candidate) => candidate.backups.length === 2);
  const ids = [next.primary, ...view.backups, old];
  cluster.runUntil(
    () => new Set(ids.map((id) => cluster.replica(id)?.status().commitIndex)).size === 1,
    2_000,
  );
  const logs = ids.map((id) =>
    JSON.stringify(
      cluster
        .replica(id)
        ?.entries()
        .map((entry) => [entry.view, entry.index, entry.clientId, entry.requestNumber]),
    ),
  );
  assert.equal(new Set(logs).size, 1, 'every replica holds the same log');
  const counter = Number(get(cluster, 'n'));
  assert.ok(counter >= 5 && counter <= 8, `counter ${counter}`);
});

test('after the primary restarts, a far-behind learner becomes a backup only once it caught up', () => {
  const cluster = new SimCluster({
    seed: 12,
    replicaCount: 2,
    config: tinyProtocolConfig,
    createStateMachine: () => new KeyValueStore(),
  });
  const view = awaitView(cluster, (candidate) => candidate.backups.length === 1);
  const [primary, backup] = [view.primary, view.backups[0] as ReplicaId];
  cluster.crash(backup);
  awaitView(cluster, (candidate) => candidate.backups.length === 0 && candidate.learners.length === 0);
  const writes = 200;
  for (let number = 1; number <= writes; number++) {
    assert.ok(call(cluster, kvOperation.incr(text('n')), { requestNumber: number }).ok);
  }
  // The primary restarts: it no longer knows its commit index. The backup comes back far behind.
  cluster.crash(primary);
  cluster.start(primary);
  cluster.start(backup);
  awaitView(cluster, (candidate) => candidate.backups.includes(backup));
  assert.ok(
    (cluster.replica(backup)?.status().durableIndex ?? 0) >= writes,
    'promoted only after holding every entry the primary had when its view began',
  );
  cluster.crash(primary);
  awaitView(cluster, (candidate) => candidate.primary === backup);
  assert.equal(get(cluster, 'n'), String(writes));
});

// ---- issue 6: the holes, as whole-cluster scenarios --------------------------------------------

test('hole 3: a primary that stalled past its lease, cut off from the coordinator, serves no stale read on resume', () => {
  const cluster = newCluster(21);
  const view = awaitView(cluster, (candidate) => candidate.backups.length === 2);
  const old = view.primary;
  assert.ok(call(cluster, kvOperation.put(text('k'), text('v1'))).ok);
  cluster.block('coordinator', old);
  cluster.pause(old);
  awaitView(cluster, (candidate) => candidate.primary !== old);
  assert.ok(call(cluster, kvOperation.put(text('k'), text('v2'))).ok);
  // A client that still knows the old primary reads through it; the read waits in its socket.
  const request: ClientRequest = {
    type: 'request',
    id: 9_000,
    clientId: clientId('late-reader'),
    requestNumber: 0,
    kind: 'read',
    staleness: null,
    durability: 'sync',
    operation: encodeOperation(kvOperation.get(text('k'))),
  };
  cluster.submit(9, old, request);
  cluster.run(5);
  cluster.resume(old);
  let reply: ClientReply | undefined;
  cluster.runUntil(() => {
    reply ??= cluster.takeReplies(9).find((candidate) => candidate.id === request.id);
    return reply !== undefined;
  }, 500);
  assert.ok(reply !== undefined);
  if (reply.ok) assert.equal(decodeText(decodeResult('get', reply.result).value), 'v2', 'no stale read');
  else assert.equal(reply.code, 'NOT_PRIMARY');
});

test('hole 2: a backup wiped and restarted at once never leads with its empty log; acknowledged writes survive', () => {
  const cluster = newCluster(22);
  const view = awaitView(cluster, (candidate) => candidate.backups.length === 2);
  assert.ok(call(cluster, kvOperation.put(text('k'), text('kept'))).ok);
  const [wiped, other] = view.backups as [ReplicaId, ReplicaId];
  cluster.block(view.primary, wiped); // it cannot catch up before the others die
  cluster.wipe(wiped);
  cluster.start(wiped); // back within the failure timeout, with an empty directory
  cluster.run(20);
  cluster.crash(view.primary);
  cluster.crash(other);
  cluster.run(defaultProtocolConfig.failureTimeoutTicks * 5);
  assert.notEqual(cluster.view()?.primary, wiped, 'an empty log never leads');
  cluster.heal();
  cluster.start(other);
  awaitView(cluster, (candidate) => candidate.primary === other);
  assert.equal(get(cluster, 'k'), 'kept');
});

test('hole 6: a primary whose disk hangs is replaced, and writes go on', () => {
  const cluster = newCluster(23);
  const view = awaitView(cluster, (candidate) => candidate.backups.length === 2);
  assert.ok(call(cluster, kvOperation.put(text('k'), text('before'))).ok);
  openSession(cluster, 'stuck-writer');
  cluster.setDiskHung(view.primary, true);
  // Its timers still heartbeat; what gives it away is a write that never becomes durable.
  cluster.submit(8, view.primary, {
    type: 'request',
    id: 8_000,
    clientId: clientId('stuck-writer'),
    requestNumber: 1,
    kind: 'write',
    staleness: null,
    durability: 'sync',
    operation: encodeOperation(kvOperation.put(text('k'), text('stuck'))),
  });
  awaitView(cluster, (candidate) => candidate.primary !== view.primary);
  assert.ok(call(cluster, kvOperation.put(text('k'), text('after'))).ok);
  assert.equal(get(cluster, 'k'), 'after');
});

test('hole 7: a primary that hears nothing from the coordinator is replaced, and writes go on', () => {
  const cluster = newCluster(24);
  const view = awaitView(cluster, (candidate) => candidate.backups.length === 2);
  cluster.block('coordinator', view.primary);
  awaitView(cluster, (candidate) => candidate.primary !== view.primary);
  assert.ok(call(cluster, kvOperation.put(text('k'), text('after'))).ok);
  assert.equal(get(cluster, 'k'), 'after');
});

test('holes 10 and 11: after a total crash, a member of the last acknowledged view returns alone, leads and serves', () => {
  const cluster = newCluster(25);
  const view = awaitView(cluster, (candidate) => candidate.backups.length === 2);
  for (let number = 1; number <= 3; number++) {
    assert.ok(call(cluster, kvOperation.incr(text('n')), { requestNumber: number }).ok);
  }
  // They all die within a failure timeout, so the coordinator notices them one by one and forms
  // views whose primaries are already dead (never acknowledged).
  for (const id of [view.primary, ...view.backups]) {
    cluster.crash(id);
    cluster.run((defaultProtocolConfig.failureTimeoutTicks * 2) / 3);
  }
  cluster.run(defaultProtocolConfig.failureTimeoutTicks * 3);
  const returning = view.primary; // the first to die: passed over by the views formed since
  cluster.start(returning);
  awaitView(cluster, (candidate) => candidate.primary === returning);
  assert.equal(get(cluster, 'n'), '3', 'it answers reads of what it inherited at once');
});

test('hole 5: a coordinator that lost its state stops the cluster until the operator names every replica', () => {
  const cluster = newCluster(26);
  awaitView(cluster, (candidate) => candidate.backups.length === 2);
  assert.ok(call(cluster, kvOperation.put(text('k'), text('v'))).ok);
  const before = cluster.view()?.number ?? 0;
  cluster.crashCoordinator();
  cluster.startCoordinator({ wipeState: true });
  cluster.run(defaultProtocolConfig.failureTimeoutTicks * 5);
  assert.equal(cluster.coordinator?.currentView(), null, 'it forms no view of its own');
  assert.match(cluster.coordinator?.problem ?? '', /no state/);
  cluster.crashCoordinator();
  cluster.startCoordinator({ recoverFromReplicas: [...cluster.nodes.keys()] });
  const rebuilt = awaitView(cluster, (candidate) => candidate.backups.length === 2);
  assert.ok(rebuilt.number > before, 'views only go up');
  assert.equal(get(cluster, 'k'), 'v');
});
