// The coordinator on etcd, against a real three-member etcd on loopback: one coordinator leads
// (elected through an etcd lease), the others stand by and send replicas and clients on; every state
// write compares the revision its term read, so a deposed leader cannot overwrite its successor; and
// a cluster under load loses no acknowledged write, nor applies one twice, when the leading
// coordinator, then an etcd member, then the primary are killed, and when a leader stopped past its
// lease wakes after a standby took over; and it serves again within seconds each time.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EtcdMembers, etcdSkipReason } from '../../src/chaos/etcd-members.js';
import { Client } from '../../src/client/index.js';
import { NotLeaderError } from '../../src/errors.js';
import { CoordinatorServer } from '../../src/node/coordinator-server.js';
import { EtcdClient } from '../../src/node/etcd/etcd-client.js';
import { EtcdStateHome, etcdKeysOf, LostLeadershipError } from '../../src/node/etcd/etcd-state-home.js';
import { createLogger } from '../../src/node/logger.js';
import { emptyCoordinatorState } from '../../src/protocol/effects.js';
import { dial } from '../../src/transport/index.js';
import { clientHello, coordinatorLeads, type RunningProcess, startOnEtcd, stop, waitFor } from './harness.js';

const skip = etcdSkipReason();
/** With ETCD_TEST_VERBOSE=1, where the long test is, on stderr. */
const note = (what: string) => {
  if (process.env.ETCD_TEST_VERBOSE === '1') process.stderr.write(`${new Date().toISOString()} ${what}\n`);
};
const quiet = createLogger({ level: 'silent' });
describe('the coordinator on etcd', { skip, concurrency: false }, () => {
  let etcd: EtcdMembers;
  const etcdDirectory = mkdtempSync(path.join(tmpdir(), 'understudy-etcd-'));

  before(async () => {
    etcd = await EtcdMembers.start(etcdDirectory, 3);
  });

  /** Starts `count` coordinators of cluster `clusterId` on the test's etcd, then r1..r3 (startOnEtcd). */
  const startCluster = (
    clusterId: string,
    count: number,
    directory: string,
    coordinators: RunningProcess[],
    replicas: Map<string, RunningProcess>,
  ): Promise<string> =>
    startOnEtcd(
      { endpoints: etcd.endpoints, clusterId, coordinatorCount: count, directory },
      coordinators,
      replicas,
    );

  after(async () => {
    await etcd?.close();
    rmSync(etcdDirectory, { recursive: true, force: true });
  });

  test('a state write of a term that no longer leads, or that read an older state, loses its compare', async () => {
    const client = new EtcdClient(etcd.urls);
    const keys = etcdKeysOf('compare-test');
    // No leader key: no term may write.
    const { home: stray } = await EtcdStateHome.open(client, keys, 12345, quiet);
    await assert.rejects(stray.save(emptyCoordinatorState), LostLeadershipError);
    // A term that leads: the leader key created in it names it.
    const lease = await client.grantLease(5);
    const elected = await client.txn(
      [{ key: keys.leader, target: 'CREATE', revision: 0 }],
      [{ key: keys.leader, value: Buffer.from('127.0.0.1:1'), lease: lease.id }],
    );
    assert.ok(elected.succeeded);
    const term = elected.revision;
    const first = await EtcdStateHome.open(client, keys, term, quiet);
    const second = await EtcdStateHome.open(client, keys, term, quiet);
    assert.equal(first.state, null);
    await first.home.save(emptyCoordinatorState);
    // `second` read the state before `first` wrote it: its write must not land.
    await assert.rejects(second.home.save(emptyCoordinatorState), LostLeadershipError);
    await first.home.save(emptyCoordinatorState); // the one that wrote last still may
    await client.revokeLease(lease.id);
    await assert.rejects(first.home.save(emptyCoordinatorState), LostLeadershipError);
  });

  test('one coordinator leads; the others refuse with NOT_LEADER, naming it, and one takes over when it closes', async () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'understudy-etcd-coordinators-'));
    const servers: CoordinatorServer[] = [];
    try {
      for (let number = 0; number < 3; number += 1) {
        servers.push(
          await CoordinatorServer.start({
            listen: '127.0.0.1:0',
            clusterId: 'election-test',
            etcd: { endpoints: etcd.urls, leaseSeconds: 2, pollMs: 100 },
            newCluster: true,
            logger: quiet,
          }),
        );
      }
      const leader = await waitFor('a leader', () => servers.find((server) => server.leading));
      assert.equal(servers.filter((server) => server.leading).length, 1);
      const standby = servers.find((server) => server !== leader) as CoordinatorServer;
      await waitFor('the standby to know the leader', () =>
        standby.inspect().status.problem?.includes(leader.address) === true ? true : undefined,
      );
      const hello = { ...clientHello, clusterId: 'election-test' };
      await assert.rejects(dial(standby.address, hello, { timeoutMs: 2_000 }), (error: unknown) => {
        assert.ok(error instanceof NotLeaderError);
        assert.match(error.message, new RegExp(`the leader is at ${leader.address.replace(/\./g, '\\.')}`));
        return true;
      });
      // A client given every coordinator finds the leader whichever it tries first.
      const list = servers.map((server) => server.address);
      const client = await Client.connect({ coordinator: list.join(','), clusterId: 'election-test' });
      assert.equal((await client.status()).problem, null);
      await client.close();
      await leader.close(); // revokes its lease: a standby takes over at once
      const next = await waitFor('a new leader', () =>
        servers.find((server) => server !== leader && server.leading),
      );
      assert.notEqual(next, leader);
    } finally {
      for (const server of servers) await server.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test('under load, killing the leading coordinator, then the etcd leader, then the primary, then stopping the new leader past its lease, loses no acknowledged write', async () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'understudy-etcd-it-'));
    const coordinators: RunningProcess[] = [];
    const replicas = new Map<string, RunningProcess>();
    let client: Client | null = null;
    let passed = false;
    try {
      const coordinatorList = await startCluster('load-test', 3, directory, coordinators, replicas);
      const connected = await Client.connect({
        coordinator: coordinatorList,
        clusterId: 'load-test',
        deadlineMs: 30_000,
      });
      client = connected;
      const view = async (condition: (view: { primary: string; backups: readonly string[] }) => boolean) =>
        waitFor(
          'a view',
          async () => {
            const status = await connected.status();
            return status.view !== null && condition(status.view) ? status.view : undefined;
          },
          60_000,
        );
      const first = await view((candidate) => candidate.backups.length === 2);

      const acknowledged: string[] = [];
      /** When each acknowledged write was acknowledged (performance.now). */
      const acknowledgedAt: number[] = [];
      let running = true;
      const writer = (async () => {
        for (let number = 0; running; number += 1) {
          const token = `t${number};`;
          try {
            await connected.append('log', token);
            acknowledged.push(token);
            acknowledgedAt.push(performance.now());
          } catch {
            // An outcome unknown is allowed (it may or may not be in the log); it is not acknowledged.
          }
        }
      })();
      /** Waits for `count` more acknowledged writes, over at least `forMs` (a lease of the coordinator's, and more). */
      const progress = async (what: string, count = 30, forMs = 3_000): Promise<void> => {
        const from = acknowledged.length;
        const until = performance.now() + forMs;
        await waitFor(
          `${what}: ${count} writes acknowledged`,
          () => (acknowledged.length >= from + count && performance.now() >= until ? true : undefined),
          60_000,
        );
        note(what);
      };
      const faults: { readonly name: string; readonly at: number }[] = [];
      await progress('before any fault', 30, 0);

      const leaderIndex = await waitFor('the leading coordinator', async () => {
        for (const [index, running] of coordinators.entries())
          if (await coordinatorLeads(running.address, 'load-test')) return index;
        return undefined;
      });
      faults.push({ name: 'the leading coordinator killed', at: performance.now() });
      await stop(coordinators[leaderIndex] as RunningProcess);
      await waitFor('another coordinator to lead', async () => {
        for (const [index, running] of coordinators.entries()) {
          if (index !== leaderIndex && (await coordinatorLeads(running.address, 'load-test'))) return true;
        }
        return undefined;
      });
      await progress('after the leading coordinator was killed');

      faults.push({ name: 'the etcd leader killed', at: performance.now() });
      const etcdLeader = await etcd.leaderName();
      assert.ok(etcdLeader !== null, 'an etcd member leads');
      await etcd.kill(etcdLeader);
      await progress('after the etcd leader was killed');

      const before = await view((candidate) => candidate.backups.length === 2);
      faults.push({ name: 'the primary killed', at: performance.now() });
      await stop(replicas.get(before.primary) as RunningProcess);
      replicas.delete(before.primary);
      const last = await view((candidate) => candidate.primary !== before.primary);
      assert.ok(before.backups.includes(last.primary));
      await progress('after the primary was killed');

      // A stale leader: stopped (SIGSTOP) past its lease, it wakes after a standby took over. It must
      // stand by at once (its lease lapsed on its own clock), granting and writing nothing.
      const stoppedIndex = await waitFor('the leading coordinator', async () => {
        for (const [index, running] of coordinators.entries()) {
          if (index !== leaderIndex && (await coordinatorLeads(running.address, 'load-test'))) return index;
        }
        return undefined;
      });
      const stopped = coordinators[stoppedIndex] as RunningProcess;
      faults.push({ name: 'the leading coordinator stopped and resumed', at: performance.now() });
      stopped.child.kill('SIGSTOP');
      await waitFor('a standby to take over from the stopped leader', async () => {
        for (const [index, running] of coordinators.entries()) {
          if (
            index !== leaderIndex &&
            index !== stoppedIndex &&
            (await coordinatorLeads(running.address, 'load-test'))
          )
            return true;
        }
        return undefined;
      });
      stopped.child.kill('SIGCONT');
      await progress('after the stale leader resumed');
      assert.equal(
        await coordinatorLeads(stopped.address, 'load-test'),
        false,
        'the resumed leader stands by',
      );
      // Its log comes through a pipe, its answer above through a socket: either may be read first.
      await waitFor('the resumed leader to log that it stands by', () =>
        /no longer the leading coordinator/.test(stopped.stderr()) ? true : undefined,
      );

      running = false;
      await writer;
      note('writer stopped');
      const tokens = ((await connected.getText('log')) ?? '').split(';').filter((token) => token !== '');
      const counts = new Map<string, number>();
      for (const token of tokens) counts.set(token, (counts.get(token) ?? 0) + 1);
      const twice = [...counts].filter(([, count]) => count > 1).map(([token]) => token);
      assert.deepEqual(twice, [], 'no write applied twice');
      const lost = acknowledged.filter((token) => !counts.has(token.slice(0, -1)));
      assert.deepEqual(lost, [], 'every acknowledged write reads back');
      // "Serving again within a few seconds": the longest wait between two acknowledged writes from
      // just before each fault to the next one; generous for a loaded test machine.
      const pauses: Record<string, number> = {};
      for (const [index, fault] of faults.entries()) {
        const end = faults[index + 1]?.at ?? Number.POSITIVE_INFINITY;
        const times = acknowledgedAt.filter((at, position) => {
          const next = acknowledgedAt[position + 1] ?? Number.POSITIVE_INFINITY;
          return next >= fault.at && at < end;
        });
        let longest = 0;
        for (let position = 1; position < times.length; position += 1) {
          longest = Math.max(longest, (times[position] as number) - (times[position - 1] as number));
        }
        pauses[fault.name] = Math.round(longest);
      }
      note(`longest pauses in ms: ${JSON.stringify(pauses)}`);
      for (const [fault, pauseMs] of Object.entries(pauses)) {
        assert.ok(
          pauseMs < 10_000,
          `no write acknowledged for ${pauseMs} ms after ${fault}: ${JSON.stringify(pauses)}`,
        );
      }
      assert.ok(first.primary !== '', 'a first view formed');
      passed = true;
    } finally {
      if (!passed) {
        // What each process said, to tell why (their logs go nowhere else).
        for (const [index, running] of coordinators.entries()) {
          process.stderr.write(
            `--- coordinator ${index} (${running.address})\n${running.stderr().slice(-6000)}\n`,
          );
        }
        for (const [id, running] of replicas)
          process.stderr.write(`--- replica ${id}\n${running.stderr().slice(-3000)}\n`);
      }
      await client?.close();
      note('stopping');
      for (const running of replicas.values()) await stop(running);
      for (const running of coordinators) await stop(running);
      note('stopped');
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test("etcd's quorum lost: the cluster stops answering, loses nothing, and serves again once etcd is back", async () => {
    for (const name of etcd.names) if (!etcd.isRunning(name)) await etcd.restart(name);
    const directory = mkdtempSync(path.join(tmpdir(), 'understudy-etcd-quorum-'));
    const clusterId = 'quorum-test';
    const coordinators: RunningProcess[] = [];
    const replicas = new Map<string, RunningProcess>();
    let client: Client | null = null;
    try {
      const coordinatorList = await startCluster(clusterId, 2, directory, coordinators, replicas);
      const connected = await Client.connect({ coordinator: coordinatorList, clusterId, deadlineMs: 2_000 });
      client = connected;
      const acknowledged: string[] = [];
      const write = async (key: string): Promise<boolean> => {
        try {
          await connected.put(key, `value of ${key}`);
          acknowledged.push(key);
          return true;
        } catch {
          return false; // refused or unknown: not acknowledged, so not checked
        }
      };
      await waitFor('a first write', async () => ((await write('before-0')) ? true : undefined), 60_000);
      // The client's short deadline (to see writes stop, below) may cut one on a busy machine: again.
      for (let number = 1; number < 20; number += 1) {
        const key = `before-${number}`;
        await waitFor(key, async () => ((await write(key)) ? true : undefined), 30_000);
      }

      // Two of three members down: no coordinator can renew its etcd lease, so none acts, and the
      // primary's lease runs out with no one to renew it.
      const [first, second] = etcd.names;
      await etcd.kill(first as string);
      await etcd.kill(second as string);
      let attempt = 0;
      await waitFor(
        'writes to stop being acknowledged',
        async () => ((await write(`during-${attempt++}`)) ? undefined : true),
        30_000,
      );
      await etcd.restart(first as string);
      await etcd.restart(second as string);
      await waitFor(
        'writes acknowledged again',
        async () => ((await write('after')) ? true : undefined),
        60_000,
      );

      for (const key of acknowledged) {
        assert.equal(await connected.getText(key), `value of ${key}`, `${key} reads back`);
      }
    } finally {
      await client?.close();
      for (const running of [...replicas.values(), ...coordinators]) await stop(running);
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
