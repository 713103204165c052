// Whole scans in the simulation: in a share of the seeds a client now and then walks every key with
// SCAN, from cursor 0 until a call answers 0, a page per operation of its slot, each page a read at
// the primary sent and retried as any read is (so a scan's pages may meet failovers, and be answered
// by different primaries). The pages stay out of the per-key history; a scan whose every page was
// answered goes to check/scans.ts, which holds it to Redis's promise against the history: every key
// present from its first call to its last came back, and nothing but written keys did. A page left
// unanswered (its deadline passed) ends its scan unchecked.
//
// Draws come from their own Random, so seeds that draw no scans run exactly as before scans existed.

import type { ScanObservation } from '../check/scans.js';
import { type KvOperation, type KvResultOf, kvOperation } from '../state-machine/kv-operations.js';
import type { Random } from './random.js';

/** Keys each page looks at: small, so a scan takes several pages over the workload's keys. */
const pageCount = 4;
/** Of the new operations of a client, the share that start a scan (seeds with scans). */
const scanProbability = 0.01;

export interface ScanCounts {
  /** Scans begun, scans whose every page was answered (checked), and pages answered. */
  started: number;
  completed: number;
  pages: number;
}

export function noScanCounts(): ScanCounts {
  return { started: 0, completed: 0, pages: 0 };
}

interface ScanInProgress {
  readonly start: number;
  readonly keys: Set<string>;
  cursor: number;
  /** A page was sent and not yet answered. */
  sent: boolean;
}

export class SimScans {
  readonly counts = noScanCounts();
  readonly completed: ScanObservation[] = [];
  readonly #inProgress = new Map<number, ScanInProgress>();

  constructor(
    private readonly random: Random,
    private readonly time: () => number,
  ) {}

  /** The next page of the scan `process` is in, or, now and then, the first of a new one; else null. */
  pageFor(process: number): KvOperation | null {
    let scan = this.#inProgress.get(process);
    if (scan === undefined) {
      if (!this.random.chance(scanProbability)) return null;
      scan = { start: this.time(), keys: new Set(), cursor: 0, sent: false };
      this.#inProgress.set(process, scan);
      this.counts.started += 1;
    }
    scan.sent = true;
    return kvOperation.scan(scan.cursor, { count: pageCount });
  }

  /** A page of `process`'s scan was answered: its keys; the scan is whole once the cursor is 0. */
  pageAnswered(process: number, result: KvResultOf<'scan'>): void {
    const scan = this.#inProgress.get(process);
    if (scan === undefined) return;
    this.counts.pages += 1;
    scan.sent = false;
    for (const key of result.keys) scan.keys.add(Buffer.from(key).toString('latin1'));
    scan.cursor = result.cursor;
    if (result.cursor !== 0) return;
    this.#inProgress.delete(process);
    this.counts.completed += 1;
    this.completed.push({ start: scan.start, end: this.time(), keys: scan.keys });
  }

  /** `process`'s operation ended: a page of its scan that went unanswered ends the scan, unchecked. */
  ended(process: number): void {
    if (this.#inProgress.get(process)?.sent === true) this.#inProgress.delete(process);
  }
}
