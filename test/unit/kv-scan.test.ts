// SCAN on the key/value store: Redis's glob patterns, and a scan's promise (a full
// iteration returns every key present from its first call to its last, each once when nothing
// changes), on the primary, on a backup that only applied updates, and across a restore.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import { ServiceError } from '../../src/protocol/state-machine.js';
import {
  decodeResult,
  encodeOperation,
  encodeSequence,
  globMatches,
  KeyValueStore,
  kvLimitsDefault,
  kvOperation as op,
  SCAN_CURSOR_BUILDING,
} from '../../src/state-machine/index.js';

const bytes = (text: string): Uint8Array => Buffer.from(text, 'latin1');
const text = (value: Uint8Array): string => Buffer.from(value).toString('latin1');

function put(store: KeyValueStore, key: string, value = 'v'): void {
  store.apply(store.execute(encodeOperation(op.put(bytes(key), bytes(value)))).update);
}

function remove(store: KeyValueStore, key: string): void {
  store.apply(store.execute(encodeOperation(op.delete(bytes(key)))).update);
}

function scan(store: KeyValueStore, cursor: number, count = 10, match?: string) {
  const result = decodeResult(
    'scan',
    store.query(
      encodeOperation(op.scan(cursor, { count, match: match === undefined ? null : bytes(match) })),
    ),
  );
  return { cursor: result.cursor, keys: result.keys.map(text) };
}

/** Every key a whole iteration returns, in order, with `between` run after each call. */
function iterate(
  store: KeyValueStore,
  count: number,
  between: (step: number) => void = () => {},
  match?: string,
) {
  const seen: string[] = [];
  let cursor = 0;
  let step = 0;
  do {
    const page = scan(store, cursor, count, match);
    seen.push(...page.keys);
    cursor = page.cursor;
    between(step++);
  } while (cursor !== 0);
  return { seen, steps: step };
}

function refusedWith(code: string, pattern: RegExp): (error: unknown) => boolean {
  return (error) => error instanceof ServiceError && error.code === code && pattern.test(error.message);
}

test('glob patterns as Redis reads them: *, ?, classes, ranges, negation, escapes', () => {
  const cases: [string, string, boolean][] = [
    ['*', '', true],
    ['*', 'anything', true],
    ['user:*', 'user:42', true],
    ['user:*', 'users:42', false],
    ['*:42', 'user:42', true],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXbYY', false],
    ['a**c', 'ac', true],
    ['h?llo', 'hello', true],
    ['h?llo', 'hllo', false],
    ['h[ae]llo', 'hallo', true],
    ['h[ae]llo', 'hillo', false],
    ['h[^e]llo', 'hallo', true],
    ['h[^e]llo', 'hello', false],
    ['h[a-b]llo', 'hbllo', true],
    ['h[b-a]llo', 'hbllo', true],
    ['h[a-b]llo', 'hcllo', false],
    ['h\\*llo', 'h*llo', true],
    ['h\\*llo', 'hello', false],
    ['[\\]]', ']', true],
    ['[abc', 'b', true],
    ['[abc', 'd', false],
    ['', '', true],
    ['', 'a', false],
    ['a', 'ab', false],
  ];
  for (const [pattern, key, expected] of cases) {
    assert.equal(globMatches(pattern, key), expected, `${JSON.stringify(pattern)} on ${JSON.stringify(key)}`);
  }
});

test('a glob of literals and stars matches as the same regular expression does', () => {
  const alphabet = fc.constantFrom('a', 'b', '*');
  fc.assert(
    fc.property(
      fc.string({ unit: alphabet, maxLength: 8 }),
      fc.string({ unit: fc.constantFrom('a', 'b'), maxLength: 10 }),
      (pattern, key) => {
        const expression = new RegExp(`^${pattern.replaceAll('*', '.*')}$`);
        assert.equal(globMatches(pattern, key), expression.test(key), `${pattern} on ${key}`);
      },
    ),
    { numRuns: 2000 },
  );
});

