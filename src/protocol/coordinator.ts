// The coordinator's logic, pure: the configuration authority that decides views. Heartbeats and
// ticks go in; views to store and messages to send come out through `takeEffects()`. Time comes
// from the clock it is given, read at every input, so a coordinator that stalled judges leases by
// the time that really passed.
//
// Rules it keeps (DESIGN §4):
// - every change makes a new view, stored before anyone hears of it, numbered above every view
//   it ever stored and every view any replica reports: views only go up, also after it lost its disk;
// - a coordinator with no state (its directory lost it; a new cluster is the operator's explicit
//   word, not an assumption) or whose state is behind what replicas report forms no view and grants
//   no lease; only with `recoverFromReplicas` (the operator naming every replica of the cluster)
//   does it rebuild, and then only once it heard every one of them. An empty coordinator cannot
//   tell a new cluster from a lost one: the replica holding the data may be the one it cannot hear;
// - a replica counts as alive while it heartbeats, hears the coordinator, and its disk completes
//   fsyncs (liveness means progress, not heartbeats);
// - each view records the identity (incarnation, data directory) of its members. A member whose
//   identity changed may have lost what it acknowledged: it is a learner again in a new view, and
//   one whose directory changed is never a candidate for primary;
// - a learner the primary reports as synced becomes a backup, a backup it reports as lagging a
//   learner (or, with lagPolicy 'eject', leaves the view for ejectTicks): only for reports made in the current view (by the process recorded as its primary:
//   any other is replaced first), about learners whose identity is the one recorded in this view;
// - a dead or restarted primary is replaced, once the last lease granted to it (plus a drift
//   margin) has run out, by the candidate with the longest durable log: the backups of the current
//   view and the primary and backups of the last view a primary acknowledged (views after that one
//   committed nothing a client saw, so they must not narrow the choice). Learners never lead.
// - only the primary of the current view, with the identity recorded for it, gets a lease, and the
//   first heartbeat in which it reports the view acknowledges it;
// - a planned switchover hands the primary role to a backup of the current view: the primary's
//   lease is no longer renewed, and once the last one granted ran out (as for a failover) the backup
//   leads a new view, the old primary a learner in it. Without a commit quorum every backup holds
//   every commit, and the old primary, with no lease, answers nothing that observes its state.
// - a coordinator that leads by a lease of its own (etcd's, through `holdAuthorityUntil`) grants
//   no lease that could outlive it: once it lapses another coordinator may lead, and that one waits
//   out only the leases it can know of — those a coordinator grants within its own authority.

import { commitQuorumOf, type ProtocolConfig, quorumConfigured } from './config.js';
import {
  type CoordinatorEffects,
  type CoordinatorState,
  emptyCoordinatorState,
  type ForgetOutcome,
  type SwitchoverOutcome,
  type ViewRecord,
} from './effects.js';
import { BASE_FORMAT_LEVEL, formatLevelRefusal } from './format-level.js';
import type {
  CoordinatorStatus,
  Heartbeat,
  HeartbeatReply,
  ReplicaStatus,
  TransferProgress,
} from './messages.js';
import type { TestOnlyFaults } from './test-only-faults.js';
import {
  type Address,
  comparePositions,
  type LogIndex,
  type LogPosition,
  membersOf,
  positionZero,
  type ReplicaId,
  type ReplicaIdentity,
  roleIn,
  sameIdentity,
  type View,
  type ViewNumber,
  viewNumber,
} from './types.js';
import { describeViewChange, type MemberFacts, type ViewChangeCause } from './view-change.js';

export interface CoordinatorOptions {
  readonly config: ProtocolConfig;
  /** What its directory holds; null when it holds nothing and the operator did not say the cluster is new. */
  readonly stored: CoordinatorState | null;
  /** Monotonic time in ticks. */
  readonly clock: () => number;
  /**
   * The operator's consent to rebuild the view from what replicas report when this coordinator's
   * state is behind theirs (an empty or restored state directory): every replica of the cluster,
   * each of which must report before the view is rebuilt. Empty: no consent.
   */
  readonly recoverFromReplicas?: readonly ReplicaId[];
  readonly testOnlyFaults?: TestOnlyFaults;
  /** How status messages show a number of ticks (the shell knows how long a tick is). */
  readonly describeTicks?: (ticks: number) => string;
}

/** What a primary said of its followers, and in which view it said it. */
interface FollowerReport {
  readonly view: ViewNumber;
  readonly syncedLearners: readonly ReplicaId[];
  readonly laggingBackups: readonly ReplicaId[];
}

/** A switchover under way: the old primary's lease runs out, then `to` leads a new view. */
interface Switchover {
  readonly to: ReplicaId;
  readonly from: ReplicaId;
  /** The view that makes `to` the primary, once installed. */
  installed: ViewNumber | null;
  readonly deadlineTick: number;
}

interface ReplicaRecord {
  address: Address;
  redisAddress: Address | null;
  identity: ReplicaIdentity;
  /**
   * Identities this replica had before: a late heartbeat of a process that is gone is ignored, unless
   * the identity heard since has been silent for a failure timeout (see `record`).
   */
  retired: string[];
  sequence: number;
  lastHeartbeatTick: number;
  view: View | null;
  durable: LogPosition;
  /** The end of its log in memory, as this process reported it (≥ durable). */
  received: LogPosition;
  commitIndex: LogIndex;
  appliedIndex: LogIndex;
  coordinatorSilentTicks: number;
  storageStalledTicks: number;
  report: FollowerReport | null;
  transfer: TransferProgress | null;
  snapshotIndex: LogIndex;
  sessions: number;
  asyncLost: number;
  /** The highest format level its process reads (format-level.ts). */
  formatLevel: number;
}

