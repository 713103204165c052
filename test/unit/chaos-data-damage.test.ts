// The corrupt fault's damage (src/chaos/data-damage.ts) is damage the replica must notice: a bit
// flipped in a synced log record in the middle of the segment makes the directory repair itself
// with a new identity, keeping the entries before the record; one in the newest snapshot sets that
// snapshot aside. And the replica log lines the chaos run counts are read back as written.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { damageDirectory, damageLogRecord, damageNewestSnapshot } from '../../src/chaos/data-damage.js';
import { countStorageEvents, parseReplicaLog, transferStarts } from '../../src/chaos/replica-logs.js';
import { encodedSnapshot } from '../../src/protocol/state-machine.js';
import { type LogPosition, logIndex, viewNumber } from '../../src/protocol/types.js';
import { Random } from '../../src/sim/random.js';
import { openReplicaDirectory } from '../../src/storage/replica-directory.js';
import { appendDurably, idleNeverMs, oneSegmentBytes, range, withTemporaryRoot } from './storage-fixtures.js';

const at = (index: number): LogPosition => ({ view: viewNumber(1), index: logIndex(index) });
const open = (root: string) =>
  openReplicaDirectory(root, { segmentSizeBytes: oneSegmentBytes, syncMarkerIdleMs: idleNeverMs });

/** Entries 1..40 in one segment, written in batches of 5, each fsynced before the next. */
async function prepare(root: string, snapshotAt: number | null): Promise<void> {
  const { log, snapshots } = open(root);
  for (let from = 1; from <= 40; from += 5) await appendDurably(log, range(from, from + 4));
  if (snapshotAt !== null) {
    await snapshots.write(
      at(snapshotAt),
      encodedSnapshot(Uint8Array.from({ length: 256 }, (_, i) => i & 0xff)),
    );
    await snapshots.keep(at(snapshotAt));
  }
  await log.close();
}

test('a bit flipped in a synced log record: the replica keeps the entries before it and renews its identity', async () => {
  for (let seed = 1; seed <= 8; seed++) {
    await withTemporaryRoot(async (root) => {
      await prepare(root, null);
      const before = open(root);
      const identity = before.identity;
      await before.log.close();

      const damage = damageLogRecord(root, new Random(seed));
      assert.ok(damage !== null);
      // In the middle of the synced records: those of the last batch are claimed by no later record.
      assert.ok(damage.index >= 5 && damage.index <= 30, `index ${damage.index}`);

      const after = open(root);
      assert.notEqual(after.repaired, null, `seed ${seed}: ${damage.description}`);
      assert.notEqual(after.identity, identity);
      assert.deepStrictEqual(after.entries, range(1, damage.index - 1));
      await after.log.close();
    });
  }
});

test('a bit flipped in the newest snapshot: the replica sets it aside at start', async () => {
  await withTemporaryRoot(async (root) => {
    await prepare(root, 30);
    const damage = damageNewestSnapshot(root, new Random(3));
    assert.equal(damage?.index, 30);
    const after = open(root);
    assert.equal(after.damagedSnapshots.length, 1);
    assert.equal(after.snapshot, null, 'no intact snapshot is left');
    // The log still covers what the snapshot held: nothing was lost, the identity stays.
    assert.equal(after.repaired, null);
    assert.deepStrictEqual(after.entries, range(1, 40));
    await after.log.close();
  });
});

test('damage falls back to the other kind, and to nothing in an empty directory', async () => {
  await withTemporaryRoot(async (root) => {
    assert.equal(damageDirectory(root, 'log record', new Random(1)), null);
    await prepare(root, null);
    assert.equal(damageDirectory(root, 'snapshot', new Random(1))?.kind, 'log record');
  });
});

test('the replica log lines a chaos run counts', () => {
  const lines = [
    { message: 'started', snapshotIndex: 0 },
    { message: 'data directory repaired', what: 'the write-ahead log was damaged' },
    { message: 'receiving a snapshot', from: 'r1', index: 120, bytes: 3_000_000, resumingAt: 0 },
    { message: 'receiving a snapshot', from: 'r1', index: 120, bytes: 3_000_000, resumingAt: 1_048_576 },
    { message: 'snapshot received', index: 120, bytes: 3_000_000, resumedAt: 1_048_576 },
    { message: 'damaged snapshot set aside', file: 'snapshot-1.snap' },
  ];
  const text = `${lines.map((line) => JSON.stringify({ time: 't', level: 'info', component: 'replica r2', ...line })).join('\n')}\nnot json\n{"torn`;
  const parsed = parseReplicaLog(text);
  assert.equal(parsed.length, lines.length);
  assert.deepEqual(transferStarts(parsed), [
    { index: 120, bytes: 3_000_000, resumingAt: 0 },
    { index: 120, bytes: 3_000_000, resumingAt: 1_048_576 },
  ]);
  assert.deepEqual(countStorageEvents(parsed), {
    repairs: 1,
    snapshotsSetAside: 1,
    transfersStarted: 2,
    transfersResumed: 1,
    transfersCompleted: 1,
  });
});
