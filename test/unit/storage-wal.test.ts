// The write-ahead log on a real file system: group commit, segments, truncation, sync markers, and
// recovery that drops a torn write but refuses (without touching a byte) a log whose synced part is
// damaged. A "crash" is a copy of the directory taken while the log is still open: the files as the
// page cache held them, with no close() and no further marker.

import assert from 'node:assert/strict';
import nodeFs, * as fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import * as path from 'node:path';
import { test } from 'node:test';
import { ConfigError, LogCorruptedError } from '../../src/errors.js';
import { type LogPosition, logIndex } from '../../src/protocol/types.js';
import { encodeEntryRecord, syncMarkerRecordBytes } from '../../src/storage/record.js';
import { segmentHeaderBytes } from '../../src/storage/segment.js';
import { WriteAheadLog } from '../../src/storage/write-ahead-log.js';
import {
  appendDurably,
  crashCopy,
  damage,
  damages,
  dataBytesOf,
  entry,
  filesOf,
  idleNeverMs,
  intact,
  lastSegment,
  oneSegmentBytes,
  openLog,
  range,
  recordOf,
  recordsEndOf,
  recordsIn,
  segmentFiles,
  tinySegmentBytes,
  until,
  withDirectory,
  writeInto,
  writeLog,
} from './storage-fixtures.js';

function assertCorruptionLeavesFilesAlone(directory: string, file: string, expected?: RegExp): void {
  const before = filesOf(directory);
  assert.throws(
    () => openLog(directory),
    (error: unknown) => {
      assert.ok(error instanceof LogCorruptedError, `expected LogCorruptedError, got ${String(error)}`);
      assert.ok(error.message.includes(path.basename(file)), error.message);
      assert.match(error.message, /byte offset \d+.*; last good index \d+$/);
      if (expected !== undefined) assert.match(error.message, expected);
      return true;
    },
  );
  assert.deepStrictEqual(filesOf(directory), before, 'a corrupted log is never truncated');
}

/**
 * Batch 1 (entries 1..10) written and fsynced, then batch 2 (11..15), its records claiming batch 1:
 * returns a crash copy, the files as a power cut before batch 2's fsync could leave them had every
 * page landed (the tests then damage what might not have). No sync marker: the log never went idle.
 */
async function crashAfterTwoBatches(directory: string): Promise<string> {
  const { log } = openLog(directory, { segmentSizeBytes: oneSegmentBytes, syncMarkerIdleMs: idleNeverMs });
  await appendDurably(log, range(1, 10));
  await appendDurably(log, range(11, 15));
  assert.equal(log.stats.syncMarkers, 0);
  const copy = crashCopy(directory);
  await log.close();
  return copy;
}

test('entries across many segments come back after reopening, bytes included', async () => {
  await withDirectory(async (directory) => {
    const entries = range(1, 60);
    const { log } = openLog(directory);
    log.append(entries.slice(0, 25));
    log.append(entries.slice(25));
    await log.close();
    const files = segmentFiles(directory);
    assert.ok(files.length > 5, `expected several segments, got ${files.length}`);
    assert.equal(files[0], '00000000000000000001.log');
    for (const file of files) assert.ok(fs.statSync(path.join(directory, file)).size <= tinySegmentBytes);

    const reopened = openLog(directory);
    assert.deepStrictEqual(reopened.recovered, { ...intact, entries });
    assert.deepStrictEqual(reopened.log.lastPosition, { view: 1, index: 60 });
    reopened.log.append([entry(61)]);
    await reopened.log.close();
    assert.equal(openLog(directory).recovered.entries.length, 61);
  });
});

test('a segment is created at its full size and written in place; before the next is created it is cut to its data', async () => {
  await withDirectory(async (directory) => {
    const { log } = openLog(directory);
    await appendDurably(log, range(1, 2));
    const [only] = segmentFiles(directory);
    const first = path.join(directory, only ?? '');
    // The file's size never changes with an append: the records land in space it already has.
    assert.equal(fs.statSync(first).size, tinySegmentBytes);
    assert.ok(
      fs
        .readFileSync(first)
        .subarray(recordsEndOf(first))
        .every((byte) => byte === 0),
    );

    await appendDurably(log, range(3, 30));
    await log.close();
    const files = segmentFiles(directory).map((name) => path.join(directory, name));
    assert.ok(files.length > 3, `several segments: ${files.length}`);
    for (const file of files.slice(0, -1)) {
      assert.equal(fs.statSync(file).size, recordsEndOf(file), `${file} ends at its last record`);
    }
    assert.equal(fs.statSync(files.at(-1) ?? '').size, tinySegmentBytes, 'the last keeps its space');
    assert.deepStrictEqual(openLog(directory).recovered, { ...intact, entries: range(1, 30) });
  });
});

