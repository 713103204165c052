// A cluster on mutual TLS, from `understudy certs` output used as is: it serves and fails over like
// a plain one, and a replica whose certificate names another member, or comes from another CA, is
// refused by the coordinator, which logs and counts the refusal.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as connectTls } from 'node:tls';
import { LocalCluster, type RunningProcess, runCli, startProcess, stop, waitFor } from './harness.js';

const directory = mkdtempSync(path.join(tmpdir(), 'understudy-tls-'));
const certificates = path.join(directory, 'certs');
const otherCa = path.join(directory, 'other-ca');

function memberTls(name: string, from = certificates): string[] {
  return [
    '--tls-ca',
    path.join(certificates, 'ca.crt'),
    '--tls-cert',
    path.join(from, `${name}.crt`),
    '--tls-key',
    path.join(from, `${name}.key`),
  ];
}

async function metricOf(adminAddress: string, name: string): Promise<number> {
  const text = await (await fetch(`http://${adminAddress}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? Number.NaN);
}

describe('a cluster on mutual TLS', { concurrency: false }, () => {
  let cluster: LocalCluster;
  let coordinatorAdmin = '';

  before(async () => {
    const written = await runCli(['certs', '--out', certificates, '--ids', 'r1,r2,r3,r4']);
    assert.equal(written.code, 0, written.stderr);
    assert.doesNotMatch(written.stdout + written.stderr, /PRIVATE KEY/, 'no key is printed');
    const other = await runCli(['certs', '--out', otherCa, '--ids', 'r4']);
    assert.equal(other.code, 0, other.stderr);
    cluster = await LocalCluster.start(
      3,
      // r1 also serves its Redis and admin ports over TLS, with its own certificate.
      (id) => [
        ...memberTls(id),
        ...(id === 'r1'
          ? ['--resp', '127.0.0.1:0', '--resp-tls', '--admin', '127.0.0.1:0', '--admin-tls']
          : []),
      ],
      [...memberTls('coordinator'), '--admin', '127.0.0.1:0'],
      { ca: readFileSync(path.join(certificates, 'ca.crt')) },
    );
    const match = /admin on http:\/\/(\S+?)\//.exec(cluster.coordinator?.stdout() ?? '');
    coordinatorAdmin = match?.[1] ?? '';
    assert.notEqual(coordinatorAdmin, '', 'the coordinator printed its admin address');
  });

  after(async () => {
    await cluster.close();
    rmSync(directory, { recursive: true, force: true });
  });

  test('understudy certs writes every key with mode 0600, and a certificate per member', () => {
    for (const name of ['ca', 'coordinator', 'client', 'r1', 'r2', 'r3', 'r4']) {
      assert.equal(statSync(path.join(certificates, `${name}.key`)).mode & 0o777, 0o600, `${name}.key`);
      assert.match(readFileSync(path.join(certificates, `${name}.crt`), 'utf8'), /BEGIN CERTIFICATE/);
    }
  });

  test('a server given only some TLS settings, or --admin-tls without them, refuses to start (exit 2)', async () => {
    const replica = [
      'replica',
      '--id',
      'r9',
      '--listen',
      '127.0.0.1:0',
      '--coordinator',
      cluster.coordinatorAddress,
    ];
    const partial = await runCli([
      ...replica,
      '--dir',
      path.join(directory, 'r9'),
      '--tls-ca',
      path.join(certificates, 'ca.crt'),
    ]);
    assert.equal(partial.code, 2, partial.stderr);
    assert.match(partial.stderr, /--tls-ca, --tls-cert and --tls-key go together/);
    const adminTls = await runCli([
      ...replica,
      '--dir',
      path.join(directory, 'r9'),
      '--admin',
      '0',
      '--admin-tls',
    ]);
    assert.equal(adminTls.code, 2, adminTls.stderr);
    assert.match(adminTls.stderr, /--admin-tls serves with this process's certificate/);
  });

  test('writes and reads go through, from the library and from the one-shot commands', async () => {
    const client = await cluster.client();
    const put = await client.put('greeting', 'over tls');
    assert.equal(put.replicas.length, 3, 'every replica holds it: the peer links are up');
    assert.equal(await client.getText('greeting'), 'over tls');
    const tlsFlags = [
      '--coordinator',
      cluster.coordinatorAddress,
      '--tls-ca',
      path.join(certificates, 'ca.crt'),
    ];
    const cliPut = await runCli(['put', 'cli', 'yes', ...tlsFlags]);
    assert.equal(cliPut.code, 0, cliPut.stderr);
    const withClientCertificate = [
      ...tlsFlags,
      '--tls-cert',
      path.join(certificates, 'client.crt'),
      '--tls-key',
      path.join(certificates, 'client.key'),
    ];
    const cliGet = await runCli(['get', 'cli', ...withClientCertificate]);
    assert.deepEqual([cliGet.code, cliGet.stdout], [0, 'yes\n'], cliGet.stderr);
    const plain = await runCli([
      'get',
      'cli',
      '--coordinator',
      cluster.coordinatorAddress,
      '--timeout',
      '1000',
    ]);
    assert.equal(plain.code, 1, 'a plain TCP client cannot talk to a TLS cluster');
  });

  test('the Redis and admin ports of a replica given --resp-tls and --admin-tls speak TLS with the CA', async () => {
    const ca = readFileSync(path.join(certificates, 'ca.crt'));
    const output = cluster.replicas.get('r1')?.stdout() ?? '';
    const resp = /Redis protocol on 127\.0\.0\.1:(\d+)/.exec(output)?.[1];
    const admin = /admin on https:\/\/(127\.0\.0\.1:\d+)\//.exec(output)?.[1];
    assert.ok(resp !== undefined && admin !== undefined, output);
    const socket = connectTls({ host: '127.0.0.1', port: Number(resp), ca });
    socket.write('*1\r\n$4\r\nPING\r\n');
    const [pong] = (await once(socket, 'data')) as [Buffer];
    socket.destroy();
    assert.equal(pong.toString(), '+PONG\r\n');
    const status = await new Promise<number | undefined>((resolve, reject) => {
      httpsGet(`https://${admin}/status`, { ca }, (response) => {
        response.resume();
        resolve(response.statusCode);
      }).on('error', reject);
    });
    assert.equal(status, 200);
  });

  test('kill -9 of the primary: a backup takes over over TLS and nothing acknowledged is lost', async () => {
    const client = await cluster.client();
    const before = await cluster.waitForView((view) => view.backups.length === 2);
    const acknowledged: string[] = [];
    let running = true;
    const writer = (async () => {
      for (let number = 0; running && number < 5_000; number++) {
        const token = `t${number};`;
        await client.append('log', token);
        acknowledged.push(token);
      }
    })();
    await waitFor('some writes', () => (acknowledged.length >= 30 ? true : undefined));
    await cluster.kill(before.primary);
    const after = await cluster.waitForView((view) => view.primary !== before.primary);
    assert.ok(before.backups.includes(after.primary), 'the new primary was a backup');
    const countAtFailover = acknowledged.length;
    await waitFor('writes after failover', () =>
      acknowledged.length >= countAtFailover + 30 ? true : undefined,
    );
    running = false;
    await writer;
    const final = (await client.getText('log')) ?? '';
    for (const token of acknowledged) assert.ok(final.includes(token), `acknowledged ${token} is readable`);
    await cluster.startReplica(before.primary);
    await cluster.waitForView((view) => view.backups.includes(before.primary));
  });

  test("a replica presenting another replica's certificate is refused, logged and counted", async () => {
    const refusedBefore = await metricOf(coordinatorAdmin, 'understudy_tls_identities_refused_total');
    const impostor = await startImpostor('r4', memberTls('r2'));
    try {
      await waitFor('the refusal in the coordinator log', () =>
        cluster.coordinator
          ?.stderr()
          .includes('its certificate names understudy://replica/r2, not understudy://replica/r4')
          ? true
          : undefined,
      );
      const refused = await metricOf(coordinatorAdmin, 'understudy_tls_identities_refused_total');
      assert.ok(refused > refusedBefore, `counted: ${refused} > ${refusedBefore}`);
      const status = await (await cluster.client()).status();
      assert.ok(!status.replicas.some((replica) => replica.id === 'r4'), 'the impostor never joined');
    } finally {
      await stop(impostor);
    }
  });

  test('a replica with a certificate from another CA is refused (its TLS settings given as variables)', async () => {
    const impostor = await startImpostor('r4', [], {
      UNDERSTUDY_TLS_CA: path.join(certificates, 'ca.crt'),
      UNDERSTUDY_TLS_CERT: path.join(otherCa, 'r4.crt'),
      UNDERSTUDY_TLS_KEY: path.join(otherCa, 'r4.key'),
    });
    try {
      await waitFor('the refusal in the coordinator log', () =>
        cluster.coordinator?.stderr().includes("its certificate is not from this cluster's CA")
          ? true
          : undefined,
      );
    } finally {
      await stop(impostor);
    }
  });

  function startImpostor(
    id: string,
    tls: readonly string[],
    env: Readonly<Record<string, string>> = {},
  ): Promise<RunningProcess> {
    return startProcess(
      [
        'replica',
        '--id',
        id,
        '--listen',
        '127.0.0.1:0',
        '--coordinator',
        cluster.coordinatorAddress,
        '--dir',
        path.join(directory, `impostor-${id}-${Date.now()}`),
        ...tls,
      ],
      env,
    );
  }
});
