// A whole cluster in one process, driven tick by tick from one seed: the real protocol core of
// the coordinator and every replica, a simulated network (delay, reordering, loss, duplication,
// partitions one way or both, clogged links), simulated disks that hold the real log's bytes and run
// its real recovery (see disk.ts: fsync latency that can turn slow, a disk that hangs, an fsync that
// fails and takes the process down, a crash that tears the write being synced into any subset of its
// pages, a wiped directory, damage to synced records or kept snapshots that the next start repairs
// under a new directory identity) and clocks that drift or stop. Snapshot transfers between replicas
// are modelled whole: one dies with its receiving or sending process, or with the link between them.
// Clients are plain endpoints that submit requests and collect replies. Every delivery feeds a trace
// hash, so two runs of one seed can be compared exactly.
//
// Time: each process reads its own monotonic clock, which keeps running while the process is
// paused (as a real one does under SIGSTOP or a VM freeze). A paused process gets no ticks and no
// input; what arrives for it waits, and on resume it is handed over first, before any timer fires —
// the order in which a real process that wakes up may see things.
//
// Links to the coordinator live as long as the coordinator process: what an old coordinator sent,
// or what was sent to it, is never delivered to the next one (its connections died with it).

import type { ProtocolConfig } from '../protocol/config.js';
import { Coordinator } from '../protocol/coordinator.js';
import {
  type CoordinatorEffects,
  type CoordinatorState,
  emptyCoordinatorState,
  type ForgetOutcome,
} from '../protocol/effects.js';
import { BASE_FORMAT_LEVEL, FORMAT_LEVEL } from '../protocol/format-level.js';
import type {
  ClientReply,
  ClientRequest,
  CoordinatorToReplica,
  Heartbeat,
  PeerMessage,
} from '../protocol/messages.js';
import { Replica } from '../protocol/replica.js';
import type { StateMachineFactory } from '../protocol/state-machine.js';
import type { TestOnlyFaults } from '../protocol/test-only-faults.js';
import {
  type ConnectionId,
  type ReplicaId,
  replicaId,
  type SnapshotInfo,
  type View,
} from '../protocol/types.js';
import { type DiskFaults, type DiskStep, SimDisk } from './disk.js';
import { EtcdHome, type EtcdHomeSettings } from './etcd-home.js';
import { Random } from './random.js';

export type { DiskFaults } from './disk.js';

export interface NetworkFaults {
  /** Probability that a message is dropped. */
  readonly lossProbability: number;
  /** Probability that a message is delivered twice. */
  readonly duplicateProbability: number;
  readonly delayTicksMin: number;
  readonly delayTicksMax: number;
}

export interface SimClusterOptions {
  readonly seed: number;
  readonly replicaCount: number;
  readonly config: ProtocolConfig;
  readonly createStateMachine: StateMachineFactory;
  readonly network?: NetworkFaults;
  readonly disk?: DiskFaults;
  readonly testOnlyFaults?: TestOnlyFaults;
  /** The coordinators keep their state on etcd and elect a leader there (etcd-home.ts); else one embedded coordinator. */
  readonly etcdHome?: EtcdHomeSettings;
  /**
   * The format level each replica (r1, r2, ...) starts reading (format-level.ts): below this build's,
   * a replica of an older build. This build's for any not listed.
   */
  readonly startFormatLevels?: readonly number[];
}

export const calmNetwork: NetworkFaults = {
  lossProbability: 0,
  duplicateProbability: 0,
  delayTicksMin: 1,
  delayTicksMax: 1,
};
export const calmDisk: DiskFaults = { fsyncTicksMin: 1, fsyncTicksMax: 1, tornWriteProbability: 0 };

export type Endpoint = ReplicaId | 'coordinator' | `client:${number}`;

type Envelope =
  | { readonly kind: 'peer'; readonly from: ReplicaId; readonly message: PeerMessage }
  | { readonly kind: 'heartbeat'; readonly message: Heartbeat }
  | { readonly kind: 'coordinator'; readonly message: CoordinatorToReplica }
  | { readonly kind: 'request'; readonly connection: ConnectionId; readonly message: ClientRequest }
  | { readonly kind: 'reply'; readonly message: ClientReply };

interface InFlight {
  readonly deliverAt: number;
  readonly sequence: number;
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly envelope: Envelope;
  /** For links to or from the coordinator: the coordinator process it belongs to. */
  readonly coordinatorEpoch: number;
}

/**
 * Coordinator on etcd: a leader that stalled past its lease while a standby took over, and does not
 * know it yet. Once it runs again it lives until its next keepalive is answered "lease not found".
 */
interface StaleCoordinator {
  readonly core: Coordinator;
  readonly epoch: number;
  paused: boolean;
  held: InFlight[];
  endsAt: number;
}

/** An input that reached a paused process, handed over when it resumes. */
type HeldInput =
  | { readonly kind: 'deliver'; readonly item: InFlight }
  | { readonly kind: 'durable'; readonly step: Extract<DiskStep, { kind: 'synced' }> };

interface SimNode {
  replica: Replica | null;
  disk: SimDisk;
  /** This node's disk behaves so, instead of the cluster-wide setting. */
  diskFaults: DiskFaults | null;
  /** Ticks of this node's clock per simulated tick: a drifting clock runs a little fast or slow. */
  clockRate: number;
  /** This machine's monotonic clock, in ticks: it runs on through pauses and restarts. */
  clockTime: number;
  paused: boolean;
  held: HeldInput[];
  /**
   * The last snapshot whose write failed, and the process that asked for it (a restart forgets it),
   * until that process writes one.
   */
  failedSnapshot: { readonly replica: Replica; readonly index: number } | null;
  /** The format level its next start reads (the build it runs: an upgrade or a rollback changes it). */
  formatLevel: number;
}

