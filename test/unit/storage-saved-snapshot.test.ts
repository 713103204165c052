// A saved snapshot on disk (saved-snapshot.ts) and a data directory restored from it (restore.ts):
// only a whole file that verifies gets its name, every damaged byte is refused with a clear error,
// and a replica opening a restored directory starts from exactly the saved state.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { ConfigError } from '../../src/errors.js';
import { logIndex, type SnapshotInfo, viewNumber } from '../../src/protocol/types.js';
import { claimDirectoryForService } from '../../src/storage/directory-service.js';
import { openReplicaDirectory } from '../../src/storage/replica-directory.js';
import { restoreReplicaDirectory } from '../../src/storage/restore.js';
import {
  decodeSavedSnapshot,
  readSavedSnapshot,
  SavedSnapshotDamagedError,
  SavedSnapshotWriter,
} from '../../src/storage/saved-snapshot.js';
import { encodeSnapshotFile } from '../../src/storage/snapshot-file.js';

const position = { view: viewNumber(3), index: logIndex(42) };
const metadata = {
  service: { name: 'understudy-kv', version: 1 },
  replica: 'r1',
  savedAt: '2026-12-04T23:00:00.000Z',
};
const payload = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff);
const snapshotFile = encodeSnapshotFile(position, payload);
const snapshot: SnapshotInfo = {
  position,
  sizeBytes: snapshotFile.length,
  checksum: crc32(snapshotFile.subarray(0, snapshotFile.length - 4)),
};

function withDirectory(body: (directory: string) => Promise<void> | void): Promise<void> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'understudy-saved-'));
  return Promise.resolve(body(directory)).finally(() =>
    fs.rmSync(directory, { recursive: true, force: true }),
  );
}

/** Writes the snapshot file in chunks of `chunk` bytes, as a save receives it. */
async function save(file: string, chunk = 1024): Promise<void> {
  const writer = new SavedSnapshotWriter(file);
  await writer.begin(metadata);
  for (let offset = 0; offset < snapshotFile.length; offset += chunk) {
    await writer.write(snapshotFile.subarray(offset, offset + chunk));
  }
  await writer.finish(snapshot);
}

test('a saved snapshot written in chunks reads back whole: its position, payload and metadata', () =>
  withDirectory(async (directory) => {
    const file = path.join(directory, 'a.snap');
    await save(file);
    assert.ok(!fs.existsSync(`${file}.part`));
    const saved = readSavedSnapshot(file);
    assert.deepEqual(saved.position, position);
    assert.deepEqual(saved.metadata, metadata);
    assert.deepEqual(Buffer.from(saved.payload), Buffer.from(payload));
    assert.deepEqual(Buffer.from(saved.snapshotFile), snapshotFile);
  }));

test('a file that is not the named snapshot keeps only its .part name, and a new attempt starts over', () =>
  withDirectory(async (directory) => {
    const file = path.join(directory, 'a.snap');
    const writer = new SavedSnapshotWriter(file);
    await writer.begin(metadata);
    await writer.write(snapshotFile);
    await assert.rejects(
      writer.finish({ ...snapshot, checksum: snapshot.checksum ^ 1 }),
      SavedSnapshotDamagedError,
    );
    assert.ok(!fs.existsSync(file), 'never named');
    await writer.begin(metadata);
    await writer.write(snapshotFile.subarray(0, 100));
    await writer.begin(metadata);
    await writer.write(snapshotFile);
    await writer.finish(snapshot);
    assert.deepEqual(readSavedSnapshot(file).position, position);
    await writer.abort();
    assert.ok(fs.existsSync(file) && !fs.existsSync(`${file}.part`));
  }));

test('every damaged or missing byte of a saved snapshot is refused, never read as a state', () =>
  withDirectory(async (directory) => {
    const file = path.join(directory, 'a.snap');
    await save(file);
    const bytes = fs.readFileSync(file);
    for (let offset = 0; offset < bytes.length; offset += 97) {
      const damaged = Buffer.from(bytes);
      damaged[offset] = (damaged[offset] ?? 0) ^ 0x10;
      assert.throws(() => decodeSavedSnapshot(damaged), SavedSnapshotDamagedError, `byte ${offset}`);
    }
    for (const length of [0, 10, bytes.length - 1]) {
      assert.throws(() => decodeSavedSnapshot(bytes.subarray(0, length)), SavedSnapshotDamagedError);
    }
    assert.throws(() => decodeSavedSnapshot(snapshotFile), /does not start with the saved snapshot magic/);
    // Another format, intact: a newer build wrote it.
    const newer = Buffer.from(bytes);
    newer.writeUInt32LE(2, 8);
    newer.writeUInt32LE(crc32(newer.subarray(0, newer.length - 4)), newer.length - 4);
    assert.throws(
      () => decodeSavedSnapshot(newer),
      (error: unknown) => error instanceof ConfigError && /format 2/.test(error.message),
    );
    assert.throws(() => readSavedSnapshot(path.join(directory, 'missing.snap')), ConfigError);
  }));

test('a restored directory opens as a replica directory at the saved position, and a non-empty one is refused', () =>
  withDirectory(async (directory) => {
    const file = path.join(directory, 'a.snap');
    await save(file);
    const saved = readSavedSnapshot(file);
    const replica = path.join(directory, 'r1');
    restoreReplicaDirectory(saved, replica);
    assert.ok(!fs.existsSync(`${replica}.restoring`));
    const opened = openReplicaDirectory(replica);
    try {
      assert.deepEqual(opened.snapshot?.info.position, position);
      assert.deepEqual(Buffer.from(opened.snapshot?.payload ?? []), Buffer.from(payload));
      assert.deepEqual(opened.entries, []);
      assert.equal(opened.repaired, null, 'nothing is taken for damage');
      assert.equal(opened.log.lastPosition.index, position.index, 'the log continues the snapshot');
    } finally {
      await opened.log.close();
    }
    // It holds the saved service's data: a replica of another refuses it.
    assert.throws(
      () => claimDirectoryForService(replica, { name: 'counter', version: 1 }, metadata.service),
      /holds the data of service "understudy-kv" version 1/,
    );
    assert.throws(() => restoreReplicaDirectory(saved, replica), /is not empty/);
    const empty = path.join(directory, 'empty');
    fs.mkdirSync(empty);
    restoreReplicaDirectory(saved, empty);
    assert.ok(fs.existsSync(path.join(empty, 'service.json')));
  }));
