// Regression tests for the holes of issue 6 ("keep the promise under every fault") and for the bugs
// the simulator found while they were being closed. Each is pinned at the level of the core where
// its rule lives, so it fails without the fix whatever the schedule (each was checked by reverting
// the fix). docs/ARCHITECTURE.md lists the rules and names these tests.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import { FORMAT_LEVEL } from '../../src/protocol/format-level.js';
import { logIndex, positionZero, viewNumber } from '../../src/protocol/types.js';
import { decodeResult, kvOperation } from '../../src/state-machine/index.js';
import {
  CoordinatorHarness,
  config,
  entries,
  ReplicaHarness,
  r1,
  r2,
  r3,
  settle,
  storedState,
  text,
  view,
} from './core-fixtures.js';

// ---- hole 1: reports belong to a view ---------------------------------------------------------

test('hole 1: a "synced learner" report from an older view does not make the learner a backup', () => {
  const current = view(7, r1, [], [r2]);
  const harness = new CoordinatorHarness(storedState(current));
  // r1 is still in view 6 (the coordinator's messages to it are slow) and reports r2 synced there.
  const stale = view(6, r1, [], [r2]);
  harness.run(settle, () => [
    [r1, { view: stale, syncedLearners: [r2] }],
    [r2, { view: current }],
  ]);
  assert.deepEqual(
    harness.coordinator.currentView()?.backups,
    [],
    'a report of view 6 is not acted on in view 7',
  );
  // The same report made in the current view is.
  harness.run(2, () => [
    [r1, { view: current, syncedLearners: [r2] }],
    [r2, { view: current }],
  ]);
  assert.deepEqual(harness.coordinator.currentView()?.backups, [r2]);
});

test('hole 1: a primary forgets what it knew of its learners at every new view', () => {
  const primary = new ReplicaHarness(r1, entries(3));
  const first = view(5, r1, [], [r2]);
  primary.lead(first);
  primary.ack(r2, 3);
  primary.replica.tick();
  primary.clock.now += config.heartbeatIntervalTicks;
  primary.replica.tick();
  primary.drain();
  assert.deepEqual(primary.heartbeats.at(-1)?.syncedLearners, [r2], 'synced in view 5');
  // View 6 keeps r2 a learner (another member changed): r2 must prove itself again in view 6.
  primary.adopt(view(6, r1, [], [r2, r3]));
  primary.clock.now += config.heartbeatIntervalTicks;
  primary.replica.tick();
  primary.drain();
  assert.deepEqual(primary.heartbeats.at(-1)?.syncedLearners, [], 'nothing carried into view 6');
});

test('hole 1: a primary commits nothing in its view until the coordinator grants it a lease there', () => {
  // A reply without a lease (the coordinator has not acknowledged the view: its primary was not ready
  // to lead, or the coordinator's state is behind) acknowledges nothing. The coordinator's side grants
  // no lease then either, so the simulator could not tell this rule removed (npm run mutate).
  const primary = new ReplicaHarness(r1, entries(3));
  const current = view(5, r1, [r2]);
  primary.adopt(current);
  primary.grantLease(current, 0);
  primary.syncAll();
  primary.ack(r2, primary.lastIndex()); // the inherited entries and the view-start entry, on r2's disk
  assert.equal(primary.lastIndex(), 4, 'a view-start entry after the three inherited');
  assert.equal(primary.replica.status().commitIndex, 0, 'nothing commits in a view not acknowledged');
  primary.grantLease(current);
  assert.equal(primary.replica.status().commitIndex, 4, 'all of it once the lease came');
});

// ---- hole 2: a wiped member is a learner again and never a candidate ----------------------------

test('hole 2: a backup whose data directory changed is demoted to learner by a new view', () => {
  const current = view(4, r1, [r2, r3]);
  const harness = new CoordinatorHarness(storedState(current));
  harness.run(settle, () => [
    [r1, {}],
    [r2, { incarnation: 2, directory: 'directory-r2-wiped' }],
    [r3, {}],
  ]);
  assert.deepEqual(harness.coordinator.currentView()?.backups, [r3]);
  assert.deepEqual(harness.coordinator.currentView()?.learners, [r2]);
});

