// Recovery of one segment's bytes, as a pure function over images built the way the log writes them:
// damage that no intact record claims synced is a torn write and is dropped; damage at an index some
// intact record claims synced is corruption, reported with its place, whatever comes after it.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { ConfigError, LogCorruptedError } from '../../src/errors.js';
import {
  clientId,
  type Entry,
  type LogPosition,
  logIndex,
  positionZero,
  viewNumber,
} from '../../src/protocol/types.js';
import {
  encodeEntryRecord,
  encodeSyncMarker,
  entryRecordBytes,
  recordPrefixBytes,
} from '../../src/storage/record.js';
import {
  encodeBatch,
  encodeSegmentHeader,
  logFormatVersion,
  recoverSegment,
  type SegmentRecovery,
  salvageSegment,
  segmentHeaderBytes,
} from '../../src/storage/segment.js';
import { SegmentFileBytes } from '../../src/storage/segment-bytes.js';

const salt = 0xc0ff_ee42;
const path = '/data/log/00000000000000000001.log';

function entry(index: number, view = 1): Entry {
  return {
    view: viewNumber(view),
    index: logIndex(index),
    clientId: clientId(`client-${index % 3}`),
    requestNumber: index * 2,
    durability: index % 2 === 0 ? 'sync' : 'async',
    refused: index % 5 === 0,
    update: Uint8Array.from({ length: 20 + (index % 30) }, (_, i) => (index * 7 + i) & 0xff),
    result: Uint8Array.from({ length: index % 7 }, (_, i) => (view + i) & 0xff),
  };
}

const range = (from: number, to: number): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => entry(from + i));

const header = encodeSegmentHeader({ startIndex: 1, salt });
const batch1 = range(1, 10);
const batch2 = range(11, 15);
/** Batch 1 was fsynced; its records claim nothing (the log was empty when it was written). */
const batch1Bytes = encodeBatch(batch1, 0, salt);
/** Batch 2 was written after batch 1's fsync, so its records claim batch 1. */
const batch2Bytes = encodeBatch(batch2, 10, salt);
const batch1End = header.length + batch1Bytes.length;

/** The byte offset of `index` in an image of the header and then entries 1.. with no markers between. */
const offsetOf = (index: number): number =>
  range(1, index - 1).reduce((sum, e) => sum + entryRecordBytes(e), segmentHeaderBytes);

const recover = (
  image: Uint8Array,
  isLast = true,
  previous: LogPosition = { view: viewNumber(0), index: logIndex(0) },
) => recoverSegment(image, { path, isLast, startIndex: previous.index + 1, previous });

type Damage = 'zeroed' | 'one byte flipped' | 'length field zeroed';
const damages: readonly Damage[] = ['zeroed', 'one byte flipped', 'length field zeroed'];

/** A copy of `image` with the record of entry `index` (no markers before it) damaged. */
function damaged(image: Uint8Array, index: number, how: Damage): Buffer {
  const copy = Buffer.from(image);
  const offset = offsetOf(index);
  const bytes = entryRecordBytes(entry(index));
  if (how === 'zeroed') copy.fill(0, offset, offset + bytes);
  else if (how === 'length field zeroed') copy.writeUInt32LE(0, offset);
  else copy.writeUInt8((copy[offset + bytes - 3] ?? 0) ^ 0x40, offset + bytes - 3);
  return copy;
}

function assertCorruption(recoverImage: () => SegmentRecovery, expected: RegExp): void {
  assert.throws(recoverImage, (error: unknown) => {
    assert.ok(error instanceof LogCorruptedError, `expected LogCorruptedError, got ${String(error)}`);
    assert.match(error.message, expected);
    return true;
  });
}

