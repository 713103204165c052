// The replica's log in memory: the entries it holds after its base, in index order, with the epochs
// (runs of one view) that summarise them. The base is the position of a snapshot: everything up to
// it is committed and lives in that snapshot, not here. The disk copy is written by the shell from the
// core's storage effects.
//
// Invariant (log matching): if two logs hold an entry at the same index created in the same view,
// they hold the same entries up to that index, since one view has one primary and it only appends.
// Below the base nothing can be compared, and nothing needs to be: it is committed, and every primary
// holds every committed entry, so a log that continues a committed base agrees with any primary there.

import { assert } from './assert.js';
import {
  type Entry,
  type Epoch,
  type LogIndex,
  type LogPosition,
  logIndex,
  positionZero,
  type ViewNumber,
} from './types.js';

/**
 * How many epochs below the base a log remembers. One is added per view that created entries, so
 * this covers years of failovers; an entry older than all of them has an unknown view (null).
 */
export const epochHistoryMax = 4096;

export class ReplicaLog {
  private entries: Entry[] = [];
  private epochList: Epoch[] = [];
  /** The epochs of the compacted entries (at or below the base), oldest first. */
  private history: Epoch[] = [];
  private baseline: LogPosition;

  constructor(base: LogPosition = positionZero, recovered: readonly Entry[] = []) {
    this.baseline = base;
    for (const entry of recovered) this.append(entry);
  }

  /** The position everything in this log follows: a committed snapshot's, or index 0. */
  get base(): LogPosition {
    return this.baseline;
  }

  get lastIndex(): LogIndex {
    return logIndex(this.baseline.index + this.entries.length);
  }

  get lastPosition(): LogPosition {
    return this.positionAt(this.lastIndex);
  }

  /** Entries held in memory (after the base). */
  get length(): number {
    return this.entries.length;
  }

  entryAt(index: LogIndex): Entry {
    const entry = this.entries[index - this.baseline.index - 1];
    assert(
      entry !== undefined,
      `no entry at index ${index} (base ${this.baseline.index}, last ${this.lastIndex})`,
    );
    return entry;
  }

  viewAt(index: LogIndex): ViewNumber {
    return index === this.baseline.index ? this.baseline.view : this.entryAt(index).view;
  }

  positionAt(index: LogIndex): LogPosition {
    return index === this.baseline.index ? this.baseline : { view: this.entryAt(index).view, index };
  }

  /**
   * The view of the entry at `index` as far as this log knows: held, or compacted with its epoch
   * remembered; null beyond the end or before the oldest remembered epoch. An entry of another log
   * with this view at this index is the same entry (log matching), so it is not lost.
   */
  viewOf(index: number): ViewNumber | null {
    if (index > this.lastIndex || index < 0) return null;
    if (index > this.baseline.index) return this.entryAt(logIndex(index)).view;
    if (index === this.baseline.index) return this.baseline.view;
    let found: ViewNumber | null = null;
    for (const epoch of this.history) {
      if (epoch.startIndex > index) break;
      found = epoch.view;
    }
    return found;
  }

  /** The epochs of every entry up to `index` this log knows, for a snapshot taken there. */
  historyThrough(index: LogIndex): Epoch[] {
    const through = [...this.history];
    for (const epoch of this.epochList) if (epoch.startIndex <= index) rememberEpoch(through, epoch);
    return through;
  }

  /**
   * True when this log holds `position`, and so (log matching) everything before it as the sender
   * does. A position below the base counts as held: it is committed, as is the base.
   */
  holds(position: LogPosition): boolean {
    if (position.index < this.baseline.index) return true;
    return position.index <= this.lastIndex && this.viewAt(position.index) === position.view;
  }

  append(entry: Entry): void {
    assert(entry.index === this.lastIndex + 1, `append at ${entry.index}, last ${this.lastIndex}`);
    const lastView = this.epochList.at(-1)?.view ?? this.baseline.view;
    assert(lastView <= entry.view, 'views never decrease along a log');
    if (this.epochList.at(-1)?.view !== entry.view) {
      this.epochList.push({ view: entry.view, startIndex: entry.index });
    }
    this.entries.push(entry);
  }

