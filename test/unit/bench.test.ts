// The benchmark's parts that need no cluster: the mix and shape checks, the mix cycle, the median
// run, how a client's keys are split among its calls in flight, and the answer checks and the
// read-back against an in-memory store — a faithful one gives no mismatch, one that loses writes is
// caught. Speed is never asserted here.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CallerKeys, valueText } from '../../src/bench/caller-keys.js';
import { medianRun } from '../../src/bench/median.js';
import { mixCycle } from '../../src/bench/mix-cycle.js';
import {
  BENCH_SHAPE_DEFAULT,
  type BenchShape,
  checkShape,
  formatMix,
  parseMix,
  ShapeError,
} from '../../src/bench/shape.js';
import {
  type BenchClient,
  createCallers,
  UnderstudyLoad,
  watchWrites,
} from '../../src/bench/understudy-load.js';
import { verifyKeys } from '../../src/bench/verify.js';
import type { WriteMetadata } from '../../src/client/index.js';
import { UnavailableError } from '../../src/errors.js';
import { logIndex, viewNumber } from '../../src/protocol/types.js';

describe('--mix', () => {
  test('kinds left out weigh 0', () => {
    assert.deepEqual(parseMix('put=3,get=1'), { put: 3, get: 1, append: 0, cas: 0, incr: 0 });
    assert.equal(formatMix(parseMix(' incr = 2 ')), 'put=0,get=0,append=0,cas=0,incr=2');
  });

  const bad: [string, RegExp][] = [
    ['put', /"put" is not KIND=WEIGHT/],
    ['put=1.5', /"put=1.5" is not KIND=WEIGHT/],
    ['put=-1', /"put=-1" is not KIND=WEIGHT/],
    ['delete=1', /unknown operation "delete"; the kinds are put, get, append, cas, incr/],
    ['put=1,put=2', /put is named twice/],
    ['put=0,get=0', /at least one operation needs a weight above 0/],
    ['put=1001', /the weight of put is above 1000/],
    ['', /"" is not KIND=WEIGHT/],
  ];
  for (const [text, message] of bad) {
    test(`"${text}" is refused with a message that says why`, () => {
      assert.throws(
        () => parseMix(text),
        (error: unknown) => {
          assert.ok(error instanceof ShapeError);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }

  test('the cycle interleaves the kinds in proportion to their weights', () => {
    assert.deepEqual(mixCycle(parseMix('put=3,get=1')), ['put', 'put', 'get', 'put']);
    const cycle = mixCycle(parseMix('put=2,get=1,append=1,cas=1,incr=1'));
    assert.equal(cycle.length, 6);
    assert.deepEqual(
      Object.fromEntries(
        ['put', 'get', 'append', 'cas', 'incr'].map((k) => [k, cycle.filter((c) => c === k).length]),
      ),
      { put: 2, get: 1, append: 1, cas: 1, incr: 1 },
    );
  });
});

test('a shape whose calls in flight outnumber the keys is refused', () => {
  assert.throws(
    () => checkShape({ ...BENCH_SHAPE_DEFAULT, keys: 2, pipeline: 4 }),
    /--keys \(2\) must be at least --pipeline \(4\)/,
  );
  checkShape(BENCH_SHAPE_DEFAULT);
});

test('the median run is the middle one by throughput, the slower middle one for an even count', () => {
  const runs = [800, 500, 900].map((opsPerSecond) => ({ opsPerSecond }));
  assert.equal(medianRun(runs).opsPerSecond, 800);
  assert.equal(medianRun([...runs, { opsPerSecond: 100 }]).opsPerSecond, 500);
  assert.throws(() => medianRun([]));
});

test("a client's calls in flight split its keys, so no key has two writers", () => {
  const keys = 10;
  const pipeline = 3;
  const owners = new Map<string, number>();
  for (let slot = 0; slot < pipeline; slot++) {
    const caller = new CallerKeys('p', 7, slot, pipeline, keys, 16);
    for (let k = 0; k < caller.count; k++) {
      const name = caller.keyName('register', caller.nextKey('put'));
      assert.equal(owners.get(name), undefined, `${name} has one owner`);
      owners.set(name, slot);
    }
    assert.equal(
      caller.keyName('register', caller.nextKey('put')),
      caller.keyName('register', 0),
      'it cycles',
    );
  }
  assert.deepEqual([...owners.keys()].sort(), Array.from({ length: keys }, (_, k) => `p/7/r${k}`).sort());
});

test('a value carries the number of its write, padded to the value size', () => {
  assert.equal(valueText(42, 16), '42..............');
  assert.equal(valueText(42, 16).length, 16);
});

// ---- answers and read-back against an in-memory store -----------------------------------------

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const where: WriteMetadata = {
  view: viewNumber(1),
  index: logIndex(1),
  durability: 'sync',
  replicas: ['r1'],
};
const text = (bytes: string | Uint8Array | null) =>
  bytes === null ? null : typeof bytes === 'string' ? bytes : decoder.decode(bytes);

/** A store behind the client's calls; `loseWrite(n)` says whether the n-th write is acknowledged but dropped. */
function memoryClient(loseWrite: (n: number) => boolean = () => false, failWrite = (_n: number) => false) {
  const store = new Map<string, string>();
  let writes = 0;
  const write = (apply: () => void) => {
    writes += 1;
    if (failWrite(writes)) throw new UnavailableError('scripted');
    if (!loseWrite(writes)) apply();
  };
  const client: BenchClient = {
    get: async (key) => {
      const value = store.get(text(key) ?? '');
      return value === undefined ? null : encoder.encode(value);
    },
    put: async (key, value) => {
      const existed = store.has(text(key) ?? '');
      write(() => store.set(text(key) ?? '', text(value) ?? ''));
      return { existed, ...where };
    },
    cas: async (key, expected, next) => {
      const name = text(key) ?? '';
      const swapped = (store.get(name) ?? null) === text(expected);
      write(() => {
        if (!swapped) return;
        const value = text(next);
        if (value === null) store.delete(name);
        else store.set(name, value);
      });
      return { swapped, current: store.has(name) ? encoder.encode(store.get(name)) : null, ...where };
    },
    append: async (key, value) => {
      const name = text(key) ?? '';
      write(() => store.set(name, (store.get(name) ?? '') + text(value)));
      return { length: (store.get(name) ?? '').length, ...where };
    },
    incr: async (key, delta = 1) => {
      const name = text(key) ?? '';
      write(() => store.set(name, String(Number(store.get(name) ?? '0') + delta)));
      return { value: Number(store.get(name) ?? '0'), ...where };
    },
  };
  return { client, read: async (key: string) => store.get(key) ?? null };
}

const everyKind: BenchShape = {
  ...BENCH_SHAPE_DEFAULT,
  clients: 2,
  pipeline: 2,
  keys: 5,
  valueBytes: 16,
  mix: parseMix('put=2,get=1,append=1,cas=1,incr=1'),
};

async function drive(load: UnderstudyLoad, callsPerCaller: number): Promise<number> {
  let failed = 0;
  for (let round = 0; round < callsPerCaller; round++) {
    for (let caller = 0; caller < load.callerCount; caller++) {
      try {
        await load.call(caller);
      } catch {
        failed += 1;
      }
    }
  }
  return failed;
}

test('against a faithful store every answer and every read-back is as written', async () => {
  const memory = memoryClient();
  const load = new UnderstudyLoad(everyKind, [memory.client, memory.client], createCallers(everyKind, 'b'));
  assert.equal(await drive(load, 60), 0);
  assert.equal(load.mismatches.count, 0);
  const verify = await verifyKeys(load.callers, memory.read);
  // Each client has 5 keys in each of three namespaces, every one written by now.
  assert.equal(verify.keysChecked, 2 * 5 * 3);
  assert.equal(verify.mismatches, 0);
  assert.equal(verify.keysUncertain, 0);
});

test('a store that acknowledges writes and drops some is caught by the answers and by the read-back', async () => {
  const memory = memoryClient((n) => n % 7 === 0);
  const load = new UnderstudyLoad(everyKind, [memory.client, memory.client], createCallers(everyKind, 'b'));
  await drive(load, 60);
  assert.ok(load.mismatches.count > 0, 'answers disagreed');
  assert.ok(load.mismatches.first.length > 0);
  const verify = await verifyKeys(load.callers, memory.read);
  assert.ok(verify.mismatches > 0, 'the read-back disagreed');
  assert.equal(verify.firstMismatches[0]?.operation, 'read-back');
});

test('a failed write is counted by the caller, and its key is uncertain rather than a mismatch', async () => {
  const memory = memoryClient(undefined, (n) => n === 3);
  const shape = { ...everyKind, mix: parseMix('put=1'), clients: 1, pipeline: 1 };
  const load = new UnderstudyLoad(shape, [memory.client], createCallers(shape, 'b'));
  assert.equal(await drive(load, 20), 1);
  assert.equal(load.mismatches.count, 0);
  const verify = await verifyKeys(load.callers, memory.read);
  assert.equal(verify.keysUncertain, 1);
  assert.equal(verify.keysChecked, 4);
  assert.equal(verify.mismatches, 0);
});

test('callsToCoverKeys calls of each caller take every kind of the mix through every key (the steady prefill)', async () => {
  const memory = memoryClient();
  const load = new UnderstudyLoad(everyKind, [memory.client, memory.client], createCallers(everyKind, 'b'));
  for (let caller = 0; caller < load.callerCount; caller++) {
    for (let call = 0; call < load.callsToCoverKeys(caller); call++) await load.call(caller);
  }
  const verify = await verifyKeys(load.callers, memory.read);
  assert.equal(verify.keysChecked, 2 * 5 * 3, 'every key of every namespace was written');
  assert.equal(verify.mismatches, 0);
});

test('watchWrites tells of every acknowledged write with its view, and of nothing else', async () => {
  const memory = memoryClient(undefined, (n) => n === 2);
  const told: WriteMetadata[] = [];
  const client = watchWrites(memory.client, (reply) => told.push(reply));
  await client.put('k', 'v');
  await assert.rejects(client.append('k', 'w'), UnavailableError);
  await client.incr('n', 1);
  await client.cas('k', 'v', 'x');
  assert.equal(await memory.read('k'), 'x');
  assert.equal(text(await client.get('k')), 'x');
  assert.equal(told.length, 3, 'the put, the incr and the cas; not the failed append nor the get');
  assert.ok(told.every((reply) => reply.view === where.view && reply.durability === 'sync'));
});