test('a full scan with nothing changing returns every key exactly once, about count at a time', () => {
  const store = new KeyValueStore();
  const keys = Array.from({ length: 2000 }, (_, at) => `key:${at}`);
  for (const key of keys) put(store, key);
  const { seen, steps } = iterate(store, 100);
  assert.deepStrictEqual([...seen].sort(), [...keys].sort());
  assert.ok(steps >= 15 && steps <= 25, `2000 keys 100 at a time took ${steps} calls`);
  assert.deepStrictEqual(
    scan(new KeyValueStore(), 0),
    { cursor: 0, keys: [] },
    'an empty store: done at once',
  );
});

test('a key present throughout a scan comes back, whatever is added and deleted meanwhile, the buckets made or in the making', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 300 })), { maxLength: 400, size: 'max' }),
      fc.integer({ min: 1, max: 50 }),
      fc.integer({ min: 1, max: 400 }),
      (changes, count, buildKeysPerCall) => {
        const store = new KeyValueStore({ ...kvLimitsDefault, scanKeysPerCallMax: buildKeysPerCall });
        const stable = Array.from({ length: 200 }, (_, at) => `stable:${at}`);
        for (const key of stable) put(store, key);
        for (let at = 0; at < 100; at++) put(store, `churn:${at}`);
        let next = 0;
        const { seen } = iterate(store, count, () => {
          for (let k = 0; k < 4 && next < changes.length; k++, next++) {
            const [add, n] = changes[next] as [boolean, number];
            if (add) put(store, `churn:${n}`);
            else remove(store, `churn:${n}`);
          }
        });
        const returned = new Set(seen);
        for (const key of stable)
          assert.ok(returned.has(key), `${key} was present throughout and not returned`);
        for (const key of seen)
          assert.ok(key.startsWith('stable:') || key.startsWith('churn:'), `${key} was never written`);
        // Present throughout and never moved: each stable key comes back once.
        assert.equal(seen.filter((key) => key.startsWith('stable:')).length, stable.length);
        // With nothing changing, the next scan returns exactly the keys the store holds, each once:
        // every key added or deleted while the buckets were made, or after, was noted.
        assert.deepEqual(iterate(store, count).seen.sort(), [...store.keys()].sort());
      },
    ),
    { numRuns: 100 },
  );
});

test('a large store makes its buckets a slice per call: until whole, a call answers no keys and a cursor to come back with; no call looks at more than a slice', () => {
  const store = new KeyValueStore({ ...kvLimitsDefault, scanKeysPerCallMax: 100 });
  for (let at = 0; at < 450; at++) put(store, `k${at}`);
  // 450 keys, 100 a call: four calls answer nothing; the fifth finishes the buckets and answers.
  for (let call = 0; call < 4; call++)
    assert.deepEqual(scan(store, 0), { cursor: SCAN_CURSOR_BUILDING, keys: [] });
  const first = scan(store, SCAN_CURSOR_BUILDING, 100);
  assert.ok(first.keys.length >= 100 && first.cursor > 0);
  const rest = iterate(store, 100).seen;
  assert.equal(new Set(rest).size, 450, 'then a whole iteration, every key once');
  // COUNT is a hint: no call looks at more than scanKeysPerCallMax keys (and the rest of a bucket).
  const asked = scan(store, 0, 1_000_000);
  assert.ok(
    asked.keys.length >= 100 && asked.keys.length < 110 && asked.cursor !== 0,
    `${asked.keys.length} keys`,
  );
  // A cursor of an iteration begun elsewhere waits, unchanged, on a store still making its buckets.
  const fresh = new KeyValueStore({ ...kvLimitsDefault, scanKeysPerCallMax: 100 });
  fresh.restore(store.snapshot());
  assert.deepEqual(scan(fresh, first.cursor), { cursor: first.cursor, keys: [] });
});

