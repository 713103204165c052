// Scenarios for the check of bounded reads (reads a backup may serve): each history is legal or
// breaks one rule — the staleness bound, the index the read observed (read-your-writes), the
// minimum index, a cancelled write, a value no one wrote.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BoundedRead, checkBoundedReads, type Operation } from '../../src/check/index.js';
import { operation as write } from './history-fixtures.js';

function read(key: string, value: string | null, options: Partial<BoundedRead> = {}): BoundedRead {
  return {
    process: 9,
    key,
    value,
    sent: 100,
    bound: 20,
    maxStalenessMs: 200,
    minIndex: 0,
    index: 0,
    replica: 'r2',
    ...options,
  };
}

const rules = (reads: readonly BoundedRead[], history: readonly Operation[]) =>
  checkBoundedReads(reads, history).violations.map((violation) => violation.rule);

test('a register read within its bound may miss writes acknowledged inside the bound, never before it', () => {
  const history = [
    write(1, 'write', 'x', 'a', 'a', [0, 10], 'ok', { index: 3 }),
    write(2, 'write', 'x', 'b', 'b', [20, 30], 'ok', { index: 5 }),
    write(1, 'write', 'x', 'c', 'c', [85, 90], 'ok', { index: 8 }),
  ];
  // Sent at 100 with bound 20: 'b' (acknowledged at 30 < 80) must be reflected, 'c' (at 90) need not.
  assert.deepEqual(rules([read('x', 'b', { index: 5 }), read('x', 'c', { index: 8 })], history), []);
  assert.deepEqual(rules([read('x', 'a', { index: 4 })], history), ['staleness']);
  assert.deepEqual(rules([read('x', null, { index: 0 })], history), ['staleness']);
  // A wider bound lets the read miss 'b' too.
  assert.deepEqual(rules([read('x', 'a', { index: 4, bound: 80 })], history), []);
});

test('a read reflects every write at or below the index it observed, and none above it', () => {
  const history = [
    write(1, 'write', 'x', 'a', 'a', [0, 50], 'ok', { index: 3 }),
    write(2, 'write', 'x', 'b', 'b', [10, 95], 'ok', { index: 5 }),
  ];
  // Both were acknowledged inside the bound, but index 5 holds 'b'.
  assert.deepEqual(rules([read('x', 'b', { index: 5, bound: 200 })], history), []);
  assert.deepEqual(rules([read('x', 'a', { index: 5, bound: 200 })], history), ['index']);
  assert.deepEqual(rules([read('x', 'b', { index: 4, bound: 200 })], history), ['index']);
  // Read-your-writes: the minimum index must be met.
  assert.deepEqual(rules([read('x', 'b', { index: 5, minIndex: 6, bound: 200 })], history), ['min-index']);
});

test('a value written by a write still in flight, or of unknown outcome, is not stale', () => {
  const history = [
    write(1, 'write', 'x', 'a', 'a', [0, 10], 'ok', { index: 3 }),
    write(2, 'write', 'x', 'b', null, [5, 0], 'info'),
    write(3, 'cas', 'x', ['a', 'c'], ['a', 'c'], [12, 60], 'ok'),
  ];
  // 'b' was concurrent with everything acknowledged: it may be the last write.
  assert.deepEqual(rules([read('x', 'b', { index: 9 })], history), []);
  // 'c' replaced 'a'; reading 'a' after 'c' was acknowledged long enough ago is stale.
  assert.deepEqual(rules([read('x', 'a', { index: 3 })], history), ['staleness']);
  assert.deepEqual(rules([read('x', 'c', { index: 9 })], history), []);
  assert.deepEqual(rules([read('x', 'zzz', { index: 9 })], history), ['unwritten']);
});

test('an append list read must hold every token acknowledged before the bound', () => {
  const history = [
    write(1, 'append', 'l', 'p1-0;', 'p1-0;', [0, 10], 'ok', { index: 2 }),
    write(2, 'append', 'l', 'p2-0;', 'p1-0;p2-0;', [20, 90], 'ok', { index: 4 }),
    write(3, 'append', 'l', 'p3-0;', null, [20, 40], 'fail', { error: 'REQUEST_CANCELLED' }),
  ];
  assert.deepEqual(rules([read('l', 'p1-0;', { index: 3 })], history), []);
  assert.deepEqual(rules([read('l', null, { index: 1 })], history), ['staleness']);
  assert.deepEqual(rules([read('l', 'p1-0;p2-0;', { index: 3 })], history), ['index']);
  assert.deepEqual(rules([read('l', 'p1-0;p3-0;', { index: 3 })], history), ['cancelled']);
});

