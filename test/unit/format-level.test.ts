// The cluster's format level (src/protocol/format-level.ts): the coordinator sets it to the lowest
// level a member of its view reads, raises it once every member reads more, never lowers it, and
// keeps a replica that reads less out of every view; the primary hears it in each heartbeat reply.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultProtocolConfig } from '../../src/protocol/config.js';
import { emptyCoordinatorState } from '../../src/protocol/effects.js';
import { encodeSystemOperation, systemClientId } from '../../src/protocol/system-entries.js';
import { type Entry, logIndex, membersOf, viewNumber } from '../../src/protocol/types.js';
import { encodeOperation, kvOperation as op } from '../../src/state-machine/index.js';
import { KeyValueStore } from '../../src/state-machine/kv-store.js';
import { encodeScanSeedUpdate, encodeUpdate } from '../../src/state-machine/kv-updates.js';
import { CoordinatorHarness, ReplicaHarness, r1, r2, r3, storedState, text, view } from './core-fixtures.js';

const { failureTimeoutTicks, viewFormationTicks } = defaultProtocolConfig;

/** What the coordinator's reply to `id`'s heartbeat says the cluster's format level is. */
function levelToldTo(
  harness: CoordinatorHarness,
  id: typeof r1,
  formatLevel: number,
  incarnation = 1,
): number {
  harness.coordinator.takeEffects();
  harness.coordinator.receiveHeartbeat(harness.heartbeat(id, { formatLevel, incarnation }));
  const effects = harness.coordinator.takeEffects();
  const reply = effects.messages.filter((message) => message.to === id).at(-1)?.message;
  assert.equal(reply?.type, 'heartbeat_reply');
  return reply?.type === 'heartbeat_reply' ? reply.formatLevel : Number.NaN;
}

test('the level rises once every member of the view reads more, is stored before it is told, and never falls', () => {
  const harness = new CoordinatorHarness({ ...storedState(view(5, r1, [r2, r3])), formatLevel: 1 });
  const levels = new Map([
    [r1, 2],
    [r2, 2],
    [r3, 1],
  ]);
  harness.run(failureTimeoutTicks + 5, () =>
    [r1, r2, r3].map((id) => [id, { formatLevel: levels.get(id) ?? 0 }] as const),
  );
  assert.equal(harness.coordinator.status(0).formatLevel, 1, 'r3 still runs a build that reads level 1');
  assert.equal(levelToldTo(harness, r1, 2), 1);

  // r3 restarts on the new build: one heartbeat of it raises the level, saved with the reply.
  harness.coordinator.takeEffects();
  harness.coordinator.receiveHeartbeat(harness.heartbeat(r3, { formatLevel: 2 }));
  const effects = harness.coordinator.takeEffects();
  assert.equal(effects.save?.formatLevel, 2, 'the raise is a save, stored before any reply is sent');
  assert.deepEqual(effects.formatLevelRaised, { from: 1, to: 2 });
  assert.equal(levelToldTo(harness, r1, 2), 2);
  assert.equal(harness.coordinator.status(0).formatLevel, 2);
  // Raised once: the heartbeats after it neither save the level again nor say it rose.
  for (const id of [r3, r1, r2]) {
    harness.coordinator.receiveHeartbeat(harness.heartbeat(id, { formatLevel: 2 }));
    const after = harness.coordinator.takeEffects();
    assert.equal(after.save, null, `a heartbeat of ${id} after the raise saves nothing`);
    assert.equal(after.formatLevelRaised, null);
  }

  // A member that comes back reading less does not bring the level down: it is kept out instead,
  // and the operator is told so once, at its process's first heartbeat.
  const refusals: string[] = [];
  for (let tick = 0; tick < failureTimeoutTicks + 5; tick++) {
    harness.clock.now += 1;
    harness.coordinator.tick();
    harness.coordinator.receiveHeartbeat(harness.heartbeat(r1, { formatLevel: 2 }));
    harness.coordinator.receiveHeartbeat(harness.heartbeat(r2, { formatLevel: 2 }));
    harness.coordinator.receiveHeartbeat(harness.heartbeat(r3, { formatLevel: 1, incarnation: 2 }));
    refusals.push(
      ...harness.coordinator.takeEffects().formatRefusals.map(({ id, reason }) => `${id}: ${reason}`),
    );
  }
  assert.equal(refusals.length, 1, 'one refusal logged for the process, not one a heartbeat');
  assert.match(refusals[0] ?? '', /^r3: it reads format level 1 but the cluster logs level 2/);
  assert.equal(harness.coordinator.status(0).formatLevel, 2);
  const current = harness.coordinator.currentView();
  assert.ok(current !== null && !membersOf(current).includes(r3), 'r3, reading level 1, left the view');
  const row = harness.coordinator.status(0).replicas.find((replica) => replica.id === r3);
  assert.equal(row?.alive, false);
  assert.match(row?.problem ?? '', /it reads format level 1 but the cluster logs level 2/);
  assert.equal(row?.formatLevel, 1);

  // Upgraded again, it rejoins (as a learner, a process the view did not know).
  harness.run(failureTimeoutTicks + 5, () => [
    [r1, { formatLevel: 2 }],
    [r2, { formatLevel: 2 }],
    [r3, { formatLevel: 2, incarnation: 3 }],
  ]);
  const after = harness.coordinator.currentView();
  assert.ok(after?.learners.includes(r3) === true || after?.backups.includes(r3) === true);
});

