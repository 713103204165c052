// Model-based property test: random operation sequences against the store and against a plain Map
// give the same results and refusals, and a backup fed only the updates ends with the same hash; the
// same when the operations go in the store's sequences (several as one operation, kv-sequence.ts).
// Tiny limits make the key, value, append, key-count, store-size and sequence-result refusals common.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import { ServiceError } from '../../src/protocol/state-machine.js';
import {
  decodeResult,
  decodeSequenceResult,
  encodeOperation,
  encodeSequence,
  entryOverheadBytes,
  isReadOnly,
  isReadOnlySequence,
  KeyValueStore,
  type KvOperation,
  type KvResult,
  kvLimitsTiny,
  kvOperation as op,
  putConditions,
} from '../../src/state-machine/index.js';
import { formatDecimal } from '../../src/state-machine/kv-decimal.js';

type Outcome = { result: KvResult } | { refused: string };

const latin1 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');
const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => new Uint8Array([...a, ...b]);
const safeMin = BigInt(Number.MIN_SAFE_INTEGER);
const safeMax = BigInt(Number.MAX_SAFE_INTEGER);

/** The refusal a key gets, if any: empty, or too long. */
function keyRefusal(key: Uint8Array): Outcome | null {
  if (key.length === 0) return { refused: ErrorCode.badRequest };
  return key.length > kvLimitsTiny.keySizeMaxBytes ? { refused: ErrorCode.keyTooLarge } : null;
}

/** What the model's entries count against storeBytesMax. */
function modelBytes(model: Map<string, Uint8Array>): number {
  let bytes = 0;
  for (const [key, value] of model) bytes += key.length + value.length + entryOverheadBytes;
  return bytes;
}

/** The store's meaning, written as plainly as possible, with BigInt arithmetic for incr. */
function modelStep(model: Map<string, Uint8Array>, operation: KvOperation): Outcome {
  const before = new Map(model);
  const outcome = modelOperation(model, operation);
  // A write that would leave more than keysMax keys, or more than storeBytesMax bytes, is refused
  // when it adds to them, and changes nothing.
  const tooManyKeys = model.size > kvLimitsTiny.keysMax && model.size > before.size;
  const bytes = modelBytes(model);
  const tooManyBytes = bytes > kvLimitsTiny.storeBytesMax && bytes > modelBytes(before);
  if (tooManyKeys || tooManyBytes) {
    model.clear();
    for (const [key, value] of before) model.set(key, value);
    return { refused: ErrorCode.storeFull };
  }
  return outcome;
}

