// The bench's reading of its slowest calls: slow alone, or in stalls where most callers' calls slowed
// together (src/bench/stalls.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CallTimeline, describeTail, STALL_GAP_MS } from '../../src/bench/stalls.js';

test('slow calls ending within the gap of each other form one group; a group of half the callers or more is a stall', () => {
  const timeline = new CallTimeline();
  // Fast calls all along; three slow calls alone, far apart.
  for (let at = 0; at < 3000; at += 1) timeline.push(at, 2);
  timeline.push(100, 30);
  timeline.push(900, 30);
  timeline.push(1700, 30);
  // A stall: 6 of 8 callers' calls slowed and ended close together (each within the gap of the last).
  for (let call = 0; call < 6; call++) timeline.push(2000 + call * (STALL_GAP_MS - 1), 40);
  // Three slow calls together: fewer than half of 8 callers, so not a stall.
  for (let call = 0; call < 3; call++) timeline.push(2500 + call, 25);
  const tail = timeline.tailShape(20, 8);
  assert.deepEqual(tail, {
    thresholdMs: 20,
    slowCalls: 12,
    stalls: 1,
    stallCallsMin: 4,
    slowCallsInStalls: 6,
    truncated: false,
  });
  assert.equal(
    describeTail(tail),
    'slowest 1 % (≥ 20.00 ms): 12 calls, 50 % of them in 1 stall (4 or more of them ending within 20 ms of each other)',
  );
});

test('a gap longer than the limit splits slow calls into two groups', () => {
  const timeline = new CallTimeline();
  for (let call = 0; call < 4; call++) timeline.push(call, 50);
  for (let call = 0; call < 4; call++) timeline.push(3 + STALL_GAP_MS + 1 + call, 50);
  const tail = timeline.tailShape(10, 4);
  assert.equal(tail.stalls, 2);
  assert.equal(tail.slowCallsInStalls, 8);
  assert.equal(timeline.tailShape(10, 16).stalls, 0, 'neither group is half of 16 callers');
});

test('a run with no completed call has no slow calls', () => {
  const tail = new CallTimeline().tailShape(0, 32);
  assert.equal(tail.slowCalls, 0);
  assert.equal(describeTail(tail), 'slowest 1 %: no calls');
});

test('past the calls it keeps, a timeline says its reading is of the first ones', () => {
  const timeline = new CallTimeline(5);
  for (let call = 0; call < 5; call++) timeline.push(call, 50);
  timeline.push(6, 50);
  const tail = timeline.tailShape(10, 4);
  assert.equal(tail.slowCalls, 5);
  assert.equal(tail.truncated, true);
  assert.match(
    describeTail(tail),
    /^slowest 1 % \(≥ 10\.00 ms\): 5 calls \(among the run's first calls, the ones kept\), 100 % of them in 1 stall/,
  );
});