export class Coordinator {
  private readonly config: ProtocolConfig;
  private readonly clock: () => number;
  private readonly recoverFromReplicas: readonly ReplicaId[];
  private readonly testOnlyFaults: TestOnlyFaults;
  private readonly describeTicks: (ticks: number) => string;
  private state: CoordinatorState;
  /** It has no state of its own: it must be rebuilt from the replicas before it may act. */
  private stateLost: boolean;
  private readonly replicas = new Map<ReplicaId, ReplicaRecord>();
  private now: number;
  /** No replica is judged dead before this tick: after a start or a stall, each gets a failure timeout to report. */
  private judgeFromTick: number;
  /** When the last lease granted to the current primary runs out, in our ticks, margin included. */
  private leaseExpiryTick: number;
  private firstHeartbeatTick: number | null = null;
  /** Backups ejected for lagging (`lagPolicy: 'eject'`), and the tick until which they stay out. */
  private readonly ejectedUntil = new Map<ReplicaId, number>();
  /** Why this coordinator forms no view and grants no lease, or null. */
  private currentProblem: string | null = null;
  /** The highest format level any replica heard since this process started holds (Heartbeat.formatLevelHeld). */
  private formatLevelHeld = BASE_FORMAT_LEVEL;
  /** Until when (our ticks) it may act: the end of its leadership lease; infinite when it leads alone. */
  private authorityUntilTick = Number.POSITIVE_INFINITY;
  /**
   * New primaries chosen among restarted replicas only, because no replica that held everything in
   * memory was alive to this coordinator: replicated writes not yet committed may be lost by it.
   */
  promotionsWithoutHolders = 0;
  private switchover: Switchover | null = null;
  private effects: Mutable<CoordinatorEffects> = emptyEffects();

  constructor(options: CoordinatorOptions) {
    this.config = options.config;
    this.clock = options.clock;
    this.recoverFromReplicas = options.recoverFromReplicas ?? [];
    this.testOnlyFaults = options.testOnlyFaults ?? {};
    this.describeTicks = options.describeTicks ?? ((ticks) => `${ticks} ticks`);
    this.state = options.stored ?? emptyCoordinatorState;
    this.stateLost = options.stored === null;
    this.now = options.clock();
    this.judgeFromTick = this.now + this.config.failureTimeoutTicks;
    // After a restart we cannot know what lease a primary holds: assume a full one was just granted.
    this.leaseExpiryTick = this.now + this.config.leaseTicks + this.config.leaseDriftMarginTicks;
  }

  tick(): void {
    this.catchUp();
    this.reconcile();
    this.checkSwitchover();
  }

  receiveHeartbeat(heartbeat: Heartbeat): void {
    this.catchUp();
    if (!this.record(heartbeat)) return;
    this.noteAcknowledgement(heartbeat);
    this.reconcile();
    this.checkSwitchover();
    const current = this.state.current;
    let leaseTicks = 0;
    if (current !== null && this.leaseAllowed(heartbeat, current)) {
      leaseTicks = this.grantableLeaseTicks();
    }
    if (leaseTicks > 0) {
      this.leaseExpiryTick = Math.max(
        this.leaseExpiryTick,
        this.now + leaseTicks + this.config.leaseDriftMarginTicks,
      );
    }
    const reply: HeartbeatReply = {
      type: 'heartbeat_reply',
      incarnation: heartbeat.incarnation,
      sequence: heartbeat.sequence,
      view: current?.view ?? null,
      primaryIncarnation: current === null ? null : primaryIncarnationOf(current),
      addresses: this.addresses(),
      leaseTicks,
      formatLevel: this.formatLevelNow(),
    };
    this.effects.messages.push({ to: heartbeat.replicaId, message: reply });
  }

  /**
   * This coordinator leads by a lease it must keep renewing (a coordinator on etcd): it may act until
   * `tick` on its clock, counted from before it asked for the renewal. Leases it grants end by then,
   * margin included, so a coordinator that leads after it never meets a lease it could not know of.
   */
  holdAuthorityUntil(tick: number): void {
    this.authorityUntilTick = tick;
  }

  /** How long a lease granted now may be: the full lease, or less as this coordinator's authority ends. */
  private grantableLeaseTicks(): number {
    if (this.testOnlyFaults.grantLeasesBeyondAuthority === true) return this.config.leaseTicks;
    const left = Math.floor(this.authorityUntilTick - this.now - this.config.leaseDriftMarginTicks);
    return Math.max(0, Math.min(this.config.leaseTicks, left));
  }

  takeEffects(): CoordinatorEffects {
    const effects = this.effects;
    this.effects = emptyEffects();
    return effects;
  }

  /**
   * Asks that `to`, a backup of the current view, become the primary. Answers at once when it is
   * refused (or `to` already leads); otherwise null, and the outcome comes later in `switchovers`.
   */
  requestSwitchover(to: ReplicaId): SwitchoverOutcome | null {
    this.catchUp();
    const refuse = (message: string): SwitchoverOutcome => ({
      to,
      ok: false,
      message,
      view: this.currentView(),
    });
    const current = this.state.current;
    if (this.currentProblem !== null) return refuse(`the coordinator is not acting: ${this.currentProblem}`);
    if (current === null) return refuse('there is no view yet');
    const view = current.view;
    if (view.primary === to) return { to, ok: true, message: `${to} is already the primary`, view };
    if (this.switchover !== null) return refuse(`a switchover to ${this.switchover.to} is under way`);
    if (!this.state.acknowledged) {
      return refuse(`view ${view.number} is not yet acknowledged by its primary; retry in a moment`);
    }
    const problem = this.switchoverProblem(current, to);
    if (problem !== null) return refuse(problem);
    if (commitQuorumOf(this.config, view.backups.length) < view.backups.length) {
      return refuse(
        `with a commit quorum of ${this.config.syncQuorum} of ${view.backups.length} backups, a backup ` +
          'may miss a commit: a switchover needs every backup to hold each one (no --sync-quorum below the backups)',
      );
    }
    this.switchover = {
      to,
      from: view.primary,
      installed: null,
      deadlineTick:
        this.now +
        this.config.leaseTicks +
        this.config.leaseDriftMarginTicks +
        3 * this.config.failureTimeoutTicks,
    };
    this.reconcile();
    this.checkSwitchover();
    return null;
  }

