// The nemesis of a chaos run: every few seconds one fault for a few seconds, then heal. A seeded
// PRNG picks the schedule (which fault, which target, how long), so a seed replays the same plan;
// the real timing of the processes still varies from run to run.
//
//   quiet ──▶ wait until every replica is primary or backup ──▶ fault ──▶ hold ──▶ heal ──▶ quiet
//
// Faults: kill (SIGKILL a replica, restart it from its data directory later), pause (SIGSTOP for
// longer than the failure timeout, then SIGCONT), partition (through the proxies: isolate the
// primary both ways, cut the coordinator off from one replica, or one one-way cut between replicas),
// loss (frame loss plus delay on every proxy). Most faults aim at the primary.
// Invariant: at most one fault is active, and none starts before the view holds every replica, so
// at most one replica is ever down and the cluster stays available.
//
// The ViewMonitor polls the coordinator's status every 100 ms: the nemesis finds the primary with
// it, and the report maps view numbers to primaries to measure failovers.

import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '../client/index.js';
import { assert } from '../protocol/assert.js';
import type { StatusReply } from '../protocol/messages.js';
import type { View } from '../protocol/types.js';
import type { Random } from '../sim/random.js';
import { type ChaosCluster, COORDINATOR_NAME } from './cluster-processes.js';

export const nemesisKinds = ['kill', 'pause', 'partition', 'loss'] as const;
export type NemesisKind = (typeof nemesisKinds)[number];

export const VIEW_POLL_INTERVAL_MS = 100;
/** Deadline of one status poll, retries included. */
export const STATUS_DEADLINE_MS = 1000;
/** A quiet time of this range passes between one fault's heal and the next fault. */
export const NEMESIS_QUIET_MS = [1000, 3000] as const;
/** How long the nemesis waits for a whole view before a fault; it skips the fault if that fails. */
export const NEMESIS_WHOLE_VIEW_WAIT_MS = 15_000;
export const KILL_DOWN_MS = [2000, 4000] as const;
/** Longer than the failure timeout (600 ms by default), so the coordinator fails the replica over. */
export const PAUSE_MS = [1500, 3000] as const;
export const PARTITION_MS = [2000, 4000] as const;
export const LOSS_MS = [2000, 5000] as const;
export const LOSS_PROBABILITY = [0.05, 0.2] as const;
export const LOSS_DELAY_MAX_MS = 20;
/** How often a kill, pause or partition aims at the primary rather than another replica. */
export const PRIMARY_TARGET_PROBABILITY = 0.7;
/** The source name proxies see for every client. */
const CLIENT_SOURCE = 'client';

export interface FaultRecord {
  readonly kind: NemesisKind;
  readonly description: string;
  /** Monotonic, in nanoseconds since the run started. */
  readonly startNs: number;
  endNs: number | null;
  /** The primary, when the fault cuts it off from the coordinator: a failover is expected. */
  readonly formerPrimary: string | null;
  /** The view number when the fault started. */
  readonly viewNumber: number;
}

/** Polls the coordinator's view; remembers the primary of every view it saw. */
export class ViewMonitor {
  /** View number → its primary, for every view observed. */
  readonly primaries = new Map<number, string>();
  private latest: StatusReply | null = null;
  /** When the poll that produced `latest` was sent (performance.now() milliseconds). */
  private latestAskedAtMs = Number.NEGATIVE_INFINITY;
  private stopped = false;
  private readonly loop: Promise<void>;
  private readonly stopping = new AbortController();

  private constructor(private readonly client: Client) {
    this.loop = this.poll();
  }

  static async start(coordinator: string): Promise<ViewMonitor> {
    return new ViewMonitor(await Client.connect({ coordinator, deadlineMs: STATUS_DEADLINE_MS }));
  }

  get view(): View | null {
    return this.latest?.view ?? null;
  }

  /** Whether more than one replica has been primary. */
  get primaryChanged(): boolean {
    return new Set(this.primaries.values()).size > 1;
  }

