// Rules of the core that no fault of the simulator's swarm tells from their removal: `npm run mutate`
// removed each (docs/TESTING.md, "Mutants of the core") and every simulated history still passed.
// Each test here fails with its rule removed (checked with `npm run mutate -- --tests`).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import { logIndex, viewNumber } from '../../src/protocol/types.js';
import { kvOperation } from '../../src/state-machine/index.js';
import {
  CoordinatorHarness,
  config,
  ReplicaHarness,
  r1,
  r2,
  r3,
  storedState,
  text,
  view,
} from './core-fixtures.js';

/** Ticks after which a coordinator that just started judges liveness and leases have run out. */
const settle = config.failureTimeoutTicks + config.leaseTicks + config.leaseDriftMarginTicks + 5;

test('a primary moved to a backup answers its waiting writes NOT_PRIMARY at once, so clients retry at the new primary', () => {
  const primary = new ReplicaHarness(r1);
  primary.lead(view(5, r1, [r2, r3]));
  const write = primary.request(kvOperation.put(text('k'), text('v')));
  primary.syncAll();
  primary.ack(r2, primary.lastIndex()); // r3 has not answered: the write waits
  assert.equal(primary.replyTo(write), undefined);
  primary.adopt(view(6, r2, [r1, r3]));
  const reply = primary.replyTo(write);
  assert.equal(reply?.ok === false ? reply.code : reply, ErrorCode.notPrimary);
});

test("a heartbeat that arrives after a later one of the same process changes nothing: the coordinator's record never goes back", () => {
  const harness = new CoordinatorHarness(storedState(view(5, r1, [r2, r3])));
  harness.run(settle, () => [r1, r2, r3].map((id) => [id, {}] as const));
  const at = (index: number) => ({ durable: { view: viewNumber(5), index: logIndex(index) } });
  const earlier = harness.heartbeat(r2, at(10));
  const later = harness.heartbeat(r2, at(20));
  harness.coordinator.receiveHeartbeat(later);
  harness.coordinator.receiveHeartbeat(earlier); // delayed on the way
  const record = harness.coordinator.status(1).replicas.find((replica) => replica.id === r2);
  assert.equal(record?.durableIndex, 20);
});

test('a view is acknowledged only by its primary heartbeating in it: not by a backup, not by the primary from an older view', () => {
  const current = view(5, r1, [r2, r3]);
  const harness = new CoordinatorHarness(storedState(current, { acknowledged: false }));
  // r1 has not taken view 5 yet (the coordinator's message to it is slow); r2 and r3 have.
  harness.run(settle, () => [
    [r1, { view: view(4, r1, [r2, r3]) }],
    [r2, { view: current }],
    [r3, { view: current }],
  ]);
  assert.match(harness.coordinator.requestSwitchover(r2)?.message ?? '', /view 5 is not yet acknowledged/);
  assert.equal(harness.beat(r1, { view: view(4, r1, [r2, r3]) }), 0, 'and no lease');
  harness.run(1, () => [[r1, { view: current }]]);
  assert.equal(
    harness.beat(r1, { view: current }),
    config.leaseTicks,
    'acknowledged once r1 heartbeats in it',
  );
});
