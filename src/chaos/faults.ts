// The faults a chaos run injects, one planner per kind. A planner looks at what the faults already
// in progress hold (the Occupancy) and either declines (the fault would break the fault model now)
// or returns the fault's Reservation and how to inject it. Injecting returns a RunningFault: `hold`
// lasts the fault's time, `heal` undoes it (and may wait until the cluster took it back).
//
// The fault model (DESIGN §1: the promise holds through the failure of any N−1 replicas while the
// coordinator is reachable, and a lost directory loses only that replica's copy):
// - at most N−1 replicas are down (killed, paused, wiped or isolated) at once;
// - no two faults act on one replica's process;
// - at most one data directory is lost at a time (a wipe, or the coordinator's amnesia), and only
//   when the view is whole; it holds its place until the replica is primary or backup again (or the
//   coordinator formed a whole view again), and never overlaps a kill;
// - at most one fault acts on the coordinator's process, and one sets loss and delay.
//
//   kill              SIGKILL a replica; restart it from its directory later
//   pause             SIGSTOP a replica past the failure timeout; SIGCONT
//   partition         isolate the primary, cut the coordinator's connections to one replica, or
//                     one one-way cut between two replicas
//   loss              frame loss and delay on every proxy
//   pause-partition   SIGSTOP a replica and cut it off from the coordinator (both ways or one way);
//                     SIGCONT while still cut off, so it resumes believing it leads, with client
//                     requests waiting in its sockets; heal the cut a little later
//   wipe              SIGKILL a replica, lose its directory (deleted, or replaced by an empty one),
//                     restart it (mostly at once, within the failure timeout); wait until it is
//                     primary or backup again, and check it was a learner in between
//   coordinator       SIGKILL the coordinator and restart it from its directory (views must not go
//                     back); or amnesia: restart it with an empty directory, check it refuses to act,
//                     then restart it as the operator would, with --recover-from-replicas
//   coordinator-link  one replica's link to the coordinator goes silent: both ways, or one way

import { assert } from '../protocol/assert.js';
import type { StatusReply } from '../protocol/messages.js';
import { replicaId, roleIn, type View } from '../protocol/types.js';
import type { Random } from '../sim/random.js';
import { type ChaosCluster, COORDINATOR_NAME, type DirectoryLoss } from './cluster-processes.js';
import type { NemesisKind } from './nemesis-kinds.js';
import type { DirectedPair, NetworkFault, NetworkFaults } from './network-faults.js';
import { sleepUnlessAborted, VIEW_POLL_INTERVAL_MS, type ViewMonitor } from './view-monitor.js';

export { type NemesisKind, nemesisKinds } from './nemesis-kinds.js';

export const KILL_DOWN_MS = [2000, 4000] as const;
/** Longer than the failure timeout (600 ms by default), so the coordinator fails the replica over. */
export const PAUSE_MS = [1500, 3000] as const;
export const PARTITION_MS = [2000, 4000] as const;
export const LOSS_MS = [2000, 5000] as const;
export const LOSS_PROBABILITY = [0.05, 0.2] as const;
export const LOSS_DELAY_MAX_MS = 20;
/** Paused and cut off: longer than the lease (400 ms) plus its margin and the failure timeout (600 ms). */
export const PAUSE_PARTITION_STOPPED_MS = [1500, 3000] as const;
/** Resumed but still cut off from the coordinator, before the cut heals. */
export const PAUSE_PARTITION_CUT_AFTER_RESUME_MS = [300, 1500] as const;
/** How often a wipe hits the primary rather than a backup. */
export const WIPE_PRIMARY_PROBABILITY = 0.3;
/** How often a wiped replica restarts at once, well within the failure timeout. */
export const WIPE_RESTART_AT_ONCE_PROBABILITY = 0.7;
/** How long a wiped replica stays down when it does not restart at once. */
export const WIPE_DOWN_MS = [1000, 3000] as const;
/**
 * After a restart, a replica the coordinator counts alive has heartbeated since the restart once
 * this long has passed (the failure timeout, 600 ms, plus a margin): the coordinator then knows its
 * new directory.
 */