  /**
   * Drops what this coordinator knows of `id`, a replica taken out of service for good (`understudy
   * forget`): it leaves the status, the metrics and the format level's count, as if never heard.
   * Only a replica outside the view (the coordinator removes one it stops hearing) and silent for a
   * failure timeout: a member's record is what the next view is chosen by, and a running replica
   * would be heard again at its next heartbeat. If it runs again later, it is heard as new and
   * rejoins as a learner. Not stored: a coordinator that restarts forgets every replica anyway.
   */
  forgetReplica(id: ReplicaId): ForgetOutcome {
    this.catchUp();
    if (this.currentProblem !== null) {
      return { ok: false, message: `the coordinator is not acting: ${this.currentProblem}` };
    }
    // A member first: a coordinator that has just begun (restarted, or newly leading on etcd) has
    // heard no replica yet, but its view still names them.
    const current = this.state.current;
    const role = roleIn(current?.view ?? null, id);
    if (current !== null && role !== 'none') {
      return {
        ok: false,
        message:
          `${id} is ${role === 'primary' ? 'the' : 'a'} ${role} of view ${current.view.number}: stop its process, and once the coordinator ` +
          'took it out of the view (within the failure timeout) it can be forgotten',
      };
    }
    const record = this.replicas.get(id);
    if (record === undefined) {
      return {
        ok: false,
        message: `${id} is not known to this coordinator: never heard since it started, or forgotten`,
      };
    }
    const silentTicks = this.now - record.lastHeartbeatTick;
    if (silentTicks < this.config.failureTimeoutTicks) {
      return {
        ok: false,
        message: `${id} was heard ${this.describeTicks(Math.round(silentTicks))} ago: stop its process first (a running replica is heard again at its next heartbeat)`,
      };
    }
    this.replicas.delete(id);
    this.reconcile();
    return {
      ok: true,
      message: `${id} forgotten; it had not been heard from for ${this.describeTicks(Math.round(silentTicks))}`,
    };
  }

  currentView(): View | null {
    return this.state.current?.view ?? null;
  }

  /** Why this coordinator forms no view and grants no lease, or null when it works normally. */
  get problem(): string | null {
    return this.currentProblem;
  }

  /** Its state is behind what the replicas report, and it has no consent to rebuild: an operator must act. */
  get needsOperator(): boolean {
    return this.currentProblem !== null && this.recoverFromReplicas.length === 0;
  }

  /**
   * What `understudy status` is answered, as of `stored`: the state the shell knows is stored (by
   * default the core's own, which a synchronous home stores at once). A view whose save is still on
   * its way to etcd, or was refused, is not shown: no replica was told of it, and it may never be.
   */
  status(requestId: number, stored: CoordinatorState = this.state): CoordinatorStatus {
    const view = stored.current?.view ?? null;
    const replicas: ReplicaStatus[] = [...this.replicas.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([id, record]) => ({
        id,
        address: record.address,
        role: roleIn(view, id),
        alive: this.alive(id),
        durableIndex: record.durable.index,
        appliedIndex: record.appliedIndex,
        commitIndex: record.commitIndex,
        problem: this.healthProblem(record),
        transfer: record.transfer,
        snapshotIndex: record.snapshotIndex,
        sessions: record.sessions,
        formatLevel: record.formatLevel,
        redisAddress: record.redisAddress,
      }));
    const primary = view === null ? undefined : this.replicas.get(view.primary);
    return {
      type: 'status_reply',
      id: requestId,
      view,
      replicas,
      problem: this.currentProblem,
      asyncLost: primary?.asyncLost ?? 0,
      promotionsWithoutHolders: this.promotionsWithoutHolders,
      formatLevel: this.formatLevelNow(stored),
    };
  }

  // ---- time ------------------------------------------------------------------------------------

  private catchUp(): void {
    const now = this.clock();
    if (now <= this.now) return;
    const jump = now - this.now;
    this.now = now;
    if (jump >= this.config.stallTicksMin) {
      // We stalled: heartbeats piled up unread. Judge nobody dead until they had time to arrive.
      this.judgeFromTick = Math.max(this.judgeFromTick, now + this.config.failureTimeoutTicks);
      for (const record of this.replicas.values()) record.lastHeartbeatTick += jump;
    }
  }

  // ---- knowledge -------------------------------------------------------------------------------

