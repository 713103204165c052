// The nemesis of a chaos run: up to `concurrency` faults in progress at once, each from its own slot
// that loops quiet → fault → hold → heal. The seed gives each slot its own PRNG, which draws the
// quiet times and the kinds, and for each fault a seed of its own for its variant and durations.
// When a fault may start depends on the faults in progress (the fault model in faults.ts), so on the
// processes' timing; its target depends on who is primary then: a seed replays its draws, not
// always the same overlaps.
//
//   slot:  quiet ──▶ (no fault in progress? wait for a whole view) ──▶ draw a kind ──▶ wait until
//          the fault model allows it (or skip it) ──▶ inject ──▶ hold ──▶ heal ──▶ quiet
//
// Invariants: a fault's reservation is taken synchronously with the check that allows it, so two
// slots never both take the last place; every fault is healed before run() resolves; with
// concurrency 1 at most one fault is active and none starts before the view holds every replica.
// The one exception: with the upgrade nemesis, a replica of the older build the coordinator keeps
// out (the level rose without it) keeps the view from being whole until it is upgraded, so a slot
// that finds the view not whole for that reason injects that upgrade.

import { Random } from '../sim/random.js';
import type { ChaosCluster } from './cluster-processes.js';
import {
  type FaultChecks,
  type FaultContext,
  type FaultRecord,
  type NemesisKind,
  noFaultChecks,
  Occupancy,
  type PlannedFault,
  planFault,
  type Reservation,
} from './faults.js';
import type { UpgradeWatch } from './format-upgrade.js';
import { NetworkFaults } from './network-faults.js';
import { sleepUnlessAborted, VIEW_POLL_INTERVAL_MS, type ViewMonitor } from './view-monitor.js';

export { type FaultRecord, type NemesisKind, nemesisKinds } from './faults.js';

/** A quiet time of this range passes between one fault's heal and the slot's next fault. */
export const NEMESIS_QUIET_MS = [1000, 3000] as const;
/** How long a slot waits for a whole view when no fault is in progress; it skips its fault if that fails. */
export const NEMESIS_WHOLE_VIEW_WAIT_MS = 15_000;
/** How long a slot waits for the fault model to allow the fault it drew; it skips the fault if that fails. */
export const NEMESIS_PLAN_WAIT_MS = 15_000;

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
  /**
   * The user's interrupt. The end of the run's time stops faults from holding, not their heals: a
   * heal waits (bounded) until the cluster took the fault back, so each fault's checks are complete.
   */
  readonly interrupted?: AbortSignal;
  /** The cluster's `--failure-timeout-ms` (the faults meant to outlast it are moved by it). */
  readonly failureTimeoutMs: number;
  /** The pins and checks of the upgrade nemesis, when `kinds` has it. */
  readonly upgrade?: UpgradeWatch;
}

const neverAborted = new AbortController().signal;

export class Nemesis {
  readonly faults: FaultRecord[] = [];
  /** What went wrong while injecting or healing, and rules of the core a fault saw broken. */
  readonly problems: string[] = [];
  /** Faults skipped: the view was not whole, or the fault model did not allow them, in time. */
  skipped = 0;
  readonly checks: FaultChecks = noFaultChecks();
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
      let upgradeOwed = false;
      if (this.reservations.size === 0) {
        const ready = await monitor.waitFor(
          () => monitor.isWhole(cluster.replicaIds) || this.upgradeDue(),
          NEMESIS_WHOLE_VIEW_WAIT_MS,
          signal,
        );
        if (signal.aborted) break;
        if (!ready) {
          this.skipped += 1;
          log(`chaos: ${this.elapsed()} the view is not whole; slot ${slot + 1} skips a fault`);
          continue;
        }
        upgradeOwed = !monitor.isWhole(cluster.replicaIds) && this.upgradeDue();
      }
      // Drawn either way, so that the draws after it stay the same.
      const drawn = random.pick(this.options.kinds);
      const kind: NemesisKind = upgradeOwed ? 'upgrade' : drawn;
      // The fault's own draws (target, variant, durations) come from this seed, the same at every attempt.
      const faultSeed = random.nextUint32();
      const planned = await this.planWhenAllowed(kind, faultSeed, signal);
      if (planned === null) {
        if (signal.aborted) break;
        this.skipped += 1;
        log(
          `chaos: ${this.elapsed()} the fault model did not allow a ${kind} fault in time; slot ${slot + 1} skips it`,
        );
        continue;
      }
      try {
        await this.carryOut(planned, signal);
      } finally {
        this.reservations.delete(planned.reservation);
      }
    }
  }

  /**
   * A fault of `kind`, reserved, as soon as the fault model allows it (a wipe waits for the view to
   * be whole again, a kill for a wipe to end); null if it does not within NEMESIS_PLAN_WAIT_MS.
   */
  private async planWhenAllowed(
    kind: NemesisKind,
    faultSeed: number,
    signal: AbortSignal,
  ): Promise<PlannedFault | null> {
    const context: FaultContext = {
      cluster: this.options.cluster,
      monitor: this.options.monitor,
      network: this.network,
      clock: this.options.clock,
      log: this.options.log,
      problem: (text: string) => this.problems.push(text),
      checks: this.checks,
      failureTimeoutMs: this.options.failureTimeoutMs,
      ...(this.options.upgrade === undefined ? {} : { upgrade: this.options.upgrade }),
    };
    const endMs = performance.now() + NEMESIS_PLAN_WAIT_MS;
    while (!signal.aborted && performance.now() < endMs) {
      const planned = planFault(kind, new Random(faultSeed), context, new Occupancy(this.reservations));
      if (planned !== null) {
        this.reservations.add(planned.reservation); // in the same turn as the check that allowed it
        return planned;
      }
      await sleepUnlessAborted(VIEW_POLL_INTERVAL_MS, signal);
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
      const healed = await fault.heal(this.options.interrupted ?? neverAborted);
      log(`chaos: ${this.elapsed()} healed ${number}: ${healed}`);
    } catch (error) {
      this.problems.push(`healing ${fault.record.description}: ${describe(error)}`);
    }
    fault.record.endNs = clock();
  }

  /** A replica of the older build is kept out and waits for its upgrade (format-upgrade.ts). */
  private upgradeDue(): boolean {
    return this.options.kinds.includes('upgrade') && this.options.upgrade?.upgradeDue === true;
  }

  private elapsed(): string {
    return `+${(this.options.clock() / 1e9).toFixed(1)} s`;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
