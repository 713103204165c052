// A planned switchover at the coordinator: who may take over, that the old primary's lease runs out
// before the new primary's view exists, that the old primary rejoins as a learner, and how it ends.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultProtocolConfig } from '../../src/protocol/config.js';
import type { View } from '../../src/protocol/types.js';
import { CoordinatorHarness, r1, r2, r3, storedState, view } from './core-fixtures.js';

const { failureTimeoutTicks, leaseTicks, leaseDriftMarginTicks } = defaultProtocolConfig;
const leaseRunsOut = leaseTicks + leaseDriftMarginTicks;

/** A coordinator of view 5 (r1 primary, backups r2 and r3) that heard everyone for a while. */
function settled(current: View = view(5, r1, [r2, r3])): CoordinatorHarness {
  const harness = new CoordinatorHarness(storedState(current));
  harness.run(failureTimeoutTicks + leaseRunsOut + 5, () => everyone(harness));
  return harness;
}

/** Every replica heartbeats, each reporting the coordinator's current view, as a live cluster does. */
function everyone(harness: CoordinatorHarness) {
  const current = harness.coordinator.currentView();
  return [r1, r2, r3].map((id) => [id, { view: current }] as const);
}

/** As `everyone`, but r2 has gone silent. */
function allButR2(harness: CoordinatorHarness) {
  return everyone(harness).filter(([id]) => id !== r2);
}

test('a backup takes over once the old lease ran out; the old primary is a learner, and the outcome is told', () => {
  const harness = settled();
  assert.equal(harness.beat(r1), leaseTicks, 'the primary holds a lease before');
  assert.equal(harness.coordinator.requestSwitchover(r2), null, 'accepted: the outcome comes later');
  assert.equal(harness.beat(r1), 0, 'the primary handing over is not renewed');
  harness.run(leaseRunsOut - 2, () => everyone(harness));
  assert.equal(harness.viewNumber, 5, 'no new view while the last lease may still run');
  harness.run(3, () => everyone(harness));
  assert.deepEqual(harness.coordinator.currentView(), view(6, r2, [r3], [r1]));
  // r2 reported view 6 in its next heartbeat, which acknowledged it.
  assert.equal(harness.switchovers.length, 1);
  assert.deepEqual(harness.switchovers[0], {
    to: r2,
    ok: true,
    message: 'r2 leads view 6',
    view: view(6, r2, [r3], [r1]),
  });
  assert.equal(harness.beat(r2), leaseTicks, 'the new primary holds a lease');
});

test('refused at once: not a backup, a learner, unacknowledged view, one under way, a commit quorum, a state behind', () => {
  const harness = settled(view(5, r1, [r2], [r3]));
  const refusal = (to: string) => harness.coordinator.requestSwitchover(to as typeof r2);
  assert.match(
    refusal('r9')?.message ?? '',
    /r9 is not a member in view 5: only a backup \(r2\) may take over/,
  );
  assert.match(refusal(r3)?.message ?? '', /r3 is a learner still catching up in view 5/);
  assert.deepEqual(refusal(r1), {
    to: r1,
    ok: true,
    message: 'r1 is already the primary',
    view: view(5, r1, [r2], [r3]),
  });
  assert.equal(refusal(r2), null);
  assert.match(refusal(r2)?.message ?? '', /a switchover to r2 is under way/);

  const restarted = new CoordinatorHarness(storedState(view(5, r1, [r2, r3])));
  restarted.beat(r1);
  assert.match(
    restarted.coordinator.requestSwitchover(r2)?.message ?? '',
    /r2 has not been heard from since this coordinator started/,
  );

  const unacknowledged = new CoordinatorHarness(storedState(view(5, r1, [r2, r3]), { acknowledged: false }));
  assert.match(
    unacknowledged.coordinator.requestSwitchover(r2)?.message ?? '',
    /view 5 is not yet acknowledged by its primary/,
  );

  const quorum = new CoordinatorHarness(storedState(view(5, r1, [r2, r3])), [], {
    ...defaultProtocolConfig,
    syncQuorum: 1,
  });
  quorum.run(failureTimeoutTicks + leaseRunsOut + 5, () => everyone(quorum));
  assert.match(quorum.coordinator.requestSwitchover(r2)?.message ?? '', /commit quorum of 1 of 2 backups/);

  // A replica holds a later view than the stored one: this coordinator acts on nothing until the
  // operator recovers its state, so a switchover it accepted would never happen.
  const behind = settled();
  behind.beat(r3, { view: view(9, r3, [r1, r2]) });
  assert.ok(behind.coordinator.problem !== null, 'its state is behind');
  assert.equal(behind.coordinator.requestSwitchover(r2)?.ok, false);
});

test('a target that goes silent ends the switchover unfinished, and the primary is renewed again', () => {
  const harness = settled();
  harness.run(failureTimeoutTicks / 2 - 10, () => allButR2(harness)); // r2 went silent, not for long yet
  assert.equal(harness.coordinator.requestSwitchover(r2), null);
  harness.run(12, () => allButR2(harness));
  assert.equal(harness.switchovers.length, 1);
  assert.equal(harness.switchovers[0]?.ok, false);
  assert.match(harness.switchovers[0]?.message ?? '', /r2 has not been heard from for/);
  assert.equal(harness.coordinator.currentView()?.primary, r1);
  assert.equal(harness.coordinator.currentView()?.number, 5, 'no view was made for a silent target');
  assert.equal(harness.beat(r1), leaseTicks, 'renewed once the switchover is over');
});

test('refused at once: a backup still counted alive but not heard from for half the failure timeout', () => {
  const harness = settled();
  harness.run(failureTimeoutTicks / 2 + 2, () => allButR2(harness));
  const refusal = harness.coordinator.requestSwitchover(r2);
  assert.equal(refusal?.ok, false);
  assert.match(
    refusal?.message ?? '',
    /r2 has not been heard from for \d+ ticks: a switchover goes only to a backup heard within half the failure timeout/,
  );
  assert.equal(harness.coordinator.currentView()?.number, 5);
  assert.equal(harness.beat(r1), leaseTicks, 'the primary is renewed as before');
});

test('a primary that dies during the switchover is replaced by failover, and the switchover says so', () => {
  const harness = settled();
  assert.equal(harness.coordinator.requestSwitchover(r3), null);
  harness.run(failureTimeoutTicks + leaseRunsOut + 5, () => [
    [r2, { view: harness.coordinator.currentView() }],
    [r3, { view: harness.coordinator.currentView() }],
  ]);
  const outcome = harness.switchovers[0];
  assert.ok(outcome !== undefined, 'ended');
  // Either the handover happened first (the lease ran out before r1 was judged dead) or a failover did.
  if (outcome.ok) assert.equal(outcome.view?.primary, r3);
  else assert.match(outcome.message, /the primary changed to r[23] before the switchover|replaced by view/);
});
