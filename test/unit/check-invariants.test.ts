// Final-state invariants: acknowledged appends survive, and no append takes effect twice.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkAtMostOnce,
  checkNoLostWrites,
  clearMayHaveTakenIn,
  everyKey,
  expandClears,
  HistoryRecorder,
  pairOperations,
  summarize,
} from '../../src/check/index.js';

function appendHistory() {
  const recorder = new HistoryRecorder();
  const first = recorder.invoke(1, 'append', 'x', 'p1-1;', 0);
  recorder.ok(first, 5, 1); // an append answers the new length
  const second = recorder.invoke(2, 'append', 'x', 'p2-1;', 2);
  recorder.info(second, 9);
  const third = recorder.invoke(1, 'append', 'y', 'p1-2;', 3);
  recorder.ok(third, 5, 4);
  const failed = recorder.invoke(3, 'append', 'y', 'p3-1;', 5);
  recorder.fail(failed, 6);
  return pairOperations(recorder.events());
}

test('a final state holding every acknowledged append breaks neither invariant', () => {
  const finalReads = new Map([
    ['x', 'p1-1;p2-1;'],
    ['y', 'p1-2;'],
  ]);
  assert.deepEqual(checkNoLostWrites(appendHistory(), finalReads), []);
  assert.deepEqual(checkAtMostOnce(finalReads), []);
});

test('a timed-out append whose token appears twice in the final state is caught by checkAtMostOnce', () => {
  const violations = checkAtMostOnce(new Map([['x', 'p1-1;p2-1;p2-1;']]));
  assert.deepEqual(
    violations.map(({ invariant, key, token }) => ({ invariant, key, token })),
    [{ invariant: 'at-most-once', key: 'x', token: 'p2-1;' }],
  );
  assert.match(violations[0]?.message ?? '', /appears 2 times/);
});

test('an acknowledged append missing from the final value is caught by checkNoLostWrites', () => {
  const finalReads = new Map<string, string | null>([
    ['x', 'p2-1;'],
    ['y', null],
  ]);
  const violations = checkNoLostWrites(appendHistory(), finalReads);
  assert.deepEqual(
    violations.map(({ key, token }) => ({ key, token })),
    [
      { key: 'x', token: 'p1-1;' },
      { key: 'y', token: 'p1-2;' },
    ],
  );
});

test('an acknowledged append a clear may have followed is no loss; one after every clear ended must survive', () => {
  const recorder = new HistoryRecorder();
  const before = recorder.invoke(1, 'append', 'x', 'p1-1;', 0);
  recorder.ok(before, 5, 1);
  const clear = recorder.invoke(2, 'clear', everyKey, null, 2);
  const during = recorder.invoke(1, 'append', 'x', 'p1-2;', 3);
  recorder.ok(during, 5, 4);
  recorder.ok(clear, null, 5);
  const after = recorder.invoke(1, 'append', 'x', 'p1-3;', 6);
  recorder.ok(after, 10, 7);
  const operations = expandClears(pairOperations(recorder.events()));
  assert.deepEqual(checkNoLostWrites(operations, new Map([['x', 'p1-2;p1-3;']])), []);
  assert.deepEqual(checkNoLostWrites(operations, new Map([['x', 'p1-3;']])), []);
  assert.deepEqual(
    checkNoLostWrites(operations, new Map([['x', 'p1-2;']])).map(({ token }) => token),
    ['p1-3;'],
  );
  // A clear refused REQUEST_CANCELLED never ran: it excuses nothing.
  const cancelled = operations.map((operation) =>
    operation.f === 'clear'
      ? { ...operation, status: 'fail' as const, error: 'REQUEST_CANCELLED' }
      : operation,
  );
  assert.deepEqual(
    checkNoLostWrites(cancelled, new Map([['x', 'p1-3;']])).map(({ token }) => token),
    ['p1-1;', 'p1-2;'],
  );
});

test('a clear answered at the instant an append was invoked overlapped it, and may have followed it', () => {
  const recorder = new HistoryRecorder();
  const clear = recorder.invoke(2, 'clear', everyKey, null, 2);
  const append = recorder.invoke(1, 'append', 'x', 'p1-1;', 3);
  recorder.ok(clear, null, 3);
  recorder.ok(append, 5, 4);
  const later = recorder.invoke(1, 'append', 'x', 'p1-2;', 5);
  recorder.ok(later, 5, 6);
  const operations = expandClears(pairOperations(recorder.events()));
  assert.deepEqual(
    checkNoLostWrites(operations, new Map([['x', 'p1-2;']])).map(({ token }) => token),
    [],
  );
  assert.deepEqual(
    checkNoLostWrites(operations, new Map([['x', 'p1-1;']])).map(({ token }) => token),
    ['p1-2;'],
  );
});

test('clearMayHaveTakenIn names the tokens of appends a clear of their key may have come after', () => {
  const recorder = new HistoryRecorder();
  const before = recorder.invoke(1, 'append', 'x', 'p1-1;', 0);
  recorder.info(before, 1); // async: acknowledged, may be lost
  const clear = recorder.invoke(2, 'clear', everyKey, null, 2);
  recorder.ok(clear, null, 3);
  const after = recorder.invoke(1, 'append', 'x', 'p1-2;', 4);
  recorder.info(after, 5);
  const taken = clearMayHaveTakenIn(expandClears(pairOperations(recorder.events())));
  assert.equal(taken('x', 'p1-1;'), true);
  assert.equal(taken('x', 'p1-2;'), false);
  assert.equal(taken('y', 'p1-1;'), false, 'no clear names a key the history lacks');
});

test('summarize counts outcomes overall and per function', () => {
  const summary = summarize(appendHistory());
  assert.equal(summary.operations, 4);
  assert.deepEqual([summary.ok, summary.fail, summary.info], [2, 1, 1]);
  assert.deepEqual(summary.byFunction.append, { ok: 2, fail: 1, info: 1 });
  assert.deepEqual(summary.byFunction.read, { ok: 0, fail: 0, info: 0 });
});