function modelOperation(model: Map<string, Uint8Array>, operation: KvOperation): Outcome {
  const { valueSizeMaxBytes, keysPerOperationMax, readBytesMax } = kvLimitsTiny;
  // The walk over every key has tests of its own (kv-scan.test.ts); none is generated here.
  if (operation.kind === 'scan') throw new Error('scan is not modelled');
  if (operation.kind === 'clear') {
    const count = model.size;
    model.clear();
    return { result: { kind: 'clear', count } };
  }
  if (operation.kind === 'count') return { result: { kind: 'count', count: model.size } };
  if (!('key' in operation)) {
    const { keys } = operation;
    if (keys.length === 0 || keys.length > keysPerOperationMax) return { refused: ErrorCode.badRequest };
    for (const key of keys) {
      const refusal = keyRefusal(key);
      if (refusal !== null) return refusal;
    }
    const found = keys.map((key) => model.get(latin1(key)) ?? null);
    switch (operation.kind) {
      case 'get-many': {
        const bytes = found.reduce((total, value) => total + (value?.length ?? 0), 0);
        if (bytes > readBytesMax) return { refused: ErrorCode.valueTooLarge };
        return { result: { kind: 'get-many', values: found } };
      }
      case 'lengths':
        return { result: { kind: 'lengths', lengths: found.map((value) => value?.length ?? null) } };
      case 'put-many':
      case 'put-many-if-absent': {
        if (operation.values.some((value) => value.length > valueSizeMaxBytes)) {
          return { refused: ErrorCode.valueTooLarge };
        }
        const written = operation.kind === 'put-many' || found.every((value) => value === null);
        if (written) {
          keys.forEach((key, at) => {
            model.set(latin1(key), operation.values[at] as Uint8Array);
          });
        }
        return {
          result: operation.kind === 'put-many' ? { kind: 'put-many' } : { kind: operation.kind, written },
        };
      }
      case 'delete-many': {
        const deleted = new Set(keys.map(latin1).filter((key) => model.has(key)));
        for (const key of deleted) model.delete(key);
        return { result: { kind: 'delete-many', count: deleted.size } };
      }
      case 'expect':
        for (const [at, value] of found.entries()) {
          const expected = operation.values[at] ?? null;
          if (expected !== null && expected.length > valueSizeMaxBytes)
            return { refused: ErrorCode.valueTooLarge };
          const holds =
            value === null ? expected === null : expected !== null && latin1(value) === latin1(expected);
          if (!holds) return { refused: ErrorCode.valueChanged };
        }
        return { result: { kind: 'expect' } };
    }
  }
  const refusal = keyRefusal(operation.key);
  if (refusal !== null) return refusal;
  if (operation.kind === 'rename' || operation.kind === 'copy') return modelMove(model, operation);
  const operands =
    operation.kind === 'put' ||
    operation.kind === 'append' ||
    operation.kind === 'put-if' ||
    operation.kind === 'set-range'
      ? [operation.value]
      : operation.kind === 'cas'
        ? [operation.expected, operation.next]
        : [];
  if (operands.some((value) => value !== null && value.length > valueSizeMaxBytes)) {
    return { refused: ErrorCode.valueTooLarge };
  }
  const key = latin1(operation.key);
  const current = model.get(key) ?? null;
  switch (operation.kind) {
    case 'get':
      return { result: { kind: 'get', value: current } };
    case 'get-range': {
      // GETRANGE as Redis 7's getrangeCommand computes it: ends counted from the end when negative,
      // then clamped to the value (so two negative ends past its start still give its first byte).
      const bytes = current ?? new Uint8Array(0);
      const from = Math.max(0, operation.start < 0 ? bytes.length + operation.start : operation.start);
      const to = Math.min(
        bytes.length - 1,
        Math.max(0, operation.end < 0 ? bytes.length + operation.end : operation.end),
      );
      const empty =
        bytes.length === 0 || (operation.start < 0 && operation.end < 0 && operation.start > operation.end);
      return {
        result: {
          kind: 'get-range',
          value: empty || from > to ? new Uint8Array(0) : bytes.slice(from, to + 1),
        },
      };
    }
    case 'put':
      model.set(key, operation.value);
      return { result: { kind: 'put', existed: current !== null } };
    case 'delete':
      model.delete(key);
      return { result: { kind: 'delete', existed: current !== null } };
    case 'get-delete':
      model.delete(key);
      return { result: { kind: 'get-delete', value: current } };
    case 'append': {
      const value = concat(current ?? new Uint8Array(0), operation.value);
      if (value.length > valueSizeMaxBytes) return { refused: ErrorCode.valueTooLarge };
      model.set(key, value);
      return { result: { kind: 'append', length: value.length } };
    }
    case 'cas': {
      const expected = operation.expected === null ? null : latin1(operation.expected);
      if ((current === null ? null : latin1(current)) !== expected) {
        return { result: { kind: 'cas', swapped: false, current } };
      }
      if (operation.next === null) model.delete(key);
      else model.set(key, operation.next);
      return { result: { kind: 'cas', swapped: true, current: operation.next } };
    }
    case 'incr': {
      const text = current === null ? '0' : latin1(current);
      if (!/^-?[0-9]+$/.test(text) || BigInt(text) < safeMin || BigInt(text) > safeMax) {
        return { refused: ErrorCode.notAnInteger };
      }
      const value = BigInt(text) + BigInt(operation.delta);
      if (value < safeMin || value > safeMax) return { refused: ErrorCode.badRequest };
      model.set(key, new TextEncoder().encode(value.toString()));
      return { result: { kind: 'incr', value: Number(value) } };
    }
    case 'incr-float': {
      const text = current === null ? '0' : latin1(current);
      const number = /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(text)
        ? Number(text)
        : Number.NaN;
      if (!Number.isFinite(number)) return { refused: ErrorCode.notAFloat };
      const sum = number + operation.delta;
      const value = new TextEncoder().encode(Number.isFinite(sum) ? formatDecimal(sum) : '');
      if (!Number.isFinite(sum) || !Number.isFinite(Number(latin1(value))))
        return { refused: ErrorCode.badRequest };
      if (value.length > valueSizeMaxBytes) return { refused: ErrorCode.valueTooLarge };
      model.set(key, value);
      return { result: { kind: 'incr-float', value } };
    }
    case 'put-if': {
      const written = (current === null) === (operation.when === 'absent');
      if (written) model.set(key, operation.value);
      return { result: { kind: 'put-if', written } };
    }
    case 'set-range': {
      const { offset, value } = operation;
      if (value.length === 0) return { result: { kind: 'set-range', length: current?.length ?? 0 } };
      const length = Math.max(current?.length ?? 0, offset + value.length);
      if (length > valueSizeMaxBytes) return { refused: ErrorCode.valueTooLarge };
      const after = new Uint8Array(length);
      after.set(current ?? new Uint8Array(0));
      after.set(value, offset);
      model.set(key, after);
      return { result: { kind: 'set-range', length } };
    }
    case 'set':
    case 'expire':
    case 'persist':
    case 'ttl':
    case 'get-set':
    case 'get-expire':
      throw new Error(`${operation.kind}: times to live have their own model (kv-expiry.test.ts)`);
  }
}