test('records cut off by a truncation read as zeros afterwards, and the segment keeps its full size', async () => {
  await withDirectory(async (directory) => {
    const { log } = openLog(directory, { segmentSizeBytes: oneSegmentBytes });
    await appendDurably(log, range(1, 20));
    log.truncateAfter(logIndex(12));
    // Shorter records in the new view: were the old bytes of 13..20 left in the file, the ones past
    // the new end would still decode (same salt) and a crash would bring them back.
    await appendDurably(log, [entry(13, 2, 0), entry(14, 2, 0)]);
    const copy = crashCopy(directory);
    await log.close();
    const file = lastSegment(copy);
    const last = recordOf(file, 14);
    assert.equal(fs.statSync(file).size, oneSegmentBytes);
    assert.equal(dataBytesOf(file) <= last.offset + last.bytes, true, 'nothing after entry 14 but zeros');
    assert.deepStrictEqual(openLog(copy).recovered.entries, [
      ...range(1, 12),
      entry(13, 2, 0),
      entry(14, 2, 0),
    ]);
  });
});

test('onDurable fires in order, after the data is on disk, and covers everything', async () => {
  await withDirectory(async (directory) => {
    const { log } = openLog(directory);
    const durable: LogPosition[] = [];
    log.onDurable = (position) => {
      const onDisk = segmentFiles(directory).flatMap((file) =>
        recordsIn(path.join(directory, file)).flatMap((record) =>
          record.index === null ? [] : [record.index],
        ),
      );
      // The next batch may already be landing, so the files hold at least this much.
      assert.ok((onDisk.at(-1) ?? 0) >= position.index, 'everything reported durable is in the files');
      durable.push(position);
    };
    for (let index = 1; index <= 40; index++) {
      log.append([entry(index)]);
      if (index % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await log.close();
    assert.ok(durable.length > 1, 'several batches');
    assert.deepStrictEqual(durable.at(-1), { view: 1, index: 40 });
    const indexes = durable.map((position) => position.index);
    assert.deepStrictEqual(
      indexes,
      [...indexes].sort((a, b) => a - b),
    );
    assert.equal(new Set(indexes).size, indexes.length, 'one call per batch, no repeats');
  });
});

test('appends issued in one tick share fsyncs (group commit)', async () => {
  await withDirectory(async (directory) => {
    const { log } = WriteAheadLog.open(directory);
    let durableCalls = 0;
    log.onDurable = () => durableCalls++;
    for (let index = 1; index <= 100; index++) log.append([entry(index)]);
    await log.close();
    assert.ok(log.stats.syncs <= 2, `100 appends took ${log.stats.syncs} fsyncs`);
    assert.equal(durableCalls, log.stats.batches);
  });
});

test('the log says how long the event loop waited in its disk calls since it was last asked, then starts again', async () => {
  await withDirectory(async (directory) => {
    const { log } = WriteAheadLog.open(directory);
    log.fsyncOnEventLoop = true; // a backup's: the fdatasync on the loop counts too
    assert.equal(log.takeLongestWaitOnLoopMs(), 0, 'nothing written yet');
    let durable = 0;
    log.onDurable = () => durable++;
    for (let index = 1; index <= 10; index++) log.append([entry(index)]);
    await until(() => durable > 0, 'the first batch durable');
    const waitedMs = log.takeLongestWaitOnLoopMs();
    assert.ok(waitedMs > 0, `a write and an fdatasync took ${waitedMs} ms`);
    assert.equal(log.takeLongestWaitOnLoopMs(), 0, 'taken, it starts again');
    await log.close();
  });
});

test("a new segment's fsyncs count as a wait on the event loop, so a stall in them names the disk", async () => {
  await withDirectory(async (directory) => {
    const { log } = openLog(directory, { segmentSizeBytes: tinySegmentBytes, syncMarkerIdleMs: idleNeverMs });
    await appendDurably(log, range(1, 2));
    log.takeLongestWaitOnLoopMs();
    // A disk whose fsyncs each take 80 ms, while the segments roll over (the batches' own fdatasync
    // runs on the thread pool here, a primary's, so only the new segments' fsyncs wait on the loop).
    const fsyncSync = nodeFs.fsyncSync;
    nodeFs.fsyncSync = (fd) => {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 80);
      fsyncSync(fd);
    };
    syncBuiltinESMExports();
    try {
      await appendDurably(log, range(3, 12));
    } finally {
      nodeFs.fsyncSync = fsyncSync;
      syncBuiltinESMExports();
    }
    assert.ok(segmentFiles(directory).length > 1, 'the log rolled over to a new segment');
    const waitedMs = log.takeLongestWaitOnLoopMs();
    assert.ok(waitedMs >= 80, `the longest wait on the loop was ${waitedMs} ms`);
    await log.close();
  });
});

test('truncateAfter then appends in a new view: the log is the prefix plus the new entries', async () => {
  await withDirectory(async (directory) => {
    const { log } = openLog(directory, { segmentSizeBytes: oneSegmentBytes });
    log.append(range(1, 20));
    await new Promise((resolve) => setImmediate(resolve));
    log.truncateAfter(logIndex(12));
    assert.deepStrictEqual(log.lastPosition, { view: 1, index: 12 });
    log.append(range(13, 15, 2));
    // Also in one tick with the appends it cuts, queued but not yet written.
    log.append(range(16, 18, 2));
    log.truncateAfter(logIndex(16));
    log.append(range(17, 17, 3));
    await log.close();
    const expected = [...range(1, 12), ...range(13, 16, 2), ...range(17, 17, 3)];
    assert.deepStrictEqual(openLog(directory).recovered.entries, expected);
  });
});

test('a reopened log knows the view of each entry: truncated into a later view, that view is its last', async () => {
  await withDirectory(async (directory) => {
    await writeLog(directory, [
      ...range(1, 10),
      ...range(11, 20, 2),
      ...range(21, 30, 2),
      ...range(31, 40, 4),
    ]);
    const { log } = openLog(directory);
    log.truncateAfter(logIndex(35));
    assert.deepStrictEqual(log.lastPosition, { view: 4, index: 35 });
    log.truncateAfter(logIndex(25));
    assert.deepStrictEqual(log.lastPosition, { view: 2, index: 25 });
    log.truncateAfter(logIndex(10));
    assert.deepStrictEqual(log.lastPosition, { view: 1, index: 10 });
    await log.close();
  });
});

test('truncation across segment boundaries deletes later segments', async () => {
  await withDirectory(async (directory) => {
    await writeLog(directory, range(1, 40));
    const before = segmentFiles(directory);
    const { log, recovered } = openLog(directory);
    assert.equal(recovered.entries.length, 40);
    log.truncateAfter(logIndex(5));
    log.append(range(6, 8, 2));
    await log.close();
    const after = segmentFiles(directory);
    assert.ok(after.length < before.length);
    assert.deepStrictEqual(openLog(directory).recovered.entries, [...range(1, 5), ...range(6, 8, 2)]);

    // Exactly at the start of a segment: that segment is emptied and reused for the next index.
    const secondStart = Number(after[1]?.slice(0, 20));
    const again = openLog(directory);
    again.log.truncateAfter(logIndex(secondStart - 1));
    again.log.append([entry(secondStart, 3)]);
    await again.log.close();
    const entries = openLog(directory).recovered.entries;
    assert.equal(entries.length, secondStart);
    assert.deepStrictEqual(entries.at(-1), entry(secondStart, 3));
  });
});

test('records written after a truncation in the same batch claim only what survived it', async () => {
  await withDirectory(async (directory) => {
    const { log } = openLog(directory, { segmentSizeBytes: oneSegmentBytes, syncMarkerIdleMs: idleNeverMs });
    log.append(range(1, 20));
    // Queued while 1..20 are written, so one batch: cut back to 12, then 13..15 of a new view. Written
    // after 20 was fsynced, they must claim 12, not 20.
    log.truncateAfter(logIndex(12));
    await appendDurably(log, range(13, 15, 2));
    const copy = crashCopy(directory);
    await log.close();
    const file = lastSegment(copy);
    assert.deepStrictEqual(
      recordsIn(file)
        .filter((record) => record.index !== null && record.index >= 13)
        .map((record) => record.syncedThrough),
      [12, 12, 12],
    );
    // So damage to 13 in that never-synced write, with 14 and 15 intact, is a torn write.
    damage(file, recordOf(file, 13), 'zeroed');
    assert.deepStrictEqual(openLog(copy).recovered.entries, range(1, 12));
  });
});

test('on disk: damage in the middle of a never-synced batch with later records intact is a torn write, and the synced batch comes back whole', async () => {
  for (const how of damages) {
    await withDirectory(async (directory) => {
      const copy = await crashAfterTwoBatches(directory);
      const file = lastSegment(copy);
      const damaged = recordOf(file, 13);
      const dataBefore = dataBytesOf(file);
      damage(file, damaged, how);

      const { log, recovered } = openLog(copy);
      assert.deepStrictEqual(recovered.entries, range(1, 12), how);
      assert.equal(recovered.tornBytesDropped, dataBefore - damaged.offset, how);
      // The cut is where entry 13 started; after it, the marker that open() writes to cover 1..12.
      assert.deepStrictEqual(
        recordsIn(file).map((record) => record.index ?? `marker ${record.syncedThrough}`),
        [...range(1, 12).map((e) => e.index), 'marker 12'],
      );
      log.append(range(13, 14, 2));
      await log.close();
      assert.deepStrictEqual(openLog(copy).recovered.entries, [...range(1, 12), ...range(13, 14, 2)]);
    });
  }
});

test('on disk: the last record of a synced batch damaged while the next batch (claiming it) is intact is corruption', async () => {
  for (const how of damages) {
    await withDirectory(async (directory) => {
      const copy = await crashAfterTwoBatches(directory);
      const file = lastSegment(copy);
      const damaged = recordOf(file, 10);
      const claiming = recordOf(file, 11);
      assert.equal(claiming.syncedThrough, 10);
      damage(file, damaged, how);
      assertCorruptionLeavesFilesAlone(
        copy,
        file,
        new RegExp(
          `at byte offset ${damaged.offset} where index 10 would be, but the intact record at byte offset ` +
            `${claiming.offset} says every index through 10 was fsynced`,
        ),
      );
    });
  }
});

test('a closed log whose last entry is then damaged is corrupted: refused, the place named, the files untouched', async () => {
  for (const how of damages) {
    await withDirectory(async (directory) => {
      await writeLog(directory, range(1, 10), { segmentSizeBytes: oneSegmentBytes });
      const file = lastSegment(directory);
      const records = recordsIn(file);
      const marker = records.at(-1);
      assert.ok(
        marker?.kind === 'syncMarker' && marker.syncedThrough === 10,
        'close() leaves a covering marker',
      );
      const last = recordOf(file, 10);
      damage(file, last, how);
      assertCorruptionLeavesFilesAlone(
        directory,
        file,
        new RegExp(
          `at byte offset ${last.offset} where index 10 would be, but the intact record at byte offset ` +
            `${marker.offset} says every index through 10 was fsynced.*; last good index 9`,
        ),
      );
    });
  }
});

test('after the log is idle for syncMarkerIdleMs, damage to the last entry is corruption even if the process then crashes', async () => {
  await withDirectory(async (directory) => {
    const { log } = openLog(directory, { segmentSizeBytes: oneSegmentBytes, syncMarkerIdleMs: 1 });
    await appendDurably(log, range(1, 5));
    await until(() => log.stats.syncMarkers === 1, 'the idle sync marker');
    const copy = crashCopy(directory);
    await log.close();
    assert.equal(log.stats.syncMarkers, 1, 'close() found everything covered already');

    const file = lastSegment(copy);
    const marker = recordsIn(file).at(-1);
    assert.ok(marker?.kind === 'syncMarker' && marker.syncedThrough === 5);
    damage(file, recordOf(file, 5), 'zeroed');
    assertCorruptionLeavesFilesAlone(
      copy,
      file,
      new RegExp(`record at byte offset ${marker.offset} says every index through 5`),
    );
  });
});

test('before the idle sync marker, the same damage to the last entry is a torn write (nothing claimed it)', async () => {
  await withDirectory(async (directory) => {
    const { log } = openLog(directory, { segmentSizeBytes: oneSegmentBytes, syncMarkerIdleMs: idleNeverMs });
    await appendDurably(log, range(1, 5));
    const copy = crashCopy(directory);
    await log.close();
    const file = lastSegment(copy);
    damage(file, recordOf(file, 5), 'zeroed');
    assert.deepStrictEqual(openLog(copy).recovered.entries, range(1, 4));
  });
});

test('under continuous load each batch carries the claim for the one before: no sync marker until idle or close', async () => {
  await withDirectory(async (directory) => {
    const { log } = openLog(directory, { segmentSizeBytes: oneSegmentBytes, syncMarkerIdleMs: idleNeverMs });
    for (let batch = 0; batch < 5; batch++) await appendDurably(log, range(batch * 4 + 1, batch * 4 + 4));
    assert.equal(log.stats.syncMarkers, 0);
    assert.deepStrictEqual(
      recordsIn(lastSegment(directory)).map((record) => record.syncedThrough),
      [0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12, 16, 16, 16, 16],
    );
    await log.close();
    assert.equal(log.stats.syncMarkers, 1);
    const reopened = openLog(directory);
    assert.equal(reopened.log.stats.syncMarkers, 0, 'a covered log needs no marker at open');
    await reopened.log.close();
    assert.equal(reopened.log.stats.syncMarkers, 0, 'nor at close, if nothing was appended');
  });
});

test('open() covers a recovered tail that no record claims, so later damage to it is corruption', async () => {
  await withDirectory(async (directory) => {
    const copy = await crashAfterTwoBatches(directory);
    const first = openLog(copy);
    assert.equal(first.log.stats.syncMarkers, 1);
    await first.log.close();
    const file = lastSegment(copy);
    damage(file, recordOf(file, 15), 'zeroed');
    assertCorruptionLeavesFilesAlone(copy, file, /where index 15 would be/);
  });
});

test('a torn last record is dropped, earlier entries are intact, and appends continue', async () => {
  await withDirectory(async (directory) => {
    const { log } = openLog(directory, { syncMarkerIdleMs: idleNeverMs });
    await appendDurably(log, range(1, 9));
    await appendDurably(log, [entry(10)]);
    const copy = crashCopy(directory);
    await log.close();
    const file = lastSegment(copy);
    const last = recordOf(file, 10);
    // The second half of its write never reached the disk: it reads as zeros.
    const lost = Math.ceil(last.bytes / 2);
    writeInto(file, Buffer.alloc(lost), last.offset + last.bytes - lost);
    const tornBytes = dataBytesOf(file) - last.offset;
    assert.ok(tornBytes > 0 && tornBytes <= last.bytes - lost);

    const reopened = openLog(copy);
    assert.equal(reopened.recovered.tornBytesDropped, tornBytes);
    assert.deepStrictEqual(reopened.recovered.entries, range(1, 9));
    // Cut where entry 10 began; at most a marker after it (when 1..9 needed a claim), then zeros.
    assert.ok(dataBytesOf(file) <= last.offset + syncMarkerRecordBytes, 'the torn bytes are gone');
    reopened.log.append(range(10, 11, 2));
    await reopened.log.close();
    assert.deepStrictEqual(openLog(copy).recovered.entries, [...range(1, 9), ...range(10, 11, 2)]);
  });
});

test('half a record after the last record is a torn tail; zeros after it are the unwritten rest of the segment', async () => {
  await withDirectory(async (directory) => {
    await writeLog(directory, range(1, 10));
    const file = lastSegment(directory);
    const dataEnd = dataBytesOf(file);
    // Through the first byte of the view (1.0 as a little-endian f64 ends in 0xf0 0x3f): non-zero last.
    const half = encodeEntryRecord(entry(11), 10, 0).subarray(0, 24);
    writeInto(file, half, dataEnd);
    const first = openLog(directory);
    assert.equal(first.recovered.tornBytesDropped, half.length);
    assert.deepStrictEqual(first.recovered.entries, range(1, 10));
    await first.log.close();
    assert.equal(dataBytesOf(file), dataEnd, 'the torn bytes were cut, and read as zeros now');
    assert.equal(fs.statSync(file).size, tinySegmentBytes, 'the segment got its full size back');

    // A plain file appended to by hand: the zeros after the records are no torn write.
    fs.truncateSync(file, dataEnd);
    fs.appendFileSync(file, Buffer.alloc(100));
    const second = openLog(directory);
    assert.deepStrictEqual(second.recovered, { ...intact, entries: range(1, 10) });
    second.log.append([entry(11)]);
    await second.log.close();
    assert.deepStrictEqual(openLog(directory).recovered.entries, range(1, 11));
  });
});

test('a damaged middle record is corruption, also a length field claiming 4 GiB, and nothing is truncated', async () => {
  for (const how of damages) {
    await withDirectory(async (directory) => {
      await writeLog(directory, range(1, 10), { segmentSizeBytes: oneSegmentBytes });
      const file = lastSegment(directory);
      damage(file, recordOf(file, 5), how);
      assertCorruptionLeavesFilesAlone(directory, file, /where index 5 would be/);
    });
  }
});

test('a last record claiming 4 GiB in a never-synced write is a torn tail, dropped without allocating it', async () => {
  await withDirectory(async (directory) => {
    const copy = await crashAfterTwoBatches(directory);
    const file = lastSegment(copy);
    const last = recordOf(file, 15);
    damage(file, last, 'length field claims 4 GiB');
    const { log, recovered } = openLog(copy);
    assert.deepStrictEqual(recovered.entries, range(1, 14));
    assert.equal(recordsIn(file).at(-1)?.offset, last.offset, 'cut at the record, then a marker');
    await log.close();
  });
});

test('a bad record in a segment that is not the last is corruption', async () => {
  await withDirectory(async (directory) => {
    await writeLog(directory, range(1, 30));
    const first = path.join(directory, segmentFiles(directory)[0] ?? '');
    fs.truncateSync(first, fs.statSync(first).size - 3);
    assertCorruptionLeavesFilesAlone(directory, first, /not the last/);
  });
});

test('a missing segment (a gap in indexes) is corruption', async () => {
  await withDirectory(async (directory) => {
    await writeLog(directory, range(1, 30));
    const files = segmentFiles(directory);
    fs.rmSync(path.join(directory, files[1] ?? ''));
    assertCorruptionLeavesFilesAlone(directory, path.join(directory, files[2] ?? ''));
  });
});

test('a last segment whose creation never completed (empty, or zeros: no header) is removed, and appends recreate it', async () => {
  // Zeros as long as a header, or as the whole segment (its size reached the disk, its header not).
  for (const content of [Buffer.alloc(0), Buffer.alloc(segmentHeaderBytes), Buffer.alloc(oneSegmentBytes)]) {
    await withDirectory(async (directory) => {
      await writeLog(directory, range(1, 10), { segmentSizeBytes: oneSegmentBytes });
      // As the log does before it creates the next segment: this one cut to its data.
      const first = lastSegment(directory);
      fs.truncateSync(first, dataBytesOf(first));
      const unfinished = path.join(directory, '00000000000000000011.log');
      fs.writeFileSync(unfinished, content);
      const { log, recovered } = openLog(directory);
      assert.deepStrictEqual(recovered, {
        ...intact,
        entries: range(1, 10),
      });
      assert.equal(fs.existsSync(unfinished), false);
      log.append([entry(11)]);
      await log.close();
      assert.deepStrictEqual(openLog(directory).recovered.entries, range(1, 11));
    });
  }
});

test('a log of another format is refused with a clear error and left alone', async () => {
  await withDirectory(async (directory) => {
    fs.mkdirSync(directory);
    const file = path.join(directory, '00000000000000000001.log');
    // The first format had no segment header: a file that starts with a record's length field.
    const headerless = encodeEntryRecord(entry(1), 0, 0);
    fs.writeFileSync(file, headerless);
    assert.throws(
      () => openLog(directory),
      /is not a log of format 2: it does not start with the segment magic/,
    );
    assert.deepStrictEqual(fs.readFileSync(file), headerless);
  });
});

test('an empty or missing directory opens to an empty log that starts at index 1', async () => {
  await withDirectory(async (directory) => {
    const nested = path.join(directory, 'not-yet', 'there');
    const { log, recovered } = openLog(nested);
    assert.deepStrictEqual(recovered, { ...intact, entries: [] });
    assert.deepStrictEqual(log.lastPosition, { view: 0, index: 0 });
    assert.throws(() => log.append([entry(2)]), /append of index 2 after 0/);
    log.append([entry(1)]);
    await log.close();
    assert.deepStrictEqual(openLog(nested).recovered.entries, [entry(1)]);
  });
});

test('syncMarkerIdleMs must be a non-negative integer a timer can wait', async () => {
  await withDirectory((directory) => {
    for (const syncMarkerIdleMs of [-1, 1.5, Number.NaN, 2 ** 31]) {
      assert.throws(() => openLog(directory, { syncMarkerIdleMs }), ConfigError);
    }
  });
});

test('a failed write is fatal: the log reports it once and accepts nothing more', async () => {
  await withDirectory(async (directory) => {
    const failures: Error[] = [];
    const { log } = openLog(directory, { segmentSizeBytes: 1, fatal: (error) => failures.push(error) });
    const durable: number[] = [];
    log.onDurable = (position) => durable.push(position.index);
    // Every record rolls to a new segment; a file in the way of segment 3 makes that roll fail.
    fs.writeFileSync(path.join(directory, '00000000000000000003.log'), '');
    log.append(range(1, 5));
    await assert.rejects(log.close(), /EEXIST/);
    assert.equal(failures.length, 1);
    assert.deepStrictEqual(durable, []);
    log.append([entry(6)]);
    assert.equal(failures.length, 1);
  });
});

for (const onLoop of [false, true]) {
  test(`a failed fdatasync is fatal: the batch is never reported durable and the log accepts nothing more (${onLoop ? 'on the event loop' : 'on the thread pool'})`, async () => {
    await withDirectory(async (directory) => {
      const failures: Error[] = [];
      const { log } = openLog(directory, { fatal: (error) => failures.push(error) });
      log.fsyncOnEventLoop = onLoop;
      await appendDurably(log, [entry(1)]);
      const durable: number[] = [];
      log.onDurable = (position) => durable.push(position.index);
      // The segment's descriptor now names /dev/null (the lowest free number is reused at once): the
      // next batch's write succeeds there, and its fdatasync fails (EINVAL), as a failing disk's would.
      // The failed log closes the descriptor itself.
      const segmentFd = openDescriptorOf(lastSegment(directory));
      fs.closeSync(segmentFd);
      assert.equal(reopenAsDevNull(segmentFd), segmentFd, 'the descriptor number is reused');
      log.append([entry(2)]);
      await until(() => failures.length > 0, 'the log to fail');
      assert.match(String(failures[0]), /EINVAL/);
      assert.deepStrictEqual(durable, [], 'the failed batch is never reported durable');
      log.append([entry(3)]);
      await assert.rejects(log.close(), /EINVAL/);
      assert.equal(failures.length, 1);
      assert.deepStrictEqual(durable, []);
    });
  });
}

test('with the fdatasync on the event loop, appends from many turns are grouped, reported durable in order, and recovered', async () => {
  await withDirectory(async (directory) => {
    const { log } = openLog(directory, { segmentSizeBytes: oneSegmentBytes });
    log.fsyncOnEventLoop = true;
    const durable: number[] = [];
    log.onDurable = (position) => durable.push(position.index);
    const entries = range(1, 200);
    for (let turn = 0; turn < 20; turn += 1) {
      // One at a time: the first starts a batch, the nine after it wait for its sync and go as one.
      for (const one of entries.slice(turn * 10, turn * 10 + 10)) log.append([one]);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await until(() => durable.at(-1) === 200, 'every entry to be durable');
    assert.deepStrictEqual(
      durable,
      [...durable].sort((a, b) => a - b),
      'durable positions only grow',
    );
    assert.ok(log.stats.syncs <= 40, `grouped: ${log.stats.syncs} fdatasyncs for 200 entries in 20 turns`);
    await log.close();
    assert.deepStrictEqual(openLog(directory).recovered.entries, entries);
  });
});

/** The descriptor this process holds open on `file` (found in /proc/self/fd). */
function openDescriptorOf(file: string): number {
  const target = fs.realpathSync(file);
  for (const name of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${name}`) === target) return Number(name);
    } catch {
      // The descriptor readdir itself used, closed by now.
    }
  }
  throw new Error(`no descriptor open on ${file}`);
}

/**
 * Opens /dev/null on descriptor number `wanted`, just closed. The kernel gives the lowest free number,
 * and a descriptor of the runtime's own (a thread-pool file operation of this process) may have been
 * freed below it meanwhile: those lower ones are held until `wanted` comes, then closed.
 */
function reopenAsDevNull(wanted: number): number {
  const held: number[] = [];
  let fd = fs.openSync('/dev/null', 'r+');
  while (fd < wanted) {
    held.push(fd);
    fd = fs.openSync('/dev/null', 'r+');
  }
  for (const lower of held) fs.closeSync(lower);
  return fd;
}