/**
 * Events a failure report shows. `UNDERSTUDY_SIM_TRACE=N` keeps the last N instead (a debugging aid:
 * a run with a long tail is as deterministic, only slower).
 */
const traceTailLength = traceTailLengthFrom(process.env.UNDERSTUDY_SIM_TRACE);

function traceTailLengthFrom(text: string | undefined): number {
  const value = Number(text);
  return text !== undefined && Number.isSafeInteger(value) && value > 0 ? value : 40;
}
/** Real time of one simulated tick, for staleness bounds stated in milliseconds. */
export const simMsPerTick = 10;

function describe(envelope: Envelope): string {
  switch (envelope.kind) {
    case 'peer': {
      const message = envelope.message;
      if (message.type === 'prepare') {
        return `prepare v${message.view} after ${message.previous.index} +${message.entries.length} commit ${message.commitIndex}`;
      }
      if (message.type === 'prepare_ok') return `prepare_ok v${message.view} ${message.index}`;
      if (message.type === 'snapshot_offer') {
        return `snapshot_offer v${message.view} at ${message.snapshot.position.index}`;
      }
      if (message.type === 'lost_report') return `lost_report v${message.view} ${message.entries.length}`;
      return `sync v${message.view} base ${message.base.index} last ${message.lastIndex}`;
    }
    case 'heartbeat':
      return `heartbeat v${envelope.message.view?.number ?? 0} durable ${envelope.message.durable.index}`;
    case 'coordinator':
      return `${envelope.message.type} v${envelope.message.view?.number ?? 0}`;
    case 'request':
      return `request ${envelope.message.clientId}#${envelope.message.requestNumber}`;
    case 'reply':
      return envelope.message.ok ? `reply ok ${envelope.message.index}` : `reply ${envelope.message.code}`;
  }
}

/** A snapshot on its way from one replica's disk to another's (the shells' chunked stream, modelled whole). */
interface SimTransfer {
  readonly from: ReplicaId;
  readonly to: ReplicaId;
  /** The receiving process: a transfer dies with it. */
  readonly receiver: Replica;
  /** The sending process, which streams it: a transfer dies with it too. */
  readonly sender: Replica;
  readonly snapshot: SnapshotInfo;
  deliverAt: number;
}

/** A transfer under way, as faults may see it. */
export interface TransferUnderWay {
  readonly from: ReplicaId;
  readonly to: ReplicaId;
  readonly snapshotIndex: number;
  readonly deliverAt: number;
}

/** What happened to snapshots, transfers and disks in a run, for its report. */
export interface StorageCounts {
  /** Snapshots written aside, and made the newest kept one. */
  snapshotsTaken: number;
  /** Snapshot writes that failed (snapshot-fail): the replica served on and tried again later. */
  snapshotsFailed: number;
  snapshotsKept: number;
  /** Keeps that kept on an older snapshot besides the newest two: a follower was still receiving it. */
  snapshotsRetained: number;
  transfersCompleted: number;
  /** Transfers that died with their receiver, their sender or the link between them. */
  transfersFailed: number;
  /** Starts that found damage below the sync point and repaired it under a new directory identity. */
  repairs: number;
  /** Crashes of a replica holding async losses not yet on the record: its next start reads them from disk. */
  lossReportsAcrossCrashes: number;
  /** Primaries chosen among restarted replicas, no replica that held everything being alive. */
  promotionsWithoutHolders: number;
  /** Views the coordinator decided while its state write hung (coordinator-save-stall). */
  coordinatorSaveStalls: number;
  /** Of those, views lost: the coordinator went down before the write completed. */
  coordinatorSavesLost: number;
  /** Views a leader could not store because etcd was out of space (etcd-full): it stepped down instead. */
  viewsRefusedByFullEtcd: number;
}

/** Ticks a transfer takes: a fixed cost and one tick per this many bytes. */
const transferBytesPerTick = 2048;

export class SimCluster {
  readonly random: Random;
  now = 0;
  /** Null while the coordinator process is down. */
  coordinator: Coordinator | null = null;
  /** What the coordinator has stored on disk; a restart begins from it. Null: its directory lost it. */
  private coordinatorStored: CoordinatorState | null = emptyCoordinatorState;
  /** The coordinator machine's monotonic clock. */
  private coordinatorClock = 0;
  private coordinatorEpoch = 0;
  private coordinatorPaused = false;
  private coordinatorHeld: InFlight[] = [];
  /** Armed: the coordinator's next state write hangs, as on a disk that stopped answering. */
  private coordinatorSaveStallArmed = false;
  /** What the coordinator decided while its state write hangs: stored and sent once it completes. */
  private coordinatorPendingEffects: CoordinatorEffects | null = null;
  readonly nodes = new Map<ReplicaId, SimNode>();
  readonly replies = new Map<number, ClientReply[]>();
  /** Run at the start of every step: outside actors (an operator) that watch the cluster. */
  readonly watchers: (() => void)[] = [];
  /**
   * Told when a replica loses what its process held: just before its process dies (`replica` is the
   * dying process, still readable), or when its directory is lost while it is down (`replica` null).
   */
  readonly lossListeners: ((id: ReplicaId, replica: Replica | null) => void)[] = [];
  /** Told when the coordinator chose a primary among restarted replicas only (see Coordinator). */
  readonly promotionWithoutHoldersListeners: (() => void)[] = [];
  /** The running coordinator's count of such promotions already told. */
  private promotionsWithoutHoldersSeen = 0;
  private readonly inFlight: InFlight[] = [];
  private readonly transfers: SimTransfer[] = [];
  readonly counts: StorageCounts = {
    snapshotsTaken: 0,
    snapshotsFailed: 0,
    snapshotsKept: 0,
    snapshotsRetained: 0,
    transfersCompleted: 0,
    transfersFailed: 0,
    repairs: 0,
    lossReportsAcrossCrashes: 0,
    promotionsWithoutHolders: 0,
    coordinatorSaveStalls: 0,
    coordinatorSavesLost: 0,
    viewsRefusedByFullEtcd: 0,
  };
  /**
   * Rules broken as the cluster ran: storage rules the real recovery code broke on a simulated disk
   * (damage it did not call corruption), and two primaries holding a lease at once.
   */
  readonly violations: string[] = [];
  /** Pairs of primaries already reported for holding a lease at once (each is told once). */
  private readonly leaseOverlapsTold = new Set<string>();
  /** Coordinator on etcd; null: one embedded coordinator. */
  private readonly etcd: EtcdHome | null;
  private stale: StaleCoordinator | null = null;
  /** Replicas whose heartbeats reach only the stale coordinator (their link to the new leader failed). */
  private readonly heardOnlyByStale = new Set<ReplicaId>();
  /** What the operator asked of the next coordinator to lead (etcd: it starts once elected). */
  private nextStart: { readonly recoverFromReplicas?: readonly ReplicaId[] } = {};
  private sequence = 0;
  /** Blocked links "from>to", counted: overlapping faults heal one by one. */
  private readonly blocked = new Map<string, number>();
  /** Links that deliver late until a tick: "from>to" → [until tick, extra delay]. */
  private readonly clogged = new Map<string, { until: number; delayTicks: number }>();
  private readonly options: SimClusterOptions;
  network: NetworkFaults;
  disk: DiskFaults;
  private traceHash = 0x811c9dc5;
  private readonly traceTail: string[] = [];
  private starts = 0;
  private directories = 0;

