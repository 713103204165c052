// The on-disk record format: entries and sync markers round-trip with their syncedThrough claim, and
// decoding damaged, hostile or foreign bytes never throws, never allocates from a length field, and
// never yields a record that was not written into a segment with this salt.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { clientId, type Entry, logIndex, viewNumber } from '../../src/protocol/types.js';
import {
  decodeRecord,
  encodeEntryRecord,
  encodeSyncMarker,
  recordPrefixBytes,
  syncMarkerRecordBytes,
} from '../../src/storage/record.js';

const salt = 0x5eed_1234;
const saltArbitrary = fc.nat({ max: 0xffff_ffff });

/** An entry with index >= 1 and a claim below it, as the log writes them. */
const claimedEntryArbitrary: fc.Arbitrary<{ entry: Entry; syncedThrough: number }> = fc
  .record({
    view: fc.nat({ max: Number.MAX_SAFE_INTEGER }).map(viewNumber),
    index: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }).map(logIndex),
    clientId: fc.string({ unit: 'binary', maxLength: 40, size: 'max' }).map(clientId),
    requestNumber: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    durability: fc.constantFrom('sync' as const, 'async' as const),
    refused: fc.boolean(),
    update: fc.uint8Array({ maxLength: 300, size: 'max' }),
    result: fc.uint8Array({ maxLength: 300, size: 'max' }),
  })
  .chain((entry) => fc.nat({ max: entry.index - 1 }).map((syncedThrough) => ({ entry, syncedThrough })));

const sample: Entry = {
  view: viewNumber(3),
  index: logIndex(42),
  clientId: clientId('client-é'),
  requestNumber: 7,
  durability: 'sync',
  refused: false,
  update: new Uint8Array([1, 2, 3]),
  result: new Uint8Array([4, 5]),
};

test('an entry record round-trips any entry and its syncedThrough claim, also amid other bytes', () => {
  fc.assert(
    fc.property(
      claimedEntryArbitrary,
      saltArbitrary,
      fc.uint8Array({ maxLength: 20, size: 'max' }),
      ({ entry, syncedThrough }, anySalt, before) => {
        const record = encodeEntryRecord(entry, syncedThrough, anySalt);
        const decoded = decodeRecord(Buffer.concat([before, record]), before.length, anySalt);
        assert.equal(decoded.kind, 'entry');
        if (decoded.kind !== 'entry') return;
        assert.deepStrictEqual(decoded.entry, { ...entry }); // fast-check records have no prototype
        assert.equal(decoded.syncedThrough, syncedThrough);
        assert.equal(decoded.nextOffset, before.length + record.length);
      },
    ),
  );
  // The smallest entry record: an empty client id (the system's), update and result.
  const empty: Entry = {
    ...sample,
    clientId: clientId(''),
    update: new Uint8Array(),
    result: new Uint8Array(),
  };
  const decoded = decodeRecord(encodeEntryRecord(empty, 41, salt), 0, salt);
  assert.deepStrictEqual(decoded.kind === 'entry' ? decoded.entry : decoded, empty);
});

test('a sync marker round-trips its claim and holds no entry', () => {
  fc.assert(
    fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), saltArbitrary, (syncedThrough, anySalt) => {
      const marker = encodeSyncMarker(syncedThrough, anySalt);
      assert.equal(marker.length, syncMarkerRecordBytes);
      assert.deepStrictEqual(decodeRecord(marker, 0, anySalt), {
        kind: 'syncMarker',
        syncedThrough,
        nextOffset: syncMarkerRecordBytes,
      });
    }),
  );
});

test('entries and sync markers decode one after another and then report the end', () => {
  const second: Entry = { ...sample, index: logIndex(43), durability: 'async' };
  const data = Buffer.concat([
    encodeEntryRecord(sample, 40, salt),
    encodeSyncMarker(42, salt),
    encodeEntryRecord(second, 42, salt),
  ]);
  const kinds: string[] = [];
  let offset = 0;
  for (let decoded = decodeRecord(data, offset, salt); ; decoded = decodeRecord(data, offset, salt)) {
    kinds.push(decoded.kind);
    if (decoded.kind !== 'entry' && decoded.kind !== 'syncMarker') break;
    offset = decoded.nextOffset;
  }
  assert.deepStrictEqual(kinds, ['entry', 'syncMarker', 'entry', 'end']);
});

