// The KV operation and result encodings: round trips, and untrusted operation bytes refused with
// the right stable codes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Packr } from 'msgpackr';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import { ServiceError } from '../../src/protocol/state-machine.js';
import {
  decodeOperation,
  decodeResult,
  encodeOperation,
  encodeResult,
  isReadOnly,
  type KvOperation,
  type KvResult,
  kvOperation,
} from '../../src/state-machine/index.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const pack = (value: unknown): Uint8Array => new Uint8Array(new Packr({ useRecords: false }).pack(value));

function refusedWith(code: string, pattern: RegExp): (error: unknown) => boolean {
  return (error) => error instanceof ServiceError && error.code === code && pattern.test(error.message);
}

test('every operation survives encode then decode', () => {
  const operations: KvOperation[] = [
    kvOperation.get(bytes('k')),
    kvOperation.put(bytes('k'), bytes('v')),
    kvOperation.delete(bytes('k')),
    kvOperation.append(bytes('k'), new Uint8Array([0, 255])),
    kvOperation.cas(bytes('k'), null, bytes('v')),
    kvOperation.cas(bytes('k'), bytes('v'), null),
    kvOperation.incr(bytes('k')),
    kvOperation.incr(bytes('k'), -Number.MAX_SAFE_INTEGER),
  ];
  for (const operation of operations)
    assert.deepEqual(decodeOperation(encodeOperation(operation)), operation);
  assert.deepEqual(kvOperation.incr(bytes('k')), { kind: 'incr', key: bytes('k'), delta: 1 });
});

test('only get is read-only', () => {
  assert.equal(isReadOnly(kvOperation.get(bytes('k'))), true);
  assert.equal(isReadOnly(kvOperation.put(bytes('k'), bytes('v'))), false);
  assert.equal(isReadOnly(kvOperation.incr(bytes('k'))), false);
});

test('decoded bytes are private copies, unaffected when the input buffer is reused', () => {
  const encoded = encodeOperation(kvOperation.put(bytes('k'), bytes('value')));
  const operation = decodeOperation(encoded);
  encoded.fill(0);
  assert.deepEqual(operation, kvOperation.put(bytes('k'), bytes('value')));
  assert.equal(Object.getPrototypeOf(operation.key), Uint8Array.prototype);
});

test('every result survives encode then decode, checked against the operation it answers', () => {
  const results: KvResult[] = [
    { kind: 'get', value: null },
    { kind: 'get', value: bytes('v') },
    { kind: 'put', existed: true },
    { kind: 'delete', existed: false },
    { kind: 'append', length: 0 },
    { kind: 'append', length: 1024 * 1024 },
    { kind: 'cas', swapped: false, current: null },
    { kind: 'cas', swapped: true, current: bytes('n') },
    { kind: 'incr', value: -42 },
  ];
  for (const result of results) assert.deepEqual(decodeResult(result.kind, encodeResult(result)), result);
  const cas = decodeResult('cas', encodeResult({ kind: 'cas', swapped: true, current: null }));
  assert.equal(cas.swapped, true); // typed as the cas result without a cast
  assert.throws(
    () => decodeResult('get', encodeResult({ kind: 'put', existed: true })),
    refusedWith(ErrorCode.badFrame, /expected a get result/),
  );
  assert.throws(
    () => decodeResult('get', pack(['get', 7])),
    refusedWith(ErrorCode.badFrame, /value must be bytes/),
  );
});

test('an append result is the new length, a byte count: anything else is BAD_FRAME', () => {
  assert.deepEqual(encodeResult({ kind: 'append', length: 3 }), pack(['append', 3]));
  const cases: [unknown, RegExp][] = [
    [['append', bytes('abc')], /append: length must be a safe integer, got 3 bytes/],
    [['append', -1], /append: length must be a byte count \(not negative\), got -1/],
    [['append', 1.5], /append: length must be a safe integer, got 1.5/],
    [['append', 3, 4], /append result takes 1 fields \(length\), got 2/],
  ];
  for (const [value, pattern] of cases) {
    assert.throws(() => decodeResult('append', pack(value)), refusedWith(ErrorCode.badFrame, pattern));
  }
});

test('garbage that is not MessagePack is BAD_REQUEST', () => {
  assert.throws(
    () => decodeOperation(new Uint8Array([0x92, 0x01])),
    refusedWith(ErrorCode.badRequest, /not valid MessagePack/),
  );
  assert.throws(() => decodeOperation(new Uint8Array(0)), refusedWith(ErrorCode.badRequest, /MessagePack/));
  assert.throws(
    () => decodeOperation(new Uint8Array([0x01, 0x02])),
    refusedWith(ErrorCode.badRequest, /MessagePack/),
  );
});