  /** Every replica alive and either the primary or a backup of the view. */
  isWhole(replicaIds: readonly string[]): boolean {
    assert(replicaIds.length > 0, 'a whole view of no replicas');
    const status = this.latest;
    const view = status?.view;
    if (status === undefined || status === null || view === null || view === undefined) return false;
    const members = new Set<string>([view.primary, ...view.backups]);
    const alive = new Set<string>(
      status.replicas.filter((replica) => replica.alive).map((replica) => replica.id),
    );
    return replicaIds.every((id) => members.has(id) && alive.has(id));
  }

  /**
   * Resolves true once a status asked for after this call shows a whole view, false after
   * `timeoutMs` or on abort.
   */
  async waitWhole(replicaIds: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const sinceMs = performance.now();
    const endMs = sinceMs + timeoutMs;
    while (!(this.latestAskedAtMs >= sinceMs && this.isWhole(replicaIds))) {
      if (performance.now() >= endMs || signal?.aborted === true || this.stopped) return false;
      await sleepUnlessAborted(VIEW_POLL_INTERVAL_MS, signal);
    }
    return true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    await this.loop;
    await this.client.close();
  }

  private async poll(): Promise<void> {
    while (!this.stopped) {
      const askedAtMs = performance.now();
      try {
        const status = await this.client.status();
        this.latest = status;
        this.latestAskedAtMs = askedAtMs;
        if (status.view !== null) this.primaries.set(status.view.number, status.view.primary);
      } catch {
        // The coordinator is behind a faulty proxy at times; the next poll asks again.
      }
      await sleepUnlessAborted(VIEW_POLL_INTERVAL_MS, this.stopping.signal);
    }
  }
}

export interface NemesisOptions {
  readonly cluster: ChaosCluster;
  readonly monitor: ViewMonitor;
  readonly kinds: readonly NemesisKind[];
  readonly random: Random;
  /** Monotonic nanoseconds since the run started. */
  readonly clock: () => number;
  readonly log: (line: string) => void;
}

interface ActiveFault {
  readonly record: FaultRecord;
  readonly holdMs: number;
  heal(): Promise<string>;
}

type DirectedPair = readonly [source: string, target: string];

export class Nemesis {
  readonly faults: FaultRecord[] = [];
  /** What went wrong while injecting or healing (a replica that would not restart, say). */
  readonly problems: string[] = [];
  /** Faults skipped because the view was not whole in time. */
  skipped = 0;

  constructor(private readonly options: NemesisOptions) {}

  /** Injects faults until `signal` aborts; the active fault is healed before this resolves. */
  async run(signal: AbortSignal): Promise<void> {
    const { kinds, random, monitor, cluster, log } = this.options;
    if (kinds.length === 0) return;
    while (!signal.aborted) {
      await sleepUnlessAborted(random.integer(...NEMESIS_QUIET_MS), signal);
      if (signal.aborted) break;
      if (!(await monitor.waitWhole(cluster.replicaIds, NEMESIS_WHOLE_VIEW_WAIT_MS, signal))) {
        if (signal.aborted) break;
        this.skipped += 1;
        log(`chaos: ${this.elapsed()} the view is not whole; skipping a fault`);
        continue;
      }
      let active: ActiveFault;
      try {
        active = await this.inject(random.pick(kinds));
      } catch (error) {
        this.problems.push(`injecting a fault: ${describe(error)}`);
        continue;
      }
      this.faults.push(active.record);
      log(`chaos: ${this.elapsed()} ${active.record.description} for ${(active.holdMs / 1000).toFixed(1)} s`);
      await sleepUnlessAborted(active.holdMs, signal);
      try {
        const healed = await active.heal();
        log(`chaos: ${this.elapsed()} healed: ${healed}`);
      } catch (error) {
        this.problems.push(`healing ${active.record.description}: ${describe(error)}`);
      }
      active.record.endNs = this.options.clock();
    }
  }

  private elapsed(): string {
    return `+${(this.options.clock() / 1e9).toFixed(1)} s`;
  }

