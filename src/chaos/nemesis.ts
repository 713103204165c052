// The nemesis of a chaos run: up to `concurrency` faults in progress at once, each from its own slot
// that loops quiet → fault → hold → heal. The seed gives each slot its own PRNG, which picks the
// quiet times, the kinds, the targets and the durations; whether a fault may start also depends on
// the faults in progress (the fault model in faults.ts), and so on the processes' timing: a seed
// replays its draws, not always the same overlaps.
//
//   slot:  quiet ──▶ (no fault in progress? wait for a whole view) ──▶ plan a fault the fault
//          model allows (none: back to quiet) ──▶ inject ──▶ hold ──▶ heal ──▶ quiet
//
// Invariants: a fault's reservation is taken synchronously with the check that allows it, so two
// slots never both take the last place; every fault is healed before run() resolves; with
// concurrency 1 at most one fault is active and none starts before the view holds every replica.

import { Random } from '../sim/random.js';
import type { ChaosCluster } from './cluster-processes.js';
import {
  type DirectoryLossChecks,
  type FaultRecord,
  type NemesisKind,
  noDirectoryLossChecks,
  Occupancy,
  type PlannedFault,
  planFault,
  type Reservation,
} from './faults.js';
import { NetworkFaults } from './network-faults.js';
import { sleepUnlessAborted, type ViewMonitor } from './view-monitor.js';

export { type FaultRecord, type NemesisKind, nemesisKinds } from './faults.js';

/** A quiet time of this range passes between one fault's heal and the slot's next fault. */
export const NEMESIS_QUIET_MS = [1000, 3000] as const;
/** How long a slot waits for a whole view when no fault is in progress; it skips its fault if that fails. */
export const NEMESIS_WHOLE_VIEW_WAIT_MS = 15_000;

export interface NemesisOptions {
  readonly cluster: ChaosCluster;
  readonly monitor: ViewMonitor;
  readonly kinds: readonly NemesisKind[];
  /** How many faults may be in progress at once (one slot each). */
  readonly concurrency: number;
  readonly random: Random;
  /** Monotonic nanoseconds since the run started. */
  readonly clock: () => number;
  readonly log: (line: string) => void;
}

export class Nemesis {
  readonly faults: FaultRecord[] = [];
  /** What went wrong while injecting or healing, and rules of the core a fault saw broken. */
  readonly problems: string[] = [];
  /** Faults skipped because the view was not whole in time. */
  skipped = 0;
  readonly checks: DirectoryLossChecks = noDirectoryLossChecks();
  private readonly reservations = new Set<Reservation>();
  private readonly network: NetworkFaults;
  private readonly slotRandoms: readonly Random[];

  constructor(private readonly options: NemesisOptions) {
    this.network = new NetworkFaults(options.cluster);
    this.slotRandoms = Array.from(
      { length: options.concurrency },
      () => new Random(options.random.nextUint32()),
    );
  }

  /** Injects faults until `signal` aborts; every fault in progress is healed before this resolves. */
  async run(signal: AbortSignal): Promise<void> {
    if (this.options.kinds.length === 0) return;
    await Promise.all(this.slotRandoms.map((random, slot) => this.runSlot(slot, random, signal)));
  }

  /** The most faults that were in progress at one time. */
  get mostAtOnce(): number {
    const edges = this.faults.flatMap((fault): [number, number][] => [
      [fault.startNs, 1],
      [fault.endNs ?? Number.POSITIVE_INFINITY, -1],
    ]);
    edges.sort(([a, deltaA], [b, deltaB]) => a - b || deltaA - deltaB);
    let active = 0;
    let most = 0;
    for (const [, delta] of edges) {
      active += delta;
      most = Math.max(most, active);
    }
    return most;
  }

  private async runSlot(slot: number, random: Random, signal: AbortSignal): Promise<void> {
    const { monitor, cluster, log } = this.options;
    while (!signal.aborted) {
      await sleepUnlessAborted(random.integer(...NEMESIS_QUIET_MS), signal);
      if (signal.aborted) break;
      if (this.reservations.size === 0) {
        const whole = await monitor.waitWhole(cluster.replicaIds, NEMESIS_WHOLE_VIEW_WAIT_MS, signal);
        if (signal.aborted) break;
        if (!whole) {
          this.skipped += 1;
          log(`chaos: ${this.elapsed()} the view is not whole; slot ${slot + 1} skips a fault`);
          continue;
        }
      }
      const planned = this.plan(random);
      if (planned === null) continue;
      this.reservations.add(planned.reservation);
      try {
        await this.carryOut(planned, signal);
      } finally {
        this.reservations.delete(planned.reservation);
      }
    }
  }

  /** A fault of a kind drawn from those the fault model allows now, reserved; null if none is. */
  private plan(random: Random): PlannedFault | null {
    const occupancy = new Occupancy(this.reservations);
    const context = {
      cluster: this.options.cluster,
      monitor: this.options.monitor,
      network: this.network,
      clock: this.options.clock,
      log: this.options.log,
      problem: (text: string) => this.problems.push(text),
      checks: this.checks,
    };
    const kinds = [...this.options.kinds];
    while (kinds.length > 0) {
      const index = random.integer(0, kinds.length - 1);
      const [kind] = kinds.splice(index, 1);
      if (kind === undefined) break;
      const planned = planFault(kind, random, context, occupancy);
      if (planned !== null) return planned;
    }
    return null;
  }

  private async carryOut(planned: PlannedFault, signal: AbortSignal): Promise<void> {
    const { log, clock } = this.options;
    let fault: Awaited<ReturnType<PlannedFault['start']>>;
    try {
      fault = await planned.start();
    } catch (error) {
      this.problems.push(`injecting a ${planned.reservation.kind} fault: ${describe(error)}`);
      return;
    }
    this.faults.push(fault.record);
    const number = this.faults.length;
    log(`chaos: ${this.elapsed()} fault ${number}: ${fault.record.description}, ${fault.holdDescription}`);
    await fault.hold(signal);
    try {
      const healed = await fault.heal(signal);
      log(`chaos: ${this.elapsed()} healed ${number}: ${healed}`);
    } catch (error) {
      this.problems.push(`healing ${fault.record.description}: ${describe(error)}`);
    }
    fault.record.endNs = clock();
  }

  private elapsed(): string {
    return `+${(this.options.clock() / 1e9).toFixed(1)} s`;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