  constructor(options: SimClusterOptions) {
    this.options = options;
    this.random = new Random(options.seed);
    this.network = options.network ?? calmNetwork;
    this.disk = options.disk ?? calmDisk;
    this.etcd = options.etcdHome === undefined ? null : new EtcdHome(options.etcdHome);
    this.startCoordinator();
    for (let number = 1; number <= options.replicaCount; number++) {
      const id = replicaId(`r${number}`);
      const node: SimNode = {
        replica: null,
        disk: this.newDisk(),
        diskFaults: null,
        clockRate: 1,
        clockTime: 0,
        paused: false,
        held: [],
        failedSnapshot: null,
        formatLevel: options.startFormatLevels?.[number - 1] ?? FORMAT_LEVEL,
      };
      this.nodes.set(id, node);
      this.start(id);
    }
  }

  // ---- faults: processes -----------------------------------------------------------------------

  crash(id: ReplicaId): void {
    const node = this.node(id);
    for (const listener of this.lossListeners) listener(id, node.replica);
    if ((node.replica?.unreportedLossCount ?? 0) > 0) this.counts.lossReportsAcrossCrashes += 1;
    node.replica = null;
    node.paused = false;
    node.held = [];
    node.disk.crash(this.random, node.diskFaults ?? this.disk);
    this.trace(`crash ${id}`);
  }

  start(id: ReplicaId): void {
    const node = this.node(id);
    if (node.replica !== null) return;
    this.starts += 1;
    const recovered = node.disk.recoverForStart();
    if (recovered.repair !== null) {
      // The shell's repair: the intact prefix stays, under a new identity, so the coordinator takes it
      // for a new member that must prove it holds everything before it counts again.
      if (recovered.repair.problem !== null) this.violations.push(`${id}: ${recovered.repair.problem}`);
      this.directories += 1;
      node.disk.renewIdentity(`directory-${this.directories}`);
      this.counts.repairs += 1;
      this.trace(`repair ${id}: ${recovered.repair.what}; now ${node.disk.identity}`);
    }
    node.replica = new Replica({
      id,
      incarnation: incarnationOf(this.starts),
      directory: node.disk.identity,
      clock: () => Math.floor(node.clockTime),
      address: `sim:${id}`,
      config: this.options.config,
      createStateMachine: this.options.createStateMachine,
      recovered,
      readSnapshot: () => node.disk.newestSnapshot(),
      msPerTick: simMsPerTick,
      formatLevel: node.formatLevel,
      ...(this.options.testOnlyFaults === undefined ? {} : { testOnlyFaults: this.options.testOnlyFaults }),
    });
    const at = recovered.snapshot?.info.position.index ?? 0;
    this.trace(`start ${id} with snapshot at ${at} and ${recovered.entries.length} entries`);
  }

  /** The format level `id`'s process reads, or will read at its next start. */
  formatLevelOf(id: ReplicaId): number {
    return this.node(id).formatLevel;
  }

  /** `id` runs another build from its next start on: one that reads `level` (an upgrade, a rollback). */
  setFormatLevel(id: ReplicaId, level: number): void {
    this.node(id).formatLevel = level;
    this.trace(`${id} runs a build of format level ${level} from its next start`);
  }

  /** The cluster's format level, as the coordinator stored it last. */
  get clusterFormatLevel(): number {
    return this.coordinatorStored?.formatLevel ?? BASE_FORMAT_LEVEL;
  }

  /** The replica's data directory is emptied (or replaced by an empty one): it crashes if running. */
  wipe(id: ReplicaId): void {
    const node = this.node(id);
    if (node.replica !== null) this.crash(id);
    else for (const listener of this.lossListeners) listener(id, null);
    node.disk = this.newDisk();
    this.trace(`wipe ${id}`);
  }

