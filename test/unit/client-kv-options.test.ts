// The key/value client's own checks of a write's options: a time to live named twice, or one that is
// no whole number of milliseconds, is a ConfigError before anything is sent, so a caller's mistake
// never reaches the cluster as some other write.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client } from '../../src/client/index.js';
import { ConfigError } from '../../src/errors.js';
import { decodeOperation, type KvOperation } from '../../src/state-machine/kv-operations.js';
import { clusterId, fakeCoordinator, fakeReplica, success } from './client-fake-cluster.js';

async function withClient(
  /** `operations`: the writes the replica received, decoded. */
  body: (client: Client, operations: () => KvOperation[]) => Promise<void>,
): Promise<void> {
  const replica = await fakeReplica(success(1));
  const coordinator = await fakeCoordinator([{ id: 'r1', address: replica.address, role: 'primary' }]);
  const client = await Client.connect({ coordinator: coordinator.listener.address, clusterId });
  try {
    await body(client, () => replica.of('write').map((request) => decodeOperation(request.operation)));
  } finally {
    await client.close();
    await coordinator.listener.close();
    await replica.close();
  }
}

const refused = (message: RegExp) => (error: unknown) => {
  assert(error instanceof ConfigError);
  assert.match(error.message, message);
  return true;
};

test("set's time to live is one of ttlMs, expiresAtMs and keepTtl, each a whole number in range", () =>
  withClient(async (client, operations) => {
    const bad: readonly [Parameters<Client['set']>[2], RegExp][] = [
      [{ ttlMs: 5, keepTtl: true }, /set takes one of ttlMs, expiresAtMs and keepTtl, got ttlMs and keepTtl/],
      [{ ttlMs: 5, expiresAtMs: 5 }, /got ttlMs and expiresAtMs/],
      [{ ttlMs: 0 }, /ttlMs must be a whole number of milliseconds, at least 1; got 0/],
      [{ ttlMs: 1.5 }, /ttlMs must be a whole number .*got 1\.5/],
      [{ ttlMs: '5' as unknown as number }, /ttlMs must be a whole number .*got 5/],
      [{ expiresAtMs: -1 }, /expiresAtMs must be a whole number of milliseconds, at least 0; got -1/],
    ];
    for (const [options, message] of bad) {
      await assert.rejects(
        async () => client.set('k', 'v', options),
        refused(message),
        JSON.stringify(options),
      );
    }
    assert.equal(operations().length, 0);
    // The fake replica echoes each operation back, which is no set result: what counts is that the
    // write was sent.
    await client.set('k', 'v', { ttlMs: 1 }).catch(() => undefined);
    await client.set('k', 'v', { expiresAtMs: 0 }).catch(() => undefined);
    assert.equal(operations().length, 2, 'the least of each range is taken');
  }));

test('getExpire names exactly one of ttlMs, expiresAtMs and persist, and sends the one named', () =>
  withClient(async (client, operations) => {
    await assert.rejects(async () => client.getExpire('k', {}), refused(/exactly one of .* got none/));
    await assert.rejects(
      async () => client.getExpire('k', { ttlMs: 5, persist: true }),
      refused(/got ttlMs and persist/),
    );
    assert.equal(operations().length, 0);
    // The fake replica echoes each operation back, which is no result of getExpire.
    await client.getExpire('k', { ttlMs: 5 }).catch(() => undefined);
    await client.getExpire('k', { expiresAtMs: 7 }).catch(() => undefined);
    await client.getExpire('k', { persist: true }).catch(() => undefined);
    assert.deepEqual(
      operations().map((operation) => (operation.kind === 'get-expire' ? operation.expiry : null)),
      [{ kind: 'after', ms: 5 }, { kind: 'at', ms: 7 }, { kind: 'none' }],
    );
  }));
