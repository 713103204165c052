// The lock service as a state machine: what it grants, refuses and releases, how time moves (only
// from requests, never backwards), and that a backup applying the primary's updates ends in the
// primary's state.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isServiceError } from 'understudy';
import type { AcquireResult, LockOperation, LockState, ReleaseResult } from '../src/lock-messages.js';
import { decodeTrusted, encode } from '../src/lock-messages.js';
import createLockService, { LockService, service } from '../src/lock-service.js';

/** A primary and a backup: the primary executes, both apply its update, as replication does. */
function pair() {
  const primary = new LockService();
  const backup = new LockService();
  const write = <T>(operation: LockOperation): T => {
    const { result, update } = primary.execute(encode(operation));
    primary.apply(update);
    backup.apply(update);
    return decodeTrusted<T>(result);
  };
  const inspect = (lock: string, nowMs: number) =>
    decodeTrusted<LockState>(primary.query(encode({ op: 'inspect', lock, nowMs })));
  return { primary, backup, write, inspect };
}

const acquire = (lock: string, owner: string, leaseMs: number, nowMs: number) =>
  ({ op: 'acquire', lock, owner, leaseMs, nowMs }) as const;
const release = (lock: string, owner: string, token: number, nowMs: number) =>
  ({ op: 'release', lock, owner, token, nowMs }) as const;

test('the module names its service and its default export makes an empty lock service', () => {
  assert.deepEqual(service, { name: 'lock', version: 1 });
  assert.ok(createLockService() instanceof LockService);
});

test('a lock is granted to one owner; another is refused until it is released', () => {
  const { write, inspect } = pair();
  const granted = write<AcquireResult>(acquire('printer', 'ada', 1000, 100));
  assert.deepEqual(granted, {
    granted: true,
    lease: { owner: 'ada', token: 1, expiresAtMs: 1100 },
    atMs: 100,
  });
  assert.deepEqual(write<AcquireResult>(acquire('printer', 'bob', 1000, 200)), {
    granted: false,
    holder: { owner: 'ada', token: 1, expiresAtMs: 1100 },
    atMs: 200,
  });
  assert.equal(write<ReleaseResult>(release('printer', 'bob', 1, 300)).released, false);
  assert.equal(write<ReleaseResult>(release('printer', 'ada', 1, 300)).released, true);
  assert.equal(inspect('printer', 300).holder, null);
  const next = write<AcquireResult>(acquire('printer', 'bob', 1000, 400));
  assert.ok(next.granted);
  assert.equal(next.lease.token, 2, 'every new grant gets a larger fencing token');
});

test('the holder renews its lease under the same token, and a renewal never shortens it', () => {
  const { write } = pair();
  write(acquire('printer', 'ada', 1000, 0));
  const renewed = write<AcquireResult>(acquire('printer', 'ada', 1000, 900));
  assert.deepEqual(renewed, {
    granted: true,
    lease: { owner: 'ada', token: 1, expiresAtMs: 1900 },
    atMs: 900,
  });
  const shorter = write<AcquireResult>(acquire('printer', 'ada', 10, 1000));
  assert.deepEqual(shorter, {
    granted: true,
    lease: { owner: 'ada', token: 1, expiresAtMs: 1900 },
    atMs: 1000,
  });
  assert.equal(write<AcquireResult>(acquire('printer', 'bob', 1000, 1500)).granted, false);
});

test('a lease ends once a request carries a later time; a release after that changes nothing', () => {
  const { write, inspect } = pair();
  write(acquire('printer', 'ada', 1000, 0));
  assert.equal(inspect('printer', 999).holder?.owner, 'ada');
  assert.equal(inspect('printer', 1000).holder, null);
  const bob = write<AcquireResult>(acquire('printer', 'bob', 1000, 1000));
  assert.ok(bob.granted);
  assert.deepEqual(write<ReleaseResult>(release('printer', 'ada', 1, 1001)), {
    released: false,
    holder: bob.lease,
    atMs: 1001,
  });
});

test("time never runs backwards: a request with an older clock is decided at the service's time", () => {
  const { write } = pair();
  write(acquire('printer', 'ada', 100, 5000));
  // Bob's clock is behind: at his 4000 the lease (until 5100) would look long over, at 5000 it is not.
  const late = write<AcquireResult>(acquire('printer', 'bob', 100, 4000));
  assert.deepEqual(late, {
    granted: false,
    holder: { owner: 'ada', token: 1, expiresAtMs: 5100 },
    atMs: 5000,
  });
});

test('a backup that applies the updates holds the same state, and a snapshot restores it', () => {
  const { primary, backup, write } = pair();
  write(acquire('printer', 'ada', 1000, 0));
  write(acquire('deploy', 'bob', 50, 10));
  write(acquire('deploy', 'cy', 50, 100)); // bob's lease ran out
  write(release('printer', 'ada', 1, 120));
  assert.deepEqual(backup.snapshot(), primary.snapshot());
  const restored = new LockService();
  restored.restore(primary.snapshot());
  assert.deepEqual(restored.snapshot(), primary.snapshot());
  assert.equal(
    decodeTrusted<LockState>(restored.query(encode({ op: 'inspect', lock: 'deploy', nowMs: 120 }))).holder
      ?.owner,
    'cy',
  );
});

test('malformed requests and reads sent as writes are refused, never crash the replica', () => {
  const lock = new LockService();
  const refusals: [Uint8Array, string, RegExp][] = [
    [new TextEncoder().encode('not json'), 'BAD_REQUEST', /JSON/],
    [encode({ op: 'acquire', lock: 'x', owner: 'ada', leaseMs: 0, nowMs: 1 }), 'BAD_REQUEST', /leaseMs/],
    [encode({ op: 'acquire', lock: '', owner: 'ada', leaseMs: 10, nowMs: 1 }), 'BAD_REQUEST', /lock must be/],
    [new TextEncoder().encode('{"op":"steal","lock":"x","nowMs":1}'), 'UNKNOWN_OPERATION', /steal/],
    [encode({ op: 'inspect', lock: 'x', nowMs: 1 }), 'BAD_REQUEST', /inspect is a read/],
  ];
  for (const [bytes, code, message] of refusals) {
    assert.throws(
      () => lock.execute(bytes),
      (error: unknown) => isServiceError(error) && error.code === code && message.test(error.message),
    );
  }
  assert.throws(
    () => lock.query(encode(acquire('x', 'ada', 10, 1))),
    (error: unknown) => isServiceError(error) && /acquire is a write/.test(error.message),
  );
});