test('hole 2: a member with a wiped directory is never promoted, even if it is the only one alive', () => {
  const current = view(4, r1, [r2, r3]);
  const harness = new CoordinatorHarness(storedState(current));
  // r1 and r3 are dead; r2 came back at once with an empty directory.
  harness.run(settle * 2, () => [[r2, { incarnation: 2, directory: 'directory-r2-wiped', view: null }]]);
  assert.notEqual(harness.coordinator.currentView()?.primary, r2, 'an empty log never leads');
  // r3, which holds everything, returns: it leads, and r2 is its learner.
  harness.run(settle, () => [
    [r2, { incarnation: 2, directory: 'directory-r2-wiped' }],
    [r3, { incarnation: 2 }],
  ]);
  assert.equal(harness.coordinator.currentView()?.primary, r3);
  assert.ok(harness.coordinator.currentView()?.learners.includes(r2));
});

test('hole 2: a SyncRequest below what a follower acknowledged lowers its match index', () => {
  const primary = new ReplicaHarness(r1);
  const current = view(3, r1, [r2]);
  primary.lead(current);
  const write = primary.request(kvOperation.put(text('k'), text('v')));
  primary.syncAll();
  primary.ack(r2, primary.lastIndex());
  const written = primary.replyTo(write);
  assert.deepEqual(written?.ok === true ? written.replicas : [], [r1, r2]);
  // r2 was wiped: its log is empty now.
  primary.replica.receiveFromPeer(r2, {
    type: 'sync',
    view: viewNumber(3),
    base: positionZero,
    epochs: [],
    lastIndex: logIndex(0),
    formatLevel: FORMAT_LEVEL,
  });
  primary.drain();
  const read = primary.request(kvOperation.get(text('k')));
  const reply = primary.replyTo(read);
  assert.ok(reply?.ok === true);
  assert.deepEqual(reply.replicas, [r1], 'r2 no longer counts as holding entry 1');
});

// ---- hole 3: leases are judged by the clock, not by timer callbacks ----------------------------

test('hole 3: a primary that stalled past its lease answers no read on resume, whatever came first', () => {
  const primary = new ReplicaHarness(r1);
  const current = view(3, r1, []);
  primary.lead(current);
  const before = primary.request(kvOperation.get(text('k')));
  assert.equal(primary.replyTo(before)?.ok, true, 'answered under the lease');
  // SIGSTOP for a second: no timer fired, then the buffered read is handed over first.
  primary.clock.now += config.leaseTicks * 3;
  const after = primary.request(kvOperation.get(text('k')));
  const reply = primary.replyTo(after);
  assert.equal(reply?.ok, false);
  assert.equal(reply?.ok === false ? reply.code : '', ErrorCode.notPrimary);
});

test('hole 3: an async write whose fsync completes after the lease ran out is not acknowledged', () => {
  const primary = new ReplicaHarness(r1);
  const current = view(3, r1, []);
  primary.lead(current);
  const write = primary.request(kvOperation.put(text('k'), text('v')), { durability: 'async' });
  primary.clock.now += config.leaseTicks * 3;
  primary.syncAll();
  const reply = primary.replyTo(write);
  assert.equal(reply?.ok, false, 'a deposed primary makes no promise');
  assert.equal(reply?.ok === false ? reply.code : '', ErrorCode.notPrimary);
});

test('hole 3: a coordinator that stalled judges nobody dead for silence it caused', () => {
  const current = view(4, r1, [r2]);
  const harness = new CoordinatorHarness(storedState(current));
  harness.run(settle, () => [
    [r1, {}],
    [r2, {}],
  ]);
  const before = harness.viewNumber;
  // The coordinator stalls for ten failure timeouts; heartbeats pile up and are read afterwards.
  harness.clock.now += config.failureTimeoutTicks * 10;
  harness.coordinator.receiveHeartbeat(harness.heartbeat(r1));
  harness.coordinator.receiveHeartbeat(harness.heartbeat(r2));
  harness.run(5, () => [
    [r1, {}],
    [r2, {}],
  ]);
  assert.equal(harness.viewNumber, before, 'no view change for a stall of its own');
});

// ---- hole 4: a refusal is an observation ------------------------------------------------------

