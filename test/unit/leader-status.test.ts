// A standby coordinator's copy of the leader's status (node/leader-status.ts), against a fake leader
// on loopback: answered once asked, listeners told when the primary's Redis address changes (not on
// every poll), and nothing answered once the leader has been silent for the staleness bound, or
// while there is no leader to ask.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LeaderStatus } from '../../src/node/leader-status.js';
import { createLogger } from '../../src/node/logger.js';
import { replicaId } from '../../src/protocol/types.js';
import { PROTOCOL_VERSION } from '../../src/transport/index.js';
import { clusterId, fakeCoordinator } from './client-fake-cluster.js';

async function until<T>(what: string, probe: () => T | null | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test("a standby answers from the leader's status while it hears it, and from nothing after", async () => {
  const leader = await fakeCoordinator([
    { id: 'r1', address: '127.0.0.1:1', role: 'primary', redisAddress: '127.0.0.1:6379' },
    { id: 'r2', address: '127.0.0.1:2', role: 'backup', redisAddress: '127.0.0.1:6380' },
  ]);
  let leaderAddress: string | null = leader.listener.address;
  const staleMs = 400;
  const follower = new LeaderStatus({
    leader: () => leaderAddress,
    hello: { type: 'hello', clusterId, protocolVersion: PROTOCOL_VERSION, peer: { kind: 'coordinator' } },
    dialOptions: { timeoutMs: 2_000 },
    pollMs: 20,
    staleMs,
    logger: createLogger({ level: 'silent' }),
  });
  let told = 0;
  follower.onChange(() => {
    told += 1;
  });
  try {
    const first = await until('the first status', () => follower.status());
    assert.equal(first.view?.primary, 'r1');
    assert.equal(first.replicas.find((row) => row.id === 'r1')?.redisAddress, '127.0.0.1:6379');
    const asked = leader.asked.count;
    await until('more polls', () => (leader.asked.count >= asked + 5 ? true : null));
    assert.equal(told, 1, 'told once: the polls after it named the same view and primary');

    // The primary moves: the next reply tells the listeners.
    const [r1, r2] = leader.members;
    assert.ok(r1 !== undefined && r2 !== undefined);
    r1.role = 'backup';
    r2.role = 'primary';
    await until('the new primary', () => (follower.status()?.view?.primary === 'r2' ? true : null));
    assert.equal(told, 2);

    // The leader goes silent: its last status is answered for the staleness bound, then nothing.
    // Taken before the close, which a busy machine may drag out past the last answer.
    const silentSince = Date.now();
    await leader.listener.close();
    await until('the status to go stale', () => (follower.status() === null ? true : null), 5_000);
    assert.ok(Date.now() - silentSince >= staleMs - 100, 'not before the bound');

    // No leader to ask (this process leads, or none is elected): nothing.
    leaderAddress = null;
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(follower.status(), null);
  } finally {
    follower.close();
    await leader.listener.close();
  }
});

test('a switchover handed to the leader is answered as the leader answers, or refused saying why', async () => {
  const leader = await fakeCoordinator([
    { id: 'r1', address: '127.0.0.1:1', role: 'primary', redisAddress: '127.0.0.1:6379' },
    { id: 'r2', address: '127.0.0.1:2', role: 'backup', redisAddress: '127.0.0.1:6380' },
  ]);
  let leaderAddress: string | null = null;
  const follower = new LeaderStatus({
    leader: () => leaderAddress,
    hello: { type: 'hello', clusterId, protocolVersion: PROTOCOL_VERSION, peer: { kind: 'coordinator' } },
    dialOptions: { timeoutMs: 2_000 },
    pollMs: 20,
    staleMs: 2_000,
    logger: createLogger({ level: 'silent' }),
  });
  try {
    // No leader known: refused at once, saying so.
    const alone = await follower.switchover(replicaId('r2'));
    assert.match(alone?.message ?? '', /stands by and no leading coordinator is known/);

    leaderAddress = leader.listener.address;
    await until('the first status', () => follower.status());
    const asked: number[] = [];
    leader.onSwitchover = (request, connection) => {
      asked.push(request.id);
      // Done with the first; the second refused.
      const ok = asked.length === 1;
      connection.send({
        type: 'switchover_reply',
        id: request.id,
        ok,
        message: ok ? 'r2 leads' : 'r2 is not alive',
        view: null,
      });
    };
    assert.equal(await follower.switchover(replicaId('r2')), null, 'done: nothing to refuse');
    const refused = await follower.switchover(replicaId('r2'));
    assert.deepEqual(refused, { ok: false, to: 'r2', message: 'r2 is not alive', view: null });

    // The leader goes away before it answers: the caller hears it may still happen.
    leader.onSwitchover = (_request, connection) => connection.close();
    const cut = await follower.switchover(replicaId('r2'));
    assert.match(cut?.message ?? '', /closed before it answered; the switchover may still happen/);
  } finally {
    follower.close();
    await leader.listener.close();
  }
});