test('a whole segment recovers every entry, its byte offsets, and what its records claim synced', () => {
  const recovered = recover(Buffer.concat([header, batch1Bytes, batch2Bytes, encodeSyncMarker(15, salt)]));
  assert.deepStrictEqual(recovered.entries, [...batch1, ...batch2]);
  assert.deepStrictEqual(
    [...recovered.entryOffsets],
    range(1, 15).map((e) => offsetOf(e.index)),
  );
  assert.equal(recovered.tornBytes, 0);
  assert.equal(recovered.coveredThrough, 15);
  assert.equal(recovered.salt, salt);
  assert.deepStrictEqual(recovered.last, { view: 1, index: 15 });
  // Without the marker, batch 2 is claimed by nothing yet: the log must write a marker for it.
  assert.equal(recover(Buffer.concat([header, batch1Bytes, batch2Bytes])).coveredThrough, 10);
});

test('damage in the middle of a never-synced batch with later records of it intact is a torn write: the batch is dropped from the damage on, the synced batch comes back whole', () => {
  const image = Buffer.concat([header, batch1Bytes, batch2Bytes]);
  for (const how of damages) {
    const recovered = recover(damaged(image, 13, how));
    assert.deepStrictEqual(recovered.entries, range(1, 12), how);
    assert.equal(recovered.validBytes, offsetOf(13), how);
    assert.equal(recovered.tornBytes, image.length - offsetOf(13), how);
  }
});

test('whatever subset of a never-synced batch pages reaches the disk, recovery never reports corruption and never loses the synced batch', () => {
  const syncedMarker = encodeSyncMarker(10, salt);
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.constantFrom(8, 64, 512, 4096),
      fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
      fc.constantFrom('zeros', 'garbage'),
      fc.nat(),
      fc.uint8Array({ minLength: 4096, maxLength: 4096 }),
      (markerAfterBatch1, pageBytes, pageSurvives, lostPagesRead, cut, garbage) => {
        // Synced: header, batch 1 and maybe an idle sync marker. Never synced: batch 2.
        const synced = Buffer.concat(
          markerAfterBatch1 ? [header, batch1Bytes, syncedMarker] : [header, batch1Bytes],
        );
        const written = Buffer.concat([synced, batch2Bytes]);
        const image = Buffer.from(written);
        // Pages are aligned in the file; a lost page keeps only its synced bytes.
        for (let page = Math.floor(synced.length / pageBytes); page * pageBytes < written.length; page++) {
          if (pageSurvives[page % pageSurvives.length] === true) continue;
          for (
            let offset = Math.max(page * pageBytes, synced.length);
            offset < Math.min((page + 1) * pageBytes, written.length);
            offset++
          ) {
            image[offset] = lostPagesRead === 'zeros' ? 0 : (garbage[offset % garbage.length] ?? 0);
          }
        }
        // The file size may or may not have reached its new length.
        const length = synced.length + (cut % (written.length - synced.length + 1));
        const recovered = recover(image.subarray(0, length));
        assert.ok(recovered.entries.length >= 10, 'batch 1 is never lost');
        assert.deepStrictEqual(recovered.entries, [...batch1, ...batch2].slice(0, recovered.entries.length));
        assert.equal(recovered.validBytes + recovered.tornBytes + recovered.spareBytes, length);
      },
    ),
    { numRuns: 100 },
  );
});

test('damage to the last entry of a closed log is corruption: the sync marker after it claims it synced', () => {
  const marker = encodeSyncMarker(15, salt);
  const image = Buffer.concat([header, batch1Bytes, batch2Bytes, marker]);
  const markerOffset = image.length - marker.length;
  for (const how of damages) {
    assertCorruption(
      () => recover(damaged(image, 15, how)),
      new RegExp(
        `${path}: .* at byte offset ${offsetOf(15)} where index 15 would be, but the intact record at byte offset ` +
          `${markerOffset} says every index through 15 was fsynced.*; last good index 14`,
      ),
    );
  }
});

