// The check of whole scans against a history: a key present from the scan's first call to its last
// must come back, a key that may have been deleted meanwhile need not, and a scan returns only keys
// some client wrote.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkScans,
  type EventValue,
  type OperationFunction,
  type OperationStatus,
} from '../../src/check/index.js';
import { operation } from './history-fixtures.js';

const op = (
  f: OperationFunction,
  key: string,
  input: EventValue,
  output: EventValue,
  interval: readonly [number, number],
  status: OperationStatus = 'ok',
) => operation(1, f, key, input, output, interval, status);

const alone = (key: string) => [key];
const scan = (keys: readonly string[], start = 100, end = 200) => ({ start, end, keys: new Set(keys) });

test('a key written before the scan and never deleted must come back', () => {
  const history = [op('write', 'a', 'x', 'x', [10, 20]), op('append', 'b', 't', 1, [30, 40])];
  assert.deepEqual(checkScans([scan(['a', 'b'])], history, alone), { violations: [], keysDue: 2 });
  const missed = checkScans([scan(['a'])], history, alone);
  assert.equal(missed.violations.length, 1);
  assert.match(missed.violations[0] ?? '', /did not return b, present throughout it \(a append/);
});

test('a key seen present by a read counts; one written during the scan, or absent, need not come back', () => {
  const history = [
    op('read', 'seen', null, 'v', [10, 20]),
    op('read', 'absent', null, null, [10, 20]),
    op('write', 'late', 'x', 'x', [90, 150]),
    op('write', 'unknown', 'x', null, [10, 20], 'info'),
  ];
  const result = checkScans([scan([])], history, alone);
  assert.equal(result.keysDue, 1);
  assert.match(result.violations.join('\n'), /did not return seen/);
});

test('anything that may delete the key before the scan ended excuses it, whatever became of it', () => {
  const history = [
    op('write', 'a', 'x', 'x', [10, 20]),
    op('delete', 'a', null, null, [150, 160], 'fail'),
    op('write', 'b', 'x', 'x', [10, 20]),
    op('cas', 'b', ['x', null], ['x', null], [5, 8], 'info'),
    op('write', 'c', 'x', 'x', [10, 20]),
    op('delete', 'c', null, null, [250, 260]),
    // A clear (FLUSHALL) as expandClears leaves it: once per key.
    op('write', 'd', 'x', 'x', [10, 20]),
    op('clear', 'd', null, null, [120, 130]),
  ];
  const result = checkScans([scan([])], history, alone);
  assert.equal(result.keysDue, 1, 'only c: its delete came after the scan ended');
  assert.match(result.violations.join('\n'), /did not return c/);
});

test('a key no client wrote before the scan ended is reported; a group stands for its members', () => {
  const history = [op('write', 'g', 'v', 'v', [10, 20])];
  const members = (key: string) => (key === 'g' ? ['g.0', 'g.1'] : [key]);
  assert.deepEqual(checkScans([scan(['g.0', 'g.1'])], history, members).violations, []);
  const result = checkScans([scan(['g.0', 'g.1', 'ghost'])], history, members);
  assert.deepEqual(result.violations.length, 1);
  assert.match(result.violations[0] ?? '', /returned ghost, which no client wrote before it ended/);
  assert.match(checkScans([scan(['g.0'])], history, members).violations.join('\n'), /did not return g\.1/);
});

test('a key written outside the history (a chaos run ballast, a staging key) is no stranger once sent', () => {
  const stagedAt = new Map([['staging-1-4', 150]]);
  const elsewhere = (key: string, before: number) =>
    key.startsWith('ballast.') || (stagedAt.get(key) ?? Number.POSITIVE_INFINITY) < before;
  assert.deepEqual(checkScans([scan(['ballast.0', 'staging-1-4'])], [], alone, elsewhere).violations, []);
  assert.equal(checkScans([scan(['ballast.0', 'other'])], [], alone, elsewhere).violations.length, 1);
  const early = checkScans([scan(['staging-1-4'], 20, 140)], [], alone, elsewhere);
  assert.match(early.violations.join('\n'), /returned staging-1-4, which no client wrote before it ended/);
});
