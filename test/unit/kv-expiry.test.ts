// Times to live in the key/value store: random operations and clock steps against the store and a
// plain model of values and expiry times give the same results; a backup fed only the updates (the
// primary's `dueUpdate` among them) ends in the same state; a snapshot carries the times; and a key is
// never deleted by expiry before its time, nor hidden before its deletion is applied.

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
  isReadOnly,
  KeyValueStore,
  type KvOperation,
  type KvResult,
  kvLimitsTiny,
  kvOperation as op,
} from '../../src/state-machine/index.js';
import { formatDecimal, parseDecimal } from '../../src/state-machine/kv-decimal.js';
import { ExpiryTimes } from '../../src/state-machine/kv-expiry.js';

type Outcome = { result: KvResult } | { refused: string };

const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'latin1'));
const text = (value: Uint8Array): string => Buffer.from(value).toString('latin1');

/** The store's meaning: values, and each key's expiry time; nothing expires until `due` runs. */
class Model {
  readonly values = new Map<string, string>();
  readonly expiries = new Map<string, number>();
  now = 1_000_000;

  step(operation: KvOperation): Outcome {
    if (operation.kind === 'clear') {
      const count = this.values.size;
      this.values.clear();
      this.expiries.clear();
      return { result: { kind: 'clear', count } };
    }
    if (operation.kind === 'count') return { result: { kind: 'count', count: this.values.size } };
    if (!('key' in operation)) throw new Error(`${operation.kind} is not generated here`);
    const key = text(operation.key);
    const current = this.values.get(key);
    const at = (expiry: { readonly kind: 'after' | 'at'; readonly ms: number }) =>
      expiry.kind === 'after' ? this.now + expiry.ms : expiry.ms;
    switch (operation.kind) {
      case 'get':
        return { result: { kind: 'get', value: current === undefined ? null : bytes(current) } };
      case 'ttl': {
        const expiresAtMs = current === undefined ? null : (this.expiries.get(key) ?? null);
        return {
          result: {
            kind: 'ttl',
            exists: current !== undefined,
            expiresAtMs,
            remainingMs: expiresAtMs === null ? null : Math.max(0, expiresAtMs - this.now),
          },
        };
      }
      case 'put':
        this.values.set(key, text(operation.value));
        this.expiries.delete(key);
        return { result: { kind: 'put', existed: current !== undefined } };
      case 'put-if': {
        const written = (current === undefined) === (operation.when === 'absent');
        if (written) {
          this.values.set(key, text(operation.value));
          this.expiries.delete(key);
        }
        return { result: { kind: 'put-if', written } };
      }
      case 'set': {
        const { when, expiry } = operation;
        const written =
          when === null
            ? true
            : typeof when === 'object'
              ? current === text(when.equals)
              : (current === undefined) === (when === 'absent');
        if (!written) return { result: { kind: 'set', written } };
        if (expiry.kind === 'after' || expiry.kind === 'at') {
          const atMs = at(expiry);
          if (atMs <= this.now) {
            this.values.delete(key);
            this.expiries.delete(key);
            return { result: { kind: 'set', written } };
          }
          this.expiries.set(key, atMs);
        } else if (expiry.kind === 'none') this.expiries.delete(key);
        this.values.set(key, text(operation.value));
        return { result: { kind: 'set', written } };
      }
      case 'expire': {
        const atMs = at(operation.expiry);
        const had = this.expiries.get(key);
        const allowed = {
          always: true,
          nx: had === undefined,
          xx: had !== undefined,
          gt: had !== undefined && atMs > had,
          lt: had === undefined || atMs < had,
          'xx-lt': had !== undefined && atMs < had,
        }[operation.condition];
        if (current === undefined || !allowed) return { result: { kind: 'expire', updated: false } };
        if (atMs <= this.now) {
          this.values.delete(key);
          this.expiries.delete(key);
        } else this.expiries.set(key, atMs);
        return { result: { kind: 'expire', updated: true } };
      }
      case 'persist': {
        const removed = current !== undefined && this.expiries.delete(key);
        return { result: { kind: 'persist', removed } };
      }
      case 'incr': {
        if (!/^-?[0-9]+$/.test(current ?? '0')) return { refused: ErrorCode.notAnInteger };
        const value = Number(current ?? '0') + operation.delta;
        this.values.set(key, String(value));
        return { result: { kind: 'incr', value } };
      }
      case 'incr-float': {
        // As incr, a time to live stays: the values here are small, the deltas halves.
        const number = parseDecimal(current ?? '0');
        if (number === null) return { refused: ErrorCode.notAFloat };
        const value = formatDecimal(number + operation.delta);
        this.values.set(key, value);
        return { result: { kind: 'incr-float', value: bytes(value) } };
      }
      case 'append': {
        const value = (current ?? '') + text(operation.value);
        this.values.set(key, value);
        return { result: { kind: 'append', length: value.length } };
      }
      case 'delete':
        this.values.delete(key);
        this.expiries.delete(key);
        return { result: { kind: 'delete', existed: current !== undefined } };
      // The value before, and then what the write alone does.
      case 'get-delete': {
        this.step(op.delete(operation.key));
        return { result: { kind: 'get-delete', value: current === undefined ? null : bytes(current) } };
      }
      case 'get-set': {
        const { when, expiry } = operation;
        const set = this.step(op.set(operation.key, operation.value, { when, expiry })) as {
          result: KvResult & { kind: 'set' };
        };
        const previous = current === undefined ? null : bytes(current);
        return { result: { kind: 'get-set', written: set.result.written, previous } };
      }
      case 'get-expire': {
        const { expiry } = operation;
        if (expiry.kind === 'none') this.step(op.persist(operation.key));
        else this.step(op.expire(operation.key, expiry, 'always'));
        return { result: { kind: 'get-expire', value: current === undefined ? null : bytes(current) } };
      }
      // The destination takes the source's value and time to live (or none), whatever it had.
      case 'rename':
      case 'copy': {
        const destination = text(operation.destination);
        const done = (moved: boolean): Outcome => ({
          result:
            operation.kind === 'rename'
              ? { kind: 'rename', renamed: moved }
              : { kind: 'copy', copied: moved },
        });
        if (operation.kind === 'copy' && key === destination) return { refused: ErrorCode.badRequest };
        if (current === undefined) {
          return operation.kind === 'rename' ? { refused: ErrorCode.noSuchKey } : done(false);
        }
        if (key === destination) return done(operation.kind === 'rename' && !operation.onlyIfAbsent);
        const mayReplace = operation.kind === 'rename' ? !operation.onlyIfAbsent : operation.replace;
        if (this.values.has(destination) && !mayReplace) return done(false);
        const expiresAtMs = this.expiries.get(key);
        this.values.set(destination, current);
        if (expiresAtMs === undefined) this.expiries.delete(destination);
        else this.expiries.set(destination, expiresAtMs);
        if (operation.kind === 'rename') {
          this.values.delete(key);
          this.expiries.delete(key);
        }
        return done(true);
      }
      // As append, a time to live stays.
      case 'set-range': {
        const { offset } = operation;
        const value = text(operation.value);
        if (value.length === 0) return { result: { kind: 'set-range', length: current?.length ?? 0 } };
        const padded = (current ?? '').padEnd(offset, '\0');
        const after = padded.slice(0, offset) + value + padded.slice(offset + value.length);
        this.values.set(key, after);
        return { result: { kind: 'set-range', length: after.length } };
      }
      default:
        throw new Error(`${operation.kind} is not generated here`);
    }
  }

