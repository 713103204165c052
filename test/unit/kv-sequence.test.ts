// Sequences of the key/value store (kv-sequence.ts): their parts run in order as one operation, each
// seeing the ones before it; a refused part is answered with its refusal while the others run; the
// update is one batch a backup applies to the same state; limits; and the encoding refuses damage.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import { ServiceError } from '../../src/protocol/state-machine.js';
import {
  decodeSequence,
  decodeSequenceResult,
  encodeOperation,
  encodeSequence,
  encodeSequenceResult,
  KeyValueStore,
  type KvLimits,
  type KvOperation,
  type KvOutcome,
  kvLimitsDefault,
  kvLimitsTiny,
  kvOperation as op,
} from '../../src/state-machine/index.js';

const bytes = (text: string): Uint8Array => Buffer.from(text, 'utf8');

/** Executes `parts` as one write on `store`, applies its update, and answers the outcomes and the update. */
function executeSequence(store: KeyValueStore, parts: readonly KvOperation[]) {
  const { result, update } = store.execute(encodeSequence(parts));
  store.apply(update);
  return { outcomes: decodeSequenceResult(parts, result), update };
}

/** Each outcome as plain values: the result's fields, or the refusal's code. */
function shown(outcomes: readonly KvOutcome[]): unknown[] {
  return outcomes.map((outcome) => {
    if (!outcome.ok) return outcome.code;
    const fields: Record<string, unknown> = { ...outcome.result };
    for (const [name, value] of Object.entries(fields)) {
      if (value instanceof Uint8Array) fields[name] = Buffer.from(value).toString('utf8');
      if (Array.isArray(value)) {
        fields[name] = value.map((item) =>
          item instanceof Uint8Array ? Buffer.from(item).toString('utf8') : item,
        );
      }
    }
    return fields;
  });
}

const refusedWith =
  (code: string, pattern: RegExp) =>
  (error: unknown): boolean =>
    error instanceof ServiceError && error.code === code && pattern.test(error.message);

test('the parts run in order, each seeing the ones before it; a refused part changes nothing and the rest run', () => {
  const store = new KeyValueStore();
  const parts = [
    op.put(bytes('x'), bytes('5')),
    op.incr(bytes('x'), 2),
    op.put(bytes('w'), bytes('hello')),
    op.incr(bytes('w')),
    op.append(bytes('w'), bytes('!')),
    op.get(bytes('w')),
    op.getMany([bytes('x'), bytes('w'), bytes('absent')]),
    op.cas(bytes('x'), bytes('7'), bytes('8')),
    op.putIf(bytes('x'), bytes('9'), 'absent'),
    op.deleteMany([bytes('w'), bytes('absent')]),
    op.lengths([bytes('x'), bytes('w')]),
    op.putMany([bytes('a'), bytes('b'), bytes('a')], [bytes('1'), bytes('2'), bytes('3')]),
    op.get(bytes('a')),
  ];
  const { outcomes } = executeSequence(store, parts);
  assert.deepEqual(shown(outcomes), [
    { kind: 'put', existed: false },
    { kind: 'incr', value: 7 },
    { kind: 'put', existed: false },
    ErrorCode.notAnInteger,
    { kind: 'append', length: 6 },
    { kind: 'get', value: 'hello!' },
    { kind: 'get-many', values: ['7', 'hello!', null] },
    { kind: 'cas', swapped: true, current: '8' },
    { kind: 'put-if', written: false },
    { kind: 'delete-many', count: 1 },
    { kind: 'lengths', lengths: [1, null] },
    { kind: 'put-many' },
    { kind: 'get', value: '3' },
  ]);
  const after = (key: string) =>
    decodeSequenceResult([op.get(bytes(key))], store.query(encodeSequence([op.get(bytes(key))])));
  assert.deepEqual(shown(after('x')), [{ kind: 'get', value: '8' }]);
  assert.deepEqual(shown(after('w')), [{ kind: 'get', value: null }]);
  assert.equal(store.entryCount, 3, 'x, a and b');
});

