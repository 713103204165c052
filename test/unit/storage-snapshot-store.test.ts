// Snapshots on a real file system: the file format, the newest intact snapshot chosen at open with
// damaged ones set aside, the two newest kept, and reads for a transfer that fail clearly once the
// snapshot is gone.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { ConfigError } from '../../src/errors.js';
import { encodedSnapshot, type SnapshotEncoding } from '../../src/protocol/state-machine.js';
import { type LogPosition, logIndex, type SnapshotInfo, viewNumber } from '../../src/protocol/types.js';
import { logHeadroomBytes, NoRoomError } from '../../src/storage/free-space.js';
import {
  decodeSnapshotFile,
  encodeSnapshotFile,
  SnapshotDamagedError,
  SnapshotGoneError,
  SnapshotStore,
  snapshotFileName,
} from '../../src/storage/snapshot-store.js';

const at = (index: number, view = 1): LogPosition => ({ view: viewNumber(view), index: logIndex(index) });

/** A payload that differs for every position, of a size that varies with it. */
const payloadAt = (index: number): Uint8Array =>
  Uint8Array.from({ length: 100 + index * 7 }, (_, i) => (index * 31 + i) & 0xff);

async function withDirectory(body: (directory: string) => Promise<void> | void): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'understudy-snapshots-'));
  try {
    await body(path.join(root, 'snapshots'));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

async function writeAndKeep(store: SnapshotStore, position: LogPosition): Promise<SnapshotInfo> {
  const info = await store.write(position, encodedSnapshot(payloadAt(position.index)));
  await store.keep(position);
  return info;
}

const filesIn = (directory: string): string[] => fs.readdirSync(directory).sort();

function flipByte(file: string, offset: number): void {
  const data = fs.readFileSync(file);
  data.writeUInt8((data[offset] ?? 0) ^ 0x20, offset);
  fs.writeFileSync(file, data);
}

test('a snapshot file round-trips, and its checksum is the crc32 of the whole file before it', () => {
  const payload = payloadAt(9);
  const file = encodeSnapshotFile(at(42, 3), payload);
  assert.equal(file.subarray(0, 8).toString('latin1'), 'USTDYSNP');
  assert.equal(file.length, 32 + payload.length + 4);
  assert.equal(file.readUInt32LE(file.length - 4), crc32(file.subarray(0, file.length - 4)));
  const decoded = decodeSnapshotFile(file, snapshotFileName(at(42, 3)));
  assert.deepStrictEqual(decoded.position, at(42, 3));
  assert.deepStrictEqual(new Uint8Array(decoded.payload), payload);
});

test('a damaged snapshot file is refused: bit flip, cut short, another magic, a name that disagrees', () => {
  const file = encodeSnapshotFile(at(42, 3), payloadAt(9));
  const damaged = (bytes: Uint8Array, name?: string) =>
    assert.throws(() => decodeSnapshotFile(bytes, name), SnapshotDamagedError);
  for (const offset of [0, 12, 16, 24, 40, file.length - 1]) {
    const flipped = Buffer.from(file);
    flipped.writeUInt8((flipped[offset] ?? 0) ^ 1, offset);
    damaged(flipped);
  }
  damaged(file.subarray(0, file.length - 1));
  damaged(file.subarray(0, 20));
  damaged(Buffer.alloc(0));
  damaged(file, snapshotFileName(at(43, 3)));
  damaged(file, snapshotFileName(at(42, 2)));
});

test('an intact snapshot of another format version is a configuration error, not damage', () => {
  const file = encodeSnapshotFile(at(5), payloadAt(5));
  file.writeUInt32LE(2, 8);
  file.writeUInt32LE(crc32(file.subarray(0, file.length - 4)), file.length - 4);
  assert.throws(() => decodeSnapshotFile(file), ConfigError);
  // The same version field with a CRC that does not match is a flipped bit: damage.
  file.writeUInt32LE((file.readUInt32LE(file.length - 4) ^ 1) >>> 0, file.length - 4);
  assert.throws(() => decodeSnapshotFile(file), SnapshotDamagedError);
});

test('write then keep: the snapshot comes back at the next open, with the info write() returned', async () => {
  await withDirectory(async (directory) => {
    const { store, newest, damaged } = SnapshotStore.open(directory);
    assert.equal(newest, null);
    assert.deepStrictEqual(damaged, []);
    assert.equal(store.newestInfo(), null);
    const info = await store.write(at(10, 2), encodedSnapshot(payloadAt(10)));
    assert.equal(store.newestInfo(), null, 'not kept before keep()');
    assert.deepStrictEqual(filesIn(directory), ['snapshot.tmp']);
    await store.keep(at(10, 2));
    assert.deepStrictEqual(filesIn(directory), [snapshotFileName(at(10, 2))]);
    assert.deepStrictEqual(store.newestInfo(), info);
    assert.ok(store.has(info));
    assert.equal(store.has({ ...info, checksum: info.checksum ^ 1 }), false);
    const file = fs.readFileSync(path.join(directory, snapshotFileName(at(10, 2))));
    assert.equal(info.sizeBytes, file.length);
    assert.equal(info.checksum, crc32(file.subarray(0, file.length - 4)));

    const reopened = SnapshotStore.open(directory);
    assert.deepStrictEqual(reopened.newest?.info, info);
    assert.deepStrictEqual(new Uint8Array(reopened.newest?.payload ?? []), payloadAt(10));
    assert.deepStrictEqual(reopened.store.readNewestPayload()?.info, info);
  });
});

/**
 * `payload` in pieces of `pieceBytes`, each copied into one buffer that the next piece overwrites (as
 * `SnapshotEncoding` allows), so a writer that kept a piece past the next call would write the
 * wrong bytes. `pieceSizes` records each piece's length.
 */
function piecesSharingOneBuffer(
  payload: Uint8Array,
  pieceBytes: number,
  pieceSizes: number[],
): SnapshotEncoding {
  const shared = new Uint8Array(pieceBytes);
  let offset = 0;
  return {
    sizeBytes: payload.length,
    next: () => {
      if (offset === payload.length) {
        shared.fill(0xee);
        return null;
      }
      const length = Math.min(pieceBytes, payload.length - offset);
      shared.set(payload.subarray(offset, offset + length));
      offset += length;
      pieceSizes.push(length);
      return shared.subarray(0, length);
    },
  };
}

test('a snapshot of several megabytes, written as pieces that share one buffer, verifies whole at the next open', async () => {
  await withDirectory(async (directory) => {
    const { store } = SnapshotStore.open(directory);
    const payload = Uint8Array.from({ length: 2.5 * 1024 * 1024 }, (_, i) => (i * 131 + (i >> 11)) & 0xff);
    const pieceSizes: number[] = [];
    const info = await store.write(at(500, 4), piecesSharingOneBuffer(payload, 1024 * 1024, pieceSizes));
    assert.deepStrictEqual(pieceSizes, [1024 * 1024, 1024 * 1024, 0.5 * 1024 * 1024]);
    await store.keep(at(500, 4));
    const file = fs.readFileSync(path.join(directory, snapshotFileName(at(500, 4))));
    assert.equal(info.checksum, crc32(file.subarray(0, file.length - 4)));
    assert.equal(file.readUInt32LE(file.length - 4), info.checksum);
    const reopened = SnapshotStore.open(directory);
    assert.deepStrictEqual(reopened.damaged, []);
    assert.deepStrictEqual(reopened.newest?.info, info);
    assert.ok(Buffer.from(payload).equals(Buffer.from(reopened.newest?.payload ?? [])));
  });
});

test('an encoding whose pieces do not add up to the size it stated fails the write, and nothing is kept', async () => {
  await withDirectory(async (directory) => {
    const { store } = SnapshotStore.open(directory);
    const payload = payloadAt(30);
    const short: SnapshotEncoding = { ...encodedSnapshot(payload), sizeBytes: payload.length + 1 };
    await assert.rejects(store.write(at(30), short), /stated 311 bytes but its pieces came to 310/);
    const long = encodedSnapshot(payload);
    await assert.rejects(
      store.write(at(31), { sizeBytes: payload.length - 1, next: () => long.next() }),
      /stated 309 bytes but its pieces came to 310 or more/,
    );
    await assert.rejects(store.keep(at(31)), /keep\(\) follows the write\(\) of it/);
    assert.equal(SnapshotStore.open(directory).newest, null);
  });
});

test('a write that fails part-way removes what it wrote, and the next write and keep succeed', async () => {
  await withDirectory(async (directory) => {
    const { store } = SnapshotStore.open(directory);
    const payload = payloadAt(40);
    const pieces = encodedSnapshot(payload);
    let calls = 0;
    const failing: SnapshotEncoding = {
      sizeBytes: payload.length * 2,
      next: () => {
        calls += 1;
        if (calls === 1) return pieces.next();
        throw new Error('ENOSPC: no space left on device, write');
      },
    };
    await assert.rejects(store.write(at(40), failing), /ENOSPC/);
    assert.deepEqual(filesIn(directory), [], 'the partial snapshot.tmp is gone');
    await assert.rejects(store.keep(at(40)), /keep\(\) follows the write\(\) of it/);
    const info = await writeAndKeep(store, at(41));
    assert.deepEqual(filesIn(directory), [snapshotFileName(at(41))]);
    assert.deepEqual(SnapshotStore.open(directory).newest?.info, info);
  });
});

// Found on the list of things left alone since the disk-full nemesis: on a disk too full for it, each
// retry of a snapshot wrote until ENOSPC, taking the last free blocks from the log's appends meanwhile.
test('a snapshot the file system has no room for is not tried: no piece is encoded, no file made', async () => {
  await withDirectory(async (directory) => {
    const payload = payloadAt(50);
    const fileBytes = encodeSnapshotFile(at(50), payload).length;
    let free = fileBytes + logHeadroomBytes - 1;
    const asked: string[] = [];
    const { store } = SnapshotStore.open(directory, {
      readFree: async (where) => {
        asked.push(where);
        return free;
      },
    });
    let pieces = 0;
    const inner = encodedSnapshot(payload);
    const counted: SnapshotEncoding = {
      sizeBytes: inner.sizeBytes,
      next: () => {
        pieces += 1;
        return inner.next();
      },
    };
    await assert.rejects(
      store.write(at(50), counted),
      (error: unknown) =>
        error instanceof NoRoomError &&
        error.message.includes(
          `no room for a snapshot of ${fileBytes} bytes and the ${logHeadroomBytes} bytes`,
        ) &&
        error.message.includes(`: ${free} bytes free`) &&
        error.message.includes(directory),
    );
    assert.deepEqual(asked, [directory]);
    assert.equal(pieces, 0, 'the encoding was not asked for a piece');
    assert.deepEqual(filesIn(directory), []);
    assert.equal(store.newestInfo(), null);

    free = fileBytes + logHeadroomBytes;
    const info = await store.write(at(50), encodedSnapshot(payload));
    await store.keep(at(50));
    assert.equal(info.sizeBytes, fileBytes);
    assert.deepEqual(SnapshotStore.open(directory).newest?.info, info);
  });
});

test('keep() retains only the two newest snapshots', async () => {
  await withDirectory(async (directory) => {
    const { store } = SnapshotStore.open(directory);
    const infos: SnapshotInfo[] = [];
    for (const index of [10, 20, 30, 40]) infos.push(await writeAndKeep(store, at(index)));
    assert.deepStrictEqual(filesIn(directory), [snapshotFileName(at(30)), snapshotFileName(at(40))]);
    assert.deepStrictEqual(
      infos.map((info) => store.has(info)),
      [false, false, true, true],
    );
    assert.deepStrictEqual(store.newestInfo(), infos[3]);
  });
});

test('keep() retains an older snapshot it is told a follower receives, until a later keep() leaves it out', async () => {
  await withDirectory(async (directory) => {
    const { store } = SnapshotStore.open(directory);
    const received = await writeAndKeep(store, at(10));
    await writeAndKeep(store, at(20));
    for (const index of [30, 40]) {
      await store.write(at(index), encodedSnapshot(payloadAt(index)));
      await store.keep(at(index), [at(10)]);
    }
    assert.deepStrictEqual(
      filesIn(directory),
      [10, 30, 40].map((index) => snapshotFileName(at(index))),
    );
    assert.ok(store.has(received), 'still kept');
    const chunk = await store.readChunk(received, 0, 16);
    assert.equal(chunk.length, 16, 'and still served');
    await writeAndKeep(store, at(50));
    assert.deepStrictEqual(filesIn(directory), [snapshotFileName(at(40)), snapshotFileName(at(50))]);
    assert.equal(store.has(received), false);
  });
});

test('a snapshot.tmp left by a crash before keep() is deleted at open', async () => {
  await withDirectory(async (directory) => {
    const { store } = SnapshotStore.open(directory);
    const kept = await writeAndKeep(store, at(10));
    await store.write(at(20), encodedSnapshot(payloadAt(20)));
    const reopened = SnapshotStore.open(directory);
    assert.deepStrictEqual(reopened.newest?.info, kept);
    assert.deepStrictEqual(filesIn(directory), [snapshotFileName(at(10))]);
  });
});

test('the newest intact snapshot is chosen when the newest is damaged (bit flip, cut short), and damaged ones are set aside', async () => {
  for (const damage of ['bit flip', 'cut short'] as const) {
    await withDirectory(async (directory) => {
      const { store } = SnapshotStore.open(directory);
      const older = await writeAndKeep(store, at(10));
      await writeAndKeep(store, at(20));
      const newestFile = path.join(directory, snapshotFileName(at(20)));
      if (damage === 'bit flip') flipByte(newestFile, 50);
      else fs.truncateSync(newestFile, fs.statSync(newestFile).size - 10);

      const reopened = SnapshotStore.open(directory);
      assert.deepStrictEqual(reopened.newest?.info, older, damage);
      assert.deepStrictEqual(new Uint8Array(reopened.newest?.payload ?? []), payloadAt(10));
      assert.equal(reopened.damaged.length, 1);
      assert.equal(reopened.damaged[0]?.file, newestFile);
      assert.deepStrictEqual(reopened.damaged[0]?.position, at(20));
      assert.match(
        reopened.damaged[0]?.reason ?? '',
        damage === 'bit flip' ? /CRC mismatch/ : /payload length/,
      );
      assert.deepStrictEqual(filesIn(directory), [
        snapshotFileName(at(10)),
        `${snapshotFileName(at(20))}.damaged`,
      ]);
      assert.deepStrictEqual(reopened.store.newestInfo(), older);
      // Nothing is damaged any more: the next open is clean.
      assert.deepStrictEqual(SnapshotStore.open(directory).damaged, []);
    });
  }
});

test('a file whose name disagrees with its content is damage; with none intact, open finds nothing', async () => {
  await withDirectory(async (directory) => {
    const { store } = SnapshotStore.open(directory);
    await writeAndKeep(store, at(10));
    fs.renameSync(
      path.join(directory, snapshotFileName(at(10))),
      path.join(directory, snapshotFileName(at(11))),
    );
    const reopened = SnapshotStore.open(directory);
    assert.equal(reopened.newest, null);
    assert.match(reopened.damaged[0]?.reason ?? '', /name does not match the content/);
    assert.equal(reopened.store.newestInfo(), null);
  });
});

test('open can leave damaged files in place until the caller sets them aside', async () => {
  await withDirectory(async (directory) => {
    const { store } = SnapshotStore.open(directory);
    await writeAndKeep(store, at(10));
    flipByte(path.join(directory, snapshotFileName(at(10))), 40);
    const opened = SnapshotStore.open(directory, { setAsideDamaged: false });
    assert.equal(opened.damaged.length, 1);
    assert.deepStrictEqual(filesIn(directory), [snapshotFileName(at(10))]);
    opened.store.setAsideDamaged();
    assert.deepStrictEqual(filesIn(directory), [`${snapshotFileName(at(10))}.damaged`]);
  });
});

test('readChunk serves a kept snapshot by ranges, and throws SnapshotGoneError once it was deleted', async () => {
  await withDirectory(async (directory) => {
    const { store } = SnapshotStore.open(directory);
    const first = await writeAndKeep(store, at(10));
    const whole = fs.readFileSync(path.join(directory, snapshotFileName(at(10))));
    const chunks: Uint8Array[] = [];
    for (let offset = 0; offset < first.sizeBytes; offset += 64)
      chunks.push(await store.readChunk(first, offset, 64));
    assert.deepStrictEqual(Buffer.concat(chunks), whole);
    assert.equal((await store.readChunk(first, first.sizeBytes, 64)).length, 0);

    await writeAndKeep(store, at(20));
    assert.deepStrictEqual(Buffer.from(await store.readChunk(first, 0, 10)), whole.subarray(0, 10));
    await writeAndKeep(store, at(30));
    await assert.rejects(store.readChunk(first, 0, 10), SnapshotGoneError);
    // Deleted behind the store's back: the same clear error, not ENOENT.
    const second = store.newestInfo();
    assert.ok(second !== null);
    fs.rmSync(path.join(directory, snapshotFileName(at(30))));
    await assert.rejects(store.readChunk(second, 0, 10), SnapshotGoneError);
  });
});

test('one write or keep at a time, and keep() only of what was written', async () => {
  await withDirectory(async (directory) => {
    const { store } = SnapshotStore.open(directory);
    const writing = store.write(at(10), encodedSnapshot(payloadAt(10)));
    await assert.rejects(
      store.write(at(11), encodedSnapshot(payloadAt(11))),
      /one snapshot write or keep at a time/,
    );
    await writing;
    await assert.rejects(store.keep(at(11)), /keep\(\) follows the write\(\) of it/);
    await store.keep(at(10));
    await assert.rejects(store.keep(at(10)), /keep\(\) follows the write\(\) of it/);
  });
});
