// The chaos runner's hung disk (src/chaos/server-disks.ts): a server's own file system, frozen,
// makes a process's write and fsync there wait, while a write to another replica's file system goes
// through; thawed, the waiting write completes with its bytes intact; closed, nothing stays mounted.
// Needs root, a loop device and fsfreeze (CI has them); elsewhere the suite is skipped and says why.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { diskHangUnavailable, ServerDisks } from '../../src/chaos/server-disks.js';

const unavailable = diskHangUnavailable();

/** A child process that writes `text` to `file` and fsyncs it; resolves with its exit code. */
function writeAndSync(file: string, text: string): { child: ChildProcess; exited: Promise<number | null> } {
  const script =
    'const fs = require("node:fs"); const fd = fs.openSync(process.argv[1], "w");' +
    ' fs.writeSync(fd, process.argv[2]); fs.fdatasyncSync(fd); fs.closeSync(fd);';
  const child = spawn(process.execPath, ['-e', script, file, text], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited };
}

function mountedUnder(directory: string): string[] {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((point) => point.startsWith(directory));
}

describe('replica disks: a frozen file system is a hung disk for the process that writes to it', {
  skip: unavailable === null ? false : `cannot freeze a disk here: ${unavailable}`,
}, () => {
  const directory = mkdtempSync(join(tmpdir(), 'understudy-disks-'));
  after(() => rmSync(directory, { recursive: true, force: true }));

  test('a write to the frozen disk waits until the thaw, a write to another goes through', async () => {
    const disks = await ServerDisks.create(join(directory, 'disks'), ['r1', 'r2']);
    let waiting: ReturnType<typeof writeAndSync> | null = null;
    try {
      assert.deepEqual(
        mountedUnder(directory).sort(),
        [disks.mountPoint('r1'), disks.mountPoint('r2')].sort(),
      );
      await disks.freeze('r1');
      assert.ok(disks.isFrozen('r1'));
      waiting = writeAndSync(join(disks.mountPoint('r1'), 'frozen.txt'), 'written while frozen');
      const other = writeAndSync(join(disks.mountPoint('r2'), 'free.txt'), 'written beside it');
      assert.equal(await other.exited, 0, 'the write to the disk that is not frozen completes');
      // Still waiting once the other write has gone through: the frozen disk holds it, not the machine.
      const stillWaiting = await Promise.race([
        waiting.exited.then(() => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 500)),
      ]);
      assert.ok(stillWaiting, 'the write to the frozen disk is still waiting');
      await disks.thaw('r1');
      assert.equal(await waiting.exited, 0, 'after the thaw the waiting write completes');
      assert.equal(readFileSync(join(disks.mountPoint('r1'), 'frozen.txt'), 'utf8'), 'written while frozen');
    } finally {
      await disks.close();
      if (waiting !== null) await waiting.exited;
    }
    assert.deepEqual(mountedUnder(directory), [], 'close() unmounted every disk');
  });

  test('close() thaws a disk left frozen before it unmounts it', async () => {
    const disks = await ServerDisks.create(join(directory, 'close'), ['r1']);
    await disks.freeze('r1');
    const waiting = writeAndSync(join(disks.mountPoint('r1'), 'late.txt'), 'late');
    await disks.close();
    assert.equal(await waiting.exited, 0, 'the waiting write completed once close() thawed the disk');
    assert.deepEqual(mountedUnder(join(directory, 'close')), []);
  });
});
