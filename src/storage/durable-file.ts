// Small files replaced whole and made durable: write every byte of a temporary file, fsync it,
// rename it over the old one, fsync the directory. A write that fails or makes no progress (a full
// disk) throws before the rename, so the previous file stays; a file is never replaced by a short one.

import * as fs from 'node:fs';
import * as path from 'node:path';

/** The one file-system call tests replace (to write short, or fail part way); node:fs otherwise. */
export interface FileWriter {
  /** Writes up to `length` bytes of `buffer` from `offset`; returns how many it wrote. */
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
}

export function fsyncDirectory(directory: string): void {
  const fd = fs.openSync(directory, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function writeFileDurably(file: string, bytes: Uint8Array, writer: FileWriter = fs): void {
  const temporary = `${file}.tmp`;
  const fd = fs.openSync(temporary, 'w');
  try {
    writeAll(writer, fd, bytes, temporary);
    fs.fsyncSync(fd);
  } catch (error) {
    fs.closeSync(fd);
    try {
      fs.rmSync(temporary, { force: true });
    } catch {
      // Best effort: what matters is the previous file, which is untouched.
    }
    throw error;
  }
  fs.closeSync(fd);
  fs.renameSync(temporary, file);
  fsyncDirectory(path.dirname(file));
}

/** writeSync may write fewer bytes than asked (a nearly full disk): write until all are written. */
function writeAll(writer: FileWriter, fd: number, bytes: Uint8Array, file: string): void {
  for (let written = 0; written < bytes.length; ) {
    const count = writer.writeSync(fd, bytes, written, bytes.length - written);
    if (!Number.isSafeInteger(count) || count <= 0 || count > bytes.length - written) {
      throw new Error(
        `writing ${file} made no progress at byte ${written} of ${bytes.length} (wrote ${count})`,
      );
    }
    written += count;
  }
}
