// The lock service on real processes, under contention and `kill -9`: four clients keep acquiring,
// holding, renewing and releasing two locks, while the primary is killed (by its process id) twice;
// each time a backup takes over and the clients carry on. Afterwards the history of what every
// client was told must show no lock held by two owners at once (lease-history.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { findLeaseViolations, type Grant, type ReleaseAttempt } from '../src/lease-history.js';
import type { LockClient } from '../src/lock-client.js';
import { LockCluster, waitFor } from './cluster.js';

const locks = ['printer', 'deploy'] as const;
const leaseChoicesMs = [200, 400, 800] as const;
const owners = ['ada', 'bob', 'cy', 'dee'] as const;
const failovers = 2;
/** Grants to wait for before each kill, and after each failover. */
const grantsPerPhase = 15;

interface History {
  readonly grants: Grant[];
  readonly releases: ReleaseAttempt[];
  refusals: number;
  unknown: number;
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

/** One client's loop: acquire, hold (sometimes past the lease), maybe renew, release or let it run out. */
async function contend(
  client: LockClient,
  owner: string,
  clock: { last: number },
  history: History,
  running: () => boolean,
) {
  while (running()) {
    const lock = pick(locks);
    const leaseMs = pick(leaseChoicesMs);
    let result: Awaited<ReturnType<LockClient['acquire']>>;
    try {
      result = await client.acquire(lock, { owner, leaseMs });
    } catch {
      history.unknown += 1; // outcome unknown, or no primary in time: the client never believed it held it
      continue;
    }
    if (!result.granted) {
      history.refusals += 1;
      await sleep(Math.max(5, Math.min(result.holder.expiresAtMs - Date.now(), 20 + Math.random() * 80)));
      continue;
    }
    history.grants.push({ lock, lease: result.lease, atMs: result.atMs });
    await sleep(Math.random() * leaseMs * 0.6);
    if (Math.random() < 0.3) {
      try {
        const renewed = await client.acquire(lock, { owner, leaseMs });
        if (renewed.granted) history.grants.push({ lock, lease: renewed.lease, atMs: renewed.atMs });
      } catch {
        history.unknown += 1;
      }
    }
    await sleep(Math.random() * leaseMs * 0.6);
    if (Math.random() < 0.2) continue; // let the lease run out
    const { token } = result.lease;
    try {
      const released = await client.release(lock, { owner, token });
      history.releases.push({ lock, owner, token, sentAtMs: clock.last, released: released.released });
    } catch {
      history.releases.push({ lock, owner, token, sentAtMs: clock.last, released: null });
    }
  }
}

test('kill -9 of the primary, twice, under contention: no lock is ever granted to two owners at once', async (t) => {
  const cluster = await LockCluster.start(3);
  const history: History = { grants: [], releases: [], refusals: 0, unknown: 0 };
  let running = true;
  let workers: Promise<void>[] = [];
  try {
    const clients = await Promise.all(
      owners.map(async (owner) => {
        // The time each request carries, kept so that a release is recorded with its own.
        const clock = { last: 0 };
        return { owner, clock, client: await cluster.client({ now: () => (clock.last = Date.now()) }) };
      }),
    );
    workers = clients.map(({ owner, clock, client }) =>
      contend(client, owner, clock, history, () => running),
    );
    for (let round = 1; round <= failovers; round++) {
      const before = await cluster.waitForView((view) => view.backups.length === 2);
      const grantsAtStart = history.grants.length;
      await waitFor('grants before the kill', () =>
        history.grants.length >= grantsAtStart + grantsPerPhase ? true : undefined,
      );
      await cluster.kill(before.primary);
      const after = await cluster.waitForView(
        (view) => view.primary !== before.primary && view.number > before.number,
      );
      assert.ok(before.backups.includes(after.primary), 'a backup took over');
      const grantsAtKill = history.grants.length;
      await waitFor('grants after the failover', () =>
        history.grants.length >= grantsAtKill + grantsPerPhase ? true : undefined,
      );
      await cluster.startReplica(before.primary); // back from its disk, as a learner, then a backup
    }
    running = false;
    await Promise.all(workers);
    const reader = await cluster.client();
    for (const lock of locks) assert.equal((await reader.inspect(lock)).lock, lock);
    t.diagnostic(
      `${history.grants.length} grants, ${history.refusals} refusals, ${history.releases.length} releases, ` +
        `${history.unknown} requests without an answer`,
    );
    assert.deepEqual(findLeaseViolations(history.grants, history.releases), []);
    assert.ok(history.refusals > 0, 'the clients contended: some acquires were refused');
    assert.ok(history.grants.length >= 2 * failovers * grantsPerPhase);
  } finally {
    running = false;
    await Promise.allSettled(workers);
    await cluster.close();
  }
});
