// Separate hosts on one machine (issue 10, item 5): the coordinator and each replica run in a network
// namespace of their own, with their own address, joined by a bridge (test/integration/netns.ts); the
// test's client reaches them through the bridge as a client on another machine would. A host is cut
// off by taking its link down, as a pulled cable: the process keeps running, its connections go
// silent instead of closing. Across those hosts, failover, rejoin and state transfer must hold the
// promise: every acknowledged write reads back, once.
// Needs root and iproute2 (CI has both); elsewhere the suite is skipped and says why.

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { countStorageEvents, parseReplicaLog } from '../../src/chaos/replica-logs.js';
import { Client } from '../../src/client/index.js';
import { UnavailableError } from '../../src/errors.js';
import type { View } from '../../src/protocol/types.js';
import { type RunningProcess, startProcess, stop, waitFor } from './harness.js';
import {
  NAMESPACE_PREFIX,
  NamespaceNetwork,
  type NetworkHost,
  namespacesUnavailable,
  removeLeftoverNamespaces,
} from './netns.js';

/** Every host has its own port space: each server listens on this port at its own address. */
const SERVER_PORT = 7400;
/** Small, so that snapshots compact the log and a new replica needs a state transfer. */
const SNAPSHOT_LOG_BYTES = 4096;
/** Writes acknowledged before a fault, and again after it, before the writer stops. */
const WRITES_PER_PHASE = 60;

const unavailable = namespacesUnavailable();