  truncateAfter(index: LogIndex): void {
    assert(index <= this.lastIndex, `truncate after ${index} beyond last ${this.lastIndex}`);
    assert(index >= this.baseline.index, `truncate after ${index} below the base ${this.baseline.index}`);
    this.entries.length = index - this.baseline.index;
    while (this.epochList.length > 0 && (this.epochList.at(-1)?.startIndex ?? 0) > index)
      this.epochList.pop();
  }

  /** Forgets the entries up to `position` (held in a snapshot now); the log then follows it. */
  compactThrough(position: LogPosition): void {
    if (position.index <= this.baseline.index) return;
    assert(this.holds(position), `compaction to ${position.index} that this log does not hold`);
    this.entries = this.entries.slice(position.index - this.baseline.index);
    for (const epoch of this.epochList)
      if (epoch.startIndex <= position.index) rememberEpoch(this.history, epoch);
    this.epochList = this.epochList.filter((epoch) => epoch.startIndex > position.index);
    const first = this.entries[0];
    if (first !== undefined && this.epochList[0]?.startIndex !== first.index) {
      this.epochList.unshift({ view: first.view, startIndex: first.index });
    }
    this.baseline = position;
  }

  /**
   * Drops every entry: the log now follows `position` (an installed snapshot), whose entries had the
   * epochs `history` (what the snapshot remembers of them).
   */
  resetTo(position: LogPosition, history: readonly Epoch[]): void {
    this.entries = [];
    this.epochList = [];
    this.baseline = position;
    this.adoptHistory(history);
  }

  /** The epochs of the entries up to the base, as a snapshot of them remembers them. */
  adoptHistory(history: readonly Epoch[]): void {
    this.history = [];
    for (const epoch of history)
      if (epoch.startIndex <= this.baseline.index) rememberEpoch(this.history, epoch);
  }

  slice(fromIndex: LogIndex, toIndex: LogIndex): Entry[] {
    return this.entries.slice(fromIndex - this.baseline.index - 1, toIndex - this.baseline.index);
  }

  /** The epochs of the entries after the base. */
  epochs(): readonly Epoch[] {
    return this.epochList;
  }

  /**
   * The last index at which this log and another agree: the other log follows `otherBase` and holds
   * the entries described by `epochs` up to `lastIndex`. Everything up to the returned index is
   * shared; everything after it diverged. Agreement below this log's base can be vouched for only at
   * the base itself: a result below the base means the other log needs a snapshot.
   */
  matchPoint(otherBase: LogPosition, epochs: readonly Epoch[], lastIndex: LogIndex): LogIndex {
    // The other log's base is committed, and this log (a primary's) holds every committed entry.
    let low = Math.min(otherBase.index, this.lastIndex);
    if (low < this.baseline.index) {
      const holdsOurBase =
        lastIndex >= this.baseline.index &&
        viewInEpochs(otherBase, epochs, this.baseline.index) === this.baseline.view;
      if (!holdsOurBase) return logIndex(low);
      low = this.baseline.index;
    }
    let high = Math.min(this.lastIndex, lastIndex);
    // Agreement at an index implies agreement below it, so the shared indexes form a prefix.
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if (viewInEpochs(otherBase, epochs, logIndex(middle)) === this.viewAt(logIndex(middle))) low = middle;
      else high = middle - 1;
    }
    return logIndex(low);
  }
}

function viewInEpochs(base: LogPosition, epochs: readonly Epoch[], index: number): ViewNumber {
  let found = base.view;
  for (const epoch of epochs) {
    if (epoch.startIndex > index) break;
    found = epoch.view;
  }
  return found;
}

/** Appends `epoch` unless it continues the last one; keeps at most epochHistoryMax, the newest. */
function rememberEpoch(history: Epoch[], epoch: Epoch): void {
  if (history.at(-1)?.view === epoch.view) return;
  history.push(epoch);
  if (history.length > epochHistoryMax) history.splice(0, history.length - epochHistoryMax);
}
