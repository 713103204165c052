// The dashboard reads the replicas' /metrics over HTTPS when they serve it with --admin-tls, trusting
// the cluster's CA only: the latency chart works on a TLS cluster, and another CA's server is refused.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { AdminServer, textType } from '../../src/admin/admin-server.js';
import { httpsMetricsFetcher } from '../../src/admin/dashboard/write-latency-scraper.js';
import { generateCertificates } from '../../src/certs/generate.js';

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
  const fetchMetrics = httpsMetricsFetcher(5_000, readFileSync(path.join(ours, 'ca.crt')));
  assert.equal(await fetchMetrics(server.address), metricsText);
});

test('a server whose certificate another CA signed is refused', async () => {
  const fetchMetrics = httpsMetricsFetcher(5_000, readFileSync(path.join(theirs, 'ca.crt')));
  await assert.rejects(fetchMetrics(server.address), /self.signed|unable to verify|certificate/i);
});