test('execute changes nothing; a backup that applies only the update reaches the same state', () => {
  const primary = new KeyValueStore();
  const backup = new KeyValueStore();
  const seed = primary.execute(encodeOperation(op.put(bytes('k'), bytes('old'))));
  primary.apply(seed.update);
  backup.apply(seed.update);
  const parts = [
    op.append(bytes('k'), bytes('+1')),
    op.delete(bytes('k')),
    op.append(bytes('k'), bytes('new')),
    op.put(bytes('j'), bytes('v')),
    op.incr(bytes('n'), 40),
    op.incr(bytes('n'), 2),
  ];
  const before = primary.stateHash();
  const { result, update } = primary.execute(encodeSequence(parts));
  assert.equal(primary.stateHash(), before, 'execute leaves the store as it was');
  primary.apply(update);
  backup.apply(update);
  assert.equal(backup.stateHash(), primary.stateHash());
  assert.deepEqual(shown(decodeSequenceResult(parts, result)).at(-1), { kind: 'incr', value: 42 });
  const [k, n] = decodeSequenceResult(
    [op.getMany([bytes('k'), bytes('n')])],
    backup.query(encodeSequence([op.getMany([bytes('k'), bytes('n')])])),
  );
  assert.deepEqual(shown([k as KvOutcome]), [{ kind: 'get-many', values: ['new', '42'] }]);
  assert.equal(n, undefined);
});

test('a sequence of reads is a query, and refused as a write; one with a write is refused as a query', () => {
  const store = new KeyValueStore();
  const reads = [op.get(bytes('a')), op.lengths([bytes('a')])];
  assert.deepEqual(shown(decodeSequenceResult(reads, store.query(encodeSequence(reads)))), [
    { kind: 'get', value: null },
    { kind: 'lengths', lengths: [null] },
  ]);
  assert.throws(
    () => store.execute(encodeSequence(reads)),
    refusedWith(ErrorCode.badRequest, /a read: send it as a query/),
  );
  const mixed = [op.get(bytes('a')), op.put(bytes('a'), bytes('1'))];
  assert.throws(
    () => store.query(encodeSequence(mixed)),
    refusedWith(ErrorCode.badRequest, /a write, not a query/),
  );
});

test('a part that would add a key past keysMax is STORE_FULL, counting the keys the parts before it added', () => {
  const limits: KvLimits = { ...kvLimitsTiny, operationsPerSequenceMax: 8 };
  const store = new KeyValueStore(limits);
  const parts = ['a', 'b', 'c', 'd', 'e'].map((key) => op.put(bytes(key), bytes('1')));
  const { outcomes } = executeSequence(store, [
    ...parts,
    op.delete(bytes('a')),
    op.put(bytes('e'), bytes('2')),
  ]);
  assert.deepEqual(shown(outcomes), [
    { kind: 'put', existed: false },
    { kind: 'put', existed: false },
    { kind: 'put', existed: false },
    { kind: 'put', existed: false },
    ErrorCode.storeFull,
    { kind: 'delete', existed: true },
    { kind: 'put', existed: false },
  ]);
  assert.equal(store.entryCount, 4);
});

test('a delete of an absent key within a sequence makes no room, and takes none', () => {
  const limits: KvLimits = { ...kvLimitsTiny, operationsPerSequenceMax: 8 };
  const full = new KeyValueStore(limits);
  executeSequence(
    full,
    ['a', 'b', 'c', 'd'].map((key) => op.put(bytes(key), bytes('1'))),
  );
  const { outcomes } = executeSequence(full, [op.delete(bytes('x')), op.put(bytes('y'), bytes('1'))]);
  assert.deepEqual(shown(outcomes), [{ kind: 'delete', existed: false }, ErrorCode.storeFull]);
  assert.equal(full.entryCount, 4);

  const oneShort = new KeyValueStore(limits);
  executeSequence(
    oneShort,
    ['a', 'b', 'c'].map((key) => op.put(bytes(key), bytes('1'))),
  );
  const taken = executeSequence(oneShort, [op.delete(bytes('x')), op.put(bytes('y'), bytes('1'))]);
  assert.deepEqual(shown(taken.outcomes), [
    { kind: 'delete', existed: false },
    { kind: 'put', existed: false },
  ]);
  assert.equal(oneShort.entryCount, 4);
});

