// The chaos workload's scanner: one loop that walks every key with SCAN (`Client.scan` from cursor 0
// until a call answers 0, a few keys a call) every few seconds while the faults go on, so a walk's
// calls meet failovers, restarts and partitions and may be answered by different primaries. Its
// calls stay out of the history; each whole walk is kept with when its first call began and its
// last answered (the history's clock), for check/scans.ts to hold it to Redis's promise against the
// history: every key present throughout came back, and nothing but written keys did. A call that
// throws (its deadline passed in a fault) ends that walk unchecked, and is counted.

import type { ScanObservation } from '../check/index.js';
import type { Client } from '../client/index.js';
import { UnderstudyError } from '../errors.js';
import type { Random } from '../sim/random.js';
import { sleepUnlessAborted } from './view-monitor.js';

/** The pause before each walk, drawn in this range. */
export const SCAN_PAUSE_MS_MIN = 1000;
export const SCAN_PAUSE_MS_MAX = 4000;
/** Keys each call looks at: a walk takes many calls over the run's keys. */
export const SCAN_PAGE_COUNT = 8;
/**
 * The pause between two calls of a walk, drawn up to this: a walk then lasts about a second, as an
 * application's paced walk does, so keys come and go under it. Walked back to back, its calls ended
 * within a few milliseconds of each other, and a server whose cursor is a position in the keys
 * (which skips a key when one before the cursor goes) passed 90 s of faults unnoticed.
 */
export const SCAN_PAGE_PAUSE_MS_MAX = 100;

export interface ScanCounts {
  /** Walks begun; whole ones (checked); ones a failed call ended; calls answered. */
  started: number;
  completed: number;
  failed: number;
  pages: number;
  /** The first failed call's error, or null if none failed. */
  firstFailure: string | null;
}

export function noScans(): ScanCounts {
  return { started: 0, completed: 0, failed: 0, pages: 0, firstFailure: null };
}

export interface ScannerOptions {
  readonly client: Pick<Client, 'scan'>;
  readonly random: Random;
  /** Monotonic nanoseconds since the run started: the history's clock. */
  readonly clock: () => number;
}

export class Scanner {
  readonly counts = noScans();
  readonly completed: ScanObservation[] = [];

  constructor(private readonly options: ScannerOptions) {}

  /** Walks until `signal` aborts; a walk under way when it does is left unchecked. */
  async run(signal: AbortSignal): Promise<void> {
    const { random } = this.options;
    while (!signal.aborted) {
      await sleepUnlessAborted(random.integer(SCAN_PAUSE_MS_MIN, SCAN_PAUSE_MS_MAX), signal);
      if (signal.aborted) return;
      await this.walk(signal);
    }
  }

  private async walk(signal: AbortSignal): Promise<void> {
    const { client, clock } = this.options;
    this.counts.started += 1;
    const start = clock();
    const keys = new Set<string>();
    let cursor = 0;
    do {
      if (signal.aborted) return;
      try {
        const page = await client.scan(cursor, { count: SCAN_PAGE_COUNT });
        this.counts.pages += 1;
        for (const key of page.keys) keys.add(Buffer.from(key).toString('utf8'));
        cursor = page.cursor;
        if (cursor !== 0)
          await sleepUnlessAborted(this.options.random.integer(0, SCAN_PAGE_PAUSE_MS_MAX), signal);
      } catch (error) {
        if (!(error instanceof UnderstudyError)) throw error;
        this.counts.failed += 1;
        this.counts.firstFailure ??= `${error.code}: ${error.message}`;
        return;
      }
    } while (cursor !== 0);
    this.counts.completed += 1;
    this.completed.push({ start, end: clock(), keys });
  }
}