export const WIPE_IDENTITY_SETTLE_MS = 1500;
/** How long a wiped replica may take to be primary or backup again: a full catch-up from the log. */
export const WIPE_REJOIN_TIMEOUT_MS = 60_000;
export const COORDINATOR_AMNESIA_PROBABILITY = 0.5;
/** How long a killed coordinator stays down before it restarts from its directory. */
export const COORDINATOR_DOWN_MS = [0, 2000] as const;
/** How long a restarted coordinator may take to answer a status. */
export const COORDINATOR_STATUS_TIMEOUT_MS = 15_000;
/** How long a coordinator with an empty directory may take to say it refuses to act. */
export const AMNESIA_REFUSAL_TIMEOUT_MS = 15_000;
/** How long it is left refusing before the operator restarts it. */
export const AMNESIA_REFUSING_MS = [500, 2000] as const;
/** How long the recovering coordinator may take to form a whole view (every replica reports, the last lease runs out). */
export const AMNESIA_RECOVERY_TIMEOUT_MS = 60_000;
export const COORDINATOR_LINK_MS = [2000, 4000] as const;
/** How often a kill, pause, pause-partition or link cut aims at the primary rather than another replica. */
export const PRIMARY_TARGET_PROBABILITY = 0.7;
/** A fault that needs a whole view now trusts a status at most this old. */
export const WHOLE_VIEW_FRESH_MS = 5 * VIEW_POLL_INTERVAL_MS;
/** The source name proxies see for every client. */
const CLIENT_SOURCE = 'client';

export interface FaultRecord {
  readonly kind: NemesisKind;
  /** Which way it was done ("primary", "emptied, at once", "amnesia", ...), for the report. */
  readonly variant: string;
  readonly description: string;
  /** Monotonic, in nanoseconds since the run started. */
  readonly startNs: number;
  endNs: number | null;
  /** The primary, when the fault cuts it off from the coordinator: a failover is expected. */
  readonly formerPrimary: string | null;
  /** The view number when the fault started (0 if none was known). */
  readonly viewNumber: number;
}

/** What a fault in progress holds, for the fault model's rules. */
export interface Reservation {
  readonly kind: NemesisKind;
  /** Replicas it takes out of service: killed, paused, wiped, isolated. */
  readonly down: readonly string[];
  /** The replica whose process it acts on, if any. */
  readonly process: string | null;
  /** A wipe, or the coordinator's amnesia. */
  readonly losesDirectory: boolean;
  readonly onCoordinator: boolean;
}

/** The reservations of the faults in progress, summed up. */
export class Occupancy {
  readonly down: ReadonlySet<string>;
  readonly processes: ReadonlySet<string>;
  readonly killActive: boolean;
  readonly directoryLost: boolean;
  readonly coordinatorBusy: boolean;

  constructor(reservations: Iterable<Reservation>) {
    const all = [...reservations];
    this.down = new Set(all.flatMap((reservation) => reservation.down));
    this.processes = new Set(all.flatMap((reservation) => reservation.process ?? []));
    this.killActive = all.some((reservation) => reservation.kind === 'kill');
    this.directoryLost = all.some((reservation) => reservation.losesDirectory);
    this.coordinatorBusy = all.some((reservation) => reservation.onCoordinator);
  }

  /** Whether taking `ids` down too leaves at least one of `replicaCount` replicas up. */
  mayTakeDown(ids: readonly string[], replicaCount: number): boolean {
    return new Set([...this.down, ...ids]).size <= replicaCount - 1;
  }
}

/** What the faults that lose a directory saw the cluster do about it, for the report. */
export interface DirectoryLossChecks {
  wipes: number;
  /** Wiped replicas seen primary or backup again, two views or more after the wipe. */
  wipesRejoined: number;
  amnesias: number;
  /** The coordinator reported a problem and formed no view until the operator's restart. */
  amnesiasRefusedUntilRecovery: number;
  /** After the operator's restart, a view with every replica as primary or backup formed. */
  amnesiasRecovered: number;
}

export const noDirectoryLossChecks = (): DirectoryLossChecks => ({
  wipes: 0,
  wipesRejoined: 0,
  amnesias: 0,
  amnesiasRefusedUntilRecovery: 0,
  amnesiasRecovered: 0,
});

