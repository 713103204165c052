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
  type KvOperationKind,
  type KvResult,
  kvOperation,
} from '../../src/state-machine/index.js';
import { resultKind } from '../../src/state-machine/kv-operations.js';

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
  assert.deepEqual(decodeResult('append', pack(['append', 3])), { kind: 'append', length: 3 });
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

test('results logged as MessagePack by older builds decode as the binary ones do', () => {
  const pairs: [unknown[], KvResult][] = [
    [['get', null], { kind: 'get', value: null }],
    [['get', bytes('v')], { kind: 'get', value: bytes('v') }],
    [['put', true], { kind: 'put', existed: true }],
    [['delete', false], { kind: 'delete', existed: false }],
    [['append', 7], { kind: 'append', length: 7 }],
    [['cas', true, bytes('n')], { kind: 'cas', swapped: true, current: bytes('n') }],
    [['incr', -3], { kind: 'incr', value: -3 }],
  ];
  for (const [old, result] of pairs) {
    assert.deepEqual(decodeResult(result.kind, pack(old)), result);
    assert.equal(resultKind(pack(old)), result.kind);
    assert.equal(resultKind(encodeResult(result)), result.kind);
  }
  assert.equal(resultKind(pack(['hscan', 1])), null);
  assert.equal(resultKind(new Uint8Array([0xc1, 0x99])), null);
});

test('operations sent as MessagePack by older clients decode as the binary ones do', () => {
  const pairs: [unknown[], KvOperation][] = [
    [['put', bytes('k'), bytes('v')], kvOperation.put(bytes('k'), bytes('v'))],
    [['cas', bytes('k'), null, bytes('n')], kvOperation.cas(bytes('k'), null, bytes('n'))],
    [['incr', bytes('k'), 5], kvOperation.incr(bytes('k'), 5)],
  ];
  for (const [old, operation] of pairs) assert.deepEqual(decodeOperation(pack(old)), operation);
});

test('a damaged binary operation is BAD_REQUEST (or UNKNOWN_OPERATION) naming what was wrong', () => {
  const put = encodeOperation(kvOperation.put(bytes('key'), bytes('value')));
  const cas = encodeOperation(kvOperation.cas(bytes('k'), bytes('old'), bytes('new')));
  const incr = encodeOperation(kvOperation.incr(bytes('k'), 2));
  const damaged = (from: Uint8Array, change: (copy: Buffer) => void, length = from.length): Uint8Array => {
    const copy = Buffer.from(from.subarray(0, length));
    change(copy);
    return copy;
  };
  const cases: [Uint8Array, RegExp][] = [
    [put.subarray(0, 4), /too short/],
    [damaged(put, (b) => b.writeUInt32LE(1000, 2)), /put: the key runs past the end/],
    [new Uint8Array([...encodeOperation(kvOperation.get(bytes('k'))), 0]), /get: bytes follow the key/],
    [damaged(cas, (b) => b.writeUInt8(4, 7)), /cas: unknown flags 4/],
    [damaged(cas, (b) => b.writeUInt8(2, 7)), /cas: an absent expected value has bytes/],
    [damaged(cas, (b) => b.writeUInt32LE(99, 8)), /cas: the expected value runs past the end/],
    [incr.subarray(0, incr.length - 1), /incr: the delta must be the last 8 bytes/],
    [damaged(incr, (b) => b.writeDoubleLE(1.5, 7)), /incr: delta must be a safe integer, got 1.5/],
    [damaged(incr, (b) => b.writeDoubleLE(2 ** 60, 7)), /incr: delta must be a safe integer/],
  ];
  for (const [input, pattern] of cases) {
    assert.throws(() => decodeOperation(input), refusedWith(ErrorCode.badRequest, pattern), String(pattern));
  }
  assert.throws(
    () => decodeOperation(damaged(put, (b) => b.writeUInt8(0x19, 1))),
    refusedWith(ErrorCode.unknownOperation, /unknown operation code 25/),
  );
});

test('a damaged binary result is BAD_FRAME, and bytes of one kind never read as another', () => {
  const cases: [KvOperationKind, Uint8Array, RegExp][] = [
    ['get', new Uint8Array([0xc1, 0x21, 2]), /get: present must be 0 or 1, got 2/],
    ['get', new Uint8Array([0xc1, 0x21, 0, 7]), /get: an absent value has bytes/],
    ['put', new Uint8Array([0xc1, 0x22, 1, 0]), /put: the result must be 3 bytes, got 4/],
    ['append', encodeResult({ kind: 'incr', value: -1 }), /expected a append result, got a incr result/],
    ['cas', new Uint8Array([0xc1, 0x25, 1, 0, 9]), /cas: an absent current value has bytes/],
    ['put', new Uint8Array([0xc1, 0x12, 1]), /unknown result code 18/],
  ];
  for (const [kind, input, pattern] of cases) {
    assert.throws(() => decodeResult(kind, input), refusedWith(ErrorCode.badFrame, pattern), String(pattern));
  }
  const negative = Buffer.from(encodeResult({ kind: 'append', length: 1 }));
  negative.writeDoubleLE(-1, 2);
  assert.throws(
    () => decodeResult('append', negative),
    refusedWith(ErrorCode.badFrame, /length -1 is negative/),
  );
  // A put operation has the layout of an append update (kv-updates.ts) but not its kind code.
  assert.throws(
    () => decodeResult('put', encodeOperation(kvOperation.put(bytes('k'), bytes('v')))),
    refusedWith(ErrorCode.badFrame, /unknown result code/),
  );
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
    () => decodeOperation(pack(['hscan', bytes('k')])),
    refusedWith(ErrorCode.unknownOperation, /"hscan"/),
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
  // They travel as msgpack tuples; the binary layout (first byte 0xc1) carries the single-key ones.
  assert.deepEqual(
    encodeOperation(kvOperation.deleteMany([bytes('a')])),
    pack(['delete-many', [bytes('a')]]),
  );
  assert.deepEqual(encodeResult({ kind: 'put-if', written: true }), pack(['put-if', true]));
  assert.equal(encodeOperation(kvOperation.get(bytes('a')))[0], 0xc1);
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
  for (const [count, got] of [
    [-1, '-1'],
    [1.5, '1.5'],
    ['3', 'the string "3"'],
  ] as const) {
    assert.throws(
      () => decodeResult('lengths', pack(['lengths', [count]])),
      refusedWith(ErrorCode.badFrame, new RegExp(`lengths: lengths must be byte counts, got ${got}`)),
      String(count),
    );
  }
});

