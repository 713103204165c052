// Small drivers for tests of the pure core: a clock the test moves by hand, heartbeats with
// defaults, a coordinator fed by them, and a replica whose effects are collected as they come.

import { defaultProtocolConfig, type ProtocolConfig } from '../../src/protocol/config.js';
import { Coordinator } from '../../src/protocol/coordinator.js';
import type { CoordinatorState, ReplicaEffects, SwitchoverOutcome } from '../../src/protocol/effects.js';
import { FORMAT_LEVEL } from '../../src/protocol/format-level.js';
import type { ClientReply, ClientRequest, Heartbeat, LostEntry } from '../../src/protocol/messages.js';
import { Replica, type StoredSnapshot } from '../../src/protocol/replica.js';
import type { StateMachineFactory } from '../../src/protocol/state-machine.js';
import {
  clientId,
  connectionId,
  type Durability,
  type Entry,
  type LogPosition,
  logIndex,
  positionZero,
  type ReplicaId,
  type ReplicaIdentity,
  replicaId,
  type View,
  viewNumber,
} from '../../src/protocol/types.js';
import type { ViewTransition } from '../../src/protocol/view-change.js';
import { encodeOperation, type KvOperation } from '../../src/state-machine/index.js';
import { KeyValueStore } from '../../src/state-machine/kv-store.js';

export const config = defaultProtocolConfig;
/** Ticks after which a coordinator that just started judges liveness and leases have run out. */
export const settle = config.failureTimeoutTicks + config.leaseTicks + config.leaseDriftMarginTicks + 5;
export const [r1, r2, r3] = [replicaId('r1'), replicaId('r2'), replicaId('r3')];

/** A clock the test moves by hand. */
export class ManualClock {
  now = 0;
  readonly read = (): number => this.now;
}

export const identityOf = (
  id: ReplicaId,
  incarnation = 1,
  directory = `directory-${id}`,
): ReplicaIdentity => ({
  incarnation,
  directory,
});

export function view(
  number: number,
  primary: ReplicaId,
  backups: ReplicaId[],
  learners: ReplicaId[] = [],
): View {
  return { number: viewNumber(number), primary, backups, learners };
}

/** A stored state whose current view was installed with these identities. */
export function storedState(
  current: View,
  options: { acknowledged?: boolean; lastAcknowledged?: View | null; identities?: ReplicaIdentity[] } = {},
): CoordinatorState {
  const identities = (of: View) =>
    Object.fromEntries(
      [of.primary, ...of.backups, ...of.learners].map((id, position) => [
        id,
        options.identities?.[position] ?? identityOf(id),
      ]),
    );
  const acknowledged = options.acknowledged ?? true;
  const last =
    options.lastAcknowledged === undefined ? (acknowledged ? current : null) : options.lastAcknowledged;
  return {
    current: { view: current, identities: identities(current) },
    acknowledged,
    lastAcknowledged: last === null ? null : { view: last, identities: identities(last) },
    formatLevel: FORMAT_LEVEL,
  };
}

export interface HeartbeatFields {
  readonly incarnation?: number;
  readonly directory?: string;
  readonly view?: View | null;
  readonly durable?: LogPosition;
  /** The end of its log in memory; the durable position when not given. */
  readonly received?: LogPosition;
  /** Primary only: ready to lead its view (see Replica.leadReady); true when not given. */
  readonly leadReady?: boolean;
  readonly coordinatorSilentTicks?: number;
  readonly storageStalledTicks?: number;
  readonly syncedLearners?: ReplicaId[];
  readonly laggingBackups?: ReplicaId[];
  /** The highest format level it reads; this build's when not given. */
  readonly formatLevel?: number;
  /** The highest format level of what it holds; 1 when not given. */
  readonly formatLevelHeld?: number;
}

/** A coordinator on a manual clock, with heartbeats numbered per replica process. */
export class CoordinatorHarness {
  readonly clock = new ManualClock();
  readonly coordinator: Coordinator;
  private readonly sequences = new Map<string, number>();
  /** Switchovers that ended while `run` moved time. */
  readonly switchovers: SwitchoverOutcome[] = [];
  /** Views installed while `run` moved time, with why. */
  readonly viewChanges: ViewTransition[] = [];

