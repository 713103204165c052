// Swarm testing: the seed picks which faults a run has, how many may overlap and how often and how
// long they last, so that across many seeds every combination gets exercised, rare ones included.
// The nemesis then injects disruptions on a schedule — several at once when the plan allows —
// over a background of message loss, duplication and delay, heals each when its time is up, and
// heals everything at the end.
//
// Each fault keeps the promise's own fault model: replicas crash, stall, lose their network or
// their disk's liveness, and at most one data directory is lost at a time (a wipe waits until the
// view holds every replica again, so some replica always holds every committed entry). An operator
// follows the documentation: a coordinator that lost its state is restarted with the consent to
// rebuild from the replicas only once every replica is running.
//
// The plan also makes the rare paths of the newer features common: small snapshot thresholds in most
// seeds (snapshots, compaction and state transfers all the time), and small session limits in many
// (sessions expire by idleness and by count). Two fault kinds aim at them: `transfer-cut` waits for a
// snapshot transfer and kills its receiver or sender, or cuts the link between them, while it is under
// way; `corrupt` flips a bit of what a replica had synced (a log record or a kept snapshot), and its
// restart repairs the damage under a new directory identity, so it rejoins as a new member, keeping
// its intact prefix. Like a wipe, a corrupt starts only when the view holds every replica. Two kinds
// aim at the async loss record: `cut-crash` crashes a primary that was cut off from its backups while
// it acknowledged async writes, so a failover loses them, and `discard-crash` waits for a replica that
// has just discarded async writes after a failover and crashes it before it reports them, so only its
// disk can tell of them. `promote-crash` crashes a new primary before or just after it could lead, so
// failovers chain through views no primary acknowledged, and `keep-crash` does the same to a primary
// the coordinator kept in a new view (a backup removed or added), so the next failover trusts what
// that view's backups were promised to hold.

import { defaultProtocolConfig, type ProtocolConfig, tinyProtocolConfig } from '../protocol/config.js';
import { BASE_FORMAT_LEVEL, FORMAT_LEVEL } from '../protocol/format-level.js';
import type { ReplicaId } from '../protocol/types.js';
import {
  calmDisk,
  calmNetwork,
  type DiskFaults,
  type Endpoint,
  type NetworkFaults,
  type SimCluster,
} from './cluster.js';
import type { EtcdHomeSettings } from './etcd-home.js';
import { Random } from './random.js';

export const faultKinds = [
  'crash',
  'pause',
  'pause-partition',
  'total-crash',
  'wipe',
  'partition',
  'one-way',
  'coordinator-link',
  'coordinator-split',
  'coordinator-crash',
  'coordinator-pause',
  'coordinator-amnesia',
  'clog',
  'slow-disk',
  'disk-hang',
  'fsync-fail',
  'transfer-cut',
  'corrupt',
  'memory-loss',
  'switchover',
  'etcd-outage',
  'stale-leader',
  'discard-crash',
  'coordinator-save-stall',
  'cut-crash',
  'promote-crash',
  'keep-crash',
  'every-disk-full',
  'snapshot-fail',
  'etcd-full',
  'upgrade',
  'forget',
] as const;
export type FaultKind = (typeof faultKinds)[number];

export interface FaultPlan {
  readonly replicaCount: number;
  readonly config: ProtocolConfig;
  /** Which preset `config` starts from, before the snapshot and session limits were picked. */
  readonly limits: 'tiny' | 'default';
  readonly network: NetworkFaults;
  readonly disk: DiskFaults;
  readonly kinds: readonly FaultKind[];
  /** How many disruptions may be active at once. */
  readonly concurrentFaultsMax: number;
  /** Per replica, how fast its clock runs (1 exact; drift stays well inside the lease margin). */
  readonly clockRates: readonly number[];
  readonly faultIntervalTicks: number;
  readonly faultDurationTicksMax: number;
  /** Operations each client connection keeps in flight at once (pipelining on one connection). */
  readonly pipelineDepth: number;
  /** How long a client may stay idle between operations (keeping the primary it knew). */
  readonly clientIdleTicksMax: number;
  /**
   * How long a client waits for an answer before it gives up or asks request-status, while faults
   * run: short deadlines make writes of unknown outcome, and so status questions, common.
   */
  readonly clientDeadlineTicks: number;
  /**
   * The commit quorum (`config.syncQuorum`) when it is below the backups of a whole view, so that a
   * commit may leave some backups without an entry; null when every backup is waited for.
   */
  readonly syncQuorum: number | null;
  /** Share of writes (of those not async) that ask for `replicated` durability. */
  readonly replicatedProbability: number;
  /** The coordinators on etcd (a leader elected by lease, standbys), or null: one embedded coordinator. */
  readonly etcdHome: EtcdHomeSettings | null;
  /** The seed of keep-crash's own draws. */
  readonly keepCrashSeed: number;
}

/** Snapshot thresholds most seeds pick from: a snapshot every few entries to every few dozen. */
const snapshotLogBytesChoices = [256, 512, 1024, 2048, 4096] as const;
/**
 * Session limits a seed picks from, besides the preset's: a few fewer than the workload's processes
 * (expiry by count is constant; not fewer still, or most writes end SESSION_EXPIRED and the history is
 * mostly unknowns), a few more (expiry once reopened sessions pile up), or 16.
 */
const sessionsMaxChoices = (processes: number): readonly number[] => [
  Math.max(2, processes - 2),
  processes + 4,
  16,
];
const sessionIdleTicksMin = 200;
const sessionIdleTicksMax = 2_000;
/** Shares of replicated writes a seed picks from: some, or most (a memory-loss then likely hits one). */
const replicatedProbabilityChoices = [0.2, 0.2, 0.7] as const;
/** Share of seeds (of three replicas or more) whose commits wait for fewer backups than the view has. */
const quorumSeedProbability = 0.4;
/** Client deadlines a seed picks from: a failover takes 100 to 300 ticks, a coordinator's amnesia more. */
const clientDeadlineTicksChoices = [250, 500, 1_500] as const;
/**
 * Failure timeouts (--failure-timeout-ms) a seed may run with instead of the default 60 ticks: just
 * over two heartbeats (a slow heartbeat is then often taken for a failure), and several times longer
 * (the lease runs out well before a silent primary is judged).
 */
const failureTimeoutTicksChoices = [25, 40, 100, 200] as const;
const failureTimeoutSeedProbability = 0.3;