describe('separate hosts: the coordinator and each replica in a network namespace of its own', {
  concurrency: false,
  skip: unavailable === undefined ? false : `cannot make network namespaces: ${unavailable}`,
}, () => {
  let directory = '';
  let network: NamespaceNetwork | null = null;
  const hosts = new Map<string, NetworkHost>();
  const servers = new Map<string, RunningProcess>();
  const clients: Client[] = [];
  let coordinatorAddress = '';
  /** Every append the writer got an answer for, in order, and the keys it put. */
  const acknowledgedTokens: string[] = [];
  const acknowledgedKeys: string[] = [];
  /** The replica the failover test cut off, for the rejoin test. */
  let isolated = '';

  const host = (name: string): NetworkHost => {
    const found = hosts.get(name);
    assert.ok(found !== undefined, `no host ${name}`);
    return found;
  };

  /** A new host named `name`, and the server `args(host)` running inside it. */
  const startServer = async (
    name: string,
    args: (where: NetworkHost) => string[],
  ): Promise<RunningProcess> => {
    assert.ok(network !== null);
    const where = await network.addHost(name);
    hosts.set(name, where);
    const running = await startProcess(args(where), {}, network.launcher(where));
    servers.set(name, running);
    return running;
  };

  /**
   * A replica on a new host, listening on its host's address; or, `everyInterface`, on 0.0.0.0 with
   * `--advertise` naming the address other hosts dial (docs/OPERATIONS.md, "A machine cut off").
   */
  const startReplica = (id: string, { everyInterface = false } = {}): Promise<RunningProcess> =>
    startServer(id, (where) => [
      'replica',
      '--id',
      id,
      ...(everyInterface
        ? ['--listen', `0.0.0.0:${SERVER_PORT}`, '--advertise', `${where.address}:${SERVER_PORT}`]
        : ['--listen', `${where.address}:${SERVER_PORT}`]),
      '--coordinator',
      coordinatorAddress,
      '--dir',
      path.join(directory, id),
      '--snapshot-log-bytes',
      String(SNAPSHOT_LOG_BYTES),
    ]);

  const connect = async (): Promise<Client> => {
    const client = await Client.connect({ coordinator: coordinatorAddress, deadlineMs: 20_000 });
    clients.push(client);
    return client;
  };

  const waitForView = async (condition: (view: View) => boolean, timeoutMs = 30_000): Promise<View> => {
    const client = await connect();
    return waitFor(
      'a view',
      async () => {
        const { view } = await client.status();
        return view !== null && condition(view) ? view : undefined;
      },
      timeoutMs,
    );
  };

  /** Appends a unique token and puts a key of its own per round, until stopped; any failure rejects. */
  const startWriter = (client: Client) => {
    let running = true;
    const done = (async () => {
      while (running) {
        const number = acknowledgedKeys.length;
        const token = `t${number};`;
        await client.append('log', token);
        acknowledgedTokens.push(token);
        await client.put(`key-${number}`, `value-${number}`);
        acknowledgedKeys.push(`key-${number}`);
      }
    })();
    return {
      /** Resolves once `count` more rounds were acknowledged; rejects if the writer failed first. */
      async rounds(count: number): Promise<void> {
        const target = acknowledgedKeys.length + count;
        await Promise.race([
          waitFor(`${count} acknowledged writes`, () =>
            acknowledgedKeys.length >= target ? true : undefined,
          ),
          done.then(() => {
            throw new Error('the writer stopped');
          }),
        ]);
      },
      async stop(): Promise<void> {
        running = false;
        await done;
      },
    };
  };

  /** Reads everything the writer was told was written, and checks each was applied exactly once. */
  const assertEveryWriteReadsBack = async (client: Client): Promise<void> => {
    const tokens = ((await client.getText('log')) ?? '')
      .split(';')
      .filter((token) => token !== '')
      .map((token) => `${token};`);
    assert.deepEqual(tokens, acknowledgedTokens, 'every acknowledged append once, in order');
    const values = await client.getMany(acknowledgedKeys);
    for (const [index, key] of acknowledgedKeys.entries()) {
      const value = values[index];
      assert.equal(
        value === null || value === undefined ? null : Buffer.from(value).toString(),
        `value-${index}`,
        key,
      );
    }
  };

  before(async () => {
    directory = mkdtempSync(path.join(tmpdir(), 'understudy-netns-'));
    network = await NamespaceNetwork.create();
    const coordinator = await startServer('coordinator', (where) => [
      'coordinator',
      '--listen',
      `${where.address}:${SERVER_PORT}`,
      '--dir',
      path.join(directory, 'coordinator'),
      '--new-cluster',
    ]);
    coordinatorAddress = coordinator.address;
    for (const id of ['r1', 'r2', 'r3']) await startReplica(id);
  });

  after(async () => {
    for (const client of clients) await client.close();
    for (const running of servers.values()) await stop(running);
    if (network !== null) await network.close();
    if (directory !== '') rmSync(directory, { recursive: true, force: true });
  });

  test('each server listens at its own host’s address, and the cluster forms across the bridge', async () => {
    const view = await waitForView((candidate) => candidate.backups.length === 2);
    assert.equal(coordinatorAddress, `${host('coordinator').address}:${SERVER_PORT}`);
    const { replicas } = await (await connect()).status();
    for (const id of ['r1', 'r2', 'r3']) {
      const replica = replicas.find((candidate) => candidate.id === id);
      assert.equal(replica?.address, `${host(id).address}:${SERVER_PORT}`, `${id} is at its own host`);
    }
    assert.ok([view.primary, ...view.backups].sort().join() === 'r1,r2,r3');
  });

  test('the primary’s link goes down: a backup takes over, writes go on, and every acknowledged one reads back once', async () => {
    const client = await connect();
    const before = await waitForView((view) => view.backups.length === 2);
    const writer = startWriter(client);
    try {
      await writer.rounds(WRITES_PER_PHASE);
      assert.ok(network !== null);
      await network.linkDown(host(before.primary));
      const after = await waitForView((view) => view.primary !== before.primary);
      assert.ok(before.backups.includes(after.primary), 'the new primary was a backup');
      assert.ok(!after.backups.includes(before.primary), 'the cut-off primary is no backup of the new view');
      await writer.rounds(WRITES_PER_PHASE);
    } finally {
      await writer.stop();
    }
    await assertEveryWriteReadsBack(client);
    isolated = before.primary;
  });

  test('its link comes back: the old primary rejoins, catches up, and holds new writes', async () => {
    assert.ok(network !== null && isolated !== '');
    const returning = isolated;
    await network.linkUp(host(returning));
    const view = await waitForView((candidate) => candidate.backups.some((id) => id === returning));
    const client = await connect();
    const put = await client.put('after-rejoin', 'yes');
    assert.ok(
      put.replicas.includes(returning),
      `the rejoined replica holds a new write (${put.replicas.join()})`,
    );
    await waitFor('the rejoined replica to hold the whole log', async () => {
      const { replicas } = await client.status();
      const primary = replicas.find((replica) => replica.id === view.primary)?.durableIndex;
      const rejoined = replicas.find((replica) => replica.id === returning)?.durableIndex;
      return primary !== undefined && primary === rejoined ? true : undefined;
    });
    await assertEveryWriteReadsBack(client);
  });

  test('the coordinator’s link goes down: the primary stops answering once its lease runs out, and serves again when the link is back', async () => {
    assert.ok(network !== null);
    // Connected before the cut: it knows the primary, and gives up on a read after a second.
    const impatient = await Client.connect({ coordinator: coordinatorAddress, deadlineMs: 1000 });
    clients.push(impatient);
    assert.equal(await impatient.getText('after-rejoin'), 'yes');
    await network.linkDown(host('coordinator'));
    const refusal = await waitFor('the primary to stop answering', async () => {
      try {
        await impatient.getText('after-rejoin');
        return undefined; // still within its lease
      } catch (error) {
        return error;
      }
    });
    assert.ok(
      refusal instanceof UnavailableError,
      `a read without a lease is unavailable: ${String(refusal)}`,
    );
    await network.linkUp(host('coordinator'));
    const client = await connect();
    await waitFor('a read to be answered again', async () =>
      (await impatient.getText('after-rejoin')) === 'yes' ? true : undefined,
    );
    await client.put('after-coordinator-cut', 'yes');
    await assertEveryWriteReadsBack(client);
  });

  test('a replica on a new host (listening on every interface, advertising its address) gets the state by transfer and, with every other replica cut off, serves every key', async () => {
    assert.ok(network !== null);
    const client = await connect();
    await waitFor('a snapshot that compacted the log', async () => {
      const { replicas } = await client.status();
      return replicas.every((replica) => replica.snapshotIndex > 0) ? true : undefined;
    });
    const newcomer = await startReplica('r4', { everyInterface: true });
    await waitForView((view) => view.backups.some((id) => id === 'r4'), 60_000);
    const advertised = (await client.status()).replicas.find((replica) => replica.id === 'r4')?.address;
    assert.equal(
      advertised,
      `${host('r4').address}:${SERVER_PORT}`,
      'r4 is known by the address it advertises',
    );
    const events = countStorageEvents(parseReplicaLog(newcomer.stderr()));
    assert.ok(events.transfersCompleted >= 1, 'r4 received a snapshot from the primary');
    // Cut every other replica off: r4 alone holds the state the client reads.
    for (const id of ['r1', 'r2', 'r3']) await network.linkDown(host(id));
    await waitForView((view) => view.primary === 'r4' && view.backups.length === 0);
    await assertEveryWriteReadsBack(client);
    assert.equal(await client.getText('after-rejoin'), 'yes');
    assert.equal(await client.getText('after-coordinator-cut'), 'yes');
  });

  test('what a crashed run left behind (its namespaces and what runs in them) is removed by the next', async () => {
    // A namespace named as a run whose process is gone names it, with a process still inside.
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    assert.ok(gone !== undefined);
    const leftover = `${NAMESPACE_PREFIX}${gone}-0badc0-r9`;
    execFileSync('ip', ['netns', 'add', leftover]);
    const inside = spawn(
      'ip',
      ['netns', 'exec', leftover, process.execPath, '-e', 'setTimeout(() => {}, 60_000)'],
      {
        stdio: 'ignore',
      },
    );
    const exited = new Promise((resolve) => inside.once('exit', resolve));
    await waitFor('the process to run inside the namespace', () =>
      execFileSync('ip', ['netns', 'pids', leftover]).toString().trim() !== '' ? true : undefined,
    );
    const removed = await removeLeftoverNamespaces();
    assert.ok(removed.includes(leftover), `removed: ${removed.join()}`);
    await exited; // killed by its pid
    const names = execFileSync('ip', ['netns', 'list']).toString();
    assert.ok(!names.includes(leftover));
    // This run's own namespaces stay: their owner is alive.
    assert.ok(names.includes(host('r4').namespace));
  });
});