/** Redis RENAME, RENAMENX and COPY, as their documentation says them. */
function modelMove(
  model: Map<string, Uint8Array>,
  operation: Extract<KvOperation, { readonly kind: 'rename' | 'copy' }>,
): Outcome {
  const refusal = keyRefusal(operation.destination);
  if (refusal !== null) return refusal;
  const from = latin1(operation.key);
  const to = latin1(operation.destination);
  const value = model.get(from);
  const done = (moved: boolean): Outcome => ({
    result:
      operation.kind === 'rename' ? { kind: 'rename', renamed: moved } : { kind: 'copy', copied: moved },
  });
  if (operation.kind === 'copy') {
    if (from === to) return { refused: ErrorCode.badRequest };
    if (value === undefined || (model.has(to) && !operation.replace)) return done(false);
    model.set(to, value);
    return done(true);
  }
  if (value === undefined) return { refused: ErrorCode.noSuchKey };
  if (from === to) return done(!operation.onlyIfAbsent);
  if (model.has(to) && operation.onlyIfAbsent) return done(false);
  model.delete(from);
  model.set(to, value);
  return done(true);
}

const keyArbitrary = fc
  .oneof(
    {
      weight: 8,
      arbitrary: fc.constantFrom('a', 'b', 'c', '\u00ff', 'counter').map((key) => Buffer.from(key, 'latin1')),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: kvLimitsTiny.keySizeMaxBytes + 2 }) },
  )
  .map((key) => new Uint8Array(key));
const numberText = fc
  .oneof(
    fc.integer({ min: -1000, max: 1000 }),
    fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
  )
  .map(String);
