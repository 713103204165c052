// The coordinator's durable memory: the current view with its members' identities, whether its
// primary acknowledged it, and the last acknowledged view, in one small file replaced atomically:
// write every byte of a temporary file, fsync it, rename it over the old one, fsync the directory. A
// write that fails or makes no progress (a full disk) throws before the rename, so the previous
// good file stays; the file is never replaced by a short one. A missing file loads as null: the
// directory lost its state, or the cluster is new — only the operator can say which.
//
// load() treats the file as untrusted input: anything but a well-formed state is a ConfigError.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import type { CoordinatorState, ViewRecord } from '../protocol/effects.js';
import { type ReplicaIdentity, replicaId, viewNumber } from '../protocol/types.js';

const fileName = 'coordinator-state.json';
/** Version 2: views with their members' identities, and the last acknowledged view. */
const formatVersion = 2;

/** The one file-system call tests replace (to write short, or fail part way); node:fs otherwise. */
export interface StateFileWriter {
  /** Writes up to `length` bytes of `buffer` from `offset`; returns how many it wrote. */
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
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

  /** The stored state, or null when there is no file (a new cluster, or a directory that lost its state). */
  load(): CoordinatorState | null {
    if (!fs.existsSync(this.file)) return null;
    try {
      const stored: unknown = JSON.parse(fs.readFileSync(this.file, 'utf8'));
      if (!isObject(stored) || stored.format !== formatVersion) {
        throw new Error(`not format ${formatVersion} (written by another version of understudy)`);
      }
      if (typeof stored.acknowledged !== 'boolean') throw new Error('"acknowledged" is not a boolean');
      return {
        current: viewRecord(stored.current, 'current'),
        acknowledged: stored.acknowledged,
        lastAcknowledged: viewRecord(stored.lastAcknowledged, 'lastAcknowledged'),
      };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ConfigError(`${this.file} is not a valid coordinator state: ${reason}`);
    }
  }

  save(state: CoordinatorState): void {
    const temporary = `${this.file}.tmp`;
    const bytes = Buffer.from(JSON.stringify({ format: formatVersion, ...state }), 'utf8');
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

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isIdList = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((id) => typeof id === 'string' && id !== '');

function viewRecord(value: unknown, name: string): ViewRecord | null {
  if (value === null) return null;
  if (!isObject(value) || !isObject(value.view) || !isObject(value.identities)) {
    throw new Error(`"${name}" is not a view with identities`);
  }
  const { number, primary, backups, learners } = value.view;
  if (!Number.isSafeInteger(number) || (number as number) < 1 || typeof primary !== 'string') {
    throw new Error(`"${name}.view" lacks a number or a primary`);
  }
  if (!isIdList(backups) || !isIdList(learners)) throw new Error(`"${name}.view" has bad member lists`);
  const identities: Record<string, ReplicaIdentity> = {};
  for (const [id, identity] of Object.entries(value.identities)) {
    if (
      !isObject(identity) ||
      !Number.isSafeInteger(identity.incarnation) ||
      typeof identity.directory !== 'string'
    ) {
      throw new Error(`"${name}.identities.${id}" is not an identity`);
    }
    identities[id] = { incarnation: identity.incarnation as number, directory: identity.directory };
  }
  return {
    view: {
      number: viewNumber(number as number),
      primary: replicaId(primary),
      backups: backups.map(replicaId),
      learners: learners.map(replicaId),
    },
    identities,
  };
}