/** `clients`: the workload's client connections, each with `pipelineDepth` processes (session slots). */
export function planFaults(random: Random, clients: number): FaultPlan {
  const replicaCount = random.pick([2, 3, 3, 3, 4]);
  // Kinds added later are drawn last (below), so older seeds keep the rest of their plan.
  const drawnLast: readonly FaultKind[] = [
    'memory-loss',
    'switchover',
    ...etcdFaultKinds,
    'discard-crash',
    'coordinator-save-stall',
    'cut-crash',
    'promote-crash',
    'keep-crash',
    'every-disk-full',
    'snapshot-fail',
    'etcd-full',
    'upgrade',
    'forget',
  ];
  const kinds = faultKinds.filter((kind) => !drawnLast.includes(kind) && random.chance(0.5));
  const lossy = random.chance(0.5);
  const delayTicksMax = random.pick([1, 2, 5, 10]);
  const drifting = random.chance(0.5);
  const limits = random.chance(0.3) ? 'tiny' : 'default';
  const network: NetworkFaults = {
    lossProbability: lossy ? random.pick([0.001, 0.01, 0.05]) : 0,
    duplicateProbability: random.chance(0.3) ? random.pick([0.01, 0.05]) : 0,
    delayTicksMin: 1,
    delayTicksMax,
  };
  const disk: DiskFaults = {
    fsyncTicksMin: 1,
    fsyncTicksMax: random.pick([1, 2, 4, 8]),
    tornWriteProbability: random.chance(0.5) ? 0.5 : 0,
  };
  const concurrentFaultsMax = random.pick([1, 2, 2, 3]);
  const clockRates = Array.from({ length: replicaCount }, () => (drifting ? 0.95 + random.next() * 0.1 : 1));
  const faultIntervalTicks = random.integer(50, 400);
  const faultDurationTicksMax = random.pick([100, 300, 800]);
  const pipelineDepth = random.pick([1, 1, 2, 3]);
  const clientIdleTicksMax = random.pick([0, 0, 50, 300]);
  const clientDeadlineTicks = random.pick(clientDeadlineTicksChoices);
  const preset = limits === 'tiny' ? tinyProtocolConfig : defaultProtocolConfig;
  const configWithoutQuorum: ProtocolConfig = {
    ...preset,
    snapshotLogBytes: random.chance(0.8) ? random.pick(snapshotLogBytesChoices) : preset.snapshotLogBytes,
    sessionsMax: random.chance(0.6)
      ? random.pick(sessionsMaxChoices(clients * pipelineDepth))
      : preset.sessionsMax,
    sessionIdleTicks: random.chance(0.6)
      ? random.integer(sessionIdleTicksMin, sessionIdleTicksMax)
      : preset.sessionIdleTicks,
  };
  // Drawn last, so the rest of a seed's plan is what it was before the option existed. A quorum below
  // the backups needs three replicas or more.
  const syncQuorum =
    replicaCount >= 3 && random.chance(quorumSeedProbability) ? random.integer(1, replicaCount - 2) : null;
  if (random.chance(0.5)) kinds.push('memory-loss');
  const replicatedProbability = random.pick(replicatedProbabilityChoices);
  // Drawn after everything else for the same reason.
  if (random.chance(0.5)) kinds.push('switchover');
  // Last again: on etcd, the coordinator faults above become a leader's loss (crash) and its stall
  // (pause), and two kinds exist only there.
  const etcdHome = random.chance(etcdSeedProbability) ? planEtcdHome(random) : null;
  if (etcdHome !== null) for (const kind of etcdFaultKinds) if (random.chance(0.5)) kinds.push(kind);
  // Last of all. Armed by the plan, never picked by the schedule (see crashAfterDiscard), so the
  // schedule of a seed without it is what it was.
  if (random.chance(0.5)) kinds.push('discard-crash');
  // After it, for the same reason: armed by the plan, it takes some of the schedule's turns (see
  // stallCoordinatorSave) only in the seeds that draw it.
  if (random.chance(0.5)) kinds.push('coordinator-save-stall');
  // Drawn after all of it, so a seed that keeps the default timeout is what it was.
  const failureTimeoutTicks = random.chance(failureTimeoutSeedProbability)
    ? random.pick(failureTimeoutTicksChoices)
    : preset.failureTimeoutTicks;
  // After that too: armed by the plan, it takes some of the schedule's turns (see cutThenCrash) only
  // in the seeds that draw it.
  if (random.chance(0.5)) kinds.push('cut-crash');
  // Last again, armed in the same way (see crashNewPrimary).
  if (random.chance(0.5)) kinds.push('promote-crash');
  // Last again. Its draws come from a generator of its own (see crashKeptPrimary), so a seed in which
  // it never takes a turn runs as it did before it existed.
  if (random.chance(0.5)) kinds.push('keep-crash');
  const keepCrashSeed = random.nextUint32();
  // Drawn apart from the plan's generator, so every seed's other draws are what they were, in a
  // quarter of the seeds, under a constant chosen so that the seeds sim.test runs (1..40, and those it
  // proves broken builds with) are not among them and keep their schedules.
  if (new Random((keepCrashSeed ^ everyDiskFullSalt) >>> 0).chance(everyDiskFullSeedShare)) {
    kinds.push('every-disk-full');
  }
  // The same way, under a constant of its own.
  if (new Random((keepCrashSeed ^ snapshotFailSalt) >>> 0).chance(snapshotFailSeedShare)) {
    kinds.push('snapshot-fail');
  }
  if (etcdHome !== null && drawsEtcdFull(keepCrashSeed)) kinds.push('etcd-full');
  // The same way: a cluster of the older build, upgraded one replica at a time (see 'upgrade').
  if (new Random((keepCrashSeed ^ upgradeSalt) >>> 0).chance(upgradeSeedShare)) kinds.push('upgrade');
  // The same way: an operator forgets replicas as their faults end (see forgetAtHeal).
  if (new Random((keepCrashSeed ^ forgetSalt) >>> 0).chance(forgetSeedShare)) kinds.push('forget');
  const config: ProtocolConfig = {
    ...configWithoutQuorum,
    failureTimeoutTicks,
    ...(syncQuorum === null ? {} : { syncQuorum }),
  };
  return {
    replicaCount,
    config,
    limits,
    network,
    disk,
    kinds,
    concurrentFaultsMax,
    clockRates,
    faultIntervalTicks,
    faultDurationTicksMax,
    pipelineDepth,
    clientIdleTicksMax,
    clientDeadlineTicks,
    syncQuorum,
    replicatedProbability,
    etcdHome,
    keepCrashSeed,
  };
}

/** The plan with one embedded coordinator instead of coordinators on etcd. */
export function withEmbeddedCoordinator(plan: FaultPlan): FaultPlan {
  const kinds = plan.kinds.filter((kind) => !etcdFaultKinds.includes(kind) && kind !== 'etcd-full');
  return { ...plan, etcdHome: null, kinds };
}

/**
 * The plan with a commit quorum wherever one fits: a seed of 3 or 4 replicas that drew none commits at
 * one backup (a seed that drew one keeps its k), so sweeps can dwell on that mode.
 */
export function withCommitQuorum(plan: FaultPlan): FaultPlan {
  if (plan.syncQuorum !== null || plan.replicaCount < 3) return plan;
  return { ...plan, syncQuorum: 1, config: { ...plan.config, syncQuorum: 1 } };
}

/** The plan of a rolling upgrade under way, as a quarter of the seeds draw it (the upgrade fault). */
export function withRollingUpgrade(plan: FaultPlan): FaultPlan {
  return plan.kinds.includes('upgrade') ? plan : { ...plan, kinds: [...plan.kinds, 'upgrade'] };
}

/** The plan with coordinators on etcd (its drawn settings, or a middle lease) and both etcd fault kinds. */
export function withEtcdCoordinators(plan: FaultPlan): FaultPlan {
  const kinds = [...plan.kinds, ...etcdFaultKinds.filter((kind) => !plan.kinds.includes(kind))];
  if (!kinds.includes('etcd-full') && drawsEtcdFull(plan.keepCrashSeed)) kinds.push('etcd-full');
  return { ...plan, etcdHome: plan.etcdHome ?? { leaseTtlTicks: 120, keepaliveEveryTicks: 30 }, kinds };
}

