// The write-ahead log on a real file system: group commit, segments, truncation, and recovery that
// drops a torn tail but refuses (without touching a byte) a log corrupted in the middle.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { LogCorruptedError } from '../../src/errors.js';
import { clientId, type Entry, type LogPosition, logIndex, viewNumber } from '../../src/protocol/types.js';
import { decodeRecord, encodeRecord } from '../../src/storage/record.js';
import { type LogOptions, WriteAheadLog } from '../../src/storage/write-ahead-log.js';

const tinySegmentBytes = 300;

function entry(index: number, view = 1, updateBytes = index % 50): Entry {
  return {
    view: viewNumber(view),
    index: logIndex(index),
    clientId: clientId(`client-${index % 3}`),
    requestNumber: index * 2,
    durability: index % 2 === 0 ? 'sync' : 'async',
    update: Uint8Array.from({ length: updateBytes }, (_, i) => (index + i) & 0xff),
    result: Uint8Array.from({ length: index % 7 }, (_, i) => (view + i) & 0xff),
  };
}

const range = (from: number, to: number, view = 1): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, view));

async function withDirectory(body: (directory: string) => Promise<void> | void): Promise<void> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'understudy-wal-'));
  try {
    await body(directory);
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

const openLog = (directory: string, options: Partial<LogOptions> = {}) =>
  WriteAheadLog.open(directory, { segmentSizeBytes: tinySegmentBytes, ...options });

async function writeLog(directory: string, entries: Entry[], options: Partial<LogOptions> = {}) {
  const { log } = openLog(directory, options);
  log.append(entries);
  await log.close();
}

const segmentFiles = (directory: string): string[] => fs.readdirSync(directory).sort();
const lastSegment = (directory: string): string => path.join(directory, segmentFiles(directory).at(-1) ?? '');

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
    assert.deepStrictEqual(reopened.recovered, { entries, tornBytesDropped: 0 });
    assert.deepStrictEqual(reopened.log.lastPosition, { view: 1, index: 60 });
    reopened.log.append([entry(61)]);
    await reopened.log.close();
    assert.equal(openLog(directory).recovered.entries.length, 61);
  });
});