  /**
   * The process dies and a byte of what it had synced flips: a log record below the sync point, or a
   * kept snapshot. Its next start finds the damage and repairs it. Returns what was damaged, or null
   * (and leaves the process alone) if the disk holds nothing synced to damage.
   */
  corrupt(id: ReplicaId): string | null {
    const node = this.node(id);
    if (!node.disk.damageable) return null;
    if (node.replica !== null) this.crash(id);
    else for (const listener of this.lossListeners) listener(id, null);
    const what = node.disk.damage(this.random);
    this.trace(`corrupt ${id}: ${what ?? 'nothing synced'}`);
    return what;
  }

  isRunning(id: ReplicaId): boolean {
    return this.node(id).replica !== null;
  }

  /** SIGSTOP: the process gets no ticks and no input until `resume`; its clock runs on. */
  pause(id: ReplicaId): void {
    const node = this.node(id);
    if (node.replica === null) return;
    node.paused = true;
    this.trace(`pause ${id}`);
  }

  /** SIGCONT: what arrived meanwhile is handed over first, then its timers fire again. */
  resume(id: ReplicaId): void {
    const node = this.node(id);
    if (!node.paused) return;
    node.paused = false;
    this.trace(`resume ${id} with ${node.held.length} inputs waiting`);
    const held = node.held;
    node.held = [];
    for (const input of held) {
      if (node.replica === null) break;
      if (input.kind === 'durable') this.reportDurable(id, node, input.step);
      else this.deliver(input.item);
    }
  }

  isPaused(id: ReplicaId): boolean {
    return this.node(id).paused;
  }

  /** The coordinator process dies: in-memory knowledge (liveness, leases) is gone, its disk stays. */
  crashCoordinator(): void {
    this.coordinator = null;
    this.coordinatorPaused = false;
    this.coordinatorHeld = [];
    // A state write that hung never completed: the file keeps the state before it.
    if (this.coordinatorPendingEffects !== null) this.counts.coordinatorSavesLost += 1;
    this.coordinatorPendingEffects = null;
    this.coordinatorSaveStallArmed = false;
    this.trace('crash coordinator');
  }

  /**
   * The coordinator's next state write hangs (embedded coordinator only; on etcd its state is not on
   * its disk): the process stops where it is, with the view it decided neither stored nor told to
   * anyone, until endCoordinatorSaveStall.
   */
  armCoordinatorSaveStall(): void {
    if (this.etcd !== null || this.coordinator === null) return;
    this.coordinatorSaveStallArmed = true;
    this.trace("armed: the coordinator's next state write hangs");
  }

  /** Whether the coordinator is stopped in a state write that hangs. */
  get coordinatorSaveHangs(): boolean {
    return this.coordinatorPendingEffects !== null;
  }

  /** The hung write completes (or, if none began, the disk is well again). */
  endCoordinatorSaveStall(): void {
    this.coordinatorSaveStallArmed = false;
    const pending = this.coordinatorPendingEffects;
    if (pending === null) return;
    this.coordinatorPendingEffects = null;
    this.trace("the coordinator's state write completes");
    this.applyCoordinatorEffects(pending);
    this.resumeCoordinator();
  }

  /**
   * Starts the coordinator process if it is down: from its stored state, or, after `wipeState`,
   * from an empty directory. `recoverFromReplicas` is the operator's consent to rebuild the view.
   * On etcd, a coordinator leads only once elected: after the last leader's lease ran out.
   */
  startCoordinator(options: { wipeState?: boolean; recoverFromReplicas?: readonly ReplicaId[] } = {}): void {
    if (this.coordinator !== null) return;
    if (options.wipeState === true) this.coordinatorStored = null;
    this.nextStart =
      options.recoverFromReplicas === undefined ? {} : { recoverFromReplicas: options.recoverFromReplicas };
    if (this.etcd === null) this.runCoordinator(options.wipeState === true);
    else this.electCoordinator();
  }

  private runCoordinator(wiped: boolean): Coordinator {
    const { recoverFromReplicas } = this.nextStart;
    this.nextStart = {};
    this.coordinatorEpoch += 1;
    this.promotionsWithoutHoldersSeen = 0;
    const coordinator = new Coordinator({
      config: this.options.config,
      stored: this.coordinatorStored,
      clock: () => this.coordinatorClock,
      recoverFromReplicas: recoverFromReplicas ?? [],
      ...(this.options.testOnlyFaults === undefined ? {} : { testOnlyFaults: this.options.testOnlyFaults }),
    });
    this.coordinator = coordinator;
    const how = wiped ? ' with an empty state directory' : '';
    const consent =
      recoverFromReplicas === undefined ? '' : `, recovering from ${recoverFromReplicas.join(',')}`;
    this.trace(
      `start coordinator${how}${consent} in view ${this.coordinatorStored?.current?.view.number ?? 0}`,
    );
    return coordinator;
  }

  // ---- the coordinator on etcd -----------------------------------------------------------------

  /** Elects a standby if no leader's lease remains; a leader still paused goes on believing it leads. */
  private electCoordinator(): void {
    const etcd = this.etcd;
    if (etcd === null || !etcd.canElect(this.now)) return;
    if (this.coordinator !== null && !this.coordinatorPaused) return;
    if (this.coordinator !== null) {
      this.stale = {
        core: this.coordinator,
        epoch: this.coordinatorEpoch,
        paused: true,
        held: this.coordinatorHeld,
        endsAt: Number.POSITIVE_INFINITY,
      };
      this.coordinator = null;
      this.coordinatorPaused = false;
      this.coordinatorHeld = [];
      this.trace('the stalled coordinator lost its etcd lease');
    }
    const authorityUntil = etcd.elect(this.now, this.coordinatorClock);
    this.runCoordinator(this.coordinatorStored === null).holdAuthorityUntil(authorityUntil);
    this.trace('coordinator elected');
  }

  /** etcd stops answering, or answers again. */
  setEtcdAvailable(available: boolean): void {
    if (this.etcd === null) return;
    this.etcd.available = available;
    this.trace(available ? 'etcd answers again' : 'etcd unavailable');
  }

