// Scenario tests of the third durability level, `replicated` (issue 8, item 7), and of the commit
// quorum (`syncQuorum`, issue 8, item 6a), pinned at the level of the core where each rule lives.
// Each fails with its rule switched off (checked when it was written).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ProtocolConfig, syncQuorumAll } from '../../src/protocol/config.js';
import { Coordinator } from '../../src/protocol/coordinator.js';
import { FORMAT_LEVEL } from '../../src/protocol/format-level.js';
import type { ClientReply } from '../../src/protocol/messages.js';
import type { TestOnlyFaults } from '../../src/protocol/test-only-faults.js';
import { clientId, logIndex, type View, viewNumber } from '../../src/protocol/types.js';
import { kvOperation } from '../../src/state-machine/index.js';
import {
  CoordinatorHarness,
  config,
  entries,
  type HeartbeatFields,
  identityOf,
  ReplicaHarness,
  r1,
  r2,
  r3,
  settle,
  storedState,
  text,
  view,
} from './core-fixtures.js';

const r4 = 'r4' as typeof r1;
const at = (entryView: number, index: number) => ({ view: viewNumber(entryView), index: logIndex(index) });

function okReply(reply: ClientReply | undefined): Extract<ClientReply, { ok: true }> {
  assert.ok(reply?.ok === true, `expected a success, got ${JSON.stringify(reply)}`);
  return reply;
}

// ---- replicated: acknowledged on the primary's disk and every backup's memory ---------------------

test('a replicated write is acknowledged once the primary fsynced it and every backup received it, before the backups fsync', () => {
  const primary = new ReplicaHarness(r1);
  primary.lead(view(3, r1, [r2, r3]));
  primary.openSession('client');
  primary.syncAll();
  const opened = primary.lastIndex();
  primary.ack(r2, opened);
  primary.ack(r3, opened);
  const write = primary.request(kvOperation.put(text('k'), text('v')), { durability: 'replicated' });
  const index = primary.lastIndex();
  primary.syncAll();
  // r2 has it in memory, r3 not yet: no answer.
  primary.ack(r2, opened, index);
  assert.equal(primary.replyTo(write), undefined, 'every backup must have received it');
  // r3 has it in memory too; neither backup has fsynced it.
  primary.ack(r3, opened, index);
  const reply = okReply(primary.replyTo(write));
  assert.equal(reply.durability, 'replicated');
  assert.deepEqual(reply.replicas, [r1, r2, r3]);
  assert.equal(primary.replica.status().commitIndex, opened, 'not committed: no backup fsynced it');
  // A sync write at the same point waits for the backups' disks.
  const sync = primary.request(kvOperation.put(text('s'), text('v')));
  primary.syncAll();
  primary.ack(r2, opened, primary.lastIndex());
  primary.ack(r3, opened, primary.lastIndex());
  assert.equal(primary.replyTo(sync), undefined, 'a sync write waits for every backup to fsync it');
  primary.ack(r2, primary.lastIndex());
  primary.ack(r3, primary.lastIndex());
  assert.equal(okReply(primary.replyTo(sync)).durability, 'sync');
});

test("a replicated write waits for the primary's own fsync", () => {
  const primary = new ReplicaHarness(r1);
  primary.lead(view(3, r1, [r2]));
  primary.openSession('client');
  primary.syncAll();
  primary.ack(r2, primary.lastIndex());
  const write = primary.request(kvOperation.put(text('k'), text('v')), { durability: 'replicated' });
  primary.ack(r2, primary.lastIndex() - 1, primary.lastIndex());
  assert.equal(primary.replyTo(write), undefined, 'the backup has it, the primary has not fsynced it');
  primary.syncAll();
  assert.equal(okReply(primary.replyTo(write)).durability, 'replicated');
});