const valueArbitrary = fc.oneof(
  fc.uint8Array({ maxLength: 6 }),
  fc
    .constantFrom(
      'x',
      'yy',
      '-0',
      '007',
      '9007199254740992',
      '1.5',
      '1e3',
      '.5',
      '+2.',
      'inf',
      '1e400',
      '1e308',
    )
    .map((text) => new TextEncoder().encode(text)),
  numberText.map((text) => new TextEncoder().encode(text)),
  fc.uint8Array({
    minLength: kvLimitsTiny.valueSizeMaxBytes - 2,
    maxLength: kvLimitsTiny.valueSizeMaxBytes + 1,
  }),
);
/** Sometimes none, sometimes one too many, often a key twice. */
const keysArbitrary = fc.array(keyArbitrary, { maxLength: kvLimitsTiny.keysPerOperationMax + 1 });
const deltaArbitrary = fc.oneof(
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
);
const operationArbitrary: fc.Arbitrary<KvOperation> = fc.oneof(
  keyArbitrary.map((key) => op.get(key)),
  fc.tuple(keyArbitrary, valueArbitrary).map(([key, value]) => op.put(key, value)),
  keyArbitrary.map((key) => op.delete(key)),
  keyArbitrary.map((key) => op.getDelete(key)),
  fc.tuple(keyArbitrary, valueArbitrary).map(([key, value]) => op.append(key, value)),
  fc
    .tuple(keyArbitrary, fc.option(valueArbitrary), fc.option(valueArbitrary))
    .map(([key, expected, next]) => op.cas(key, expected, next)),
  fc.tuple(keyArbitrary, deltaArbitrary).map(([key, delta]) => op.incr(key, delta)),
  fc
    .tuple(
      keyArbitrary,
      fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0.1, -2.5, 1e308, 3)),
    )
    .map(([key, delta]) => op.incrFloat(key, delta)),
  fc
    .tuple(keyArbitrary, valueArbitrary, fc.constantFrom(...putConditions))
    .map(([key, value, when]) => op.putIf(key, value, when)),
  fc
    .tuple(keyArbitrary, keyArbitrary, fc.boolean())
    .map(([key, destination, onlyIfAbsent]) => op.rename(key, destination, onlyIfAbsent)),
  fc
    .tuple(keyArbitrary, keyArbitrary, fc.boolean())
    .map(([key, destination, replace]) => op.copy(key, destination, replace)),
  fc
    .tuple(
      keyArbitrary,
      fc.oneof(fc.integer({ min: 0, max: 8 }), fc.constantFrom(kvLimitsTiny.valueSizeMaxBytes, 2 ** 40)),
      valueArbitrary,
    )
    .map(([key, offset, value]) => op.setRange(key, offset, value)),
  fc.constant(op.clear()),
  fc.constant(op.count()),
  fc
    .tuple(keyArbitrary, fc.integer({ min: -8, max: 8 }), fc.integer({ min: -8, max: 8 }))
    .map(([key, start, end]) => op.getRange(key, start, end)),
  keysArbitrary.map((keys) => op.getMany(keys)),
  keysArbitrary.map((keys) => op.lengths(keys)),
  keysArbitrary.map((keys) => op.deleteMany(keys)),
  fc
    .array(fc.tuple(keyArbitrary, fc.option(valueArbitrary)), {
      maxLength: kvLimitsTiny.keysPerOperationMax + 1,
    })
    .map((entries) =>
      op.expect(
        entries.map(([key]) => key),
        entries.map(([, value]) => value),
      ),
    ),
  fc
    .array(fc.tuple(keyArbitrary, valueArbitrary), { maxLength: kvLimitsTiny.keysPerOperationMax + 1 })
    .map((entries) =>
      op.putMany(
        entries.map(([key]) => key),
        entries.map(([, value]) => value),
      ),
    ),
  fc
    .array(fc.tuple(keyArbitrary, valueArbitrary), { maxLength: kvLimitsTiny.keysPerOperationMax + 1 })
    .map((entries) =>
      op.putManyIfAbsent(
        entries.map(([key]) => key),
        entries.map(([, value]) => value),
      ),
    ),
);

