// Rotating a cluster's certificates without a restart: every member starts trusting two CAs and
// presenting a certificate of the first; its files are replaced by the second CA's, and SIGHUP makes
// each process serve and dial with them. A client that trusts only the new CA is refused before and
// served after; once the old CA is dropped too, a failover (new connections between the members,
// each checked against the new CA alone) still commits writes, and the failed member rejoins (the
// running ones dial it with their reloaded certificates). A key that does not match its
// certificate changes nothing and ends no process.

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '../../src/client/index.js';
import { LocalCluster, type RunningProcess, runCli, waitFor } from './harness.js';

const directory = mkdtempSync(path.join(tmpdir(), 'understudy-tls-reload-'));
const oldCa = path.join(directory, 'old');
const newCa = path.join(directory, 'new');
/** What the processes read: a CA bundle, and each member's certificate and key. */
const live = path.join(directory, 'live');
const members = ['coordinator', 'r1', 'r2', 'r3'];

function memberTls(name: string): string[] {
  return [
    '--tls-ca',
    path.join(live, 'ca.crt'),
    '--tls-cert',
    path.join(live, `${name}.crt`),
    '--tls-key',
    path.join(live, `${name}.key`),
  ];
}

function install(from: string, name: string): void {
  copyFileSync(path.join(from, `${name}.crt`), path.join(live, `${name}.crt`));
  copyFileSync(path.join(from, `${name}.key`), path.join(live, `${name}.key`));
}

describe('certificates reloaded on SIGHUP', { concurrency: false }, () => {
  let cluster: LocalCluster;
  const clients: Client[] = [];

  /** A client that trusts only the new CA. */
  const newCaClient = async (): Promise<Client> => {
    const client = await Client.connect({
      coordinator: cluster.coordinatorAddress,
      deadlineMs: 5_000,
      tls: { ca: readFileSync(path.join(newCa, 'ca.crt')) },
    });
    clients.push(client);
    return client;
  };

  const servers = (): RunningProcess[] =>
    [cluster.coordinator, ...cluster.replicas.values()].filter(
      (running): running is RunningProcess => running !== null,
    );

  const hangUp = async (phrase: string, running = servers()): Promise<void> => {
    const count = (text: string) => text.split(phrase).length - 1;
    const before = running.map((server) => count(server.stderr()));
    for (const server of running) server.child.kill('SIGHUP');
    await waitFor(`every server logged "${phrase}"`, () =>
      running.every((server, at) => count(server.stderr()) > (before[at] ?? 0)) ? true : undefined,
    );
  };

  before(async () => {
    for (const out of [oldCa, newCa]) {
      const written = await runCli(['certs', '--out', out, '--ids', 'r1,r2,r3']);
      assert.equal(written.code, 0, written.stderr);
    }
    mkdirSync(live);
    const bundle = [oldCa, newCa].map((from) => readFileSync(path.join(from, 'ca.crt'), 'utf8')).join('');
    writeFileSync(path.join(live, 'ca.crt'), bundle);
    for (const name of members) install(oldCa, name);
    cluster = await LocalCluster.start(
      3,
      (id) => [...memberTls(id), '--log-level', 'info'],
      [...memberTls('coordinator'), '--log-level', 'info'],
      { ca: bundle },
    );
  });

  after(async () => {
    for (const client of clients) await client.close();
    await cluster.close();
    rmSync(directory, { recursive: true, force: true });
  });

  test('a client of the new CA is refused until SIGHUP, then served; a failover after the old CA is dropped commits', async () => {
    await assert.rejects(newCaClient(), 'the servers still present the old CA’s certificates');

    for (const name of members) install(newCa, name);
    await hangUp('reloaded the certificates');
    const client = await newCaClient();
    await client.put('rotated', 'yes');
    assert.equal(await client.getText('rotated'), 'yes');

    // Only the new CA from now on: a member still presenting an old certificate would be refused.
    copyFileSync(path.join(newCa, 'ca.crt'), path.join(live, 'ca.crt'));
    await hangUp('reloaded the certificates');
    const before = await cluster.waitForView(() => true);
    await cluster.kill(before.primary);
    const after = await cluster.waitForView(
      (view) => view.number > before.number && view.backups.length === 1,
    );
    assert.notEqual(after.primary, before.primary);
    await client.put('after failover', 'committed');
    assert.equal(await client.getText('after failover'), 'committed');

    // The old primary's new process has only the new CA's files: the running members must dial it
    // with their reloaded certificates for it to catch up and count again.
    await cluster.startReplica(before.primary);
    await cluster.waitForView((view) => view.backups.length === 2 && view.backups.includes(before.primary));
    await client.put('rejoined', 'yes');
    assert.equal(await client.getText('rejoined'), 'yes');
  });

  test('a key that does not match its certificate changes nothing, and no process ends', async () => {
    copyFileSync(path.join(oldCa, 'coordinator.key'), path.join(live, 'coordinator.key'));
    const coordinator = cluster.coordinator;
    assert.ok(coordinator !== null);
    await hangUp('could not be read again', [coordinator]);
    assert.match(coordinator.stderr(), /key values mismatch|KEY_VALUES_MISMATCH|private key/i);
    for (const server of servers()) assert.equal(server.child.exitCode, null, 'SIGHUP ends no server');
    const client = await newCaClient();
    assert.equal(await client.getText('rotated'), 'yes', 'the coordinator still serves the new certificate');
  });
});