export interface FaultContext {
  readonly cluster: ChaosCluster;
  readonly monitor: ViewMonitor;
  readonly network: NetworkFaults;
  /** Monotonic nanoseconds since the run started. */
  readonly clock: () => number;
  readonly log: (line: string) => void;
  /** Something the run must fail for: a broken rule of the core, or a fault that could not be undone. */
  readonly problem: (text: string) => void;
  readonly checks: DirectoryLossChecks;
}

/** A fault injected and in progress. */
export interface RunningFault {
  readonly record: FaultRecord;
  /** How long it holds, for the log ("for 2.4 s", "restarted at once"). */
  readonly holdDescription: string;
  /** Lasts the fault's time; returns early when `signal` aborts. */
  hold(signal: AbortSignal): Promise<void>;
  /** Undoes the fault; says how. Waits (bounded, and not past `signal`) until the cluster took it back. */
  heal(signal: AbortSignal): Promise<string>;
}

export interface PlannedFault {
  readonly reservation: Reservation;
  /** Injects the fault. */
  start(): Promise<RunningFault>;
}

/** Plans a fault of `kind`, or null if the fault model does not allow one now. */
export function planFault(
  kind: NemesisKind,
  random: Random,
  context: FaultContext,
  occupancy: Occupancy,
): PlannedFault | null {
  return new Planner(random, context, occupancy).plan(kind);
}

const seconds = (milliseconds: number): string => `${(milliseconds / 1000).toFixed(1)} s`;

/** Which way a replica's link to the coordinator is cut. */
const linkWays = ['both ways', 'replica -> coordinator', 'coordinator -> replica'] as const;
type LinkWay = (typeof linkWays)[number];

/** The one-way cuts that silence `replica`'s link to the coordinator `way`. */
function coordinatorLinkCuts(replica: string, way: LinkWay): DirectedPair[] {
  const up: DirectedPair = [replica, COORDINATOR_NAME];
  const down: DirectedPair = [COORDINATOR_NAME, replica];
  return way === 'both ways' ? [up, down] : way === 'replica -> coordinator' ? [up] : [down];
}

function describeLink(replica: string, way: LinkWay): string {
  if (way === 'both ways') return `${replica} <-> coordinator`;
  return way === 'replica -> coordinator' ? `${replica} -> coordinator` : `coordinator -> ${replica}`;
}

class Planner {
  private readonly replicaIds: readonly string[];
  private readonly view: View | null;
  private readonly primary: string | null;
  private readonly viewNumber: number;

  constructor(
    private readonly random: Random,
    private readonly context: FaultContext,
    private readonly occupancy: Occupancy,
  ) {
    this.replicaIds = context.cluster.replicaIds;
    this.view = context.monitor.view;
    this.primary = this.view?.primary ?? null;
    this.viewNumber = this.view?.number ?? 0;
  }

  plan(kind: NemesisKind): PlannedFault | null {
    switch (kind) {
      case 'kill':
        return this.occupancy.directoryLost ? null : this.planProcessFault('kill');
      case 'pause':
        return this.planProcessFault('pause');
      case 'pause-partition':
        return this.planPausePartition();
      case 'partition':
        return this.planPartition();
      case 'loss':
        return this.context.network.lossActive ? null : this.planLoss();
      case 'wipe':
        return this.planWipe();
      case 'coordinator':
        return this.occupancy.coordinatorBusy ? null : this.planCoordinator();
      case 'coordinator-link':
        return this.planCoordinatorLink();
    }
  }

  // ---- choosing ------------------------------------------------------------------------------

  /** Replicas no other fault acts on or holds down, that may go down now. */
  private freeReplicas(): string[] {
    const { occupancy } = this;
    return this.replicaIds.filter(
      (id) =>
        !occupancy.processes.has(id) &&
        !occupancy.down.has(id) &&
        occupancy.mayTakeDown([id], this.replicaIds.length),
    );
  }

  /** The primary with `primaryProbability` when it is a candidate, otherwise another candidate. */
  private chooseTarget(candidates: readonly string[], primaryProbability: number): string | null {
    if (candidates.length === 0) return null;
    const others = candidates.filter((id) => id !== this.primary);
    const primaryFree = this.primary !== null && candidates.includes(this.primary);
    if (primaryFree && (others.length === 0 || this.random.chance(primaryProbability))) {
      return this.primary;
    }
    return this.random.pick(others);
  }