test('damage to the last record of a synced batch is corruption when a record of the next batch claims it', () => {
  const image = Buffer.concat([header, batch1Bytes, batch2Bytes]);
  for (const how of damages) {
    assertCorruption(
      () => recover(damaged(image, 10, how)),
      new RegExp(
        `byte offset ${offsetOf(10)} where index 10 would be, .* byte offset ${offsetOf(11)} says every index through 10`,
      ),
    );
  }
  // Without batch 2 nothing claims entry 10: losing it looks exactly like a torn write.
  assert.deepStrictEqual(
    recover(damaged(Buffer.concat([header, batch1Bytes]), 10, 'zeroed')).entries,
    range(1, 9),
  );
});

test('a damaged sync marker with nothing after it is a torn write: it held no entry, and its claim is dropped', () => {
  const image = Buffer.concat([header, batch1Bytes, encodeSyncMarker(10, salt)]);
  image.writeUInt8((image[image.length - 1] ?? 0) ^ 1, image.length - 1);
  const recovered = recover(image);
  assert.deepStrictEqual(recovered.entries, batch1);
  assert.equal(recovered.validBytes, batch1End);
  assert.equal(recovered.coveredThrough, 0, 'the log will write a new marker');
});

test('zeros after the last record of the last segment are its unwritten space: the data ends there, nothing is torn', () => {
  for (const spare of [1, 3, 4, 5000]) {
    const recovered = recover(Buffer.concat([header, batch1Bytes, Buffer.alloc(spare)]));
    assert.deepStrictEqual(recovered.entries, batch1, `${spare} zero bytes`);
    assert.equal(recovered.validBytes, batch1End);
    assert.equal(recovered.tornBytes, 0);
    assert.equal(recovered.spareBytes, spare);
    assert.equal(recovered.corruption, null);
  }
  // Before the next segment is created the log cuts this one to its data: zeros there are damage.
  assertCorruption(
    () => recover(Buffer.concat([header, batch1Bytes, Buffer.alloc(5000)]), false),
    /zero length field .* in a segment that is not the last at byte offset \d+; last good index 10/,
  );
});

test("a torn write followed by the segment's unwritten space: the torn bytes end at the last non-zero byte", () => {
  const torn = Buffer.from(batch2Bytes.subarray(0, 70));
  const recovered = recover(Buffer.concat([header, batch1Bytes, torn, Buffer.alloc(4096)]));
  assert.deepStrictEqual(recovered.entries, batch1);
  assert.equal(recovered.validBytes, batch1End);
  assert.equal(recovered.tornBytes + recovered.spareBytes, torn.length + 4096);
  assert.ok(recovered.tornBytes > 0 && recovered.tornBytes <= torn.length);
  // Damage claimed synced is still corruption with zeros after it.
  const image = Buffer.concat([
    header,
    batch1Bytes,
    batch2Bytes,
    encodeSyncMarker(15, salt),
    Buffer.alloc(4096),
  ]);
  assertCorruption(
    () => recover(damaged(image, 12, 'one byte flipped')),
    /says every index through 15 was fsynced/,
  );
});

test('a bad record in a segment that is not the last is corruption, claimed or not', () => {
  const image = damaged(Buffer.concat([header, batch1Bytes]), 10, 'one byte flipped');
  assertCorruption(
    () => recover(image, false),
    /in a segment that is not the last at byte offset \d+; last good index 9/,
  );
});

test('an intact record claiming its own index synced, or a marker claiming past the entries before it, is corruption', () => {
  const forged = encodeEntryRecord(entry(11), 10, salt);
  forged.writeDoubleLE(11, recordPrefixBytes + 1);
  forged.writeUInt32LE(crc32(forged.subarray(recordPrefixBytes), salt), 4);
  assertCorruption(() => recover(Buffer.concat([header, batch1Bytes, forged])), /entry 11 claims index 11/);
  assertCorruption(
    () => recover(Buffer.concat([header, batch1Bytes, encodeSyncMarker(11, salt)])),
    /sync marker claims index 11, past the entries/,
  );
});