/**
 * Seeds the draw of upgrade (planFaults), in a quarter of the seeds, none of those sim.test runs: the
 * replicas of such a seed start on a build of format level 1 (run-seed.ts).
 */
const upgradeSalt = 0x06a0_1f46;
const upgradeSeedShare = 0.25;

/**
 * Seeds the draw of forget (planFaults), in 30 % of the seeds, none of those sim.test proves broken
 * builds with; its own draws come from a generator of its own (forgetRandom).
 */
const forgetSalt = 0x0f0e_854a;
const forgetSeedShare = 0.3;
/** In a seed that draws forget, the chance that the operator forgets a replica as its fault ends. */
const forgetAtHealProbability = 0.5;

/** Seeds the draw of every-disk-full (planFaults). */
const everyDiskFullSalt = 0x0d17_d30e;
const everyDiskFullSeedShare = 0.25;
/** Seeds the draw of snapshot-fail (planFaults), in about 30 % of the seeds, none of sim.test's. */
const snapshotFailSalt = 0x05df_fc73;
const snapshotFailSeedShare = 0.3;
/** How long snapshot writes fail: a few of the retries `snapshotRetryTicks` spaces (50 or 500 ticks). */
const snapshotFailTicks = [100, 2_000] as const;
/** How often snapshot-fail hits every replica's disk, as identical disks fill together. */
const snapshotFailEveryReplicaProbability = 0.4;
/** While every disk is full, the chance each tick that a stopped replica's supervisor restarts it. */
const restartOnFullDiskProbability = 0.02;

/** Kinds the plan arms and the schedule never picks. */
const armedKinds: readonly FaultKind[] = [
  'discard-crash',
  'coordinator-save-stall',
  'cut-crash',
  'promote-crash',
  'keep-crash',
  'forget',
];
/** Kinds only a coordinator on etcd has (etcd-full too, drawn apart: drawsEtcdFull). */
const etcdFaultKinds: readonly FaultKind[] = ['etcd-outage', 'stale-leader'];
/**
 * Seeds the draw of etcd-full among the seeds on etcd, 30 % of them, apart from the plan's generator
 * and under a constant with which none of sim.test's seeds draws it (their schedules hold).
 */
const etcdFullSalt = 0x0e7c_55fe;
const etcdFullSeedShare = 0.3;

/** Whether a seed on etcd draws etcd-full. */
function drawsEtcdFull(keepCrashSeed: number): boolean {
  return new Random((keepCrashSeed ^ etcdFullSalt) >>> 0).chance(etcdFullSeedShare);
}
/** Share of seeds whose coordinators live on etcd. */
const etcdSeedProbability = 0.4;

/**
 * The leadership lease outlives a coordinator's lease on the primary with a keepalive to spare, as
 * the shell's settings require, so a healthy leader always grants full leases.
 */
function planEtcdHome(random: Random): EtcdHomeSettings {
  const leaseTtlTicks = random.pick([80, 120, 200]);
  return { leaseTtlTicks, keepaliveEveryTicks: leaseTtlTicks / 4 };
}

/** The plan in words; a service's run (service-simulation.ts) leaves out what only the key/value clients do. */
export function describePlan(plan: FaultPlan, clients: 'key-value' | 'service' = 'key-value'): string {
  const network = plan.network;
  const keyValueOnly = [
    `${plan.pipelineDepth} operation${plan.pipelineDepth === 1 ? '' : 's'} in flight per connection`,
    plan.clientIdleTicksMax > 0 ? `clients idle up to ${plan.clientIdleTicksMax} ticks` : 'busy clients',
  ];
  return [
    `${plan.replicaCount} replicas`,
    `${plan.limits} limits`,
    `snapshots every ${plan.config.snapshotLogBytes} bytes of log`,
    `sessions ≤ ${plan.config.sessionsMax}, idle ≤ ${plan.config.sessionIdleTicks} ticks`,
    `faults [${plan.kinds.join(', ') || 'none'}], up to ${plan.concurrentFaultsMax} at once`,
    `loss ${network.lossProbability}, duplicates ${network.duplicateProbability}, delay ≤ ${network.delayTicksMax}`,
    `fsync ≤ ${plan.disk.fsyncTicksMax} ticks${plan.disk.tornWriteProbability > 0 ? ', torn writes' : ''}`,
    plan.clockRates.some((rate) => rate !== 1) ? 'drifting clocks' : 'exact clocks',
    ...(clients === 'key-value' ? keyValueOnly : []),
    `client deadline ${plan.clientDeadlineTicks} ticks`,
    `failure timeout ${plan.config.failureTimeoutTicks} ticks`,
    plan.syncQuorum === null ? 'commit at every backup' : `commit at ${plan.syncQuorum} backup(s)`,
    plan.etcdHome === null
      ? 'one coordinator'
      : `coordinators on etcd (lease ${plan.etcdHome.leaseTtlTicks} ticks, keepalive every ${plan.etcdHome.keepaliveEveryTicks})`,
    ...(clients === 'key-value'
      ? [`${Math.round(plan.replicatedProbability * 100)}% of sync writes replicated`]
      : []),
  ].join('; ');
}

/** One disruption in progress: what it touches (so faults never stack on one target) and how to undo it. */
/** What a fault acts on: a process, or etcd itself (etcd-full, which a coordinator's crash may meet). */
type FaultTarget = Endpoint | 'etcd';

interface ActiveFault {
  readonly kind: FaultKind;
  readonly target: FaultTarget;
  healAt: number;
  heal(): void;
  /** For faults that unfold in stages: called every step while the fault is active. */
  step?(): void;
  /** While active, no other fault starts. */
  readonly exclusive?: boolean;
}

/** After a total crash and one member's return, how long the cluster may take to serve again. */
const partialReturnTicksMax = 1_500;

export class Nemesis {
  readonly injected = new Map<FaultKind, number>();
  /** Upgrade faults that started a replica of the older build after every replica ran this one. */
  rollbacks = 0;
  /** Liveness the faults demand and the cluster did not deliver (a total crash's partial return). */
  readonly violations: string[] = [];
  private nextFaultAt: number;
  private active: ActiveFault[] = [];
  /** A wiped (or corrupted and repaired) replica not yet back in the view as primary or backup: no other directory is lost until it is. */
  private wipedAwaitingRejoin: { readonly id: ReplicaId; readonly viewNumber: number } | null = null;
  /** A transfer-cut drawn and waiting for a transfer to interrupt, until a tick. */
  private transferCutArmed: { readonly until: number; strikeAt: number | null } | null = null;
  /** The kinds the schedule picks from: all of the plan's but discard-crash, which lies in wait. */
  private readonly scheduled: readonly FaultKind[];
  /** Each replica's count of unreported async losses when last looked at (discard-crash). */
  private readonly unreportedSeen = new Map<ReplicaId, number>();
  /** The primary of the last view looked at (promote-crash). */
  private primarySeen: ReplicaId | null = null;
  /** The last view looked at (keep-crash). */
  private viewSeen: { readonly number: number; readonly primary: ReplicaId } | null = null;
  /** keep-crash's own draws, apart from the schedule's. */
  private readonly keepCrashRandom: Random;
  /** forget's own draws, apart from the schedule's; null in a seed that does not draw it. */
  private readonly forgetRandom: Random | null;
  /** Replicas the coordinator forgot when the operator asked (forget; `injected` counts the asks). */
  forgotten = 0;

