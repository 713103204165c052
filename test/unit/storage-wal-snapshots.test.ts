// The write-ahead log beside snapshots: it continues a base (the recovered snapshot's position),
// compaction deletes only whole segments the snapshot holds, reset makes it continue an installed
// snapshot, a log that diverges from its base or leaves a gap after it is reported and reset, and
// onCorruption 'truncate' keeps the intact prefix of a damaged log instead of refusing it.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { LogCorruptedError } from '../../src/errors.js';
import { type LogPosition, logIndex, viewNumber } from '../../src/protocol/types.js';
import type { WriteAheadLog } from '../../src/storage/write-ahead-log.js';
import {
  damage,
  dataBytesOf,
  entry,
  filesOf,
  intact,
  openLog,
  range,
  recordOf,
  segmentFiles,
  withDirectory,
  writeLog,
} from './storage-fixtures.js';

const at = (index: number, view = 1): LogPosition => ({ view: viewNumber(view), index: logIndex(index) });

/** The start index of each segment file, in order. */
const segmentStarts = (directory: string): number[] =>
  segmentFiles(directory).map((name) => Number(name.slice(0, 20)));

/** The entries of a log that continues `base`: what open() returns, read through the files. */
const entriesAfter = (directory: string, base: LogPosition) => openLog(directory, { base }).recovered.entries;

/**
 * Queues what `queue` does and resolves once it is written: once a batch ends at the last position.
 * The handler is set first, since a batch with no entry to write (a compaction) finishes at once.
 */
function queueAndWait(log: WriteAheadLog, queue: () => void): Promise<void> {
  return new Promise((resolve) => {
    log.onDurable = (position) => {
      const last = log.lastPosition;
      if (position.index === last.index && position.view === last.view) resolve();
    };
    queue();
  });
}

test('compactThrough deletes only whole segments at or below the index, never the last one', async () => {
  await withDirectory(async (directory) => {
    await writeLog(directory, range(1, 60));
    const starts = segmentStarts(directory);
    assert.ok(starts.length >= 6, `several segments: ${starts}`);
    const third = starts[2] ?? 0;
    const fourth = starts[3] ?? 0;

    const { log } = openLog(directory);
    const bytesBefore = log.diskBytes();
    // One index short of the end of the third segment: the third stays.
    await queueAndWait(log, () => log.compactThrough(logIndex(fourth - 2)));
    assert.deepStrictEqual(segmentStarts(directory), starts.slice(2));
    assert.equal(log.firstIndex, third);
    assert.ok(log.diskBytes() < bytesBefore);
    // Exactly its last index: now it goes.
    await queueAndWait(log, () => log.compactThrough(logIndex(fourth - 1)));
    assert.deepStrictEqual(segmentStarts(directory), starts.slice(3));
    assert.equal(log.firstIndex, fourth);
    // Past the end of the log: everything but the last segment.
    log.append([entry(61)]);
    log.compactThrough(logIndex(1000));
    await log.close();
    const [lastStart, ...more] = segmentStarts(directory);
    assert.ok(lastStart !== undefined && more.length === 0, 'only the last segment is left');
    assert.equal(log.firstIndex, lastStart);
    assert.equal(log.diskBytes(), dataBytesOf(path.join(directory, segmentFiles(directory)[0] ?? '')));
    assert.deepStrictEqual(entriesAfter(directory, at(lastStart - 1)), range(lastStart, 61));
  });
});