  /** What the primary's expiry deletes now: every key whose time is at or before the clock. */
  due(): string[] {
    const gone = [...this.expiries].filter(([, atMs]) => atMs <= this.now).map(([key]) => key);
    for (const key of gone) {
      this.values.delete(key);
      this.expiries.delete(key);
    }
    return gone.sort();
  }
}

const keyArbitrary = fc.constantFrom('a', 'b', 'c').map(bytes);
const valueArbitrary = fc.constantFrom('x', 'yy', '7').map(bytes);
const msArbitrary = fc.integer({ min: -50, max: 400 });
const timedExpiry = fc.oneof(
  msArbitrary.map((ms) => ({ kind: 'after' as const, ms })),
  msArbitrary.map((ms) => ({ kind: 'at' as const, ms: 1_000_000 + ms })),
);
/** A set's condition: none, NX or XX, or IFEQ a value the keys may hold. */
const setConditionArbitrary = fc.constantFrom(
  null,
  'absent' as const,
  'present' as const,
  { equals: bytes('7') },
  { equals: bytes('x') },
);
const expiryArbitrary = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.constant({ kind: 'keep' as const }),
  timedExpiry,
);
type Step = { readonly operation: KvOperation } | { readonly advanceMs: number };
const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  fc.integer({ min: 0, max: 150 }).map((advanceMs) => ({ advanceMs })),
  fc
    .oneof(
      keyArbitrary.map((key) => op.get(key)),
      keyArbitrary.map((key) => op.ttl(key)),
      fc.tuple(keyArbitrary, valueArbitrary).map(([key, value]) => op.put(key, value)),
      fc
        .tuple(keyArbitrary, valueArbitrary, fc.constantFrom('absent' as const, 'present' as const))
        .map(([key, value, when]) => op.putIf(key, value, when)),
      fc
        .tuple(keyArbitrary, valueArbitrary, setConditionArbitrary, expiryArbitrary)
        .map(([key, value, when, expiry]) => op.set(key, value, { when, expiry })),
      fc
        .tuple(keyArbitrary, timedExpiry, fc.constantFrom('always', 'nx', 'xx', 'gt', 'lt', 'xx-lt' as const))
        .map(([key, expiry, condition]) => op.expire(key, expiry, condition)),
      keyArbitrary.map((key) => op.persist(key)),
      keyArbitrary.map((key) => op.incr(key, 1)),
      keyArbitrary.map((key) => op.incrFloat(key, 0.5)),
      fc.tuple(keyArbitrary, valueArbitrary).map(([key, value]) => op.append(key, value)),
      keyArbitrary.map((key) => op.delete(key)),
      keyArbitrary.map((key) => op.getDelete(key)),
      fc
        .tuple(keyArbitrary, valueArbitrary, setConditionArbitrary, expiryArbitrary)
        .map(([key, value, when, expiry]) => op.getSet(key, value, { when, expiry })),
      fc
        .tuple(keyArbitrary, fc.oneof(fc.constant({ kind: 'none' as const }), timedExpiry))
        .map(([key, expiry]) => op.getExpire(key, expiry)),
      fc
        .tuple(keyArbitrary, keyArbitrary, fc.boolean())
        .map(([key, destination, onlyIfAbsent]) => op.rename(key, destination, onlyIfAbsent)),
      fc
        .tuple(keyArbitrary, keyArbitrary, fc.boolean())
        .map(([key, destination, replace]) => op.copy(key, destination, replace)),
      fc
        .tuple(keyArbitrary, fc.integer({ min: 0, max: 3 }), valueArbitrary)
        .map(([key, offset, value]) => op.setRange(key, offset, value)),
      fc.constant(op.clear()),
      fc.constant(op.count()),
    )
    .map((operation) => ({ operation })),
);

