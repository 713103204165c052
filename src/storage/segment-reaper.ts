// Deleting a log segment the page cache still holds frees every cached page inside unlink(2): for a
// 64 MiB segment that held the event loop 57-60 ms under load here, on every replica within seconds
// of the others, since replicas compact at the same log positions (docs/PERFORMANCE.md, "A segment's
// deletion off the event loop"). So the log retires a segment instead of deleting it: it renames the
// file out of the log where it used to delete it (a directory entry changed, some microseconds), in
// the same order and before the same directory fsync, so that a crash leaves the log as a deletion
// left it; and the reaper unlinks the renamed file on the thread pool afterwards, one at a time.
// Recovery reads only segment names, so a retired file is never read; the reaper of the next open
// deletes any a crash left behind.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { segmentFilePattern } from './log-recovery.js';

const retiredSuffix = '.retired';

export class SegmentReaper {
  private readonly pending: string[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];

  /** `onError` gets a failed unlink (a file already gone is not one). */
  constructor(private readonly onError: (error: Error) => void) {}

  /** Renames `segmentPath` out of the log now; its file is deleted later, off the event loop. */
  retire(segmentPath: string): void {
    const retired = `${segmentPath}${retiredSuffix}`;
    fs.renameSync(segmentPath, retired);
    this.reap(retired);
  }

  /** Deletes, off the event loop, the retired files that a crash left in `directory`. */
  reapLeftovers(directory: string): void {
    for (const name of fs.readdirSync(directory)) {
      const retired =
        name.endsWith(retiredSuffix) && segmentFilePattern.test(name.slice(0, -retiredSuffix.length));
      if (retired) this.reap(path.join(directory, name));
    }
  }

  /** Resolves once every retired file so far is deleted (or failed to be). */
  whenIdle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private reap(file: string): void {
    this.pending.push(file);
    if (!this.running) this.next();
  }

  private next(): void {
    const file = this.pending.shift();
    if (file === undefined) {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
      return;
    }
    this.running = true;
    fs.unlink(file, (error) => {
      // Gone already: a segment of the same name was retired again, and its rename replaced this one.
      if (error !== null && error.code !== 'ENOENT') this.onError(error);
      this.next();
    });
  }
}
