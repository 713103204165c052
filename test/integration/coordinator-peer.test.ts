// Another coordinator of the cluster may dial the leader, as a standby's Sentinel port does
// (node/leader-status.ts): it proves membership as replicas do (the cluster secret here), may ask for
// the status and hand over a SENTINEL FAILOVER, and nothing else; without the secret it is refused at
// the handshake.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { generateCertificates } from '../../src/certs/generate.js';
import { CoordinatorServer } from '../../src/node/coordinator-server.js';
import { createLogger } from '../../src/node/logger.js';
import type { Hello } from '../../src/protocol/messages.js';
import { makeToken, parseCredentials } from '../../src/transport/auth.js';
import {
  ClusterSecret,
  dial,
  PROTOCOL_VERSION,
  parseStatusReply,
  parseSwitchoverReply,
} from '../../src/transport/index.js';

const secret = 'a-cluster-secret-of-enough-length';
const coordinatorHello = (credential?: string): Hello => ({
  type: 'hello',
  clusterId: 'understudy',
  protocolVersion: PROTOCOL_VERSION,
  peer: { kind: 'coordinator' },
  ...(credential === undefined ? {} : { credential }),
});

/** The next message `connection` receives, or null once it closed. */
function next(connection: Awaited<ReturnType<typeof dial>>): Promise<unknown> {
  return new Promise((resolve) => {
    connection.onMessage = (message) => resolve(message);
    connection.onClose = () => resolve(null);
  });
}

test('a coordinator peer with the cluster secret may ask the status and hand over a switchover, and nothing else', async () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'understudy-coordinator-peer-'));
  const coordinator = await CoordinatorServer.start({
    listen: '127.0.0.1:0',
    directory,
    newCluster: true,
    clusterSecret: new ClusterSecret([secret]),
    logger: createLogger({ level: 'silent' }),
  });
  try {
    await assert.rejects(dial(coordinator.address, coordinatorHello()), {
      name: 'HandshakeError',
      message: /a coordinator did not bring this cluster's secret/,
    });
    await assert.rejects(dial(coordinator.address, coordinatorHello('not-the-cluster-secret')), {
      name: 'HandshakeError',
    });

    const peer = await dial(coordinator.address, coordinatorHello(secret));
    const answer = next(peer);
    peer.send({ type: 'status_request', id: 7 });
    const status = parseStatusReply(await answer);
    assert.equal(status.id, 7);
    assert.deepEqual(status.replicas, [], 'no replica has reported yet');

    // A switchover a standby's Sentinel port took (SENTINEL FAILOVER) is handed over: the core answers.
    const refusal = next(peer);
    peer.send({ type: 'switchover_request', id: 8, to: 'r2' });
    const answered = parseSwitchoverReply(await refusal);
    assert.equal(answered.id, 8);
    assert.equal(answered.ok, false);
    assert.equal(answered.message, 'there is no view yet', 'the core refused it: no replica has reported');

    // A forget is an operator's alone, with a client's (admin) token: a coordinator peer is closed for it.
    const closed = next(peer);
    peer.send({ type: 'forget_request', id: 9, replica: 'r2' });
    assert.equal(await closed, null);
  } finally {
    await coordinator.close();
    rmSync(directory, { recursive: true, force: true });
  }
});

test("on mutual TLS a coordinator peer proves itself by a coordinator's certificate, not a replica's", async () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'understudy-coordinator-peer-tls-'));
  const certificates = path.join(directory, 'certs');
  await generateCertificates({ directory: certificates, replicaIds: ['r1'] });
  const pem = (name: string) => readFileSync(path.join(certificates, name));
  const as = (member: string) => ({
    ca: pem('ca.crt'),
    cert: pem(`${member}.crt`),
    key: pem(`${member}.key`),
  });
  const coordinator = await CoordinatorServer.start({
    listen: '127.0.0.1:0',
    directory: path.join(directory, 'state'),
    newCluster: true,
    tls: as('coordinator'),
    logger: createLogger({ level: 'silent' }),
  });
  try {
    const expectPeer = { kind: 'coordinator' } as const;
    await assert.rejects(dial(coordinator.address, coordinatorHello(), { tls: as('r1'), expectPeer }), {
      name: 'HandshakeError',
    });
    const peer = await dial(coordinator.address, coordinatorHello(), { tls: as('coordinator'), expectPeer });
    const answer = next(peer);
    peer.send({ type: 'status_request', id: 3 });
    assert.equal(parseStatusReply(await answer).id, 3);
    peer.close();
  } finally {
    await coordinator.close();
    rmSync(directory, { recursive: true, force: true });
  }
});

test('with tokens asked but no cluster secret or TLS, a coordinator peer proves nothing: its switchover is refused', async () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'understudy-coordinator-peer-tokens-'));
  const { digest } = makeToken('ops');
  const coordinator = await CoordinatorServer.start({
    listen: '127.0.0.1:0',
    directory,
    newCluster: true,
    credentials: parseCredentials(JSON.stringify({ admins: { ops: digest } }), 'test credentials'),
    logger: createLogger({ level: 'silent' }),
  });
  try {
    // Anyone may say it is a coordinator here: a switchover would skip the admin token.
    const peer = await dial(coordinator.address, coordinatorHello());
    const answer = next(peer);
    peer.send({ type: 'switchover_request', id: 4, to: 'r2' });
    const refused = parseSwitchoverReply(await answer);
    assert.equal(refused.ok, false);
    assert.match(
      refused.message,
      /coordinators prove themselves to each other only with a cluster secret or TLS/,
    );
    peer.close();
  } finally {
    await coordinator.close();
    rmSync(directory, { recursive: true, force: true });
  }
});
