// A test hook for the chaos runner: UNDERSTUDY_TEST_LEASE_RECORD=FILE makes a replica append a line
// to FILE each time its primary lease is granted further: its view, and from when to when it then
// holds the lease, on the machine's monotonic clock (every process on the machine shares it, and the
// clock-rate hook leaves it alone). The coordinator must never let the leases of two views run at
// once, whatever each process's clock rate within the margin; the chaos runner checks that over
// every replica's file (chaos/lease-overlaps.ts). Unlike the linearizability check, that needs no
// read to land in the window a broken margin opens.

import { openSync, writeSync } from 'node:fs';
import { testClockRate } from './test-clock-rate.js';

export const TEST_LEASE_RECORD_VARIABLE = 'UNDERSTUDY_TEST_LEASE_RECORD';

/** One grant, a line of the file. */
export interface LeaseGrant {
  readonly replica: string;
  /** The process's incarnation: one process does not contend with itself. */
  readonly incarnation: number;
  readonly view: number;
  /** Machine monotonic milliseconds: when the replica took the grant, and when its lease then ends. */
  readonly fromMs: number;
  readonly untilMs: number;
}

/** The machine's monotonic clock in milliseconds (CLOCK_MONOTONIC: the same in every process). */
export function machineClockMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export class LeaseRecord {
  private lastView: number | null = null;
  private lastEndTick = 0;

  private constructor(
    /** Opened to append: each line is one write, which a SIGKILL cannot cut. */
    private readonly file: number,
    private readonly replica: string,
    private readonly incarnation: number,
    /** The process's clock, in ticks of `tickMs`: the one its core judges the lease by. */
    private readonly clock: () => number,
    private readonly tickMs: number,
    private readonly rate: number,
  ) {}

  /** The record `path` names (the variable's value), or null when the hook is off. */
  static open(
    path: string | undefined,
    replica: string,
    incarnation: number,
    clock: () => number,
    tickMs: number,
    rate = testClockRate(),
  ): LeaseRecord | null {
    if (path === undefined || path === '') return null;
    return new LeaseRecord(openSync(path, 'a'), replica, incarnation, clock, tickMs, rate);
  }

  /**
   * After an input: the lease this process holds now (`endTick` on its clock, 0 for none, in `view`)
   * is written down if it reaches further than the last one written, or is of another view.
   */
  observe(view: number | null, endTick: number): void {
    if (view === null || endTick === 0) return;
    if (view === this.lastView && endTick <= this.lastEndTick) return;
    this.lastView = view;
    this.lastEndTick = endTick;
    const nowTick = this.clock();
    if (endTick <= nowTick) return;
    const fromMs = machineClockMs();
    // The process's clock runs at `rate` times the machine's: its ticks left last 1/rate as long.
    const grant: LeaseGrant = {
      replica: this.replica,
      incarnation: this.incarnation,
      view,
      fromMs,
      untilMs: fromMs + ((endTick - nowTick) * this.tickMs) / this.rate,
    };
    writeSync(this.file, `${JSON.stringify(grant)}\n`);
  }
}