test('an operation of the wrong shape is BAD_REQUEST naming what was wrong', () => {
  const cases: [unknown, RegExp][] = [
    [42, /must be an array/],
    [[], /must be an array/],
    [{ kind: 'get', key: bytes('k') }, /must be an array/],
    [[7, bytes('k')], /name must be a string, got 7/],
    [['get'], /get operation takes 1 fields \(key\), got 0/],
    [['put', bytes('k')], /put operation takes 2 fields \(key, value\), got 1/],
    [['get', 'k'], /get: key must be bytes, got the string "k"/],
    [['put', bytes('k'), null], /put: value must be bytes, got null/],
    [['cas', bytes('k'), 1, null], /cas: expected must be bytes, got 1/],
    [['incr', bytes('k'), 1.5], /incr: delta must be a safe integer, got 1.5/],
    [['incr', bytes('k'), '1'], /incr: delta must be a safe integer/],
    [['incr', bytes('k'), 2 ** 60], /incr: delta must be a safe integer/],
  ];
  for (const [value, pattern] of cases) {
    assert.throws(
      () => decodeOperation(pack(value)),
      refusedWith(ErrorCode.badRequest, pattern),
      String(pattern),
    );
  }
});

test('an int64 delta that fits is accepted, one that does not is refused', () => {
  const int64 = (value: bigint): Uint8Array => {
    const field = new Uint8Array(9);
    field[0] = 0xd3;
    new DataView(field.buffer).setBigInt64(1, value);
    const prefix = pack(['incr', bytes('k')]).subarray(1); // drop the array header
    return new Uint8Array([0x93, ...prefix, ...field]);
  };
  assert.deepEqual(decodeOperation(int64(5n)), kvOperation.incr(bytes('k'), 5));
  assert.throws(
    () => decodeOperation(int64(2n ** 62n)),
    refusedWith(ErrorCode.badRequest, /delta must be a safe integer/),
  );
});

test('an unknown operation is UNKNOWN_OPERATION naming it', () => {
  assert.throws(
    () => decodeOperation(pack(['scan', bytes('k')])),
    refusedWith(ErrorCode.unknownOperation, /"scan"/),
  );
  assert.throws(
    () => decodeOperation(pack(['toString'])),
    refusedWith(ErrorCode.unknownOperation, /"toString"/),
  );
  assert.throws(
    () => decodeOperation(pack(['__proto__'])),
    refusedWith(ErrorCode.unknownOperation, /"__proto__"/),
  );
});

test('the multi-key and conditional operations and their results survive encode then decode', () => {
  const operations: KvOperation[] = [
    kvOperation.getMany([bytes('a'), bytes('b')]),
    kvOperation.lengths([bytes('a')]),
    kvOperation.putIf(bytes('k'), bytes('v'), 'absent'),
    kvOperation.putIf(bytes('k'), bytes('v'), 'present'),
    kvOperation.putMany([bytes('a'), bytes('b')], [bytes('1'), bytes('2')]),
    kvOperation.deleteMany([bytes('a'), bytes('a')]),
  ];
  for (const operation of operations)
    assert.deepEqual(decodeOperation(encodeOperation(operation)), operation);
  const results: KvResult[] = [
    { kind: 'get-many', values: [null, bytes('v')] },
    { kind: 'lengths', lengths: [3, null] },
    { kind: 'put-if', written: false },
    { kind: 'put-many' },
    { kind: 'delete-many', count: 2 },
  ];
  for (const result of results) assert.deepEqual(decodeResult(result.kind, encodeResult(result)), result);
  assert.equal(isReadOnly(kvOperation.getMany([bytes('a')])), true);
  assert.equal(isReadOnly(kvOperation.lengths([bytes('a')])), true);
  assert.equal(isReadOnly(kvOperation.deleteMany([bytes('a')])), false);
});

test('a malformed multi-key or conditional operation is BAD_REQUEST naming what was wrong', () => {
  const cases: [unknown, RegExp][] = [
    [['get-many', bytes('k')], /get-many: keys must be an array, got 1 bytes/],
    [['get-many', [bytes('k'), 'x']], /get-many: keys must be bytes, got the string "x"/],
    [['put-if', bytes('k'), bytes('v'), 'always'], /put-if: when must be one of absent, present/],
    [['put-many', [bytes('a')], []], /put-many: 1 keys but 0 values/],
    [['delete-many', null], /delete-many: keys must be an array, got null/],
  ];
  for (const [value, pattern] of cases) {
    assert.throws(
      () => decodeOperation(pack(value)),
      refusedWith(ErrorCode.badRequest, pattern),
      String(pattern),
    );
  }
  assert.throws(
    () => decodeResult('lengths', pack(['lengths', [-1]])),
    refusedWith(ErrorCode.badFrame, /lengths: lengths must be byte counts, got -1/),
  );
});