  /**
   * Stores what a heartbeat says; false if it is older than one already heard from that process, or
   * comes from a process of that replica that has since been replaced.
   *
   * Incarnations are random, so which of two processes is the newer can only be guessed from the
   * order their heartbeats arrive in. A heartbeat that a process sent just before it died can arrive
   * after its successor's first ones (a slow link, a retransmission): it then retires the live process.
   * A retired identity is therefore heard again once the one that replaced it has been silent for a
   * failure timeout: that one is gone, and this one still talks (sim seed 801352, where a replica
   * stayed out of the view for good). Nothing about safety rests on the guess: the view records each
   * member's identity, and a process other than the recorded one rejoins as a learner.
   */
  private record(heartbeat: Heartbeat): boolean {
    const identity: ReplicaIdentity = { incarnation: heartbeat.incarnation, directory: heartbeat.directory };
    const known = this.replicas.get(heartbeat.replicaId);
    let retired: string[] = [];
    if (known !== undefined) {
      if (sameIdentity(known.identity, identity)) {
        const inOrder = this.testOnlyFaults.actOnReportsOfAnyView !== true;
        if (inOrder && heartbeat.sequence <= known.sequence) return false;
        retired = known.retired;
      } else {
        const key = identityKey(identity);
        const knownSilentTicks = this.now - known.lastHeartbeatTick;
        if (known.retired.includes(key) && knownSilentTicks <= this.config.failureTimeoutTicks) return false;
        retired = [...known.retired.filter((other) => other !== key), identityKey(known.identity)].slice(
          -retiredIdentitiesMax,
        );
      }
    }
    this.firstHeartbeatTick ??= this.now;
    this.formatLevelHeld = Math.max(this.formatLevelHeld, heartbeat.formatLevelHeld);
    if (known === undefined || !sameIdentity(known.identity, identity)) {
      const refusal = formatLevelRefusal(heartbeat.formatLevel, this.formatLevelNow());
      if (refusal !== null) this.effects.formatRefusals.push({ id: heartbeat.replicaId, reason: refusal });
    }
    const view = heartbeat.view;
    this.replicas.set(heartbeat.replicaId, {
      address: heartbeat.address,
      redisAddress: heartbeat.redisAddress,
      identity,
      retired,
      sequence: heartbeat.sequence,
      lastHeartbeatTick: this.now,
      view,
      durable: heartbeat.durable,
      received:
        comparePositions(heartbeat.received, heartbeat.durable) > 0 ? heartbeat.received : heartbeat.durable,
      commitIndex: heartbeat.commitIndex,
      appliedIndex: heartbeat.appliedIndex,
      coordinatorSilentTicks: heartbeat.coordinatorSilentTicks,
      storageStalledTicks: heartbeat.storageStalledTicks,
      transfer: heartbeat.transfer,
      snapshotIndex: heartbeat.snapshotIndex,
      sessions: heartbeat.sessions,
      asyncLost: heartbeat.asyncLost,
      formatLevel: heartbeat.formatLevel,
      report:
        view !== null && view.primary === heartbeat.replicaId
          ? {
              view: view.number,
              syncedLearners: heartbeat.syncedLearners,
              laggingBackups: heartbeat.laggingBackups,
            }
          : null,
    });
    return true;
  }

  /**
   * Why `record`'s replica does not count as alive, or null. One that reads less than the cluster's
   * format level could not read the log: it is never a member (a build older than the cluster's).
   */
  private healthProblem(record: ReplicaRecord): string | null {
    return (
      healthProblem(this.now - record.lastHeartbeatTick, record, this.config, this.describeTicks) ??
      formatLevelRefusal(record.formatLevel, this.formatLevelNow())
    );
  }

  private alive(id: ReplicaId): boolean {
    const record = this.replicas.get(id);
    return record !== undefined && this.healthProblem(record) === null;
  }

  private aliveIds(): ReplicaId[] {
    return [...this.replicas.keys()].filter((id) => this.alive(id)).sort();
  }

  /**
   * The process or data directory `id` runs with now differs from the one `recorded` holds for it;
   * with `directoryOnly`, its directory does (a restarted process still has its disk).
   */
  private identityChanged(id: ReplicaId, recorded: ViewRecord, directoryOnly = false): boolean {
    if (this.testOnlyFaults.ignoreIdentityChanges === true) return false;
    const now = this.replicas.get(id)?.identity;
    const then = recorded.identities[id];
    if (now === undefined) return false;
    if (then === undefined) return true;
    return directoryOnly ? now.directory !== then.directory : !sameIdentity(now, then);
  }

  /** The highest view number any replica reports, in its view or in the view of its last entry. */
  private highestViewReported(): number {
    let highest = 0;
    for (const record of this.replicas.values()) {
      highest = Math.max(highest, record.view?.number ?? 0, record.durable.view);
    }
    return highest;
  }

  private durableOf(id: ReplicaId): LogPosition {
    return this.replicas.get(id)?.durable ?? positionZero;
  }

  /**
   * What the replica's process holds, on disk or in memory, as it last reported. A report of an earlier
   * process of it may claim more than the one alive now holds: a view made on it names that earlier
   * process as primary, the new one does not take it, and the coordinator chooses again.
   */
  private heldOf(id: ReplicaId): LogPosition {
    if (this.testOnlyFaults.rankCandidatesByDiskOnly === true) return this.durableOf(id);
    return this.replicas.get(id)?.received ?? positionZero;
  }

  /** The replica with the longest log it holds; ties go to the smallest id, so choices are stable. */
  private longestLog(ids: Iterable<ReplicaId>): ReplicaId | undefined {
    return this.first(ids, (a, b) => comparePositions(this.heldOf(a), this.heldOf(b)));
  }

  /**
   * The replica with the longest log on disk; between equal disks, the longest in memory. What a
   * view is formed or rebuilt on, where the coordinator knows no view to choose among: a replica's
   * memory may be gone with a process that crashed since its last report, and a log that looked as
   * long in memory but ended three entries earlier on disk led a rebuilt view over the one that held
   * everything committed (sim seed 1305269). Every committed entry and every acknowledged write is
   * on the disk of the primary that acknowledged it, and (view-start entries) a longer log on disk
   * holds everything committed in the views before its end.
   */
  private longestDurableLog(ids: Iterable<ReplicaId>): ReplicaId | undefined {
    return this.first(
      ids,
      (a, b) =>
        comparePositions(this.durableOf(a), this.durableOf(b)) ||
        comparePositions(this.heldOf(a), this.heldOf(b)),
    );
  }

  /** The greatest of `ids` by `compare`; ties go to the smallest id, so choices are stable. */
  private first(
    ids: Iterable<ReplicaId>,
    compare: (a: ReplicaId, b: ReplicaId) => number,
  ): ReplicaId | undefined {
    let best: ReplicaId | undefined;
    for (const id of [...ids].sort()) if (best === undefined || compare(id, best) > 0) best = id;
    return best;
  }

  private addresses(): Record<string, Address> {
    const addresses: Record<string, Address> = {};
    for (const [id, record] of this.replicas) addresses[id] = record.address;
    return addresses;
  }

  // ---- leases and acknowledgements -------------------------------------------------------------

