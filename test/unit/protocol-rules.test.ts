// Rules of the core that no fault of the simulator's swarm tells from their removal: `npm run mutate`
// removed each (docs/TESTING.md, "Mutants of the core") and every simulated history still passed.
// Each test here fails with its rule removed (checked with `npm run mutate -- --tests`).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import {
  clientId,
  type Entry,
  type LogPosition,
  logIndex,
  positionZero,
  type ReplicaId,
  viewNumber,
} from '../../src/protocol/types.js';
import { kvOperation } from '../../src/state-machine/index.js';
import {
  CoordinatorHarness,
  config,
  ReplicaHarness,
  r1,
  r2,
  r3,
  settle,
  storedState,
  text,
  view,
} from './core-fixtures.js';

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

test('a sync that began before a truncation does not make the entries that replaced what it synced durable', () => {
  const backup = new ReplicaHarness(r2);
  const entry = (entryView: number, index: number): Entry => ({
    view: viewNumber(entryView),
    index: logIndex(index),
    clientId: clientId('client'),
    requestNumber: index,
    durability: 'sync',
    refused: false,
    update: new Uint8Array(),
    result: new Uint8Array(),
  });
  const prepare = (from: ReplicaId, inView: number, previous: LogPosition, sent: Entry[]) => {
    backup.replica.receiveFromPeer(from, {
      type: 'prepare',
      view: viewNumber(inView),
      previous,
      entries: sent,
      commitIndex: logIndex(0),
      echo: -1,
    });
    backup.drain();
  };
  const acknowledged = () =>
    backup.sent.flatMap(({ message }) => (message.type === 'prepare_ok' ? [message.index] : []));
  backup.adopt(view(3, r1, [r2]));
  prepare(r1, 3, positionZero, [entry(3, 1), entry(3, 2), entry(3, 3)]); // their fsync begins
  // r3 leads view 4 (r1's entries 2 and 3 never committed); its own entries 2 and 3 replace them.
  backup.adopt(view(4, r3, [r2]));
  prepare(r3, 4, { view: viewNumber(3), index: logIndex(1) }, [entry(4, 2), entry(4, 3)]);
  backup.sent.length = 0;
  backup.replica.durable({ view: viewNumber(3), index: logIndex(3) }); // the fsync of view 3's entries ends
  backup.drain();
  assert.deepEqual(acknowledged(), [], 'entries 2 and 3 of view 4 are not on disk yet');
  backup.replica.durable({ view: viewNumber(4), index: logIndex(3) });
  backup.drain();
  assert.deepEqual(acknowledged(), [3], 'once their own fsync ends, they are');
});