test('a backup acknowledges receipt of a replicated entry at once, and of a sync entry only after its fsync', () => {
  const backup = new ReplicaHarness(r2);
  const current = view(3, r1, [r2]);
  backup.adopt(current);
  const entry = (index: number, durability: 'sync' | 'replicated') => ({
    view: viewNumber(3),
    index: logIndex(index),
    clientId: clientId('client'),
    requestNumber: index,
    durability,
    refused: false,
    update: new Uint8Array(),
    result: new Uint8Array(),
  });
  const prepare = (index: number, durability: 'sync' | 'replicated') => {
    backup.sent.length = 0;
    backup.replica.receiveFromPeer(r1, {
      type: 'prepare',
      view: viewNumber(3),
      previous: at(index === 1 ? 0 : 3, index - 1),
      entries: [entry(index, durability)],
      commitIndex: logIndex(0),
      echo: -1,
    });
    backup.drain();
    return backup.sent.flatMap(({ message }) => (message.type === 'prepare_ok' ? [message] : []));
  };
  assert.deepEqual(prepare(1, 'sync'), [], 'a sync entry is acknowledged after the fsync only');
  const receipts = prepare(2, 'replicated');
  assert.equal(receipts.length, 1, 'a replicated entry is acknowledged on receipt');
  assert.equal(receipts[0]?.received, 2);
  assert.equal(receipts[0]?.index, 0, 'nothing is on disk yet');
  backup.sent.length = 0;
  backup.syncAll();
  const durable = backup.sent.flatMap(({ message }) => (message.type === 'prepare_ok' ? [message] : []));
  assert.deepEqual(
    durable.map(({ index, received }) => [index, received]),
    [[2, 2]],
  );
});

test('a backup that restarted is not counted on for what its earlier process received', () => {
  const primary = new ReplicaHarness(r1);
  primary.lead(view(3, r1, [r2]));
  primary.openSession('client');
  primary.syncAll();
  const opened = primary.lastIndex();
  primary.ack(r2, opened);
  primary.request(kvOperation.put(text('a'), text('1')), { durability: 'replicated' });
  primary.syncAll();
  primary.ack(r2, opened, primary.lastIndex());
  // r2 restarts (its memory is gone): its SyncRequest shows a log that ends where its disk did.
  primary.replica.receiveFromPeer(r2, {
    type: 'sync',
    view: viewNumber(3),
    base: at(0, 0),
    epochs: [{ view: viewNumber(3), startIndex: logIndex(1) }],
    lastIndex: logIndex(opened),
    formatLevel: FORMAT_LEVEL,
  });
  primary.drain();
  const next = primary.request(kvOperation.put(text('b'), text('2')), { durability: 'replicated' });
  primary.syncAll();
  assert.equal(primary.replyTo(next), undefined, 'the old receipt of r2 does not cover the new write');
  primary.ack(r2, opened, primary.lastIndex());
  assert.deepEqual(okReply(primary.replyTo(next)).replicas, [r1, r2]);
});

// ---- replicated: failover chooses by what backups hold, and not a restarted one's old report --------

/** The coordinator of view 4 {r1; r2, r3}, with r1 gone and r2, r3 reporting as given. */
function failover(beats: readonly (readonly [typeof r1, HeartbeatFields])[], faults: TestOnlyFaults = {}) {
  const current = view(4, r1, [r2, r3]);
  const harness = new CoordinatorHarness(storedState(current));
  if (Object.keys(faults).length > 0) {
    // The harness builds its coordinator with no faults; swap in one with them, same state and clock.
    Object.assign(harness, {
      coordinator: new Coordinator({
        config,
        stored: storedState(current),
        clock: harness.clock.read,
        testOnlyFaults: faults,
      }),
    });
  }
  harness.run(settle * 2, () => beats);
  return harness.coordinator.currentView();
}

test('the coordinator does not promote a backup whose received position came from before a restart', () => {
  // r2 restarted (incarnation 2): it holds what its disk held, (4, 9). r3's process did not restart:
  // it received (4, 10), a replicated write perhaps acknowledged; what it last reported of its disk
  // is older, (4, 8).
  const beats = [
    [r2, { incarnation: 2, durable: at(4, 9), received: at(4, 9), view: null }],
    [r3, { durable: at(4, 8), received: at(4, 10) }],
  ] as const;
  const chosen = failover(beats);
  assert.equal(chosen?.primary, r3, 'the backup whose process held everything leads');
  assert.deepEqual(chosen?.learners, [r2], 'the restarted one proves itself as a learner');
  // Ranked by the disk alone (as before replicated writes), the restarted r2 would lead and lose (4, 10).
  assert.equal(failover(beats, { rankCandidatesByDiskOnly: true })?.primary, r2);
});

