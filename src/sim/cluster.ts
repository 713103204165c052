// A whole cluster in one process, driven tick by tick from one seed: the real protocol core of
// the coordinator and every replica, a simulated network (delay, reordering, loss, duplication,
// partitions, clogged links), simulated disks (fsync latency that can turn slow; a crash loses
// what was not fsynced and may tear the batch being written) and clocks that drift. Clients are
// plain endpoints that submit requests and collect replies. Every delivery feeds a trace hash,
// so two runs of one seed can be compared exactly.

import type { ProtocolConfig } from '../protocol/config.js';
import { Coordinator } from '../protocol/coordinator.js';
import type { CoordinatorState, StorageOperation } from '../protocol/effects.js';
import type {
  ClientReply,
  ClientRequest,
  CoordinatorToReplica,
  Heartbeat,
  PeerMessage,
} from '../protocol/messages.js';
import { Replica, type TestOnlyFaults } from '../protocol/replica.js';
import type { StateMachineFactory } from '../protocol/state-machine.js';
import {
  type ConnectionId,
  type Entry,
  logIndex,
  positionZero,
  type ReplicaId,
  replicaId,
  type View,
} from '../protocol/types.js';
import { Random } from './random.js';

export interface NetworkFaults {
  /** Probability that a message is dropped. */
  readonly lossProbability: number;
  /** Probability that a message is delivered twice. */
  readonly duplicateProbability: number;
  readonly delayTicksMin: number;
  readonly delayTicksMax: number;
}

export interface DiskFaults {
  readonly fsyncTicksMin: number;
  readonly fsyncTicksMax: number;
  /** Probability that a crash during an fsync leaves a prefix of that batch on disk (a torn write). */
  readonly tornWriteProbability: number;
}

export interface SimClusterOptions {
  readonly seed: number;
  readonly replicaCount: number;
  readonly config: ProtocolConfig;
  readonly createStateMachine: StateMachineFactory;
  readonly network?: NetworkFaults;
  readonly disk?: DiskFaults;
  readonly testOnlyFaults?: TestOnlyFaults;
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
}

/** A disk that makes writes durable only when a simulated fsync completes. */
class SimDisk {
  durable: Entry[] = [];
  private queued: StorageOperation[] = [];
  private syncing: { operations: StorageOperation[]; doneAt: number } | null = null;

  submit(operations: readonly StorageOperation[]): void {
    this.queued.push(...operations);
  }

  /** Advances the disk; returns true when an fsync completed this tick. */
  step(now: number, random: Random, faults: DiskFaults): boolean {
    let completed = false;
    if (this.syncing !== null && this.syncing.doneAt <= now) {
      for (const operation of this.syncing.operations) {
        if (operation.kind === 'append') this.durable.push(...operation.entries);
        else this.durable.length = operation.afterIndex;
      }
      this.syncing = null;
      completed = true;
    }
    if (this.syncing === null && this.queued.length > 0) {
      this.syncing = {
        operations: this.queued,
        doneAt: now + random.integer(faults.fsyncTicksMin, faults.fsyncTicksMax),
      };
      this.queued = [];
    }
    return completed;
  }

  /**
   * A crash loses every write not yet fsynced. The batch being written may be torn: records go to
   * disk in order, so what survives is a prefix of it, and recovery drops the torn last record.
   */
  crash(random: Random, faults: DiskFaults): void {
    const syncing = this.syncing;
    if (syncing !== null && random.chance(faults.tornWriteProbability)) {
      const appends = syncing.operations.flatMap((operation) =>
        operation.kind === 'append' ? [operation] : [],
      );
      if (appends.length === syncing.operations.length) {
        const entries = appends.flatMap((operation) => operation.entries);
        this.durable.push(...entries.slice(0, random.integer(0, entries.length)));
      }
    }
    this.queued = [];
    this.syncing = null;
  }
}