  /** etcd passes its space quota (it refuses writes and elections, answers keepalives), or has room again. */
  setEtcdFull(full: boolean): void {
    if (this.etcd === null) return;
    this.etcd.full = full;
    this.trace(full ? 'etcd is out of space' : 'etcd has room again');
  }

  /** Until a stale coordinator ends, `id`'s heartbeats reach it only (its link to the new leader failed). */
  hearOnlyByStale(id: ReplicaId): void {
    this.heardOnlyByStale.add(id);
  }

  private stepEtcdHome(): void {
    const etcd = this.etcd;
    if (etcd === null) return;
    if (this.coordinator !== null && !this.coordinatorPaused) {
      const outcome = etcd.keepalive(this.now, this.coordinatorClock);
      if (outcome?.kind === 'renewed') this.coordinator.holdAuthorityUntil(outcome.authorityUntil);
      if (outcome?.kind === 'lost') this.stepDown('its etcd lease ran out');
    }
    this.electCoordinator();
    const stale = this.stale;
    if (stale === null || stale.paused) return;
    if (this.now >= stale.endsAt) {
      this.endStale('its keepalive found its lease gone');
      return;
    }
    stale.core.tick();
    this.flushStale();
  }

  /** The leader stops leading (it stays as a standby); what it had not stored is never sent. */
  private stepDown(why: string): void {
    this.coordinator = null;
    this.coordinatorPaused = false;
    this.coordinatorHeld = [];
    this.trace(`coordinator steps down: ${why}`);
  }

  private resumeStale(stale: StaleCoordinator): void {
    stale.paused = false;
    stale.endsAt = this.now + this.random.integer(1, this.etcd?.settings.keepaliveEveryTicks ?? 1);
    this.trace(`resume the stale coordinator until ${stale.endsAt} with ${stale.held.length} inputs waiting`);
    const held = stale.held;
    stale.held = [];
    for (const item of held) this.deliver(item);
  }

  private endStale(why: string): void {
    this.stale = null;
    this.heardOnlyByStale.clear();
    this.trace(`the stale coordinator stops: ${why}`);
  }

  private flushStale(): void {
    const stale = this.stale;
    if (stale === null) return;
    const effects = stale.core.takeEffects();
    if (effects.save !== null) {
      // Its transaction compares the leader key, which is no longer its own.
      this.endStale('etcd refused its write');
      return;
    }
    for (const { to, message } of effects.messages) {
      this.send('coordinator', to, { kind: 'coordinator', message }, stale.epoch);
    }
  }

  pauseCoordinator(): void {
    if (this.coordinator === null) return;
    this.coordinatorPaused = true;
    this.trace('pause coordinator');
  }

  resumeCoordinator(): void {
    if (!this.coordinatorPaused) {
      if (this.stale?.paused === true) this.resumeStale(this.stale);
      return;
    }
    this.coordinatorPaused = false;
    this.trace(`resume coordinator with ${this.coordinatorHeld.length} inputs waiting`);
    const held = this.coordinatorHeld;
    this.coordinatorHeld = [];
    for (const item of held) this.deliver(item);
  }

  get coordinatorRunning(): boolean {
    return this.coordinator !== null;
  }

  // ---- faults: disks and clocks ----------------------------------------------------------------

  /** Gives `id` a disk of its own behaviour (null: the cluster-wide one). */
  setDiskFaults(id: ReplicaId, faults: DiskFaults | null): void {
    this.node(id).diskFaults = faults;
  }

  /** While hung, `id`'s disk completes no fsync; its process keeps running. */
  setDiskHung(id: ReplicaId, hung: boolean): void {
    this.node(id).disk.hung = hung;
    this.trace(`${hung ? 'hang' : 'unhang'} disk of ${id}`);
  }

  /** While set, the next fsync of `id` fails, and the process stops (it never retries an fsync). */
  setFsyncFails(id: ReplicaId, fails: boolean): void {
    this.node(id).disk.failNextSync = fails;
  }

  /** While set, `id`'s snapshot writes fail and its log's go on (a disk nearly full); it serves on. */
  setSnapshotWritesFail(id: ReplicaId, fail: boolean): void {
    this.node(id).disk.failSnapshotWrites = fail;
    this.trace(`snapshot writes of ${id} ${fail ? 'fail' : 'succeed again'}`);
  }

  /** Makes `id`'s clock run at `rate` ticks per simulated tick (1 is exact). */
  setClockRate(id: ReplicaId, rate: number): void {
    this.node(id).clockRate = rate;
  }

  /** How fast `id`'s clock runs: a bound it measures by its clock lasts 1/rate as long in real time. */
  clockRateOf(id: ReplicaId): number {
    return this.node(id).clockRate;
  }

  // ---- faults: network -------------------------------------------------------------------------

  /** Delays every message from `from` to `to` by `delayTicks` more, until tick `until`. */
  clog(from: Endpoint, to: Endpoint, delayTicks: number, until: number): void {
    this.clogged.set(`${from}>${to}`, { until, delayTicks });
  }

  /** Blocks messages from `from` to `to` (one way) until as many `unblock` calls. */
  block(from: Endpoint, to: Endpoint): void {
    const link = `${from}>${to}`;
    this.blocked.set(link, (this.blocked.get(link) ?? 0) + 1);
  }

  unblock(from: Endpoint, to: Endpoint): void {
    const link = `${from}>${to}`;
    const count = (this.blocked.get(link) ?? 0) - 1;
    if (count > 0) this.blocked.set(link, count);
    else this.blocked.delete(link);
  }

  /** The links that cut `id` off from every other endpoint, both ways. */
  isolationLinks(id: Endpoint): [Endpoint, Endpoint][] {
    const links: [Endpoint, Endpoint][] = [];
    for (const other of this.endpoints()) {
      if (other === id) continue;
      links.push([id, other], [other, id]);
    }
    return links;
  }