test('a restarted backup whose report reads as long as the others does not lead while one that did not restart is alive', () => {
  // r3's last report is stale: it received (4, 10) since, but its report says (4, 9), no more than
  // what the restarted r2 holds. Every backup that did not restart holds every acknowledged write.
  const chosen = failover([
    [r2, { incarnation: 2, durable: at(4, 9), received: at(4, 9), view: null }],
    [r3, { durable: at(4, 9), received: at(4, 9) }],
  ]);
  assert.equal(chosen?.primary, r3);
});

test('among backups that did not restart, the one that received the most leads', () => {
  const chosen = failover([
    [r2, { durable: at(4, 8), received: at(4, 11) }],
    [r3, { durable: at(4, 9), received: at(4, 9) }],
  ]);
  assert.equal(chosen?.primary, r2, 'r2 holds (4, 11) in memory');
  assert.deepEqual(chosen?.backups, [r3]);
});

test('when no replica that held everything is alive, a restarted backup leads, and the coordinator counts it', () => {
  const current = view(4, r1, [r2]);
  const harness = new CoordinatorHarness(storedState(current));
  harness.run(settle * 2, () => [[r2, { incarnation: 2, durable: at(4, 9), view: null }]]);
  assert.equal(harness.coordinator.currentView()?.primary, r2, 'every commit is on its disk');
  assert.equal(harness.coordinator.promotionsWithoutHolders, 1);
});

test('a restarted process takes a view made for its earlier process without a role, and does not lead it', () => {
  const restarted = new ReplicaHarness(r2, entries(5, 4), 2);
  const made = view(5, r2, [r3], [r1]);
  restarted.replica.receiveFromCoordinator({
    type: 'view_change',
    view: made,
    primaryIncarnation: 1,
    addresses: {},
  });
  restarted.drain();
  assert.equal(restarted.replica.status().role, 'none');
  assert.equal(restarted.replica.status().view?.number, 5, 'it follows no older view either');
  assert.deepEqual(
    restarted.sent.filter(({ message }) => message.type === 'prepare'),
    [],
    'it replicates nothing: its log may lack what its earlier process held',
  );
  // The view the coordinator makes for this process, it leads.
  restarted.replica.receiveFromCoordinator({
    type: 'view_change',
    view: view(6, r2, [r3], [r1]),
    primaryIncarnation: 2,
    addresses: {},
  });
  restarted.drain();
  assert.equal(restarted.replica.status().role, 'primary');
});

/** Hands `harness` the view `next` and says whether its heartbeat after a tick calls it ready to lead. */
function readyToLeadIn(harness: ReplicaHarness, next: View): boolean | undefined {
  harness.adopt(next);
  harness.replica.tick();
  harness.drain();
  return harness.heartbeats.at(-1)?.leadReady;
}

test('sim seed 1102070: a new primary says it is ready to lead only once its own disk holds what it received as a backup', () => {
  // r3, a backup of view 3, received a replicated entry (acknowledged to its client on the strength of
  // the old primary's disk and r3's memory) and had not synced it when it was made primary of view 4.
  const promoted = new ReplicaHarness(r3);
  promoted.adopt(view(3, r1, [r3]));
  promoted.replica.receiveFromPeer(r1, {
    type: 'prepare',
    view: viewNumber(3),
    previous: at(0, 0),
    entries: [
      {
        view: viewNumber(3),
        index: logIndex(1),
        clientId: clientId('client'),
        requestNumber: 1,
        durability: 'replicated',
        refused: false,
        update: new Uint8Array(),
        result: new Uint8Array(),
      },
    ],
    commitIndex: logIndex(0),
    echo: -1,
  });
  promoted.drain();
  const ready = readyToLeadIn(promoted, view(4, r3, [], [r1]));
  assert.equal(promoted.replica.status().role, 'primary');
  assert.equal(
    ready,
    false,
    'the coordinator would count on its disk for the replicated write, which only its memory holds',
  );
  const heartbeatsBefore = promoted.heartbeats.length;
  promoted.syncAll();
  assert.equal(promoted.heartbeats.length, heartbeatsBefore + 1, 'said at once, not a heartbeat later');
  assert.equal(promoted.heartbeats.at(-1)?.leadReady, true);
});

// ---- commit quorum (syncQuorum k): commit at k backups; promote only on enough reports -------------

const quorumConfig = (syncQuorum: number): ProtocolConfig => ({ ...config, syncQuorum });

