// The coordinator on an etcd that asks every client for a certificate (etcd's --client-cert-auth,
// as Kubernetes runs it): one real etcd member on loopback, serving https with a certificate of
// `understudy certs`' CA. The etcd client trusts only the CA it is given and presents the client
// certificate it is given; without one, etcd refuses it, with the reason. A coordinator given
// --etcd-ca, --etcd-cert and --etcd-key is elected there and serves.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateCertificates } from '../../src/certs/generate.js';
import { etcdSkipReason, findEtcd } from '../../src/chaos/etcd-members.js';
import { EtcdClient, EtcdError } from '../../src/node/etcd/etcd-client.js';
import {
  coordinatorLeads,
  freePorts,
  type RunningProcess,
  runCli,
  startProcess,
  stop,
  waitFor,
} from './harness.js';

const skip = etcdSkipReason();

describe('the coordinator on an etcd that asks for client certificates', { skip, concurrency: false }, () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'understudy-etcd-tls-'));
  const certs = path.join(directory, 'certs');
  const file = (name: string) => path.join(certs, name);
  let etcd: ChildProcess | null = null;
  let etcdLog = '';
  let url = '';
  /** What a trusted client of this etcd holds: the CA and the client certificate from the same run. */
  const trustedTls = () => ({
    ca: readFileSync(file('ca.crt')),
    cert: readFileSync(file('client.crt')),
    key: readFileSync(file('client.key')),
  });

  before(async () => {
    await generateCertificates({ directory: certs, replicaIds: [] });
    const [client, peer] = await freePorts(2);
    url = `https://127.0.0.1:${client}`;
    const peerUrl = `http://127.0.0.1:${peer}`;
    etcd = spawn(
      findEtcd() ?? 'etcd',
      [
        '--name',
        'e1',
        '--data-dir',
        path.join(directory, 'e1'),
        '--listen-client-urls',
        url,
        '--advertise-client-urls',
        url,
        '--listen-peer-urls',
        peerUrl,
        '--initial-advertise-peer-urls',
        peerUrl,
        '--initial-cluster',
        `e1=${peerUrl}`,
        // Its own certificate from the same CA (it names 127.0.0.1), and every client must show one.
        '--cert-file',
        file('coordinator.crt'),
        '--key-file',
        file('coordinator.key'),
        '--client-cert-auth',
        '--trusted-ca-file',
        file('ca.crt'),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    etcd.stderr?.on('data', (chunk: Buffer) => {
      etcdLog = (etcdLog + chunk.toString()).slice(-10_000);
    });
    const trusted = new EtcdClient([url], 1000, trustedTls());
    try {
      await waitFor(
        `etcd at ${url} to answer`,
        async () => {
          await trusted.range('probe');
          return true;
        },
        30_000,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\netcd said: ${etcdLog.slice(-2000)}`);
    } finally {
      trusted.close();
    }
  });

  after(async () => {
    if (etcd !== null && etcd.exitCode === null) {
      const exited = new Promise((resolve) => etcd?.once('exit', resolve));
      etcd.kill('SIGKILL');
      await exited;
    }
    rmSync(directory, { recursive: true, force: true });
  });

  test('with the CA and a client certificate a call is answered; without the certificate etcd refuses it', async () => {
    const withCertificate = new EtcdClient([url], 1000, trustedTls());
    const withoutCertificate = new EtcdClient([url], 1000, { ca: trustedTls().ca });
    const withoutCa = new EtcdClient([url], 1000);
    try {
      const { kv, revision } = await withCertificate.range('understudy-tls-test');
      assert.equal(kv, null);
      assert.ok(revision >= 1);
      await assert.rejects(withoutCertificate.range('understudy-tls-test'), (error: unknown) => {
        assert.ok(error instanceof EtcdError);
        assert.match(error.message, /no etcd member answered \/v3\/kv\/range: https:\/\/127\.0\.0\.1:\d+: /);
        return true;
      });
      // The system does not trust this CA: the certificate of etcd is not accepted, and the call says why.
      await assert.rejects(withoutCa.range('understudy-tls-test'), /certificate/i);
    } finally {
      withCertificate.close();
      withoutCertificate.close();
      withoutCa.close();
    }
  });

  test('a coordinator given --etcd-ca, --etcd-cert and --etcd-key is elected and serves', async () => {
    let coordinator: RunningProcess | null = null;
    try {
      coordinator = await startProcess([
        'coordinator',
        '--listen',
        '127.0.0.1:0',
        '--etcd',
        url,
        '--etcd-ca',
        file('ca.crt'),
        '--etcd-cert',
        file('client.crt'),
        '--etcd-key',
        file('client.key'),
        '--etcd-lease-seconds',
        '2',
        '--new-cluster',
      ]);
      const address = coordinator.address;
      await waitFor(
        'the coordinator to lead on etcd over TLS',
        async () => ((await coordinatorLeads(address)) ? true : undefined),
        30_000,
      );
    } finally {
      if (coordinator !== null) await stop(coordinator);
    }
  });

  test('the etcd TLS flags: a certificate without its key, no --etcd, an unreadable file or no https:// URL is a usage error', async () => {
    const coordinator = ['coordinator', '--listen', '127.0.0.1:0'];
    const refusals: readonly (readonly [readonly string[], RegExp])[] = [
      [['--etcd', url, '--etcd-cert', file('client.crt')], /--etcd-cert and --etcd-key go together/],
      [
        ['--dir', path.join(directory, 'coordinator'), '--etcd-ca', file('ca.crt')],
        /--etcd-ca is for reaching etcd: it needs --etcd/,
      ],
      [
        ['--etcd', url, '--etcd-ca', path.join(directory, 'no-such-ca.crt')],
        /--etcd-ca .*no-such-ca\.crt: ENOENT/,
      ],
      // TLS settings with only http:// members: refused at start, and the process ends (it once stayed up).
      [
        ['--etcd', url.replace('https:', 'http:'), '--etcd-ca', file('ca.crt')],
        /etcd TLS settings are for https:\/\/ URLs, and --etcd gives none/,
      ],
    ];
    for (const [args, message] of refusals) {
      const result = await runCli([...coordinator, ...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
  });
});
