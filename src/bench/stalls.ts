// Whether a run's slowest calls were slow alone or together. Each completed call is kept as (when it
// ended, how long it took); after the run, the calls at or above the p99 are grouped when each ended
// within `STALL_GAP_MS` of the one before, and a group of at least half the callers is a stall: nearly
// every call in flight slowed at once, which a pause of the cluster (a collection, a snapshot's start,
// the machine stopping every process) does, and a slow request does not. On the 2-core machine of
// docs/PERFORMANCE.md ("What the p99 at 32 clients is made of") 85-100 % of the p99 calls of both
// Understudy and Redis at 32 clients fell in stalls.

import { formatCount, formatMs } from './table.js';

/** Slow calls that end this close together belong to one stall. */
export const STALL_GAP_MS = 20;
/** Calls kept per run, at most (8 bytes each): a 10-minute run at 6,000 calls a second fits. */
const CALLS_KEPT_MAX = 4_000_000;
const CHUNK_CALLS = 65_536;

export interface TailShape {
  /** The latency the slow calls reach: the run's p99, in milliseconds. */
  readonly thresholdMs: number;
  /** Calls at or above the threshold. */
  readonly slowCalls: number;
  /** Groups of slow calls of at least `stallCallsMin` calls. */
  readonly stalls: number;
  readonly stallCallsMin: number;
  /** Slow calls inside those groups. */
  readonly slowCallsInStalls: number;
  /** True if the run had more calls than are kept: the shape is of the first ones. */
  readonly truncated: boolean;
}

/** The calls of one run in the order they ended. */
export class CallTimeline {
  readonly #chunks: Float32Array[] = [];
  #count = 0;
  #truncated = false;

  constructor(private readonly callsKeptMax = CALLS_KEPT_MAX) {}

  /** A call that ended `endMs` after the run began and took `latencyMs`. */
  push(endMs: number, latencyMs: number): void {
    if (this.#count === this.callsKeptMax) {
      this.#truncated = true;
      return;
    }
    const at = this.#count % CHUNK_CALLS;
    if (at === 0) this.#chunks.push(new Float32Array(2 * CHUNK_CALLS));
    const chunk = this.#chunks[this.#chunks.length - 1] as Float32Array;
    chunk[2 * at] = endMs;
    chunk[2 * at + 1] = latencyMs;
    this.#count += 1;
  }

  /** The slow calls (at or above `thresholdMs`) and how many of them came in stalls of `callers`. */
  tailShape(thresholdMs: number, callers: number): TailShape {
    const stallCallsMin = Math.max(2, Math.ceil(callers / 2));
    let slowCalls = 0;
    let stalls = 0;
    let slowCallsInStalls = 0;
    let group = 0;
    let lastEnd = Number.NEGATIVE_INFINITY;
    const closeGroup = () => {
      if (group >= stallCallsMin) {
        stalls += 1;
        slowCallsInStalls += group;
      }
      group = 0;
    };
    for (let index = 0; index < this.#count; index++) {
      const chunk = this.#chunks[Math.floor(index / CHUNK_CALLS)] as Float32Array;
      const at = index % CHUNK_CALLS;
      const latencyMs = chunk[2 * at + 1] as number;
      if (thresholdMs <= 0 || latencyMs < thresholdMs) continue;
      const endMs = chunk[2 * at] as number;
      if (endMs - lastEnd > STALL_GAP_MS) closeGroup();
      group += 1;
      slowCalls += 1;
      lastEnd = endMs;
    }
    closeGroup();
    return { thresholdMs, slowCalls, stalls, stallCallsMin, slowCallsInStalls, truncated: this.#truncated };
  }
}

/**
 * "slowest 1 % (≥ 29.18 ms): 245 calls, 97 % of them in 9 stalls (16 or more of them ending within 20 ms
 * of each other)".
 */
export function describeTail(tail: TailShape): string {
  if (tail.slowCalls === 0) return 'slowest 1 %: no calls';
  const share = Math.round((100 * tail.slowCallsInStalls) / tail.slowCalls);
  const truncated = tail.truncated ? " (among the run's first calls, the ones kept)" : '';
  return (
    `slowest 1 % (≥ ${formatMs(tail.thresholdMs)} ms): ${formatCount(tail.slowCalls)} calls${truncated}, ${share} % of them in ` +
    `${formatCount(tail.stalls)} stall${tail.stalls === 1 ? '' : 's'} (${tail.stallCallsMin} or more of them ending ` +
    `within ${STALL_GAP_MS} ms of each other)`
  );
}
