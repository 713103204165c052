// The keyed hash of SCAN's buckets: HalfSipHash, checked against the reference's test vectors.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { halfSipHash } from '../../src/state-machine/index.js';

test('HalfSipHash-2-4 gives the reference test vectors (key 00..07, messages 00, 00 01, ...)', () => {
  const seed = { low: 0x03020100, high: 0x07060504 };
  // The reference's first results, as 32-bit little-endian words.
  const expected = [0x5b9f35a9, 0xb85a4727, 0x03a662fa, 0x04e7fe8a, 0x89466e2a, 0x69b6fac5];
  expected.forEach((result, length) => {
    let message = '';
    for (let at = 0; at < length; at++) message += String.fromCharCode(at);
    assert.equal(halfSipHash(message, seed, 2, 4), result, `message of ${length} bytes`);
  });
});

test('the same key hashes apart under another seed, and alike under the same', () => {
  const keys = Array.from({ length: 1000 }, (_, at) => `user:${at}`);
  const one = keys.map((key) => halfSipHash(key, { low: 1, high: 2 }));
  const again = keys.map((key) => halfSipHash(key, { low: 1, high: 2 }));
  const other = keys.map((key) => halfSipHash(key, { low: 1, high: 3 }));
  assert.deepEqual(again, one);
  assert.ok(one.filter((hash, at) => hash === other[at]).length < 5);
});