test('a counter read is at least every increment acknowledged before the bound', () => {
  const history = [
    write(1, 'incr', 'n', 1, 1, [0, 10], 'ok', { index: 2 }),
    write(2, 'incr', 'n', 1, 2, [20, 30], 'ok', { index: 3 }),
    write(1, 'incr', 'n', 1, null, [40, 0], 'info'),
    write(2, 'incr', 'n', 1, 4, [85, 95], 'ok', { index: 7 }),
  ];
  assert.deepEqual(rules([read('n', '2', { index: 3 }), read('n', '3', { index: 5 })], history), []);
  assert.deepEqual(rules([read('n', '1', { index: 2 })], history), ['staleness']);
  assert.deepEqual(rules([read('n', '4', { index: 5 })], history), ['index']);
});

test('a clear is a delete of a register, makes a counter a register, and excuses the appends it may follow', () => {
  const register = [
    write(1, 'write', 'x', 'a', 'a', [0, 10], 'ok', { index: 3 }),
    write(2, 'clear', 'x', null, null, [20, 30], 'ok', { index: 5 }),
  ];
  assert.deepEqual(rules([read('x', null, { index: 5 })], register), []);
  assert.deepEqual(rules([read('x', 'a', { index: 5 })], register), ['index']);
  assert.deepEqual(rules([read('x', 'a', { index: 4 })], register), ['staleness']);
  // A counter cleared starts again: a read below an increment before the clear is no violation.
  const counter = [
    write(1, 'incr', 'n', 1, 1, [0, 5], 'ok', { index: 2 }),
    write(1, 'incr', 'n', 1, 2, [6, 10], 'ok', { index: 3 }),
    write(2, 'clear', 'n', null, null, [12, 14], 'ok', { index: 4 }),
    write(1, 'incr', 'n', 1, 1, [15, 20], 'ok', { index: 5 }),
  ];
  assert.deepEqual(
    rules([read('n', '1', { index: 5 }), read('n', null, { index: 4, bound: 200 })], counter),
    [],
  );
  assert.deepEqual(rules([read('n', '2', { index: 5 })], counter), ['index']);
  const list = [
    write(1, 'append', 'l', 'p1-0;', 5, [0, 10], 'ok', { index: 2 }),
    write(2, 'clear', 'l', null, null, [12, 14], 'ok', { index: 3 }),
    write(1, 'append', 'l', 'p1-1;', 5, [20, 30], 'ok', { index: 4 }),
  ];
  const asOf = (index: number) => ({ index, bound: 200 });
  assert.deepEqual(
    rules([read('l', 'p1-1;', asOf(4)), read('l', null, asOf(3)), read('l', null, asOf(1))], list),
    [],
  );
  // The append after the clear must show, and one above the observed index must not; nor, once the
  // bound passed, may the read miss it.
  assert.deepEqual(rules([read('l', null, asOf(4))], list), ['index']);
  assert.deepEqual(rules([read('l', 'p1-0;p1-1;', asOf(3))], list), ['index']);
  assert.deepEqual(rules([read('l', null, { index: 3 })], list), ['staleness']);
});

test('the value of a cancelled write never shows up', () => {
  const history = [
    write(1, 'write', 'x', 'a', 'a', [0, 10], 'ok', { index: 3 }),
    write(2, 'write', 'x', 'b', null, [20, 30], 'fail', { error: 'REQUEST_CANCELLED' }),
  ];
  assert.deepEqual(rules([read('x', 'b', { index: 4 })], history), ['cancelled']);
  const report = checkBoundedReads([read('x', 'b', { index: 4 })], history);
  assert.equal(report.checked, 1);
  assert.match(report.violations[0]?.message ?? '', /cancelled write "b" by p2/);
});

test('a delete produces the absent value and a replace its value, judged like any register write', () => {
  const history = [
    write(1, 'write', 'x', 'a', 'a', [0, 10], 'ok', { index: 3 }),
    write(2, 'delete', 'x', null, null, [20, 30], 'ok', { index: 5 }),
    write(1, 'replace', 'x', 'r', null, [40, 45], 'fail'), // the key was absent: nothing written
    write(2, 'write', 'x', 'b', 'b', [85, 90], 'ok', { index: 8 }),
    write(1, 'replace', 'x', 'c', 'c', [91, 92], 'ok', { index: 9 }),
  ];
  // Sent at 100 with bound 20: the delete (acknowledged at 30) must be reflected, 'b' and 'c' need not.
  assert.deepEqual(rules([read('x', null, { index: 5 })], history), []);
  assert.deepEqual(rules([read('x', 'c', { index: 9 })], history), []);
  assert.deepEqual(rules([read('x', 'a', { index: 4 })], history), ['staleness']);
  assert.deepEqual(rules([read('x', null, { index: 8, bound: 200 })], history), ['index']);
  assert.deepEqual(rules([read('x', 'r', { index: 9 })], history), ['unwritten']);
});