  /** Cuts `id` off from every other endpoint, both ways. */
  isolate(id: Endpoint): void {
    for (const [from, to] of this.isolationLinks(id)) this.block(from, to);
  }

  /** Ends every network fault. */
  heal(): void {
    this.blocked.clear();
    this.clogged.clear();
    this.trace('heal');
  }

  // ---- clients ---------------------------------------------------------------------------------

  /** Sends a client request from client connection `connection` to replica `to`. */
  submit(connection: number, to: ReplicaId, request: ClientRequest): void {
    this.send(`client:${connection}`, to, {
      kind: 'request',
      connection: connection as ConnectionId,
      message: request,
    });
  }

  takeReplies(connection: number): ClientReply[] {
    const replies = this.replies.get(connection) ?? [];
    this.replies.delete(connection);
    return replies;
  }

  /**
   * Whether the last acknowledged view's record names replica `id` with the data directory it has now
   * (a view the coordinator installed before it heard of a wipe records the directory that was lost).
   */
  acknowledgedWithItsDirectory(id: ReplicaId): boolean {
    const recorded = this.coordinatorStored?.lastAcknowledged?.identities[id]?.directory;
    return recorded !== undefined && recorded === this.node(id).disk.identity;
  }

  /** The last view whose primary acknowledged it, as the coordinator stored it (what an operator could read). */
  lastAcknowledgedView(): View | null {
    return this.coordinatorStored?.lastAcknowledged?.view ?? null;
  }

  view(): View | null {
    // While the coordinator is down, clients use the last view they heard of.
    return this.coordinator?.currentView() ?? this.coordinatorStored?.current?.view ?? null;
  }

  /** Whether the coordinator's saved state has view `viewNumber` as current and acknowledged by its primary. */
  acknowledged(viewNumber: number): boolean {
    const stored = this.coordinatorStored;
    return stored?.acknowledged === true && stored.current?.view.number === viewNumber;
  }

  replica(id: ReplicaId): Replica | null {
    return this.node(id).replica;
  }

  /** The protocol's settings every replica runs with. */
  get config(): ProtocolConfig {
    return this.options.config;
  }

  /**
   * The index of the last snapshot `id`'s running process failed to write, or null if none failed or
   * it has written one since.
   */
  failedSnapshotIndex(id: ReplicaId): number | null {
    const node = this.node(id);
    const failed = node.failedSnapshot;
    return failed !== null && failed.replica === node.replica ? failed.index : null;
  }

  /** Snapshot transfers under way now. */
  transfersUnderWay(): readonly TransferUnderWay[] {
    return this.transfers.map(({ from, to, snapshot, deliverAt }) => ({
      from,
      to,
      snapshotIndex: snapshot.position.index,
      deliverAt,
    }));
  }

  // ---- running ---------------------------------------------------------------------------------

  step(): void {
    for (const watcher of this.watchers) watcher();
    this.now += 1;
    this.coordinatorClock += 1;
    for (const node of this.nodes.values()) node.clockTime += node.clockRate;
    this.stepEtcdHome();
    if (this.coordinator !== null && !this.coordinatorPaused) {
      this.coordinator.tick();
      this.flushCoordinator();
    }
    for (const [id, node] of this.nodes) {
      if (node.replica === null) continue;
      // The disk works on while the process is stopped; it hears of completions when it resumes.
      const disk = node.disk.step(this.now, this.random, node.diskFaults ?? this.disk);
      if (disk.kind === 'synced') {
        this.counts.snapshotsTaken += disk.snapshotsWritten.length;
        this.counts.snapshotsFailed += disk.snapshotsFailed.length;
        this.counts.snapshotsKept += disk.snapshotsKept.length;
        this.counts.snapshotsRetained += disk.snapshotsRetained;
      }
      if (disk.kind === 'failed') {
        this.trace(`fsync failed on ${id}`);
        this.crash(id);
        continue;
      }
      if (node.paused) {
        if (disk.kind === 'synced') node.held.push({ kind: 'durable', step: disk });
        continue;
      }
      if (disk.kind === 'synced') this.reportDurable(id, node, disk);
      node.replica.tick();
      this.flushReplica(id, node.replica, node.disk);
    }
    this.deliverDue();
    this.completeTransfers();
    this.checkLeases();
  }

  /** Two primaries must never hold a lease at once: the coordinator waits out one before granting the next. */
  private checkLeases(): void {
    let holder: ReplicaId | null = null;
    for (const [id, node] of this.nodes) {
      if (node.replica?.holdsPrimaryLease() !== true) continue;
      if (holder !== null) {
        const views = `${holder} (view ${this.node(holder).replica?.status().view?.number}) and ${id} (view ${node.replica.status().view?.number})`;
        if (!this.leaseOverlapsTold.has(views)) {
          this.leaseOverlapsTold.add(views);
          this.violations.push(`at tick ${this.now} two primaries hold a lease: ${views}`);
        }
      }
      holder = id;
    }
  }

