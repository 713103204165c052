// `understudy snapshot save FILE`: a snapshot of a running cluster's state, holding every write
// acknowledged before the command started, saved to a file; `understudy snapshot restore FILE --dir
// DIR`: a new replica data directory holding it. A cluster restored that way starts from the saved
// state: every replica's directory restored from the same file, and the coordinator, whose own state
// is new, told to rebuild the view from them (--recover-from-replicas), or `understudy start --restore`.

import type { Command } from 'commander';
import { describeService, type ServiceIdentity, sameService } from '../protocol/service-identity.js';
import { decodeSnapshotPayload } from '../protocol/snapshot-payload.js';
import type { StateSize } from '../protocol/state-machine.js';
import { keyValueService, keyValueStoreOfSnapshot } from '../state-machine/index.js';
import { restoreReplicaDirectory } from '../storage/restore.js';
import { checkSaveTarget, readSavedSnapshot } from '../storage/saved-snapshot.js';
import { withClient } from './kv-commands.js';
import { addClientOptions, type ClientFlags, integerIn } from './options.js';

const saveWithinSecondsDefault = 600;

function printLine(line: string): void {
  process.stdout.write(`${line}\n`);
}

export function addSnapshotCommands(program: Command): void {
  const snapshot = program
    .command('snapshot')
    .summary('save a snapshot of a running cluster to a file, or restore one into a data directory')
    .description(
      'save: a snapshot of the cluster holding every write acknowledged before the command started, ' +
        'written to FILE. restore: a new replica data directory holding a saved snapshot; start every ' +
        'replica of a new cluster on one, and its coordinator with --recover-from-replicas naming them ' +
        '(or `understudy start --restore FILE` for a local cluster).',
    );

  addClientOptions(
    snapshot
      .command('save')
      .summary('save a snapshot of the cluster to FILE')
      .description(
        "Save a snapshot of the cluster to FILE: the primary takes one at its log's end (or names a newer " +
          'kept one), and once it is committed its file is read, checked chunk by chunk, read back from ' +
          'disk and verified whole before it is named FILE (FILE.part until then). A cluster run with ' +
          '--auth-file wants an admin token.',
      )
      .argument('<file>', 'where to write it (replaced if it exists)')
      .option(
        '--within <seconds>',
        'how long the whole save may take, retries included',
        integerIn(1, 24 * 60 * 60),
        saveWithinSecondsDefault,
      ),
  ).action((file: string, flags: ClientFlags & { readonly within: number }) => {
    checkSaveTarget(file);
    return withClient(flags, async (client) => {
      const showProgress = process.stderr.isTTY && flags.json !== true;
      const saved = await client.saveSnapshot(file, {
        deadlineMs: flags.within * 1000,
        ...(showProgress
          ? {
              onProgress: (written, total) =>
                process.stderr.write(
                  `\rsaving ${written.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} bytes`,
                ),
            }
          : {}),
      });
      if (showProgress) process.stderr.write('\n');
      if (flags.json) {
        printLine(JSON.stringify(saved));
        return;
      }
      printLine(
        `saved ${saved.file}: the state at index ${saved.index} (view ${saved.view}), ` +
          `${saved.bytes.toLocaleString('en-US')} bytes of ${describeService(saved.service)}, from ${saved.replica}`,
      );
    });
  });

  snapshot
    .command('status')
    .summary('check a saved snapshot whole and say what it holds')
    .description(
      'Check every byte of the saved snapshot FILE (exit 1 if it is damaged, saying where) and print what it ' +
        'holds: the service, where and when it was saved, its log position, and for the key/value store its ' +
        'keys and bytes; client sessions and async writes recorded lost. Nothing is changed.',
    )
    .argument('<file>', 'a file `understudy snapshot save` wrote')
    .option('--json', 'print one JSON object on stdout')
    .action((file: string, flags: { readonly json?: boolean }) => {
      const status = savedSnapshotStatus(file);
      if (flags.json) {
        printLine(JSON.stringify(status));
        return;
      }
      const { service, replica, savedAt, index, view, bytes, keys, stateBytes, sessions, asyncLost } = status;
      const state =
        keys === null
          ? ''
          : `: ${keys.toLocaleString('en-US')} keys, ${stateBytes?.toLocaleString('en-US')} bytes of state`;
      printLine(`${file}: a saved snapshot of ${describeService(service)}, intact`);
      printLine(`  saved from ${replica} at ${savedAt}, the state at index ${index} (view ${view})`);
      printLine(
        `  ${bytes.toLocaleString('en-US')} bytes${state}; ${sessions.toLocaleString('en-US')} client sessions; ` +
          `${asyncLost.toLocaleString('en-US')} async writes recorded lost`,
      );
    });

  snapshot
    .command('restore')
    .summary('make a new replica data directory from a saved snapshot')
    .description(
      'Make DIR, which must be absent or empty, a replica data directory holding the snapshot saved in ' +
        'FILE (checked whole first). A replica started on it begins with that state, as a member of a ' +
        'new cluster whose coordinator rebuilds the view from its replicas (--recover-from-replicas).',
    )
    .argument('<file>', 'a file `understudy snapshot save` wrote')
    .requiredOption('--dir <dir>', 'the data directory to create')
    .option('--json', 'print one JSON object on stdout')
    .action((file: string, flags: { readonly dir: string; readonly json?: boolean }) => {
      const saved = readSavedSnapshot(file);
      restoreReplicaDirectory(saved, flags.dir);
      const { position, metadata } = saved;
      if (flags.json) {
        printLine(
          JSON.stringify({ dir: flags.dir, index: position.index, view: position.view, ...metadata }),
        );
        return;
      }
      printLine(
        `restored ${flags.dir}: the state at index ${position.index} (view ${position.view}) of ` +
          `${describeService(metadata.service)}, saved from ${metadata.replica} at ${metadata.savedAt}`,
      );
    });
}

/** What `snapshot status` says of a saved snapshot, once every byte of it checked. */
interface SavedSnapshotStatus {
  readonly service: ServiceIdentity;
  readonly replica: string;
  readonly savedAt: string;
  readonly index: number;
  readonly view: number;
  /** The snapshot file's size (what a replica keeps). */
  readonly bytes: number;
  /** The key/value store's keys and bytes (its own measure); null for a service of your own. */
  readonly keys: number | null;
  readonly stateBytes: number | null;
  readonly sessions: number;
  readonly asyncLost: number;
}

function savedSnapshotStatus(file: string): SavedSnapshotStatus {
  const saved = readSavedSnapshot(file);
  const payload = decodeSnapshotPayload(saved.payload);
  const { service, replica, savedAt } = saved.metadata;
  let size: StateSize | null = null;
  if (sameService(service, keyValueService)) size = keyValueStoreOfSnapshot(saved.payload).size();
  return {
    service,
    replica,
    savedAt,
    index: saved.position.index,
    view: saved.position.view,
    bytes: saved.snapshotFile.length,
    keys: size?.entries ?? null,
    stateBytes: size?.bytes ?? null,
    sessions: payload.sessions.size,
    asyncLost: payload.loss.count,
  };
}
