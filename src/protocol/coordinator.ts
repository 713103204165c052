// The coordinator's logic, pure: the configuration authority that decides views. Heartbeats and
// ticks go in; views to store and messages to send come out through `takeEffects()`.
//
// Rules it keeps (DESIGN §4):
// - every change makes a new view with the next number, stored before anyone hears of it;
// - a backup that is silent past the failure timeout, or that its primary reports as lagging,
//   is removed by a new view; a new replica joins as a learner; a learner the primary reports as
//   synced (it holds every committed entry, and commit already waits for it) becomes a backup;
// - a dead primary is replaced by the alive backup with the longest durable log, and only after
//   the last lease granted to it (plus a drift margin) has run out. Learners are never promoted.
// - the incarnation of the primary that first acknowledges a view is stored with it, and only that
//   incarnation gets a lease. A primary that restarted may have lost entries it had already sent
//   to backups, so reusing the view number would give two different entries one position: it gets
//   a new view instead (led by itself or by a backup, whichever has the longest log).

import type { ProtocolConfig } from './config.js';
import type { CoordinatorEffects, CoordinatorState } from './effects.js';
import type { Heartbeat, HeartbeatReply, ReplicaStatus, StatusReply } from './messages.js';
import {
  type Address,
  comparePositions,
  type LogIndex,
  type LogPosition,
  membersOf,
  positionZero,
  type ReplicaId,
  roleIn,
  type View,
  viewNumber,
} from './types.js';

interface ReplicaRecord {
  address: Address;
  lastHeartbeatTick: number;
  durable: LogPosition;
  commitIndex: LogIndex;
  appliedIndex: LogIndex;
  syncedLearners: readonly ReplicaId[];
  laggingBackups: readonly ReplicaId[];
}

export class Coordinator {
  private readonly config: ProtocolConfig;
  private view: View | null;
  private primaryIncarnation: number | null;
  /** The primary of the current view came back as a new process. */
  private primaryRestarted = false;
  private readonly replicas = new Map<ReplicaId, ReplicaRecord>();
  private now = 0;
  /** When the last lease granted to the current primary runs out, in our ticks, margin included. */
  private leaseExpiryTick: number;
  private firstHeartbeatTick: number | null = null;
  private effects: { save: CoordinatorState | null; messages: CoordinatorEffects['messages'] } = {
    save: null,
    messages: [],
  };

  constructor(options: { config: ProtocolConfig; stored: CoordinatorState }) {
    this.config = options.config;
    this.view = options.stored.view;
    this.primaryIncarnation = options.stored.primaryIncarnation;
    // After a restart we cannot know what lease the primary holds: assume a full one was just granted.
    this.leaseExpiryTick = this.config.leaseTicks + this.config.leaseDriftMarginTicks;
  }

  tick(): void {
    this.now += 1;
    this.reconcile();
  }

  receiveHeartbeat(heartbeat: Heartbeat): void {
    this.firstHeartbeatTick ??= this.now;
    this.replicas.set(heartbeat.replicaId, {
      address: heartbeat.address,
      lastHeartbeatTick: this.now,
      durable: heartbeat.durable,
      commitIndex: heartbeat.commitIndex,
      appliedIndex: heartbeat.appliedIndex,
      syncedLearners: heartbeat.syncedLearners,
      laggingBackups: heartbeat.laggingBackups,
    });
    this.notePrimaryIncarnation(heartbeat);
    this.reconcile();
    const view = this.view;
    let leaseTicks = 0;
    if (
      view !== null &&
      view.primary === heartbeat.replicaId &&
      heartbeat.viewNumber === view.number &&
      heartbeat.incarnation === this.primaryIncarnation
    ) {
      leaseTicks = this.config.leaseTicks;
      this.leaseExpiryTick = Math.max(
        this.leaseExpiryTick,
        this.now + leaseTicks + this.config.leaseDriftMarginTicks,
      );
    }
    const reply: HeartbeatReply = {
      type: 'heartbeat_reply',
      sequence: heartbeat.sequence,
      view,
      addresses: this.addresses(),
      leaseTicks,
    };
    this.effects.messages.push({ to: heartbeat.replicaId, message: reply });
  }

  takeEffects(): CoordinatorEffects {
    const effects = this.effects;
    this.effects = { save: null, messages: [] };
    return effects;
  }

  currentView(): View | null {
    return this.view;
  }

  status(requestId: number): StatusReply {
    const replicas: ReplicaStatus[] = [...this.replicas.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([id, record]) => ({
        id,
        address: record.address,
        role: roleIn(this.view, id),
        alive: this.alive(id),
        durableIndex: record.durable.index,
        appliedIndex: record.appliedIndex,
        commitIndex: record.commitIndex,
      }));
    return { type: 'status_reply', id: requestId, view: this.view, replicas };
  }

  // ---- decisions -------------------------------------------------------------------------------

