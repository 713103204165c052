// Snapshot writes that fail, against real processes: a replica whose snapshot cannot be written (a
// full or failing disk) warns, counts it, and serves on with every acknowledged write, a save asked
// meanwhile is refused with why, and once a snapshot can be written again each replica keeps one by
// itself. The fault is a directory where the snapshot's temporary file goes: opening it for writing
// fails (EISDIR) whoever the process runs as, and removing it heals the disk.

import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmdirSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { UnavailableError } from '../../src/errors.js';
import { snapshotWriteFailedMessage } from '../../src/node/replica-server.js';
import { snapshotDirectoryName } from '../../src/storage/replica-directory.js';
import { temporaryFileName } from '../../src/storage/snapshot-store.js';
import { parsePrometheusText, sampleValue } from '../prometheus-text.js';
import { adminAddressOf, LocalCluster, waitFor } from './harness.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ids = ['r1', 'r2', 'r3'];

test('a replica whose snapshots cannot be written serves on, refuses saves with why, and keeps one once it can', async (t) => {
  // Retries 1 s after a failure (2, 4, then 8 s apart), so the test need not wait out the default 5 s.
  const cluster = await LocalCluster.start(3, [
    '--snapshot-log-bytes',
    '16384',
    '--snapshot-retry-ms',
    '1000',
    '--admin',
    '127.0.0.1:0',
  ]);
  t.after(() => cluster.close());
  const snapshotsOf = (id: string) => path.join(cluster.replicaDirectory(id), snapshotDirectoryName);
  const blockers = ids.map((id) => path.join(snapshotsOf(id), temporaryFileName));
  for (const blocker of blockers) mkdirSync(blocker);

  const failures = async (id: string) => {
    const response = await fetch(`http://${adminAddressOf(cluster.replicas.get(id))}/metrics`);
    return sampleValue(
      parsePrometheusText(await response.text()),
      'understudy_snapshot_write_failures_total',
    );
  };
  const client = await cluster.client();
  const written = new Map<string, string>();
  const write = async (count: number) => {
    for (let n = 0; n < count; n++) {
      const key = `k${written.size}`;
      const value = `${key}:${'v'.repeat(120)}`;
      await client.put(encoder.encode(key), encoder.encode(value));
      written.set(key, value);
    }
  };

  // Well past every replica's threshold (two thirds to all of 16 KiB): each tries and fails.
  await write(400);
  // A save cannot get a snapshot either: it waits for the primary's next try (at most 8 s away, more
  // on a busy machine) and is refused with the disk's error.
  await assert.rejects(
    client.saveSnapshot(path.join(cluster.directory, 'saved.snap'), { deadlineMs: 30_000 }),
    (error) => {
      assert.ok(error instanceof UnavailableError);
      assert.match(error.message, /could not write the snapshot \(.*EISDIR/);
      return true;
    },
  );
  for (const id of ids) {
    await waitFor(`${id} counts a failed snapshot write`, async () =>
      (await failures(id)) >= 1 ? true : undefined,
    );
    const running = cluster.replicas.get(id);
    assert.equal(running?.child.exitCode, null, `${id} is still running`);
    const warnings = (running?.stderr() ?? '')
      .split('\n')
      .filter((line) => line.includes(snapshotWriteFailedMessage))
      .map((line) => JSON.parse(line) as { level: string; error: string; retryInSeconds: number });
    assert.equal(warnings[0]?.level, 'warn', `${id} warned`);
    assert.match(warnings[0]?.error ?? '', /EISDIR/);
    assert.equal(warnings[0]?.retryInSeconds, 1, 'the first failure waits --snapshot-retry-ms');
    assert.deepEqual(
      readdirSync(snapshotsOf(id)).filter((name) => name.endsWith('.snap')),
      [],
      `${id} kept no snapshot`,
    );
  }

  for (const blocker of blockers) rmdirSync(blocker);
  // No write needed: a failed snapshot is owed, and its retry comes by itself (at most 8 s apart).
  for (const id of ids) {
    await waitFor(`${id} keeps a snapshot once it can`, () =>
      readdirSync(snapshotsOf(id)).some((name) => name.endsWith('.snap')) ? true : undefined,
    );
  }
  const view = await cluster.waitForView((candidate) => candidate.backups.length === 2);
  assert.deepEqual([view.primary, ...view.backups].sort(), ids, 'every replica stayed in the view');
  for (const [key, value] of written) {
    const read = await client.get(encoder.encode(key));
    assert.equal(read === null ? null : decoder.decode(read), value, key);
  }
});