test('a new cluster of two builds forms with every replica, at the level the older reads', () => {
  const harness = new CoordinatorHarness(emptyCoordinatorState);
  harness.run(viewFormationTicks + 5, () => [
    [r1, { formatLevel: 2 }],
    [r2, { formatLevel: 1 }],
    [r3, { formatLevel: 2 }],
  ]);
  const formed = harness.coordinator.currentView();
  assert.ok(formed !== null);
  assert.deepEqual(membersOf(formed).sort(), [r1, r2, r3]);
  assert.equal(harness.coordinator.status(0).formatLevel, 1);
  assert.equal(levelToldTo(harness, formed.primary, 2), 1, 'the primary is told to log level 1');
});

test('a member of the view not yet heard by this coordinator holds the level down until it is', () => {
  // The cluster at level 1, as stored; r1 and r2 members of its view.
  const harness = new CoordinatorHarness({ ...storedState(view(5, r1, [r2])), formatLevel: 1 });
  // r2 not heard since this coordinator started: no raise, whatever r1 reads.
  harness.run(3, () => [[r1, { formatLevel: 2 }]]);
  assert.equal(harness.coordinator.status(0).formatLevel, 1);
  harness.run(1, () => [[r2, { formatLevel: 2 }]]);
  assert.equal(harness.coordinator.status(0).formatLevel, 2);
});

test('a coordinator that lost its state learns the level from what replicas hold, and rebuilds only once all read it', () => {
  // Its directory was lost (null state); the operator names both replicas. r2 holds a seeded store
  // (level 2); r1 was put back on the older build with an empty directory.
  const harness = new CoordinatorHarness(null, [r1, r2]);
  const current = view(7, r2, [r1]);
  const ticks = failureTimeoutTicks + defaultProtocolConfig.leaseTicks + 50;
  harness.run(ticks, () => [
    [r1, { formatLevel: 1, formatLevelHeld: 1, view: null, incarnation: 2 }],
    [r2, { formatLevel: 2, formatLevelHeld: 2, view: current }],
  ]);
  const status = harness.coordinator.status(0);
  assert.equal(status.formatLevel, 2, 'r2 holds level-2 content: the cluster logged level 2');
  assert.match(status.replicas.find((row) => row.id === r1)?.problem ?? '', /reads format level 1/);
  assert.match(status.problem ?? '', /waiting to hear from r1/, 'r1 could not read what r2 holds');
  assert.equal(harness.coordinator.currentView(), null);

  // Upgraded, r1 counts, and the view is rebuilt with it.
  harness.run(ticks, () => [
    [r1, { formatLevel: 2, formatLevelHeld: 1, view: null, incarnation: 3 }],
    [r2, { formatLevel: 2, formatLevelHeld: 2, view: current }],
  ]);
  const rebuilt = harness.coordinator.currentView();
  assert.ok(rebuilt !== null && rebuilt.number > 7, 'rebuilt from the replicas');
  assert.deepEqual(membersOf(rebuilt).sort(), [r1, r2]);
  assert.equal(harness.coordinator.status(0).formatLevel, 2);
});

test('a coordinator whose state is behind the replicas raises no level: the view it knows may not be theirs', () => {
  // Given old state (view 5 stored, the replicas report view 7): it acts only to rebuild, with the
  // operator's consent. Members of the view it does not know may read level 1, and a raise would
  // let the primary log what they cannot read.
  const harness = new CoordinatorHarness({ ...storedState(view(5, r1, [r2])), formatLevel: 1 });
  const reported = view(7, r1, [r2]);
  harness.run(failureTimeoutTicks + 5, () => [
    [r1, { formatLevel: 2, view: reported }],
    [r2, { formatLevel: 2, view: reported }],
  ]);
  const status = harness.coordinator.status(0);
  assert.match(status.problem ?? '', /stored only view 5/);
  assert.equal(status.formatLevel, 1, 'no raise while behind');
  assert.equal(levelToldTo(harness, r1, 2), 1);
});

/** The format level of what `harness`'s replica holds, as its next heartbeat reports it. */
function levelHeld(harness: ReplicaHarness): number {
  harness.clock.now += defaultProtocolConfig.heartbeatIntervalTicks;
  harness.replica.tick();
  harness.drain();
  const last = harness.heartbeats.at(-1);
  assert.ok(last !== undefined, 'a heartbeat');
  return last.formatLevelHeld;
}