interface SimNode {
  replica: Replica | null;
  readonly disk: SimDisk;
  /** This node's disk behaves so, instead of the cluster-wide setting. */
  diskFaults: DiskFaults | null;
  /** Ticks per simulated tick: a drifting clock runs a little fast or slow. */
  clockRate: number;
  clockCarry: number;
}

const traceTailLength = 40;

function describe(envelope: Envelope): string {
  switch (envelope.kind) {
    case 'peer': {
      const message = envelope.message;
      if (message.type === 'prepare') {
        return `prepare v${message.view} after ${message.previous.index} +${message.entries.length} commit ${message.commitIndex}`;
      }
      if (message.type === 'prepare_ok') return `prepare_ok v${message.view} ${message.index}`;
      return `sync v${message.view} last ${message.lastIndex}`;
    }
    case 'heartbeat':
      return `heartbeat v${envelope.message.viewNumber} durable ${envelope.message.durable.index}`;
    case 'coordinator':
      return `${envelope.message.type} v${envelope.message.view?.number ?? 0}`;
    case 'request':
      return `request ${envelope.message.clientId}#${envelope.message.requestNumber}`;
    case 'reply':
      return envelope.message.ok ? `reply ok ${envelope.message.index}` : `reply ${envelope.message.code}`;
  }
}

export class SimCluster {
  readonly random: Random;
  now = 0;
  /** Null while the coordinator process is down. */
  coordinator: Coordinator | null;
  /** What the coordinator has stored on disk; a restart begins from it. */
  private coordinatorStored: CoordinatorState = { view: null, primaryIncarnation: null };
  readonly nodes = new Map<ReplicaId, SimNode>();
  readonly replies = new Map<number, ClientReply[]>();
  private readonly inFlight: InFlight[] = [];
  private sequence = 0;
  private readonly blocked = new Set<string>();
  /** Links that deliver late until a tick: "from>to" → [until tick, extra delay]. */
  private readonly clogged = new Map<string, { until: number; delayTicks: number }>();
  private readonly options: SimClusterOptions;
  network: NetworkFaults;
  disk: DiskFaults;
  private traceHash = 0x811c9dc5;
  private readonly traceTail: string[] = [];
  private starts = 0;

  constructor(options: SimClusterOptions) {
    this.options = options;
    this.random = new Random(options.seed);
    this.network = options.network ?? calmNetwork;
    this.disk = options.disk ?? calmDisk;
    this.coordinator = new Coordinator({ config: options.config, stored: this.coordinatorStored });
    for (let number = 1; number <= options.replicaCount; number++) {
      const id = replicaId(`r${number}`);
      const node: SimNode = {
        replica: null,
        disk: new SimDisk(),
        diskFaults: null,
        clockRate: 1,
        clockCarry: 0,
      };
      this.nodes.set(id, node);
      this.start(id);
    }
  }

  // ---- faults ----------------------------------------------------------------------------------

  crash(id: ReplicaId): void {
    const node = this.node(id);
    node.replica = null;
    node.disk.crash(this.random, node.diskFaults ?? this.disk);
    this.trace(`crash ${id}`);
  }

  start(id: ReplicaId): void {
    const node = this.node(id);
    this.starts += 1;
    node.replica = new Replica({
      id,
      incarnation: this.starts,
      address: `sim:${id}`,
      config: this.options.config,
      createStateMachine: this.options.createStateMachine,
      recovered: [...node.disk.durable],
      ...(this.options.testOnlyFaults === undefined ? {} : { testOnlyFaults: this.options.testOnlyFaults }),
    });
    this.trace(`start ${id} with ${node.disk.durable.length} entries`);
  }

  /** The coordinator process dies: in-memory knowledge (liveness, leases) is gone, its disk stays. */
  crashCoordinator(): void {
    this.coordinator = null;
    this.trace('crash coordinator');
  }

  startCoordinator(): void {
    if (this.coordinator !== null) return;
    this.coordinator = new Coordinator({ config: this.options.config, stored: this.coordinatorStored });
    this.trace(`start coordinator in view ${this.coordinatorStored.view?.number ?? 0}`);
  }