test('compaction, truncation and reset retire segments: gone from the log at once, deleted by the time close() resolves', async () => {
  await withDirectory(async (directory) => {
    const { log } = openLog(directory);
    await queueAndWait(log, () => log.append(range(1, 60)));
    const starts = segmentStarts(directory);
    assert.ok(starts.length >= 6, `several segments: ${starts}`);
    const second = starts[1] ?? 0;
    const last = starts.at(-1) ?? 0;
    log.compactThrough(logIndex(second - 1));
    log.truncateAfter(logIndex(last - 2));
    // What is queued has run by now (the log was idle): the segments left the log's names at once.
    assert.deepStrictEqual(segmentStarts(directory), starts.slice(1, -1));
    await log.close();
    assert.deepStrictEqual(
      fs.readdirSync(directory).sort(),
      segmentFiles(directory),
      'nothing retired is left',
    );
    assert.deepStrictEqual(entriesAfter(directory, at(second - 1)), range(second, last - 2));

    const reopened = openLog(directory, { base: at(second - 1) });
    reopened.log.resetTo(at(100, 2));
    assert.deepStrictEqual(segmentFiles(directory), []);
    await reopened.log.close();
    assert.deepStrictEqual(fs.readdirSync(directory), []);
  });
});

test('open never reads a retired segment a crash left behind, and deletes it', async () => {
  await withDirectory(async (directory) => {
    await writeLog(directory, range(1, 30));
    const files = segmentFiles(directory);
    // A crash after a segment was retired and before it was deleted: its bytes are no log's any more.
    const leftover = path.join(directory, `${files[0]}.retired`);
    fs.writeFileSync(leftover, 'not a segment');
    const { log, recovered } = openLog(directory);
    assert.deepStrictEqual(recovered, { ...intact, entries: range(1, 30) });
    await log.close();
    assert.deepStrictEqual(fs.readdirSync(directory).sort(), files);
  });
});

test('compactThrough is queued in order with appends: it sees the segments appended before it', async () => {
  await withDirectory(async (directory) => {
    const { log } = openLog(directory);
    log.append(range(1, 40));
    log.compactThrough(logIndex(30));
    log.append(range(41, 45));
    await log.close();
    const first = segmentStarts(directory)[0] ?? 0;
    assert.ok(first > 1 && first <= 31, `the first kept segment holds 31 (starts at ${first})`);
    assert.deepStrictEqual(entriesAfter(directory, at(30)), range(31, 45));
  });
});

test('after compaction, truncateAfter may go down to just before the first entry on disk, not below', async () => {
  await withDirectory(async (directory) => {
    const { log } = openLog(directory);
    log.append(range(1, 60));
    await queueAndWait(log, () => log.compactThrough(logIndex(30)));
    const first = log.firstIndex;
    assert.ok(first > 1 && first <= 31);
    assert.throws(() => log.truncateAfter(logIndex(first - 2)), /below the start of the log/);
    log.truncateAfter(logIndex(first - 1));
    assert.deepStrictEqual(log.lastPosition, at(first - 1));
    log.append(range(first, first + 2, 2));
    await log.close();
    assert.deepStrictEqual(entriesAfter(directory, at(first - 1)), range(first, first + 2, 2));
  });
});

test('reopened with a base, the log returns only the entries after it, and appends continue', async () => {
  await withDirectory(async (directory) => {
    await writeLog(directory, range(1, 30));
    const { log, recovered } = openLog(directory, { base: at(20) });
    assert.deepStrictEqual(recovered, { ...intact, entries: range(21, 30) });
    assert.deepStrictEqual(log.lastPosition, at(30));
    log.append([entry(31)]);
    await log.close();
    assert.deepStrictEqual(entriesAfter(directory, at(20)), range(21, 31));
    // The segment that holds base.index is kept: the view there is what shows the log continues the base.
    assert.ok((segmentStarts(directory)[0] ?? 21) <= 20);
  });
});

test('opening with a base deletes the segments wholly below it, unread', async () => {
  await withDirectory(async (directory) => {
    await writeLog(directory, range(1, 60));
    const starts = segmentStarts(directory);
    const fourth = starts[3] ?? 0;
    // Damage in a segment the snapshot holds costs nothing: it is never read.
    const first = path.join(directory, segmentFiles(directory)[0] ?? '');
    damage(first, recordOf(first, 2), 'one byte flipped');
    const { log, recovered } = openLog(directory, { base: at(fourth) });
    assert.deepStrictEqual(recovered, { ...intact, entries: range(fourth + 1, 60) });
    assert.deepStrictEqual(segmentStarts(directory), starts.slice(3));
    assert.equal(log.firstIndex, fourth);
    await log.close();
  });
});