test('once the results reach their bound the next part and every one after it are NOT_RUN; the first always runs', () => {
  // A sequence of reads answers up to readBytesMax; one with a write up to writeSequenceResultBytesMax.
  const limits: KvLimits = {
    ...kvLimitsDefault,
    valueSizeMaxBytes: 30,
    readBytesMax: 80,
    writeSequenceResultBytesMax: 40,
  };
  const store = new KeyValueStore(limits);
  const twenty = 'v'.repeat(20);
  executeSequence(store, [op.put(bytes('a'), bytes(twenty)), op.put(bytes('b'), bytes(twenty))]);
  // A get of a 20-byte value answers 23 bytes: two pass 40.
  const { outcomes } = executeSequence(store, [
    op.get(bytes('a')),
    op.put(bytes('c'), bytes('1')),
    op.get(bytes('b')),
    op.put(bytes('d'), bytes('1')),
  ]);
  assert.deepEqual(shown(outcomes), [
    { kind: 'get', value: twenty },
    { kind: 'put', existed: false },
    ErrorCode.notRun,
    ErrorCode.notRun,
  ]);
  assert.match((outcomes[2] as { message: string }).message, /reached 40 bytes/);
  assert.equal(store.entryCount, 3, 'c was written, d was not');
  const reads = [op.get(bytes('a')), op.get(bytes('b')), op.get(bytes('a')), op.get(bytes('b'))];
  assert.deepEqual(shown(decodeSequenceResult(reads, store.query(encodeSequence(reads)))), [
    { kind: 'get', value: twenty },
    { kind: 'get', value: twenty },
    { kind: 'get', value: twenty },
    ErrorCode.notRun,
  ]);
});

test('a whole sequence whose results would pass their bound is refused whole, and changes nothing', () => {
  const limits: KvLimits = {
    ...kvLimitsDefault,
    valueSizeMaxBytes: 30,
    readBytesMax: 40,
    writeSequenceResultBytesMax: 40,
  };
  const store = new KeyValueStore(limits);
  const twenty = 'v'.repeat(20);
  executeSequence(store, [op.put(bytes('a'), bytes(twenty))]);
  const writes = [op.put(bytes('b'), bytes('1')), op.get(bytes('a')), op.get(bytes('a'))];
  assert.throws(
    () => store.execute(encodeSequence(writes, true)),
    refusedWith(
      ErrorCode.valueTooLarge,
      /whole sequence would pass 40 bytes.* at its operation 3 \(a get\); nothing ran/,
    ),
  );
  const reads = [op.get(bytes('a')), op.get(bytes('a'))];
  assert.throws(
    () => store.query(encodeSequence(reads, true)),
    refusedWith(ErrorCode.valueTooLarge, /nothing ran/),
  );
  assert.equal(store.entryCount, 1);
  // Within the bound a whole sequence runs as any other, and decodes as one.
  const fits = [op.put(bytes('b'), bytes('1')), op.get(bytes('a'))];
  assert.deepEqual(decodeSequence(encodeSequence(fits, true)).whole, true);
  assert.deepEqual(decodeSequence(encodeSequence(fits)).whole, false);
  assert.deepEqual(shown(executeSequence(store, fits).outcomes), [
    { kind: 'put', existed: false },
    { kind: 'get', value: twenty },
  ]);
});

