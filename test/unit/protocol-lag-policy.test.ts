// What becomes of a backup that lags, by the cluster's lagPolicy: demote (a learner until it has
// caught up), throttle (it stays, commits wait for it), eject (out of the view for ejectTicks).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkConfig,
  defaultProtocolConfig,
  type LagPolicy,
  type ProtocolConfig,
} from '../../src/protocol/config.js';
import { kvOperation } from '../../src/state-machine/index.js';
import { CoordinatorHarness, ReplicaHarness, r1, r2, r3, storedState, text, view } from './core-fixtures.js';

const configWith = (lagPolicy: LagPolicy): ProtocolConfig => ({ ...defaultProtocolConfig, lagPolicy });
const settle =
  defaultProtocolConfig.failureTimeoutTicks +
  defaultProtocolConfig.leaseTicks +
  defaultProtocolConfig.leaseDriftMarginTicks +
  5;

/** A primary whose backup r3 has not acknowledged a write for longer than backupAckTimeoutTicks. */
function primaryWithSilentBackup(lagPolicy: LagPolicy): ReplicaHarness {
  const primary = new ReplicaHarness(r1, [], 1, { config: configWith(lagPolicy) });
  const current = view(3, r1, [r2, r3]);
  primary.lead(current);
  primary.grantLease(current);
  primary.request(kvOperation.put(text('k'), text('v')));
  for (let tick = 0; tick <= defaultProtocolConfig.backupAckTimeoutTicks; tick++) {
    primary.clock.now += 1;
    primary.ack(r2, primary.lastIndex());
    primary.replica.tick();
    if (tick % 10 === 0) primary.grantLease(current);
  }
  primary.drain();
  return primary;
}

test('demote and eject: the primary reports a backup that stopped acknowledging; throttle: it does not', () => {
  assert.deepEqual(primaryWithSilentBackup('demote').heartbeats.at(-1)?.laggingBackups, [r3]);
  assert.deepEqual(primaryWithSilentBackup('eject').heartbeats.at(-1)?.laggingBackups, [r3]);
  assert.deepEqual(primaryWithSilentBackup('throttle').heartbeats.at(-1)?.laggingBackups, []);
});

/** The coordinator's view after the primary reported r3 lagging, `ticks` later. */
function viewAfterLagReport(lagPolicy: LagPolicy, ticks: number) {
  const current = view(4, r1, [r2, r3]);
  const harness = new CoordinatorHarness(storedState(current), [], configWith(lagPolicy));
  harness.run(settle, () => [
    [r1, { view: harness.coordinator.currentView() }],
    [r2, {}],
    [r3, {}],
  ]);
  harness.run(1, () => [
    [r1, { view: harness.coordinator.currentView(), laggingBackups: [r3] }],
    [r2, {}],
    [r3, {}],
  ]);
  harness.run(ticks, () => [
    [r1, { view: harness.coordinator.currentView() }],
    [r2, {}],
    [r3, {}],
  ]);
  return harness.coordinator.currentView();
}

test('demote: a lagging backup becomes a learner at once', () => {
  const after = viewAfterLagReport('demote', 1);
  assert.deepEqual(after?.backups, [r2]);
  assert.deepEqual(after?.learners, [r3]);
});

test('eject: a lagging backup leaves the view, and comes back as a learner only after ejectTicks', () => {
  const soon = viewAfterLagReport('eject', 1);
  assert.deepEqual(soon?.backups, [r2]);
  assert.deepEqual(soon?.learners, [], 'out of the view, although alive');
  const later = viewAfterLagReport('eject', defaultProtocolConfig.ejectTicks + 1);
  assert.deepEqual(later?.backups, [r2]);
  assert.deepEqual(later?.learners, [r3]);
});

test('throttle: the coordinator treats a lagging report, which a throttling primary never sends, as demote does', () => {
  // A throttling primary never sends one; a coordinator of a throttling cluster still acts on
  // reports as the default does, so the coordinator and the replicas must share the setting.
  const after = viewAfterLagReport('throttle', 1);
  assert.deepEqual(after?.learners, [r3]);
});

test("a lag limit within two of the primary's empty Prepares is refused: an idle backup would lag", () => {
  const tight = {
    ...defaultProtocolConfig,
    backupAckTimeoutTicks: 2 * defaultProtocolConfig.followerHeartbeatTicks,
  };
  assert.throws(() => checkConfig(tight), /backupAckTimeoutTicks must exceed two follower heartbeats/);
  checkConfig({ ...tight, backupAckTimeoutTicks: tight.backupAckTimeoutTicks + 1 });
});