  private leaseAllowed(heartbeat: Heartbeat, current: ViewRecord): boolean {
    const view = current.view;
    // The primary handing over is not renewed: its last lease must run out before the next may lead.
    const handingOver = this.switchover !== null && this.switchover.from === view.primary;
    return (
      !handingOver &&
      this.currentProblem === null &&
      this.state.acknowledged &&
      view.primary === heartbeat.replicaId &&
      heartbeat.view?.number === view.number &&
      !this.identityChanged(view.primary, current) &&
      this.alive(view.primary)
    );
  }

  private noteAcknowledgement(heartbeat: Heartbeat): void {
    const current = this.state.current;
    if (current === null || this.state.acknowledged || this.currentProblem !== null) return;
    const view = current.view;
    if (view.primary !== heartbeat.replicaId || heartbeat.view?.number !== view.number) return;
    if (this.identityChanged(view.primary, current)) return;
    // With a commit quorum, a primary is ready only once enough backups hold what may have committed.
    if (!heartbeat.leadReady) return;
    // The first acknowledgement of this view by the process it was given to: it may now lead.
    this.save({ ...this.state, current, acknowledged: true, lastAcknowledged: current });
  }

  // ---- decisions -------------------------------------------------------------------------------

  private reconcile(): void {
    if (this.detectLostState()) return;
    this.changeView();
    this.raiseFormatLevel();
  }

  private changeView(): void {
    const current = this.state.current;
    if (current === null) {
      this.formView('formed');
      return;
    }
    // After a start or a stall, give every replica a failure timeout to report before judging anyone.
    if (this.now < this.judgeFromTick) return;
    const primary = current.view.primary;
    if (!this.alive(primary) || this.identityChanged(primary, current)) this.replacePrimary(current);
    else if (!this.handOver(current)) this.adjustMembership(current);
  }

  /**
   * Raises the cluster's format level to what some replica holds (a coordinator that lost its state
   * learns it so), and to the lowest level any replica heard since this coordinator started reads,
   * alive or not, once that is higher and every member of the view was heard: each
   * replica that holds the log, is catching up to it, or may come back to it reads what the primary
   * may then log. A replica of the older build that is down through an upgrade (a crash, a
   * reboot) keeps the level where it can rejoin; one never heard by this coordinator process does
   * not, and is kept out once the level rose. Stored before any heartbeat reply tells it, like a view.
   */
  private raiseFormatLevel(): void {
    const current = this.state.current;
    if (current === null || this.currentProblem !== null) return;
    let level = this.formatLevelHeld;
    if (membersOf(current.view).every((id) => this.replicas.has(id))) {
      let lowest = Number.POSITIVE_INFINITY;
      for (const record of this.replicas.values()) lowest = Math.min(lowest, record.formatLevel);
      level = Math.max(level, lowest);
    }
    if (level <= this.state.formatLevel) return;
    this.effects.formatLevelRaised = { from: this.state.formatLevel, to: level };
    this.save({ ...this.state, formatLevel: level });
  }

  /**
   * The cluster's format level now: the one stored, or more where a replica holds content of a
   * higher level (a coordinator that lost its state learns so from them before it rebuilds).
   */
  private formatLevelNow(state: CoordinatorState = this.state): number {
    return Math.max(state.formatLevel, this.formatLevelHeld);
  }

  /**
   * Installs the switchover's view once the old primary's last lease ran out; true if it did. Its
   * backups are the other backups still alive with the process and directory they had; the old
   * primary, whose log may hold entries it prepared and nobody else has, is a learner and catches up.
   */
  private handOver(current: ViewRecord): boolean {
    const switchover = this.switchover;
    if (switchover === null || switchover.installed !== null || current.view.primary !== switchover.from) {
      return false;
    }
    // Backups of an acknowledged view hold every commit; one installed since must be acknowledged first.
    if (!this.state.acknowledged) return false;
    const waitForLease = this.testOnlyFaults.switchoverWithoutLeaseWait !== true;
    if (waitForLease && this.now < this.leaseExpiryTick) return false;
    if (this.switchoverProblem(current, switchover.to) !== null) return false; // checkSwitchover ends it
    const view = current.view;
    const changed = (id: ReplicaId) => this.identityChanged(id, current);
    const backups = view.backups.filter((id) => id !== switchover.to && this.alive(id) && !changed(id));
    const learners = this.aliveIds().filter((id) => id !== switchover.to && !backups.includes(id));
    this.installView({ primary: switchover.to, backups, learners }, 'switchover');
    switchover.installed = this.state.current?.view.number ?? null;
    return true;
  }

  /** Why `to` cannot take over the current view's primary role now, or null. */
  private switchoverProblem(current: ViewRecord, to: ReplicaId): string | null {
    const view = current.view;
    if (!view.backups.includes(to)) {
      const role = view.learners.includes(to) ? 'a learner still catching up' : 'not a member';
      return `${to} is ${role} in view ${view.number}: only a backup (${view.backups.join(', ') || 'none'}) may take over`;
    }
    const record = this.replicas.get(to);
    if (record === undefined) return `${to} has not been heard from since this coordinator started`;
    if (!this.alive(to)) return `${to} is not alive: ${this.healthProblem(record)}`;
    // Alive still, but a view it may not hear would stop writes until a failover undid it (a chaos run
    // handed over to a backup whose coordinator link had gone silent: writes stopped for 14 s).
    const silentTicks = this.now - record.lastHeartbeatTick;
    if (silentTicks > this.config.failureTimeoutTicks / 2) {
      return `${to} has not been heard from for ${this.describeTicks(Math.round(silentTicks))}: a switchover goes only to a backup heard within half the failure timeout`;
    }
    if (this.identityChanged(to, current)) return `${to} restarted since view ${view.number} was made`;
    return null;
  }