function storeStep(primary: KeyValueStore, backups: KeyValueStore[], operation: KvOperation): Outcome {
  try {
    const encoded = encodeOperation(operation);
    if (isReadOnly(operation)) return { result: decodeResult(operation.kind, primary.query(encoded)) };
    const { result, update } = primary.execute(encoded);
    primary.apply(update);
    for (const backup of backups) backup.apply(update);
    return { result: decodeResult(operation.kind, result) };
  } catch (error) {
    if (error instanceof ServiceError) return { refused: error.code };
    throw error;
  }
}

/** Keys a store holds, sorted. */
function keysOf(store: KeyValueStore, candidates: readonly string[]): string[] {
  return candidates.filter((key) => {
    const read = store.query(encodeOperation(op.get(bytes(key))));
    return decodeResult('get', read).value !== null;
  });
}

test('random writes, reads and clock steps match a model of values and expiry times; backups fed the updates match', () => {
  fc.assert(
    fc.property(fc.array(stepArbitrary, { maxLength: 80, size: 'max' }), (steps) => {
      const model = new Model();
      const clock = () => model.now;
      const primary = new KeyValueStore(kvLimitsTiny, clock);
      const backup = new KeyValueStore(kvLimitsTiny, () => 0); // a backup's clock plays no part
      for (const step of steps) {
        if ('advanceMs' in step) {
          model.now += step.advanceMs;
          const update = primary.dueUpdate(4096);
          const gone = model.due();
          const before = keysOf(primary, ['a', 'b', 'c']);
          if (update === null) assert.deepEqual(gone, []);
          else {
            primary.apply(update);
            backup.apply(update);
          }
          const after = keysOf(primary, ['a', 'b', 'c']);
          assert.deepEqual(
            before.filter((key) => !after.includes(key)),
            gone,
            'the due update deletes exactly the keys whose time came',
          );
          continue;
        }
        assert.deepEqual(storeStep(primary, [backup], step.operation), model.step(step.operation));
      }
      for (const key of ['a', 'b', 'c']) {
        assert.equal(primary.expiryOf(key), model.expiries.get(key));
        assert.equal(backup.expiryOf(key), model.expiries.get(key));
      }
      assert.equal(backup.stateHash(), primary.stateHash());
      const restored = new KeyValueStore(kvLimitsTiny, clock);
      restored.restore(primary.snapshot());
      assert.equal(restored.stateHash(), primary.stateHash());
      assert.deepEqual(restored.dueUpdate(4096), primary.dueUpdate(4096));
    }),
    { numRuns: 300 },
  );
});