function storeStep(primary: KeyValueStore, backup: KeyValueStore, operation: KvOperation): Outcome {
  try {
    const encoded = encodeOperation(operation);
    if (isReadOnly(operation)) return { result: decodeResult(operation.kind, primary.query(encoded)) };
    const { result, update } = primary.execute(encoded);
    primary.apply(update);
    backup.apply(update);
    return { result: decodeResult(operation.kind, result) };
  } catch (error) {
    if (error instanceof ServiceError) return { refused: error.code };
    throw error;
  }
}

test('random operation sequences match a Map model, and a backup fed only updates matches the primary', () => {
  fc.assert(
    fc.property(fc.array(operationArbitrary, { maxLength: 60, size: 'max' }), (operations) => {
      const model = new Map<string, Uint8Array>();
      const primary = new KeyValueStore(kvLimitsTiny);
      const backup = new KeyValueStore(kvLimitsTiny);
      for (const operation of operations) {
        assert.deepEqual(storeStep(primary, backup, operation), modelStep(model, operation));
      }
      assert.equal(primary.entryCount, model.size);
      assert.equal(primary.storeBytes, modelBytes(model));
      assert.equal(backup.storeBytes, modelBytes(model));
      for (const [key, value] of model) {
        const read = primary.query(encodeOperation(op.get(new Uint8Array(Buffer.from(key, 'latin1')))));
        assert.deepEqual(decodeResult('get', read).value, value);
      }
      assert.equal(backup.stateHash(), primary.stateHash());
      const restored = new KeyValueStore(kvLimitsTiny);
      restored.restore(primary.snapshot());
      assert.equal(restored.stateHash(), primary.stateHash());
      assert.equal(restored.storeBytes, primary.storeBytes);
    }),
    { numRuns: 300 },
  );
});

/** `parts` as one sequence at `primary` (a query if it only reads), its update applied at both: its result. */
function runSequence(
  primary: KeyValueStore,
  backup: KeyValueStore,
  parts: readonly KvOperation[],
  whole: boolean,
): Uint8Array {
  const encoded = encodeSequence(parts, whole);
  if (isReadOnlySequence(parts)) return primary.query(encoded);
  const execution = primary.execute(encoded);
  primary.apply(execution.update);
  backup.apply(execution.update);
  return execution.result;
}

/**
 * The outcomes of `operations` sent as one sequence, up to the first NOT_RUN (the ones from there on
 * did not run: the caller sends them again, as the Redis port does).
 */
function sequenceStep(
  primary: KeyValueStore,
  backup: KeyValueStore,
  operations: readonly KvOperation[],
): Outcome[] {
  const result = runSequence(primary, backup, operations, false);
  const outcomes: Outcome[] = [];
  for (const outcome of decodeSequenceResult(operations, result)) {
    if (!outcome.ok && outcome.code === ErrorCode.notRun) break;
    outcomes.push(outcome.ok ? { result: outcome.result } : { refused: outcome.code });
  }
  assert.ok(outcomes.length > 0, "a sequence's first operation always runs");
  return outcomes;
}

test('the same operations sent in sequences of random lengths match the model one by one, and so does a backup', () => {
  const lengths = fc.array(fc.integer({ min: 1, max: kvLimitsTiny.operationsPerSequenceMax }), {
    minLength: 1,
    maxLength: 30,
    size: 'max',
  });
  fc.assert(
    fc.property(
      fc.array(operationArbitrary, { maxLength: 60, size: 'max' }),
      lengths,
      (operations, sizes) => {
        const model = new Map<string, Uint8Array>();
        const primary = new KeyValueStore(kvLimitsTiny);
        const backup = new KeyValueStore(kvLimitsTiny);
        let at = 0;
        for (let round = 0; at < operations.length; round++) {
          const chunk = operations.slice(at, at + (sizes[round % sizes.length] as number));
          const outcomes = sequenceStep(primary, backup, chunk);
          outcomes.forEach((outcome, k) => {
            assert.deepEqual(outcome, modelStep(model, chunk[k] as KvOperation));
          });
          at += outcomes.length;
        }
        assert.equal(primary.storeBytes, modelBytes(model));
        assert.equal(backup.stateHash(), primary.stateHash());
        for (const [key, value] of model) {
          const read = primary.query(encodeOperation(op.get(new Uint8Array(Buffer.from(key, 'latin1')))));
          assert.deepEqual(decodeResult('get', read).value, value);
        }
      },
    ),
    { numRuns: 300 },
  );
});