  /** Ends the switchover under way when its new view is acknowledged, or it can no longer happen. */
  private checkSwitchover(): void {
    const switchover = this.switchover;
    const current = this.state.current;
    if (switchover === null || current === null) return;
    const view = current.view;
    let outcome: Omit<SwitchoverOutcome, 'to' | 'view'> | null = null;
    if (switchover.installed !== null) {
      if (view.number === switchover.installed && this.state.acknowledged) {
        outcome = { ok: true, message: `${switchover.to} leads view ${view.number}` };
      } else if (view.number !== switchover.installed) {
        outcome = {
          ok: false,
          message: `view ${switchover.installed}, led by ${switchover.to}, was replaced by view ${view.number} (led by ${view.primary}) before it was acknowledged`,
        };
      }
    } else if (view.primary !== switchover.from) {
      outcome = {
        ok: false,
        message: `the primary changed to ${view.primary} before the switchover (a failover)`,
      };
    } else {
      const problem = this.switchoverProblem(current, switchover.to);
      if (problem !== null) outcome = { ok: false, message: problem };
    }
    if (outcome === null && this.now >= switchover.deadlineTick) {
      outcome = {
        ok: false,
        message: `no new view acknowledged by ${switchover.to} in time; see understudy status`,
      };
    }
    if (outcome === null) return;
    this.switchover = null;
    this.effects.switchovers.push({ to: switchover.to, view, ...outcome });
  }

  /**
   * True while this coordinator's state is behind what the replicas report: it must not reissue
   * their view numbers, so it acts only to rebuild, and only with the operator's consent.
   */
  private detectLostState(): boolean {
    const highest = this.highestViewReported();
    const known = this.state.current?.view.number ?? 0;
    if (!this.stateLost && highest <= known) {
      this.currentProblem = null;
      return false;
    }
    const state = this.stateLost ? 'has no state' : `stored only view ${known}`;
    if (this.recoverFromReplicas.length === 0) {
      this.currentProblem =
        (this.stateLost
          ? 'this coordinator has no state (an empty or lost state directory). '
          : `replicas report view ${highest} but this coordinator stored only view ${known}: it was given old state. `) +
        'It forms no view and grants no lease. For a new cluster, start it with --new-cluster; to ' +
        'rebuild the view from the replicas, restart it with --recover-from-replicas naming every replica.';
      return true;
    }
    this.rebuildFromReplicas(highest, state);
    return true;
  }

  /**
   * With every replica of the cluster heard from, the longest durable log among them holds every
   * committed entry: each committed entry is on every member of the view that committed it, and a
   * log that ends later in (view, index) order holds everything committed before its last view. The
   * coordinator cannot know the members on its own (a replica cut off since it lost its state was
   * never heard), so the operator names them; a replica a report names but the operator did not
   * means the list is incomplete, and nothing is rebuilt.
   */
  private rebuildFromReplicas(highest: number, state: string): void {
    const expected = new Set(this.recoverFromReplicas);
    const unlisted = new Set<ReplicaId>();
    for (const [id, record] of this.replicas) {
      for (const named of [id, ...(record.view === null ? [] : membersOf(record.view))]) {
        if (!expected.has(named)) unlisted.add(named);
      }
    }
    const silent = [...expected].filter((id) => !this.alive(id)).sort();
    const prefix = `rebuilding from the replicas (this coordinator ${state}; they report view ${highest}): `;
    if (unlisted.size > 0) {
      this.currentProblem = `${prefix}${[...unlisted].sort().join(', ')} not named in --recover-from-replicas; name every replica of the cluster`;
      return;
    }
    this.currentProblem =
      prefix +
      (silent.length > 0
        ? `waiting to hear from ${silent.join(', ')}`
        : 'waiting for the last lease to run out');
    if (silent.length > 0 || this.now < this.leaseExpiryTick) return;
    if (this.formView('rebuilt')) {
      this.stateLost = false;
      this.currentProblem = null;
    }
  }

  /** The first view, or one rebuilt from the replicas: only replicas whose log is exactly the primary's are backups. */
  private formView(cause: 'formed' | 'rebuilt'): boolean {
    if (this.firstHeartbeatTick === null) return false;
    if (this.now - this.firstHeartbeatTick < this.config.viewFormationTicks) return false;
    const alive = this.aliveIds();
    const primary = this.longestDurableLog(alive);
    if (primary === undefined) return false;
    const primaryPosition = this.durableOf(primary);
    const equal = alive.filter(
      (id) =>
        id !== primary &&
        comparePositions(this.durableOf(id), primaryPosition) === 0 &&
        comparePositions(this.heldOf(id), this.heldOf(primary)) === 0,
    );
    const others = alive.filter((id) => id !== primary && !equal.includes(id));
    this.installView({ primary, backups: equal, learners: others }, cause);
    return true;
  }

