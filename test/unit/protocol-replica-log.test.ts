// The primary's view of a follower's log: `ReplicaLog.matchPoint` finds the last index both logs
// share from the follower's base and epochs alone, so a follower that restarted or diverged is sent
// only what it lacks, and one whose log ends below the primary's base is told to fetch the snapshot.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplicaLog } from '../../src/protocol/replica-log.js';
import {
  clientId,
  type Entry,
  type Epoch,
  type LogPosition,
  logIndex,
  positionZero,
  viewNumber,
} from '../../src/protocol/types.js';

const entry = (index: number, view: number): Entry => ({
  view: viewNumber(view),
  index: logIndex(index),
  clientId: clientId('c'),
  requestNumber: index,
  durability: 'sync',
  refused: false,
  update: new Uint8Array(0),
  result: new Uint8Array(0),
});

const epoch = (view: number, startIndex: number): Epoch => ({
  view: viewNumber(view),
  startIndex: logIndex(startIndex),
});

const at = (index: number, view: number): LogPosition => ({ view: viewNumber(view), index: logIndex(index) });

/** A primary's log: view 1 at 1..10, view 3 at 11..20, view 5 at 21..30. */
function primaryLog(): ReplicaLog {
  const log = new ReplicaLog();
  for (let index = 1; index <= 30; index++) log.append(entry(index, index <= 10 ? 1 : index <= 20 ? 3 : 5));
  return log;
}

test('matchPoint: the last index a follower shares with the primary, found from its epochs alone', () => {
  const log = primaryLog();
  const same = [epoch(1, 1), epoch(3, 11), epoch(5, 21)];
  const cases: ReadonlyArray<readonly [string, LogPosition, Epoch[], number, number]> = [
    ['a follower with the same log, shorter', positionZero, same, 25, 25],
    [
      'a follower with the same log, longer (it cannot share what the primary lacks)',
      positionZero,
      same,
      40,
      30,
    ],
    ['an empty follower', positionZero, [], 0, 0],
    [
      'a follower whose tail came from view 4 at 16',
      positionZero,
      [epoch(1, 1), epoch(3, 11), epoch(4, 16)],
      22,
      15,
    ],
    [
      'a follower that took view 2 at 11 and then view 5 at 21',
      positionZero,
      [epoch(1, 1), epoch(2, 11), epoch(5, 21)],
      28,
      10,
    ],
    ['a follower on a snapshot at 12 of view 3', at(12, 3), [epoch(3, 13), epoch(5, 21)], 27, 27],
    ['a follower on a snapshot at 12 whose tail is of view 4', at(12, 3), [epoch(4, 13)], 19, 12],
  ];
  for (const [what, base, epochs, lastIndex, expected] of cases) {
    assert.equal(log.matchPoint(base, epochs, logIndex(lastIndex)), expected, what);
  }
});

test('matchPoint below a compacted primary: a follower that holds the base goes on from it, any other needs the snapshot', () => {
  const log = primaryLog();
  log.compactThrough(at(14, 3));
  assert.deepEqual(log.epochs(), [epoch(3, 15), epoch(5, 21)], 'the epochs start at the first entry kept');
  const holding = log.matchPoint(positionZero, [epoch(1, 1), epoch(3, 11)], logIndex(18));
  assert.equal(holding, 18, 'it holds index 14 of view 3: it shares everything up to its end');
  const short = log.matchPoint(positionZero, [epoch(1, 1), epoch(3, 11)], logIndex(12));
  assert.ok(short < 14, 'its log ends below the base: a result below the base asks for the snapshot');
  const diverged = log.matchPoint(positionZero, [epoch(1, 1), epoch(2, 11)], logIndex(18));
  assert.ok(diverged < 14, 'index 14 is of another view there: below the base, so the snapshot');
  // Compacting to where the log already starts, or below, changes nothing.
  log.compactThrough(at(10, 1));
  log.compactThrough(at(14, 3));
  assert.deepEqual(log.epochs(), [epoch(3, 15), epoch(5, 21)]);
  assert.equal(log.viewAt(logIndex(14)), 3);
});

test('after compaction to the end of a view, the next view starts the epochs; truncation drops later epochs', () => {
  const log = primaryLog();
  log.compactThrough(at(20, 3));
  assert.deepEqual(log.epochs(), [epoch(5, 21)]);
  log.truncateAfter(logIndex(22));
  assert.deepEqual(log.epochs(), [epoch(5, 21)]);
  log.truncateAfter(logIndex(20));
  assert.deepEqual(log.epochs(), [], 'nothing after the base');
  log.append(entry(21, 6));
  assert.deepEqual(log.epochs(), [epoch(6, 21)]);
  assert.equal(log.matchPoint(at(20, 3), [epoch(5, 21)], logIndex(25)), 20, 'view 5 at 21 is gone here');
});