test('the same operations in sequences see the times to live the parts before them set', () => {
  fc.assert(
    fc.property(
      fc.array(
        stepArbitrary.filter((step): step is { operation: KvOperation } => 'operation' in step),
        { minLength: 1, maxLength: kvLimitsTiny.operationsPerSequenceMax },
      ),
      (steps) => {
        const operations = steps.map((step) => step.operation);
        const model = new Model();
        const primary = new KeyValueStore(kvLimitsTiny, () => model.now);
        const backup = new KeyValueStore(kvLimitsTiny);
        const encoded = encodeSequence(operations, false);
        const readOnly = operations.every(isReadOnly);
        const result = readOnly ? primary.query(encoded) : primary.execute(encoded);
        const resultBytes = result instanceof Uint8Array ? result : result.result;
        if (!(result instanceof Uint8Array)) {
          primary.apply(result.update);
          backup.apply(result.update);
        }
        decodeSequenceResult(operations, resultBytes).forEach((outcome, k) => {
          if (!outcome.ok && outcome.code === ErrorCode.notRun) return;
          const expected = model.step(operations[k] as KvOperation);
          assert.deepEqual(outcome.ok ? { result: outcome.result } : { refused: outcome.code }, expected);
        });
        assert.equal(backup.stateHash(), primary.stateHash());
      },
    ),
    { numRuns: 300 },
  );
});

test('a key lives until its deletion is applied, however far past its time the clock is', () => {
  let now = 0;
  const store = new KeyValueStore(kvLimitsTiny, () => now);
  store.apply(
    store.execute(encodeOperation(op.set(bytes('k'), bytes('v'), { expiry: { kind: 'after', ms: 100 } })))
      .update,
  );
  assert.equal(store.expiryOf('k'), 100);
  now = 99;
  assert.equal(store.dueUpdate(4096), null, 'not due before its time');
  now = 10_000;
  assert.deepEqual(keysOf(store, ['k']), ['k'], 'no read hides it before its deletion is logged');
  const ttl = decodeResult('ttl', store.query(encodeOperation(op.ttl(bytes('k')))));
  assert.deepEqual(ttl, { kind: 'ttl', exists: true, expiresAtMs: 100, remainingMs: 0 });
  const update = store.dueUpdate(4096);
  assert.notEqual(update, null);
  assert.deepEqual(store.dueUpdate(4096), update, 'asked again before it is applied, the same update');
  store.apply(update as Uint8Array);
  assert.deepEqual(keysOf(store, ['k']), []);
  assert.equal(store.expiryOf('k'), undefined);
  assert.equal(store.dueUpdate(4096), null);
});

/** A store of `count` keys named `key-<n>` (padded to `width`), each due at 10 + n, the clock at 0. */
function storeDueLater(count: number, width = 4): { store: KeyValueStore; at: (ms: number) => void } {
  let now = 0;
  const store = new KeyValueStore(undefined, () => now);
  for (let k = 0; k < count; k++) {
    const key = bytes(`key-${String(k).padStart(width, '0')}`);
    store.apply(
      store.execute(encodeOperation(op.set(key, bytes('v'), { expiry: { kind: 'at', ms: 10 + k } }))).update,
    );
  }
  return {
    store,
    at: (ms) => {
      now = ms;
    },
  };
}