test('a cursor is the same on a backup that only applied the updates, and after a restore', () => {
  const primary = new KeyValueStore();
  const backup = new KeyValueStore();
  for (let at = 0; at < 500; at++) {
    const { update } = primary.execute(encodeOperation(op.put(bytes(`k${at}`), bytes('v'))));
    primary.apply(update);
    backup.apply(update);
  }
  const first = scan(primary, 0, 50);
  // Carried on at the backup: together every key, once.
  const keys = [...first.keys];
  let cursor = first.cursor;
  while (cursor !== 0) {
    const page = scan(backup, cursor, 50);
    keys.push(...page.keys);
    cursor = page.cursor;
  }
  assert.equal(keys.length, 500);
  assert.equal(new Set(keys).size, 500);
  const restored = new KeyValueStore();
  restored.restore(primary.snapshot());
  assert.deepStrictEqual(scan(restored, first.cursor, 50), scan(primary, first.cursor, 50));
  // A store scanned before a restore holds the restored keys, not its own.
  const scanned = new KeyValueStore();
  put(scanned, 'old');
  scan(scanned, 0);
  scanned.restore(primary.snapshot());
  assert.equal(new Set(iterate(scanned, 1000).seen).size, 500);
  assert.ok(!iterate(scanned, 1000).seen.includes('old'));
});

/** The keys SCAN's buckets once took from FNV-1a's top 16 bits, unkeyed: the hash an attacker could aim at. */
function unkeyedBucket(key: string): number {
  let hash = 0x811c9dc5;
  for (let at = 0; at < key.length; at++) hash = Math.imul(hash ^ key.charCodeAt(at), 0x01000193);
  return hash >>> 16;
}

test('keys chosen to share a bucket of a fixed hash are spread: no SCAN call visits them all at once', () => {
  // 200 keys in one bucket of the unkeyed hash, found by trying names (65,536 tries a key on average).
  const crafted: string[] = [];
  for (let at = 0; crafted.length < 200; at++) {
    if (unkeyedBucket(`k${at}`) === 0) crafted.push(`k${at}`);
  }
  const store = new KeyValueStore();
  for (const key of crafted) put(store, key);
  const pages: number[] = [];
  const seen: string[] = [];
  let cursor = 0;
  do {
    const page = scan(store, cursor, 10);
    pages.push(page.keys.length);
    seen.push(...page.keys);
    cursor = page.cursor;
  } while (cursor !== 0);
  assert.equal(new Set(seen).size, 200);
  // A bucket of them all was one reply of 200 keys (and each deletion searched all 200).
  assert.ok(Math.max(...pages) <= 20, `the largest reply held ${Math.max(...pages)} keys`);
});

test('a store draws its scan seed at its first write; backups, restores and clears keep it', () => {
  const primary = new KeyValueStore();
  const backup = new KeyValueStore();
  assert.equal(primary.scanSeed, null);
  // Two writes executed before either is applied both carry a seed; only the first counts.
  const first = primary.execute(encodeOperation(op.put(bytes('a'), bytes('1')))).update;
  const second = primary.execute(encodeOperation(op.put(bytes('b'), bytes('2')))).update;
  for (const update of [first, second]) {
    primary.apply(update);
    backup.apply(update);
  }
  const seed = primary.scanSeed;
  assert.notEqual(seed, null);
  assert.deepEqual(backup.scanSeed, seed);
  const withOnlySecond = new KeyValueStore();
  withOnlySecond.apply(second);
  assert.notDeepEqual(withOnlySecond.scanSeed, seed, 'each write drew its own seed');
  // Another store draws another, so nobody can choose keys for this one's buckets.
  const other = new KeyValueStore();
  put(other, 'a');
  assert.notDeepEqual(other.scanSeed, seed);
  const restored = new KeyValueStore();
  restored.restore(primary.snapshot());
  assert.deepEqual(restored.scanSeed, seed);
  primary.apply(primary.execute(encodeOperation(op.clear())).update);
  assert.deepEqual(primary.scanSeed, seed);
  assert.equal(primary.snapshot()[0], 5, 'a seeded store writes format 5');
});

test('a store an older build wrote, keys and no seed, gets one from its primary at once, not at its next write', () => {
  const store = new KeyValueStore();
  // Format 3, as a build before scan seeds wrote it: one key, no seed.
  store.restore(Buffer.from([3, 1, 0, 0, 0, 1, 0, 0, 0, 0x6b, 1, 0, 0, 0, 0x76]));
  assert.equal(store.scanSeed, null);
  const update = store.dueUpdate(1024);
  assert.notEqual(update, null);
  const backup = new KeyValueStore();
  backup.restore(store.snapshot());
  for (const replica of [store, backup]) replica.apply(update as Uint8Array);
  assert.notEqual(store.scanSeed, null);
  assert.deepEqual(backup.scanSeed, store.scanSeed);
  assert.equal(store.dueUpdate(1024), null, 'one seed, then nothing more is due');
  // An empty store waits for its first write, which carries the seed.
  assert.equal(new KeyValueStore().dueUpdate(1024), null);
});