test('with syncQuorum 1, a write commits once the primary and one backup of two have it on disk', () => {
  const primary = new ReplicaHarness(r1, [], 1, { config: quorumConfig(1) });
  primary.lead(view(3, r1, [r2, r3]));
  primary.openSession('client');
  primary.syncAll();
  const write = primary.request(kvOperation.put(text('k'), text('v')));
  primary.syncAll();
  assert.equal(primary.replyTo(write), undefined);
  primary.ack(r3, primary.lastIndex());
  assert.deepEqual(okReply(primary.replyTo(write)).replicas, [r1, r3]);
  // Without a quorum, the same acknowledgement is not enough.
  const all = new ReplicaHarness(r1, [], 1, { config: quorumConfig(syncQuorumAll) });
  all.lead(view(3, r1, [r2, r3]));
  all.openSession('client');
  all.syncAll();
  const waiting = all.request(kvOperation.put(text('k'), text('v')));
  all.syncAll();
  all.ack(r3, all.lastIndex());
  assert.equal(all.replyTo(waiting), undefined);
});

test('with syncQuorum k, a new primary says it is ready to lead only once k backups hold its whole log', () => {
  const primary = new ReplicaHarness(r1, entries(6, 2), 1, { config: quorumConfig(1) });
  assert.equal(
    readyToLeadIn(primary, view(3, r1, [r2, r3])),
    false,
    'entries 1..6 may have committed on backups it lost',
  );
  primary.ack(r2, 5);
  assert.equal(primary.heartbeats.at(-1)?.leadReady, false);
  primary.ack(r2, 6);
  assert.equal(
    primary.heartbeats.at(-1)?.leadReady,
    true,
    'one backup (k = 1) holds all of it: said at once',
  );
});

test('sim seed 2066: a primary kept in a new view before it was ready to lead the last one is still not ready until k backups hold its whole log', () => {
  // r3, back from a crash with entries 1..6 on its disk (its commit index forgotten), was made primary
  // of view 3 with r2 as its one backup (k = 1), which holds none of them. Before r2 caught up, view 4
  // added a learner and kept r3 primary. Ready at once, it had its view acknowledged; the coordinator
  // then counted on r2 for every commit, and promoted r2, which lacked the committed entries.
  const primary = new ReplicaHarness(r3, entries(6, 2), 1, { config: quorumConfig(1) });
  assert.equal(readyToLeadIn(primary, view(3, r3, [r2])), false, 'entries 1..6 may have committed before');
  assert.equal(
    readyToLeadIn(primary, view(4, r3, [r2], [r1])),
    false,
    'r2 still holds none of what may have committed: the new view changed nothing of that',
  );
  primary.ack(r2, primary.lastIndex());
  assert.equal(primary.heartbeats.at(-1)?.leadReady, true);
});

test('the coordinator acknowledges a view, and grants a lease, only once its primary is ready to lead it', () => {
  const current = view(4, r1, [r2, r3]);
  const harness = new CoordinatorHarness(
    storedState(current, { acknowledged: false, lastAcknowledged: null }),
  );
  assert.equal(harness.beat(r1, { leadReady: false }), 0);
  assert.ok(harness.beat(r1, { leadReady: true }) > 0);
});

function quorumHarness(current = view(4, r1, [r2, r3, r4])) {
  const harness = new CoordinatorHarness(storedState(current));
  Object.assign(harness, {
    coordinator: new Coordinator({
      config: quorumConfig(1),
      stored: storedState(current),
      clock: harness.clock.read,
    }),
  });
  return harness;
}

test('with syncQuorum 1 of 3 backups, a failover first stops the old view, then waits to hear from every backup in the new one', () => {
  const harness = quorumHarness();
  // r1 is dead. r2 and r3 report; r4 is silent (dead too, or cut off: it may hold the only copy).
  const first = () => harness.coordinator.currentView();
  harness.run(settle, () => [
    [r2, { durable: at(4, 8) }],
    [r3, { durable: at(4, 9) }],
  ]);
  const fence = first();
  assert.equal(
    fence?.primary,
    r1,
    'the fence keeps the members, so that backups stop taking the old entries',
  );
  assert.ok((fence?.number ?? 0) > 4);
  harness.run(settle * 2, () => [
    [r2, { durable: at(4, 8), view: fence }],
    [r3, { durable: at(4, 9), view: fence }],
  ]);
  assert.equal(first()?.primary, r1, 'two reports of three: a commit may be on r4 alone, so no promotion');
  harness.run(10, () => [
    [r2, { durable: at(4, 8), view: fence }],
    [r3, { durable: at(4, 9), view: fence }],
    [r4, { durable: at(4, 10), view: fence }],
  ]);
  assert.equal(first()?.primary, r4, 'every backup reported in the new view: the longest log leads');
});