test('a copy of a record inside a payload counts as a claim only with the segment salt, which clients never see', () => {
  const forgeWith = (forgerSalt: number): Buffer => {
    const hostile = { ...entry(13), update: encodeSyncMarker(1_000_000, forgerSalt) };
    const image = Buffer.concat([
      header,
      batch1Bytes,
      encodeBatch([entry(11), entry(12), hostile], 10, salt),
    ]);
    // The hostile entry's write is torn: its length field never landed, its payload did.
    image.writeUInt32LE(0, offsetOf(13));
    return image;
  };
  assert.deepStrictEqual(recover(forgeWith((salt ^ 1) >>> 0)).entries, range(1, 12));
  assertCorruption(() => recover(forgeWith(salt)), /through 1000000 was fsynced/);
});

test('a last segment whose header never reached the disk holds nothing and is dropped, not reported', () => {
  for (const image of [
    Buffer.alloc(0),
    Buffer.alloc(segmentHeaderBytes),
    header.subarray(0, 5),
    Buffer.alloc(4096),
  ]) {
    const recovered = recover(image);
    assert.equal(recovered.created, false);
    assert.equal(recovered.tornBytes + recovered.spareBytes, image.length);
    assert.deepStrictEqual(recovered.entries, []);
  }
  assertCorruption(() => recover(Buffer.alloc(0), false), /never written .* not the last/);
  // A damaged header whose last byte is the data's last: nothing follows it, so nothing rests on it.
  const flippedAlone = Buffer.from(header);
  flippedAlone.writeUInt8((flippedAlone[20] ?? 0) ^ 1, 20);
  assert.notEqual(flippedAlone[segmentHeaderBytes - 1], 0, "the header's last byte is data");
  const alone = recover(flippedAlone);
  assert.equal(alone.created, false);
  assert.equal(alone.tornBytes, segmentHeaderBytes);
});

test('a damaged header with records after it is corruption: the header is fsynced before any record', () => {
  const image = Buffer.concat([header, batch1Bytes]);
  image.fill(0, 0, segmentHeaderBytes);
  assertCorruption(() => recover(image), /header never written .*records follow it/);
  const flipped = Buffer.concat([header, batch1Bytes]);
  flipped.writeUInt8((flipped[20] ?? 0) ^ 1, 20);
  assertCorruption(() => recover(flipped), /header CRC mismatch, but records follow it/);
});

test('a segment of another format version, or of a build without headers, is refused as a configuration error, never misread', () => {
  const otherVersion = Buffer.concat([header, batch1Bytes]);
  otherVersion.writeUInt32LE(logFormatVersion + 1, 8);
  otherVersion.writeUInt32LE(crc32(otherVersion.subarray(0, 24)), 24);
  const refused = (expected: RegExp) => (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.match(error.message, expected);
    return true;
  };
  const otherVersionMessage = new RegExp(
    `not a log of format ${logFormatVersion}: its header says format version ${logFormatVersion + 1}`,
  );
  assert.throws(() => recover(otherVersion), refused(otherVersionMessage));
  // Not damage, so salvaging does not cut it either.
  assert.throws(
    () => salvageSegment(otherVersion, { path, isLast: true, startIndex: 1, previous: positionZero }),
    refused(otherVersionMessage),
  );
  // A segment of the first format starts with a record's length field.
  const headerless = encodeBatch(batch1, 0, salt);
  assert.throws(() => recover(headerless), refused(/does not start with the segment magic/));
});

test('a header naming another start index, or a segment that does not follow the previous one, is corruption', () => {
  const previous = { view: viewNumber(1), index: logIndex(10) };
  assertCorruption(
    () => recover(Buffer.concat([header, batch1Bytes]), true, previous),
    /header says it starts at index 1/,
  );
  assertCorruption(
    () => recoverSegment(header, { path, isLast: true, startIndex: 1, previous }),
    /segment starts at index 1 but the previous one ends at 10/,
  );
});