  /**
   * The primary is dead or restarted: choose the next one, once the last lease granted ran out.
   *
   * Without a commit quorum every backup holds every commit on disk, so every candidate below does: a
   * backup of the current view, or a primary or backup of the last acknowledged one (a restarted
   * primary too: commit needed its own fsync), whose directory is the one it had then. A replicated
   * write, though, may be only in the memory of the backups: a candidate *holds* every acknowledged
   * write only if its process is the one recorded in that view (it did not restart since), or it is
   * that view's primary with its disk (replicated writes are answered after the primary's fsync).
   * Those who hold everything are preferred; only when none of them is alive does a restarted backup,
   * which holds every commit on its disk, lead (its memory, and the replicated writes only there, are
   * gone with every other holder). Among them, the longest log in memory leads.
   *
   * With a commit quorum, see `replacePrimaryByQuorum`.
   */
  private replacePrimary(current: ViewRecord): void {
    if (this.now < this.leaseExpiryTick) return; // the old primary may still serve reads
    const view = current.view;
    const acknowledged =
      this.testOnlyFaults.candidatesFromCurrentViewOnly === true ? null : this.state.lastAcknowledged;
    if (
      acknowledged !== null &&
      quorumConfigured(this.config) &&
      this.testOnlyFaults.promoteWithoutQuorumReports !== true
    ) {
      this.replacePrimaryByQuorum(current, acknowledged);
      return;
    }
    const candidates = new Set<ReplicaId>();
    const holders = new Set<ReplicaId>();
    const consider = (ids: readonly ReplicaId[], recorded: ViewRecord) => {
      for (const id of ids) {
        if (!this.alive(id) || this.identityChanged(id, recorded, true)) continue;
        candidates.add(id);
        if (!this.identityChanged(id, recorded)) holders.add(id);
      }
    };
    consider([view.primary, ...view.backups], current);
    if (acknowledged !== null) {
      consider([acknowledged.view.primary, ...acknowledged.view.backups], acknowledged);
      const primary = acknowledged.view.primary;
      if (candidates.has(primary)) holders.add(primary); // its disk holds all it acknowledged
    }
    const pool =
      holders.size > 0 && this.testOnlyFaults.rankCandidatesByDiskOnly !== true ? holders : candidates;
    const primary = this.longestLog(pool);
    if (primary === undefined) return; // nobody alive holds every committed entry: wait for one
    if (holders.size === 0) this.promotionsWithoutHolders += 1;
    // Candidates whose process also stayed the same remain backups; a restarted one proves itself as a learner.
    const unchanged = (id: ReplicaId) =>
      !this.identityChanged(id, current) ||
      (acknowledged !== null && !this.identityChanged(id, acknowledged));
    const backups = [...pool].filter((id) => id !== primary && unchanged(id)).sort();
    const learners = this.aliveIds().filter((id) => id !== primary && !backups.includes(id));
    this.installView({ primary, backups, learners }, 'failover');
  }

  /**
   * With a commit quorum of k backups, a commit is on disk at the primary and at k backups of the last
   * acknowledged view (the view that makes a member a backup is acknowledged only once k of its
   * backups hold everything that may have committed before, see Replica.leadReady), and perhaps
   * nowhere else: the backups of a later view that was never acknowledged are no candidates (learners
   * become backups without holding every commit). So among any m − k + 1 of the last acknowledged
   * view's m backups one holds each commit, and the longest log among them holds them all.
   * But a backup's report must postdate its last acknowledgement to the old primary: the coordinator
   * first installs a view with the same members and a new number, which every backup adopts and so
   * stops accepting the old primary's entries, and counts only reports made in a newer view than the
   * acknowledged one. It waits for every alive backup of that view to report so (the longest log among
   * them also holds every replicated write any of them received), and for at least m − k + 1 of them;
   * or for the old primary itself to be back with its disk (it holds every commit). Otherwise it waits:
   * no promotion rather than one that might lose a commit.
   */
  private replacePrimaryByQuorum(current: ViewRecord, acknowledged: ViewRecord): void {
    const last = acknowledged.view;
    const sameDirectory = (id: ReplicaId) => this.alive(id) && !this.identityChanged(id, acknowledged, true);
    if (commitQuorumOf(this.config, last.backups.length) === last.backups.length) {
      // Every backup of that view holds every commit on disk: any of them may lead, and the old
      // primary; those whose process did not restart hold the replicated writes too.
      const candidates = [last.primary, ...last.backups].filter(sameDirectory);
      const holders = candidates.filter(
        (id) => id === last.primary || !this.identityChanged(id, acknowledged),
      );
      const pool = holders.length > 0 ? holders : candidates;
      const primary = this.longestLog(pool);
      if (primary === undefined) return; // nobody alive holds every committed entry: wait for one
      if (holders.length === 0) this.promotionsWithoutHolders += 1;
      const backups = pool.filter((id) => id !== primary && !this.identityChanged(id, acknowledged)).sort();
      const learners = this.aliveIds().filter((id) => id !== primary && !backups.includes(id));
      this.installView({ primary, backups, learners }, 'failover');
      return;
    }
    if (current.view.number === last.number) {
      // The fence: same members, a new number, and the primary's process as the acknowledged view
      // recorded it: that process, if it is back, leads this view as it did the last; a restarted or
      // repaired one does not take it (its log may lack what the old one had).
      const { primary, backups, learners } = current.view;
      const recorded = acknowledged.identities[primary];
      this.installView(
        { primary, backups, learners },
        'fence',
        recorded === undefined ? {} : { [primary]: recorded },
      );
      return;
    }
    const fenced = (id: ReplicaId) => (this.replicas.get(id)?.view?.number ?? 0) > last.number;
    const electors = last.backups.filter(sameDirectory);
    if (electors.some((id) => !fenced(id))) return; // wait for their reports in the new view
    const required = last.backups.length - commitQuorumOf(this.config, last.backups.length) + 1;
    const oldPrimaryBack = sameDirectory(last.primary);
    if (electors.length < required && !oldPrimaryBack) return; // a commit may be on none of them: wait
    const pool = oldPrimaryBack ? [...electors, last.primary] : electors;
    const primary = this.longestLog(pool);
    if (primary === undefined) return;
    if (!oldPrimaryBack && electors.every((id) => this.identityChanged(id, acknowledged))) {
      this.promotionsWithoutHolders += 1;
    }
    const backups = pool.filter((id) => id !== primary && !this.identityChanged(id, acknowledged)).sort();
    const learners = this.aliveIds().filter((id) => id !== primary && !backups.includes(id));
    this.installView({ primary, backups, learners }, 'failover');
  }

