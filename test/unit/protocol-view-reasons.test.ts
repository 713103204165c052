// Every view the coordinator installs comes with why (src/protocol/view-change.ts): its cause, and
// for each replica whose role or process changed, a reason an operator can act on. The shell logs
// them (src/node/view-log.ts); these tests hold the core's side.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyCoordinatorState } from '../../src/protocol/effects.js';
import {
  CoordinatorHarness,
  type HeartbeatFields,
  r1,
  r2,
  r3,
  settle,
  storedState,
  view,
} from './core-fixtures.js';

type Beats = readonly (readonly [typeof r1, HeartbeatFields])[];
const allThree: Beats = [
  [r1, {}],
  [r2, {}],
  [r3, {}],
];

test('a failover names the failed primary and why it was replaced, once', () => {
  const harness = new CoordinatorHarness(storedState(view(4, r1, [r2, r3])));
  harness.run(settle, () => allThree);
  assert.equal(harness.viewChanges.length, 0, 'no change while all three heartbeat');
  harness.run(settle * 2, () => [
    [r2, {}],
    [r3, {}],
  ]);
  assert.equal(harness.viewChanges.length, 1);
  const [change] = harness.viewChanges;
  assert.equal(change?.cause, 'failover');
  assert.equal(change?.previous?.number, 4);
  assert.equal(change?.view.primary, r2);
  assert.match(change?.reason ?? '', /^primary r1 failed: no heartbeat for \d+ ticks; r2 leads$/);
  assert.deepEqual(
    change?.members.map(({ id, from, to }) => [id, from, to]),
    [
      [r1, 'primary', 'none'],
      [r2, 'backup', 'primary'],
    ],
  );
  assert.match(change?.members[0]?.reason ?? '', /^no heartbeat for/);
});

test('the first view of a new cluster says it was formed, with no view before it', () => {
  const harness = new CoordinatorHarness(emptyCoordinatorState);
  harness.run(settle, () => [
    [r1, { view: null }],
    [r2, { view: null }],
  ]);
  const [change] = harness.viewChanges;
  assert.equal(change?.cause, 'formed');
  assert.equal(change?.previous, null);
  assert.match(change?.reason ?? '', /the first view, of the 2 replicas that reported/);
});

test('a backup the primary reports lagging is demoted, and the reason says so', () => {
  const harness = new CoordinatorHarness(storedState(view(4, r1, [r2, r3])));
  harness.run(settle, () => allThree);
  harness.run(2, () => [
    [r1, { laggingBackups: [r2] }],
    [r2, {}],
    [r3, {}],
  ]);
  const [change] = harness.viewChanges;
  assert.equal(change?.cause, 'membership');
  assert.deepEqual(
    change?.members.map(({ id, from, to }) => [id, from, to]),
    [[r2, 'backup', 'learner']],
  );
  assert.match(
    change?.members[0]?.reason ?? '',
    /lagging by more than the backup lag limit \(lag policy demote\)/,
  );
  assert.match(change?.reason ?? '', /^r2 backup → learner: /);
});

test('a learner the primary reports caught up rejoins as a backup', () => {
  const harness = new CoordinatorHarness(storedState(view(4, r1, [r2], [r3])));
  harness.run(settle, () => allThree);
  harness.run(2, () => [
    [r1, { syncedLearners: [r3] }],
    [r2, {}],
    [r3, {}],
  ]);
  const [change] = harness.viewChanges;
  assert.deepEqual(
    change?.members.map(({ id, from, to, reason }) => [id, from, to, reason]),
    [[r3, 'learner', 'backup', 'the primary reported that it holds every entry: caught up']],
  );
});

test('a backup whose process restarted is a learner again, and the reason says it restarted', () => {
  const harness = new CoordinatorHarness(storedState(view(4, r1, [r2, r3])));
  harness.run(settle, () => allThree);
  harness.run(2, () => [
    [r1, {}],
    [r2, { incarnation: 2 }],
    [r3, {}],
  ]);
  const [change] = harness.viewChanges;
  assert.deepEqual(
    change?.members.map(({ id, from, to, reason }) => [id, from, to, reason]),
    [[r2, 'backup', 'learner', 'its process restarted: a learner until it holds every entry again']],
  );
});
