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
        if (operation.values.some((value) => value.length > valueSizeMaxBytes)) {
          return { refused: ErrorCode.valueTooLarge };
        }
        keys.forEach((key, at) => {
          model.set(latin1(key), operation.values[at] as Uint8Array);
        });
        return { result: { kind: 'put-many' } };
      case 'delete-many': {
        const deleted = new Set(keys.map(latin1).filter((key) => model.has(key)));
        for (const key of deleted) model.delete(key);
        return { result: { kind: 'delete-many', count: deleted.size } };
      }
    }
  }
  const refusal = keyRefusal(operation.key);
  if (refusal !== null) return refusal;
  const operands =
    operation.kind === 'put' || operation.kind === 'append' || operation.kind === 'put-if'
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
    case 'put':
      model.set(key, operation.value);
      return { result: { kind: 'put', existed: current !== null } };
    case 'delete':
      model.delete(key);
      return { result: { kind: 'delete', existed: current !== null } };
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
    case 'put-if': {
      const written = (current === null) === (operation.when === 'absent');
      if (written) model.set(key, operation.value);
      return { result: { kind: 'put-if', written } };
    }
  }
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
    .constantFrom('x', 'yy', '-0', '007', '9007199254740992', '1.5')
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
  fc.tuple(keyArbitrary, valueArbitrary).map(([key, value]) => op.append(key, value)),
  fc
    .tuple(keyArbitrary, fc.option(valueArbitrary), fc.option(valueArbitrary))
    .map(([key, expected, next]) => op.cas(key, expected, next)),
  fc.tuple(keyArbitrary, deltaArbitrary).map(([key, delta]) => op.incr(key, delta)),
  fc
    .tuple(keyArbitrary, valueArbitrary, fc.constantFrom(...putConditions))
    .map(([key, value, when]) => op.putIf(key, value, when)),
  keysArbitrary.map((keys) => op.getMany(keys)),
  keysArbitrary.map((keys) => op.lengths(keys)),
  keysArbitrary.map((keys) => op.deleteMany(keys)),
  fc
    .array(fc.tuple(keyArbitrary, valueArbitrary), { maxLength: kvLimitsTiny.keysPerOperationMax + 1 })
    .map((entries) =>
      op.putMany(
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
    fc.property(fc.array(operationArbitrary, { maxLength: 60 }), (operations) => {
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

/**
 * The outcomes of `operations` sent as one sequence, up to the first NOT_RUN (the ones from there on
 * did not run: the caller sends them again, as the Redis port does).
 */
function sequenceStep(
  primary: KeyValueStore,
  backup: KeyValueStore,
  operations: readonly KvOperation[],
): Outcome[] {
  const encoded = encodeSequence(operations);
  let result: Uint8Array;
  if (isReadOnlySequence(operations)) {
    result = primary.query(encoded);
  } else {
    const execution = primary.execute(encoded);
    primary.apply(execution.update);
    backup.apply(execution.update);
    result = execution.result;
  }
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
  });
  fc.assert(
    fc.property(fc.array(operationArbitrary, { maxLength: 60 }), lengths, (operations, sizes) => {
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
    }),
    { numRuns: 300 },
  );
});
