// Saving a snapshot of a cluster to a file (`understudy snapshot save`, `Client.saveSnapshot`): the
// replicated client reads the primary's snapshot, the saved-snapshot writer puts it on disk with the
// service it belongs to, and only a complete file that verifies, read back from disk, gets the name.

import type { SaveReady } from '../protocol/messages.js';
import { type SavedSnapshot, SavedSnapshotWriter } from '../storage/saved-snapshot.js';
import type { ReplicatedClient, SaveSnapshotOptions } from './replicated-client.js';

/** What was saved: the snapshot's position and size, and the service and replica it came from. */
export interface SavedSnapshotSummary {
  readonly file: string;
  readonly index: number;
  readonly view: number;
  readonly bytes: number;
  readonly service: SaveReady['service'];
  readonly replica: string;
  readonly savedAt: string;
}

/** Saves a snapshot of the cluster `client` talks to into `file` (see ReplicatedClient.saveSnapshot). */
export async function saveSnapshotToFile(
  client: Pick<ReplicatedClient, 'saveSnapshot'>,
  file: string,
  options: SaveSnapshotOptions = {},
): Promise<SavedSnapshotSummary> {
  const writer = new SavedSnapshotWriter(file);
  let saved: SavedSnapshot;
  try {
    const ready = await client.saveSnapshot(
      {
        begin: (named) =>
          writer.begin({ service: named.service, replica: named.replica, savedAt: new Date().toISOString() }),
        write: (bytes) => writer.write(bytes),
      },
      options,
    );
    saved = await writer.finish(ready.snapshot);
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return {
    file,
    index: saved.position.index,
    view: saved.position.view,
    bytes: saved.snapshotFile.length,
    service: saved.metadata.service,
    replica: saved.metadata.replica,
    savedAt: saved.metadata.savedAt,
  };
}
