// The dashboard reads the replicas' /metrics over HTTPS when they serve it with --admin-tls, trusting
// the cluster's CA only: the latency chart works on a TLS cluster, and another CA's server is refused.
// A reloaded CA or certificate (SIGHUP) counts from the next connection on, on both sides.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { globalAgent } from 'node:https';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { AdminServer, textType } from '../../src/admin/admin-server.js';
import { httpsMetricsFetcher } from '../../src/admin/dashboard/write-latency-scraper.js';
import { generateCertificates } from '../../src/certs/generate.js';
import { ReloadableTls } from '../../src/transport/index.js';

const directory = mkdtempSync(path.join(tmpdir(), 'understudy-admin-https-'));
const ours = path.join(directory, 'ours');
const theirs = path.join(directory, 'theirs');
const metricsText = 'understudy_request_duration_seconds_count{kind="write"} 3\n';
let server: AdminServer;

before(async () => {
  await generateCertificates({ directory: ours, replicaIds: ['r1'] });
  await generateCertificates({ directory: theirs, replicaIds: ['r1'] });
  server = await AdminServer.start(
    '127.0.0.1:0',
    [{ path: '/metrics', get: () => ({ status: 200, contentType: textType, body: metricsText }) }],
    { tls: { cert: readFileSync(path.join(ours, 'r1.crt')), key: readFileSync(path.join(ours, 'r1.key')) } },
  );
});

after(async () => {
  await server.close();
  rmSync(directory, { recursive: true, force: true });
});

test('a replica admin port served over HTTPS is read with the cluster CA', async () => {
  const fetchMetrics = httpsMetricsFetcher(5_000, { ca: readFileSync(path.join(ours, 'ca.crt')) });
  assert.equal(await fetchMetrics(server.address), metricsText);
});

test('a server whose certificate another CA signed is refused', async () => {
  const fetchMetrics = httpsMetricsFetcher(5_000, { ca: readFileSync(path.join(theirs, 'ca.crt')) });
  await assert.rejects(fetchMetrics(server.address), /self.signed|unable to verify|certificate/i);
});

test('the scrape trusts the CA as it is at each fetch, so a reloaded CA counts at once', async () => {
  const trust = { ca: readFileSync(path.join(theirs, 'ca.crt')) };
  const fetchMetrics = httpsMetricsFetcher(5_000, trust);
  await assert.rejects(fetchMetrics(server.address), /self.signed|unable to verify|certificate/i);
  trust.ca = readFileSync(path.join(ours, 'ca.crt'));
  assert.equal(await fetchMetrics(server.address), metricsText);
});

test('an HTTPS admin port serving reloadable material presents the new certificate once it is replaced', async () => {
  const material = (from: string) => ({
    ca: readFileSync(path.join(from, 'ca.crt')),
    cert: readFileSync(path.join(from, 'r1.crt')),
    key: readFileSync(path.join(from, 'r1.key')),
  });
  const tls = new ReloadableTls(material(ours));
  const reloading = await AdminServer.start(
    '127.0.0.1:0',
    [{ path: '/metrics', get: () => ({ status: 200, contentType: textType, body: metricsText }) }],
    { tls: tls as { readonly cert: Buffer; readonly key: Buffer } },
  );
  try {
    const byOurs = httpsMetricsFetcher(5_000, { ca: material(ours).ca });
    const byTheirs = httpsMetricsFetcher(5_000, { ca: material(theirs).ca });
    assert.equal(await byOurs(reloading.address), metricsText);
    tls.replace(material(theirs));
    // The scrape's connection from before keeps what it negotiated: new connections only.
    globalAgent.destroy();
    assert.equal(await byTheirs(reloading.address), metricsText);
    await assert.rejects(byOurs(reloading.address), /self.signed|unable to verify|certificate/i);
    assert.throws(
      () => tls.replace({ ...material(ours), key: material(theirs).key }),
      /key values mismatch/i,
    );
    assert.equal(await byTheirs(reloading.address), metricsText, 'a mismatched key changed nothing');
  } finally {
    await reloading.close();
  }
});