test('hole 4: a refusal is answered only once what it saw has committed', () => {
  const primary = new ReplicaHarness(r1);
  const current = view(3, r1, [r2]);
  primary.lead(current);
  primary.request(kvOperation.put(text('k'), text('a word')));
  const incr = primary.request(kvOperation.incr(text('k')));
  primary.syncAll();
  assert.equal(primary.replyTo(incr), undefined, 'not answered while the put it saw is uncommitted');
  primary.ack(r2, primary.lastIndex());
  const reply = primary.replyTo(incr);
  assert.equal(reply?.ok === false ? reply.code : '', ErrorCode.notAnInteger);
});

test('hole 4: a refused read is answered only once what it saw has committed', () => {
  const primary = new ReplicaHarness(r1);
  const current = view(3, r1, [r2]);
  primary.lead(current);
  primary.request(kvOperation.put(text('k'), text('v')));
  const read = primary.request(kvOperation.get(new Uint8Array()));
  primary.syncAll();
  assert.equal(primary.replyTo(read), undefined);
  primary.ack(r2, primary.lastIndex());
  const reply = primary.replyTo(read);
  assert.equal(reply?.ok === false ? reply.code : '', ErrorCode.badRequest);
});

test('sim seeds 232, 285: a refused write is answered with the same refusal when retried, never run later', () => {
  const primary = new ReplicaHarness(r1);
  const current = view(3, r1, []);
  primary.lead(current);
  primary.request(kvOperation.put(text('k'), text('a word')), { client: 'writer', requestNumber: 1 });
  const refused = primary.request(kvOperation.incr(text('k')), { client: 'incr', requestNumber: 1 });
  primary.syncAll();
  assert.equal((primary.replyTo(refused) as { code?: string }).code, ErrorCode.notAnInteger);
  // The value becomes a number; a duplicate of the refused request arrives.
  primary.request(kvOperation.put(text('k'), text('41')), { client: 'writer', requestNumber: 2 });
  const duplicate = primary.request(kvOperation.incr(text('k')), { client: 'incr', requestNumber: 1 });
  primary.syncAll();
  assert.equal((primary.replyTo(duplicate) as { code?: string }).code, ErrorCode.notAnInteger);
  const read = primary.request(kvOperation.get(text('k')));
  const value = primary.replyTo(read);
  assert.ok(value?.ok === true);
  assert.equal(new TextDecoder().decode(decodeResult('get', value.result).value ?? new Uint8Array()), '41');
});

// ---- hole 5: views only go up, also for a coordinator that lost its state ----------------------

test('hole 5: a coordinator with no state that hears replicas holding views forms none and grants no lease', () => {
  const harness = new CoordinatorHarness(null);
  const held = view(7, r1, [r2]);
  let lease = 0;
  harness.run(settle, () => [
    [r1, { view: held, durable: { view: viewNumber(7), index: logIndex(20) } }],
    [r2, { view: held, durable: { view: viewNumber(7), index: logIndex(20) } }],
  ]);
  lease = harness.beat(r1, { view: held });
  assert.equal(harness.coordinator.currentView(), null);
  assert.equal(lease, 0);
  assert.match(harness.coordinator.problem ?? '', /no state/);
  assert.match(harness.coordinator.status(1).problem ?? '', /--recover-from-replicas/);
});

test('sim seed 3182: a coordinator with no state that hears only an empty replica does not start a new cluster', () => {
  // The replica holding the data (r2) is paused; r1 was wiped. An empty coordinator cannot tell.
  const harness = new CoordinatorHarness(null);
  harness.run(settle, () => [[r1, { view: null, incarnation: 2, directory: 'directory-r1-wiped' }]]);
  assert.equal(harness.coordinator.currentView(), null, 'no view 1 over a cluster that had views');
});

test('hole 5: a coordinator given old state never reissues a view number a replica reports', () => {
  const harness = new CoordinatorHarness(storedState(view(3, r1, [r2])));
  const held = view(7, r2, [r1]);
  harness.run(settle, () => [
    [r1, { view: held }],
    [r2, { view: held }],
  ]);
  assert.equal(harness.viewNumber, 3, 'it forms nothing');
  assert.equal(harness.beat(r2, { view: held }), 0, 'and leases nothing');
});