test('entries that do not follow their predecessor are corruption, not a torn write', () => {
  const image = Buffer.concat([header, encodeBatch([entry(1), entry(3)], 0, salt)]);
  assertCorruption(() => recover(image), /entry \(view 1, index 3\) does not follow its predecessor/);
  // Views never go back along a log: a later entry of an older view is not this log's.
  const backwards = Buffer.concat([header, encodeBatch([entry(1, 3), entry(2, 2)], 0, salt)]);
  assertCorruption(() => recover(backwards), /entry \(view 2, index 2\) does not follow its predecessor/);
});

/** Salvages `image` as recovery reads it from a file: through a window of `windowBytes`. */
function salvageFromFile(image: Uint8Array, windowBytes: number, keepAfter = 0): SegmentRecovery {
  const directory = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'understudy-segment-'));
  const file = nodePath.join(directory, 'segment.log');
  fs.writeFileSync(file, image);
  const fd = fs.openSync(file, 'r');
  try {
    const options = { path, isLast: true, startIndex: 1, previous: positionZero, keepAfter };
    return salvageSegment(new SegmentFileBytes(fd, image.length, windowBytes), options);
  } finally {
    fs.closeSync(fd);
    fs.rmSync(directory, { recursive: true });
  }
}

test('read from its file through a window smaller than a record, a segment recovers exactly what its whole image does, intact, torn or corrupted', () => {
  const whole = Buffer.concat([header, batch1Bytes, batch2Bytes, encodeSyncMarker(15, salt)]);
  const images = [
    whole,
    Buffer.concat([header, batch1Bytes, batch2Bytes.subarray(0, 30)]),
    damaged(Buffer.concat([header, batch1Bytes, batch2Bytes]), 13, 'zeroed'),
    damaged(whole, 15, 'one byte flipped'),
    damaged(whole, 4, 'length field zeroed'),
    Buffer.concat([header, batch1Bytes, Buffer.alloc(100)]),
    // The unwritten space of a segment created at full size, after data, a torn write, or nothing.
    Buffer.concat([whole, Buffer.alloc(4096)]),
    Buffer.concat([header, batch1Bytes, batch2Bytes.subarray(0, 30), Buffer.alloc(5000)]),
    Buffer.concat([damaged(whole, 15, 'one byte flipped'), Buffer.alloc(700)]),
    Buffer.alloc(3000),
  ];
  for (const image of images) {
    const inMemory = salvageSegment(image, { path, isLast: true, startIndex: 1, previous: positionZero });
    for (const windowBytes of [1, 37, 200, 1 << 20]) {
      assert.deepStrictEqual(salvageFromFile(image, windowBytes), inMemory, `window of ${windowBytes} bytes`);
    }
  }
});

test('entries at or below keepAfter are checked and counted but not returned, and every view they start is still reported', () => {
  const views = [entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2), entry(5, 4), entry(6, 4)];
  const image = Buffer.concat([header, encodeBatch(views, 0, salt), encodeSyncMarker(6, salt)]);
  const recovered = salvageFromFile(image, 64, 4);
  assert.equal(recovered.count, 6);
  assert.deepStrictEqual(recovered.entries, views.slice(4));
  assert.deepStrictEqual(recovered.epochs, [
    { view: 1, startIndex: 1 },
    { view: 2, startIndex: 3 },
    { view: 4, startIndex: 5 },
  ]);
  assert.equal(recovered.entryOffsets.length, 6);
  assert.deepStrictEqual(recovered.last, { view: 4, index: 6 });
  // A damaged record below keepAfter is still damage to synced data.
  const broken = Buffer.from(image);
  broken.writeUInt8((broken[offsetOf(2) + 40] ?? 0) ^ 1, offsetOf(2) + 40);
  assert.match(salvageFromFile(broken, 64, 4).corruption?.reason ?? '', /CRC mismatch/);
});