  constructor(
    private readonly cluster: SimCluster,
    private readonly random: Random,
    private readonly plan: FaultPlan,
  ) {
    this.nextFaultAt = cluster.now + plan.faultIntervalTicks;
    const scheduled = plan.kinds.filter((kind) => !armedKinds.includes(kind));
    // An upgrade takes a step per older replica, and then a rollback: three turns in the schedule.
    this.scheduled = scheduled.includes('upgrade') ? [...scheduled, 'upgrade', 'upgrade'] : scheduled;
    this.keepCrashRandom = new Random(plan.keepCrashSeed);
    this.forgetRandom = plan.kinds.includes('forget')
      ? new Random((plan.keepCrashSeed ^ forgetSalt) >>> 0)
      : null;
    cluster.network = plan.network;
    cluster.disk = plan.disk;
    // The operator keeps watching after the faults are healed.
    cluster.watchers.push(() => this.followOperator());
    [...cluster.nodes.keys()].forEach((id, position) => {
      cluster.setClockRate(id, plan.clockRates[position] ?? 1);
    });
  }

  step(): void {
    const now = this.cluster.now;
    for (const fault of this.active.filter((candidate) => candidate.healAt <= now)) this.healOne(fault);
    for (const fault of this.active) fault.step?.();
    if (this.active.some((fault) => fault.exclusive === true)) return;
    this.cutTransfer();
    if (this.plan.kinds.includes('discard-crash')) this.crashAfterDiscard();
    if (this.plan.kinds.includes('promote-crash')) this.crashNewPrimary();
    if (this.plan.kinds.includes('keep-crash')) this.crashKeptPrimary();
    if (now < this.nextFaultAt || this.scheduled.length === 0) return;
    if (this.active.length < this.plan.concurrentFaultsMax) {
      const fault =
        this.stallCoordinatorSave() ?? this.cutThenCrash() ?? this.inject(this.random.pick(this.scheduled));
      if (fault !== null) {
        this.active.push(fault);
        this.injected.set(fault.kind, (this.injected.get(fault.kind) ?? 0) + 1);
      }
    }
    this.nextFaultAt = now + this.random.integer(1, this.plan.faultIntervalTicks);
  }

  /** Ends every fault: restarts and resumes processes, reconnects the network, calms disks. */
  healAll(): void {
    this.transferCutArmed = null;
    for (const fault of [...this.active]) this.healOne(fault);
    this.cluster.heal();
    this.cluster.network = calmNetwork;
    this.cluster.disk = calmDisk;
    // The rolling upgrade completes: a replica still on the older build is restarted on this one.
    for (const id of this.cluster.nodes.keys()) {
      if (this.cluster.formatLevelOf(id) >= FORMAT_LEVEL) continue;
      if (this.cluster.isRunning(id)) this.cluster.crash(id);
      this.cluster.setFormatLevel(id, FORMAT_LEVEL);
    }
    for (const id of this.cluster.nodes.keys()) this.cluster.start(id);
    this.cluster.startCoordinator();
  }

  /**
   * The operator, as the documentation asks: a coordinator that says it lost its state is restarted
   * with the consent to rebuild from the replicas, naming every replica of the cluster, once the
   * amnesia fault is over. Consent is given for that start only.
   */
  followOperator(): void {
    const cluster = this.cluster;
    const view = this.acknowledgedView();
    if (this.wipedAwaitingRejoin !== null && view !== null) {
      // Back only in a view formed after the wipe (the view it was wiped in still names it) that its
      // primary acknowledged: a view the coordinator merely installed may name a member that holds
      // nothing yet (with a commit quorum, the fence view names every member of the last one). And
      // only under its new directory: a coordinator that had not heard of the wipe names the old one,
      // which is gone (sim seed 222236 on etcd with a commit quorum: a fence installed by a newly
      // elected coordinator kept the wiped backup's old directory; a second wipe followed, and the
      // coordinator, rightly counting that backup as lost, could never replace the primary).
      // And only once it runs again: a damaged directory becomes a new one when its replica starts
      // and repairs it, so before that the coordinator's record of the old one still matched, and a
      // view acknowledged meanwhile that named the stopped replica let a second directory go (sim
      // seed 1000432: both replicas of two repaired, and no candidate left to lead, for good).
      const { id, viewNumber } = this.wipedAwaitingRejoin;
      const named = view.primary === id || view.backups.includes(id);
      const back = cluster.isRunning(id) && cluster.acknowledgedWithItsDirectory(id);
      if (view.number > viewNumber && named && back) {
        this.wipedAwaitingRejoin = null;
      }
    }
    if (cluster.coordinator?.needsOperator !== true) return;
    if (this.active.some((fault) => fault.kind === 'coordinator-amnesia')) return;
    cluster.crashCoordinator();
    cluster.startCoordinator({ recoverFromReplicas: [...cluster.nodes.keys()] });
  }

  /** The current view, if its primary acknowledged it (the coordinator's stored word), else null. */
  private acknowledgedView(): ReturnType<SimCluster['view']> {
    const view = this.cluster.view();
    return view !== null && this.cluster.lastAcknowledgedView()?.number === view.number ? view : null;
  }

  get faultsInjected(): number {
    let total = 0;
    for (const count of this.injected.values()) total += count;
    return total;
  }

  /**
   * Every replica dies, one after another, so the coordinator notices them one at a time (and may
   * form views whose primaries are already dead); then one member of the last view a primary
   * acknowledged returns alone, from its disk. It holds every committed entry, so it must lead.
   */
  private totalCrash(ids: readonly ReplicaId[]): ActiveFault | null {
    const cluster = this.cluster;
    if (this.active.length > 0 || !cluster.coordinatorRunning || cluster.coordinator?.problem !== null)
      return null;
    // A member whose directory was just replaced must not be the one to return (it holds nothing).
    if (this.wipedAwaitingRejoin !== null) return null;
    if (!ids.every((id) => cluster.isRunning(id))) return null;
    const crashAt = new Map<ReplicaId, number>();
    let at = cluster.now;
    for (const id of this.random.chance(0.5) ? [...ids].reverse() : ids) {
      crashAt.set(id, at);
      at += this.random.integer(0, this.plan.config.failureTimeoutTicks);
    }
    const returnAt = at + this.random.integer(1, 3) * this.plan.config.failureTimeoutTicks;
    let returned: ReplicaId | null = null;
    const fault: ActiveFault = {
      kind: 'total-crash',
      target: 'coordinator',
      exclusive: true,
      healAt: Number.POSITIVE_INFINITY,
      heal: () => {
        for (const id of ids) cluster.start(id);
      },
      step: () => {
        for (const [id, when] of crashAt) {
          if (cluster.now >= when && cluster.isRunning(id)) cluster.crash(id);
          if (cluster.now >= when) crashAt.delete(id);
        }
        if (returned === null && crashAt.size === 0 && cluster.now >= returnAt) {
          const acknowledged = cluster.lastAcknowledgedView();
          if (acknowledged === null) {
            fault.healAt = cluster.now;
            return;
          }
          // With a commit quorum a backup alone may miss a commit: only the primary (its disk holds
          // every commit) may lead without hearing from enough backups, so it is the one to return.
          returned =
            this.plan.syncQuorum === null
              ? this.random.pick([acknowledged.primary, ...acknowledged.backups])
              : acknowledged.primary;
          cluster.start(returned);
          fault.healAt = cluster.now + partialReturnTicksMax;
          return;
        }
        if (returned === null) return;
        const status = cluster.replica(returned)?.status();
        if (status?.role === 'primary' && status.leaseValid) {
          fault.healAt = cluster.now; // it leads again: bring the others back
        } else if (cluster.now + 1 >= fault.healAt) {
          this.violations.push(
            `liveness: after a total crash, ${returned} (a member of the last acknowledged view) returned alone and did not lead within ${partialReturnTicksMax} ticks`,
          );
        }
      },
    };
    return fault;
  }