  /** Snapshots that arrived: kept on the receiver's disk, then installed, if both ends held out. */
  private completeTransfers(): void {
    for (let position = this.transfers.length - 1; position >= 0; position--) {
      const transfer = this.transfers[position];
      if (transfer === undefined || transfer.deliverAt > this.now) continue;
      const node = this.node(transfer.to);
      const sender = this.node(transfer.from);
      const alive = node.replica === transfer.receiver && sender.replica === transfer.sender;
      if (alive && (node.paused || sender.paused)) {
        // A stopped process neither sends nor takes the rest of the stream.
        transfer.deliverAt = this.now + 1;
        continue;
      }
      this.transfers.splice(position, 1);
      const source = sender.disk.keeps(transfer.snapshot);
      const cut =
        this.blocked.has(`${transfer.from}>${transfer.to}`) ||
        this.blocked.has(`${transfer.to}>${transfer.from}`);
      if (!alive || node.replica === null || source === null || cut) {
        this.counts.transfersFailed += 1;
        this.trace(`transfer ${transfer.from}>${transfer.to} at ${transfer.snapshot.position.index} failed`);
        continue;
      }
      node.disk.keepTransferred(source);
      this.counts.transfersCompleted += 1;
      this.trace(`transfer ${transfer.from}>${transfer.to} at ${transfer.snapshot.position.index} installed`);
      node.replica.installSnapshot(source);
      this.flushReplica(transfer.to, node.replica, node.disk);
    }
  }

  run(ticks: number): void {
    for (let tick = 0; tick < ticks; tick++) this.step();
  }

  /** Steps until `condition` holds; returns false if it did not within `ticksMax`. */
  runUntil(condition: () => boolean, ticksMax: number): boolean {
    for (let tick = 0; tick < ticksMax; tick++) {
      if (condition()) return true;
      this.step();
    }
    return condition();
  }

  // ---- trace -----------------------------------------------------------------------------------

  /** Adds an outside actor's event (a fault's choice) to the trace. */
  note(event: string): void {
    this.trace(event);
  }

  /** A hash of every event so far: equal for two runs of one seed, or the run is not deterministic. */
  traceDigest(): string {
    return (this.traceHash >>> 0).toString(16).padStart(8, '0');
  }

  /** The last events, readable, for a failure report. */
  recentTrace(): readonly string[] {
    return this.traceTail;
  }

  private trace(event: string): void {
    const line = `${this.now} ${event}`;
    let hash = this.traceHash;
    for (let position = 0; position < line.length; position++) {
      hash ^= line.charCodeAt(position);
      hash = Math.imul(hash, 0x01000193);
    }
    this.traceHash = hash;
    this.traceTail.push(line);
    if (this.traceTail.length > traceTailLength) this.traceTail.shift();
  }

  // ---- plumbing --------------------------------------------------------------------------------