  constructor(
    stored: CoordinatorState | null,
    recoverFromReplicas: ReplicaId[] = [],
    protocolConfig: ProtocolConfig = config,
  ) {
    this.coordinator = new Coordinator({
      config: protocolConfig,
      stored,
      clock: this.clock.read,
      recoverFromReplicas,
    });
  }

  heartbeat(id: ReplicaId, fields: HeartbeatFields = {}): Heartbeat {
    const incarnation = fields.incarnation ?? 1;
    const directory = fields.directory ?? `directory-${id}`;
    const key = `${id}/${incarnation}/${directory}`;
    const sequence = (this.sequences.get(key) ?? 0) + 1;
    this.sequences.set(key, sequence);
    return {
      type: 'heartbeat',
      replicaId: id,
      incarnation,
      directory,
      address: `sim:${id}`,
      sequence,
      view: fields.view === undefined ? this.coordinator.currentView() : fields.view,
      durable: fields.durable ?? positionZero,
      received: fields.received ?? fields.durable ?? positionZero,
      commitIndex: logIndex(0),
      appliedIndex: logIndex(0),
      leadReady: fields.leadReady ?? true,
      coordinatorSilentTicks: fields.coordinatorSilentTicks ?? 0,
      storageStalledTicks: fields.storageStalledTicks ?? 0,
      syncedLearners: fields.syncedLearners ?? [],
      laggingBackups: fields.laggingBackups ?? [],
      transfer: null,
      asyncLost: 0,
      snapshotIndex: logIndex(0),
      sessions: 0,
      formatLevel: fields.formatLevel ?? FORMAT_LEVEL,
      formatLevelHeld: fields.formatLevelHeld ?? 1,
      redisAddress: null,
    };
  }

  /** Delivers a heartbeat and returns the lease it was granted (0 for none). */
  beat(id: ReplicaId, fields: HeartbeatFields = {}): number {
    this.coordinator.takeEffects();
    this.coordinator.receiveHeartbeat(this.heartbeat(id, fields));
    const reply = this.coordinator
      .takeEffects()
      .messages.filter((message) => message.to === id)
      .at(-1)?.message;
    return reply?.type === 'heartbeat_reply' ? reply.leaseTicks : 0;
  }

  /** Moves time tick by tick; each tick, `beats` says who heartbeats with what. */
  run(ticks: number, beats: () => readonly (readonly [ReplicaId, HeartbeatFields])[]): void {
    for (let tick = 0; tick < ticks; tick++) {
      this.clock.now += 1;
      this.coordinator.tick();
      for (const [id, fields] of beats()) this.coordinator.receiveHeartbeat(this.heartbeat(id, fields));
      const effects = this.coordinator.takeEffects();
      this.switchovers.push(...effects.switchovers);
      this.viewChanges.push(...effects.viewChanges);
    }
  }

  get viewNumber(): number {
    return this.coordinator.currentView()?.number ?? 0;
  }
}

export function entries(count: number, entryView = 1): Entry[] {
  return Array.from({ length: count }, (_, position) => ({
    view: viewNumber(entryView),
    index: logIndex(position + 1),
    clientId: clientId('old-client'),
    requestNumber: position + 1,
    durability: 'sync' as const,
    refused: false,
    update: new Uint8Array(),
    result: new Uint8Array(),
  }));
}

/** A replica on a manual clock whose effects are collected as they are produced. */
export class ReplicaHarness {
  readonly clock = new ManualClock();
  readonly replica: Replica;
  readonly replies: ClientReply[] = [];
  readonly sent: ReplicaEffects['peerMessages'] = [];
  readonly heartbeats: Heartbeat[] = [];
  readonly storage: ReplicaEffects['storage'] = [];
  private requestIds = 0;
  private readonly openedSessions = new Set<string>();

  readonly transfers: ReplicaEffects['transfers'] = [];

