// Every coordinator's Sentinel port answers, on the etcd home: a standby names the primary the
// leader's status names (node/leader-status.ts), as every Sentinel of a Redis deployment does. Some
// clients ask only the first Sentinel they reach (Lettuce, so Spring Data Redis, fails with "Cannot
// provide redisAddress using sentinel" on nil), so each step asks one port, once the cluster settled,
// and expects an answer: the standby before and after a kill -9 of the primary (its subscribers get
// +switch-master too), then the other port once the leading coordinator was killed. Each lists the
// other in SENTINEL SENTINELS (from etcd), and a killed one drops out of the list with its lease. A
// SENTINEL FAILOVER the standby takes is handed to the leader.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { EtcdMembers, etcdSkipReason } from '../../src/chaos/etcd-members.js';
import { coordinatorLeads, freePorts, type RunningProcess, startOnEtcd, stop, waitFor } from './harness.js';

const clusterId = 'sentinel-etcd';

/** A connection to a Sentinel port that does not retry: a refused one is an error, not a wait. */
function sentinelClient(port: number): Redis {
  const redis = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  redis.on('error', () => {});
  return redis;
}

/** What the Sentinel port at `port` names as the primary, asked once on a fresh connection. */
async function masterAt(port: number): Promise<[string, string] | null> {
  const redis = sentinelClient(port);
  try {
    await redis.connect();
    return (await redis.call('SENTINEL', 'get-master-addr-by-name', clusterId)) as [string, string] | null;
  } finally {
    redis.disconnect();
  }
}

/** A Sentinel reply's flat field/value list, by field. */
function fieldMap(flat: readonly string[]): Map<string, string> {
  const fields = new Map<string, string>();
  for (let at = 0; at + 1 < flat.length; at += 2) fields.set(flat[at] as string, flat[at + 1] as string);
  return fields;
}

/** SENTINEL MASTERS at `port`: the one master's fields (none while it names no master). */
async function masterFieldsAt(port: number): Promise<Map<string, string>> {
  const redis = sentinelClient(port);
  try {
    await redis.connect();
    const [master = []] = (await redis.call('SENTINEL', 'masters')) as string[][];
    return fieldMap(master);
  } finally {
    redis.disconnect();
  }
}

/** SENTINEL SENTINELS at `port`: each peer's fields. */
async function sentinelsAt(port: number): Promise<Map<string, string>[]> {
  const redis = sentinelClient(port);
  try {
    await redis.connect();
    const peers = (await redis.call('SENTINEL', 'sentinels', clusterId)) as string[][];
    return peers.map(fieldMap);
  } finally {
    redis.disconnect();
  }
}

function redisPortOf(running: RunningProcess | undefined): string {
  const match = /Redis protocol on \S+:(\d+)/.exec(running?.stdout() ?? '');
  assert(match?.[1] !== undefined, 'the replica printed its Redis address');
  return match[1];
}