test('hole 5: with the operator naming every replica, it rebuilds above every reported view once all have reported', () => {
  const harness = new CoordinatorHarness(null, [r1, r2, r3]);
  const held = view(7, r1, [r2, r3]);
  const durable = { view: viewNumber(7), index: logIndex(20) };
  harness.run(settle, () => [
    [r1, { view: held, durable }],
    [r2, { view: held, durable: { view: viewNumber(7), index: logIndex(18) } }],
  ]);
  assert.equal(harness.coordinator.currentView(), null, 'r3 has not reported yet');
  assert.match(harness.coordinator.problem ?? '', /waiting to hear from r3/);
  harness.run(settle, () => [
    [r1, { view: held, durable }],
    [r2, { view: held, durable: { view: viewNumber(7), index: logIndex(18) } }],
    [r3, { view: held, durable }],
  ]);
  const rebuilt = harness.coordinator.currentView();
  assert.ok(rebuilt !== null && rebuilt.number > 7, `rebuilt above view 7: ${JSON.stringify(rebuilt)}`);
  assert.equal(rebuilt.primary, r1, 'the longest log leads');
  assert.equal(harness.coordinator.problem, null);
});

test('hole 5: a replica never follows a view older than its own entries', () => {
  const replica = new ReplicaHarness(r2, entries(4, 7));
  replica.adopt(view(1, r1, [r2]));
  assert.equal(
    replica.replica.status().view,
    null,
    'view 1 from a coordinator that lost its state is ignored',
  );
});

// ---- hole 6 and 7: liveness means progress, not heartbeats --------------------------------------

test('hole 6: a primary whose disk hangs is replaced once its lease runs out, and gets no lease meanwhile', () => {
  const current = view(4, r1, [r2]);
  const harness = new CoordinatorHarness(storedState(current));
  harness.run(settle, () => [
    [r1, {}],
    [r2, {}],
  ]);
  assert.equal(harness.beat(r1, { storageStalledTicks: config.failureTimeoutTicks }), 0);
  harness.run(settle, () => [
    [r1, { storageStalledTicks: config.failureTimeoutTicks + 10 }],
    [r2, {}],
  ]);
  assert.equal(harness.coordinator.currentView()?.primary, r2);
});

test('hole 6: a replica reports how long its oldest write has waited for an fsync', () => {
  const primary = new ReplicaHarness(r1);
  const current = view(3, r1, []);
  primary.lead(current);
  primary.request(kvOperation.put(text('k'), text('v')));
  primary.clock.now += 25;
  primary.replica.tick();
  primary.clock.now += config.heartbeatIntervalTicks;
  primary.replica.tick();
  primary.drain();
  assert.ok((primary.heartbeats.at(-1)?.storageStalledTicks ?? 0) >= 25);
  primary.syncAll();
  primary.clock.now += config.heartbeatIntervalTicks;
  primary.replica.tick();
  primary.drain();
  assert.equal(primary.heartbeats.at(-1)?.storageStalledTicks, 0);
});

test('hole 7: a primary that hears nothing from the coordinator is replaced', () => {
  const current = view(4, r1, [r2]);
  const harness = new CoordinatorHarness(storedState(current));
  harness.run(settle, () => [
    [r1, {}],
    [r2, {}],
  ]);
  // Its heartbeats arrive, but the replies never reach it.
  harness.run(settle, () => [
    [r1, { coordinatorSilentTicks: config.failureTimeoutTicks + 1 }],
    [r2, {}],
  ]);
  assert.equal(harness.coordinator.currentView()?.primary, r2);
});

test('hole 7: a replica reports how long it has heard nothing from the coordinator', () => {
  const replica = new ReplicaHarness(r2);
  replica.clock.now += 100;
  replica.replica.tick();
  replica.drain();
  assert.ok((replica.heartbeats.at(-1)?.coordinatorSilentTicks ?? 0) >= 100);
  replica.adopt(view(2, r1, [r2]));
  replica.clock.now += config.heartbeatIntervalTicks;
  replica.replica.tick();
  replica.drain();
  assert.ok((replica.heartbeats.at(-1)?.coordinatorSilentTicks ?? 100) <= config.heartbeatIntervalTicks);
});

// ---- hole 10: a view its primary never acknowledged committed nothing ---------------------------

test('hole 10: after a total crash, any member of the last acknowledged view may lead again', () => {
  const acknowledged = view(4, r1, [r2, r3]);
  // Everyone died; the coordinator, noticing one by one, formed views whose primaries were dead.
  const unacknowledged = view(6, r3, []);
  const harness = new CoordinatorHarness(
    storedState(unacknowledged, { acknowledged: false, lastAcknowledged: acknowledged }),
  );
  // Only r2 comes back, from its disk (a new process, the same directory).
  harness.run(settle * 2, () => [
    [r2, { incarnation: 2, view: null, durable: { view: viewNumber(4), index: logIndex(9) } }],
  ]);
  assert.equal(harness.coordinator.currentView()?.primary, r2);
});