test('a malformed expiry, set condition or key list is BAD_REQUEST, however it came to be', () => {
  const k = bytes('k');
  const v = bytes('v');
  const cases: [unknown, RegExp][] = [
    // An expiry is [none | keep] or [after | at, ms], the milliseconds a safe integer.
    [['set', k, v, null, 'none'], /set: expiry must be/],
    [['set', k, v, null, []], /set: expiry must be/],
    [['set', k, v, null, ['none', 5]], /set: expiry must be/],
    [['set', k, v, null, ['keep', 5]], /set: expiry must be/],
    [['set', k, v, null, ['after']], /set: expiry must be/],
    [['set', k, v, null, ['at', 5, 6]], /set: expiry must be/],
    [['set', k, v, null, ['soon', 5]], /set: expiry must be/],
    [['set', k, v, null, ['after', 1.5]], /set: expiry must be/],
    [['set', k, v, null, ['after', 2n ** 53n]], /set: expiry must be/],
    // Which expiries each command takes.
    [['get-expire', k, ['keep']], /get-expire: expiry must be none, after or at/],
    [['expire', k, ['none'], 'always'], /expire: expiry must be after or at, got none/],
    [['expire', k, ['keep'], 'always'], /expire: expiry must be after or at, got keep/],
    // A set's condition: null, absent, present, or ['equals', bytes].
    [
      ['set', k, v, ['equals'], ['none']],
      /set: when must be null, one of absent, present, or \['equals', bytes\]/,
    ],
    [['set', k, v, ['equal', v], ['none']], /set: when must be null/],
    [['set', k, v, ['equals', 'v'], ['none']], /set: when must be null/],
    [['set', k, v, ['equals', v, v], ['none']], /set: when must be null/],
    [['expect', [k, k], [v]], /expect: 2 keys but 1 values/],
    [['incr', k, 2n ** 53n], /incr: delta must be/],
    [['incr', k, -(2n ** 53n)], /incr: delta must be a safe integer, got -9007199254740992/],
    [['incr-float', k, Number.NaN], /incr-float: delta must be a finite number, got NaN/],
    [['incr-float', k, Number.POSITIVE_INFINITY], /incr-float: delta must be a finite number/],
    [['incr-float', k, '1.5'], /incr-float: delta must be a finite number, got the string "1.5"/],
    [['rename', k, v, 'yes'], /rename: onlyIfAbsent must be a boolean, got the string "yes"/],
    [['copy', k, v, 1], /copy: replace must be a boolean, got 1/],
    // The error names what came: an array by its length, a boolean as itself.
    [['get', [k, k]], /get: key must be bytes, got an array of 2/],
    [['get', true], /get: key must be bytes, got true/],
  ];
  for (const [value, pattern] of cases) {
    assert.throws(
      () => decodeOperation(pack(value)),
      refusedWith(ErrorCode.badRequest, pattern),
      `${String(pattern)}: ${String(value)}`,
    );
  }
});

test('the edges of what an operation may carry are taken', () => {
  const k = bytes('k');
  const v = bytes('v');
  // MessagePack carries integers past 32 bits as int64, which decodes as a bigint.
  for (const delta of [BigInt(Number.MAX_SAFE_INTEGER), BigInt(Number.MIN_SAFE_INTEGER)]) {
    assert.deepEqual(decodeOperation(pack(['incr', k, delta])), kvOperation.incr(k, Number(delta)));
  }
  assert.deepEqual(decodeOperation(pack(['set', k, v, ['equals', v], ['after', 5]])), {
    kind: 'set',
    key: k,
    value: v,
    when: { equals: v },
    expiry: { kind: 'after', ms: 5 },
  });
  assert.deepEqual(decodeOperation(pack(['get-expire', k, ['none']])), {
    kind: 'get-expire',
    key: k,
    expiry: { kind: 'none' },
  });
});

test('a logged result of another kind than the operation is refused, in either encoding', () => {
  const logged = encodeResult({ kind: 'put', existed: false });
  assert.throws(
    () => decodeResult('get', logged),
    refusedWith(ErrorCode.badFrame, /expected a get result, got a put/),
  );
  const older = pack(['put', [false]]);
  assert.throws(
    () => decodeResult('get', older),
    refusedWith(ErrorCode.badFrame, /expected a get result, got a put/),
  );
});
