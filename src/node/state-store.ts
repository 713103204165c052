// The coordinator's durable memory: the current view and the incarnation of its primary, in one
// small file replaced atomically: write every byte of a temporary file, fsync it, rename it over the
// old one, fsync the directory. A write that fails or makes no progress (a full disk) throws before
// the rename, so the previous good file stays; the file is never replaced by a short one.
//
// load() treats the file as untrusted input: anything but a well-formed state is a ConfigError.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import type { CoordinatorState } from '../protocol/effects.js';
import { replicaId, type View, viewNumber } from '../protocol/types.js';

const fileName = 'coordinator-state.json';

/** The one file-system call tests replace (to write short, or fail part way); node:fs otherwise. */
export interface StateFileWriter {
  /** Writes up to `length` bytes of `buffer` from `offset`; returns how many it wrote. */
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

function parseView(value: unknown): View | null {
  if (value === null) return null;
  if (!isRecord(value)) throw new Error('the view is not an object');
  const { number, primary, backups, learners } = value;
  if (!isCount(number)) throw new Error('the view number is not a non-negative integer');
  if (typeof primary !== 'string') throw new Error('the view has no primary');
  if (!isStringArray(backups) || !isStringArray(learners)) {
    throw new Error('the view backups and learners are not lists of replica ids');
  }
  return {
    number: viewNumber(number),
    primary: replicaId(primary),
    backups: backups.map(replicaId),
    learners: learners.map(replicaId),
  };
}

export class StateStore {
  private readonly file: string;

  constructor(
    private readonly directory: string,
    private readonly writer: StateFileWriter = fs,
  ) {
    fs.mkdirSync(directory, { recursive: true });
    this.file = path.join(directory, fileName);
  }

  load(): CoordinatorState {
    if (!fs.existsSync(this.file)) return { view: null, primaryIncarnation: null };
    try {
      const stored: unknown = JSON.parse(fs.readFileSync(this.file, 'utf8'));
      if (!isRecord(stored)) throw new Error('not an object');
      // Absent in files written before the coordinator stored it: the same as not yet acknowledged.
      const primaryIncarnation = stored.primaryIncarnation ?? null;
      if (primaryIncarnation !== null && !isCount(primaryIncarnation)) {
        throw new Error('primaryIncarnation is neither null nor a non-negative integer');
      }
      return { view: parseView(stored.view), primaryIncarnation };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ConfigError(`${this.file} is not a valid coordinator state: ${reason}`);
    }
  }

  save(state: CoordinatorState): void {
    const temporary = `${this.file}.tmp`;
    const bytes = Buffer.from(JSON.stringify(state), 'utf8');
    const fd = fs.openSync(temporary, 'w');
    try {
      this.writeAll(fd, bytes, temporary);
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
    fs.renameSync(temporary, this.file);
    const directoryFd = fs.openSync(this.directory, 'r');
    try {
      fs.fsyncSync(directoryFd);
    } finally {
      fs.closeSync(directoryFd);
    }
  }

  /** writeSync may write fewer bytes than asked (a nearly full disk): write until all are written. */
  private writeAll(fd: number, bytes: Buffer, file: string): void {
    for (let written = 0; written < bytes.length; ) {
      const count = this.writer.writeSync(fd, bytes, written, bytes.length - written);
      if (!Number.isSafeInteger(count) || count <= 0 || count > bytes.length - written) {
        throw new Error(
          `writing ${file} made no progress at byte ${written} of ${bytes.length} (wrote ${count})`,
        );
      }
      written += count;
    }
  }
}
