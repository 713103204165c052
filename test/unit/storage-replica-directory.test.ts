// A replica's data directory recovered at start: damage never stops it; the intact snapshot and the
// log contiguous after it are kept; and the identity is renewed exactly when what was dropped may
// have been acknowledged (a corrupted record, a gap after the snapshot, a damaged snapshot the log
// does not cover), never for damage that cost nothing. The list of unreported async losses comes back
// as it was written, and a damaged one is set aside without stopping the start.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import type { LostEntry } from '../../src/protocol/messages.js';
import { encodedSnapshot } from '../../src/protocol/state-machine.js';
import { clientId, type LogPosition, logIndex, viewNumber } from '../../src/protocol/types.js';
import { encodeEntryRecord } from '../../src/storage/record.js';
import { openReplicaDirectory, type ReplicaLogOptions } from '../../src/storage/replica-directory.js';
import { snapshotFileName } from '../../src/storage/snapshot-store.js';
import { unreportedLossesFileName, writeUnreportedLosses } from '../../src/storage/unreported-losses.js';
import { damage, entry, range, recordOf, tinySegmentBytes, withTemporaryRoot } from './storage-fixtures.js';

const at = (index: number, view = 1): LogPosition => ({ view: viewNumber(view), index: logIndex(index) });
const logOptions: ReplicaLogOptions = { segmentSizeBytes: tinySegmentBytes };
const payloadAt = (index: number): Uint8Array =>
  Uint8Array.from({ length: 64 }, (_, i) => (index + i) & 0xff);

const open = (root: string) => openReplicaDirectory(root, logOptions);
const snapshotFile = (root: string, position: LogPosition): string =>
  path.join(root, 'snapshots', snapshotFileName(position));

/** The log segment file that holds entry `index`. */
function segmentHolding(root: string, index: number): string {
  const names = fs.readdirSync(path.join(root, 'log')).filter((name) => Number(name.slice(0, 20)) <= index);
  return path.join(root, 'log', names.sort().at(-1) ?? '');
}

function flipByteIn(file: string, offset: number): void {
  const data = fs.readFileSync(file);
  data.writeUInt8((data[offset] ?? 0) ^ 0x08, offset);
  fs.writeFileSync(file, data);
}

/**
 * A directory as a running replica leaves it: entries 1..`through` in the log, a snapshot kept at each
 * of `snapshotsAt`, and the log compacted through `compactedThrough` (0: not compacted). Returns its identity.
 */
async function prepare(
  root: string,
  options: { through: number; snapshotsAt: number[]; compactedThrough?: number },
): Promise<string> {
  const { identity, log, snapshots } = open(root);
  log.append(range(1, options.through));
  for (const index of options.snapshotsAt) {
    await snapshots.write(at(index), encodedSnapshot(payloadAt(index)));
    await snapshots.keep(at(index));
  }
  if (options.compactedThrough !== undefined) log.compactThrough(logIndex(options.compactedThrough));
  await log.close();
  return identity;
}

test('a fresh directory opens empty, and a clean one reopens with the same identity and nothing repaired', async () => {
  await withTemporaryRoot(async (root) => {
    const opened = open(root);
    assert.equal(opened.snapshot, null);
    assert.deepStrictEqual(opened.entries, []);
    assert.equal(opened.repaired, null);
    await opened.log.close();
    const identity = await prepare(root, { through: 30, snapshotsAt: [20] });
    assert.equal(identity, opened.identity);
    const reopened = open(root);
    assert.equal(reopened.identity, identity);
    assert.equal(reopened.repaired, null);
    assert.deepStrictEqual(reopened.snapshot?.info.position, at(20));
    assert.deepStrictEqual(new Uint8Array(reopened.snapshot?.payload ?? []), payloadAt(20));
    assert.deepStrictEqual(reopened.entries, range(21, 30));
    await reopened.log.close();
  });
});

test('a bit flip in a log record below the sync point: the prefix is kept, the loss is reported, the identity renewed', async () => {
  await withTemporaryRoot(async (root) => {
    const identity = await prepare(root, { through: 10, snapshotsAt: [] });
    const damagedIndex = 5;
    const segment = segmentHolding(root, damagedIndex);
    damage(segment, recordOf(segment, damagedIndex), 'one byte flipped');

    const repaired = open(root);
    assert.deepStrictEqual(repaired.entries, range(1, damagedIndex - 1));
    assert.notEqual(repaired.identity, identity);
    assert.match(
      repaired.repaired ?? '',
      new RegExp(`damaged where index ${damagedIndex} was .*CRC mismatch`),
    );
    assert.match(repaired.repaired ?? '', /new identity/);
    await repaired.log.close();

    // Repaired for good: the next start finds nothing wrong and keeps the new identity.
    const again = open(root);
    assert.equal(again.repaired, null);
    assert.equal(again.identity, repaired.identity);
    assert.deepStrictEqual(again.entries, range(1, damagedIndex - 1));
    await again.log.close();
  });
});