  private notePrimaryIncarnation(heartbeat: Heartbeat): void {
    const view = this.view;
    if (view === null || view.primary !== heartbeat.replicaId) return;
    if (this.primaryIncarnation === null) {
      if (heartbeat.viewNumber !== view.number) return;
      // The first acknowledgement of this view: only this process may lead it.
      this.primaryIncarnation = heartbeat.incarnation;
      this.effects.save = { view, primaryIncarnation: this.primaryIncarnation };
    } else if (heartbeat.incarnation !== this.primaryIncarnation) {
      this.primaryRestarted = true;
    }
  }

  private reconcile(): void {
    const view = this.view;
    // After a restart, give every replica a failure timeout to report before judging anyone dead.
    if (view !== null && this.now <= this.config.failureTimeoutTicks) return;
    if (view === null) this.formFirstView();
    else if (!this.alive(view.primary) || this.primaryRestarted) this.replacePrimary(view);
    else this.adjustMembership(view);
  }

  private formFirstView(): void {
    if (this.firstHeartbeatTick === null) return;
    if (this.now - this.firstHeartbeatTick < this.config.viewFormationTicks) return;
    const alive = this.aliveIds();
    const primary = this.longestLog(alive);
    if (primary === undefined) return;
    const primaryPosition = this.durableOf(primary);
    // Only replicas whose log is exactly the primary's start as backups; the rest catch up first.
    const equal = alive.filter(
      (id) => id !== primary && comparePositions(this.durableOf(id), primaryPosition) === 0,
    );
    const others = alive.filter((id) => id !== primary && !equal.includes(id));
    this.installView({ number: viewNumber(1), primary, backups: equal, learners: others });
  }

  private replacePrimary(view: View): void {
    if (this.now < this.leaseExpiryTick) return; // the old primary may still serve reads
    // A restarted primary holds every committed entry (commit needs its own fsync), so it may lead
    // again — in a new view.
    const restarted = this.primaryRestarted && this.alive(view.primary) ? [view.primary] : [];
    const candidate = this.longestLog([...view.backups.filter((id) => this.alive(id)), ...restarted]);
    if (candidate === undefined) return; // no backup holds every committed entry: wait for one
    const alive = this.aliveIds();
    this.installView({
      number: viewNumber(view.number + 1),
      primary: candidate,
      backups: view.backups.filter((id) => id !== candidate && this.alive(id)),
      learners: alive.filter((id) => id !== candidate && !view.backups.includes(id)),
    });
  }

  private adjustMembership(view: View): void {
    const primaryRecord = this.replicas.get(view.primary);
    const lagging = new Set(primaryRecord?.laggingBackups ?? []);
    const synced = new Set(primaryRecord?.syncedLearners ?? []);
    const backups = view.backups.filter((id) => this.alive(id) && !lagging.has(id));
    const learners: ReplicaId[] = [];
    for (const id of view.learners) {
      if (!this.alive(id)) continue;
      if (synced.has(id)) backups.push(id);
      else learners.push(id);
    }
    const members = new Set(membersOf(view));
    for (const id of this.aliveIds()) {
      if (!members.has(id) || (lagging.has(id) && view.backups.includes(id))) learners.push(id);
    }
    const changed = !sameMembers(backups, view.backups) || !sameMembers(learners, view.learners);
    if (!changed) return;
    // A reported state is acted on once; the primary reports afresh in its next heartbeat.
    if (primaryRecord !== undefined) {
      primaryRecord.laggingBackups = [];
      primaryRecord.syncedLearners = [];
    }
    this.installView({ number: viewNumber(view.number + 1), primary: view.primary, backups, learners });
  }

  private installView(view: View): void {
    this.view = view;
    this.primaryIncarnation = null;
    this.primaryRestarted = false;
    this.effects.save = { view, primaryIncarnation: null };
    const addresses = this.addresses();
    for (const id of this.replicas.keys()) {
      this.effects.messages.push({ to: id, message: { type: 'view_change', view, addresses } });
    }
  }

  // ---- knowledge -------------------------------------------------------------------------------

  private alive(id: ReplicaId): boolean {
    const record = this.replicas.get(id);
    return record !== undefined && this.now - record.lastHeartbeatTick <= this.config.failureTimeoutTicks;
  }

  private aliveIds(): ReplicaId[] {
    return [...this.replicas.keys()].filter((id) => this.alive(id)).sort();
  }

  private durableOf(id: ReplicaId): LogPosition {
    return this.replicas.get(id)?.durable ?? positionZero;
  }

  /** The replica with the longest durable log; ties go to the smallest id, so choices are stable. */
  private longestLog(ids: readonly ReplicaId[]): ReplicaId | undefined {
    let best: ReplicaId | undefined;
    for (const id of [...ids].sort()) {
      if (best === undefined || comparePositions(this.durableOf(id), this.durableOf(best)) > 0) best = id;
    }
    return best;
  }

  private addresses(): Record<string, Address> {
    const addresses: Record<string, Address> = {};
    for (const [id, record] of this.replicas) addresses[id] = record.address;
    return addresses;
  }
}

function sameMembers(a: readonly ReplicaId[], b: readonly ReplicaId[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}
