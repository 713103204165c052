// The replica's log in memory: the entries it holds, in index order, with the epochs (runs of one
// view) that summarise it. The disk copy is written by the shell from the core's storage effects;
// until snapshots and compaction land, every entry since index 1 stays here.
//
// Invariant (log matching): if two logs hold an entry at the same index created in the same view,
// they hold the same entries up to that index, since one view has one primary and it only appends.

import { assert } from './assert.js';
import {
  type Entry,
  type Epoch,
  type LogIndex,
  type LogPosition,
  logIndex,
  positionZero,
  type ViewNumber,
  viewNumber,
} from './types.js';

export class ReplicaLog {
  private readonly entries: Entry[] = [];
  private readonly epochList: Epoch[] = [];

  constructor(recovered: readonly Entry[] = []) {
    for (const entry of recovered) this.append(entry);
  }

  get lastIndex(): LogIndex {
    return logIndex(this.entries.length);
  }

  get lastPosition(): LogPosition {
    return this.positionAt(this.lastIndex);
  }

  entryAt(index: LogIndex): Entry {
    const entry = this.entries[index - 1];
    assert(entry !== undefined, `no entry at index ${index} (last ${this.entries.length})`);
    return entry;
  }

  viewAt(index: LogIndex): ViewNumber {
    return index === 0 ? viewNumber(0) : this.entryAt(index).view;
  }

  positionAt(index: LogIndex): LogPosition {
    return index === 0 ? positionZero : { view: this.entryAt(index).view, index };
  }

  /** True when this log holds `position`, and so (log matching) everything before it as the sender does. */
  holds(position: LogPosition): boolean {
    return position.index <= this.lastIndex && this.viewAt(position.index) === position.view;
  }

  append(entry: Entry): void {
    assert(entry.index === this.entries.length + 1, `append at ${entry.index}, last ${this.entries.length}`);
    const lastEpoch = this.epochList.at(-1);
    assert(lastEpoch === undefined || lastEpoch.view <= entry.view, 'views never decrease along a log');
    if (lastEpoch === undefined || lastEpoch.view !== entry.view) {
      this.epochList.push({ view: entry.view, startIndex: entry.index });
    }
    this.entries.push(entry);
  }

  truncateAfter(index: LogIndex): void {
    assert(index <= this.lastIndex, `truncate after ${index} beyond last ${this.lastIndex}`);
    this.entries.length = index;
    while (this.epochList.length > 0 && (this.epochList.at(-1)?.startIndex ?? 0) > index)
      this.epochList.pop();
  }

  slice(fromIndex: LogIndex, toIndex: LogIndex): Entry[] {
    return this.entries.slice(fromIndex - 1, toIndex);
  }

  epochs(): readonly Epoch[] {
    return this.epochList;
  }

  /**
   * The last index at which this log and a log described by `epochs` (ending at `lastIndex`) hold
   * an entry of the same view: everything up to it is shared, everything after it diverged.
   */
  matchPoint(epochs: readonly Epoch[], lastIndex: LogIndex): LogIndex {
    let low = 0;
    let high = Math.min(this.lastIndex, lastIndex);
    // Agreement at an index implies agreement below it, so the shared indexes form a prefix.
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if (viewInEpochs(epochs, logIndex(middle)) === this.viewAt(logIndex(middle))) low = middle;
      else high = middle - 1;
    }
    return logIndex(low);
  }
}

function viewInEpochs(epochs: readonly Epoch[], index: LogIndex): ViewNumber {
  let found = viewNumber(0);
  for (const epoch of epochs) {
    if (epoch.startIndex > index) break;
    found = epoch.view;
  }
  return found;
}
