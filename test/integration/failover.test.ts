// Real processes on 127.0.0.1: crashes with kill -9, restarts from disk, failover under load.

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { parseReplicaLog } from '../../src/chaos/replica-logs.js';
import { Client } from '../../src/client/index.js';
import { ConfigError } from '../../src/errors.js';
import { viewLogMessages } from '../../src/node/view-log.js';
import type { ReplicaId } from '../../src/protocol/types.js';
import { kvOperation } from '../../src/state-machine/index.js';
import { LocalCluster, runCli, stop, waitFor } from './harness.js';

describe('a cluster of real processes', { concurrency: false }, () => {
  let cluster: LocalCluster;

  before(async () => {
    cluster = await LocalCluster.start(3);
  });

  after(async () => {
    await cluster.close();
  });

  test('key/value operations read back what was written', async () => {
    const client = await cluster.client();
    const put = await client.put('greeting', 'hello');
    assert.equal(put.durability, 'sync');
    assert.equal(put.replicas.length, 3);
    assert.equal(await client.getText('greeting'), 'hello');
    const appended = await client.append('greeting', ', world');
    assert.equal(appended.length, 'hello, world'.length);
    assert.equal(await client.getText('greeting'), 'hello, world');
    assert.equal((await client.incr('counter', 5)).value, 5);
    assert.equal((await client.incr('counter', -2)).value, 3);
    assert.equal((await client.cas('greeting', 'nope', 'x')).swapped, false);
    assert.equal((await client.cas('greeting', 'hello, world', 'swapped')).swapped, true);
    assert.equal(await client.getText('greeting'), 'swapped');
    await client.delete('greeting');
    assert.equal(await client.getText('greeting'), null);
    const asyncPut = await client.put('fast', 'yes', { durability: 'async' });
    assert.equal(asyncPut.durability, 'async');
    assert.equal(await client.getText('fast'), 'yes');
  });

  test('a sequence runs its operations in order as one log entry; a sequence of reads reads, at any member if asked', async () => {
    const client = await cluster.client();
    const bytes = (text: string) => Buffer.from(text, 'utf8');
    const first = await client.put('seq:warm', '1');
    const { outcomes, write } = await client.sequence(
      [
        kvOperation.put(bytes('seq:n'), bytes('40')),
        kvOperation.incr(bytes('seq:n'), 2),
        kvOperation.incr(bytes('seq:word')),
        kvOperation.append(bytes('seq:word'), bytes('x')),
        kvOperation.incr(bytes('seq:word')),
        kvOperation.getMany([bytes('seq:n'), bytes('seq:word')]),
      ],
      { durability: 'replicated' },
    );
    assert.deepEqual(
      outcomes.map((outcome) => (outcome.ok ? outcome.result : outcome.code)),
      [
        { kind: 'put', existed: false },
        { kind: 'incr', value: 42 },
        { kind: 'incr', value: 1 },
        { kind: 'append', length: 2 },
        'NOT_AN_INTEGER',
        { kind: 'get-many', values: [new Uint8Array(bytes('42')), new Uint8Array(bytes('1x'))] },
      ],
    );
    assert.equal(write?.durability, 'replicated');
    assert.equal(write?.index, first.index + 1, 'six operations, one log entry');
    const reads = [kvOperation.get(bytes('seq:n')), kvOperation.lengths([bytes('seq:word')])];
    const read = await client.sequence(reads, { read: 'any', readYourWrites: true });
    assert.equal(read.write, null);
    assert.deepEqual(
      read.outcomes.map((outcome) => (outcome.ok ? outcome.result : outcome.code)),
      [
        { kind: 'get', value: new Uint8Array(bytes('42')) },
        { kind: 'lengths', lengths: [2] },
      ],
    );
    const { result } = await client.execute(kvOperation.get(bytes('seq:word')));
    assert.deepEqual(result, { kind: 'get', value: new Uint8Array(bytes('1x')) });
    // A caller without types may pass anything: a clear error, and nothing sent.
    await assert.rejects(
      client.sequence([kvOperation.get(bytes('a')), { kind: 'drop-table' } as never]),
      (error: unknown) =>
        error instanceof ConfigError && /operation 2 is not a key\/value operation/.test(error.message),
    );
    await assert.rejects(client.execute(null as never), ConfigError);
  });

  test('understudy append prints the new length in bytes, and get the whole value', async () => {
    const coordinator = ['--coordinator', cluster.coordinatorAddress];
    const first = await runCli(['append', 'cli-log', 'héllo', ...coordinator]);
    assert.deepEqual([first.code, first.stdout], [0, '6\n'], first.stderr); // "é" takes two bytes
    const second = await runCli(['append', 'cli-log', ' world', '--json', ...coordinator]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal((JSON.parse(second.stdout) as { length: unknown }).length, 12);
    const read = await runCli(['get', 'cli-log', ...coordinator]);
    assert.deepEqual([read.code, read.stdout], [0, 'héllo world\n'], read.stderr);
  });

  test('kill -9 of the primary under a running client: a backup takes over and nothing acknowledged is lost', async () => {
    const client = await cluster.client();
    const before = await cluster.waitForView((view) => view.backups.length === 2);
    const acknowledged: string[] = [];
    let lastLength = 0;
    let running = true;
    const writer = (async () => {
      for (let number = 0; running && number < 5_000; number++) {
        const token = `t${number};`;
        lastLength = (await client.append('log', token)).length;
        acknowledged.push(token);
      }
    })();
    await waitFor('some writes', () => (acknowledged.length >= 50 ? true : undefined));
    await cluster.kill(before.primary);
    const after = await cluster.waitForView((view) => view.primary !== before.primary);
    assert.ok(before.backups.includes(after.primary), 'the new primary was a backup');
    const countAtFailover = acknowledged.length;
    await waitFor('writes after failover', () =>
      acknowledged.length >= countAtFailover + 50 ? true : undefined,
    );
    running = false;
    await writer;
    const final = (await client.getText('log')) ?? '';
    const tokens = final
      .split(';')
      .filter((token) => token !== '')
      .map((token) => `${token};`);
    for (const token of acknowledged) assert.ok(tokens.includes(token), `acknowledged ${token} is readable`);
    assert.equal(new Set(tokens).size, tokens.length, 'no append was applied twice');
    // The only writer appended one token at a time: its last answer counts the whole value.
    assert.equal(lastLength, Buffer.byteLength(final), 'the last append reported the final length');
    // Bring the old primary back: it rejoins as a learner and becomes a backup again.
    await cluster.startReplica(before.primary);
    await cluster.waitForView((view) => view.backups.includes(before.primary));
  });

  test('kill -9 of a backup: it is removed and writes go on; restarted, it becomes a backup again', async () => {
    const client = await cluster.client();
    const before = await cluster.waitForView((view) => view.backups.length === 2);
    const victim = before.backups[0] ?? '';
    await cluster.kill(victim);
    await client.put('during', 'outage');
    const removed = await cluster.waitForView((view) => !view.backups.includes(victim));
    assert.equal(removed.primary, before.primary);
    for (let number = 0; number < 20; number++) await client.incr('while-down');
    await cluster.startReplica(victim);
    await cluster.waitForView((view) => view.backups.includes(victim));
    const status = await client.status();
    const primary = status.replicas.find((replica) => replica.id === before.primary);
    const rejoined = status.replicas.find((replica) => replica.id === victim);
    assert.ok(primary !== undefined && rejoined !== undefined);
    await waitFor('the rejoined backup to hold the whole log', async () => {
      const latest = await client.status();
      const a = latest.replicas.find((replica) => replica.id === before.primary)?.durableIndex;
      const b = latest.replicas.find((replica) => replica.id === victim)?.durableIndex;
      return a !== undefined && a === b ? true : undefined;
    });
    assert.equal((await client.incr('while-down', 0)).value, 20);
  });

  test('every process killed and restarted from disk: no acknowledged write is lost', async () => {
    const client = await cluster.client();
    const written = new Map<string, string>();
    for (let number = 0; number < 100; number++) {
      await client.put(`durable-${number}`, `value-${number}`);
      written.set(`durable-${number}`, `value-${number}`);
    }
    await client.close();
    const ids = [...cluster.replicas.keys()];
    for (const id of ids) await cluster.kill(id);
    if (cluster.coordinator !== null) await stop(cluster.coordinator);
    await cluster.startCoordinator();
    for (const id of ids) await cluster.startReplica(id);
    await cluster.waitForView((view) => view.backups.length === ids.length - 1, 60_000);
    const reader = await cluster.client();
    for (const [key, value] of written) assert.equal(await reader.getText(key), value, key);
  });
});

describe('a wiped data directory (issue 6, hole 2)', { concurrency: false }, () => {
  let cluster: LocalCluster;

  before(async () => {
    cluster = await LocalCluster.start(3);
  });

  after(async () => {
    await cluster.close();
  });

  test('a backup wiped and restarted at once is never promoted with its empty log, even when it is the last one running', async () => {
    const client = await cluster.client();
    await client.put('k', 'kept');
    const view = await cluster.waitForView((candidate) => candidate.backups.length === 2);
    const [wiped, other] = view.backups as readonly [ReplicaId, ReplicaId];
    await cluster.kill(wiped);
    rmSync(cluster.replicaDirectory(wiped), { recursive: true, force: true });
    await cluster.startReplica(wiped); // back within the failure timeout, with an empty directory
    await cluster.kill(view.primary);
    await cluster.kill(other);
    // Well past a failover: the only replica running holds nothing, so nothing may be answered.
    const prober = await Client.connect({ coordinator: cluster.coordinatorAddress, deadlineMs: 3_000 });
    try {
      await assert.rejects(prober.getText('k'), 'an empty replica must not answer "key not found"');
    } finally {
      await prober.close();
    }
    await cluster.startReplica(other);
    await cluster.waitForView((candidate) => candidate.primary === other, 60_000);
    // From the coordinator's own record of every view, not a poll of the current one: a poll can
    // land after the wiped replica caught up (one key) and became a backup of the same primary.
    const views = parseReplicaLog(cluster.coordinator?.stderr() ?? '')
      .filter((line) => line.message === viewLogMessages.viewChange)
      .map(({ fields }) => fields as { view: number; primary: string; backups: string[] })
      .filter((change) => change.view > view.number);
    assert.ok(
      views.every((change) => change.primary !== wiped),
      'the wiped replica never leads',
    );
    const led = views.find((change) => change.primary === other);
    assert.ok(led !== undefined, `a view led by ${other}: ${JSON.stringify(views)}`);
    assert.ok(!led.backups.includes(wiped), 'the wiped replica rejoins as a learner first');
    assert.equal(await client.getText('k'), 'kept');
  });
});