test('a due update holds at most the bytes it is given, and the rest follow', () => {
  const { store, at } = storeDueLater(50, 3);
  at(1000);
  let rounds = 0;
  for (let update = store.dueUpdate(200); update !== null; update = store.dueUpdate(200)) {
    assert.ok(update.byteLength <= 200, `${update.byteLength} bytes`);
    store.apply(update);
    rounds += 1;
  }
  assert.equal(store.entryCount, 0);
  assert.ok(rounds > 1, 'the keys took several updates');
});

test('a due update deletes at most 1,000 keys, and takes a whole update of exactly its bytes', () => {
  const many = storeDueLater(1001);
  many.at(1_000_000);
  const first = many.store.dueUpdate(1 << 30);
  assert.ok(first !== null);
  many.store.apply(first);
  assert.equal(many.store.entryCount, 1, 'the first 1,000 due keys');
  const rest = many.store.dueUpdate(1 << 30);
  assert.ok(rest !== null);
  many.store.apply(rest);
  assert.equal(many.store.entryCount, 0);

  // Three keys' update is N bytes: given N it holds all three, given N - 1 two.
  const three = storeDueLater(3);
  three.at(1000);
  const whole = three.store.dueUpdate(1 << 30);
  assert.ok(whole !== null);
  const exact = three.store.dueUpdate(whole.byteLength);
  assert.deepEqual(exact, whole);
  const less = three.store.dueUpdate(whole.byteLength - 1);
  assert.ok(less !== null && less.byteLength < whole.byteLength);
  three.store.apply(less);
  assert.equal(three.store.entryCount, 1);
});

test('a due key whose delete alone is over the bytes given is deleted all the same, one an update', () => {
  const { store, at } = storeDueLater(2, 300);
  at(1000);
  const update = store.dueUpdate(100);
  assert.ok(update !== null, 'a key is never left due for ever');
  assert.ok(update.byteLength > 300);
  store.apply(update);
  assert.equal(store.entryCount, 1);
});

test('a time past the latest a key may expire at is refused, and a time given again changes nothing', () => {
  const store = new KeyValueStore(kvLimitsTiny, () => 5);
  const refused = () =>
    store.execute(
      encodeOperation(
        op.set(bytes('k'), bytes('v'), { expiry: { kind: 'after', ms: Number.MAX_SAFE_INTEGER } }),
      ),
    );
  assert.throws(
    refused,
    (error: unknown) => error instanceof ServiceError && error.code === ErrorCode.badRequest,
  );
  store.apply(
    store.execute(encodeOperation(op.set(bytes('k'), bytes('v'), { expiry: { kind: 'at', ms: 50 } }))).update,
  );
  const again = store.execute(encodeOperation(op.expire(bytes('k'), { kind: 'at', ms: 50 })));
  assert.equal(again.update.byteLength, 0);
  assert.deepEqual(decodeResult('expire', again.result), { kind: 'expire', updated: true });
});

test('the heap of expiry times stays bounded when one key is given a new time again and again', () => {
  const times = new ExpiryTimes();
  for (let k = 0; k < 100_000; k++) times.set('k', k + 1);
  const due: string[] = [];
  times.due(Number.MAX_SAFE_INTEGER, (key) => {
    due.push(key);
    return true;
  });
  assert.deepEqual(due, ['k'], 'old times of the key are skipped');
});

test('a store an older build wrote keeps the formats older builds read until it gets a seed', () => {
  const store = new KeyValueStore();
  // What a build before scan seeds left: format 3, no seed.
  store.restore(Buffer.from([3, 1, 0, 0, 0, 1, 0, 0, 0, 0x6b, 1, 0, 0, 0, 0x76]));
  assert.equal(store.snapshot()[0], 3);
  store.apply(store.execute(encodeOperation(op.expire(bytes('k'), { kind: 'after', ms: 60_000 }))).update);
  assert.notEqual(store.scanSeed, null, 'the first write brought a seed');
  assert.equal(store.snapshot()[0], 5);
});
