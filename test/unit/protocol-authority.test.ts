// A coordinator that leads by a lease of its own (on etcd) grants no primary lease that could outlive
// it: a standby elected once that lease ran out waits out only the leases it can know of.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultProtocolConfig } from '../../src/protocol/config.js';
import { CoordinatorHarness, r1, r2, r3, settle, storedState, view } from './core-fixtures.js';

const { leaseTicks, leaseDriftMarginTicks } = defaultProtocolConfig;

/** A coordinator of view 5 (r1 primary) that heard everyone long enough to grant leases. */
function settled(): CoordinatorHarness {
  const harness = new CoordinatorHarness(storedState(view(5, r1, [r2, r3])));
  harness.run(settle, () => [r1, r2, r3].map((id) => [id, {}] as const));
  return harness;
}

test('leases shrink as the authority ends, and none is granted once it lapsed', () => {
  const harness = settled();
  assert.equal(harness.beat(r1), leaseTicks, 'leading alone, the full lease');

  const now = harness.clock.now;
  harness.coordinator.holdAuthorityUntil(now + leaseTicks + leaseDriftMarginTicks + 100);
  assert.equal(harness.beat(r1), leaseTicks, 'an authority that outlives the lease changes nothing');

  harness.coordinator.holdAuthorityUntil(now + leaseDriftMarginTicks + 15);
  assert.equal(harness.beat(r1), 15, 'the lease ends a drift margin before the authority does');

  harness.coordinator.holdAuthorityUntil(now + leaseDriftMarginTicks);
  assert.equal(harness.beat(r1), 0, 'no lease that the margin would carry past the authority');

  harness.coordinator.holdAuthorityUntil(now - 1);
  assert.equal(harness.beat(r1), 0, 'a lapsed authority grants nothing');

  harness.coordinator.holdAuthorityUntil(now + 1_000);
  assert.equal(harness.beat(r1), leaseTicks, 'renewed (its keepalive was answered): full leases again');
});

// Each rule of the grant on its own: the replica's side and the view's numbering guard most of them a
// second time, so the simulator cannot tell one of them removed (`npm run mutate`, docs/TESTING.md,
// "Mutants of the core"); this test can.
test('a lease goes only to the primary of the acknowledged view, for a heartbeat of that view, while nothing is wrong', () => {
  const current = view(5, r1, [r2, r3]);
  const harness = settled();
  assert.equal(harness.beat(r1, { view: current }), leaseTicks, "the primary's heartbeat of its view");
  assert.equal(harness.beat(r2, { view: current }), 0, 'a backup of the view');
  assert.equal(harness.beat(r1, { view: view(4, r1, [r2, r3]) }), 0, 'the primary, naming an older view');

  const unacknowledged = new CoordinatorHarness(storedState(current, { acknowledged: false }));
  unacknowledged.run(settle, () => [
    [r1, { view: current, leadReady: false }],
    [r2, { view: current }],
    [r3, { view: current }],
  ]);
  assert.equal(
    unacknowledged.beat(r1, { view: current, leadReady: false }),
    0,
    'a view its primary has not acknowledged (not ready to lead it)',
  );

  // A replica holds a later view than the stored one: this coordinator's state is old, and it acts on
  // nothing until the operator recovers it.
  const behind = settled();
  behind.beat(r2, { view: view(9, r2, [r1, r3]) });
  assert.match(behind.coordinator.problem ?? '', /./, 'it knows its state is behind');
  assert.equal(behind.beat(r1, { view: current }), 0, 'so even the primary of its view gets none');
});
