// The coordinator's durable memory: the current view with its members' identities, whether its
// primary acknowledged it, and the last acknowledged view, in one small file replaced atomically
// (write a temporary file, fsync it, rename over the old one, fsync the directory). A missing file
// loads as the empty state; the coordinator then refuses to act if replicas report views.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import { type CoordinatorState, emptyCoordinatorState, type ViewRecord } from '../protocol/effects.js';
import { type ReplicaIdentity, replicaId, viewNumber } from '../protocol/types.js';

const fileName = 'coordinator-state.json';
/** Version 2: views with their members' identities, and the last acknowledged view. */
const formatVersion = 2;

export class StateStore {
  private readonly file: string;

  constructor(private readonly directory: string) {
    fs.mkdirSync(directory, { recursive: true });
    this.file = path.join(directory, fileName);
  }

  /** The stored state, or the empty one when there is no file (a new coordinator, or one that lost its disk). */
  load(): CoordinatorState {
    if (!fs.existsSync(this.file)) return emptyCoordinatorState;
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
    const fd = fs.openSync(temporary, 'w');
    try {
      fs.writeSync(fd, JSON.stringify({ format: formatVersion, ...state }));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, this.file);
    const directoryFd = fs.openSync(this.directory, 'r');
    try {
      fs.fsyncSync(directoryFd);
    } finally {
      fs.closeSync(directoryFd);
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