  /**
   * Every replica's disk full at once, as when identical replicas outgrow identical disks together:
   * each stops at its next fsync, in whatever order the load and the view changes bring them (a
   * backup promoted after the primary stopped fails at its first write as primary), and a supervisor
   * restarts a stopped one now and then while its disk is still full, so it stops again at its next
   * fsync. Outside the fault model's N − 1, like a total crash, and for the same reason nothing
   * acknowledged may be lost: a replica stops at a write it could not make and acknowledged none of it.
   */
  private everyDiskFull(ids: readonly ReplicaId[], healAt: number): ActiveFault | null {
    const cluster = this.cluster;
    if (this.active.length > 0 || !cluster.coordinatorRunning || cluster.coordinator?.problem !== null)
      return null;
    if (this.wipedAwaitingRejoin !== null || !ids.every((id) => cluster.isRunning(id))) return null;
    for (const id of ids) cluster.setFsyncFails(id, true);
    cluster.note(`every-disk-full: until ${healAt}`);
    return {
      kind: 'every-disk-full',
      target: 'coordinator',
      exclusive: true,
      healAt,
      heal: () => {
        for (const id of ids) {
          if (cluster.isRunning(id)) cluster.setFsyncFails(id, false);
          cluster.start(id);
        }
      },
      step: () => {
        for (const id of ids) {
          if (cluster.isRunning(id) || !this.random.chance(restartOnFullDiskProbability)) continue;
          cluster.start(id);
          cluster.setFsyncFails(id, true);
        }
      },
    };
  }

  /**
   * What a replicated write must survive, made likely: the disks of all backups but one turn slow
   * (their memory runs ahead of their disk), then that one crashes and restarts at once (a new process
   * that lost its memory, back before the coordinator noticed; its disk held almost all it received),
   * and a few ticks later the primary crashes. The slow backups hold the latest replicated writes in
   * memory only; the restarted one holds less, though perhaps more on disk than they do.
   * Most of the time the other backups' reports also reach the coordinator late (a clogged link), so what
   * it knows of them is older than what they hold. The coordinator must choose one that holds
   * everything, or the checks see a replicated write lost while some replica that held it never failed.
   */
  private memoryLoss(): ActiveFault | null {
    const cluster = this.cluster;
    const view = cluster.view();
    if (this.active.length > 0 || view === null || view.backups.length === 0) return null;
    if (![view.primary, ...view.backups].every((id) => cluster.isRunning(id) && !cluster.isPaused(id)))
      return null;
    const primary = view.primary;
    const backup = this.random.pick(view.backups);
    const slowFor = this.random.integer(20, 80);
    const crashBackupAt = cluster.now + slowFor;
    const crashPrimaryAt = crashBackupAt + this.random.integer(0, 10);
    // Slow, but not so slow that the coordinator counts them as failed: a write that waits a failure
    // timeout for its fsync is a failure. A batch waits behind the sync in flight, so half of it.
    const fsyncTicksMax = Math.min(25, Math.floor(this.plan.config.failureTimeoutTicks / 2) - 1);
    const fsyncTicksMin = Math.min(10, fsyncTicksMax);
    for (const id of view.backups) {
      if (id !== backup) cluster.setDiskFaults(id, { ...this.plan.disk, fsyncTicksMin, fsyncTicksMax });
    }
    if (this.random.chance(0.7)) {
      // Late, but not so late that the coordinator counts them as silent (failureTimeoutTicks).
      const until = crashPrimaryAt + 2 * this.plan.config.failureTimeoutTicks;
      const delayTicks = this.random.integer(20, 50);
      for (const id of view.backups) if (id !== backup) cluster.clog(id, 'coordinator', delayTicks, until);
    }
    cluster.note(
      `memory-loss: other backups' disks slow; ${backup} restarts at ${crashBackupAt}, ${primary} crashes at ${crashPrimaryAt}`,
    );
    let stage: 'slow' | 'backup-restarted' | 'primary-down' = 'slow';
    const fault: ActiveFault = {
      kind: 'memory-loss',
      target: primary,
      exclusive: true,
      // The primary stays down until a new one was chosen without it (back sooner, it would lead again).
      healAt: crashPrimaryAt + 3 * this.plan.config.failureTimeoutTicks + this.random.integer(0, 200),
      heal: () => {
        for (const id of view.backups) cluster.setDiskFaults(id, null);
        cluster.start(backup);
        cluster.start(primary);
      },
      step: () => {
        if (stage === 'slow' && cluster.now >= crashBackupAt) {
          if (cluster.isRunning(backup)) cluster.crash(backup);
          cluster.start(backup);
          stage = 'backup-restarted';
        }
        if (stage === 'backup-restarted' && cluster.now >= crashPrimaryAt) {
          if (cluster.isRunning(primary)) cluster.crash(primary);
          stage = 'primary-down';
        }
      },
    };
    return fault;
  }

  private healOne(fault: ActiveFault): void {
    this.active = this.active.filter((candidate) => candidate !== fault);
    this.forgetAtHeal(fault.target);
    fault.heal();
  }

  /**
   * forget: as a fault on a replica ends, before it is restarted or heard again, the operator may
   * take it for gone for good and ask the coordinator to forget it. The coordinator forgets it only
   * once it is out of the view and silent for a failure timeout (a replica cut off but running is
   * forgotten too, and comes back as new when the network does); otherwise it refuses. Either way
   * the replica then returns, and must rejoin like a new one without losing or repeating anything.
   */
  private forgetAtHeal(target: FaultTarget): void {
    const random = this.forgetRandom;
    const id = [...this.cluster.nodes.keys()].find((replica) => replica === target);
    if (random === null || id === undefined || !random.chance(forgetAtHealProbability)) return;
    const outcome = this.cluster.forgetReplica(id);
    if (outcome === null) return;
    this.injected.set('forget', (this.injected.get('forget') ?? 0) + 1);
    if (outcome.ok) this.forgotten += 1;
  }

  private busy(target: FaultTarget): boolean {
    return this.active.some((fault) => fault.target === target);
  }