test('a record never claims its own index synced (the log encodes claims from before the write)', () => {
  assert.throws(() => encodeEntryRecord(sample, sample.index, salt), /claims only indexes before it/);
});

test('a zero length field means the end of the data (zero-filled space)', () => {
  assert.deepStrictEqual(decodeRecord(Buffer.alloc(64), 0, salt), { kind: 'end' });
  assert.deepStrictEqual(decodeRecord(Buffer.alloc(0), 0, salt), { kind: 'end' });
});

test('every strict prefix of an entry record or a sync marker is bad, never a record', () => {
  for (const record of [encodeEntryRecord(sample, 41, salt), encodeSyncMarker(41, salt)]) {
    for (let length = 1; length < record.length; length++) {
      assert.equal(
        decodeRecord(record.subarray(0, length), 0, salt).kind,
        'bad',
        `prefix of ${length} bytes`,
      );
    }
  }
});

test('flipping any single byte of an entry record or a sync marker is detected', () => {
  fc.assert(
    fc.property(
      claimedEntryArbitrary,
      fc.boolean(),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      ({ entry, syncedThrough }, marker, at, mask) => {
        const record = marker
          ? encodeSyncMarker(syncedThrough, salt)
          : encodeEntryRecord(entry, syncedThrough, salt);
        const position = at % record.length;
        record.writeUInt8((record[position] ?? 0) ^ mask, position);
        const kind = decodeRecord(record, 0, salt).kind;
        assert.ok(kind === 'bad' || kind === 'end', `decoded as ${kind}`);
      },
    ),
  );
});

test('a record of another segment (another salt) does not decode: bytes copied into a payload are inert', () => {
  fc.assert(
    fc.property(
      claimedEntryArbitrary,
      saltArbitrary,
      saltArbitrary,
      ({ entry, syncedThrough }, written, read) => {
        fc.pre(written !== read);
        for (const record of [
          encodeEntryRecord(entry, syncedThrough, written),
          encodeSyncMarker(syncedThrough, written),
        ]) {
          const decoded = decodeRecord(record, 0, read);
          assert.ok(decoded.kind === 'bad' && decoded.reason === 'CRC mismatch');
        }
      },
    ),
  );
});

test('a length field claiming 4 GiB is refused without allocating it', () => {
  const record = encodeEntryRecord(sample, 41, salt);
  record.writeUInt32LE(0xffff_ffff, 0);
  const decoded = decodeRecord(record, 0, salt);
  assert.equal(decoded.kind, 'bad');
  if (decoded.kind === 'bad') assert.match(decoded.reason, /runs past the data/);
});

test('lengths inside the body that run past it are refused', () => {
  const record = encodeEntryRecord(sample, 41, salt);
  const clientIdLengthOffset = recordPrefixBytes + 34;
  record.writeUInt16LE(0xffff, clientIdLengthOffset);
  assert.equal(decodeRecord(record, 0, salt).kind, 'bad');
});

test('an unknown record kind, or a sync marker of the wrong length, is bad even with a good CRC', () => {
  const withKind = (kind: number, bodyLength: number): Buffer => {
    const record = Buffer.alloc(recordPrefixBytes + bodyLength);
    record.writeUInt32LE(bodyLength, 0);
    record.writeUInt8(kind, recordPrefixBytes);
    record.writeUInt32LE(crc32(record.subarray(recordPrefixBytes), salt), 4);
    return record;
  };
  for (const [kind, bodyLength] of [
    [0, 9],
    [3, 9],
    [255, 60],
    [2, 10],
    [2, 60],
  ] as const) {
    assert.equal(
      decodeRecord(withKind(kind, bodyLength), 0, salt).kind,
      'bad',
      `kind ${kind}, ${bodyLength}`,
    );
  }
});