  /** Gives `id` a disk of its own behaviour (null: the cluster-wide one). */
  setDiskFaults(id: ReplicaId, faults: DiskFaults | null): void {
    this.node(id).diskFaults = faults;
  }

  /** Makes `id`'s clock run at `rate` ticks per simulated tick (1 is exact). */
  setClockRate(id: ReplicaId, rate: number): void {
    this.node(id).clockRate = rate;
  }

  /** Delays every message from `from` to `to` by `delayTicks` more, until tick `until`. */
  clog(from: Endpoint, to: Endpoint, delayTicks: number, until: number): void {
    this.clogged.set(`${from}>${to}`, { until, delayTicks });
  }

  /** Blocks messages from `from` to `to` (one way). */
  block(from: Endpoint, to: Endpoint): void {
    this.blocked.add(`${from}>${to}`);
  }

  /** Cuts `id` off from every other endpoint, both ways. */
  isolate(id: Endpoint): void {
    for (const other of this.endpoints()) {
      if (other === id) continue;
      this.block(id, other);
      this.block(other, id);
    }
  }

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

  view(): View | null {
    // While the coordinator is down, clients use the last view they heard of.
    return this.coordinator?.currentView() ?? this.coordinatorStored.view;
  }

  replica(id: ReplicaId): Replica | null {
    return this.node(id).replica;
  }

  // ---- running ---------------------------------------------------------------------------------

  step(): void {
    this.now += 1;
    if (this.coordinator !== null) {
      this.coordinator.tick();
      this.flushCoordinator();
    }
    for (const [id, node] of this.nodes) {
      if (node.replica === null) continue;
      node.clockCarry += node.clockRate;
      while (node.clockCarry >= 1) {
        node.clockCarry -= 1;
        node.replica.tick();
      }
      if (node.disk.step(this.now, this.random, node.diskFaults ?? this.disk)) {
        const last = node.disk.durable.at(-1);
        node.replica.durable(
          last === undefined ? positionZero : { view: last.view, index: logIndex(last.index) },
        );
      }
      this.flushReplica(id, node.replica, node.disk);
    }
    this.deliverDue();
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

  private endpoints(): Endpoint[] {
    return ['coordinator', ...this.nodes.keys()];
  }

  private send(from: Endpoint, to: Endpoint, envelope: Envelope): void {
    if (this.blocked.has(`${from}>${to}`)) return;
    if (this.random.chance(this.network.lossProbability)) return;
    const copies = this.random.chance(this.network.duplicateProbability) ? 2 : 1;
    const clog = this.clogged.get(`${from}>${to}`);
    const extra = clog !== undefined && clog.until > this.now ? clog.delayTicks : 0;
    for (let copy = 0; copy < copies; copy++) {
      const delay = extra + this.random.integer(this.network.delayTicksMin, this.network.delayTicksMax);
      this.inFlight.push({ deliverAt: this.now + delay, sequence: this.sequence++, from, to, envelope });
    }
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
    this.trace(`${item.from}>${item.to} ${describe(envelope)}`);
    if (envelope.kind === 'heartbeat') {
      if (this.coordinator === null) return;
      this.coordinator.receiveHeartbeat(envelope.message);
      this.flushCoordinator();
      return;
    }
    if (envelope.kind === 'reply') {
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
    for (const message of effects.heartbeats) this.send(id, 'coordinator', { kind: 'heartbeat', message });
    for (const { connection, reply } of effects.replies) {
      this.send(id, `client:${connection}`, { kind: 'reply', message: reply });
    }
  }

  private flushCoordinator(): void {
    if (this.coordinator === null) return;
    const effects = this.coordinator.takeEffects();
    if (effects.save !== null) this.coordinatorStored = effects.save;
    for (const { to, message } of effects.messages)
      this.send('coordinator', to, { kind: 'coordinator', message });
  }
}
