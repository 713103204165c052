// A coordinator that leads by a lease of its own (on etcd) grants no primary lease that could outlive
// it: a standby elected once that lease ran out waits out only the leases it can know of.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultProtocolConfig } from '../../src/protocol/config.js';
import { CoordinatorHarness, r1, r2, r3, storedState, view } from './core-fixtures.js';

const { failureTimeoutTicks, leaseTicks, leaseDriftMarginTicks } = defaultProtocolConfig;

/** A coordinator of view 5 (r1 primary) that heard everyone long enough to grant leases. */
function settled(): CoordinatorHarness {
  const harness = new CoordinatorHarness(storedState(view(5, r1, [r2, r3])));
  harness.run(failureTimeoutTicks + leaseTicks + leaseDriftMarginTicks + 5, () =>
    [r1, r2, r3].map((id) => [id, {}] as const),
  );
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
