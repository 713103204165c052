// The coordinator's durable memory: the current view with its members' identities, whether its
// primary acknowledged it, and the last acknowledged view, in one small file replaced whole and
// made durable (src/storage/durable-file.ts: never replaced by a short one). A missing file loads
// as null: the directory lost its state, or the cluster is new — only the operator can say which.
//
// load() treats the file as untrusted input: anything but a well-formed state is a ConfigError.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import type { CoordinatorState, ViewRecord } from '../protocol/effects.js';
import { BASE_FORMAT_LEVEL } from '../protocol/format-level.js';
import { type ReplicaIdentity, replicaId, viewNumber } from '../protocol/types.js';
import { type FileWriter, writeFileDurably } from '../storage/durable-file.js';

const fileName = 'coordinator-state.json';
/**
 * Version 2: views with their members' identities, and the last acknowledged view; since 2026-12-06
 * the cluster's format level too, which a state without it reads as level 1 (and older builds ignore).
 */
const formatVersion = 2;

/** The one file-system call tests replace (to write short, or fail part way). */
export type StateFileWriter = FileWriter;

export class StateStore {
  private readonly file: string;
  private longestSaveMs = 0;

  constructor(
    directory: string,
    private readonly writer: StateFileWriter = fs,
  ) {
    fs.mkdirSync(directory, { recursive: true });
    this.file = path.join(directory, fileName);
  }

  /** The stored state, or null when there is no file (a new cluster, or a directory that lost its state). */
  load(): CoordinatorState | null {
    if (!fs.existsSync(this.file)) return null;
    return parseCoordinatorState(fs.readFileSync(this.file, 'utf8'), this.file);
  }

  save(state: CoordinatorState): void {
    const startedMs = performance.now();
    try {
      writeFileDurably(this.file, encodeCoordinatorState(state), this.writer);
    } finally {
      this.longestSaveMs = Math.max(this.longestSaveMs, performance.now() - startedMs);
    }
  }

  /** The longest a save took since the last call of this, in ms: it holds its caller's event loop. */
  takeLongestSaveMs(): number {
    const savedMs = this.longestSaveMs;
    this.longestSaveMs = 0;
    return savedMs;
  }
}

/** The stored form of a coordinator state, in a file or in etcd. */
export function encodeCoordinatorState(state: CoordinatorState): Buffer {
  return Buffer.from(JSON.stringify({ format: formatVersion, ...state }), 'utf8');
}

/** Reads a stored state (`source` names where it came from, for the error); a ConfigError if it is not one. */
export function parseCoordinatorState(text: string, source: string): CoordinatorState {
  try {
    const stored: unknown = JSON.parse(text);
    if (!isObject(stored) || stored.format !== formatVersion) {
      throw new Error(`not format ${formatVersion} (written by another version of understudy)`);
    }
    if (typeof stored.acknowledged !== 'boolean') throw new Error('"acknowledged" is not a boolean');
    return {
      current: viewRecord(stored.current, 'current'),
      acknowledged: stored.acknowledged,
      lastAcknowledged: viewRecord(stored.lastAcknowledged, 'lastAcknowledged'),
      formatLevel: storedFormatLevel(stored.formatLevel),
    };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`${source} is not a valid coordinator state: ${reason}`);
  }
}

/** A state written before format levels existed has none: its cluster logged level 1. */
function storedFormatLevel(value: unknown): number {
  if (value === undefined) return BASE_FORMAT_LEVEL;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < BASE_FORMAT_LEVEL) {
    throw new Error('"formatLevel" is not a positive integer');
  }
  return value;
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