  private adjustMembership(current: ViewRecord): void {
    const view = current.view;
    // Runs at every tick and heartbeat: the lists are a few ids long, so no sets, sorts or copies.
    const report = this.currentReport(current);
    const lagging = report?.laggingBackups ?? [];
    const synced = report?.syncedLearners ?? [];
    const changed = (id: ReplicaId) => this.identityChanged(id, current);
    const backups = view.backups.filter((id) => this.alive(id) && !lagging.includes(id) && !changed(id));
    if (this.config.lagPolicy === 'eject') {
      for (const id of lagging) {
        if (view.backups.includes(id)) this.ejectedUntil.set(id, this.now + this.config.ejectTicks);
      }
    }
    for (const [id, until] of this.ejectedUntil) if (until <= this.now) this.ejectedUntil.delete(id);
    const learners: ReplicaId[] = [];
    for (const id of view.learners) {
      if (!this.alive(id) || this.ejectedUntil.has(id)) continue;
      if (synced.includes(id) && !changed(id)) backups.push(id);
      else learners.push(id);
    }
    // Any order: installView sorts, sameMembers does not care.
    for (const id of this.replicas.keys()) {
      if (id === view.primary || backups.includes(id) || learners.includes(id) || !this.alive(id)) continue;
      if (!this.ejectedUntil.has(id)) learners.push(id);
    }
    // A member whose process or directory changed needs a new view even if its role stays: the
    // primary forgets what it knew of a learner at every view, so old acknowledgements cannot count.
    const identitiesChanged = membersOf(view).some((id) => this.alive(id) && changed(id));
    if (sameMembers(backups, view.backups) && sameMembers(learners, view.learners) && !identitiesChanged)
      return;
    this.installView({ primary: view.primary, backups, learners }, 'membership');
  }

  /**
   * The primary's report, if it was made in the current view. It comes from the process last heard
   * as the primary; if that is not the one recorded for the view, reconcile replaces the primary instead.
   */
  private currentReport(current: ViewRecord): FollowerReport | null {
    const report = this.replicas.get(current.view.primary)?.report ?? null;
    if (this.testOnlyFaults.actOnReportsOfAnyView === true) return report;
    return report?.view === current.view.number ? report : null;
  }

  /** `keep`: identities to record instead of the ones the replicas report now. */
  private installView(
    members: Omit<View, 'number'>,
    cause: ViewChangeCause,
    keep: Readonly<Record<string, ReplicaIdentity>> = {},
  ): void {
    const known = this.state.current?.view.number ?? 0;
    const view: View = {
      number: viewNumber(Math.max(known, this.highestViewReported()) + 1),
      primary: members.primary,
      backups: [...members.backups].sort(),
      learners: [...members.learners].sort(),
    };
    const identities: Record<string, ReplicaIdentity> = {};
    for (const id of membersOf(view)) {
      const identity = keep[id] ?? this.replicas.get(id)?.identity ?? this.state.current?.identities[id];
      if (identity !== undefined) identities[id] = identity;
    }
    // Described before the state moves on: the facts are those of the view being replaced.
    const previous = this.state.current;
    this.effects.viewChanges.push(
      describeViewChange(previous?.view ?? null, view, cause, this.memberFacts(previous)),
    );
    this.save({
      ...this.state,
      current: { view, identities },
      acknowledged: false,
    });
    // Reports are about the view they were made in; the primary reports afresh in the new one.
    for (const record of this.replicas.values()) record.report = null;
    const addresses = this.addresses();
    const primaryIncarnation = identities[view.primary]?.incarnation ?? null;
    for (const id of this.replicas.keys()) {
      this.effects.messages.push({
        to: id,
        message: { type: 'view_change', view, primaryIncarnation, addresses },
      });
    }
  }

  /** What `describeViewChange` says of each member, as this coordinator knows it now. */
  private memberFacts(previous: ViewRecord | null): MemberFacts {
    const report = previous === null ? null : this.currentReport(previous);
    return {
      problem: (id) => {
        const record = this.replicas.get(id);
        return record === undefined
          ? 'not heard from since the coordinator started'
          : this.healthProblem(record);
      },
      identityChange: (id) => {
        if (previous === null || !this.identityChanged(id, previous)) return null;
        return this.identityChanged(id, previous, true) ? 'directory' : 'process';
      },
      lagging: (id) => report?.laggingBackups.includes(id) ?? false,
      ejectedFor: (id) => {
        const until = this.ejectedUntil.get(id);
        if (until === undefined) return null;
        return `the primary reported it lagging by more than the backup lag limit: out of the view for ${this.describeTicks(Math.round(until - this.now))} (lag policy eject)`;
      },
    };
  }

  private save(state: CoordinatorState): void {
    this.state = state;
    this.effects.save = state;
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function emptyEffects(): Mutable<CoordinatorEffects> {
  return {
    save: null,
    messages: [],
    switchovers: [],
    viewChanges: [],
    formatLevelRaised: null,
    formatRefusals: [],
  };
}

/** What a replica's liveness is judged by: its own reports, and how long it has been silent. */
export interface HealthReport {
  readonly coordinatorSilentTicks: number;
  readonly storageStalledTicks: number;
}

/**
 * Why a replica does not count as alive (silent for `silentTicks`, deaf, disk stalled), or null. The
 * coordinator judges every replica by it, several times a tick, so a healthy replica costs no
 * allocation; a replica's admin port judges itself by it (silent 0: it hears itself).
 */
export function healthProblem(
  silentTicks: number,
  report: HealthReport,
  config: ProtocolConfig,
  describeTicks: (ticks: number) => string,
): string | null {
  if (silentTicks > config.failureTimeoutTicks) {
    return `no heartbeat for ${describeTicks(Math.round(silentTicks))}`;
  }
  if (report.coordinatorSilentTicks >= config.failureTimeoutTicks) {
    return `has heard nothing from the coordinator for ${describeTicks(report.coordinatorSilentTicks)}`;
  }
  if (report.storageStalledTicks >= config.failureTimeoutTicks) {
    return `its oldest write has waited ${describeTicks(report.storageStalledTicks)} for an fsync`;
  }
  return null;
}

/** Enough to recognise the processes of a replica that restarts many times in a row. */
const retiredIdentitiesMax = 16;

/** The incarnation recorded for the primary of a view: the process it was given to. */
function primaryIncarnationOf(record: ViewRecord): number | null {
  return record.identities[record.view.primary]?.incarnation ?? null;
}

const identityKey = (identity: ReplicaIdentity): string => `${identity.incarnation}/${identity.directory}`;

function sameMembers(a: readonly ReplicaId[], b: readonly ReplicaId[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}
