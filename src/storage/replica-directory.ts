// Recovering a replica's data directory at start, the one place that does it:
//
//   identity    the directory's identity (directory-identity.ts)
//   service.json  which service's data it holds (directory-service.ts; the replica checks it first)
//   snapshots/  kept snapshots (snapshot-store.ts); the newest that verifies is the base
//   log/        the write-ahead log, which continues the base (write-ahead-log.ts, log-recovery.ts)
//   unreported-losses.json  async writes discarded and not yet on the loss record (unreported-losses.ts)
//
// Damage never stops the replica. What is intact is kept (the newest good snapshot and the log
// contiguous after it) and the rest is dropped. If what was dropped may include something this
// replica acknowledged, the directory gets a new identity, so the coordinator treats the replica as
// a new member that counts only once it has fetched everything from the primary. That is the case for:
//
//   a corrupted log record (damage to synced data)                           -> renew
//   a gap between the snapshot and the log (say the newest snapshot is damaged
//     and the log was compacted past the one before it)                      -> renew
//   a damaged snapshot newer than anything the log still covers              -> renew
//   a damaged snapshot the log covers, or a log that diverges from an
//     installed snapshot (a crash before the log was reset)                  -> no loss: keep the identity
//
// The identity is renewed before anything is repaired: a crash in between must not leave a repaired
// directory under its old identity (the next start would see nothing wrong). A log or snapshot of a
// format this build cannot read still refuses to start, with a ConfigError.

import * as path from 'node:path';
import { LogCorruptedError } from '../errors.js';
import type { LostEntry } from '../protocol/messages.js';
import { type Entry, positionZero } from '../protocol/types.js';
import { directoryIdentity, renewDirectoryIdentity } from './directory-identity.js';
import { type DamagedSnapshot, type LoadedSnapshot, SnapshotStore } from './snapshot-store.js';
import { readUnreportedLosses } from './unreported-losses.js';
import { type LogOptions, type RecoveredLog, WriteAheadLog } from './write-ahead-log.js';

export const logDirectoryName = 'log';
export const snapshotDirectoryName = 'snapshots';

export interface ReplicaDirectory {
  readonly identity: string;
  readonly log: WriteAheadLog;
  readonly snapshots: SnapshotStore;
  /** The newest snapshot that verifies: the state before the first of `entries`. */
  readonly snapshot: LoadedSnapshot | null;
  /** The log's entries after the snapshot (from index 1 if there is none). */
  readonly entries: Entry[];
  readonly tornBytesDropped: number;
  /** Snapshot files that failed verification, now set aside as "<file>.damaged" (lost or not). */
  readonly damagedSnapshots: readonly DamagedSnapshot[];
  /** What was lost, when damage may have cost acknowledged data (the identity was then renewed). */
  readonly repaired: string | null;
  /** Async writes it discarded and had not yet seen on the loss record. */
  readonly unreportedLosses: readonly LostEntry[];
  /** Why the list of unreported losses could not be read (set aside; the count may be short), or null. */
  readonly unreportedLossesDamage: string | null;
}

export type ReplicaLogOptions = Partial<Omit<LogOptions, 'base' | 'onCorruption'>>;

/** Opens and recovers the replica data directory `directory`, creating what is missing. */
export function openReplicaDirectory(
  directory: string,
  logOptions: ReplicaLogOptions = {},
): ReplicaDirectory {
  let identity = directoryIdentity(directory);
  const opened = SnapshotStore.open(path.join(directory, snapshotDirectoryName), { setAsideDamaged: false });
  const { store, newest, damaged } = opened;
  const base = newest?.info.position ?? positionZero;
  const logDirectory = path.join(directory, logDirectoryName);

  let renewed = false;
  let log: WriteAheadLog;
  let recovered: RecoveredLog;
  try {
    // First without repairing damage, which throws before it changes a file.
    ({ log, recovered } = WriteAheadLog.open(logDirectory, { ...logOptions, base, onCorruption: 'throw' }));
  } catch (error) {
    if (!(error instanceof LogCorruptedError)) throw error;
    identity = renewDirectoryIdentity(directory);
    renewed = true;
    ({ log, recovered } = WriteAheadLog.open(logDirectory, {
      ...logOptions,
      base,
      onCorruption: 'truncate',
    }));
  }

  const losses: string[] = [];
  const { corruption } = recovered;
  if (corruption !== null) {
    losses.push(
      `the write-ahead log was damaged where index ${corruption.index} was (${corruption.file}, byte offset ` +
        `${corruption.offset}: ${corruption.reason}), and only the entries before it were kept`,
    );
  }
  if (recovered.gap) {
    losses.push(
      `the write-ahead log did not reach back to the newest intact snapshot (index ${base.index}), so ` +
        'the entries between them were lost and the log after them was dropped',
    );
  }
  const lastIndex = log.lastPosition.index;
  for (const snapshot of damaged) {
    if (snapshot.position.index <= lastIndex) continue;
    losses.push(
      `snapshot ${snapshot.file} was damaged (${snapshot.reason}), and the log ends at index ${lastIndex}, ` +
        `before its index ${snapshot.position.index}`,
    );
  }
  if (losses.length > 0 && !renewed) identity = renewDirectoryIdentity(directory);
  store.setAsideDamaged();
  const unreported = readUnreportedLosses(directory);

  const repaired =
    losses.length === 0
      ? null
      : `${losses.join('; ')}. The directory has a new identity (${identity}): this replica rejoins as a ` +
        'new member and counts again only once it has fetched everything from the primary.';
  return {
    identity,
    log,
    snapshots: store,
    snapshot: newest,
    entries: recovered.entries,
    tornBytesDropped: recovered.tornBytesDropped,
    damagedSnapshots: damaged,
    repaired,
    unreportedLosses: unreported.entries,
    unreportedLossesDamage: unreported.damage,
  };
}