  /** The replica's role in the view the monitor saw last. */
  private role(id: string): string {
    if (this.view === null) return 'no view known';
    const role = roleIn(this.view, replicaId(id));
    return role === 'none' ? 'not in the view' : role;
  }

  private record(
    kind: NemesisKind,
    variant: string,
    description: string,
    formerPrimary: string | null,
  ): FaultRecord {
    return {
      kind,
      variant,
      description: this.viewNumber === 0 ? description : `${description} in view ${this.viewNumber}`,
      startNs: this.context.clock(),
      endNs: null,
      formerPrimary,
      viewNumber: this.viewNumber,
    };
  }

  /** The fault's former primary: the target, if it is the primary. */
  private ifPrimary(target: string): string | null {
    return target === this.primary ? target : null;
  }

  // ---- replica processes ---------------------------------------------------------------------

  private planProcessFault(kind: 'kill' | 'pause'): PlannedFault | null {
    const target = this.chooseTarget(this.freeReplicas(), PRIMARY_TARGET_PROBABILITY);
    if (target === null) return null;
    const { cluster } = this.context;
    const [shortestMs, longestMs] = kind === 'kill' ? KILL_DOWN_MS : PAUSE_MS;
    const holdMs = this.random.integer(shortestMs, longestMs);
    const role = this.role(target);
    const record = () => this.record(kind, role, `${kind} ${target} (${role})`, this.ifPrimary(target));
    return {
      reservation: { kind, down: [target], process: target, losesDirectory: false, onCoordinator: false },
      start: async () => {
        const fault = record();
        if (kind === 'kill') await cluster.killReplica(target);
        else cluster.replica(target).pause();
        return {
          record: fault,
          holdDescription: `for ${seconds(holdMs)}`,
          hold: (signal) => sleepUnlessAborted(holdMs, signal),
          heal: async () => {
            if (kind === 'pause') {
              cluster.replica(target).resume();
              return `resumed ${target}`;
            }
            await cluster.startReplica(target);
            return `restarted ${target}`;
          },
        };
      },
    };
  }

  private planPausePartition(): PlannedFault | null {
    const target = this.chooseTarget(this.freeReplicas(), PRIMARY_TARGET_PROBABILITY);
    if (target === null) return null;
    const { cluster, network, log } = this.context;
    const stoppedMs = this.random.integer(...PAUSE_PARTITION_STOPPED_MS);
    const afterResumeMs = this.random.integer(...PAUSE_PARTITION_CUT_AFTER_RESUME_MS);
    const way = this.random.pick(linkWays);
    // Both ways: its connection to the coordinator is cut and redials refused. One way: the link
    // stays up and carries messages the other way only.
    const cut: NetworkFault =
      way === 'both ways'
        ? { blocked: [[target, COORDINATOR_NAME]] }
        : { oneWay: coordinatorLinkCuts(target, way) };
    const role = this.role(target);
    const record = () =>
      this.record(
        'pause-partition',
        `${role}, ${way}`,
        `pause ${target} (${role}) and cut ${describeLink(target, way)}`,
        this.ifPrimary(target),
      );
    return {
      reservation: {
        kind: 'pause-partition',
        down: [target],
        process: target,
        losesDirectory: false,
        onCoordinator: false,
      },
      start: async () => {
        const fault = record();
        cluster.replica(target).pause();
        const handle = network.add(cut);
        return {
          record: fault,
          holdDescription: `stopped for ${seconds(stoppedMs)}, then cut off for ${seconds(afterResumeMs)} more`,
          hold: async (signal) => {
            await sleepUnlessAborted(stoppedMs, signal);
            if (signal.aborted) return;
            // Its sockets hold what clients sent meanwhile; it reads them before its timers fire.
            cluster.replica(target).resume();
            log(
              `chaos: +${seconds(this.context.clock() / 1e6)} resumed ${target}; ${describeLink(target, way)} still cut`,
            );
            await sleepUnlessAborted(afterResumeMs, signal);
          },
          heal: async () => {
            cluster.replica(target).resume();
            network.remove(handle);
            return `resumed ${target} and healed its link to the coordinator`;
          },
        };
      },
    };
  }

