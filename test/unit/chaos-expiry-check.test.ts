// The end-of-run expiry check of chaos (src/chaos/expiry-check.ts): which keys must go. A register
// whose final value a write with a time to live gave it still holds that write's time, due at the
// latest its length after the write was acknowledged; any other final value says nothing.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ExpiringValue, keysStillExpiring } from '../../src/chaos/expiry-check.js';

const ms = 1e6;

test('a register whose final value was written with a time to live must go, the earliest due first', () => {
  const expiring = new Map<string, ExpiringValue>([
    ['1000001000', { key: 'x0.3', acknowledgedNs: 5000 * ms, ttlMs: 800 }],
    ['p1-w7', { key: 'x1.3', acknowledgedNs: 4000 * ms, ttlMs: 300 }],
  ]);
  const finals = new Map<string, string | null>([
    ['x0.3', '1000001000'],
    ['x1.3', 'p1-w7'],
  ]);
  assert.deepEqual(keysStillExpiring(finals, expiring), [
    { key: 'x1.3', value: 'p1-w7', dueNs: 4300 * ms },
    { key: 'x0.3', value: '1000001000', dueNs: 5800 * ms },
  ]);
});

test("an absent key, a value written without a time to live, or another key's value needs nothing", () => {
  const expiring = new Map<string, ExpiringValue>([
    ['1000001000', { key: 'x0.3', acknowledgedNs: 5000 * ms, ttlMs: 800 }],
  ]);
  const finals = new Map<string, string | null>([
    ['x0.3', null], // gone already
    ['r2.1', '1000001000'], // not the key the write gave it to: values are unique, so never seen
    ['r0.1', '3000004000'], // a plain put, a cas or an incr
  ]);
  assert.deepEqual(keysStillExpiring(finals, expiring), []);
});