test('a cas to null (GETDEL taking the value) produces the absent value, like a delete', () => {
  const history = [
    write(1, 'write', 'x', 'a', 'a', [0, 10], 'ok', { index: 3 }),
    write(2, 'cas', 'x', ['a', null], ['a', null], [20, 30], 'ok', { index: 5 }),
    write(2, 'write', 'x', 'b', 'b', [85, 90], 'ok', { index: 8 }),
  ];
  // Sent at 100 with bound 20: the take (acknowledged at 30) must be reflected, 'b' need not.
  assert.deepEqual(rules([read('x', null, { index: 5 })], history), []);
  assert.deepEqual(rules([read('x', 'a', { index: 4 })], history), ['staleness']);
  assert.deepEqual(rules([read('x', null, { index: 8, bound: 200 })], history), ['index']);
});

test('a counter read that is no number, as the store reads numbers, saw a value no increment wrote', () => {
  const history = [write(1, 'incr', 'n', 1, 1, [0, 10], 'ok', { index: 2 })];
  for (const value of ['one', '1e3', ' 1', '', '1.0']) {
    assert.deepEqual(rules([read('n', value, { index: 2 })], history), ['unwritten'], value);
  }
  assert.deepEqual(rules([read('n', '1', { index: 2 })], history), []);
});

test('a write acknowledged before it committed (replicated) is held by the index the read observed, not the bound', () => {
  const replicated = write(1, 'write', 'x', 'b', 'b', [20, 30], 'ok', { index: 5 });
  const history = [write(1, 'write', 'x', 'a', 'a', [0, 10], 'ok', { index: 3 }), replicated];
  const reads = [read('x', 'a', { index: 4 })];
  // Acknowledged at 30, before 100 − bound 20: stale if it had committed when it was acknowledged.
  assert.deepEqual(rules(reads, history), ['staleness']);
  const excused = checkBoundedReads(reads, history, new Set([replicated]));
  assert.deepEqual(excused.violations, []);
  const asOfItsIndex = checkBoundedReads([read('x', 'a', { index: 5 })], history, new Set([replicated]));
  assert.deepEqual(
    asOfItsIndex.violations.map(({ rule }) => rule),
    ['index'],
  );
});

test('an increment of unknown outcome may have left any number: such a register read is not judged', () => {
  const known = [
    write(1, 'write', 'x', '5', '5', [0, 10], 'ok', { index: 3 }),
    write(1, 'write', 'x', 'w', 'w', [30, 40], 'ok', { index: 6 }),
    write(1, 'write', 'x', 'u', 'u', [50, 60], 'ok', { index: 8 }),
  ];
  const history = [...known, write(2, 'incr', 'x', 2, null, [20, 0], 'info')];
  // '7' was written by no acknowledged operation, and '5' was overwritten long before 100 − 20;
  // either may be the unknown increment's result, left after 'u' (it may have run last).
  assert.deepEqual(rules([read('x', '7', { index: 9 }), read('x', '5', { index: 9 })], history), []);
  // Without it, no one wrote '7', and '5' was overwritten at or below the index read.
  assert.deepEqual(rules([read('x', '7', { index: 9 }), read('x', '5', { index: 9 })], known), [
    'unwritten',
    'index',
  ]);
  // A word is no increment's result: 'v' was written by no one, and 'w' was overwritten by 'u'.
  assert.deepEqual(rules([read('x', 'v', { index: 9 }), read('x', 'w', { index: 7 })], history), [
    'unwritten',
    'staleness',
  ]);
});

test('a write that returned at the instant another was called overlapped it: its value may be the last', () => {
  const history = [
    write(1, 'write', 'x', 'a', 'a', [0, 10], 'ok'),
    write(2, 'write', 'x', 'b', 'b', [10, 20], 'ok'),
  ];
  assert.deepEqual(rules([read('x', 'a', { index: 0 })], history), []);
  const apart = [
    write(1, 'write', 'x', 'a', 'a', [0, 10], 'ok'),
    write(2, 'write', 'x', 'b', 'b', [11, 20], 'ok'),
  ];
  assert.deepEqual(rules([read('x', 'a', { index: 0 })], apart), ['staleness']);
});
