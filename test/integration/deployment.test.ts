// The three-machine deployment of docs/OPERATIONS.md ("Three machines, step by step"), on loopback:
// etcd with TLS (its certificate from `understudy certs`, trusted through NODE_EXTRA_CA_CERTS), two
// coordinators on it and three replicas, every one with mutual TLS, the credentials file and the
// cluster secret; the CLI with the CA and a token. Writes read back through the CLI, the leading
// coordinator is killed and the cluster serves on, and a client without a token is refused.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { etcdSkipReason, findEtcd } from '../../src/chaos/etcd-members.js';
import { spawnServer } from '../../src/cli/server-spawn.js';
import { freePorts, type RunningProcess, runCli, startProcess, stop, waitFor } from './harness.js';

const skip = etcdSkipReason();

describe('the documented deployment: etcd with TLS, coordinators and replicas with TLS, tokens and the secret', {
  skip,
  concurrency: false,
}, () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'understudy-deployment-'));
  const pki = path.join(directory, 'pki');
  const file = (name: string) => path.join(pki, name);
  let etcd: ChildProcess | null = null;
  const coordinators: RunningProcess[] = [];
  const replicas: RunningProcess[] = [];
  let coordinatorList = '';
  let appToken = '';
  let cli: (args: string[]) => ReturnType<typeof runCli>;

  before(async () => {
    assert.equal((await runCli(['certs', '--out', pki, '--ids', 'r1,r2,r3'])).code, 0);
    const tokenLines: string[] = [];
    for (const [name, admin] of [
      ['app1', false],
      ['ops', true],
    ] as const) {
      const made = await runCli([
        'token',
        name,
        '--out',
        file(`${name}.token`),
        ...(admin ? ['--admin'] : []),
      ]);
      assert.equal(made.code, 0, made.stderr);
      const digest = /"(sha256:[0-9a-f]{64})"/.exec(made.stdout)?.[1];
      assert.ok(digest !== undefined, made.stdout);
      tokenLines.push(digest);
    }
    writeFileSync(
      file('auth.json'),
      JSON.stringify({ clients: { app1: tokenLines[0] }, admins: { ops: tokenLines[1] } }),
    );
    writeFileSync(file('cluster.secret'), 'a-secret-of-this-cluster-only\n', { mode: 0o600 });
    appToken = readFileSync(file('app1.token'), 'utf8').trim();

    // One etcd member serving TLS with the coordinator's certificate (valid for 127.0.0.1).
    const [clientPort, peerPort] = await freePorts(2);
    const etcdUrl = `https://127.0.0.1:${clientPort}`;
    etcd = spawnServer(
      findEtcd() ?? 'etcd',
      [
        '--name',
        'e1',
        '--data-dir',
        path.join(directory, 'etcd'),
        '--listen-client-urls',
        etcdUrl,
        '--advertise-client-urls',
        etcdUrl,
        '--listen-peer-urls',
        `http://127.0.0.1:${peerPort}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${peerPort}`,
        '--initial-cluster',
        `e1=http://127.0.0.1:${peerPort}`,
        '--cert-file',
        file('coordinator.crt'),
        '--key-file',
        file('coordinator.key'),
      ],
      { stdio: 'ignore' },
    );
    const tls = ['--tls-ca', file('ca.crt')];
    const access = ['--auth-file', file('auth.json'), '--cluster-secret-file', file('cluster.secret')];
    for (let number = 0; number < 2; number += 1) {
      coordinators.push(
        await startProcess(
          [
            'coordinator',
            '--listen',
            '127.0.0.1:0',
            '--etcd',
            etcdUrl,
            '--etcd-lease-seconds',
            '2',
            ...tls,
            '--tls-cert',
            file('coordinator.crt'),
            '--tls-key',
            file('coordinator.key'),
            ...access,
            '--new-cluster',
          ],
          { NODE_EXTRA_CA_CERTS: file('ca.crt') },
        ),
      );
    }
    coordinatorList = coordinators.map((running) => running.address).join(',');
    for (const id of ['r1', 'r2', 'r3']) {
      replicas.push(
        await startProcess([
          'replica',
          '--id',
          id,
          '--listen',
          '127.0.0.1:0',
          '--dir',
          path.join(directory, id),
          '--coordinator',
          coordinatorList,
          ...tls,
          '--tls-cert',
          file(`${id}.crt`),
          '--tls-key',
          file(`${id}.key`),
          ...access,
        ]),
      );
    }
    cli = (args) =>
      runCli([...args, '--coordinator', coordinatorList, ...tls, '--token-file', file('app1.token')]);
  });

  after(async () => {
    for (const running of [...replicas, ...coordinators]) await stop(running);
    if (etcd !== null && etcd.exitCode === null) {
      const exited = new Promise((resolve) => etcd?.once('exit', resolve));
      etcd.kill('SIGKILL');
      await exited;
    }
    rmSync(directory, { recursive: true, force: true });
  });

  test('writes read back; the leading coordinator dies and the cluster serves on; no token, no entry', async () => {
    const whole = async () =>
      waitFor(
        'a primary and two backups',
        async () => {
          const status = await cli(['status', '--json']);
          const view = JSON.parse(status.stdout).view as { backups: string[] } | null;
          return status.code === 0 && view !== null && view.backups.length === 2 ? view : undefined;
        },
        60_000,
      );
    await whole();
    const put = await cli(['put', 'hello', 'world']);
    assert.equal(put.code, 0, put.stderr);
    assert.match((await cli(['get', 'hello'])).stdout, /world/);

    const leader = await waitFor('the leading coordinator', () =>
      coordinators.find((running) => running.stderr().includes('elected the leading coordinator')),
    );
    await stop(leader);
    const second = await waitFor(
      'the other coordinator to lead',
      async () => {
        const written = await cli(['put', 'after', 'failover']);
        return written.code === 0 ? written : undefined;
      },
      60_000,
    );
    assert.equal(second.code, 0);
    assert.match((await cli(['get', 'hello'])).stdout, /world/);
    assert.match((await cli(['get', 'after'])).stdout, /failover/);

    const anonymous = await runCli([
      'get',
      'hello',
      '--coordinator',
      coordinatorList,
      '--tls-ca',
      file('ca.crt'),
    ]);
    assert.notEqual(anonymous.code, 0);
    assert.match(anonymous.stderr, /UNAUTHENTICATED/);
    // The token never shows in what the servers logged.
    for (const running of [...coordinators, ...replicas]) {
      assert.ok(!running.stderr().includes(appToken.slice(appToken.indexOf('.') + 1)), 'no token in any log');
    }
  });
});