  private async inject(kind: NemesisKind): Promise<ActiveFault> {
    const { cluster, monitor, random, clock } = this.options;
    const view = monitor.view;
    if (view === null) throw new Error('no view');
    const primary = view.primary;
    const others = cluster.replicaIds.filter((id) => id !== primary);
    const chooseTarget = (): string =>
      others.length === 0 || random.chance(PRIMARY_TARGET_PROBABILITY) ? primary : random.pick(others);
    const role = (id: string) => (id === primary ? 'primary' : 'backup');
    const record = (description: string, formerPrimary: string | null): FaultRecord => ({
      kind,
      description: `${description} in view ${view.number}`,
      startNs: clock(),
      endNs: null,
      formerPrimary,
      viewNumber: view.number,
    });

    switch (kind) {
      case 'kill': {
        const target = chooseTarget();
        const holdMs = random.integer(...KILL_DOWN_MS);
        const fault = record(`kill ${target} (${role(target)})`, target === primary ? target : null);
        await cluster.killReplica(target);
        return {
          record: fault,
          holdMs,
          heal: async () => {
            await cluster.startReplica(target);
            return `restarted ${target}`;
          },
        };
      }
      case 'pause': {
        const target = chooseTarget();
        const holdMs = random.integer(...PAUSE_MS);
        const fault = record(`pause ${target} (${role(target)})`, target === primary ? target : null);
        cluster.replica(target).pause();
        return {
          record: fault,
          holdMs,
          heal: async () => {
            cluster.replica(target).resume();
            return `resumed ${target}`;
          },
        };
      }
      case 'partition': {
        const holdMs = random.integer(...PARTITION_MS);
        const variant = random.integer(0, 2);
        let pairs: DirectedPair[];
        let fault: FaultRecord;
        if (variant === 0 || others.length === 0) {
          const everyoneElse = [COORDINATOR_NAME, CLIENT_SOURCE, ...others];
          pairs = everyoneElse.flatMap((other): DirectedPair[] => [
            [other, primary],
            [primary, other],
          ]);
          fault = record(`partition: isolate the primary ${primary}`, primary);
        } else if (variant === 1) {
          const target = chooseTarget();
          pairs = [
            [target, COORDINATOR_NAME],
            [COORDINATOR_NAME, target],
          ];
          fault = record(
            `partition: cut the coordinator off from ${target} (${role(target)})`,
            target === primary ? target : null,
          );
        } else {
          const from = chooseTarget();
          const to = random.pick(cluster.replicaIds.filter((id) => id !== from));
          pairs = [[from, to]];
          fault = record(`partition: one-way ${from} -> ${to}`, null);
        }
        applyPartition(cluster, pairs);
        return {
          record: fault,
          holdMs,
          heal: async () => {
            cluster.healNetwork();
            return 'partition';
          },
        };
      }
      case 'loss': {
        const holdMs = random.integer(...LOSS_MS);
        const [lowest, highest] = LOSS_PROBABILITY;
        const probability = Math.round((lowest + random.next() * (highest - lowest)) * 100) / 100;
        const delayMaxMs = random.integer(0, LOSS_DELAY_MAX_MS);
        for (const proxy of cluster.proxies.values()) {
          proxy.setLoss(probability);
          proxy.setDelay(0, delayMaxMs);
        }
        const fault = record(`loss ${Math.round(probability * 100)}% and delay 0-${delayMaxMs} ms`, null);
        return {
          record: fault,
          holdMs,
          heal: async () => {
            cluster.healNetwork();
            return 'loss';
          },
        };
      }
    }
  }
}

/** Blocks each source → target pair at the target's proxy. */
function applyPartition(cluster: ChaosCluster, pairs: readonly DirectedPair[]): void {
  for (const [name, proxy] of cluster.proxies) {
    proxy.block(pairs.filter(([, target]) => target === name).map(([source]) => source));
  }
}

/** Sleeps, or returns early (without throwing) when `signal` aborts. */
export async function sleepUnlessAborted(milliseconds: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return;
  await sleep(milliseconds, undefined, signal === undefined ? {} : { signal }).catch(() => {});
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
