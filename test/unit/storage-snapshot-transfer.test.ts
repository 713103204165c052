// Receiving a snapshot by chunks, as a learner does: resumable after a crash at a whole chunk, started
// over for another snapshot, and never trusted before the whole file verifies. A "crash" drops the
// store object without closing anything and opens the directory again.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { type LogPosition, logIndex, type SnapshotInfo, viewNumber } from '../../src/protocol/types.js';
import {
  encodeSnapshotFile,
  SnapshotStore,
  SnapshotTransferError,
  snapshotFileName,
  transferChunkBytes,
} from '../../src/storage/snapshot-store.js';
import { transferInDirectory } from '../../src/storage/snapshot-transfer.js';

const at = (index: number, view = 1): LogPosition => ({ view: viewNumber(view), index: logIndex(index) });

/** A snapshot file as the primary would serve it: 2.5 chunks, so the last chunk is short. */
function primarySnapshot(position: LogPosition, seed = 1): { info: SnapshotInfo; file: Buffer } {
  const payload = Uint8Array.from(
    { length: 2.5 * transferChunkBytes },
    (_, i) => (i * seed + (i >> 8)) & 0xff,
  );
  const file = encodeSnapshotFile(position, payload);
  const info = { position, sizeBytes: file.length, checksum: crc32(file.subarray(0, file.length - 4)) };
  return { info, file };
}

const chunkAt = (file: Buffer, offset: number): Buffer => file.subarray(offset, offset + transferChunkBytes);