test('resetTo: the log holds nothing, then continues the position, and that survives reopening', async () => {
  await withDirectory(async (directory) => {
    const { log } = openLog(directory);
    log.append(range(1, 30));
    // Queued behind the appends, as a snapshot installed while they are written would be.
    log.resetTo(at(100, 3));
    assert.deepStrictEqual(log.lastPosition, at(100, 3));
    assert.throws(() => log.append([entry(31)]), /append of index 31 after 100/);
    assert.throws(() => log.truncateAfter(logIndex(99)), /below the start of the log/);
    log.append(range(101, 110, 3));
    await log.close();
    assert.deepStrictEqual(segmentStarts(directory)[0], 101);
    assert.equal(log.firstIndex, 101);

    const reopened = openLog(directory, { base: at(100, 3) });
    assert.deepStrictEqual(reopened.recovered, { ...intact, entries: range(101, 110, 3) });
    // Truncating back to the base empties the log again, and appends continue from it.
    reopened.log.truncateAfter(logIndex(100));
    assert.deepStrictEqual(reopened.log.lastPosition, at(100, 3));
    reopened.log.append(range(101, 102, 4));
    await reopened.log.close();
    assert.deepStrictEqual(entriesAfter(directory, at(100, 3)), range(101, 102, 4));
  });
});

test('a reset log with nothing appended yet continues its base at the next open', async () => {
  await withDirectory(async (directory) => {
    const { log } = openLog(directory);
    log.append(range(1, 30));
    log.resetTo(at(50, 2));
    await log.close();
    assert.deepStrictEqual(segmentFiles(directory), []);
    const reopened = openLog(directory, { base: at(50, 2) });
    assert.deepStrictEqual(reopened.recovered, { ...intact, entries: [] });
    assert.deepStrictEqual(reopened.log.lastPosition, at(50, 2));
    assert.equal(reopened.log.firstIndex, 51);
    await reopened.log.close();
  });
});

test('a log that diverges from its base (another view at base.index, or ending below it) is reset: benign, no gap', async () => {
  for (const base of [at(20, 2), at(100, 1)]) {
    await withDirectory(async (directory) => {
      await writeLog(directory, range(1, 30));
      const { log, recovered } = openLog(directory, { base });
      assert.deepStrictEqual(recovered, { ...intact, entries: [], continuesBase: false });
      assert.deepStrictEqual(log.lastPosition, base);
      assert.deepStrictEqual(segmentFiles(directory), []);
      log.append([entry(base.index + 1, 2)]);
      await log.close();
      assert.deepStrictEqual(entriesAfter(directory, base), [entry(base.index + 1, 2)]);
    });
  }
});

test('a log whose segment starts exactly at the base index is checked there too: another view means another history', async () => {
  // The first segment read is the one holding base.index; when it starts there, its first entry is
  // the one the snapshot ends with, and its view says whether the log after it continues the snapshot.
  await withDirectory(async (directory) => {
    await writeLog(directory, range(1, 60));
    const start = segmentStarts(directory)[2] ?? 0;
    assert.ok(start > 1, 'a segment that starts after the first');
    const continued = openLog(directory, { base: at(start, 1) }).recovered;
    assert.deepStrictEqual(continued, { ...intact, entries: range(start + 1, 60) }, 'the same view: kept');
    const diverged = openLog(directory, { base: at(start, 2) }).recovered;
    assert.deepStrictEqual(diverged, { ...intact, entries: [], continuesBase: false }, 'another view: reset');
    assert.deepStrictEqual(segmentFiles(directory), []);
  });
});

