// The replicated record of async writes lost in failovers: how many, and the most recent of them by
// name. An async write is acknowledged once its primary's disk holds it; if that primary fails before
// the write reaches the replica that takes over, the write is gone. Replicas that discard such writes
// report them (LostReport), the primary logs them in a system entry, and every replica applies it here.

import type { LostEntry } from './messages.js';
import { samePosition } from './types.js';

/** How many lost writes are kept by name; the count keeps growing. */
export const lostEntriesKeptMax = 1000;

export class AsyncLossRecord {
  private total = 0;
  private readonly recentList: LostEntry[] = [];

  get count(): number {
    return this.total;
  }

  get recent(): readonly LostEntry[] {
    return this.recentList;
  }

  /** True when this loss is already on record (two replicas may report the same one). */
  has(lost: LostEntry): boolean {
    return this.recentList.some((known) => samePosition(known, lost));
  }

  record(entries: readonly LostEntry[]): void {
    this.total += entries.length;
    this.recentList.push(...entries);
    if (this.recentList.length > lostEntriesKeptMax) {
      this.recentList.splice(0, this.recentList.length - lostEntriesKeptMax);
    }
  }

  static from(total: number, recent: readonly LostEntry[]): AsyncLossRecord {
    const record = new AsyncLossRecord();
    record.total = total;
    record.recentList.push(...recent);
    return record;
  }
}