  private planWipe(): PlannedFault | null {
    const { occupancy, context } = this;
    const { cluster, monitor, problem, checks } = context;
    if (occupancy.directoryLost || occupancy.killActive) return null;
    if (!monitor.isWholeNow(this.replicaIds, WHOLE_VIEW_FRESH_MS)) return null;
    const target = this.chooseTarget(this.freeReplicas(), WIPE_PRIMARY_PROBABILITY);
    if (target === null) return null;
    const how: DirectoryLoss = this.random.chance(0.5) ? 'deleted' : 'emptied';
    const atOnce = this.random.chance(WIPE_RESTART_AT_ONCE_PROBABILITY);
    const downMs = atOnce ? 0 : this.random.integer(...WIPE_DOWN_MS);
    const role = this.role(target);
    const when = atOnce ? 'at once' : 'later';
    const record = () =>
      this.record(
        'wipe',
        `${how}, restarted ${when}`,
        `wipe ${target} (${role}, directory ${how})`,
        this.ifPrimary(target),
      );
    const viewNumber = this.viewNumber;
    return {
      reservation: {
        kind: 'wipe',
        down: [target],
        process: target,
        losesDirectory: true,
        onCoordinator: false,
      },
      start: async () => {
        const fault = record();
        await cluster.killReplica(target);
        const killedAtMs = performance.now();
        cluster.loseDirectory(target, how);
        checks.wipes += 1;
        return {
          record: fault,
          holdDescription: atOnce ? 'restarted at once' : `down for ${seconds(downMs)}`,
          hold: (signal) => sleepUnlessAborted(downMs, signal),
          heal: async (signal) => {
            await cluster.startReplica(target);
            const restarted = `restarted ${target} ${seconds(performance.now() - killedAtMs)} after the kill`;
            await sleepUnlessAborted(WIPE_IDENTITY_SETTLE_MS, signal);
            const back = await monitor.waitFor(
              () => monitor.isMember(target) && monitor.isAlive(target),
              WIPE_REJOIN_TIMEOUT_MS,
              signal,
            );
            if (!back) {
              if (!signal.aborted) {
                problem(
                  `wiped ${target} was not primary or backup again within ${seconds(WIPE_REJOIN_TIMEOUT_MS)}`,
                );
              }
              return restarted;
            }
            // Leaving the primary and backups and coming back takes two new views; with fewer, the
            // coordinator kept a replica that lost its directory as if it held everything.
            const rejoined = monitor.view?.number ?? 0;
            if (rejoined >= viewNumber + 2) checks.wipesRejoined += 1;
            else {
              problem(
                `wiped ${target} is ${monitor.view?.primary === target ? 'primary' : 'a backup'} in view ${rejoined} ` +
                  `without having been a learner since view ${viewNumber}`,
              );
            }
            return `${restarted}; ${monitor.view?.primary === target ? 'primary' : 'a backup'} again in view ${rejoined}`;
          },
        };
      },
    };
  }

  // ---- network -------------------------------------------------------------------------------

  private planPartition(): PlannedFault | null {
    const { primary, occupancy } = this;
    const isolate = primary !== null && occupancy.mayTakeDown([primary], this.replicaIds.length);
    const variants = isolate ? [0, 1, 2] : [1, 2];
    const variant = this.random.pick(variants);
    const holdMs = this.random.integer(...PARTITION_MS);
    let cut: NetworkFault;
    let down: string[] = [];
    let record: () => FaultRecord;
    if (variant === 0 && primary !== null) {
      const everyoneElse = [
        COORDINATOR_NAME,
        CLIENT_SOURCE,
        ...this.replicaIds.filter((id) => id !== primary),
      ];
      cut = {
        blocked: everyoneElse.flatMap((other): DirectedPair[] => [
          [other, primary],
          [primary, other],
        ]),
      };
      down = [primary];
      record = () =>
        this.record('partition', 'isolate the primary', `partition: isolate the primary ${primary}`, primary);
    } else if (variant === 1) {
      const target = this.chooseTarget(this.replicaIds, PRIMARY_TARGET_PROBABILITY);
      assert(target !== null, 'a cluster without replicas');
      cut = {
        blocked: [
          [target, COORDINATOR_NAME],
          [COORDINATOR_NAME, target],
        ],
      };
      const role = this.role(target);
      record = () =>
        this.record(
          'partition',
          `coordinator and ${role}`,
          `partition: cut the coordinator off from ${target} (${role})`,
          this.ifPrimary(target),
        );
    } else {
      const from = this.chooseTarget(this.replicaIds, PRIMARY_TARGET_PROBABILITY);
      assert(from !== null, 'a cluster without replicas');
      const to = this.random.pick(this.replicaIds.filter((id) => id !== from));
      cut = { blocked: [[from, to]] };
      record = () =>
        this.record('partition', 'one-way between replicas', `partition: one-way ${from} -> ${to}`, null);
    }
    return this.networkFault(
      { kind: 'partition', down, process: null, losesDirectory: false, onCoordinator: false },
      cut,
      holdMs,
      record,
    );
  }

