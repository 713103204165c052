// Notices when this process did not run: its tick timer fires every tickMs, so a firing late by
// stallTicksMin ticks or more (150 ms by default) is time in which nothing of ours ran —
// a long garbage collection, a call that blocked the event loop, the process descheduled, or its
// machine paused. The protocol already forgives it (a replica or coordinator that stalled does not
// hold its peers' silence in that time against them); this says that it happened, once per stall,
// as a warning with how long it lasted, and counts it for the metrics. A view change that nothing
// explains can then be matched with the process that stopped. Where the owner knows what held it up
// (a replica: its log's write or fdatasync waiting on a slow disk; a coordinator: a save of its
// state in its directory), the warning names it too.

import type { NodeConfig } from './config.js';
import type { Logger } from './logger.js';

/** The message of the warning, which tools match (the steady scenario counts them per process). */
export const STALL_MESSAGE =
  "stalled: nothing in this process ran (a long garbage collection, a blocking call, the process descheduled or its machine paused); peers' silence meanwhile is not held against them";

/** What held a process up, when it knows: a field of the stall's warning. */
export interface StallCause {
  readonly cause: string;
}

/**
 * The cause of a stall most of which (half or more) one disk call on the event loop took: `what`,
 * waiting `waitedMs`. Null when the call took less: the stall was something else.
 */
export function diskStallCause(waitedMs: number, stalledMs: number, what: string): StallCause | null {
  const rounded = Math.round(waitedMs);
  return rounded > 0 && rounded >= stalledMs / 2
    ? { cause: `the disk: ${what} held the event loop ${rounded} ms` }
    : null;
}

export interface StallCounts {
  /** Stalls since the process started. */
  readonly count: number;
  /** The longest of them, in milliseconds (0 if none). */
  readonly longestMs: number;
}

/** How late a node's tick timer must fire to count as a stall: what the protocol forgives as one. */
export function stallThresholdMs(config: NodeConfig): number {
  return config.protocol.stallTicksMin * config.tickMs;
}

export class StallWatch implements StallCounts {
  #count = 0;
  #longestMs = 0;
  private lastTickMs: number;

  constructor(
    private readonly logger: Logger,
    /** The tick timer's period. */
    private readonly tickMs: number,
    /** A firing at least this late is a stall (stallTicksMin ticks). */
    private readonly thresholdMs: number,
    private readonly clock: () => number = () => performance.now(),
    /**
     * Asked at every firing, with how late it is: what held the process up since the last one, as
     * fields for the warning (`cause`), or null. Asked even when no stall follows, so that what it
     * measures starts again at each firing and is never blamed for a later stall.
     */
    private readonly explain: (stalledMs: number) => StallCause | null = () => null,
  ) {
    this.lastTickMs = clock();
  }

  /** For a node's tick timer. */
  static forNode(
    logger: Logger,
    config: NodeConfig,
    explain?: (stalledMs: number) => StallCause | null,
  ): StallWatch {
    return new StallWatch(logger, config.tickMs, stallThresholdMs(config), undefined, explain);
  }

  get count(): number {
    return this.#count;
  }

  get longestMs(): number {
    return this.#longestMs;
  }

  /** Called by the tick timer each time it fires. */
  tick(): void {
    const now = this.clock();
    // How late this firing is: the time in which the process did not get to run it.
    const stalledMs = Math.round(now - this.lastTickMs - this.tickMs);
    this.lastTickMs = now;
    const cause = this.explain(stalledMs);
    if (stalledMs < this.thresholdMs) return;
    this.#count += 1;
    this.#longestMs = Math.max(this.#longestMs, stalledMs);
    this.logger.warn({ stalledMs, stalls: this.#count, ...cause }, STALL_MESSAGE);
  }
}