/** The state's values of `keys` in the model (null: absent), as an expect that holds would name them. */
function expectHolding(model: Map<string, Uint8Array>, keys: readonly Uint8Array[]): KvOperation {
  return op.expect(
    keys,
    keys.map((key) => model.get(latin1(key)) ?? null),
  );
}

test('a whole sequence behind an expect runs as the model says when it holds, and nothing at all when it does not', () => {
  const guardKeys = fc.array(
    fc.constantFrom('a', 'b', 'c', 'counter').map((key) => new Uint8Array(Buffer.from(key, 'latin1'))),
    { minLength: 1, maxLength: 3 },
  );
  const body = fc.array(
    operationArbitrary.filter((operation) => operation.kind !== 'expect'),
    { minLength: 1, maxLength: kvLimitsTiny.operationsPerSequenceMax - 1 },
  );
  fc.assert(
    fc.property(
      fc.array(operationArbitrary, { maxLength: 30, size: 'max' }),
      fc.array(fc.tuple(guardKeys, fc.boolean(), body), { minLength: 1, maxLength: 8 }),
      (setup, rounds) => {
        const model = new Map<string, Uint8Array>();
        const primary = new KeyValueStore(kvLimitsTiny);
        const backup = new KeyValueStore(kvLimitsTiny);
        for (const operation of setup) storeStep(primary, backup, operation);
        for (const operation of setup) modelStep(model, operation);
        for (const [keys, changed, operations] of rounds) {
          let guard = expectHolding(model, keys);
          if (changed && guard.kind === 'expect') {
            // Another value than the key holds, of no greater length: its first byte changed, or a
            // byte where it is empty or absent.
            const first = guard.values[0] ?? null;
            const other = first === null || first.length === 0 ? new Uint8Array([7]) : new Uint8Array(first);
            if (first !== null && first.length > 0) other[0] = ((other[0] as number) + 1) % 256;
            guard = op.expect(guard.keys, [other, ...guard.values.slice(1)]);
          }
          const parts = [guard, ...operations];
          const before = primary.stateHash();
          let result: Uint8Array;
          try {
            result = runSequence(primary, backup, parts, true);
          } catch (error) {
            if (!(error instanceof ServiceError)) throw error;
            // Refused whole: the guard failed, or the results passed the sequence's bound.
            assert.equal(
              error.code,
              changed ? ErrorCode.valueChanged : ErrorCode.valueTooLarge,
              error.message,
            );
            assert.equal(primary.stateHash(), before, 'a sequence refused whole changed the state');
            continue;
          }
          assert.equal(changed, false, 'a whole sequence ran though its expect did not hold');
          const [first, ...rest] = decodeSequenceResult(parts, result);
          assert.deepEqual(first, { ok: true, result: { kind: 'expect' } });
          rest.forEach((outcome, k) => {
            const expected = modelStep(model, operations[k] as KvOperation);
            assert.deepEqual(outcome.ok ? { result: outcome.result } : { refused: outcome.code }, expected);
          });
        }
        assert.equal(backup.stateHash(), primary.stateHash());
        assert.equal(primary.storeBytes, modelBytes(model));
      },
    ),
    { numRuns: 300 },
  );
});