test('a whole sequence whose results come to exactly their bound runs; a byte less of bound refuses it', () => {
  const twenty = 'v'.repeat(20);
  const reads = [op.get(bytes('a')), op.get(bytes('a'))];
  const storeBounded = (bound: number) => {
    const limits = {
      ...kvLimitsDefault,
      valueSizeMaxBytes: 30,
      readBytesMax: bound,
      writeSequenceResultBytesMax: bound,
    };
    const store = new KeyValueStore(limits);
    executeSequence(store, [op.put(bytes('a'), bytes(twenty))]);
    return store;
  };
  // A get of a 20-byte value answers 23 bytes: two, 46.
  assert.deepEqual(shown(decodeSequenceResult(reads, storeBounded(46).query(encodeSequence(reads, true)))), [
    { kind: 'get', value: twenty },
    { kind: 'get', value: twenty },
  ]);
  assert.throws(
    () => storeBounded(45).query(encodeSequence(reads, true)),
    refusedWith(ErrorCode.valueTooLarge, /whole sequence would pass 45 bytes/),
  );
});

test('an empty sequence, one past operationsPerSequenceMax, and a sequence inside a sequence are BAD_REQUEST', () => {
  const store = new KeyValueStore(kvLimitsTiny);
  assert.throws(
    () => store.execute(encodeSequence([])),
    refusedWith(ErrorCode.badRequest, /holds no operation/),
  );
  const five = ['a', 'b', 'c', 'd', 'e'].map((key) => op.put(bytes(key), bytes('1')));
  assert.throws(
    () => store.execute(encodeSequence(five)),
    refusedWith(ErrorCode.badRequest, /5 operations exceeds operationsPerSequenceMax = 4/),
  );
  const inner = encodeSequence([op.put(bytes('a'), bytes('1'))]);
  const nested = Buffer.alloc(2 + 4 + inner.byteLength);
  nested.set(encodeSequence([]), 0);
  nested.writeUInt32LE(inner.byteLength, 2);
  nested.set(inner, 6);
  assert.throws(
    () => decodeSequence(nested),
    refusedWith(ErrorCode.badRequest, /may not hold another sequence/),
  );
});

test('a damaged sequence is BAD_REQUEST, a damaged result BAD_FRAME, each naming what was wrong', () => {
  const parts = [op.put(bytes('a'), bytes('1')), op.get(bytes('a'))];
  const encoded = Buffer.from(encodeSequence(parts));
  assert.throws(
    () => decodeSequence(encoded.subarray(0, encoded.length - 1)),
    refusedWith(ErrorCode.badRequest, /runs past the end/),
  );
  assert.throws(
    () => decodeSequence(encoded.subarray(0, 4)),
    refusedWith(ErrorCode.badRequest, /length runs past the end/),
  );
  const result = Buffer.from(
    encodeSequenceResult([
      { ok: true, result: new KeyValueStore().execute(encodeOperation(parts[0] as KvOperation)).result },
      { ok: false, code: ErrorCode.badRequest, message: 'why' },
    ]),
  );
  assert.deepEqual(shown(decodeSequenceResult(parts, result)), [
    { kind: 'put', existed: false },
    ErrorCode.badRequest,
  ]);
  assert.throws(
    () => decodeSequenceResult(parts.slice(0, 1), result),
    refusedWith(ErrorCode.badFrame, /more outcomes than the 1 parts/),
  );
  assert.throws(
    () => decodeSequenceResult([...parts, ...parts], result),
    refusedWith(ErrorCode.badFrame, /2 outcomes for 4 parts/),
  );
  const unknownStatus = Buffer.from(result);
  unknownStatus[2] = 7;
  assert.throws(
    () => decodeSequenceResult(parts, unknownStatus),
    refusedWith(ErrorCode.badFrame, /unknown outcome status 7/),
  );
  assert.throws(
    () => decodeSequenceResult(parts, encodeOperation(parts[0] as KvOperation)),
    refusedWith(ErrorCode.badFrame, /not a sequence result/),
  );
});
