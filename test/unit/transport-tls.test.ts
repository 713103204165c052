// The TLS transport on 127.0.0.1 with certificates from `understudy certs`' generator: who may speak
// as whom. The listener refuses a member whose certificate names someone else or comes from another
// CA; the dialler refuses a listener that is not the member it meant to reach.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { generateCertificates } from '../../src/certs/generate.js';
import { ConfigError, HandshakeError } from '../../src/errors.js';
import { commitRulesOf, defaultProtocolConfig } from '../../src/protocol/config.js';
import type { Hello, PeerKind } from '../../src/protocol/messages.js';
import { replicaId } from '../../src/protocol/types.js';
import { transportCounters } from '../../src/transport/counters.js';
import { dial } from '../../src/transport/dial.js';
import { PROTOCOL_VERSION } from '../../src/transport/handshake.js';
import { type Listener, listen } from '../../src/transport/server.js';
import type { TlsMaterial } from '../../src/transport/tls.js';

const clusterId = 'tls-cluster';
const service = { name: 'test', version: 1 };
const directory = mkdtempSync(path.join(tmpdir(), 'understudy-tls-unit-'));
const ours = path.join(directory, 'ours');
const theirs = path.join(directory, 'theirs');

function material(name: string, from = ours): TlsMaterial {
  return {
    ca: readFileSync(path.join(ours, 'ca.crt')),
    cert: readFileSync(path.join(from, `${name}.crt`)),
    key: readFileSync(path.join(from, `${name}.key`)),
  };
}

function helloAs(peer: PeerKind): Hello {
  return { type: 'hello', clusterId, protocolVersion: PROTOCOL_VERSION, peer };
}

const asReplica = (id: string): PeerKind => ({
  kind: 'replica',
  id: replicaId(id),
  service,
  rules: commitRulesOf(defaultProtocolConfig),
});

let listener: Listener;
const accepted: PeerKind[] = [];

before(async () => {
  await generateCertificates({ directory: ours, replicaIds: ['r1', 'r2'] });
  await generateCertificates({ directory: theirs, replicaIds: ['r1'] });
  listener = await listen({
    host: '127.0.0.1',
    port: 0,
    clusterId,
    frameSizeMaxBytes: 1024 * 1024,
    tls: material('r1'),
    onConnection: (peer, connection) => {
      accepted.push(peer);
      connection.close();
    },
  });
});

after(async () => {
  await listener.close();
  rmSync(directory, { recursive: true, force: true });
});

test('a replica with its own certificate is admitted', async () => {
  const connection = await dial(listener.address, helloAs(asReplica('r2')), {
    tls: material('r2'),
    expectPeer: { kind: 'replica', id: 'r1' },
  });
  connection.destroy();
  assert.ok(accepted.some((peer) => peer.kind === 'replica' && peer.id === 'r2'));
});

test('a replica whose Hello names another replica than its certificate is refused and counted', async () => {
  const before = transportCounters.tlsIdentitiesRefused;
  await assert.rejects(
    dial(listener.address, helloAs(asReplica('r1')), { tls: material('r2') }),
    (error: unknown) =>
      error instanceof HandshakeError &&
      /names understudy:\/\/replica\/r2, not understudy:\/\/replica\/r1/.test(error.message),
  );
  assert.equal(transportCounters.tlsIdentitiesRefused, before + 1);
});

test('a replica whose certificate comes from another CA is refused', async () => {
  await assert.rejects(
    dial(listener.address, helloAs(asReplica('r1')), { tls: material('r1', theirs) }),
    (error: unknown) => error instanceof HandshakeError && /not from this cluster's CA/.test(error.message),
  );
});

test('a member without a certificate is refused; a client without one is admitted', async () => {
  const ca = { ca: readFileSync(path.join(ours, 'ca.crt')) };
  await assert.rejects(
    dial(listener.address, helloAs({ kind: 'coordinator' }), { tls: ca }),
    (error: unknown) => error instanceof HandshakeError && /must present a certificate/.test(error.message),
  );
  const client = await dial(listener.address, helloAs({ kind: 'client' }), { tls: ca });
  client.destroy();
});

test('the dialler refuses a listener that is not the member it meant to reach', async () => {
  await assert.rejects(
    dial(listener.address, helloAs(asReplica('r2')), {
      tls: material('r2'),
      expectPeer: { kind: 'replica', id: 'r2' },
    }),
    /names understudy:\/\/replica\/r1, not understudy:\/\/replica\/r2/,
  );
});

test('the generator never overwrites: a second run over the same folder is refused', async () => {
  await assert.rejects(
    generateCertificates({ directory: ours, replicaIds: ['r1'] }),
    (error: unknown) => error instanceof ConfigError && /ca\.key exists/.test(error.message),
  );
});