  /**
   * A transfer-cut, once drawn, waits (without taking a slot, so that the faults that make transfers
   * happen can run) for a snapshot transfer, then interrupts it while it is under way: its receiver or
   * its sender crashes, the link between them is cut both ways, or the receiver is isolated; each is
   * undone after a while. An end already under another fault is left alone.
   */
  private cutTransfer(): void {
    const cluster = this.cluster;
    const armed = this.transferCutArmed;
    if (armed === null) return;
    if (cluster.now > armed.until) {
      this.transferCutArmed = null;
      return;
    }
    if (this.active.length >= this.plan.concurrentFaultsMax) return;
    const free = (id: ReplicaId) => !this.busy(id) && cluster.isRunning(id);
    const transfer = cluster.transfersUnderWay().find(({ from, to }) => free(from) || free(to));
    if (transfer === undefined) {
      armed.strikeAt = null;
      return;
    }
    // Somewhere inside the transfer, not always at its first tick.
    armed.strikeAt ??= this.random.integer(cluster.now, Math.max(cluster.now, transfer.deliverAt - 1));
    if (cluster.now < armed.strikeAt) return;
    this.transferCutArmed = null;
    const target = this.random.pick([transfer.to, transfer.from].filter(free));
    const other = target === transfer.to ? transfer.from : transfer.to;
    const roll = this.random.next();
    let heal: () => void;
    let variant: string;
    if (roll < 0.5) {
      cluster.crash(target);
      heal = () => cluster.start(target);
      variant = 'crash';
    } else {
      const links: [Endpoint, Endpoint][] =
        roll < 0.8
          ? [
              [target, other],
              [other, target],
            ]
          : cluster.isolationLinks(target);
      for (const [from, to] of links) cluster.block(from, to);
      heal = () => {
        for (const [from, to] of links) cluster.unblock(from, to);
      };
      variant = roll < 0.8 ? 'cut the link' : 'isolate';
    }
    const role = target === transfer.to ? 'receiver' : 'sender';
    cluster.note(
      `transfer-cut: ${variant} ${role} ${target} of the transfer ${transfer.from}>${transfer.to}`,
    );
    this.active.push({
      kind: 'transfer-cut',
      target,
      healAt: cluster.now + this.random.integer(20, this.plan.faultDurationTicksMax),
      heal,
    });
    this.injected.set('transfer-cut', (this.injected.get('transfer-cut') ?? 0) + 1);
  }

  /**
   * A discard-crash: a replica whose count of unreported async losses just rose (it truncated its log
   * or installed a snapshot after a failover, in the step before) crashes half of the time, before its
   * next tick could report them, and stays down a while. Without the list on its disk, its next
   * process would never report them, and the loss record would miss writes the checks see lost.
   */
  private crashAfterDiscard(): void {
    const cluster = this.cluster;
    for (const id of cluster.nodes.keys()) {
      const count = cluster.replica(id)?.unreportedLossCount ?? 0;
      const seen = this.unreportedSeen.get(id) ?? 0;
      this.unreportedSeen.set(id, count);
      if (count <= seen || this.busy(id) || cluster.isPaused(id)) continue;
      if (this.active.length >= this.plan.concurrentFaultsMax || !this.random.chance(0.5)) continue;
      cluster.crash(id);
      this.unreportedSeen.set(id, 0);
      cluster.note(`discard-crash: ${id} crashes with ${count} async losses not yet reported`);
      this.active.push({
        kind: 'discard-crash',
        target: id,
        healAt: cluster.now + this.random.integer(20, this.plan.faultDurationTicksMax),
        heal: () => cluster.start(id),
      });
      this.injected.set('discard-crash', (this.injected.get('discard-crash') ?? 0) + 1);
    }
  }

  /**
   * In some of the schedule's turns, for a plan that arms it: the embedded coordinator's next state
   * write hangs (its disk stops answering) until the fault heals. It decides a view, then stops on
   * its one thread before it stores or tells anyone, holding every input meanwhile. At the heal the
   * write completes, or, a third of the time, the machine goes down first and the coordinator starts
   * again from the state before it: the view it decided is lost, and nobody may have acted on it.
   * Null when it does not apply, and the turn goes to a scheduled kind.
   */
  private stallCoordinatorSave(): ActiveFault | null {
    const cluster = this.cluster;
    if (!this.plan.kinds.includes('coordinator-save-stall') || this.plan.etcdHome !== null) return null;
    if (this.busy('coordinator') || !cluster.coordinatorRunning || !this.random.chance(0.15)) return null;
    cluster.armCoordinatorSaveStall();
    const crashes = this.random.chance(1 / 3);
    return {
      kind: 'coordinator-save-stall',
      target: 'coordinator',
      healAt: cluster.now + this.random.integer(20, this.plan.faultDurationTicksMax),
      heal: () => {
        if (crashes && cluster.coordinatorSaveHangs) {
          cluster.crashCoordinator();
          cluster.startCoordinator();
        } else {
          cluster.endCoordinatorSaveStall();
        }
      },
    };
  }

  /**
   * A promote-crash: a replica the coordinator just made primary (of a view that changed the primary)
   * crashes within a few ticks, a third of the time: before it heard of its view, while it syncs
   * what it inherited, or just after it was ready to lead. The next failover then chooses among the
   * members of views never acknowledged, and the crashed one returns with a log that may end in its
   * own view-start entry.
   */
  private crashNewPrimary(): void {
    const cluster = this.cluster;
    const primary = cluster.view()?.primary ?? null;
    if (primary === null || primary === this.primarySeen) return;
    this.primarySeen = primary;
    if (this.active.length >= this.plan.concurrentFaultsMax || this.busy(primary)) return;
    if (!cluster.isRunning(primary) || !this.random.chance(1 / 3)) return;
    const crashAt = cluster.now + this.random.integer(0, 8);
    let crashed = false;
    cluster.note(`promote-crash: ${primary}, the new primary, crashes at ${crashAt}`);
    this.active.push({
      kind: 'promote-crash',
      target: primary,
      healAt: crashAt + this.random.integer(1, 2 * this.plan.config.failureTimeoutTicks),
      heal: () => cluster.start(primary),
      step: () => {
        if (crashed || cluster.now < crashAt) return;
        crashed = true;
        if (cluster.isRunning(primary)) cluster.crash(primary);
      },
    });
    this.injected.set('promote-crash', (this.injected.get('promote-crash') ?? 0) + 1);
  }

  /**
   * A keep-crash: the primary of a new view that kept it (the coordinator removed or added a backup)
   * crashes, a third of the time. Half of those strike within a few ticks, while it may still owe the
   * new view's backups what it inherited; the other half strike as soon as the coordinator has saved
   * the view as acknowledged, the moment it starts to trust that view's backups to hold every commit.
   * Whatever it promotes next must hold them, though the crashed primary may have settled nothing.
   */
  private crashKeptPrimary(): void {
    const cluster = this.cluster;
    const view = cluster.view();
    if (view === null || view.primary === null || view.number === this.viewSeen?.number) return;
    const kept = this.viewSeen?.primary === view.primary;
    this.viewSeen = { number: view.number, primary: view.primary };
    const primary = view.primary;
    if (!kept || this.active.length >= this.plan.concurrentFaultsMax || this.busy(primary)) return;
    const random = this.keepCrashRandom;
    if (!cluster.isRunning(primary) || !random.chance(1 / 3)) return;
    const atAcknowledgement = random.chance(0.5);
    let crashAt: number | null = atAcknowledgement ? null : cluster.now + random.integer(0, 8);
    let crashed = false;
    cluster.note(
      `keep-crash: ${primary}, kept primary of view ${view.number}, crashes ${crashAt === null ? 'once the view is acknowledged' : `at ${crashAt}`}`,
    );
    const fault: ActiveFault = {
      kind: 'keep-crash',
      target: primary,
      // Until it strikes, the longest a view may wait for its acknowledgement before it is replaced.
      healAt: cluster.now + 4 * this.plan.config.failureTimeoutTicks,
      heal: () => {
        if (crashed) cluster.start(primary);
      },
      step: () => {
        if (crashed) return;
        if (crashAt === null) {
          // Replaced before it was acknowledged: the moment never came, and the fault is over.
          if (cluster.view()?.number !== view.number) fault.healAt = cluster.now;
          if (!cluster.acknowledged(view.number)) return;
          crashAt = cluster.now + random.integer(0, 2);
        }
        if (cluster.now < crashAt) return;
        crashed = true;
        if (cluster.isRunning(primary)) cluster.crash(primary);
        fault.healAt = cluster.now + random.integer(1, 2 * this.plan.config.failureTimeoutTicks);
      },
    };
    this.active.push(fault);
    this.injected.set('keep-crash', (this.injected.get('keep-crash') ?? 0) + 1);
  }