test('fixed fields or lengths this build cannot read are bad even with a good CRC: a newer flag is refused, never misread', () => {
  /** The sample's record with its body changed by `change`, and its CRC made good again. */
  const resealed = (change: (body: Buffer) => void): Buffer => {
    const record = encodeEntryRecord(sample, 41, salt);
    change(record.subarray(recordPrefixBytes));
    record.writeUInt32LE(crc32(record.subarray(recordPrefixBytes), salt), 4);
    return record;
  };
  const clientIdBytes = Buffer.byteLength(sample.clientId, 'utf8');
  const updateLengthAt = 36 + clientIdBytes;
  const resultLengthAt = updateLengthAt + 4 + sample.update.length;
  const cases: ReadonlyArray<readonly [string, (body: Buffer) => void, RegExp]> = [
    ['a claim that is no count', (body) => body.writeDoubleLE(-1, 1), /malformed syncedThrough/],
    ['a view that is no count', (body) => body.writeDoubleLE(Number.NaN, 9), /malformed fixed fields/],
    ['an index that is no count', (body) => body.writeDoubleLE(-42, 17), /malformed fixed fields/],
    ['a request number that is no count', (body) => body.writeDoubleLE(7.5, 25), /malformed fixed fields/],
    ['a flag this build does not know', (body) => body.writeUInt8(0x80, 33), /malformed fixed fields/],
    ['a client id past the body', (body) => body.writeUInt16LE(0xffff, 34), /client id runs past/],
    ['an update past the body', (body) => body.writeUInt32LE(1000, updateLengthAt), /update runs past/],
    ['a result one byte short', (body) => body.writeUInt32LE(1, resultLengthAt), /do not add up/],
  ];
  assert.equal(
    decodeRecord(
      resealed(() => {}),
      0,
      salt,
    ).kind,
    'entry',
    'resealed unchanged, it decodes',
  );
  for (const [what, change, reason] of cases) {
    const decoded = decodeRecord(resealed(change), 0, salt);
    assert.equal(decoded.kind, 'bad', what);
    assert.match(decoded.kind === 'bad' ? decoded.reason : '', reason, what);
  }
  // An entry record whose body is shorter than its fixed fields.
  const short = Buffer.alloc(recordPrefixBytes + 40);
  short.writeUInt32LE(40, 0);
  short.writeUInt8(1, recordPrefixBytes);
  short.writeUInt32LE(crc32(short.subarray(recordPrefixBytes), salt), 4);
  const decodedShort = decodeRecord(short, 0, salt);
  assert.match(decodedShort.kind === 'bad' ? decodedShort.reason : '', /body length 40 too small/);
});

test('arbitrary bytes never throw and never decode as a record', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200, size: 'max' }),
      fc.nat({ max: 200 }),
      saltArbitrary,
      (bytes, at, anySalt) => {
        const data = Buffer.from(bytes);
        const decoded = decodeRecord(data, Math.min(at, data.length), anySalt);
        assert.ok(decoded.kind === 'end' || decoded.kind === 'bad');
      },
    ),
  );
});

test('garbage shaped like a record (plausible length, kind and claim) still fails the CRC', () => {
  fc.assert(
    fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.nat({ max: 0xffff_ffff }), (claim, crc) => {
      const data = Buffer.alloc(syncMarkerRecordBytes);
      data.writeUInt32LE(syncMarkerRecordBytes - recordPrefixBytes, 0);
      data.writeUInt8(2, recordPrefixBytes);
      data.writeDoubleLE(claim, recordPrefixBytes + 1);
      fc.pre(crc !== crc32(data.subarray(recordPrefixBytes), salt));
      data.writeUInt32LE(crc, 4);
      assert.deepStrictEqual(decodeRecord(data, 0, salt), { kind: 'bad', reason: 'CRC mismatch' });
    }),
  );
});
