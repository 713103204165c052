// incr-float's numbers as text: what it reads as a decimal number, and how it writes a sum back.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatDecimal, parseDecimal } from '../../src/state-machine/kv-decimal.js';

test('decimal numbers are read as Redis reads them, and nothing else is', () => {
  for (const [text, value] of [
    ['10.50', 10.5],
    ['5.0e3', 5000],
    ['+2.', 2],
    ['.5', 0.5],
    ['-0', -0],
    ['007', 7],
    ['1E-2', 0.01],
  ] as const) {
    assert.equal(parseDecimal(text), value, text);
  }
  for (const text of ['', ' 1', '1 ', 'inf', '-Infinity', 'NaN', '0x10', '1e', '.', 'e5', '1e400', '1,5']) {
    assert.equal(parseDecimal(text), null, JSON.stringify(text));
  }
});

test('a sum is written as plain decimal text of at most 15 significant digits', () => {
  for (const [value, text] of [
    [10.5 + 0.1, '10.6'],
    [10.6 - 5, '5.6'],
    [0.1 + 0.2, '0.3'],
    [5200, '5200'],
    [-2.5, '-2.5'],
    [-0, '0'],
    [0, '0'],
    [1e-7, '0.0000001'],
    [1 / 3, '0.333333333333333'],
    [1e20 + 1, '100000000000000000000'],
    [123456789012345680, '123456789012346000'],
    [2 ** 53 + 2, '9007199254740990'],
  ] as const) {
    assert.equal(formatDecimal(value), text, String(value));
  }
});

test('what is written reads back as the sum rounded to 15 digits, and is written again unchanged', () => {
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, max: 1e300, min: -1e300 }), (value) => {
      const text = formatDecimal(value);
      assert.doesNotMatch(text, /e/i, 'no exponent');
      const read = parseDecimal(text);
      assert.notEqual(read, null, text);
      assert.equal(read, Number(value.toPrecision(15)), text);
      assert.equal(formatDecimal(read as number), text);
    }),
    { numRuns: 2000 },
  );
});