  /**
   * In some of the schedule's turns, for a plan that arms it: the primary is cut off from its backups
   * (one way: it still hears them, the coordinator and its clients), keeps acknowledging async writes
   * that now reach its disk alone, and crashes before the cut outlasts the lag bound; the cut heals
   * with the crash, and the primary stays down until a backup was promoted without it. Its async
   * writes since the cut are lost, and the loss record must name them once it rejoins and discards
   * them (and, if discard-crash is armed too, crashes again before reporting them). The chaos runner's
   * kill of a primary cut off from its backups first, on the simulator's clock. Null when it does not
   * apply, and the turn goes to a scheduled kind.
   */
  private cutThenCrash(): ActiveFault | null {
    const cluster = this.cluster;
    if (!this.plan.kinds.includes('cut-crash') || !this.random.chance(0.3)) return null;
    const view = this.acknowledgedView();
    if (view === null || view.backups.length === 0) return null;
    const primary = view.primary;
    if (this.busy(primary) || !cluster.isRunning(primary) || cluster.isPaused(primary)) return null;
    const links = view.backups.map((backup): [Endpoint, Endpoint] => [primary, backup]);
    for (const [from, to] of links) cluster.block(from, to);
    const config = this.plan.config;
    const crashAt = cluster.now + this.random.integer(2, Math.max(2, config.backupAckTimeoutTicks - 2));
    let crashed = false;
    cluster.note(`cut-crash: ${primary} cut off from ${view.backups.join(', ')}; crashes at ${crashAt}`);
    return {
      kind: 'cut-crash',
      target: primary,
      // Back sooner than a failure timeout, it would lead again with everything it wrote.
      healAt: crashAt + config.failureTimeoutTicks + this.random.integer(10, 2 * config.failureTimeoutTicks),
      heal: () => {
        if (!crashed) for (const [from, to] of links) cluster.unblock(from, to);
        cluster.start(primary);
      },
      step: () => {
        if (crashed || cluster.now < crashAt) return;
        crashed = true;
        if (cluster.isRunning(primary)) cluster.crash(primary);
        for (const [from, to] of links) cluster.unblock(from, to);
      },
    };
  }

  /** A wipe or a corrupt: losing a directory is survivable only while every other replica holds everything. */
  private mayLoseDirectory(): boolean {
    const view = this.acknowledgedView();
    return (
      view !== null &&
      this.wipedAwaitingRejoin === null &&
      this.active.length === 0 &&
      [...this.cluster.nodes.keys()].every((id) => view.primary === id || view.backups.includes(id))
    );
  }

  /**
   * A rolling upgrade's step: a replica still on the older build (format level 1) stops and starts
   * on this one, on its own directory, when the fault heals. Once every replica runs this build, a
   * rollback instead: one replica, its directory lost, starts on the older build, which the
   * coordinator must keep out once the cluster's level rose (were it let in, the first scan seed or
   * snapshot of format 5 it met would stop the run with an error); it is upgraded again at the heal.
   */
  private upgrade(
    ids: readonly ReplicaId[],
    free: readonly ReplicaId[],
    target: ReplicaId,
    healAt: number,
  ): ActiveFault | null {
    const cluster = this.cluster;
    const older = free.filter((id) => cluster.formatLevelOf(id) < FORMAT_LEVEL);
    const upgrade = (id: ReplicaId) => () => {
      if (cluster.isRunning(id)) cluster.crash(id);
      cluster.setFormatLevel(id, FORMAT_LEVEL);
      cluster.start(id);
    };
    if (older.length > 0) {
      const id = this.random.pick(older);
      cluster.crash(id);
      cluster.setFormatLevel(id, FORMAT_LEVEL);
      return { kind: 'upgrade', target: id, healAt, heal: () => cluster.start(id) };
    }
    const view = cluster.view();
    if (view === null || ids.some((id) => cluster.formatLevelOf(id) < FORMAT_LEVEL)) return null;
    if (!this.mayLoseDirectory()) return null;
    cluster.wipe(target);
    this.wipedAwaitingRejoin = { id: target, viewNumber: view.number };
    cluster.setFormatLevel(target, BASE_FORMAT_LEVEL);
    cluster.start(target);
    this.rollbacks += 1;
    return { kind: 'upgrade', target, healAt, heal: upgrade(target) };
  }