test('sim seed 9: a primary commits nothing in a view the coordinator has not acknowledged', () => {
  const primary = new ReplicaHarness(r1);
  const first = view(3, r1, [r2]);
  primary.lead(first);
  const write = primary.request(kvOperation.put(text('k'), text('v')));
  primary.syncAll();
  // r2 is removed (view 4), before it acknowledged; the coordinator has not seen view 4 acknowledged.
  primary.adopt(view(4, r1, []));
  const next = primary.request(kvOperation.put(text('k'), text('w')));
  primary.syncAll();
  assert.equal(primary.replyTo(write), undefined, 'not committed in an unacknowledged view');
  assert.equal(primary.replyTo(next), undefined);
  primary.grantLease(view(4, r1, []));
  assert.equal(primary.replyTo(write)?.ok, true, 'committed once view 4 is acknowledged');
  assert.equal(primary.replyTo(next)?.ok, true);
});

test('sim seed 242: a late heartbeat of a replaced process neither rolls its identity back nor gets a lease', () => {
  const current = view(4, r1, [r2]);
  const harness = new CoordinatorHarness(storedState(current));
  harness.run(settle, () => [
    [r1, {}],
    [r2, {}],
  ]);
  // r1 was wiped and restarted; then a heartbeat its old process sent long ago arrives.
  harness.beat(r1, { incarnation: 2, directory: 'directory-r1-wiped', view: current });
  const late = harness.beat(r1, { incarnation: 1, view: current });
  assert.equal(late, 0);
  const wiped = new ReplicaHarness(r1, [], 2);
  wiped.adopt(current);
  wiped.replica.receiveFromCoordinator({
    type: 'heartbeat_reply',
    incarnation: 1,
    sequence: 1,
    view: current,
    primaryIncarnation: null,
    addresses: {},
    leaseTicks: config.leaseTicks,
    formatLevel: FORMAT_LEVEL,
  });
  wiped.drain();
  assert.equal(wiped.replica.status().leaseValid, false, 'a lease for another process is not taken');
});

// ---- hole 11: a new primary commits what it inherited when its view begins ----------------------

test('hole 11: a primary alone in its view commits what it inherited with its view-start entry, and answers reads', () => {
  const primary = new ReplicaHarness(r2, entries(5, 4));
  const current = view(6, r2, []);
  primary.lead(current);
  assert.equal(
    primary.replica.status().lastIndex,
    6,
    'it logged a view-start entry after the inherited ones',
  );
  assert.equal(primary.replica.status().commitIndex, 0, 'nothing commits before that entry is on disk');
  primary.syncAll();
  assert.equal(primary.replica.status().commitIndex, 6);
  const read = primary.request(kvOperation.get(text('k')));
  const reply = primary.replyTo(read);
  assert.equal(reply?.ok, true);
  assert.equal(reply?.ok === true ? reply.index : 0, 6);
});

test('sim seed 1205286: entries a new primary commits end its log with an entry of its view, so a coordinator rebuilding from the replicas picks that log', () => {
  // r2 holds entries 1..5 of view 13, not known to have committed, and leads view 17 alone; r1's log
  // ends with uncommitted entries of view 15 at indexes 6..9 (it led view 15 and r2 never got them).
  const primary = new ReplicaHarness(r2, entries(5, 13));
  primary.lead(view(17, r2, []));
  primary.syncAll();
  const status = primary.replica.status();
  assert.equal(status.commitIndex, 6, 'entries 1..5 committed, with the view-start entry 6');
  const last = primary.replica.entries().at(-1);
  assert.equal(last?.view, 17, 'its log ends with an entry of the view that committed them');
  // The coordinator lost its state; the operator names both replicas, and it rebuilds a view.
  const harness = new CoordinatorHarness(null, [r1, r2]);
  const reports = [
    [r1, { view: null, durable: { view: viewNumber(15), index: logIndex(9) } }],
    [r2, { view: null, durable: { view: viewNumber(17), index: logIndex(6) } }],
  ] as const;
  harness.run(
    config.viewFormationTicks + config.leaseTicks + config.leaseDriftMarginTicks + 5,
    () => reports,
  );
  assert.equal(
    harness.coordinator.currentView()?.primary,
    r2,
    'the log that holds what committed leads; r1 (its entries 6..9 never committed) follows it',
  );
});