test('a damaged newest snapshot with a log that still covers it from the older one: no renewal', async () => {
  await withTemporaryRoot(async (root) => {
    const identity = await prepare(root, { through: 30, snapshotsAt: [10, 20], compactedThrough: 10 });
    flipByteIn(snapshotFile(root, at(20)), 40);

    const opened = open(root);
    assert.equal(opened.repaired, null);
    assert.equal(opened.identity, identity);
    assert.deepStrictEqual(opened.snapshot?.info.position, at(10));
    assert.deepStrictEqual(opened.entries, range(11, 30));
    assert.equal(opened.damagedSnapshots.length, 1);
    assert.ok(fs.existsSync(`${snapshotFile(root, at(20))}.damaged`), 'set aside');
    assert.equal(fs.existsSync(snapshotFile(root, at(20))), false);
    await opened.log.close();
  });
});

test('a damaged newest snapshot with the log compacted past the older one: a gap, renewal, and the loss reported', async () => {
  await withTemporaryRoot(async (root) => {
    const identity = await prepare(root, { through: 60, snapshotsAt: [10, 40], compactedThrough: 40 });
    const firstLogIndex = Number(fs.readdirSync(path.join(root, 'log')).sort()[0]?.slice(0, 20));
    assert.ok(firstLogIndex > 11, 'compaction went past the older snapshot');
    flipByteIn(snapshotFile(root, at(40)), 40);

    const opened = open(root);
    assert.notEqual(opened.identity, identity);
    assert.deepStrictEqual(opened.snapshot?.info.position, at(10));
    assert.deepStrictEqual(opened.entries, [], 'nothing contiguous after the snapshot');
    assert.deepStrictEqual(opened.log.lastPosition, at(10));
    assert.match(opened.repaired ?? '', /did not reach back to the newest intact snapshot \(index 10\)/);
    assert.match(opened.repaired ?? '', /snapshot .*snapshot-0+40-1\.snap was damaged/);
    // The replica goes on from the snapshot.
    opened.log.append([entry(11, 2)]);
    await opened.log.close();
    const again = open(root);
    assert.equal(again.repaired, null);
    assert.deepStrictEqual(again.entries, [entry(11, 2)]);
    await again.log.close();
  });
});

test('a damaged snapshot newer than the end of the log (installed, then the log not yet reset): renewal', async () => {
  await withTemporaryRoot(async (root) => {
    const identity = await prepare(root, { through: 30, snapshotsAt: [10, 100] });
    flipByteIn(snapshotFile(root, at(100)), 40);
    const opened = open(root);
    assert.notEqual(opened.identity, identity);
    assert.deepStrictEqual(opened.entries, range(11, 30));
    assert.match(opened.repaired ?? '', /the log ends at index 30, before its index 100/);
    await opened.log.close();
  });
});

test('a log that diverges from an installed snapshot is reset without renewal (a crash before the reset)', async () => {
  await withTemporaryRoot(async (root) => {
    const identity = await prepare(root, { through: 30, snapshotsAt: [] });
    const { snapshots, log } = open(root);
    await log.close();
    await snapshots.write(at(20, 3), encodedSnapshot(payloadAt(20)));
    await snapshots.keep(at(20, 3));

    const opened = open(root);
    assert.equal(opened.repaired, null);
    assert.equal(opened.identity, identity);
    assert.deepStrictEqual(opened.entries, []);
    assert.deepStrictEqual(opened.log.lastPosition, at(20, 3));
    await opened.log.close();
  });
});

test('a log of another format still refuses to start, with a ConfigError, and is left alone', async () => {
  await withTemporaryRoot(async (root) => {
    fs.mkdirSync(path.join(root, 'log'), { recursive: true });
    const file = path.join(root, 'log', '00000000000000000001.log');
    const headerless = encodeEntryRecord(entry(1), 0, 0);
    fs.writeFileSync(file, headerless);
    assert.throws(() => open(root), ConfigError);
    assert.deepStrictEqual(fs.readFileSync(file), headerless);
  });
});

test('the unreported async losses come back at the next start, an empty list removes the file, and a damaged one is set aside', async () => {
  await withTemporaryRoot(async (root) => {
    const first = open(root);
    assert.deepStrictEqual(first.unreportedLosses, []);
    await first.log.close();
    const losses: LostEntry[] = [
      { view: viewNumber(2), index: logIndex(7), clientId: clientId('fast'), requestNumber: 3 },
      { view: viewNumber(2), index: logIndex(8), clientId: clientId('a/b#c'), requestNumber: 4 },
    ];
    writeUnreportedLosses(root, losses);
    const reopened = open(root);
    assert.deepStrictEqual(reopened.unreportedLosses, losses);
    assert.equal(reopened.unreportedLossesDamage, null);
    await reopened.log.close();

    writeUnreportedLosses(root, []);
    assert.equal(fs.existsSync(path.join(root, unreportedLossesFileName)), false);
    const emptied = open(root);
    assert.deepStrictEqual(emptied.unreportedLosses, []);
    await emptied.log.close();

    for (const text of ['{"version":1,"entries":[{"view":2}]}', 'not json', '{"version":9,"entries":[]}']) {
      const file = path.join(root, unreportedLossesFileName);
      fs.writeFileSync(file, text);
      const damaged = open(root);
      assert.deepStrictEqual(damaged.unreportedLosses, []);
      assert.match(damaged.unreportedLossesDamage ?? '', /unreported-losses\.json: /);
      assert.equal(damaged.repaired, null, 'the log and snapshots are untouched');
      assert.equal(fs.readFileSync(`${file}.damaged`, 'utf8'), text, 'set aside as it was');
      assert.equal(fs.existsSync(file), false);
      await damaged.log.close();
    }
  });
});