  private planCoordinatorLink(): PlannedFault | null {
    const target = this.chooseTarget(this.replicaIds, PRIMARY_TARGET_PROBABILITY);
    if (target === null) return null;
    const way = this.random.pick(linkWays);
    const holdMs = this.random.integer(...COORDINATOR_LINK_MS);
    const role = this.role(target);
    const record = () =>
      this.record(
        'coordinator-link',
        `${role}, ${way}`,
        `coordinator link of ${target} (${role}): ${describeLink(target, way)} goes silent`,
        this.ifPrimary(target),
      );
    return this.networkFault(
      { kind: 'coordinator-link', down: [], process: null, losesDirectory: false, onCoordinator: false },
      { oneWay: coordinatorLinkCuts(target, way) },
      holdMs,
      record,
    );
  }

  private planLoss(): PlannedFault | null {
    const holdMs = this.random.integer(...LOSS_MS);
    const [lowest, highest] = LOSS_PROBABILITY;
    const probability = Math.round((lowest + this.random.next() * (highest - lowest)) * 100) / 100;
    const delayMaxMs = this.random.integer(0, LOSS_DELAY_MAX_MS);
    const record = () =>
      this.record(
        'loss',
        'every proxy',
        `loss ${Math.round(probability * 100)}% and delay 0-${delayMaxMs} ms`,
        null,
      );
    return this.networkFault(
      { kind: 'loss', down: [], process: null, losesDirectory: false, onCoordinator: false },
      { loss: { probability, delayMaxMs } },
      holdMs,
      record,
    );
  }

  private networkFault(
    reservation: Reservation,
    cut: NetworkFault,
    holdMs: number,
    record: () => FaultRecord,
  ): PlannedFault {
    const { network } = this.context;
    return {
      reservation,
      start: async () => {
        const fault = record();
        const handle = network.add(cut);
        return {
          record: fault,
          holdDescription: `for ${seconds(holdMs)}`,
          hold: (signal) => sleepUnlessAborted(holdMs, signal),
          heal: async () => {
            network.remove(handle);
            return reservation.kind;
          },
        };
      },
    };
  }

  // ---- the coordinator -----------------------------------------------------------------------

  private planCoordinator(): PlannedFault | null {
    const { occupancy, context } = this;
    const amnesiaAllowed =
      !occupancy.directoryLost &&
      !occupancy.killActive &&
      context.monitor.isWholeNow(this.replicaIds, WHOLE_VIEW_FRESH_MS);
    if (this.random.chance(COORDINATOR_AMNESIA_PROBABILITY))
      return amnesiaAllowed ? this.planAmnesia() : null;
    const downMs = this.random.integer(...COORDINATOR_DOWN_MS);
    const { cluster, monitor, problem } = context;
    const record = () =>
      this.record('coordinator', 'restart', 'coordinator: kill and restart from its directory', null);
    return {
      reservation: {
        kind: 'coordinator',
        down: [],
        process: null,
        losesDirectory: false,
        onCoordinator: true,
      },
      start: async () => {
        const fault = record();
        const highestBefore = monitor.highestViewNumber;
        await cluster.killCoordinator();
        return {
          record: fault,
          holdDescription: `down for ${seconds(downMs)}`,
          hold: (signal) => sleepUnlessAborted(downMs, signal),
          heal: async (signal) => {
            await cluster.startCoordinator({ recover: cluster.coordinatorNeedsRecovery });
            const startedAtMs = performance.now();
            // Its first status: the view it stored, never an older one.
            let first: StatusReply | null = null;
            const stop = monitor.observe((status, askedAtMs) => {
              if (askedAtMs >= startedAtMs) first ??= status;
            });
            let answered: boolean;
            try {
              answered = await monitor.waitFor(() => first !== null, COORDINATOR_STATUS_TIMEOUT_MS, signal);
            } finally {
              stop();
            }
            if (!answered && !signal.aborted) {
              problem(
                `the coordinator restarted from its directory answered no status within ${seconds(COORDINATOR_STATUS_TIMEOUT_MS)}`,
              );
            }
            const shown = (first as StatusReply | null)?.view?.number ?? null;
            if (shown !== null && shown < highestBefore) {
              problem(
                `the coordinator restarted from its directory shows view ${shown}, below view ${highestBefore} seen before`,
              );
            }
            return `restarted the coordinator${shown === null ? '' : ` (view ${shown})`}`;
          },
        };
      },
    };
  }