test('sim seed 1305269: a coordinator rebuilding from the replicas ranks their logs on disk before what they hold in memory', () => {
  // r1's last report (its process crashed since) held entries 9..12 in memory only; r2 has them on
  // disk, committed. Ranked by memory alone they tie, and the smaller id led with a log 8 long.
  const harness = new CoordinatorHarness(null, [r1, r2]);
  const reports = [
    [
      r1,
      {
        view: null,
        durable: { view: viewNumber(1), index: logIndex(8) },
        received: { view: viewNumber(2), index: logIndex(12) },
      },
    ],
    [r2, { view: null, durable: { view: viewNumber(2), index: logIndex(12) } }],
  ] as const;
  harness.run(
    config.viewFormationTicks + config.leaseTicks + config.leaseDriftMarginTicks + 5,
    () => reports,
  );
  assert.equal(harness.coordinator.currentView()?.primary, r2);
});

// ---- a follower's commit index is what it verified --------------------------------------------

test('a follower never takes a commit index beyond what it verified against the primary', () => {
  const follower = new ReplicaHarness(r2, entries(3, 1));
  follower.adopt(view(2, r1, [r2]));
  // The primary's log is longer and its commit index 10; the follower matched only through 3.
  follower.replica.receiveFromPeer(r1, {
    type: 'prepare',
    view: viewNumber(2),
    previous: { view: viewNumber(1), index: logIndex(3) },
    entries: [],
    commitIndex: logIndex(10),
    echo: -1,
  });
  follower.drain();
  assert.equal(follower.replica.status().commitIndex, 3);
});

test('a backup that held everything is not reported as lagging by the first write after a quiet spell', () => {
  const primary = new ReplicaHarness(r1);
  const current = view(3, r1, [r2]);
  primary.lead(current);
  // A quiet spell: the backup answers every empty Prepare, but there is nothing new to acknowledge.
  for (let tick = 0; tick < config.backupAckTimeoutTicks * 3; tick++) {
    primary.clock.now += 1;
    primary.replica.tick();
    primary.ack(r2, 0);
  }
  primary.grantLease(current);
  primary.request(kvOperation.put(text('k'), text('v')));
  primary.clock.now += config.heartbeatIntervalTicks;
  primary.replica.tick();
  primary.drain();
  assert.deepEqual(primary.heartbeats.at(-1)?.laggingBackups, [], 'it has had the entry for moments only');
});

// ---- bounded reads: freshness vouched for only over what earlier views committed --------------

test('a new primary vouches for no follower freshness until it has committed what it inherited', () => {
  // Entries 1..5 may have been committed, and acknowledged to clients, by the previous primary; this
  // one does not know. While its commit index is below them, a freshness it vouched for would let a
  // backup serve a bounded read without them (found wiring bounded reads into the simulator).
  const primary = new ReplicaHarness(r1, entries(5, 1));
  const current = view(2, r1, [r2, r3]);
  primary.lead(current);
  primary.syncAll();
  primary.clock.now += 1;
  primary.ack(r2, 6); // entries 1..5 and the view-start entry 6; r3 has not answered yet: nothing commits
  primary.clock.now += config.followerHeartbeatTicks;
  primary.replica.tick();
  primary.drain();
  const toR2 = () =>
    primary.sent.filter((sent) => sent.to === r2 && sent.message.type === 'prepare').at(-1)?.message;
  const before = toR2();
  assert.equal(primary.replica.status().commitIndex, 0);
  assert.equal(before?.type === 'prepare' ? before.echo : undefined, -1);
  primary.ack(r3, 5);
  assert.equal(primary.replica.status().commitIndex, 0, 'nothing before the view-start entry commits alone');
  primary.ack(r3, 6); // now everything inherited commits, with the view-start entry
  primary.clock.now += config.followerHeartbeatTicks;
  primary.replica.tick();
  primary.drain();
  const after = toR2();
  assert.equal(primary.replica.status().commitIndex, 6);
  assert.ok(after?.type === 'prepare' && after.echo >= 0, 'vouched once the inherited entries committed');
});