test('a seed waits for the cluster to log format level 2; a replica held at level 1 refuses one, as an older build', () => {
  let clusterFormatLevel = 1;
  const formats = { clusterFormatLevel: () => clusterFormatLevel, formatLevel: 2 };
  const primary = new KeyValueStore(kvLimitsDefault, Date.now, undefined, formats);
  const older = new KeyValueStore(kvLimitsDefault, Date.now, undefined, {
    clusterFormatLevel: () => 1,
    formatLevel: 1,
  });
  const unseeded = primary.execute(encodeOperation(op.put(bytes('a'), bytes('1')))).update;
  for (const store of [primary, older]) store.apply(unseeded);
  assert.equal(primary.scanSeed, null, 'a member reads level 1 only: no seed');
  assert.equal(primary.dueUpdate(1024), null, 'nor one of its own for a store with keys');
  assert.equal(primary.snapshot()[0], 3, 'an unseeded store writes a format level 1 reads');
  clusterFormatLevel = 2;
  const seeding = primary.dueUpdate(1024);
  assert.notEqual(seeding, null, 'every member reads level 2: the seed is logged');
  primary.apply(seeding as Uint8Array);
  assert.notEqual(primary.scanSeed, null);
  assert.throws(
    () => older.apply(seeding as Uint8Array),
    /a scan seed \(format level 2\) reached a replica that reads format level 1/,
  );
  assert.throws(
    () => older.restore(primary.snapshot()),
    /snapshot format 5 \(format level 2\) reached a replica that reads format level 1/,
  );
  assert.equal(older.scanSeed, null);
  assert.equal(older.entryCount, 1, 'the refused snapshot left the state as it was');
});

test('MATCH filters the keys looked at; COUNT still counts every key looked at', () => {
  const store = new KeyValueStore();
  for (let at = 0; at < 300; at++) put(store, at % 3 === 0 ? `user:${at}` : `order:${at}`);
  const { seen } = iterate(store, 20, () => {}, 'user:*');
  assert.equal(seen.length, 100);
  assert.ok(seen.every((key) => key.startsWith('user:')));
  assert.deepStrictEqual(iterate(store, 20, () => {}, 'nobody:*').seen, []);
});

test('a bad cursor, count or pattern is BAD_REQUEST; a scan is a read, and never part of a sequence', () => {
  const store = new KeyValueStore();
  put(store, 'a');
  const query = (operation: Parameters<typeof encodeOperation>[0]) => store.query(encodeOperation(operation));
  assert.throws(
    () => query(op.scan(SCAN_CURSOR_BUILDING + 1)),
    refusedWith(ErrorCode.badRequest, /cursor 65537 is not one this store gave \(0 to 65536\)/),
  );
  assert.throws(
    () => query(op.scan(0, { count: 0 })),
    refusedWith(ErrorCode.badRequest, /count must be a whole number of at least 1/),
  );
  assert.throws(() => query(op.scan(-1)), refusedWith(ErrorCode.badRequest, /cursor must be a whole number/));
  assert.throws(
    () => query(op.scan(1.5)),
    refusedWith(ErrorCode.badRequest, /cursor must be a safe integer/),
  );
  assert.throws(
    () => query(op.scan(0, { match: bytes('*'.repeat(2049)) })),
    refusedWith(ErrorCode.badRequest, /a pattern of 2049 bytes; at most 2048/),
  );
  assert.throws(
    () => store.execute(encodeOperation(op.scan(0))),
    refusedWith(ErrorCode.badRequest, /scan is a read/),
  );
  assert.throws(
    () => store.query(encodeSequence([op.get(bytes('a')), op.scan(0)], false)),
    refusedWith(ErrorCode.badRequest, /scan cannot be part of a sequence: send it on its own/),
  );
  assert.throws(
    () => store.execute(encodeSequence([op.put(bytes('b'), bytes('1')), op.scan(0)], false)),
    refusedWith(ErrorCode.badRequest, /scan cannot be part of a sequence/),
  );
});