  private node(id: ReplicaId): SimNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no replica ${id}`);
    return node;
  }

  private newDisk(): SimDisk {
    this.directories += 1;
    return new SimDisk(`directory-${this.directories}`, this.random);
  }

  private endpoints(): Endpoint[] {
    return ['coordinator', ...this.nodes.keys()];
  }

  private reportDurable(id: ReplicaId, node: SimNode, step: Extract<DiskStep, { kind: 'synced' }>): void {
    const replica = node.replica;
    if (replica === null) return;
    replica.durable(node.disk.durablePosition);
    for (const info of step.snapshotsWritten) replica.snapshotWritten(info);
    if (step.snapshotsWritten.length > 0 && node.failedSnapshot?.replica === replica)
      node.failedSnapshot = null;
    for (const position of step.snapshotsFailed) {
      replica.snapshotFailed(position);
      node.failedSnapshot = { replica, index: position.index };
    }
    for (const position of step.snapshotsKept) replica.snapshotKept(position);
    this.flushReplica(id, replica, node.disk);
  }

  private send(
    from: Endpoint,
    to: Endpoint,
    envelope: Envelope,
    epoch = this.heartbeatEpoch(from, envelope),
  ): void {
    if (this.blocked.has(`${from}>${to}`)) return;
    if (this.random.chance(this.network.lossProbability)) return;
    const copies = this.random.chance(this.network.duplicateProbability) ? 2 : 1;
    const clog = this.clogged.get(`${from}>${to}`);
    const extra = clog !== undefined && clog.until > this.now ? clog.delayTicks : 0;
    for (let copy = 0; copy < copies; copy++) {
      const delay = extra + this.random.integer(this.network.delayTicksMin, this.network.delayTicksMax);
      this.inFlight.push({
        deliverAt: this.now + delay,
        sequence: this.sequence++,
        from,
        to,
        envelope,
        coordinatorEpoch: epoch,
      });
    }
  }

  /** Which coordinator process a message on a coordinator link belongs to. */
  private heartbeatEpoch(from: Endpoint, envelope: Envelope): number {
    const stale = this.stale;
    if (envelope.kind === 'heartbeat' && stale !== null && this.heardOnlyByStale.has(from as ReplicaId)) {
      return stale.epoch;
    }
    return this.coordinatorEpoch;
  }

  private deliverDue(): void {
    const due = this.inFlight.filter((item) => item.deliverAt <= this.now);
    if (due.length === 0) return;
    due.sort((a, b) => a.deliverAt - b.deliverAt || a.sequence - b.sequence);
    const remaining = this.inFlight.filter((item) => item.deliverAt > this.now);
    this.inFlight.length = 0;
    this.inFlight.push(...remaining);
    for (const item of due) this.deliver(item);
  }

  private deliver(item: InFlight): void {
    const { envelope } = item;
    if (envelope.kind === 'heartbeat' || envelope.kind === 'coordinator') {
      const stale = this.stale;
      if (stale !== null && item.coordinatorEpoch === stale.epoch) {
        if (envelope.kind === 'heartbeat') {
          if (stale.paused) stale.held.push(item);
          else {
            this.trace(`${item.from}>stale coordinator ${describe(envelope)}`);
            stale.core.receiveHeartbeat(envelope.message);
            this.flushStale();
          }
          return;
        }
        // A reply of the stale coordinator: its connections live as long as it does.
      } else if (this.coordinator === null || item.coordinatorEpoch !== this.coordinatorEpoch) {
        // The connection to a coordinator process dies with it.
        return;
      }
    }
    if (envelope.kind === 'heartbeat') {
      if (this.coordinatorPaused) {
        this.coordinatorHeld.push(item);
        return;
      }
      this.trace(`${item.from}>${item.to} ${describe(envelope)}`);
      this.coordinator?.receiveHeartbeat(envelope.message);
      this.flushCoordinator();
      return;
    }
    if (envelope.kind === 'reply') {
      this.trace(`${item.from}>${item.to} ${describe(envelope)}`);
      const connection = Number(String(item.to).slice('client:'.length));
      const list = this.replies.get(connection) ?? [];
      list.push(envelope.message);
      this.replies.set(connection, list);
      return;
    }
    const id = item.to as ReplicaId;
    const node = this.nodes.get(id);
    const replica = node?.replica;
    if (node === undefined || replica === null || replica === undefined) return;
    if (node.paused) {
      node.held.push({ kind: 'deliver', item });
      return;
    }
    this.trace(`${item.from}>${item.to} ${describe(envelope)}`);
    if (envelope.kind === 'peer') replica.receiveFromPeer(envelope.from, envelope.message);
    else if (envelope.kind === 'coordinator') replica.receiveFromCoordinator(envelope.message);
    else replica.receiveRequest(envelope.connection, envelope.message);
    this.flushReplica(id, replica, node.disk);
  }

  private flushReplica(id: ReplicaId, replica: Replica, disk: SimDisk): void {
    const effects = replica.takeEffects();
    disk.submit(effects.storage);
    for (const { to, message } of effects.peerMessages)
      this.send(id, to, { kind: 'peer', from: id, message });
    for (const message of effects.heartbeats) {
      if (this.coordinator !== null) this.send(id, 'coordinator', { kind: 'heartbeat', message });
    }
    for (const { connection, reply } of effects.replies) {
      this.send(id, `client:${connection}`, { kind: 'reply', message: reply });
    }
    for (const { from, snapshot } of effects.transfers) {
      const underWay = this.transfers.some(
        (transfer) =>
          transfer.to === id &&
          transfer.receiver === replica &&
          transfer.snapshot.checksum === snapshot.checksum,
      );
      const sender = this.node(from).replica;
      if (underWay || sender === null) continue;
      const ticks = 2 + Math.ceil(snapshot.sizeBytes / transferBytesPerTick) + this.random.integer(0, 5);
      this.transfers.push({ from, to: id, receiver: replica, sender, snapshot, deliverAt: this.now + ticks });
      this.trace(`transfer ${from}>${id} at ${snapshot.position.index} begins`);
    }
  }

  /**
   * An operator asks the running coordinator to hand the primary role to `to`; the outcome is traced.
   * False if no coordinator runs (or it is paused: the request would wait with its other inputs).
   */
  requestSwitchover(to: ReplicaId): boolean {
    if (this.coordinator === null || this.coordinatorPaused) return false;
    const refused = this.coordinator.requestSwitchover(to);
    this.trace(`switchover to ${to} ${refused === null ? 'begins' : `answered: ${refused.message}`}`);
    this.flushCoordinator();
    return true;
  }

  /**
   * An operator asks the running coordinator to forget replica `id` (`understudy forget`); the outcome
   * is traced and returned. Null if no coordinator runs (or it is paused).
   */
  forgetReplica(id: ReplicaId): ForgetOutcome | null {
    if (this.coordinator === null || this.coordinatorPaused) return null;
    const outcome = this.coordinator.forgetReplica(id);
    this.trace(`forget ${id}: ${outcome.ok ? 'done' : 'refused'}: ${outcome.message}`);
    this.flushCoordinator();
    return outcome;
  }

  private flushCoordinator(): void {
    if (this.coordinator === null) return;
    if (this.coordinator.promotionsWithoutHolders > this.promotionsWithoutHoldersSeen) {
      this.promotionsWithoutHoldersSeen = this.coordinator.promotionsWithoutHolders;
      this.counts.promotionsWithoutHolders += 1;
      this.trace('a restarted replica leads: no replica that held everything is alive to the coordinator');
      for (const listener of this.promotionWithoutHoldersListeners) listener();
    }
    const effects = this.coordinator.takeEffects();
    const etcd = this.etcd;
    if (effects.save !== null && etcd !== null && (!etcd.available || etcd.full)) {
      if (etcd.available) this.counts.viewsRefusedByFullEtcd += 1;
      this.stepDown(
        `it could not store a view: ${etcd.available ? 'etcd is out of space' : 'etcd is unavailable'}`,
      );
      return;
    }
    if (effects.save !== null && this.coordinatorSaveStallArmed) {
      // It writes its state before it sends anything, on its one thread: it stops here.
      this.coordinatorSaveStallArmed = false;
      this.coordinatorPendingEffects = effects;
      this.coordinatorPaused = true;
      this.counts.coordinatorSaveStalls += 1;
      this.trace(`the coordinator's state write hangs (view ${effects.save.current?.view.number ?? 'none'})`);
      return;
    }
    this.applyCoordinatorEffects(effects);
  }

  private applyCoordinatorEffects(effects: CoordinatorEffects): void {
    if (effects.save !== null) this.coordinatorStored = effects.save;
    for (const outcome of effects.switchovers) {
      this.trace(`switchover to ${outcome.to} ${outcome.ok ? 'done' : 'failed'}: ${outcome.message}`);
    }
    for (const { to, message } of effects.messages)
      this.send('coordinator', to, { kind: 'coordinator', message });
  }
}

/**
 * A process's incarnation, different at every start as a real one's (drawn at random) is, and spread
 * over its low bits as a random one's are: a replica takes its snapshots at a fraction of the
 * threshold chosen by them, and consecutive start counts would give every replica almost the same.
 */
function incarnationOf(start: number): number {
  return start * 1024 + ((start * 2654435761) % 1024);
}