  /** Starts one fault, or returns null when it would not fit beside the ones already active. */
  private inject(kind: FaultKind): ActiveFault | null {
    const cluster = this.cluster;
    const ids = [...cluster.nodes.keys()];
    const primary = cluster.view()?.primary;
    const free = ids.filter((id) => !this.busy(id) && cluster.isRunning(id));
    if (free.length === 0 && !kind.startsWith('coordinator')) return null;
    const target: ReplicaId =
      primary !== undefined && free.includes(primary) && this.random.chance(0.6)
        ? primary
        : (this.random.pick(free.length > 0 ? free : ids) as ReplicaId);
    const healAt = cluster.now + this.random.integer(20, this.plan.faultDurationTicksMax);
    const fault = (faultTarget: FaultTarget, heal: () => void): ActiveFault => ({
      kind,
      target: faultTarget,
      healAt,
      heal,
    });
    const cut = (links: [Endpoint, Endpoint][]): (() => void) => {
      for (const [from, to] of links) cluster.block(from, to);
      return () => {
        for (const [from, to] of links) cluster.unblock(from, to);
      };
    };
    switch (kind) {
      case 'crash': {
        cluster.crash(target);
        return fault(target, () => cluster.start(target));
      }
      case 'pause': {
        cluster.pause(target);
        return fault(target, () => cluster.resume(target));
      }
      case 'pause-partition': {
        // It resumes still cut off from the coordinator: whatever waited for it (a client's read) is
        // handled before it can hear that it was replaced.
        const links: [Endpoint, Endpoint][] = this.random.chance(0.5)
          ? [['coordinator', target]]
          : [
              ['coordinator', target],
              [target, 'coordinator'],
            ];
        const reconnect = cut(links);
        cluster.pause(target);
        const resumeAt = healAt;
        const active: ActiveFault = {
          kind,
          target,
          healAt: resumeAt + this.random.integer(10, 200),
          heal: () => {
            cluster.resume(target);
            reconnect();
          },
          step: () => {
            if (cluster.now >= resumeAt) cluster.resume(target);
          },
        };
        return active;
      }
      case 'total-crash':
        return this.totalCrash(ids);
      case 'memory-loss':
        return this.memoryLoss();
      case 'every-disk-full':
        return this.everyDiskFull(ids, healAt);
      case 'wipe': {
        const view = cluster.view();
        if (view === null || !this.mayLoseDirectory()) return null;
        cluster.wipe(target);
        this.wipedAwaitingRejoin = { id: target, viewNumber: view.number };
        // Often back within the failure timeout, before the coordinator noticed it was gone.
        const restartAt = cluster.now + this.random.integer(0, 2 * this.plan.config.failureTimeoutTicks);
        return { kind, target, healAt: restartAt, heal: () => cluster.start(target) };
      }
      case 'corrupt': {
        // Its restart repairs the damage under a new identity: a lost directory, in part.
        const view = cluster.view();
        if (view === null || !this.mayLoseDirectory()) return null;
        if (cluster.corrupt(target) === null) return null;
        this.wipedAwaitingRejoin = { id: target, viewNumber: view.number };
        const restartAt = cluster.now + this.random.integer(0, 2 * this.plan.config.failureTimeoutTicks);
        return { kind, target, healAt: restartAt, heal: () => cluster.start(target) };
      }
      case 'switchover': {
        // An operator's planned handover, to a backup of the view (or, at times, to a replica that is
        // not one, which must be refused). Half the time the primary cannot hear the coordinator
        // meanwhile (why an operator might move the role): it learns of the new view late, and only
        // its lease running out stops it answering from a state the new primary moves past.
        const view = cluster.view();
        if (view === null || primary === undefined || this.busy(primary)) return null;
        const to =
          view.backups.length > 0 && this.random.chance(0.8) ? this.random.pick(view.backups) : target;
        const reconnect = this.random.chance(0.5) ? cut([['coordinator', primary]]) : () => {};
        if (!cluster.requestSwitchover(to)) {
          reconnect();
          return null;
        }
        return fault(primary, reconnect);
      }
      case 'etcd-outage': {
        // No keepalive, election or write succeeds: the leader's authority runs out, a view it would
        // install is never stored (so it steps down), and no one leads until etcd answers again.
        if (this.busy('coordinator')) return null;
        cluster.setEtcdAvailable(false);
        return fault('coordinator', () => cluster.setEtcdAvailable(true));
      }
      case 'upgrade':
        return this.upgrade(ids, free, target, healAt);
      case 'etcd-full': {
        // etcd past its space quota: the leader goes on leading (keepalives are answered) while it
        // needs no write; a view it must store (a failover) makes it step down, and no one is elected
        // (the leader key is a write) until there is room again. Nothing it could not store is told.
        // etcd's own slot: the leader may crash or stall meanwhile, and a standby must then wait.
        if (this.busy('etcd')) return null;
        cluster.setEtcdFull(true);
        return fault('etcd', () => cluster.setEtcdFull(false));
      }
      case 'stale-leader': {
        // The leader stalls past its etcd lease, a standby takes over, and often the primary's link to
        // the new leader fails while its connection to the old one holds: when the old leader runs
        // again it hears that primary's heartbeats (some sent while it stalled) and believes it still
        // leads, until its keepalive is answered. Long enough a stall that the new leader replaced the
        // primary meanwhile; whatever the old leader grants must not outlive its own lease.
        if (this.busy('coordinator') || !cluster.coordinatorRunning || primary === undefined) return null;
        const etcdHome = this.plan.etcdHome;
        if (etcdHome === null) return null;
        const config = this.plan.config;
        const stallTicks =
          etcdHome.leaseTtlTicks +
          this.random.integer(
            0,
            config.leaseTicks + config.leaseDriftMarginTicks + 3 * config.failureTimeoutTicks,
          );
        cluster.pauseCoordinator();
        if (this.random.chance(0.7)) cluster.hearOnlyByStale(primary);
        cluster.note(`stale-leader: the coordinator stalls ${stallTicks} ticks`);
        return {
          ...fault('coordinator', () => cluster.resumeCoordinator()),
          healAt: cluster.now + stallTicks,
        };
      }
      case 'discard-crash':
      case 'coordinator-save-stall':
      case 'cut-crash':
      case 'promote-crash':
      case 'keep-crash':
      case 'forget':
        return null; // armed by the plan, never scheduled: see crashAfterDiscard, stallCoordinatorSave, cutThenCrash, crashNewPrimary, crashKeptPrimary, forgetAtHeal
      case 'transfer-cut': {
        // Armed, not yet a fault: see cutTransfer.
        const until = cluster.now + this.random.integer(100, 4 * this.plan.faultDurationTicksMax);
        this.transferCutArmed = { until, strikeAt: null };
        return null;
      }
      case 'partition':
        return fault(target, cut(cluster.isolationLinks(target)));
      case 'one-way': {
        const other = this.random.pick(ids.filter((id) => id !== target));
        return fault(target, cut([[target, other]]));
      }
      case 'coordinator-link': {
        const toReplica = this.random.chance(0.5);
        return fault(target, cut([toReplica ? ['coordinator', target] : [target, 'coordinator']]));
      }
      case 'coordinator-split': {
        const cutOff: ReplicaId[] = this.random.chance(0.3) ? ids : [target];
        return fault(
          'coordinator',
          cut(
            cutOff.flatMap((id): [Endpoint, Endpoint][] => [
              ['coordinator', id],
              [id, 'coordinator'],
            ]),
          ),
        );
      }
      case 'clog': {
        const other: Endpoint = this.random.pick([
          ...ids.filter((id) => id !== target),
          'coordinator' as const,
        ]);
        // Either direction: a replica that hears its new views late is as likely as one heard late.
        const [from, to] = this.random.chance(0.5) ? [target, other] : [other, target];
        cluster.clog(from, to, this.random.integer(10, 100), healAt);
        return fault(target, () => {});
      }
      case 'slow-disk': {
        cluster.setDiskFaults(target, { ...this.plan.disk, fsyncTicksMin: 20, fsyncTicksMax: 60 });
        return fault(target, () => cluster.setDiskFaults(target, null));
      }
      case 'disk-hang': {
        cluster.setDiskHung(target, true);
        return fault(target, () => {
          if (cluster.isRunning(target)) cluster.setDiskHung(target, false);
        });
      }
      case 'snapshot-fail': {
        // A disk nearly full: its snapshot writes fail (room for the whole state at once), its log's
        // small ones go on. The replica serves on, keeps every entry since its last kept snapshot,
        // and tries again after snapshotRetryTicks (backing off); a save waiting for it is refused.
        const targets = this.random.chance(snapshotFailEveryReplicaProbability) ? ids : [target];
        for (const id of targets) cluster.setSnapshotWritesFail(id, true);
        return {
          kind,
          target,
          healAt: cluster.now + this.random.integer(...snapshotFailTicks),
          heal: () => {
            for (const id of targets) cluster.setSnapshotWritesFail(id, false);
          },
        };
      }
      case 'fsync-fail': {
        cluster.setFsyncFails(target, true);
        return fault(target, () => {
          cluster.setFsyncFails(target, false);
          cluster.start(target);
        });
      }
      case 'coordinator-crash':
      case 'coordinator-pause':
      case 'coordinator-amnesia': {
        if (this.busy('coordinator') || !cluster.coordinatorRunning) return null;
        if (kind === 'coordinator-pause') {
          cluster.pauseCoordinator();
          return fault('coordinator', () => cluster.resumeCoordinator());
        }
        cluster.crashCoordinator();
        if (kind === 'coordinator-crash') return fault('coordinator', () => cluster.startCoordinator());
        // It comes back at once with an empty state directory; the operator acts once the fault is over.
        cluster.startCoordinator({ wipeState: true });
        return fault('coordinator', () => {});
      }
    }
  }
}