test("a replica reports the level of its log's entries before it applies them (sim seed 1179726)", () => {
  // Sim seed 1179726: a coordinator that lost its state heard a primary whose log held a scan seed
  // it had not yet applied, took level 1 from it, and admitted a replica of the older build, which
  // stopped at that seed. Every holder of such an entry must report level 2 from the moment it holds it.
  const primary = new ReplicaHarness(r2);
  const current = view(3, r2, [r1]);
  primary.lead(current);
  const backup = new ReplicaHarness(r1);
  backup.adopt(current);
  assert.equal(levelHeld(primary), 1, 'an empty store, an empty log');

  primary.request(op.put(text('k'), text('v')));
  const seeded = primary.replica.entries().at(-1);
  assert.equal(primary.replica.status().commitIndex < (seeded?.index ?? 0), true, 'not yet committed');
  assert.equal(levelHeld(primary), 2, "the primary's log holds the first write, its scan seed with it");

  for (const { to, message } of primary.sent.splice(0))
    if (to === r1) backup.replica.receiveFromPeer(r2, message);
  backup.drain();
  assert.equal(backup.replica.entries().at(-1)?.index, seeded?.index, 'the backup holds it');
  assert.equal(levelHeld(backup), 2, 'and reports it before it applies it');

  const restarted = new ReplicaHarness(r2, [...primary.replica.entries()], 2);
  assert.equal(levelHeld(restarted), 2, 'a log recovered from disk, nothing of it applied');

  // The seed a primary logs by itself (a store an older build wrote), inside a system entry.
  const entry = (index: number, update: Uint8Array): Entry => ({
    view: viewNumber(1),
    index: logIndex(index),
    clientId: systemClientId,
    requestNumber: index,
    durability: 'sync',
    refused: false,
    update: encodeSystemOperation({ kind: 'service-update', update }),
    result: new Uint8Array(),
  });
  const older = entry(1, encodeUpdate('delete', text('k')));
  assert.equal(levelHeld(new ReplicaHarness(r3, [older])), 1, 'a delete is level 1');
  const seed = entry(2, encodeScanSeedUpdate({ low: 1, high: 2 }));
  assert.equal(levelHeld(new ReplicaHarness(r3, [older, seed])), 2, "the due update's seed is level 2");
});

test('the key/value store names the level of each update: a scan seed, alone or in a batch, is level 2', () => {
  const store = new KeyValueStore();
  const first = store.execute(encodeOperation(op.put(text('a'), text('1')))).update;
  assert.equal(store.formatLevelOf(first), 2, 'the first write carries the seed');
  store.apply(first);
  const second = store.execute(encodeOperation(op.put(text('b'), text('2')))).update;
  assert.equal(store.formatLevelOf(second), 1, 'a later write does not');
  const many = store.execute(
    encodeOperation(op.putMany([text('c'), text('d')], [text('3'), text('4')])),
  ).update;
  assert.equal(store.formatLevelOf(many), 1, 'nor a batch without a seed');
  assert.equal(store.formatLevelOf(encodeScanSeedUpdate({ low: 5, high: 6 })), 2);
  assert.equal(
    store.formatLevelOf(new Uint8Array([0xc1, 4, 200, 0, 0, 0])),
    1,
    'a damaged batch names no seed',
  );
});

test('a replica takes nothing from its peers once the coordinator said the cluster logs more than it reads', () => {
  // The replica's own rule, beside the primary's (protocol-months.test.ts, sim seed 1269394): it
  // holds where the primary has no sync to go by, as for a new process whose log matched the
  // primary's probe, and a primary of a build before levels holds nothing back at all.
  const current = view(3, r2, [r1]);
  const primary = new ReplicaHarness(r2);
  primary.lead(current);
  primary.request(op.put(text('k'), text('v')));
  const sent = primary.sent.splice(0).flatMap(({ to, message }) => (to === r1 ? [message] : []));
  assert.ok(sent.some((message) => message.type === 'prepare' && message.entries.length > 0));
  const offer = {
    type: 'snapshot_offer',
    view: current.number,
    snapshot: { position: { view: current.number, index: logIndex(40) }, sizeBytes: 100, checksum: 1 },
  } as const;
  const taken = (told: boolean) => {
    const older = new ReplicaHarness(r1, [], 1, { formatLevel: 1 });
    older.adopt(current);
    if (told)
      older.replica.receiveFromCoordinator({
        type: 'heartbeat_reply',
        incarnation: 1,
        sequence: 0,
        view: current,
        primaryIncarnation: null,
        addresses: {},
        leaseTicks: 0,
        formatLevel: 2,
      });
    for (const message of [...sent, offer]) older.replica.receiveFromPeer(r2, message);
    older.drain();
    return { entries: older.replica.entries().length, transfers: older.transfers.length };
  };
  const before = taken(false);
  assert.ok(before.entries > 0 && before.transfers > 0, 'told nothing yet, it takes entries and offers');
  assert.deepEqual(taken(true), { entries: 0, transfers: 0 }, 'told level 2, it takes neither');
});