test('a gap between the base and the log: reported and reset with truncate, refused untouched with throw', async () => {
  await withDirectory(async (directory) => {
    const { log } = openLog(directory);
    log.append(range(1, 60));
    log.compactThrough(logIndex(40));
    await log.close();
    const first = segmentStarts(directory)[0] ?? 0;
    assert.ok(first > 11);

    const before = filesOf(directory);
    assert.throws(
      () => openLog(directory, { base: at(10) }),
      (error: unknown) =>
        error instanceof LogCorruptedError &&
        error.message.includes(`starts at index ${first}, but the snapshot it continues ends at index 10`),
    );
    assert.deepStrictEqual(filesOf(directory), before, 'throw touches nothing');

    const repaired = openLog(directory, { base: at(10), onCorruption: 'truncate' });
    assert.deepStrictEqual(repaired.recovered, { ...intact, entries: [], continuesBase: false, gap: true });
    assert.deepStrictEqual(repaired.log.lastPosition, at(10));
    assert.deepStrictEqual(segmentFiles(directory), []);
    await repaired.log.close();
  });
});

test("onCorruption 'truncate' keeps the prefix before a flipped bit below the sync point and reports where; 'throw' refuses it", async () => {
  await withDirectory(async (directory) => {
    await writeLog(directory, range(1, 10), { segmentSizeBytes: 64 * 1024 });
    const file = path.join(directory, segmentFiles(directory)[0] ?? '');
    const damaged = recordOf(file, 6);
    damage(file, damaged, 'one byte flipped');
    assert.throws(() => openLog(directory), LogCorruptedError);

    const { log, recovered } = openLog(directory, { onCorruption: 'truncate' });
    assert.deepStrictEqual(recovered.entries, range(1, 5));
    assert.equal(recovered.tornBytesDropped, 0);
    assert.equal(recovered.continuesBase, true);
    assert.equal(recovered.corruption?.file, file);
    assert.equal(recovered.corruption?.offset, damaged.offset);
    assert.equal(recovered.corruption?.index, 6);
    assert.match(
      recovered.corruption?.reason ?? '',
      /CRC mismatch where index 6 would be, but the intact record/,
    );
    assert.deepStrictEqual(log.lastPosition, at(5));
    log.append(range(6, 7, 2));
    await log.close();
    // Repaired for good: the default mode opens it.
    assert.deepStrictEqual(openLog(directory).recovered, {
      ...intact,
      entries: [...range(1, 5), ...range(6, 7, 2)],
    });
  });
});

test("'truncate' with damage in a segment that is not the last: later segments go, the damaged one is cut", async () => {
  await withDirectory(async (directory) => {
    await writeLog(directory, range(1, 60));
    const starts = segmentStarts(directory);
    const second = path.join(directory, segmentFiles(directory)[1] ?? '');
    const damagedIndex = (starts[1] ?? 0) + 1;
    damage(second, recordOf(second, damagedIndex), 'zeroed');
    const { log, recovered } = openLog(directory, { onCorruption: 'truncate' });
    assert.deepStrictEqual(recovered.entries, range(1, damagedIndex - 1));
    assert.equal(recovered.corruption?.index, damagedIndex);
    assert.match(recovered.corruption?.reason ?? '', /not the last/);
    assert.deepStrictEqual(segmentStarts(directory), starts.slice(0, 2));
    await log.close();
  });
});

test("'truncate' with a segment header that cannot be trusted deletes that file and keeps the segments before it", async () => {
  await withDirectory(async (directory) => {
    await writeLog(directory, range(1, 60));
    const starts = segmentStarts(directory);
    const third = path.join(directory, segmentFiles(directory)[2] ?? '');
    const data = fs.readFileSync(third);
    data.writeUInt8((data[20] ?? 0) ^ 1, 20);
    fs.writeFileSync(third, data);
    const { log, recovered } = openLog(directory, { onCorruption: 'truncate' });
    assert.deepStrictEqual(recovered.entries, range(1, (starts[2] ?? 0) - 1));
    assert.equal(recovered.corruption?.offset, 0);
    assert.deepStrictEqual(segmentStarts(directory), starts.slice(0, 2));
    await log.close();
  });
});
