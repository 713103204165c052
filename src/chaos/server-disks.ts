// Each server's data directory (a replica's, the coordinator's) on a file system of its own, so that
// one server's disk can hang or fill up while the others and the run's logs go on: an ext4 image (a
// sparse file in the run's directory) mounted through a loop device, or XFS (RHEL's default), whose
// allocation and crash recovery are another file system's, so a run can hold the servers to both.
// - Hung: `fsfreeze --freeze` makes every write and every fsync to that file system wait in the
//   kernel, as on a disk that stopped answering, until `fsfreeze --unfreeze`. A process waiting there
//   cannot even be killed, so every frozen disk is thawed before any process is stopped, and close()
//   thaws before it unmounts.
// - Full: `fallocate` gives every free block to filler files beside the data directory, so the next
//   write that needs a block fails with ENOSPC, as on a disk something else filled; removing them
//   frees the space. fallocate reserves blocks without writing them: the image stays sparse.
// - Power cut: `xfs_io -x -c shutdown` shuts the file system down without flushing anything (ext4's
//   EXT4_IOC_SHUTDOWN with NOLOGFLUSH, what xfstests uses to stand for a power failure): every write
//   not yet synced to the device is dropped, and the journal too. Unmounted and mounted again, it
//   holds what a machine finds on its disk after the power came back, once the journal is replayed:
//   whatever was fsynced, and of the rest only what the kernel happened to write back before.
//
// Needs root, a loop device, mkfs.ext4 (or mkfs.xfs), mount, fsfreeze and fallocate;
// `serverDisksUnavailable` says what is missing, so a run (or a test) can leave the disk nemeses out
// and say why. Power cuts need xfs_io too (Debian's xfsprogs): `powerCutsUnavailable`.

