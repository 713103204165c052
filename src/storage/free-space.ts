// Room on a file system, asked before a write whose size is known in advance (a snapshot written or
// received). Such a write that cannot fit is refused before it takes a block. Tried anyway, it would
// take the disk's last free blocks and then give them back. Meanwhile the log, whose segments are
// sparse files that take blocks as they fill, has to append. A log append that fails stops the
// replica, so a snapshot that could never fit would stop a replica whose log still had room.

import { statfs } from 'node:fs/promises';

/** The bytes this process may still write on the file system that holds `directory`. */
export type FreeSpaceReader = (directory: string) => Promise<number>;

/**
 * Room left to the log's appends beyond a snapshot's size: a snapshot that would leave less is
 * not tried (several seconds of appends at full speed, and a margin for the file system's own
 * metadata).
 */
export const logHeadroomBytes = 8 * 1024 * 1024;

/** How a NoRoomError's message begins (the chaos runner counts the warnings that carry it). */
export const noRoomMessageStart = 'not tried: no room';

/** A write was not tried: the file system has too little room for it (nothing was written). */
export class NoRoomError extends Error {
  override name = 'NoRoomError';
}

/**
 * statfs's available blocks, what `df` shows as available, also for root. Root may write into the
 * blocks ext4 reserves for it, but statfs cannot say how many of its free blocks ext4 keeps back
 * for its own metadata (on a disk filled by root, `bfree` still showed 16 MiB that no write could
 * take). So a replica run as root leaves its reserved blocks to its log as well.
 */
export const writableBytes: FreeSpaceReader = async (directory) => {
  const stats = await statfs(directory);
  return stats.bavail * stats.bsize;
};

/**
 * Resolves if `bytes` fit on the file system of `directory` with logHeadroomBytes to spare, else
 * rejects with NoRoomError saying how much is free. `what` names the write ("a snapshot").
 */
export async function ensureRoom(
  directory: string,
  bytes: number,
  what: string,
  readFree: FreeSpaceReader = writableBytes,
): Promise<void> {
  const free = await readFree(directory);
  if (free >= bytes + logHeadroomBytes) return;
  throw new NoRoomError(
    `${noRoomMessageStart} for ${what} of ${bytes} bytes and the ${logHeadroomBytes} bytes left to ` +
      `the log's appends: ${free} bytes free on the file system that holds ${directory}`,
  );
}
