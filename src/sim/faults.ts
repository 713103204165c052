// Swarm testing: the seed picks which faults a run has and how often, so that across many seeds
// every combination gets exercised, including rare ones made common. The nemesis then injects one
// disruption at a time (a crash, a partition, a clogged link, a slow disk) on a schedule, over a
// background of message loss, duplication and delay, and heals everything at the end.

import { defaultProtocolConfig, type ProtocolConfig, tinyProtocolConfig } from '../protocol/config.js';
import type { ReplicaId } from '../protocol/types.js';
import {
  calmDisk,
  calmNetwork,
  type DiskFaults,
  type Endpoint,
  type NetworkFaults,
  type SimCluster,
} from './cluster.js';
import type { Random } from './random.js';

export type FaultKind =
  | 'crash'
  | 'coordinator-crash'
  | 'partition'
  | 'one-way'
  | 'coordinator-split'
  | 'clog'
  | 'slow-disk';

export interface FaultPlan {
  readonly replicaCount: number;
  readonly config: ProtocolConfig;
  readonly network: NetworkFaults;
  readonly disk: DiskFaults;
  readonly kinds: readonly FaultKind[];
  /** Per replica, how fast its clock runs (1 exact; drift stays well inside the lease margin). */
  readonly clockRates: readonly number[];
  readonly faultIntervalTicks: number;
  readonly faultDurationTicksMax: number;
}

const allKinds: readonly FaultKind[] = [
  'crash',
  'partition',
  'one-way',
  'coordinator-split',
  'coordinator-crash',
  'clog',
  'slow-disk',
];

export function planFaults(random: Random): FaultPlan {
  const replicaCount = random.pick([2, 3, 3, 3, 4]);
  const kinds = allKinds.filter(() => random.chance(0.6));
  const lossy = random.chance(0.5);
  const delayTicksMax = random.pick([1, 2, 5, 10]);
  const drifting = random.chance(0.5);
  return {
    replicaCount,
    config: random.chance(0.3) ? tinyProtocolConfig : defaultProtocolConfig,
    network: {
      lossProbability: lossy ? random.pick([0.001, 0.01, 0.05]) : 0,
      duplicateProbability: random.chance(0.3) ? random.pick([0.01, 0.05]) : 0,
      delayTicksMin: 1,
      delayTicksMax,
    },
    disk: {
      fsyncTicksMin: 1,
      fsyncTicksMax: random.pick([1, 2, 4, 8]),
      tornWriteProbability: random.chance(0.5) ? 0.5 : 0,
    },
    kinds,
    clockRates: Array.from({ length: replicaCount }, () => (drifting ? 0.95 + random.next() * 0.1 : 1)),
    faultIntervalTicks: random.integer(100, 500),
    faultDurationTicksMax: random.pick([100, 300, 800]),
  };
}

export function describePlan(plan: FaultPlan): string {
  const network = plan.network;
  return [
    `${plan.replicaCount} replicas`,
    plan.config === tinyProtocolConfig ? 'tiny limits' : 'default limits',
    `faults [${plan.kinds.join(', ') || 'none'}]`,
    `loss ${network.lossProbability}, duplicates ${network.duplicateProbability}, delay ≤ ${network.delayTicksMax}`,
    `fsync ≤ ${plan.disk.fsyncTicksMax} ticks${plan.disk.tornWriteProbability > 0 ? ', torn writes' : ''}`,
    plan.clockRates.some((rate) => rate !== 1) ? 'drifting clocks' : 'exact clocks',
  ].join('; ');
}

export class Nemesis {
  readonly injected = new Map<FaultKind, number>();
  private nextFaultAt: number;
  private healAt: number | null = null;
  private readonly crashed = new Set<ReplicaId>();

  constructor(
    private readonly cluster: SimCluster,
    private readonly random: Random,
    private readonly plan: FaultPlan,
  ) {
    this.nextFaultAt = cluster.now + plan.faultIntervalTicks;
    cluster.network = plan.network;
    cluster.disk = plan.disk;
    [...cluster.nodes.keys()].forEach((id, position) => {
      cluster.setClockRate(id, plan.clockRates[position] ?? 1);
    });
  }

  step(): void {
    const now = this.cluster.now;
    if (this.healAt !== null && now >= this.healAt) this.healDisruption();
    if (this.healAt === null && now >= this.nextFaultAt && this.plan.kinds.length > 0) {
      this.inject(this.random.pick(this.plan.kinds));
      this.healAt = now + this.random.integer(20, this.plan.faultDurationTicksMax);
      this.nextFaultAt = this.healAt + this.plan.faultIntervalTicks;
    }
  }

  /** Ends every fault: restarts crashed replicas, reconnects the network, calms disks. */
  healAll(): void {
    this.healDisruption();
    this.cluster.network = calmNetwork;
    this.cluster.disk = calmDisk;
  }

  get faultsInjected(): number {
    let total = 0;
    for (const count of this.injected.values()) total += count;
    return total;
  }

  private inject(kind: FaultKind): void {
    this.injected.set(kind, (this.injected.get(kind) ?? 0) + 1);
    const cluster = this.cluster;
    const ids = [...cluster.nodes.keys()];
    const primary = cluster.view()?.primary;
    const target = primary !== undefined && this.random.chance(0.6) ? primary : this.random.pick(ids);
    switch (kind) {
      case 'crash':
        cluster.crash(target);
        this.crashed.add(target);
        break;
      case 'partition':
        cluster.isolate(target);
        break;
      case 'one-way': {
        const other = this.random.pick(ids.filter((id) => id !== target));
        cluster.block(target, other);
        break;
      }
      case 'coordinator-split': {
        const cut: Endpoint[] = this.random.chance(0.3) ? ids : [target];
        for (const id of cut) {
          cluster.block('coordinator', id);
          cluster.block(id, 'coordinator');
        }
        break;
      }
      case 'clog': {
        const other: Endpoint = this.random.pick([
          ...ids.filter((id) => id !== target),
          'coordinator' as const,
        ]);
        const until = cluster.now + this.plan.faultDurationTicksMax;
        cluster.clog(target, other, this.random.integer(10, 100), until);
        break;
      }
      case 'coordinator-crash':
        cluster.crashCoordinator();
        break;
      case 'slow-disk':
        cluster.disk = { ...this.plan.disk, fsyncTicksMin: 20, fsyncTicksMax: 60 };
        break;
    }
  }

  private healDisruption(): void {
    this.healAt = null;
    this.cluster.heal();
    this.cluster.disk = this.plan.disk;
    for (const id of this.crashed) this.cluster.start(id);
    this.cluster.startCoordinator();
    this.crashed.clear();
  }
}
