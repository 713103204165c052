// The cluster's format level (src/protocol/format-level.ts): the coordinator sets it to the lowest
// level a member of its view reads, raises it once every member reads more, never lowers it, and
// keeps a replica that reads less out of every view; the primary hears it in each heartbeat reply.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultProtocolConfig } from '../../src/protocol/config.js';
import { emptyCoordinatorState } from '../../src/protocol/effects.js';
import { membersOf } from '../../src/protocol/types.js';
import { CoordinatorHarness, r1, r2, r3, storedState, view } from './core-fixtures.js';

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
  assert.equal(levelToldTo(harness, r1, 2), 2);
  assert.equal(harness.coordinator.status(0).formatLevel, 2);

  // A member that comes back reading less does not bring the level down: it is kept out instead.
  harness.run(failureTimeoutTicks + 5, () => [
    [r1, { formatLevel: 2 }],
    [r2, { formatLevel: 2 }],
    [r3, { formatLevel: 1, incarnation: 2 }],
  ]);
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
