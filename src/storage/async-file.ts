// File operations that do not block the event loop, on raw descriptors (so that synchronous paths
// can still close them): a write that never stops short, fsync and fdatasync, and a directory fsync.
// For snapshots, which are large enough that a synchronous write would stall every connection.

import * as fs from 'node:fs';

/** Writes all of `bytes` at `position`, however many calls that takes (a nearly full disk writes less). */
export async function writeAllAt(fd: number, bytes: Uint8Array, position: number): Promise<void> {
  for (let written = 0; written < bytes.length; ) {
    const count = await new Promise<number>((resolve, reject) => {
      fs.write(fd, bytes, written, bytes.length - written, position + written, (error, bytesWritten) =>
        error === null ? resolve(bytesWritten) : reject(error),
      );
    });
    if (count <= 0) throw new Error(`write made no progress at byte ${written} of ${bytes.length}`);
    written += count;
  }
}

export function openFile(file: string, flags: 'r' | 'w' | 'r+'): Promise<number> {
  return new Promise((resolve, reject) =>
    fs.open(file, flags, (error, fd) => (error === null ? resolve(fd) : reject(error))),
  );
}

/** Reads up to `length` bytes at `position`; fewer only at the end of the file. */
export async function readAt(fd: number, length: number, position: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let read = 0;
  while (read < length) {
    const count = await new Promise<number>((resolve, reject) => {
      fs.read(fd, buffer, read, length - read, position + read, (error, bytesRead) =>
        error === null ? resolve(bytesRead) : reject(error),
      );
    });
    if (count === 0) break;
    read += count;
  }
  return buffer.subarray(0, read);
}

export function fsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) =>
    fs.fsync(fd, (error) => (error === null ? resolve() : reject(error))),
  );
}

export function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) =>
    fs.fdatasync(fd, (error) => (error === null ? resolve() : reject(error))),
  );
}

export function close(fd: number): Promise<void> {
  return new Promise((resolve, reject) =>
    fs.close(fd, (error) => (error === null ? resolve() : reject(error))),
  );
}

/** Makes a directory's entries (a rename, a deletion) durable. */
export async function fsyncDirectoryAsync(directory: string): Promise<void> {
  const handle = await fs.promises.open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