test('with syncQuorum 2 of 3 backups, two reports made in the new view suffice, and the longest leads', () => {
  const current = view(4, r1, [r2, r3, r4]);
  const harness = new CoordinatorHarness(storedState(current));
  Object.assign(harness, {
    coordinator: new Coordinator({
      config: quorumConfig(2),
      stored: storedState(current),
      clock: harness.clock.read,
    }),
  });
  harness.run(settle, () => [
    [r2, { durable: at(4, 8), view: current }],
    [r3, { durable: at(4, 9), view: current }],
  ]);
  const fence = harness.coordinator.currentView();
  assert.equal(fence?.primary, r1);
  // A report of the old view does not count: r3 may still take r1's entries after it.
  harness.run(settle, () => [
    [r2, { durable: at(4, 8), view: fence }],
    [r3, { durable: at(4, 9), view: current }],
  ]);
  assert.equal(harness.coordinator.currentView()?.primary, r1);
  harness.run(10, () => [
    [r2, { durable: at(4, 8), view: fence }],
    [r3, { durable: at(4, 9), view: fence }],
  ]);
  assert.equal(harness.coordinator.currentView()?.primary, r3);
  // Without the rule, the coordinator promotes at once on the old reports.
  const unsafe = new CoordinatorHarness(storedState(current));
  Object.assign(unsafe, {
    coordinator: new Coordinator({
      config: quorumConfig(2),
      stored: storedState(current),
      clock: unsafe.clock.read,
      testOnlyFaults: { promoteWithoutQuorumReports: true },
    }),
  });
  unsafe.run(settle, () => [
    [r2, { durable: at(4, 8) }],
    [r3, { durable: at(4, 9) }],
  ]);
  assert.notEqual(unsafe.coordinator.currentView()?.primary, r1);
});

test('sim seed 10: with a commit quorum, backups of a view its primary never acknowledged are no candidates', () => {
  // View 5 {r1; -; r2, r3} was acknowledged: r1 committed alone. View 6 made r2 and r3 backups, but r1
  // never acknowledged it (they did not yet hold what it committed). r1 dies: nobody else may lead.
  const acknowledged = view(5, r1, [], [r2, r3]);
  const current = view(6, r1, [r2, r3]);
  const stored = storedState(current, { acknowledged: false, lastAcknowledged: acknowledged });
  const harness = new CoordinatorHarness(stored);
  Object.assign(harness, {
    coordinator: new Coordinator({ config: quorumConfig(1), stored, clock: harness.clock.read }),
  });
  harness.run(settle * 3, () => [
    [r2, { durable: at(5, 8), view: current }],
    [r3, { durable: at(5, 8), view: current }],
  ]);
  assert.equal(harness.coordinator.currentView()?.primary, r1, 'only r1 holds every commit');
});

test('sim seed 19: the fence view names the old primary process, so a repaired one does not lead it', () => {
  const harness = quorumHarness(view(7, r1, [r2, r3, r4]));
  // r1 came back with a repaired directory (it kept only part of its log).
  const repaired = { incarnation: 2, directory: 'directory-r1-repaired', durable: at(7, 77), view: null };
  let installed: ReturnType<Coordinator['takeEffects']>['messages'][number]['message'] | undefined;
  for (let tick = 0; tick < settle && installed === undefined; tick++) {
    harness.clock.now += 1;
    harness.coordinator.tick();
    harness.coordinator.receiveHeartbeat(harness.heartbeat(r1, repaired));
    installed = harness.coordinator
      .takeEffects()
      .messages.find(({ message }) => message.type === 'view_change')?.message;
  }
  assert.ok(installed?.type === 'view_change', 'the fence is installed');
  assert.equal(installed.view.primary, r1);
  assert.equal(installed.primaryIncarnation, identityOf(r1).incarnation, 'the process that led view 7');
});