async function withDirectory(body: (directory: string) => Promise<void> | void): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'understudy-transfer-'));
  try {
    await body(path.join(root, 'snapshots'));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

async function receiveFrom(
  store: SnapshotStore,
  file: Buffer,
  offset: number,
  until = file.length,
): Promise<void> {
  for (let at = offset; at < until; at += transferChunkBytes)
    await store.writeTransferChunk(at, chunkAt(file, at));
}

test('chunks written in order and finished become the newest kept snapshot', async () => {
  await withDirectory(async (directory) => {
    const { info, file } = primarySnapshot(at(500, 4));
    const { store } = SnapshotStore.open(directory);
    assert.equal(store.transferProgress(), null);
    assert.equal(store.beginTransfer(info), 0);
    await receiveFrom(store, file, 0);
    assert.deepStrictEqual(store.transferProgress(), { info, receivedBytes: file.length });
    const received = await store.finishTransfer();
    assert.deepStrictEqual(received.info, info);
    assert.deepStrictEqual(Buffer.from(received.payload), file.subarray(32, file.length - 4));
    assert.deepStrictEqual(store.newestInfo(), info);
    assert.ok(store.has(info));
    assert.equal(store.transferProgress(), null);
    assert.deepStrictEqual(fs.readdirSync(directory), [snapshotFileName(at(500, 4))]);
    assert.deepStrictEqual(SnapshotStore.open(directory).newest?.info, info);
  });
});

test('after a crash, beginTransfer of the same snapshot resumes at the last whole chunk, not at 0', async () => {
  await withDirectory(async (directory) => {
    const { info, file } = primarySnapshot(at(500, 4));
    const first = SnapshotStore.open(directory).store;
    first.beginTransfer(info);
    await receiveFrom(first, file, 0, 2 * transferChunkBytes);
    // Half of the third chunk landed before the crash.
    fs.appendFileSync(
      path.join(directory, 'transfer.part'),
      chunkAt(file, 2 * transferChunkBytes).subarray(0, 1000),
    );

    const second = SnapshotStore.open(directory).store;
    assert.deepStrictEqual(second.transferProgress(), { info, receivedBytes: 2 * transferChunkBytes + 1000 });
    const resumeAt = second.beginTransfer(info);
    assert.equal(resumeAt, 2 * transferChunkBytes);
    assert.deepStrictEqual(second.transferProgress(), { info, receivedBytes: resumeAt });
    await receiveFrom(second, file, resumeAt);
    assert.deepStrictEqual((await second.finishTransfer()).info, info);
  });
});

test('beginTransfer of another snapshot starts over at 0 and deletes the old partial files', async () => {
  await withDirectory(async (directory) => {
    const old = primarySnapshot(at(500, 4));
    const first = SnapshotStore.open(directory).store;
    first.beginTransfer(old.info);
    await receiveFrom(first, old.file, 0, transferChunkBytes);

    const newer = primarySnapshot(at(900, 5), 3);
    const second = SnapshotStore.open(directory).store;
    assert.equal(second.beginTransfer(newer.info), 0);
    assert.equal(fs.statSync(path.join(directory, 'transfer.part')).size, 0);
    await receiveFrom(second, newer.file, 0);
    assert.deepStrictEqual((await second.finishTransfer()).info, newer.info);
    // Same position, other bytes (another checksum) is another snapshot too.
    const third = SnapshotStore.open(directory).store;
    third.beginTransfer(newer.info);
    await receiveFrom(third, newer.file, 0, transferChunkBytes);
    assert.equal(SnapshotStore.open(directory).store.beginTransfer({ ...newer.info, checksum: 7 }), 0);
  });
});

test('a partial file corrupted while the process was down fails finishTransfer, which deletes it', async () => {
  await withDirectory(async (directory) => {
    const { info, file } = primarySnapshot(at(500, 4));
    const first = SnapshotStore.open(directory).store;
    first.beginTransfer(info);
    await receiveFrom(first, file, 0, 2 * transferChunkBytes);
    const part = path.join(directory, 'transfer.part');
    const bytes = fs.readFileSync(part);
    bytes.writeUInt8((bytes[12345] ?? 0) ^ 4, 12345);
    fs.writeFileSync(part, bytes);

    const second = SnapshotStore.open(directory).store;
    const resumeAt = second.beginTransfer(info);
    assert.equal(resumeAt, 2 * transferChunkBytes);
    await receiveFrom(second, file, resumeAt);
    await assert.rejects(second.finishTransfer(), (error: unknown) => {
      assert.ok(error instanceof SnapshotTransferError, String(error));
      assert.match(error.message, /does not verify: .*CRC mismatch/);
      return true;
    });
    assert.deepStrictEqual(fs.readdirSync(directory), []);
    assert.equal(second.transferProgress(), null);
    assert.equal(second.newestInfo(), null);
    assert.equal(second.beginTransfer(info), 0, 'the caller starts over');
  });
});

test('bytes that are a good snapshot but not the one announced fail too', async () => {
  await withDirectory(async (directory) => {
    const announced = primarySnapshot(at(500, 4));
    const other = primarySnapshot(at(500, 4), 5);
    const { store } = SnapshotStore.open(directory);
    store.beginTransfer(announced.info);
    await receiveFrom(store, other.file, 0);
    await assert.rejects(store.finishTransfer(), /checksum \d+, not the \d+ announced/);
  });
});

test('abortTransfer deletes the partial files; chunks must come in order', async () => {
  await withDirectory(async (directory) => {
    const { info, file } = primarySnapshot(at(500, 4));
    const { store } = SnapshotStore.open(directory);
    store.beginTransfer(info);
    await assert.rejects(
      store.writeTransferChunk(transferChunkBytes, chunkAt(file, transferChunkBytes)),
      /chunk at offset/,
    );
    await store.writeTransferChunk(0, chunkAt(file, 0));
    await store.abortTransfer();
    assert.deepStrictEqual(fs.readdirSync(directory), []);
    assert.equal(store.transferProgress(), null);
  });
});

test('transferInDirectory reads a transfer under way from its files alone, and nothing once it is finished', async () => {
  await withDirectory(async (directory) => {
    const { info, file } = primarySnapshot(at(500, 4));
    const { store } = SnapshotStore.open(directory);
    assert.equal(transferInDirectory(directory), null);
    store.beginTransfer(info);
    await receiveFrom(store, file, 0, transferChunkBytes);
    assert.deepStrictEqual(transferInDirectory(directory), { info, receivedBytes: transferChunkBytes });
    await receiveFrom(store, file, transferChunkBytes);
    await store.finishTransfer();
    assert.equal(transferInDirectory(directory), null);
    fs.rmSync(directory, { recursive: true });
    assert.equal(transferInDirectory(directory), null, 'a directory wiped away');
  });
});