import { execFile, execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, truncateSync } from 'node:fs';
import { readdir, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { assert } from '../protocol/assert.js';

const run = promisify(execFile);

/** The image's size: sparse, so only what a server writes takes space. */
const IMAGE_BYTES = 2 * 1024 * 1024 * 1024;
const TOOLS = ['mount', 'umount', 'fsfreeze', 'losetup', 'fallocate'] as const;

/** The file systems a server's disk can be made with (`chaos --file-system`). */
export const fileSystems = ['ext4', 'xfs'] as const;
export type FileSystem = (typeof fileSystems)[number];
/** Each file system's mkfs and its arguments before the image: quiet, and over whatever is there. */
const MAKE_FILE_SYSTEM: Readonly<Record<FileSystem, readonly [string, ...string[]]>> = {
  ext4: ['mkfs.ext4', '-q', '-F'],
  xfs: ['mkfs.xfs', '-q', '-f'],
};
/** The Debian package of each file system's tools. */
const FILE_SYSTEM_PACKAGE: Readonly<Record<FileSystem, string>> = { ext4: 'e2fsprogs', xfs: 'xfsprogs' };
/** The names of the files that fill a disk, at its root. */
const FILLER_PREFIX = 'filler.';

/** Why replica disks of `fileSystem` cannot be made here, or null when they can. */
export function serverDisksUnavailable(fileSystem: FileSystem = 'ext4'): string | null {
  if (process.getuid?.() !== 0) return 'it needs root (mount, fsfreeze)';
  const [mkfs] = MAKE_FILE_SYSTEM[fileSystem];
  if (!installed(mkfs)) return `${mkfs} is not installed (Debian package ${FILE_SYSTEM_PACKAGE[fileSystem]})`;
  for (const tool of TOOLS) {
    if (!installed(tool)) return `${tool} is not installed`;
  }
  try {
    execFileSync('losetup', ['--find'], { stdio: 'ignore' });
  } catch {
    return 'no free loop device (losetup --find failed)';
  }
  return null;
}

/** Why power cuts cannot be made here (given server disks), or null when they can. */
export function powerCutsUnavailable(): string | null {
  return installed('xfs_io') ? null : 'xfs_io is not installed (Debian package xfsprogs)';
}

function installed(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** How long a power cut's unmount is tried again while the killed process's files are let go. */
const UNMOUNT_RETRY_MS = 5000;
/** How long a power cut waits, once unmounted, for the kernel to let go of the shut-down file system. */
const DETACH_WAIT_MS = 30_000;

export class ServerDisks {
  /** Each frozen file system, by server name: the freeze command's run (a thaw waits for it). */
  private readonly frozen = new Map<string, Promise<unknown>>();
  private readonly mounted: string[] = [];

  private constructor(
    private readonly directory: string,
    readonly fileSystem: FileSystem,
  ) {}

  /** Makes and mounts a file system for each of `ids` under `directory`; on failure, unmounts what it mounted. */
  static async create(
    directory: string,
    ids: readonly string[],
    fileSystem: FileSystem = 'ext4',
  ): Promise<ServerDisks> {
    mkdirSync(directory, { recursive: true });
    const disks = new ServerDisks(directory, fileSystem);
    const [mkfs, ...mkfsArguments] = MAKE_FILE_SYSTEM[fileSystem];
    try {
      for (const id of ids) {
        const image = disks.imagePath(id);
        mkdirSync(disks.mountPoint(id), { recursive: true });
        closeSync(openSync(image, 'w'));
        truncateSync(image, IMAGE_BYTES);
        await run(mkfs, [...mkfsArguments, image]);
        await run('mount', ['-o', 'loop', image, disks.mountPoint(id)]);
        disks.mounted.push(id);
      }
    } catch (error) {
      await disks.close();
      throw error;
    }
    return disks;
  }

  private imagePath(id: string): string {
    return join(this.directory, `${id}.img`);
  }

  /** The root of `id`'s file system (its data directory and anything moved aside live below it). */
  mountPoint(id: string): string {
    return join(this.directory, id);
  }

  has(id: string): boolean {
    return this.mounted.includes(id);
  }

  isFrozen(id: string): boolean {
    return this.frozen.has(id);
  }

  /** From now on every write and fsync to `id`'s file system waits, until thaw(id). */
  async freeze(id: string): Promise<void> {
    if (!this.has(id) || this.frozen.has(id)) return;
    // Recorded before it runs: a thaw that comes meanwhile waits for it, then undoes it.
    const freezing = run('fsfreeze', ['--freeze', this.mountPoint(id)]);
    this.frozen.set(
      id,
      freezing.catch(() => {}),
    );
    try {
      await freezing;
    } catch (error) {
      this.frozen.delete(id);
      throw error;
    }
  }

  async thaw(id: string): Promise<void> {
    const freezing = this.frozen.get(id);
    if (freezing === undefined) return;
    await freezing;
    await run('fsfreeze', ['--unfreeze', this.mountPoint(id)]).catch((error: unknown) => {
      // "Invalid argument": it was not frozen (its freeze failed); anything else is real.
      if (!String(error).includes('Invalid argument')) throw error;
    });
    this.frozen.delete(id);
  }

  async thawAll(): Promise<void> {
    for (const id of [...this.frozen.keys()]) await this.thaw(id);
  }

  /**
   * Takes every free block of `id`'s file system, so that its server's next write that needs one
   * fails with ENOSPC; returns the bytes taken. What is already written stays readable, and a write
   * into blocks a file already has still succeeds, as on a real full disk. The largest fallocate that
   * fits, then halves of what is left, down to one block.
   */
  async fill(id: string): Promise<number> {
    if (!this.has(id)) return 0;
    const root = this.mountPoint(id);
    const before = await statfs(root);
    let size = before.bfree * before.bsize;
    let files = 0;
    while (size >= before.bsize) {
      try {
        await run('fallocate', ['--length', String(size), join(root, `${FILLER_PREFIX}${files}`)]);
        files += 1;
      } catch {
        // A fallocate that did not fit may have kept part of its space; the next try reuses its name.
        size = Math.floor(size / 2 / before.bsize) * before.bsize;
      }
    }
    const after = await statfs(root);
    return (before.bfree - after.bfree) * before.bsize;
  }

  /** Removes what fill(id) put on `id`'s file system: its space is free again. */
  async free(id: string): Promise<void> {
    if (!this.has(id)) return;
    const root = this.mountPoint(id);
    for (const name of await readdir(root)) {
      if (name.startsWith(FILLER_PREFIX)) await rm(join(root, name), { force: true });
    }
  }

  /**
   * The power fails under `id`'s file system: everything written to it and not yet synced is lost,
   * then it is mounted again, as after a reboot. Its server's process must be dead first (as it would
   * be: its machine went down with it); the unmount is not lazy, so the file system is mounted once.
   */
  async cutPower(id: string): Promise<void> {
    if (!this.has(id)) return;
    assert(!this.frozen.has(id), `the power of ${id}'s disk was cut while it was frozen`);
    const root = this.mountPoint(id);
    await run('xfs_io', ['-x', '-c', 'shutdown', root]);
    const endMs = performance.now() + UNMOUNT_RETRY_MS;
    for (;;) {
      try {
        await run('umount', [root]);
        break;
      } catch (error) {
        if (performance.now() > endMs) throw error;
        await sleep(100);
      }
    }
    await this.waitDetached(id);
    await run('mount', ['-o', 'loop', this.imagePath(id), root]);
  }

  /**
   * Waits until no loop device holds `id`'s image. An unmount can return while the kernel still
   * holds the shut-down file system (its loop device is let go with it); `mount -o loop` then reuses
   * that device, and the kernel hands back the same shut-down file system rather than reading the
   * image again, so every access fails with EIO (seen once in CI: no "recovery complete" in the
   * kernel's log, and the restarted replica could not read its service.json).
   */
  private async waitDetached(id: string): Promise<void> {
    const image = this.imagePath(id);
    const endMs = performance.now() + DETACH_WAIT_MS;
    for (;;) {
      const { stdout } = await run('losetup', ['--associated', image]);
      if (stdout.trim() === '') return;
      if (performance.now() > endMs) {
        throw new Error(
          `${id}'s disk image is still attached (${stdout.trim()}) ${DETACH_WAIT_MS / 1000} s after its file system was unmounted`,
        );
      }
      await sleep(100);
    }
  }

  /** Thaws and unmounts every file system; the images stay, with the run's directory. */
  async close(): Promise<void> {
    await this.thawAll();
    for (const id of this.mounted.splice(0)) {
      // Lazy: a process that has not quite exited must not leave the mount behind.
      await run('umount', ['--lazy', this.mountPoint(id)]);
    }
  }
}