  private planAmnesia(): PlannedFault | null {
    const { cluster, monitor, problem, log, checks } = this.context;
    const how: DirectoryLoss = this.random.chance(0.5) ? 'deleted' : 'emptied';
    const refusingMs = this.random.integer(...AMNESIA_REFUSING_MS);
    const record = () =>
      this.record(
        'coordinator',
        'amnesia',
        `coordinator amnesia (state directory ${how}, restarted without --recover-from-replicas)`,
        null,
      );
    return {
      reservation: {
        kind: 'coordinator',
        down: [],
        process: null,
        losesDirectory: true,
        onCoordinator: true,
      },
      start: async () => {
        const fault = record();
        const highestBefore = monitor.highestViewNumber;
        await cluster.killCoordinator();
        cluster.loseDirectory(COORDINATOR_NAME, how);
        await cluster.startCoordinator({ recover: false });
        checks.amnesias += 1;
        // Watch everything the coordinator without state says from now until the operator's restart.
        const startedAtMs = performance.now();
        let refusal: string | null = null;
        let formedView: number | null = null;
        const stopWatching = monitor.observe((status, askedAtMs) => {
          if (askedAtMs < startedAtMs) return;
          if (status.problem !== null) refusal ??= status.problem;
          if (status.view !== null) formedView ??= status.view.number;
        });
        return {
          record: fault,
          holdDescription: `until it refuses to act, then ${seconds(refusingMs)} more`,
          hold: async (signal) => {
            const refused = await monitor.waitFor(() => refusal !== null, AMNESIA_REFUSAL_TIMEOUT_MS, signal);
            if (signal.aborted) return;
            if (!refused) {
              problem(
                `the coordinator restarted with its directory ${how} did not report a problem within ${seconds(AMNESIA_REFUSAL_TIMEOUT_MS)}`,
              );
              return;
            }
            // Its first sentence says why; the rest tells the operator what to do.
            const why = (refusal ?? '').split('. ')[0];
            log(`chaos: +${seconds(this.context.clock() / 1e6)} the coordinator refuses to act: ${why}`);
            await sleepUnlessAborted(refusingMs, signal);
          },
          heal: async (signal) => {
            stopWatching();
            if (formedView !== null) {
              problem(
                `the coordinator restarted with its directory ${how} formed view ${formedView} on its own`,
              );
            } else if (refusal !== null) {
              checks.amnesiasRefusedUntilRecovery += 1;
            }
            // The operator stops it and starts it again, naming every replica.
            await cluster.stopCoordinator();
            await cluster.startCoordinator({ recover: true });
            const whole = await monitor.waitWhole(cluster.replicaIds, AMNESIA_RECOVERY_TIMEOUT_MS, signal);
            if (!whole) {
              if (!signal.aborted) {
                problem(
                  `the coordinator restarted with --recover-from-replicas formed no whole view within ${seconds(AMNESIA_RECOVERY_TIMEOUT_MS)}`,
                );
              }
              return 'restarted the coordinator with --recover-from-replicas';
            }
            checks.amnesiasRecovered += 1;
            return `restarted the coordinator with --recover-from-replicas; whole again in view ${
              monitor.view?.number ?? '?'
            } (highest seen before: ${highestBefore})`;
          },
        };
      },
    };
  }
}
