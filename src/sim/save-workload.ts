// Snapshot saves in the simulation (`understudy snapshot save`): now and then a client asks a replica
// for a save, as the shell's SnapshotSaves does (node/snapshot-saves.ts): the core's requestSave names
// the index a kept snapshot must reach, and the save completes once the replica's disk keeps one that
// far while that same process still runs as the primary. The saved state then goes into the history as
// a read of every key, invoked when the save was asked and completed when its snapshot was named: a
// save promises one state the cluster passed through, holding every write acknowledged before it.
// So the per-key checker holds saves to linearizability beside every other read; a group's members
// must agree in it, as in any group read.
//
// The asking takes no message (the shell answers at once); what can go wrong is the process: crashed,
// restarted, deposed or paused past the deadline, or its snapshot could not be written (the shell
// refuses the saves waiting for it), each of which fails the save (a read that observed nothing,
// recorded as unknown). Saves draw from their own Random, so the other clients' choices stay the same.

import type { EventValue, HistoryRecorder, OperationHandle } from '../check/history.js';
import type { Replica } from '../protocol/replica.js';
import type { ReplicaId } from '../protocol/types.js';
import { keyValueStoreOfSnapshot, textValueOf } from '../state-machine/kv-snapshot-reader.js';
import type { SimCluster } from './cluster.js';
import { groupMembers, groupValue, isGroupKey } from './multi-key-workload.js';
import type { Random } from './random.js';

/** A save still waiting for its snapshot after this long fails, as a client's deadline would end it. */
const saveDeadlineTicks = 300;
/** How often a save goes to a replica that believes it is the primary (a deposed one may, too). */
const leadingChoiceProbability = 0.8;

/** What the saves did in a run. */
export interface SaveCounts {
  asked: number;
  /** Refused at once: not the primary, no lease, an empty log. */
  refused: number;
  /** Completed: their state went into the history. */
  saved: number;
  /**
   * Failed, by why: the process crashed or restarted, was deposed, the deadline passed, or a snapshot
   * write failed (snapshot-fail), before a snapshot was kept.
   */
  readonly failures: Record<SaveFailure, number>;
}

export function noSaveCounts(): SaveCounts {
  return { asked: 0, refused: 0, saved: 0, failures: { crashed: 0, deposed: 0, deadline: 0, unwritten: 0 } };
}

type SaveFailure = 'crashed' | 'deposed' | 'deadline' | 'unwritten';

interface PendingSave {
  readonly id: ReplicaId;
  /** The process's failed snapshot writes when the save was asked: one more refuses the save. */
  readonly snapshotWriteFailures: number;
  /** The process asked: a restart is another one. */
  readonly replica: Replica;
  readonly index: number;
  readonly startedAt: number;
  readonly handles: readonly OperationHandle[];
}

export class SimSaves {
  readonly counts = noSaveCounts();
  private pending: PendingSave | null = null;
  private generating = true;

  constructor(
    private readonly cluster: SimCluster,
    private readonly random: Random,
    private readonly recorder: HistoryRecorder,
    /** Every key of the workload, each read by a save on its own history process. */
    private readonly keys: readonly string[],
    /** The history process of the first key's read (the next ones follow): past every client's. */
    private readonly firstProcess: number,
    /** Chance per tick that a save is asked while none is under way. */
    private readonly probability: number,
    private readonly time: () => number,
    /** Where a group whose members disagree in a saved state is reported. */
    private readonly tornReads: string[],
  ) {}

  get idle(): boolean {
    return this.pending === null;
  }

  stopGenerating(): void {
    this.generating = false;
  }

  step(): void {
    const pending = this.pending;
    if (pending === null) {
      if (this.generating && this.random.chance(this.probability)) this.ask();
      return;
    }
    const node = this.cluster.nodes.get(pending.id);
    if (node === undefined || node.replica !== pending.replica) {
      this.fail('crashed');
      return;
    }
    if (node.paused) {
      if (this.cluster.now - pending.startedAt >= saveDeadlineTicks) this.fail('deadline');
      return;
    }
    const kept = node.disk.newestSnapshot();
    if (kept !== null && kept.info.position.index >= pending.index) {
      this.complete(pending, kept.payload, kept.info.position.index);
    } else if (pending.replica.snapshotWriteFailures > pending.snapshotWriteFailures) {
      this.fail('unwritten');
    } else if (pending.replica.currentRole !== 'primary') {
      this.fail('deposed');
    } else if (this.cluster.now - pending.startedAt >= saveDeadlineTicks) {
      this.fail('deadline');
    }
  }

  private ask(): void {
    const running = [...this.cluster.nodes].filter(([, node]) => node.replica !== null && !node.paused);
    // Mostly a replica that believes it leads, as a client that found the primary asks; sometimes any.
    const leading = running.filter(([, node]) => node.replica?.currentRole === 'primary');
    const choices = leading.length > 0 && this.random.chance(leadingChoiceProbability) ? leading : running;
    if (choices.length === 0) return;
    const [id, node] = this.random.pick(choices);
    const replica = node.replica;
    if (replica === null) return;
    this.counts.asked += 1;
    const time = this.time();
    const handles = this.keys.map((key, offset) =>
      this.recorder.invoke(this.firstProcess + offset, 'read', key, null, time),
    );
    const answer = replica.requestSave();
    if (!answer.ok) {
      this.counts.refused += 1;
      for (const handle of handles) this.recorder.info(handle, this.time());
      return;
    }
    this.pending = {
      id,
      replica,
      snapshotWriteFailures: replica.snapshotWriteFailures,
      index: answer.index,
      startedAt: this.cluster.now,
      handles,
    };
  }

  private complete(pending: PendingSave, payload: Uint8Array, index: number): void {
    const store = keyValueStoreOfSnapshot(payload);
    const get = (key: string): string | null => textValueOf(store, key);
    const time = this.time();
    this.keys.forEach((key, offset) => {
      const handle = pending.handles[offset];
      if (handle === undefined) return;
      let value: EventValue = null;
      if (isGroupKey(key)) {
        const seen = groupValue(key, groupMembers(key).map(get));
        if ('torn' in seen) {
          this.tornReads.push(`${seen.torn} (a save at index ${index})`);
          this.recorder.info(handle, time);
          return;
        }
        value = seen.value;
      } else {
        value = get(key);
      }
      this.recorder.ok(handle, value, time, index);
    });
    this.counts.saved += 1;
    this.pending = null;
  }

  private fail(why: SaveFailure): void {
    const pending = this.pending;
    if (pending === null) return;
    const time = this.time();
    for (const handle of pending.handles) this.recorder.info(handle, time);
    this.counts.failures[why] += 1;
    this.pending = null;
  }
}