describe("every coordinator's Sentinel port names the primary (etcd home)", {
  skip: etcdSkipReason(),
}, () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'understudy-sentinel-etcd-'));
  let etcd: EtcdMembers;
  const coordinators: RunningProcess[] = [];
  const sentinelPorts: number[] = [];
  const replicas = new Map<string, RunningProcess>();
  const subscribers: Redis[] = [];

  before(async () => {
    etcd = await EtcdMembers.start(path.join(directory, 'etcd'), 3);
    sentinelPorts.push(...(await freePorts(2)));
    await startOnEtcd(
      {
        endpoints: etcd.endpoints,
        clusterId,
        coordinatorCount: sentinelPorts.length,
        directory,
        coordinatorFlags: (index) => ['--sentinel', `127.0.0.1:${sentinelPorts[index]}`],
        replicaFlags: ['--resp', '127.0.0.1:0'],
      },
      coordinators,
      replicas,
    );
  });

  after(async () => {
    for (const redis of subscribers) redis.disconnect();
    for (const running of [...replicas.values(), ...coordinators]) await stop(running);
    await etcd?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  /** The index of the coordinator that leads now. */
  const leaderIndex = () =>
    waitFor('a coordinator to lead', async () => {
      for (const [at, running] of coordinators.entries()) {
        if (running.child.exitCode === null && (await coordinatorLeads(running.address, clusterId)))
          return at;
      }
      return undefined;
    });

  /** What the Sentinel port at `port` names, once it names a primary. */
  const primaryPortAt = (port: number) =>
    waitFor(`the Sentinel port ${port} to name a primary`, async () => (await masterAt(port)) ?? undefined);

  test("a standby's Sentinel port names the leader's primary, and announces its failover", async () => {
    const leader = await leaderIndex();
    const standbyPort = sentinelPorts[1 - leader] as number;
    const leaderPort = sentinelPorts[leader] as number;
    const settled = await waitFor('the leader to name a primary with two backups', async () => {
      const fields = await masterFieldsAt(leaderPort);
      return fields.get('num-slaves') === '2' ? fields : undefined;
    });
    const primaryPort = settled.get('port') as string;
    // The standby answers what the leader answers (one poll later), then at once, every time.
    await waitFor('the standby to answer as the leader', async () => {
      const fields = await masterFieldsAt(standbyPort);
      return fields.get('port') === primaryPort && fields.get('num-slaves') === '2' ? true : undefined;
    });
    for (let ask = 0; ask < 5; ask += 1) {
      assert.deepEqual(await masterAt(standbyPort), ['127.0.0.1', primaryPort], `ask ${ask} of the standby`);
    }
    assert.equal((await masterFieldsAt(standbyPort)).get('name'), clusterId);

    // A subscriber of the standby hears the failover the leader decides.
    const subscriber = sentinelClient(standbyPort);
    subscribers.push(subscriber);
    await subscriber.connect();
    const switches: string[] = [];
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === '+switch-master') switches.push(message);
    });
    await subscriber.subscribe('+switch-master');
    const primaryId = [...replicas].find(([, running]) => redisPortOf(running) === primaryPort)?.[0];
    assert.ok(primaryId !== undefined, 'the named port is a replica of this test');
    await stop(replicas.get(primaryId) as RunningProcess);
    const announced = await waitFor('+switch-master from the standby', () => switches.at(-1));
    const [name, oldIp, oldPort, newIp, newPort] = announced.split(' ');
    assert.deepEqual([name, oldIp, oldPort, newIp], [clusterId, '127.0.0.1', primaryPort, '127.0.0.1']);
    assert.notEqual(newPort, primaryPort);
    const survivors = [...replicas]
      .filter(([id]) => id !== primaryId)
      .map(([, running]) => redisPortOf(running));
    assert.ok(
      survivors.includes(newPort as string),
      `+switch-master names ${newPort}, a live replica's port`,
    );
    assert.deepEqual(await masterAt(standbyPort), ['127.0.0.1', newPort]);
  });

  test('each lists the other as its peer Sentinel (SENTINEL SENTINELS), from etcd', async () => {
    for (const [at, port] of sentinelPorts.entries()) {
      const other = sentinelPorts[1 - at] as number;
      const peers = await waitFor(`port ${port} to list port ${other}`, async () => {
        const listed = await sentinelsAt(port);
        return listed.length === 1 && listed[0]?.get('port') === String(other) ? listed : undefined;
      });
      assert.equal(peers[0]?.get('ip'), '127.0.0.1');
      assert.match(peers[0]?.get('runid') ?? '', /^[0-9a-f]{40}$/);
      assert.equal(peers[0]?.get('flags'), 'sentinel');
    }
  });

  test('SENTINEL FAILOVER at the standby is handed to the leader, and answered OK once the backup leads', async () => {
    const leader = await leaderIndex();
    const standbyPort = sentinelPorts[1 - leader] as number;
    const before = await waitFor('the standby to name a primary with a live backup', async () => {
      const fields = await masterFieldsAt(standbyPort);
      return fields.get('port') !== undefined && fields.get('num-slaves') !== '0' ? fields : undefined;
    });
    const redis = sentinelClient(standbyPort);
    try {
      await redis.connect();
      assert.equal(await redis.call('SENTINEL', 'FAILOVER', clusterId), 'OK');
    } finally {
      redis.disconnect();
    }
    // Answered once the leader said it was done: the leader names the backup now, the standby a poll later.
    const leaderNames = await masterAt(sentinelPorts[leader] as number);
    assert.ok(
      leaderNames !== null && leaderNames[1] !== before.get('port'),
      'the leader names the new primary',
    );
    await waitFor('the standby to name the new primary', async () =>
      (await masterAt(standbyPort))?.[1] === leaderNames[1] ? true : undefined,
    );
    assert.match(
      (coordinators[leader] as RunningProcess).stderr(),
      /"by":"SENTINEL FAILOVER at a standby coordinator".*"message":"switchover requested"/,
    );
  });

  test('once the leading coordinator is killed, the other port, now leading, still names the primary', async () => {
    const leader = await leaderIndex();
    const named = await primaryPortAt(sentinelPorts[leader] as number);
    await stop(coordinators[leader] as RunningProcess);
    const other = sentinelPorts[1 - leader] as number;
    // The killed one's entry goes with its etcd lease.
    await waitFor('the survivor to list no peer', async () =>
      (await sentinelsAt(other)).length === 0 ? true : undefined,
    );
    // Until its lease ran out the old leader's status stands: the other port may go silent (nil)
    // for that while, then names the primary again, as leader.
    await waitFor('the other coordinator to lead', async () =>
      (await coordinatorLeads((coordinators[1 - leader] as RunningProcess).address, clusterId))
        ? true
        : undefined,
    );
    await waitFor('the new leader to name the primary', async () =>
      (await masterAt(other))?.[1] === named[1] ? true : undefined,
    );
  });
});
