// Your own service: a custom state machine replicated in-process through the package's public
// entry (and reached in memory by a client in the primary's process), and by the `understudy` command
// with --service; a replica of another service refused with
// who runs what (by the coordinator, by its peers, and by a data directory of another service);
// and a bad module stopping the command before anything runs.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CoordinatorServer, ReplicaServer, ReplicatedClient, RequestRefusedError } from '../../src/index.js';
import { dial, transportCounters } from '../../src/transport/index.js';
import createCounter, { service as counterService } from '../fixtures/counter-service.js';
import {
  type RunningProcess,
  replicaHello,
  runCli,
  startOnFreePorts,
  startProcess,
  stop,
  waitFor,
} from './harness.js';

const counterModule = fileURLToPath(new URL('../fixtures/counter-service.js', import.meta.url));
const root = mkdtempSync(path.join(tmpdir(), 'understudy-service-'));
after(() => rmSync(root, { recursive: true, force: true }));

const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

test('a custom state machine replicated in-process: ReplicaServer, CoordinatorServer, ReplicatedClient', async () => {
  const directory = path.join(root, 'in-process');
  const coordinator = await CoordinatorServer.start({
    listen: '127.0.0.1:0',
    directory: path.join(directory, 'coordinator'),
    newCluster: true,
  });
  const replicas: ReplicaServer[] = [];
  const client = await ReplicatedClient.connect({ coordinator: coordinator.address, deadlineMs: 20_000 });
  try {
    for (const id of ['r1', 'r2', 'r3']) {
      replicas.push(
        await ReplicaServer.start({
          id,
          listen: '127.0.0.1:0',
          coordinator: coordinator.address,
          directory: path.join(directory, id),
          createStateMachine: createCounter,
          service: counterService,
        }),
      );
    }
    assert.deepEqual(replicas[0]?.service, { name: 'counter', version: 1 });
    await waitFor('a view of three', async () => {
      const { view } = await client.status();
      return view !== null && view.backups.length === 2 ? view : undefined;
    });
    const first = await client.write(encode('add 5'), { durability: 'sync' });
    assert.equal(decode(first.result), '5');
    assert.equal(first.replicas.length, 3);
    const second = await client.write(encode('add 2'), { durability: 'replicated' });
    assert.equal(decode(second.result), '7');
    assert.equal(decode((await client.read(encode('get'))).result), '7');
    // The service's own refusal reaches the client with its code.
    await assert.rejects(client.write(encode('multiply 3')), (error: unknown) => {
      assert.ok(error instanceof RequestRefusedError);
      assert.equal(error.code, 'BAD_REQUEST');
      return true;
    });
    // Code in the primary's process may reach it in memory (as the Redis port does): the same answers.
    const { view } = await client.status();
    const primary = replicas.find((replica) => replica.status().id === view?.primary);
    assert.ok(primary !== undefined, 'the primary runs in this process');
    const linksBefore = transportCounters.localLinksOpen;
    const near = await ReplicatedClient.connect({
      coordinator: coordinator.address,
      deadlineMs: 20_000,
      localLink: primary.localLink,
    });
    try {
      assert.equal(decode((await near.write(encode('add 3'))).result), '10');
      assert.equal(transportCounters.localLinksOpen, linksBefore + 1, 'it went over the in-process link');
      assert.equal(decode((await client.read(encode('get'))).result), '10');
    } finally {
      await near.close();
    }
    assert.equal(transportCounters.localLinksOpen, linksBefore, 'closing the client closed the link');
  } finally {
    await client.close();
    for (const replica of replicas) await replica.close();
    await coordinator.close();
  }
});

