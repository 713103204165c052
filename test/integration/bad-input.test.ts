// Bad input against real processes: garbage on the client port, damage to a log on disk.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodeMessage, frame, PROTOCOL_VERSION } from '../../src/transport/index.js';
import { recordsEndOf } from '../unit/storage-fixtures.js';
import { LocalCluster, stop, waitFor } from './harness.js';

function sendRaw(address: string, bytes: Buffer): Promise<void> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const socket = connect({ host: host ?? '127.0.0.1', port: Number(port) });
    // Read (and drop) what the server sends, a welcome say: unread data would hold off 'close'.
    socket.resume();
    socket.on('connect', () => socket.write(bytes));
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
  });
}

describe('bad input', { concurrency: false }, () => {
  let cluster: LocalCluster;

  before(async () => {
    cluster = await LocalCluster.start(2);
  });

  after(async () => {
    await cluster.close();
  });

  test('malformed frames on the client port close that connection, are counted, and the server stays up', async () => {
    const client = await cluster.client();
    await client.put('k', 'before');
    const status = await client.status();
    const primary = status.replicas.find((replica) => replica.id === status.view?.primary);
    assert.ok(primary !== undefined);
    const hugeLength = Buffer.alloc(8);
    hugeLength.writeUInt32BE(0xffff_fff0, 0);
    // Each of these connections is closed by the server: the promise resolves on close.
    await sendRaw(primary.address, hugeLength);
    await sendRaw(primary.address, Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]));
    // After a good handshake: a request of the wrong shape, then a frame claiming 4 GiB.
    const hello = frame(
      encodeMessage({
        type: 'hello',
        clusterId: 'understudy',
        protocolVersion: PROTOCOL_VERSION,
        peer: { kind: 'client' },
      }),
    );
    await sendRaw(
      primary.address,
      Buffer.concat([hello, frame(encodeMessage({ type: 'request', id: 'x' }))]),
    );
    await sendRaw(primary.address, Buffer.concat([hello, hugeLength]));
    const running = cluster.replicas.get(primary.id);
    assert.ok(running !== undefined);
    await waitFor('the bad frames to be logged', () =>
      (running.stderr().match(/bad frame/g)?.length ?? 0) >= 4 ? true : undefined,
    );
    assert.match(running.stderr(), /"badFrames":4/);
    assert.equal(running.child.exitCode, null, 'the replica is still running');
    await client.put('k', 'after');
    assert.equal(await client.getText('k'), 'after');
  });

  test('a bit flip in the log of a backup below its sync point is repaired: it rejoins and fetches what it lost', async () => {
    const client = await cluster.client();
    for (let number = 0; number < 20; number++) await client.put(`c${number}`, 'x'.repeat(100));
    const view = await cluster.waitForView((candidate) => candidate.backups.length === 1);
    const victim = view.backups[0] ?? '';
    await cluster.kill(victim);
    const logDirectory = path.join(cluster.replicaDirectory(victim), 'log');
    const segment = path.join(logDirectory, readdirSync(logDirectory).sort()[0] ?? '');
    const bytes = readFileSync(segment);
    // A segment is created at its full size: its records end well before the file does.
    const middle = Math.floor(recordsEndOf(segment) / 2);
    bytes.writeUInt8((bytes.readUInt8(middle) ^ 0xff) & 0xff, middle);
    writeFileSync(segment, bytes);
    const identityBefore = readFileSync(path.join(cluster.replicaDirectory(victim), 'identity'), 'utf8');
    const restarted = await cluster.startReplica(victim);
    assert.match(restarted.stderr(), /data directory repaired/);
    assert.notEqual(
      readFileSync(path.join(cluster.replicaDirectory(victim), 'identity'), 'utf8'),
      identityBefore,
      'a directory that lost synced data gets a new identity: it counts again only once it holds everything',
    );
    await client.put('still', 'serving');
    await cluster.waitForView((candidate) => candidate.backups.includes(victim));
    // The repaired replica holds everything: make it the primary and read it all back.
    await cluster.kill(view.primary);
    await cluster.waitForView((candidate) => candidate.primary === victim);
    for (let number = 0; number < 20; number++)
      assert.equal(await client.getText(`c${number}`), 'x'.repeat(100));
    assert.equal(await client.getText('still'), 'serving');
    await cluster.startReplica(view.primary);
    await cluster.waitForView((candidate) => candidate.backups.length === 1);
  });

  test('a torn last record is dropped at start and the replica rejoins', async () => {
    const view = await cluster.waitForView((candidate) => candidate.primary !== '');
    const id = view.primary;
    const client = await cluster.client();
    await client.put('torn', 'ok');
    await cluster.kill(id);
    const logDirectory = path.join(cluster.replicaDirectory(id), 'log');
    const segment = path.join(logDirectory, readdirSync(logDirectory).sort().at(-1) ?? '');
    const bytes = readFileSync(segment);
    // A record whose write was cut short right where the next write would have landed.
    Buffer.from([0, 0, 0, 60, 1, 2, 3]).copy(bytes, recordsEndOf(segment));
    writeFileSync(segment, bytes);
    const restarted = await cluster.startReplica(id);
    await waitFor('the torn tail report', () =>
      /tornBytesDropped":[1-9]/.test(restarted.stderr()) ? true : undefined,
    );
    await stop(restarted);
    cluster.replicas.delete(id);
  });
});
