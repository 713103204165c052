// The chaos workload's saver: one history process that saves a snapshot of the cluster every few
// seconds (`Client.saveSnapshot`, what `understudy snapshot save` does) while the faults go on, and
// puts each save into the history as a read of every register key, so the checker holds the save's
// promise to the same model as every GET: a saved snapshot holds every write acknowledged before the
// save began and nothing begun after it ended, one state the cluster passed through.
//
// A save is a read of every key at once, at some instant between the call and its answer. The
// history has one operation per key, so a completed save becomes one read per register key, each
// invoked when the call began and completed when it resolved, with the value the saved file holds
// (null where the key is absent), decoded as the workload's GETs decode theirs (UTF-8 text). They are
// recorded once the save resolved, one after the other on the saver's process: the history's events
// are then not in time order there, which the checker does not need (it orders each key's calls and
// returns by time), and each key gets at most one read per save. A save that throws observed
// nothing and is only counted; so is one whose file cannot be read back, which is also a problem of
// the run (saveSnapshot names a file only once it verified it).
//
// One save at a time, with a pause of SAVE_PAUSE_MS_MIN to SAVE_PAUSE_MS_MAX between them: each save
// makes the primary take a snapshot and send it, so the load stays bounded. Only the last
// SAVE_FILES_KEPT files stay on disk, unless the run keeps its directory.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { HistoryRecorder } from '../check/index.js';
import { Client } from '../client/index.js';
import { UnderstudyError } from '../errors.js';
import type { Random } from '../sim/random.js';
import { keyValueStoreOfSnapshot, textValueOf } from '../state-machine/index.js';
import { readSavedSnapshot } from '../storage/saved-snapshot.js';
import { sleepUnlessAborted } from './view-monitor.js';

/** The saver's pause before each save, drawn in this range. */
export const SAVE_PAUSE_MS_MIN = 2000;
export const SAVE_PAUSE_MS_MAX = 6000;
/**
 * How long one save may take, retries included: long enough to outlast a failover and the primary's
 * snapshot under load, short enough that a save stuck behind a long fault gives up and the next one
 * is asked.
 */
export const SAVE_DEADLINE_MS = 20_000;
/** Save files left on disk (for a failed run's post-mortem) unless the run keeps its directory. */
export const SAVE_FILES_KEPT = 2;

/** What the saver asked and got (the report's saves). */
export interface SaveCounts {
  asked: number;
  completed: number;
  failed: number;
  /** Reads put into the history: one per register key per completed save. */
  reads: number;
  /** The first failed save's error, or null if none failed. */
  firstFailure: string | null;
  /** The save asked once the cluster healed (checkHealedSave): whether it completed; null if not asked. */
  healed: boolean | null;
}

export function noSaves(): SaveCounts {
  return { asked: 0, completed: 0, failed: 0, reads: 0, firstFailure: null, healed: null };
}

export interface SnapshotSaverOptions {
  /** What saves: the saver's own Client in a run. */
  readonly client: Pick<Client, 'saveSnapshot'>;
  /** Where the files go (`save-<n>.snap`); it exists. */
  readonly directory: string;
  /** Keep every file (the run keeps its directory): else only the last SAVE_FILES_KEPT. */
  readonly keepFiles: boolean;
  /** The saver's history process. */
  readonly process: number;
  readonly random: Random;
  readonly recorder: HistoryRecorder;
  /** Monotonic nanoseconds since the run started. */
  readonly clock: () => number;
  /** Every register key the workload used so far: what a save is recorded as reading. */
  readonly registerKeys: () => readonly string[];
}

export class SnapshotSaver {
  readonly counts = noSaves();
  /** Saves that completed but whose file could not be read back: each a problem of the run. */
  readonly unreadable: string[] = [];
  private readonly files: string[] = [];
  private saved = 0;

  constructor(private readonly options: SnapshotSaverOptions) {}

  /** Saves after a pause, again and again, until `stop` aborts; a save under way is finished first. */
  async run(stop: AbortSignal): Promise<void> {
    const { random } = this.options;
    while (!stop.aborted) {
      await sleepUnlessAborted(random.integer(SAVE_PAUSE_MS_MIN, SAVE_PAUSE_MS_MAX), stop);
      if (stop.aborted) return;
      await this.saveOnce();
    }
  }

  /**
   * One save, recorded (if it completed) as a read of every register key, through `client` (the
   * saver's own unless given: once the workload stopped, the run's check of a save with the cluster
   * healed brings its own). Returns why it failed, or null if it completed.
   */
  async saveOnce(
    client: Pick<Client, 'saveSnapshot'> = this.options.client,
    deadlineMs = SAVE_DEADLINE_MS,
  ): Promise<string | null> {
    const { directory, process, recorder, clock } = this.options;
    const file = join(directory, `save-${++this.saved}.snap`);
    this.counts.asked += 1;
    const invokedNs = clock();
    try {
      await client.saveSnapshot(file, { deadlineMs });
    } catch (error) {
      return this.failed(describeSaveError(error));
    }
    const doneNs = clock();
    this.files.push(file);
    // Keys first used while the save ran are read too: concurrent with their first writes, either
    // value is legal, and a write begun after the save ended cannot be in the file unnoticed.
    const keys = this.options.registerKeys();
    let values: ReadonlyMap<string, string | null>;
    try {
      values = readSavedValues(file, keys);
    } catch (error) {
      const message = `${file} was saved but does not read back: ${describeSaveError(error)}`;
      this.unreadable.push(message);
      return this.failed(message);
    } finally {
      this.dropOldFiles();
    }
    for (const key of keys) {
      const handle = recorder.invoke(process, 'read', key, null, invokedNs);
      recorder.ok(handle, values.get(key) ?? null, doneNs);
    }
    this.counts.completed += 1;
    this.counts.reads += keys.length;
    return null;
  }

  private failed(message: string): string {
    this.counts.failed += 1;
    this.counts.firstFailure ??= message;
    return message;
  }

  private dropOldFiles(): void {
    if (this.options.keepFiles) return;
    while (this.files.length > SAVE_FILES_KEPT) {
      const oldest = this.files.shift();
      if (oldest !== undefined) rmSync(oldest, { force: true });
    }
  }
}

/** The value of each of `keys` in the store a saved snapshot holds (null if absent), as text. */
export function readSavedValues(file: string, keys: readonly string[]): Map<string, string | null> {
  const store = keyValueStoreOfSnapshot(readSavedSnapshot(file).payload);
  return new Map(keys.map((key) => [key, textValueOf(store, key)]));
}

function describeSaveError(error: unknown): string {
  if (error instanceof UnderstudyError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Saves once more with the cluster healed, through a client of its own (the workload's are closed):
 * under the faults every save may fail and the run still hold, so without this a save that never
 * completes would go unnoticed. It must complete, and goes into the history like every other.
 */
export async function checkHealedSave(
  coordinator: string,
  saver: SnapshotSaver,
  problems: string[],
  deadlineMs = SAVE_DEADLINE_MS,
): Promise<void> {
  let failure: string | null;
  try {
    const client = await Client.connect({ coordinator, deadlineMs });
    try {
      failure = await saver.saveOnce(client, deadlineMs);
    } finally {
      await client.close();
    }
  } catch (error) {
    failure = describeSaveError(error);
  }
  saver.counts.healed = failure === null;
  if (failure !== null) problems.push(`a snapshot save with the cluster healed failed: ${failure}`);
}