  constructor(
    readonly id: ReplicaId,
    recovered: Entry[] = [],
    readonly incarnation = 1,
    options: {
      readonly config?: ProtocolConfig;
      readonly snapshot?: StoredSnapshot | null;
      readonly readSnapshot?: () => StoredSnapshot | null;
      readonly unreportedLosses?: readonly LostEntry[];
      readonly createStateMachine?: StateMachineFactory;
      readonly formatLevel?: number;
    } = {},
  ) {
    this.replica = new Replica({
      id,
      incarnation,
      directory: `directory-${id}`,
      clock: this.clock.read,
      address: `sim:${id}`,
      config: options.config ?? config,
      createStateMachine: options.createStateMachine ?? (() => new KeyValueStore()),
      recovered: {
        snapshot: options.snapshot ?? null,
        entries: recovered,
        unreportedLosses: options.unreportedLosses ?? [],
      },
      readSnapshot: options.readSnapshot ?? (() => null),
      msPerTick: 10,
      ...(options.formatLevel === undefined ? {} : { formatLevel: options.formatLevel }),
    });
  }

  drain(): void {
    const effects = this.replica.takeEffects();
    this.replies.push(...effects.replies.map((sent) => sent.reply));
    this.sent.push(...effects.peerMessages);
    this.heartbeats.push(...effects.heartbeats);
    this.storage.push(...effects.storage);
    this.transfers.push(...effects.transfers);
  }

  adopt(newView: View): void {
    this.replica.receiveFromCoordinator({
      type: 'view_change',
      view: newView,
      primaryIncarnation: null,
      addresses: {},
    });
    this.drain();
  }

  /** Adopts a view this replica leads, and the coordinator acknowledges it with a lease. */
  lead(current: View): void {
    this.adopt(current);
    this.grantLease(current);
  }

  /** Answers the replica's last heartbeat with a lease, as the coordinator does for its primary. */
  grantLease(current: View, leaseTicks = config.leaseTicks): void {
    this.replica.tick();
    this.drain();
    const last = this.heartbeats.at(-1);
    if (last === undefined) throw new Error('no heartbeat to answer');
    this.replica.receiveFromCoordinator({
      type: 'heartbeat_reply',
      incarnation: this.incarnation,
      sequence: last.sequence,
      view: current,
      primaryIncarnation: null,
      addresses: {},
      leaseTicks,
      formatLevel: FORMAT_LEVEL,
    });
    this.drain();
  }

  /** Reports everything appended so far as fsynced. */
  syncAll(): void {
    const last = this.replica.entries().at(-1);
    if (last !== undefined) this.replica.durable({ view: last.view, index: last.index });
    this.drain();
  }

  /** Sends a request; returns its id, to find the reply among `replies`. */
  request(
    operation: KvOperation,
    options: { client?: string; requestNumber?: number; durability?: Durability } = {},
  ): number {
    const read = operation.kind === 'get';
    const client = options.client ?? 'client';
    if (!read && !this.openedSessions.has(client)) this.openSession(client);
    const id = ++this.requestIds;
    const request: ClientRequest = {
      type: 'request',
      id,
      kind: read ? 'read' : 'write',
      clientId: clientId(client),
      requestNumber: read ? 0 : (options.requestNumber ?? id),
      durability: options.durability ?? 'sync',
      operation: encodeOperation(operation),
      staleness: null,
    };
    this.replica.receiveRequest(connectionId(1), request);
    this.drain();
    return id;
  }

  /** The index of the last entry in the replica's log. */
  lastIndex(): number {
    return this.replica.status().lastIndex;
  }

  /** Opens the session of `client` (a logged entry), as a client does before its first write. */
  openSession(client: string): number {
    this.openedSessions.add(client);
    const id = ++this.requestIds;
    this.replica.receiveRequest(connectionId(1), {
      type: 'request',
      id,
      kind: 'open-session',
      clientId: clientId(client),
      requestNumber: 0,
      durability: 'sync',
      operation: new Uint8Array(0),
      staleness: null,
    });
    this.drain();
    return id;
  }

  replyTo(requestId: number): ClientReply | undefined {
    return this.replies.find((reply) => reply.id === requestId);
  }

  /**
   * Follower `from` acknowledges everything up to `index` in the replica's current view as on its
   * disk, and up to `received` (index when not given) in its memory.
   */
  ack(from: ReplicaId, index: number, received = index): void {
    const current = this.replica.status().view;
    if (current === null) throw new Error('no view');
    this.replica.receiveFromPeer(from, {
      type: 'prepare_ok',
      view: current.number,
      index: logIndex(index),
      received: logIndex(received),
      time: this.clock.read(),
    });
    this.drain();
  }
}

export const text = (value: string): Uint8Array => new TextEncoder().encode(value);
