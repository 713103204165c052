// Which view made an entry, remembered past compaction and carried in snapshots: how a replica that
// discards its log for a snapshot tells the async writes the snapshot holds from the ones it lost.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Packr } from 'msgpackr';
import { AsyncLossRecord } from '../../src/protocol/async-loss.js';
import { epochHistoryMax, ReplicaLog } from '../../src/protocol/replica-log.js';
import { SessionTable } from '../../src/protocol/sessions.js';
import { decodeSnapshotPayload, encodeSnapshotPayload } from '../../src/protocol/snapshot-payload.js';
import { clientId, type Entry, logIndex, viewNumber } from '../../src/protocol/types.js';

const entry = (index: number, view: number): Entry => ({
  view: viewNumber(view),
  index: logIndex(index),
  clientId: clientId('c'),
  requestNumber: index,
  durability: 'async',
  refused: false,
  update: new Uint8Array(0),
  result: new Uint8Array(0),
});

const epoch = (view: number, startIndex: number) => ({
  view: viewNumber(view),
  startIndex: logIndex(startIndex),
});

test('a log knows the view of every entry it compacted, and of none past its end', () => {
  const log = new ReplicaLog();
  for (const [index, view] of [
    [1, 1],
    [2, 1],
    [3, 2],
    [4, 4],
    [5, 4],
    [6, 4],
  ] as const) {
    log.append(entry(index, view));
  }
  log.compactThrough({ view: viewNumber(4), index: logIndex(5) });
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7].map((index) => log.viewOf(index)),
    [1, 1, 2, 4, 4, 4, null],
  );
  assert.deepEqual(log.historyThrough(logIndex(6)), [epoch(1, 1), epoch(2, 3), epoch(4, 4)]);
  // A second compaction in the same view adds no epoch.
  log.compactThrough({ view: viewNumber(4), index: logIndex(6) });
  assert.deepEqual(log.historyThrough(logIndex(6)), [epoch(1, 1), epoch(2, 3), epoch(4, 4)]);
});

test('a log reset to a snapshot takes the epochs the snapshot remembers, up to its position', () => {
  const log = new ReplicaLog(undefined, [entry(1, 1), entry(2, 1)]);
  log.resetTo({ view: viewNumber(3), index: logIndex(8) }, [epoch(1, 1), epoch(3, 5), epoch(5, 9)]);
  assert.deepEqual(
    [1, 4, 5, 8, 9].map((index) => log.viewOf(index)),
    [1, 1, 3, 3, null],
  );
  // An older snapshot without epochs: nothing below the base is known.
  log.resetTo({ view: viewNumber(3), index: logIndex(8) }, []);
  assert.equal(log.viewOf(4), null);
  assert.equal(log.viewOf(8), 3);
});

test('the remembered epochs are bounded: the oldest go first, and their entries become unknown', () => {
  const log = new ReplicaLog();
  const views = epochHistoryMax + 10;
  for (let index = 1; index <= views; index++) log.append(entry(index, index));
  log.compactThrough({ view: viewNumber(views), index: logIndex(views) });
  assert.equal(log.historyThrough(logIndex(views)).length, epochHistoryMax);
  assert.equal(log.viewOf(10), null);
  assert.equal(log.viewOf(11), 11);
});

test('a snapshot payload carries its epochs; one written by an older build (format 2) has none', () => {
  const loss = new AsyncLossRecord();
  loss.record([{ view: viewNumber(2), index: logIndex(7), clientId: clientId('c'), requestNumber: 3 }]);
  const payload = encodeSnapshotPayload({
    state: Uint8Array.of(1, 2, 3),
    sessions: new SessionTable(),
    loss,
    epochs: [epoch(1, 1), epoch(2, 5)],
  });
  const decoded = decodeSnapshotPayload(payload);
  assert.deepEqual(decoded.epochs, [epoch(1, 1), epoch(2, 5)]);
  assert.deepEqual([...decoded.state], [1, 2, 3]);
  assert.equal(decoded.loss.count, 1);

  const header = new Packr({ useRecords: false }).pack([2, [], 0, []]);
  const older = new Uint8Array(4 + header.length + 1);
  new DataView(older.buffer).setUint32(0, header.length, true);
  older.set(header, 4);
  older[4 + header.length] = 9;
  const fromOlder = decodeSnapshotPayload(older);
  assert.deepEqual(fromOlder.epochs, []);
  assert.deepEqual([...fromOlder.state], [9]);

  const badHeader = new Packr({ useRecords: false }).pack([3, [], 0, [], [1, 'x']]);
  const bad = new Uint8Array(4 + badHeader.length);
  new DataView(bad.buffer).setUint32(0, badHeader.length, true);
  bad.set(badHeader, 4);
  assert.throws(() => decodeSnapshotPayload(bad), /snapshot epoch 0 is malformed/);
});