test('onDurable fires in order, after the data is on disk, and covers everything', async () => {
  await withDirectory(async (directory) => {
    const { log } = openLog(directory);
    const durable: LogPosition[] = [];
    log.onDurable = (position) => {
      const onDisk = segmentFiles(directory).flatMap((file) => {
        const data = fs.readFileSync(path.join(directory, file));
        const indexes: number[] = [];
        for (let decoded = decodeRecord(data, 0); decoded.kind === 'record'; ) {
          indexes.push(decoded.entry.index);
          decoded = decodeRecord(data, decoded.nextOffset);
        }
        return indexes;
      });
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

test('truncateAfter then appends in a new view: the log is the prefix plus the new entries', async () => {
  await withDirectory(async (directory) => {
    const { log } = openLog(directory, { segmentSizeBytes: 64 * 1024 });
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

test('a torn last record is dropped, earlier entries are intact, and appends continue', async () => {
  await withDirectory(async (directory) => {
    await writeLog(directory, range(1, 10));
    const file = lastSegment(directory);
    const lastRecordBytes = encodeRecord(entry(10)).length;
    fs.truncateSync(file, fs.statSync(file).size - Math.ceil(lastRecordBytes / 2));

    const { log, recovered } = openLog(directory);
    assert.equal(recovered.tornBytesDropped, lastRecordBytes - Math.ceil(lastRecordBytes / 2));
    assert.deepStrictEqual(recovered.entries, range(1, 9));
    log.append(range(10, 11, 2));
    await log.close();
    assert.deepStrictEqual(openLog(directory).recovered.entries, [...range(1, 9), ...range(10, 11, 2)]);
  });
});

test('half a record of garbage or zeros after the last record is a torn tail', async () => {
  await withDirectory(async (directory) => {
    await writeLog(directory, range(1, 10));
    const half = encodeRecord(entry(11)).subarray(0, 20);
    fs.appendFileSync(lastSegment(directory), half);
    const first = openLog(directory);
    assert.equal(first.recovered.tornBytesDropped, half.length);
    assert.deepStrictEqual(first.recovered.entries, range(1, 10));
    await first.log.close();

    fs.appendFileSync(lastSegment(directory), Buffer.alloc(100));
    const second = openLog(directory);
    assert.equal(second.recovered.tornBytesDropped, 100);
    second.log.append([entry(11)]);
    await second.log.close();
    assert.deepStrictEqual(openLog(directory).recovered.entries, range(1, 11));
  });
});

/** Writes records 1..10 into one segment; returns its path and the byte offset of record `index`. */
async function oneSegmentLog(directory: string, index: number): Promise<{ file: string; offset: number }> {
  const entries = range(1, 10);
  await writeLog(directory, entries, { segmentSizeBytes: 64 * 1024 });
  const offset = entries.slice(0, index - 1).reduce((sum, e) => sum + encodeRecord(e).length, 0);
  return { file: lastSegment(directory), offset };
}

function assertCorruptionLeavesFileAlone(directory: string, file: string): void {
  const before = fs.readFileSync(file);
  assert.throws(
    () => openLog(directory),
    (error: unknown) =>
      error instanceof LogCorruptedError &&
      error.message.includes(path.basename(file)) &&
      /byte offset \d+; last good index \d+/.test(error.message),
  );
  assert.deepStrictEqual(fs.readFileSync(file), before, 'a corrupted log is never truncated');
}

test('a flipped byte in the payload of a middle record is corruption, and nothing is truncated', async () => {
  await withDirectory(async (directory) => {
    const { file, offset } = await oneSegmentLog(directory, 5);
    const data = fs.readFileSync(file);
    const inUpdate = offset + encodeRecord(entry(5)).length - 12;
    data.writeUInt8((data[inUpdate] ?? 0) ^ 0x10, inUpdate);
    fs.writeFileSync(file, data);
    assertCorruptionLeavesFileAlone(directory, file);
  });
});

test('a damaged length field of a middle record is corruption, also one claiming 4 GiB', async () => {
  for (const length of [0, 61, 0xffff_ffff]) {
    await withDirectory(async (directory) => {
      const { file, offset } = await oneSegmentLog(directory, 5);
      const data = fs.readFileSync(file);
      data.writeUInt32LE(length, offset);
      fs.writeFileSync(file, data);
      assertCorruptionLeavesFileAlone(directory, file);
    });
  }
});

test('a last record claiming 4 GiB is a torn tail, dropped without allocating it', async () => {
  await withDirectory(async (directory) => {
    const { file, offset } = await oneSegmentLog(directory, 10);
    const data = fs.readFileSync(file);
    data.writeUInt32LE(0xffff_ffff, offset);
    fs.writeFileSync(file, data);
    const { recovered } = openLog(directory);
    assert.deepStrictEqual(recovered.entries, range(1, 9));
    assert.equal(fs.statSync(file).size, offset);
  });
});

test('a bad record in a segment that is not the last is corruption', async () => {
  await withDirectory(async (directory) => {
    await writeLog(directory, range(1, 30));
    const first = path.join(directory, segmentFiles(directory)[0] ?? '');
    fs.truncateSync(first, fs.statSync(first).size - 3);
    assertCorruptionLeavesFileAlone(directory, first);
  });
});

test('a missing segment (a gap in indexes) is corruption', async () => {
  await withDirectory(async (directory) => {
    await writeLog(directory, range(1, 30));
    const files = segmentFiles(directory);
    fs.rmSync(path.join(directory, files[1] ?? ''));
    assertCorruptionLeavesFileAlone(directory, path.join(directory, files[2] ?? ''));
  });
});

test('an empty or missing directory opens to an empty log that starts at index 1', async () => {
  await withDirectory(async (directory) => {
    const nested = path.join(directory, 'not-yet', 'there');
    const { log, recovered } = openLog(nested);
    assert.deepStrictEqual(recovered, { entries: [], tornBytesDropped: 0 });
    assert.deepStrictEqual(log.lastPosition, { view: 0, index: 0 });
    assert.throws(() => log.append([entry(2)]), /append of index 2 after 0/);
    log.append([entry(1)]);
    await log.close();
    assert.deepStrictEqual(openLog(nested).recovered.entries, [entry(1)]);
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