describe('a replica of another service never joins', { concurrency: false }, () => {
  test('the coordinator refuses it, naming both services, and its peers refuse it too', async () => {
    const directory = path.join(root, 'mismatch');
    const coordinator = await startProcess([
      'coordinator',
      '--listen',
      '127.0.0.1:0',
      '--dir',
      path.join(directory, 'coordinator'),
      '--new-cluster',
    ]);
    const replica = (id: string, service: readonly string[]) =>
      startProcess([
        'replica',
        '--id',
        id,
        '--listen',
        '127.0.0.1:0',
        '--coordinator',
        coordinator.address,
        '--dir',
        path.join(directory, id),
        ...service,
      ]);
    const r1 = await replica('r1', ['--service', counterModule]);
    const client = await ReplicatedClient.connect({ coordinator: coordinator.address, deadlineMs: 20_000 });
    let r2: RunningProcess | null = null;
    try {
      await waitFor('r1 leading', async () =>
        (await client.status()).view?.primary === 'r1' ? true : undefined,
      );
      const refused = await replica('r2', []); // the key/value store, the default
      r2 = refused;
      const expected =
        'replica r2 runs service "understudy-kv" version 1, but this cluster runs "counter" version 1 ' +
        "(replica r1 ran it first): start r2 with the cluster's service, or give it a cluster of its own";
      await waitFor('r2 to log its refusal', () =>
        refused.stderr().includes(JSON.stringify(expected).slice(1, -1)) ? true : undefined,
      );
      // The coordinator's own line comes through another pipe: r2's may be read first.
      await waitFor('the coordinator to log its refusal', () =>
        /HANDSHAKE_REFUSED: replica r2 runs service/.test(coordinator.stderr()) ? true : undefined,
      );
      // Never reported, so never in a view: the coordinator does not know it at all.
      const status = await client.status();
      assert.deepEqual(
        status.replicas.map((member) => member.id),
        ['r1'],
      );
      assert.deepEqual(status.view?.learners, []);
      // Were the coordinator bypassed, r1 itself refuses a peer of another service.
      const primaryAddress = status.replicas[0]?.address ?? '';
      await assert.rejects(dial(primaryAddress, replicaHello('r2', { name: 'understudy-kv', version: 1 })), {
        name: 'HandshakeError',
        message: /replica r2 runs service "understudy-kv" version 1, but replica r1 runs "counter" version 1/,
      });
      // The counter cluster serves on, r2 or not.
      assert.equal(decode((await client.write(encode('add 1'))).result), '1');
    } finally {
      await client.close();
      // Stopped whatever failed: a process left running keeps the test file from ending.
      if (r2 !== null) await stop(r2);
      await stop(r1);
      await stop(coordinator);
    }
  });

  test("a replica started on another service's data directory refuses to start", async () => {
    const directory = path.join(root, 'directory', 'r1');
    const common = ['replica', '--id', 'r1', '--listen', '127.0.0.1:0', '--coordinator', '127.0.0.1:1'];
    const first = await startProcess([...common, '--dir', directory, '--service', counterModule]);
    await stop(first);
    const second = await runCli([...common, '--dir', directory]);
    assert.equal(second.code, 2, second.stderr);
    assert.match(
      second.stderr,
      /error: BAD_CONFIG: data directory .* holds the data of service "counter" version 1, but this replica runs "understudy-kv" version 1/,
    );
  });
});

describe('a bad service module stops the command before anything runs', () => {
  const modules = path.join(root, 'modules');
  test('replica --service with a missing module, and with no default export', async () => {
    const noDefault = path.join(root, 'no-default.mjs');
    writeFileSync(noDefault, 'export const service = { name: "x", version: 1 };\n');
    for (const [module, message] of [
      ['./no-such-service.js', /service module \.\/no-such-service\.js not found/],
      [noDefault, /has no default export; it must export default a StateMachineFactory/],
    ] as const) {
      const result = await runCli([
        'replica',
        '--id',
        'r1',
        '--listen',
        '127.0.0.1:0',
        '--coordinator',
        '127.0.0.1:1',
        '--dir',
        path.join(modules, 'r1'),
        '--service',
        module,
      ]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
    }
    assert.ok(!existsSync(path.join(modules, 'r1')), 'no data directory was made');
  });

  test('start --service with a module that is not a factory starts no process', async () => {
    const notFactory = path.join(root, 'not-factory.mjs');
    writeFileSync(notFactory, 'export default { execute() {} };\n');
    const result = await runCli(['start', '--dir', path.join(modules, 'cluster'), '--service', notFactory]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /the default export is an object; it must be a StateMachineFactory/);
    assert.doesNotMatch(result.stdout, /listening on/);
    assert.ok(!existsSync(path.join(modules, 'cluster')), 'nothing was started');
  });
});

test('understudy start --service runs a whole cluster of that service', async () => {
  const { child, lines, port, exited } = await startOnFreePorts(2, path.join(root, 'start'), [
    '--service',
    counterModule,
  ]);
  let client: ReplicatedClient | null = null;
  try {
    const hint = lines.find((line) => line.startsWith('try:'));
    assert.match(
      hint ?? '',
      /a ReplicatedClient with coordinator 127\.0\.0\.1:\d+ \(service "counter" version 1\)/,
    );
    client = await ReplicatedClient.connect({ coordinator: `127.0.0.1:${port}`, deadlineMs: 20_000 });
    assert.equal(decode((await client.write(encode('add 3'))).result), '3');
    assert.equal(decode((await client.read(encode('get'))).result), '3');
  } finally {
    await client?.close();
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
  }
  assert.equal(await exited, 0);
});
