// Restoring a saved snapshot (`understudy snapshot restore`): a new replica data directory whose
// only content is that snapshot, and the record of whose service it holds. A replica started on it
// recovers the snapshot's state as if it had taken the snapshot itself, with an empty log after it
// and a new directory identity. The directory is built aside (`<dir>.restoring`) and renamed into
// place once complete, so a restore cut short never leaves a directory a replica would start on.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import { claimDirectoryForService } from './directory-service.js';
import { fsyncDirectory, writeFileDurably } from './durable-file.js';
import { snapshotDirectoryName } from './replica-directory.js';
import type { SavedSnapshot } from './saved-snapshot.js';
import { snapshotFileName } from './snapshot-file.js';

/** Makes `directory` (absent or empty) a replica data directory holding `saved`. */
export function restoreReplicaDirectory(saved: SavedSnapshot, directory: string): void {
  if (fs.existsSync(directory) && fs.readdirSync(directory).length > 0) {
    throw new ConfigError(
      `${directory} is not empty: a snapshot is restored only into a new data directory (move this one aside)`,
    );
  }
  const aside = `${directory}.restoring`;
  fs.rmSync(aside, { recursive: true, force: true });
  const snapshots = path.join(aside, snapshotDirectoryName);
  fs.mkdirSync(snapshots, { recursive: true });
  const { service } = saved.metadata;
  claimDirectoryForService(aside, service, service);
  writeFileDurably(path.join(snapshots, snapshotFileName(saved.position)), saved.snapshotFile);
  fsyncDirectory(aside);
  fs.rmSync(directory, { recursive: true, force: true });
  fs.renameSync(aside, directory);
  fsyncDirectory(path.dirname(path.resolve(directory)));
}
