// The on-disk record format: round trips, and decoding of damaged or hostile bytes never throws,
// never allocates from a length field, and never yields a record that was not written.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { clientId, type Entry, logIndex, viewNumber } from '../../src/protocol/types.js';
import { decodeRecord, encodeRecord, recordPrefixBytes } from '../../src/storage/record.js';

const entryArbitrary: fc.Arbitrary<Entry> = fc.record({
  view: fc.nat({ max: Number.MAX_SAFE_INTEGER }).map(viewNumber),
  index: fc.nat({ max: Number.MAX_SAFE_INTEGER }).map(logIndex),
  clientId: fc.string({ unit: 'binary', maxLength: 40 }).map(clientId),
  requestNumber: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  durability: fc.constantFrom('sync' as const, 'async' as const),
  update: fc.uint8Array({ maxLength: 300 }),
  result: fc.uint8Array({ maxLength: 300 }),
});

const sample: Entry = {
  view: viewNumber(3),
  index: logIndex(42),
  clientId: clientId('client-é'),
  requestNumber: 7,
  durability: 'sync',
  update: new Uint8Array([1, 2, 3]),
  result: new Uint8Array([4, 5]),
};

test('a record round-trips any entry, also in the middle of other bytes', () => {
  fc.assert(
    fc.property(entryArbitrary, fc.uint8Array({ maxLength: 20 }), (entry, before) => {
      const record = encodeRecord(entry);
      const decoded = decodeRecord(Buffer.concat([before, record]), before.length);
      assert.equal(decoded.kind, 'record');
      if (decoded.kind !== 'record') return;
      assert.deepStrictEqual(decoded.entry, { ...entry }); // fast-check records have no prototype
      assert.equal(decoded.nextOffset, before.length + record.length);
    }),
  );
});

test('records decode one after another and then report the end', () => {
  const second: Entry = { ...sample, index: logIndex(43), durability: 'async' };
  const data = Buffer.concat([encodeRecord(sample), encodeRecord(second)]);
  const first = decodeRecord(data, 0);
  assert.equal(first.kind, 'record');
  if (first.kind !== 'record') return;
  const next = decodeRecord(data, first.nextOffset);
  assert.ok(next.kind === 'record' && next.entry.index === 43 && next.entry.durability === 'async');
  if (next.kind === 'record') assert.deepStrictEqual(decodeRecord(data, next.nextOffset), { kind: 'end' });
});

test('a zero length field means the end of the data (zero-filled space)', () => {
  assert.deepStrictEqual(decodeRecord(Buffer.alloc(64), 0), { kind: 'end' });
  assert.deepStrictEqual(decodeRecord(Buffer.alloc(0), 0), { kind: 'end' });
});

test('every strict prefix of a record is bad, never a record', () => {
  const record = encodeRecord(sample);
  for (let length = 1; length < record.length; length++) {
    assert.equal(decodeRecord(record.subarray(0, length), 0).kind, 'bad', `prefix of ${length} bytes`);
  }
});

test('flipping any single byte of a record is detected', () => {
  fc.assert(
    fc.property(entryArbitrary, fc.nat(), fc.integer({ min: 1, max: 255 }), (entry, at, mask) => {
      const record = encodeRecord(entry);
      const position = at % record.length;
      record.writeUInt8((record[position] ?? 0) ^ mask, position);
      assert.notEqual(decodeRecord(record, 0).kind, 'record');
    }),
  );
});

test('a length field claiming 4 GiB is refused without allocating it', () => {
  const record = encodeRecord(sample);
  record.writeUInt32LE(0xffff_ffff, 0);
  const decoded = decodeRecord(record, 0);
  assert.equal(decoded.kind, 'bad');
  if (decoded.kind === 'bad') assert.match(decoded.reason, /runs past the data/);
});

test('lengths inside the body that run past it are refused', () => {
  const record = encodeRecord(sample);
  const clientIdLengthOffset = recordPrefixBytes + 25;
  record.writeUInt16LE(0xffff, clientIdLengthOffset);
  assert.equal(decodeRecord(record, 0).kind, 'bad');
});

test('arbitrary bytes never throw and never decode without a good CRC', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 200 }), (bytes, at) => {
      const data = Buffer.from(bytes);
      const decoded = decodeRecord(data, Math.min(at, data.length));
      assert.ok(decoded.kind === 'end' || decoded.kind === 'bad');
    }),
  );
});
