// The async writes a replica discarded (a truncation or an installed snapshot dropped them after a
// failover) and has not yet seen on the cluster's loss record. Each may have been acknowledged, so
// the replica reports them until they are recorded; this file keeps that list across a crash, so a
// crash between the truncation and the record does not take them out of the count.
//
// Replaced whole by writeFileDurably before the truncation that discards the writes is queued, so the
// log never loses them on disk before this file names them. An empty list removes the file. A file
// that does not parse (it is never torn: it is renamed into place) is set aside as "<file>.damaged"
// and the replica starts without it: the count may then be short, and the caller says so.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LostEntry } from '../protocol/messages.js';
import { clientId, logIndex, viewNumber } from '../protocol/types.js';
import { fsyncDirectory, writeFileDurably } from './durable-file.js';

export const unreportedLossesFileName = 'unreported-losses.json';
const formatVersion = 1;

export interface UnreportedLosses {
  readonly entries: readonly LostEntry[];
  /** Why the file could not be read (it was set aside), or null. */
  readonly damage: string | null;
}

/** The list kept in `directory`: empty when there is no file. */
export function readUnreportedLosses(directory: string): UnreportedLosses {
  const file = path.join(directory, unreportedLossesFileName);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], damage: null };
    throw error;
  }
  try {
    return { entries: parseUnreportedLosses(JSON.parse(text)), damage: null };
  } catch (error) {
    fs.renameSync(file, `${file}.damaged`);
    fsyncDirectory(directory);
    return { entries: [], damage: `${file}: ${(error as Error).message}` };
  }
}

/** Replaces the list kept in `directory`, durably; an empty list removes the file. */
export function writeUnreportedLosses(directory: string, entries: readonly LostEntry[]): void {
  const file = path.join(directory, unreportedLossesFileName);
  if (entries.length === 0) {
    if (!fs.existsSync(file)) return;
    fs.rmSync(file);
    fsyncDirectory(directory);
    return;
  }
  const record = { version: formatVersion, entries };
  writeFileDurably(file, Buffer.from(`${JSON.stringify(record)}\n`));
}

function parseUnreportedLosses(value: unknown): LostEntry[] {
  if (typeof value !== 'object' || value === null) throw new Error('not a JSON object');
  const { version, entries } = value as { version?: unknown; entries?: unknown };
  if (version !== formatVersion) throw new Error(`format version ${String(version)}, not ${formatVersion}`);
  if (!Array.isArray(entries)) throw new Error('"entries" is not a list');
  return entries.map((entry: unknown, position) => {
    const { view, index, clientId: id, requestNumber } = (entry ?? {}) as Record<string, unknown>;
    const whole = (number: unknown, least: number) =>
      typeof number === 'number' && Number.isSafeInteger(number) && number >= least;
    if (
      !whole(view, 1) ||
      !whole(index, 1) ||
      !whole(requestNumber, 0) ||
      typeof id !== 'string' ||
      id === ''
    ) {
      throw new Error(`entry ${position} is not { view, index, clientId, requestNumber }`);
    }
    return {
      view: viewNumber(view as number),
      index: logIndex(index as number),
      clientId: clientId(id),
      requestNumber: requestNumber as number,
    };
  });
}
