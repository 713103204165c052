// One replica's protocol logic, pure: messages, client requests, ticks and "durable up to X" go in;
// storage operations, messages and replies come out through `takeEffects()`. No I/O or randomness
// here, so the simulator runs exactly this code. Time comes from the clock the shell passes in and
// is read at every input before the input is handled: a process that stalled (SIGSTOP, a long GC, a
// VM pause) must not judge its lease by the timer callbacks it happened to get.
//
// Roles follow the view the coordinator hands out (views only ever come from the coordinator, so
// a restarted replica can never be talked back into an older view):
//
//   none ──view──▶ learner ──view──▶ backup ──view──▶ primary
//     ▲               │  ▲              │                 │
//     └───────────────┴──┴──────────────┴─────────────────┘  (any newer view may move any role)
//
// Invariants checked after every input (see `checkInvariants`):
// - applied ≤ last index; durable ≤ last index; a primary has applied its whole log;
// - the primary's commit index never passes its own durable index or a quorum member's ack;
// - a follower's commit index never passes what it verified against the primary; nothing at or
//   below the commit index is ever truncated.
//
// Answers that observe the state — reads, and refusals by the service (a refusal saw the state
// too) — leave only once everything they could have observed has committed, and only under a
// valid lease. Async writes are acknowledged at the primary's own fsync, also only under a lease.

import { assert } from './assert.js';
import { AsyncLossRecord } from './async-loss.js';
import { commitQuorumOf, type ProtocolConfig, quorumConfigured } from './config.js';
import { emptyReplicaEffects, type ReplicaEffects } from './effects.js';
import { ErrorCode } from './error-codes.js';
import { BASE_FORMAT_LEVEL, FORMAT_LEVEL } from './format-level.js';
import type {
  ClientReply,
  ClientRequest,
  CoordinatorToReplica,
  LostEntry,
  LostReport,
  PeerMessage,
  Prepare,
  PrepareOk,
  SnapshotOffer,
  SyncRequest,
  TransferProgress,
} from './messages.js';
import { ReplicaLog } from './replica-log.js';
import { SessionTable } from './sessions.js';
import { beginSnapshotPayload, decodeSnapshotPayload, type SnapshotPayload } from './snapshot-payload.js';
import {
  encodedSnapshot,
  isServiceError,
  type StateMachine,
  type StateMachineContext,
  type StateMachineFactory,
  type StateSize,
} from './state-machine.js';
import {
  decodeSystemOperation,
  encodeSystemOperation,
  isSessionOpen,
  isSystemEntry,
  type SystemOperation,
  systemClientId,
} from './system-entries.js';
import type { TestOnlyFaults } from './test-only-faults.js';
import {
  type Address,
  type ClientId,
  type ConnectionId,
  type Durability,
  decodeRefusal,
  type Entry,
  encodeRefusal,
  type LogIndex,
  type LogPosition,
  logIndex,
  positionZero,
  type Refusal,
  type ReplicaId,
  type Role,
  roleIn,
  type SnapshotInfo,
  samePosition,
  sameSnapshot,
  type View,
} from './types.js';

/** What a save is told: the index a kept snapshot must reach, or why this replica takes none. */
export type SaveAnswer =
  | { readonly ok: true; readonly index: LogIndex }
  | {
      readonly ok: false;
      readonly code: ErrorCode;
      readonly message: string;
      readonly primary: ReplicaId | null;
    };

/** A snapshot as read from disk: its description and the payload the core encoded. */
export interface StoredSnapshot {
  readonly info: SnapshotInfo;
  readonly payload: Uint8Array;
}

/** What a replica found in its data directory at start. All of it is durable. */
export interface RecoveredState {
  /** The newest good snapshot, or null. */
  readonly snapshot: StoredSnapshot | null;
  /** The log entries after the snapshot's position. */
  readonly entries: readonly Entry[];
  /** Async writes it discarded and had not yet seen on the loss record (its 'unreported-losses' note). */
  readonly unreportedLosses: readonly LostEntry[];
}

export interface ReplicaOptions {
  readonly id: ReplicaId;
  /** Where clients and peers reach this replica; reported to the coordinator. */
  readonly address: Address;
  readonly config: ProtocolConfig;
  readonly createStateMachine: StateMachineFactory;
  /** Differs at every start of the replica process (see Heartbeat.incarnation). */
  readonly incarnation: number;
  /** The identity of this replica's data directory (see ReplicaIdentity). */
  readonly directory: string;
  /** Monotonic time in ticks; read at every input. */
  readonly clock: () => number;
  readonly recovered: RecoveredState;
  /**
   * Reads the newest kept snapshot from disk, synchronously. Used only by a deposed primary that must
   * roll its state back below entries it applied but that were never committed.
   */
  readonly readSnapshot: () => StoredSnapshot | null;
  /** Real time of one tick: clients state staleness bounds in milliseconds. */
  readonly msPerTick: number;
  /**
   * The highest format level this replica reports reading (format-level.ts): its build's, unless an
   * operator holds it lower (`--format-level`) to keep the cluster where an older build can rejoin.
   */
  readonly formatLevel?: number;
  /** Deliberate bugs, for proving that the simulator's checks catch them. Never set in production. */
  readonly testOnlyFaults?: TestOnlyFaults;
}

/** What the primary knows of one backup or learner. */
interface Follower {
  /** Highest index the follower acknowledged as durable and matching in this view. */
  matchIndex: LogIndex;
  /** Highest index the follower acknowledged as matching and in its memory (≥ matchIndex). */
  receivedIndex: LogIndex;
  /** Where its last sync found its log to match ours (0 before one): the log after it is what it needs. */
  syncMatch: LogIndex;
  /** Next index to send. */
  nextIndex: LogIndex;
  /** The follower answered in this view, so `nextIndex` is grounded in its real log. */
  confirmed: boolean;
  /** A learner that holds every committed entry: the primary waits for it from then on. */
  synced: boolean;
  lastAckTick: number;
  lastProgressTick: number;
  lastHeartbeatTick: number;
  /** The follower's clock in its last PrepareOk, echoed back while we hold a lease; -1 for none. */
  lastEcho: number;
  /** The index of the snapshot offered to it while it needs one; -1 when it needs none. */
  transferIndex: number;
  /** The snapshot offered to it: offered again while it is still kept, so a transfer under way finishes. */
  offered: SnapshotInfo | null;
  /** The format level its process reads, as its last sync in this view said; null before one. */
  readsFormatLevel: number | null;
}

/** The retry wait after failed snapshot writes in a row grows to at most this many `snapshotRetryTicks`. */
export const snapshotRetryWaitMaxFactor = 8;

/** A snapshot being taken: written aside, then kept once its position is committed. */
interface SnapshotInProgress {
  readonly position: LogPosition;
  written: SnapshotInfo | null;
  keeping: boolean;
  /** Older snapshots the shell was told to keep on beside it (a follower was receiving them). */
  retained: readonly SnapshotInfo[];
}

type Answer =
  | { readonly ok: true; readonly result: Uint8Array }
  | { readonly ok: false; readonly code: string; readonly message: string };

/**
 * A client request answered once `index` commits; an async write once it is durable here; a
 * replicated write once it is durable here and in the memory of every backup (or committed).
 */
interface Waiter {
  readonly connection: ConnectionId;
  readonly requestId: number;
  readonly index: LogIndex;
  readonly answer: Answer;
  readonly durability: Durability;
  /** A write, or an answer that observed the state (a read, a refusal): those need a valid lease. */
  readonly kind: 'write' | 'observation';
}

export class Replica {
  readonly id: ReplicaId;
  private readonly address: Address;
  private readonly config: ProtocolConfig;
  private readonly createStateMachine: StateMachineFactory;
  private readonly testOnlyFaults: TestOnlyFaults;
  /** The highest format level this replica reads, as it reports it. */
  readonly formatLevel: number;
  /**
   * The cluster's format level as the coordinator last said it; null until a heartbeat reply. A
   * primary logs nothing above it, nor above what it reads itself (`clusterFormatLevel`).
   */
  private coordinatorFormatLevel: number | null = null;
  /**
   * The highest format level of any entry this process's log held (recovered, appended), applied or
   * not: reported with the store's own level, so a coordinator that lost its state learns what a
   * primary may yet send before it admits a replica that reads less. Never lowered (a truncated
   * entry of level L was logged while the cluster's level was L).
   */
  private logFormatLevel = BASE_FORMAT_LEVEL;
  /** What every state machine this replica makes is told (StateMachineContext). */
  private readonly stateMachineContext: StateMachineContext;
  private readonly incarnation: number;
  private readonly directory: string;
  private readonly clock: () => number;

  private readonly log: ReplicaLog;
  private readonly readSnapshot: () => StoredSnapshot | null;
  private readonly msPerTick: number;
  private stateMachine: StateMachine;
  private sessions = new SessionTable();
  private loss = new AsyncLossRecord();
  private appliedIndex = logIndex(0);
  private durableIndex: LogIndex;
  /** The highest index known committed cluster-wide (from this primary, or told by one). */
  private commitIndex = logIndex(0);

  private view: View | null = null;
  private role: Role = 'none';
  private addresses: Readonly<Record<string, Address>> = {};
  /** Where its Redis port takes clients, once the shell started one (announceRedisAddress). */
  private announcedRedisAddress: Address | null = null;
  private now: number;
  /** Appends handed to storage and not yet reported durable: the last index of each, and when. */
  private readonly unsyncedAppends: { readonly index: LogIndex; readonly tick: number }[] = [];

  // Snapshots.
  /** The newest snapshot kept on disk; the log's base is at or below it. */
  private savedSnapshot: SnapshotInfo | null = null;
  /**
   * The snapshots the shell keeps, oldest first: the newest two, and older ones a follower is still
   * receiving (keptSnapshotsPastReceivedMax). Each with the count of snapshots kept when it was.
   */
  private keptSnapshots: { readonly info: SnapshotInfo; readonly ordinal: number }[] = [];
  /** Snapshots this process kept or installed: the ordinal of the next one. */
  private snapshotsKept = 0;
  private snapshotInProgress: SnapshotInProgress | null = null;
  /** A save asked for a kept snapshot at this index or later (0: none asked); taken then whatever the log's size. */
  private saveWantedIndex = 0;
  private logBytesSinceSnapshot = 0;
  /** No snapshot is begun before this tick, not even for a save, once one failed to be written. */
  private snapshotRetryTick = Number.NEGATIVE_INFINITY;
  /**
   * A snapshot failed to be written, or a rollback dropped it, and none was begun since: the next is
   * taken whatever the log's size.
   */
  private snapshotRetryOwed = false;
  /** Snapshot writes that failed in this process's life; a kept snapshot does not reset it. */
  private snapshotWriteFailureCount = 0;
  /** Snapshot writes that failed since the last that succeeded: each doubles the retry wait, up to a cap. */
  private snapshotFailuresInARow = 0;
  /**
   * This process takes its snapshots at two thirds to all of the threshold, by its incarnation:
   * replicas apply the same log, and with one threshold all of them rewrote a large state at the same
   * moment, on two cores stalling each other for hundreds of milliseconds. Never above the threshold,
   * so the log kept on disk stays within what operators size for.
   */
  private readonly snapshotStagger: number;
  /** The snapshot the shell is receiving for us, as it last said. */
  private transferProgress: TransferProgress | null = null;

  // Follower state.
  /** Our log matches the current primary's up to here. */
  private verifiedIndex = logIndex(0);
  private lastAckSent = logIndex(0);
  /** The highest `received` we acknowledged in this view. */
  private lastReceiptSent = logIndex(0);
  private lastSyncRequestTick = Number.NEGATIVE_INFINITY;
  /** Our clock when the primary last vouched (under its lease) for a commit index we have applied. */
  private freshTick = Number.NEGATIVE_INFINITY;
  /** Vouched commit indexes not applied yet, oldest first, with the echoed time of each. */
  private readonly pendingFreshness: { readonly tick: number; readonly commitIndex: LogIndex }[] = [];
  /** Async writes we discarded, reported to the primary until the record of them is committed. */
  private pendingLost: LostEntry[] = [];
  /**
   * Records of async losses this replica applied before they committed (a primary applies its entries
   * as it appends them), oldest first. The losses they name stay in `pendingLost`, and on disk, until
   * the record commits: a crash before its fsync, or a truncation, takes the record away, and the
   * losses must still be reported (sim seed 1001415).
   */
  private lossRecordsUncommitted: {
    readonly position: LogPosition;
    readonly entries: readonly LostEntry[];
  }[] = [];
  private lastLostReportTick = Number.NEGATIVE_INFINITY;

  // Primary state.
  private readonly followers = new Map<ReplicaId, Follower>();
  /**
   * The snapshot each replica that left the view was receiving: offered again if it comes back while
   * it is kept (a learner killed mid-transfer is out of the view when it returns), and kept for it on
   * the same terms as a follower's.
   */
  private readonly departedOffers = new Map<ReplicaId, SnapshotInfo>();
  private readonly commitWaiters: Waiter[] = [];
  private readonly durableWaiters: Waiter[] = [];
  private readonly replicatedWaiters: Waiter[] = [];
  /**
   * Durable here and in the memory of every member the primary waits for (backups, synced
   * learners): replicated writes up to here are answered. Never below the commit index.
   */
  private replicatedIndex = logIndex(0);
  /**
   * The entries that may have been acknowledged before this view (the whole log for a new primary,
   * the commit index for one that stays): on this primary's disk, and with a commit quorum at enough
   * backups of the view, before it reports itself ready to lead it (see `leadReady`).
   */
  private settleIndex = logIndex(0);
  /** A new primary's `view-start` entry, if it logged one: it commits nothing before that entry. */
  private commitFloorIndex = logIndex(0);
  /** A heartbeat saying `leadReady` left in this view. */
  private leadReadySent = false;
  private leaseExpiryTick = 0;
  /**
   * The coordinator recorded this view as acknowledged (it granted a lease in it). Only then does
   * anything commit in it: the coordinator may pass over a view it never saw acknowledged when it
   * chooses the next primary, so nothing a client was told may depend on such a view.
   */
  private viewAcknowledged = false;
  /**
   * The log's end when this replica became primary. Entries up to here may have committed in an
   * earlier view (this process may not know: commit indexes are not stored), so a learner counts
   * as synced only once it holds them all.
   */
  private viewStartIndex = logIndex(0);
  /** When each client last sent us a write or opened its session (primary only; for idle expiry). */
  private readonly sessionSeenTicks = new Map<ClientId, number>();
  /** When this replica became primary: sessions it has not seen since count as seen then. */
  private primarySinceTick = 0;
  private lastSessionSweepTick = Number.NEGATIVE_INFINITY;

  // Coordinator link.
  private heartbeatSequence = 0;
  private readonly heartbeatSentTicks = new Map<number, number>();
  private lastHeartbeatTick = Number.NEGATIVE_INFINITY;
  private lastHeardFromCoordinatorTick: number;

  private effects: ReplicaEffects = emptyReplicaEffects();
  private pendingAppends: Entry[] = [];

  /** Views this replica adopted, and how many of them named another primary than the view before. */
  viewsAdopted = 0;
  primaryChanges = 0;

  constructor(options: ReplicaOptions) {
    this.id = options.id;
    this.address = options.address;
    this.config = options.config;
    this.createStateMachine = options.createStateMachine;
    this.testOnlyFaults = options.testOnlyFaults ?? {};
    this.formatLevel = options.formatLevel ?? FORMAT_LEVEL;
    this.stateMachineContext = {
      clusterFormatLevel: () => Math.min(this.coordinatorFormatLevel ?? BASE_FORMAT_LEVEL, this.formatLevel),
      formatLevel: this.formatLevel,
    };
    this.incarnation = options.incarnation;
    this.snapshotStagger = 1 - (options.incarnation % 1024) / 3072;
    this.directory = options.directory;
    this.clock = options.clock;
    this.now = options.clock();
    this.lastHeardFromCoordinatorTick = this.now;
    this.readSnapshot = options.readSnapshot;
    this.msPerTick = options.msPerTick;
    this.stateMachine = options.createStateMachine(this.stateMachineContext);
    const { snapshot, entries, unreportedLosses } = options.recovered;
    this.log = new ReplicaLog(snapshot?.info.position ?? positionZero, entries);
    for (const entry of entries) this.noteFormatLevel(entry);
    if (snapshot !== null) {
      const restored = this.restore(snapshot.payload);
      this.log.adoptHistory(restored.epochs);
      this.appliedIndex = snapshot.info.position.index;
      // A snapshot is taken only of committed entries.
      this.commitIndex = snapshot.info.position.index;
      this.noteKept(snapshot.info);
    }
    this.durableIndex = this.log.lastIndex;
    // Reported again until they are on record: a crash between a truncation and the record no longer
    // takes them out of the count. Those the log holds again, or the record already has, are done.
    this.pendingLost = [...unreportedLosses];
    this.forgetLossesNowHeld();
    this.setPendingLost(this.pendingLost.filter((lost) => !this.loss.has(lost)));
  }

  // ---- inputs ----------------------------------------------------------------------------------

  /** A timer fired: time has passed; heartbeat, retransmit and expire what is due. */
  tick(): void {
    if (this.testOnlyFaults.countTicksNotTime === true) this.now += 1;
    else this.catchUp();
    if (this.now - this.lastHeartbeatTick >= this.config.heartbeatIntervalTicks) this.sendHeartbeat();
    if (this.role === 'primary') this.tickPrimary();
    else this.reportLost();
    this.maybeTakeSnapshot();
    this.compact();
    this.checkInvariants();
  }

  receiveFromCoordinator(message: CoordinatorToReplica): void {
    this.catchUp();
    this.lastHeardFromCoordinatorTick = this.now;
    this.addresses = message.addresses;
    // A view names the process that leads it: one chosen while an earlier process of ours was alive
    // may count on what that process held in memory, which we lost. We take such a view without a
    // role (we follow no older view from then on, and say so), and the coordinator chooses again.
    const meantForAnother =
      this.testOnlyFaults.leadViewsOfEarlierProcesses !== true &&
      message.view !== null &&
      message.view.primary === this.id &&
      message.primaryIncarnation !== null &&
      message.primaryIncarnation !== this.incarnation;
    if (message.view !== null) this.adoptView(message.view, meantForAnother);
    if (message.type === 'heartbeat_reply') this.coordinatorFormatLevel = message.formatLevel;
    if (
      message.type === 'heartbeat_reply' &&
      message.leaseTicks > 0 &&
      message.incarnation === this.incarnation
    ) {
      const sentTick = this.heartbeatSentTicks.get(message.sequence);
      const view = this.view;
      if (
        sentTick !== undefined &&
        view !== null &&
        message.view?.number === view.number &&
        view.primary === this.id
      ) {
        // Counted from when the heartbeat left, so the coordinator's own count always ends later.
        this.leaseExpiryTick = Math.max(this.leaseExpiryTick, sentTick + message.leaseTicks);
        if (!this.viewAcknowledged) {
          this.viewAcknowledged = true;
          this.advanceCommit();
          this.advanceReplicated();
        }
      }
    }
    this.checkInvariants();
  }

  receiveFromPeer(from: ReplicaId, message: PeerMessage): void {
    this.catchUp();
    // Nothing from a peer once the coordinator said the cluster logs more than we read: a primary
    // that still lists this replica (its process before a restart on an older build) could send what
    // we would stop at, before the coordinator takes it out of the view (sim seeds 1137161, 1137809).
    const aboveUs = this.coordinatorFormatLevel !== null && this.coordinatorFormatLevel > this.formatLevel;
    if (aboveUs && this.testOnlyFaults.readAboveFormatLevel !== true) return;
    switch (message.type) {
      case 'prepare':
        this.onPrepare(from, message);
        break;
      case 'prepare_ok':
        this.onPrepareOk(from, message);
        break;
      case 'sync':
        this.onSyncRequest(from, message);
        break;
      case 'snapshot_offer':
        this.onSnapshotOffer(from, message);
        break;
      case 'lost_report':
        this.onLostReport(from, message);
        break;
    }
    this.checkInvariants();
  }

  receiveRequest(connection: ConnectionId, request: ClientRequest): void {
    this.catchUp();
    this.onRequest(connection, request);
    this.checkInvariants();
  }

  /** The shell's storage has fsynced everything up to `position`. */
  durable(position: LogPosition): void {
    this.catchUp();
    // A position that is no longer in the log was truncated away after this sync began.
    if (!this.log.holds(position)) return;
    if (position.index <= this.durableIndex) return;
    this.durableIndex = position.index;
    while ((this.unsyncedAppends[0]?.index ?? Number.POSITIVE_INFINITY) <= this.durableIndex) {
      this.unsyncedAppends.shift();
    }
    if (this.role === 'primary') {
      this.releaseDurableWaiters();
      this.advanceCommit();
      this.advanceReplicated();
      // A new primary whose disk now holds all it inherited may lead: say so now, not a heartbeat later.
      if (!this.leadReadySent && this.leadReady()) this.sendHeartbeat();
    } else {
      this.acknowledge(false);
    }
    this.checkInvariants();
  }

  /** The shell wrote the snapshot asked for by a `snapshot` operation aside, durably. */
  snapshotWritten(info: SnapshotInfo): void {
    this.catchUp();
    const taking = this.snapshotInProgress;
    if (taking === null || taking.position.index !== info.position.index) return;
    taking.written = info;
    this.snapshotFailuresInARow = 0;
    this.keepSnapshotIfCommitted();
    this.checkInvariants();
  }

  /**
   * The shell could not write the snapshot asked for by a `snapshot` operation (a full or failing
   * disk; it removed what it wrote). Nothing relied on it: the log still holds every entry since the
   * last kept snapshot. The next is tried after `snapshotRetryTicks`, however little log came since,
   * twice that after two failures in a row, and so on up to `snapshotRetryWaitMaxFactor` times: on a
   * disk nearly full, each try writes the whole state until it finds no room. The saves that waited
   * for this one were refused by the shell. Answers the ticks until the next may begin.
   */
  snapshotFailed(position: LogPosition): number {
    this.catchUp();
    if (this.testOnlyFaults.ignoreFailedSnapshots === true) return 0;
    this.snapshotWriteFailureCount += 1;
    const taking = this.snapshotInProgress;
    // One a rollback dropped meanwhile is no longer waited for.
    if (taking !== null && taking.written === null && taking.position.index === position.index) {
      this.snapshotInProgress = null;
      this.snapshotRetryOwed = true;
      this.snapshotFailuresInARow += 1;
      const factor = Math.min(2 ** (this.snapshotFailuresInARow - 1), snapshotRetryWaitMaxFactor);
      this.snapshotRetryTick = this.now + this.config.snapshotRetryTicks * factor;
      this.saveWantedIndex = 0;
    }
    this.checkInvariants();
    return Math.max(0, this.snapshotRetryTick - this.now);
  }

  /** Snapshot writes that failed since this process started (a metric). */
  get snapshotWriteFailures(): number {
    return this.snapshotWriteFailureCount;
  }

  /**
   * A client asks to save a snapshot (`understudy snapshot save`). Only the primary under its lease
   * answers: its log then holds every write acknowledged until now, acknowledged async ones too, so a
   * kept snapshot at its log's end or later holds them all, and is committed. Answers that index (the
   * shell names the client the first kept snapshot to reach it) and takes such a snapshot soon if the
   * newest kept one is older; or why this replica cannot.
   */
  requestSave(): SaveAnswer {
    this.catchUp();
    const view = this.view;
    const leased = this.leaseValid() || this.testOnlyFaults.saveWithoutLease === true;
    if (this.role !== 'primary' || view === null || !leased) {
      const primary = view !== null && view.primary !== this.id ? view.primary : null;
      const why = this.role === 'primary' ? 'holds no lease' : 'is not the primary';
      return { ok: false, code: ErrorCode.notPrimary, message: `replica ${this.id} ${why}`, primary };
    }
    const index = this.appliedIndex;
    if (index === 0) {
      return {
        ok: false,
        code: ErrorCode.badRequest,
        message: 'the cluster holds nothing yet',
        primary: null,
      };
    }
    this.saveWantedIndex = Math.max(this.saveWantedIndex, index);
    this.maybeTakeSnapshot();
    return { ok: true, index: logIndex(index) };
  }

  /** The shell made the snapshot of a `keep-snapshot` operation the newest kept one. */
  snapshotKept(position: LogPosition): void {
    this.catchUp();
    const taking = this.snapshotInProgress;
    if (taking === null || taking.written === null || taking.position.index !== position.index) return;
    this.noteKept(taking.written, taking.retained);
    this.snapshotInProgress = null;
    // Durable in the snapshot even if the log has not synced its entries yet.
    this.raiseDurableIndex(position.index);
    this.compact();
    this.checkInvariants();
  }

  /**
   * The shell received a snapshot this replica was offered and kept it on disk: adopt it as the
   * state. A committed position holds the same state everywhere, so this is safe in any view; the
   * log keeps what follows the snapshot if it continues it, and is dropped otherwise.
   */
  installSnapshot(snapshot: StoredSnapshot): void {
    this.catchUp();
    const position = snapshot.info.position;
    // Compared with the commit index, not the applied one: a deposed primary applied entries that
    // never committed, and may need a snapshot below them (sim seed 167 looped on that for ever).
    if (this.role === 'primary' || position.index <= this.commitIndex) return;
    const continues = this.log.holds(position) && position.index <= this.log.lastIndex;
    const restored = decodeSnapshotPayload(snapshot.payload);
    if (continues) {
      this.flushAppends();
      this.log.compactThrough(position);
      this.effects.storage.push({ kind: 'compact', throughIndex: position.index });
    } else {
      this.flushAppends();
      const discarded = this.log.slice(
        logIndex(Math.max(this.commitIndex, this.log.base.index) + 1),
        this.log.lastIndex,
      );
      this.unsyncedAppends.length = 0;
      this.log.resetTo(position, restored.epochs);
      // Async writes of the dropped log beyond what committed may be lost, as with a truncation (sim
      // seed 355). The session table cannot tell which of them ran (a client moves on after an async
      // acknowledgement, so its session shows later requests either way); the snapshot's epochs can:
      // one it covers with the same view is in it. Those past it are settled with the primary's log.
      // Noted before the reset, which must not reach the disk first.
      this.noteLostAsyncWrites(discarded);
      this.effects.storage.push({ kind: 'reset', position });
      this.durableIndex = position.index;
      this.lastAckSent = logIndex(Math.min(this.lastAckSent, position.index));
      this.lastReceiptSent = logIndex(Math.min(this.lastReceiptSent, position.index));
    }
    this.adopt(restored);
    this.appliedIndex = position.index;
    this.raiseDurableIndex(position.index);
    if (position.index > this.commitIndex) this.commitIndex = position.index;
    // The state is the snapshot's, all committed: its record is the one that counts.
    this.lossRecordsUncommitted = [];
    this.forgetLossesOnRecord();
    // Every primary holds every committed entry, so ours matches it up to here.
    if (position.index > this.verifiedIndex) this.verifiedIndex = position.index;
    this.noteKept(snapshot.info);
    this.snapshotInProgress = null;
    this.transferProgress = null;
    this.logBytesSinceSnapshot = 0;
    this.lastSyncRequestTick = Number.NEGATIVE_INFINITY;
    this.requestSync();
    this.checkInvariants();
  }

  /** The shell's word on the snapshot it is receiving for this replica (shown in status), or null. */
  setTransferProgress(progress: TransferProgress | null): void {
    this.transferProgress = progress;
  }

  /** Drains what the shell must do now. */
  takeEffects(): ReplicaEffects {
    if (this.role === 'primary') this.sendToFollowers();
    this.flushAppends();
    const effects = this.effects;
    this.effects = emptyReplicaEffects();
    return effects;
  }

  // ---- time ------------------------------------------------------------------------------------

  private catchUp(): void {
    if (this.testOnlyFaults.countTicksNotTime === true) return;
    const now = this.clock();
    if (now <= this.now) return;
    const jump = now - this.now;
    this.now = now;
    if (jump >= this.config.stallTicksMin) {
      // We stalled: the followers' silence was ours. Liveness timers move on; leases never do.
      for (const follower of this.followers.values()) {
        follower.lastAckTick += jump;
        follower.lastProgressTick += jump;
      }
    }
  }

  // ---- views and roles -------------------------------------------------------------------------

  private adoptView(view: View, meantForAnother = false): void {
    if (this.view !== null && view.number <= this.view.number) return;
    // A view older than our own entries comes from a coordinator that lost its state: never follow it.
    if (view.number < this.log.lastPosition.view) return;
    const previousRole = this.role;
    this.viewsAdopted += 1;
    if (this.view !== null && this.view.primary !== view.primary) this.primaryChanges += 1;
    this.view = view;
    this.viewAcknowledged = false;
    this.leadReadySent = false;
    this.role = meantForAnother ? 'none' : roleIn(view, this.id);
    if (this.role === 'primary') {
      if (previousRole === 'primary') this.keepPrimary(view);
      else this.becomePrimary(view);
    } else {
      if (previousRole === 'primary') this.stepDown();
      this.becomeFollower();
    }
  }

  private becomePrimary(view: View): void {
    // Entries beyond the old commit index become committed in this view once every backup has
    // them, so the primary's state includes its whole log.
    this.applyUpTo(this.log.lastIndex);
    this.viewStartIndex = this.log.lastIndex;
    // We do not know what committed before: all of our log may have.
    this.settleIndex = this.log.lastIndex;
    this.replicatedIndex = this.commitIndex;
    this.primarySinceTick = this.now;
    this.sessionSeenTicks.clear();
    if (this.testOnlyFaults.forgetSessionsOnPromotion === true) {
      // Every session stays open but forgets its last request, so a retry runs again.
      this.sessions = SessionTable.from(
        [...this.sessions.entries()].map(([id, session]) => [id, { ...session, requestNumber: 0 }] as const),
      );
    }
    this.followers.clear();
    this.departedOffers.clear();
    for (const id of [...view.backups, ...view.learners]) this.followers.set(id, this.newFollower());
    this.leaseExpiryTick = 0;
    // Entries we inherited that may not have committed commit only with an entry of this view (see
    // system-entries.ts): nothing before it counts as committed in this view.
    this.commitFloorIndex = logIndex(0);
    if (this.log.lastIndex > this.commitIndex) {
      this.appendSystemEntry({ kind: 'view-start' });
      this.commitFloorIndex = this.log.lastIndex;
    }
    this.sendHeartbeat();
    this.sendFollowerHeartbeats(true);
  }

  /**
   * A new view with this replica still primary: keep what it knows of continuing backups. Learners
   * start over: a learner must prove in each view that it holds everything, because the coordinator
   * acts only on reports of the current view, and a learner may have restarted or been wiped since.
   */
  private keepPrimary(view: View): void {
    // What committed so far is on enough backups of the old view; the new one may have fewer of them.
    // And what this primary inherited may have committed before it, until it commits it itself: a
    // primary never ready to lead the old view (its backups never held that) owes it in this one too
    // (sim seed 2066: lowered to the commit index, the view was acknowledged on a backup that lacked
    // committed entries, and that backup was promoted).
    this.settleIndex =
      this.testOnlyFaults.settleOnlyCommitsWhenKept === true
        ? this.commitIndex
        : logIndex(Math.max(this.settleIndex, this.commitIndex));
    const members = new Set([...view.backups, ...view.learners]);
    for (const [id, follower] of this.followers) {
      if (members.has(id)) continue;
      if (follower.transferIndex >= 0 && follower.offered !== null)
        this.departedOffers.set(id, follower.offered);
      this.followers.delete(id);
    }
    for (const id of members) {
      const follower = this.followers.get(id);
      const forget = view.learners.includes(id) && this.testOnlyFaults.actOnReportsOfAnyView !== true;
      if (follower === undefined || forget) {
        const fresh = this.newFollower();
        // Its reports are forgotten, not the snapshot we offered it: a transfer under way goes on
        // (and keeps it kept) in the new view, instead of starting over at a newer snapshot.
        const offered =
          follower !== undefined && follower.transferIndex >= 0
            ? follower.offered
            : this.departedOffers.get(id);
        this.departedOffers.delete(id);
        if (offered !== undefined && offered !== null) {
          fresh.offered = offered;
          fresh.transferIndex = offered.position.index;
        }
        this.followers.set(id, fresh);
        continue;
      }
      if (view.backups.includes(id) || this.testOnlyFaults.actOnReportsOfAnyView !== true)
        follower.synced = false;
      // Prepares in flight carry the old view number and will be refused: send them again.
      follower.nextIndex = logIndex(follower.matchIndex + 1);
      follower.receivedIndex = follower.matchIndex;
    }
    this.sendHeartbeat();
  }

  private stepDown(): void {
    this.departedOffers.clear();
    for (const waiter of [...this.commitWaiters, ...this.durableWaiters, ...this.replicatedWaiters]) {
      this.replyFailure(waiter.connection, waiter.requestId, ErrorCode.notPrimary, 'primary changed');
    }
    this.commitWaiters.length = 0;
    this.durableWaiters.length = 0;
    this.replicatedWaiters.length = 0;
    this.followers.clear();
    this.leaseExpiryTick = 0;
  }

  private becomeFollower(): void {
    this.verifiedIndex = logIndex(0);
    this.lastAckSent = logIndex(0);
    this.lastReceiptSent = logIndex(0);
    this.lastSyncRequestTick = Number.NEGATIVE_INFINITY;
    // Freshness vouched for by the old view's primary says nothing of the new one's.
    this.freshTick = Number.NEGATIVE_INFINITY;
    this.pendingFreshness.length = 0;
    // Tell the primary where our log stands, so it resends from the point where we diverge.
    if (this.role !== 'none') this.requestSync();
  }

  private newFollower(): Follower {
    return {
      matchIndex: logIndex(0),
      receivedIndex: logIndex(0),
      syncMatch: logIndex(0),
      nextIndex: logIndex(this.log.lastIndex + 1),
      confirmed: false,
      synced: false,
      lastAckTick: this.now,
      lastProgressTick: this.now,
      lastHeartbeatTick: Number.NEGATIVE_INFINITY,
      lastEcho: -1,
      transferIndex: -1,
      offered: null,
      readsFormatLevel: null,
    };
  }

  // ---- client requests (primary) ---------------------------------------------------------------

  private onRequest(connection: ConnectionId, request: ClientRequest): void {
    const view = this.view;
    if (request.kind === 'read' && request.staleness !== null && this.role !== 'primary') {
      this.onBoundedRead(connection, request);
      return;
    }
    if (request.kind !== 'read' && request.clientId === systemClientId) {
      this.replyFailure(connection, request.id, ErrorCode.badRequest, 'a client id must not be empty');
      return;
    }
    if (this.role !== 'primary' || view === null) {
      const primary = view !== null && view.primary !== this.id ? view.primary : null;
      this.effects.replies.push({
        connection,
        reply: {
          type: 'reply',
          id: request.id,
          ok: false,
          code: ErrorCode.notPrimary,
          message: `replica ${this.id} is not the primary`,
          primary,
        },
      });
      return;
    }
    if (!this.leaseValid()) {
      this.replyFailure(connection, request.id, ErrorCode.notPrimary, `replica ${this.id} holds no lease`);
      return;
    }
    if (this.waitingRequests >= this.config.pendingRequestsMax) {
      this.replyFailure(
        connection,
        request.id,
        ErrorCode.overloaded,
        'too many requests waiting; retry later',
      );
      return;
    }
    switch (request.kind) {
      case 'read':
        this.onRead(connection, request);
        break;
      case 'write':
        this.onWrite(connection, request);
        break;
      case 'open-session':
        this.onOpenSession(connection, request);
        break;
      case 'request-status':
        this.onRequestStatus(connection, request);
        break;
    }
  }

  /**
   * A read any member may answer, at a backup: only if the primary vouched, under its lease, for a
   * commit index we have applied no longer ago than the bound (so every write acknowledged before
   * then is in our state), and we have applied the client's `minIndex`. Otherwise STALE: the client
   * asks another member.
   */
  private onBoundedRead(connection: ConnectionId, request: ClientRequest): void {
    const bound = request.staleness;
    const view = this.view;
    assert(bound !== null, 'a bounded read has a bound');
    const stale = (why: string) => this.replyFailure(connection, request.id, ErrorCode.stale, why);
    if (view === null || this.role !== 'backup') {
      stale(`replica ${this.id} is not a backup (${this.role}); it serves no reads`);
      return;
    }
    if (this.appliedIndex < bound.minIndex) {
      stale(
        `replica ${this.id} has applied up to index ${this.appliedIndex}, below the asked ${bound.minIndex}`,
      );
      return;
    }
    const ageTicks = this.now - this.freshTick;
    if (
      ageTicks * this.msPerTick > bound.maxStalenessMs &&
      this.testOnlyFaults.ignoreStalenessBound !== true
    ) {
      const age = Number.isFinite(ageTicks) ? `${Math.round(ageTicks * this.msPerTick)} ms` : 'ever';
      stale(
        `replica ${this.id} last heard the primary's commit ${age} ago; the bound is ${bound.maxStalenessMs} ms`,
      );
      return;
    }
    let result: Uint8Array;
    try {
      result = this.stateMachine.query(request.operation);
    } catch (error) {
      const why = refusal(error);
      this.replyFailure(connection, request.id, why.code, why.message);
      return;
    }
    this.effects.replies.push({
      connection,
      reply: {
        type: 'reply',
        id: request.id,
        ok: true,
        result,
        view: view.number,
        index: this.appliedIndex,
        durability: 'sync',
        replicas: [this.id],
      },
    });
  }

  /** Opens the client's session with a logged entry; an open session is answered as it is. */
  private onOpenSession(connection: ConnectionId, request: ClientRequest): void {
    this.sessionSeenTicks.set(request.clientId, this.now);
    const session = this.sessions.get(request.clientId);
    if (session !== undefined) {
      const answer: Answer = { ok: true, result: noUpdate };
      this.enqueue(this.waiter(connection, request, session.index, answer, 'sync', 'observation'));
      return;
    }
    const entry = this.appendOwnEntry(request.clientId, 0, request.durability, noUpdate);
    this.enqueue(this.waiter(connection, request, entry.index, answerOf(entry), request.durability, 'write'));
  }

  /**
   * Was write `requestNumber` of the client executed, and what did it answer? One that has not run
   * is cancelled by a logged refusal, so it can never run later and the answer stays true.
   */
  private onRequestStatus(connection: ConnectionId, request: ClientRequest): void {
    const session = this.sessions.get(request.clientId);
    const observe = (answer: Answer, index: LogIndex) =>
      this.enqueue(this.waiter(connection, request, index, answer, 'sync', 'observation'));
    if (session === undefined) {
      observe(sessionExpired(request), this.log.lastIndex);
    } else if (request.requestNumber === session.requestNumber) {
      observe(answerOf(session), session.index);
    } else if (request.requestNumber < session.requestNumber || request.requestNumber < 1) {
      observe(
        {
          ok: false,
          code: ErrorCode.resultForgotten,
          message: `the session of ${request.clientId} moved on to request ${session.requestNumber}: request ${request.requestNumber} will never run now, and whether it ran is no longer known`,
        },
        this.log.lastIndex,
      );
    } else {
      const cancelled = encodeRefusal({
        code: ErrorCode.requestCancelled,
        message: `request ${request.requestNumber} of ${request.clientId} never ran; it is cancelled and will never run`,
      });
      const entry = this.appendClientEntry(request.clientId, request.requestNumber, 'sync', {
        refused: true,
        update: noUpdate,
        result: cancelled,
      });
      observe(answerOf(entry), entry.index);
    }
  }

  private onRead(connection: ConnectionId, request: ClientRequest): void {
    let answer: Answer;
    try {
      answer = { ok: true, result: this.stateMachine.query(request.operation) };
    } catch (error) {
      // A refused read observed the state as much as an answered one.
      answer = { ok: false, ...refusal(error) };
    }
    // The state read includes every entry in the log, so the answer waits until they all commit.
    this.enqueue(this.waiter(connection, request, this.log.lastIndex, answer, 'sync', 'observation'));
  }

  private onWrite(connection: ConnectionId, request: ClientRequest): void {
    if (request.requestNumber < 1) {
      this.replyFailure(connection, request.id, ErrorCode.badRequest, 'a write needs a request number ≥ 1');
      return;
    }
    this.sessionSeenTicks.set(request.clientId, this.now);
    const session = this.sessions.get(request.clientId);
    if (session === undefined) {
      // Never a silent re-execution: this request may have run before the session expired.
      const answer = sessionExpired(request);
      this.enqueue(this.waiter(connection, request, this.log.lastIndex, answer, 'sync', 'observation'));
      return;
    }
    if (request.requestNumber < session.requestNumber) {
      // The session may come from an entry that has not committed: this refusal observes the state.
      const answer: Answer = {
        ok: false,
        code: ErrorCode.requestTooOld,
        message: `request ${request.requestNumber} of ${request.clientId} is older than its last (${session.requestNumber})`,
      };
      this.enqueue(this.waiter(connection, request, this.log.lastIndex, answer, 'sync', 'observation'));
      return;
    }
    if (request.requestNumber === session.requestNumber) {
      // A retry of a request already executed or refused: answer what it got, never run it again.
      const answer = answerOf(session);
      this.enqueue(this.waiter(connection, request, session.index, answer, request.durability, 'write'));
      return;
    }
    const outcome = this.execute(request.operation);
    const entry = this.appendClientEntry(
      request.clientId,
      request.requestNumber,
      request.durability,
      outcome,
    );
    this.enqueue(this.waiter(connection, request, entry.index, answerOf(entry), request.durability, 'write'));
  }

  /** Appends and applies an entry of the primary's own (the session opens and system entries). */
  private appendOwnEntry(
    client: ClientId,
    requestNumber: number,
    durability: Durability,
    update: Uint8Array,
  ): Entry {
    return this.appendClientEntry(client, requestNumber, durability, {
      refused: false,
      update,
      result: noUpdate,
    });
  }

  private appendClientEntry(
    client: ClientId,
    requestNumber: number,
    durability: Durability,
    outcome: Pick<Entry, 'refused' | 'update' | 'result'>,
  ): Entry {
    const view = this.view;
    assert(view !== null, 'a primary has a view');
    const entry: Entry = {
      view: view.number,
      index: logIndex(this.log.lastIndex + 1),
      clientId: client,
      requestNumber,
      durability,
      // Fields by name: an object spread costs microseconds a write.
      refused: outcome.refused,
      update: outcome.update,
      result: outcome.result,
    };
    this.appendEntry(entry);
    this.applyEntry(entry);
    return entry;
  }

  private appendSystemEntry(operation: SystemOperation): void {
    this.appendOwnEntry(systemClientId, 0, 'sync', encodeSystemOperation(operation));
  }

  /**
   * Runs a write on the state machine. A refusal — the service's, or an entry too large to ever
   * replicate — is logged like a write, with no update: the session then answers every retry with the
   * same refusal, and it is ordered and committed like any write, so it observed a committed state.
   */
  private execute(operation: Uint8Array): Pick<Entry, 'refused' | 'update' | 'result'> {
    const refused = (why: Refusal) => ({ refused: true, update: noUpdate, result: encodeRefusal(why) });
    let execution: { result: Uint8Array; update: Uint8Array };
    try {
      execution = this.stateMachine.execute(operation);
    } catch (error) {
      return refused(refusal(error));
    }
    const entryBytes = execution.update.length + execution.result.length;
    if (entryBytes > this.config.prepareBytesMax) {
      return refused({
        code: ErrorCode.entryTooLarge,
        message: `the write's update and result take ${entryBytes} bytes; a log entry holds at most ${this.config.prepareBytesMax}`,
      });
    }
    return { refused: false, update: execution.update, result: execution.result };
  }

  private waiter(
    connection: ConnectionId,
    request: ClientRequest,
    index: LogIndex,
    answer: Answer,
    durability: Durability,
    kind: Waiter['kind'],
  ): Waiter {
    return { connection, requestId: request.id, index, answer, durability, kind };
  }

  private enqueue(waiter: Waiter): void {
    if (this.testOnlyFaults.answerRefusalsAtOnce === true && !waiter.answer.ok) {
      this.replyFailure(waiter.connection, waiter.requestId, waiter.answer.code, waiter.answer.message);
      return;
    }
    if (waiter.durability === 'async') {
      if (this.durableIndex >= waiter.index) this.answer(waiter);
      else insertByIndex(this.durableWaiters, waiter);
    } else if (waiter.durability === 'replicated' && waiter.kind === 'write') {
      if (this.replicatedIndex >= waiter.index) this.answer(waiter);
      else insertByIndex(this.replicatedWaiters, waiter);
    } else if (this.commitIndex >= waiter.index) {
      this.answer(waiter);
    } else {
      insertByIndex(this.commitWaiters, waiter);
    }
  }

  /**
   * Answers a waiter whose entry committed (or is durable here, for async writes). Everything but a
   * sync write needs a valid lease at this moment: a deposed primary's state may be older than a
   * write the new primary acknowledged, and its async acknowledgement would be a promise it cannot keep.
   */
  private answer(waiter: Waiter, quorum: readonly ReplicaId[] = this.quorum()): void {
    const needsLease = waiter.kind === 'observation' || waiter.durability === 'async';
    if (needsLease && !this.leaseValid()) {
      this.replyFailure(
        waiter.connection,
        waiter.requestId,
        ErrorCode.notPrimary,
        'the lease ran out; retry',
      );
      return;
    }
    if (waiter.answer.ok) this.replySuccess(waiter, waiter.answer.result, quorum);
    else this.replyFailure(waiter.connection, waiter.requestId, waiter.answer.code, waiter.answer.message);
  }

  /** Answers `waiters` in order, with the quorum computed once for all of them. */
  private answerAll(waiters: readonly Waiter[]): void {
    if (waiters.length === 0) return;
    const quorum = this.quorum();
    for (const waiter of waiters) this.answer(waiter, quorum);
  }

  // ---- replication (primary) -------------------------------------------------------------------

  private tickPrimary(): void {
    if (!this.leaseValid()) this.failWaitingObservations();
    this.expireSessions();
    this.logServiceUpdate();
    this.recordOwnLosses();
    this.sendFollowerHeartbeats(false);
    for (const follower of this.followers.values()) {
      const unacknowledged = follower.nextIndex - 1 > follower.matchIndex;
      if (unacknowledged && this.now - follower.lastProgressTick >= this.config.retransmitTicks) {
        // Go back to what it surely has; duplicates are skipped on its side.
        follower.nextIndex = logIndex(follower.matchIndex + 1);
        follower.lastProgressTick = this.now;
      }
    }
  }

  private sendFollowerHeartbeats(force: boolean): void {
    const view = this.view;
    assert(view !== null, 'a primary has a view');
    for (const [id, follower] of this.followers) {
      if (!force && this.now - follower.lastHeartbeatTick < this.config.followerHeartbeatTicks) continue;
      follower.lastHeartbeatTick = this.now;
      const served = follower.confirmed && !this.readsTooLittle(follower);
      if (served && this.needsSnapshot(follower)) {
        this.offerSnapshot(id, follower);
        continue;
      }
      // An unconfirmed follower is probed at our last entry: a mismatch makes it send its log's shape.
      // So is one that reads too little, so that its next process, on a newer build, says what it reads.
      const previousIndex = served ? follower.matchIndex : this.log.lastIndex;
      this.sendPrepare(id, view.number, previousIndex, []);
    }
  }

  /** The follower needs entries we no longer hold: they are in our snapshot. */
  private needsSnapshot(follower: Follower): boolean {
    return follower.nextIndex <= this.log.base.index;
  }

  /**
   * The follower's process reads less than what we may send it: our snapshot and log hold, and what
   * the cluster's level lets us log. It gets nothing it would stop at (sim seed 1269394: a replica
   * restarted on an older build, still listed in the view, was sent a snapshot of format 5); the
   * coordinator takes it out of the view once it hears the level it reads.
   */
  private readsTooLittle(follower: Follower): boolean {
    if (this.testOnlyFaults.readAboveFormatLevel === true) return false;
    if (follower.readsFormatLevel === null) return false;
    const sent = Math.max(this.coordinatorFormatLevel ?? BASE_FORMAT_LEVEL, this.formatLevelHeld());
    return follower.readsFormatLevel < sent;
  }

  private offerSnapshot(to: ReplicaId, follower: Follower): void {
    if (this.readsTooLittle(follower)) return;
    const view = this.view;
    const newest = this.savedSnapshot;
    assert(view !== null, 'a primary has a view');
    assert(newest !== null, 'a log with a base has a snapshot');
    // Keep offering the snapshot a follower may be fetching while the shell still keeps it (the two
    // newest, or one kept on for it: snapshotsBeingReceived), and the log after it: offering each
    // newer one in turn, and trimming the log to it, left a learner whose transfers outlast the gap
    // between snapshots behind for ever (chaos seed 1).
    const offered = follower.offered;
    const stillKept = offered !== null && this.keptSnapshots.some((kept) => sameSnapshot(kept.info, offered));
    const snapshot = stillKept && offered.position.index >= this.log.base.index ? offered : newest;
    follower.offered = snapshot;
    follower.transferIndex = snapshot.position.index;
    const offer: SnapshotOffer = { type: 'snapshot_offer', view: view.number, snapshot };
    this.effects.peerMessages.push({ to, message: offer });
  }

  private sendToFollowers(): void {
    const view = this.view;
    assert(view !== null, 'a primary has a view');
    // Followers that are level get the same batch, one array: the shell then encodes it once.
    let batch: Entry[] = [];
    let batchStart = 0;
    let batchRoom = 0;
    for (const [id, follower] of this.followers) {
      if (this.needsSnapshot(follower) || this.readsTooLittle(follower)) continue;
      while (follower.nextIndex <= this.log.lastIndex) {
        const inFlight = follower.nextIndex - 1 - follower.matchIndex;
        if (inFlight >= this.config.inFlightEntriesMax) break;
        const room = Math.min(this.config.prepareEntriesMax, this.config.inFlightEntriesMax - inFlight);
        if (batchStart !== follower.nextIndex || batchRoom !== room) {
          batch = this.batchFrom(follower.nextIndex, room);
          batchStart = follower.nextIndex;
          batchRoom = room;
        }
        this.sendPrepare(id, view.number, follower.nextIndex - 1, batch);
        follower.nextIndex = logIndex(follower.nextIndex + batch.length);
        follower.lastHeartbeatTick = this.now;
      }
    }
  }

  private batchFrom(fromIndex: LogIndex, countMax: number): Entry[] {
    const entries: Entry[] = [];
    let bytes = 0;
    for (let index = fromIndex; index <= this.log.lastIndex && entries.length < countMax; index++) {
      const entry = this.log.entryAt(logIndex(index));
      bytes += entry.update.length + entry.result.length;
      if (entries.length > 0 && bytes > this.config.prepareBytesMax) break;
      entries.push(entry);
    }
    return entries;
  }

  private sendPrepare(to: ReplicaId, view: View['number'], previousIndex: number, entries: Entry[]): void {
    // Below our base the entry's view is unknown; the base stands for it (both are committed).
    const previous =
      previousIndex < this.log.base.index ? this.log.base : this.log.positionAt(logIndex(previousIndex));
    const prepare: Prepare = {
      type: 'prepare',
      view,
      previous,
      entries,
      commitIndex: this.commitIndex,
      // Vouching for freshness needs the lease (without it another primary may be committing), and a
      // commit index past what earlier views may have committed (until then it covers not all of it).
      echo:
        this.leaseValid() && this.commitIndex >= this.viewStartIndex
          ? (this.followers.get(to)?.lastEcho ?? -1)
          : -1,
    };
    this.effects.peerMessages.push({ to, message: prepare });
  }

  private onPrepareOk(from: ReplicaId, message: PrepareOk): void {
    const follower = this.followers.get(from);
    if (this.role !== 'primary' || this.view?.number !== message.view || follower === undefined) return;
    if (message.index > this.log.lastIndex) return; // cannot hold what was never sent: ignore
    follower.confirmed = true;
    follower.lastAckTick = this.now;
    follower.lastEcho = Math.max(follower.lastEcho, message.time);
    if (message.index > follower.matchIndex) {
      follower.matchIndex = message.index;
      follower.lastProgressTick = this.now;
    }
    // What it holds in memory; never below what it holds on disk. Beyond our log it cannot be.
    const received = Math.min(Math.max(message.received, message.index), this.log.lastIndex);
    if (received > follower.receivedIndex) follower.receivedIndex = logIndex(received);
    if (follower.receivedIndex < follower.matchIndex) follower.receivedIndex = follower.matchIndex;
    if (follower.nextIndex <= follower.matchIndex) follower.nextIndex = logIndex(follower.matchIndex + 1);
    const isLearner = this.view.learners.includes(from);
    const holdsEveryCommitted =
      follower.matchIndex >= Math.max(this.commitIndex, this.viewStartIndex) &&
      follower.receivedIndex >= this.replicatedIndex;
    const caughtUp = isLearner && !follower.synced && holdsEveryCommitted;
    // From here on this learner holds every committed entry and every acknowledged replicated write,
    // because commit and replicated acknowledgements wait for it too.
    if (caughtUp) follower.synced = true;
    this.advanceCommit();
    this.advanceReplicated();
    // The coordinator makes a caught-up learner a backup on our word: say it now, not a heartbeat later.
    if (caughtUp || (!this.leadReadySent && this.leadReady())) this.sendHeartbeat();
  }

  private onSyncRequest(from: ReplicaId, message: SyncRequest): void {
    const follower = this.followers.get(from);
    if (this.role !== 'primary' || this.view?.number !== message.view || follower === undefined) return;
    const match = this.log.matchPoint(message.base, message.epochs, message.lastIndex);
    if (match < follower.matchIndex) {
      // Its log is shorter than what it acknowledged: it was wiped or replaced. Its old acks no
      // longer count. A synced learner stays waited for: the coordinator may already be acting on
      // the report that it was synced, so commit must not go on without it (the new view the
      // coordinator installs when it sees the new directory starts it over as a learner).
      follower.matchIndex = match;
    }
    // Whatever it held in memory beyond the match point, it holds no more (it restarted).
    if (match < follower.receivedIndex)
      follower.receivedIndex = logIndex(Math.max(match, follower.matchIndex));
    follower.confirmed = true;
    follower.syncMatch = match;
    follower.nextIndex = logIndex(match + 1);
    follower.lastProgressTick = this.now;
    follower.readsFormatLevel = message.formatLevel;
    if (this.needsSnapshot(follower)) {
      this.offerSnapshot(from, follower);
      return;
    }
    follower.transferIndex = -1;
    if (match === this.log.lastIndex) this.sendPrepare(from, this.view.number, match, []);
  }

  /** A follower reports async writes it discarded: record those not on record yet. */
  private onLostReport(from: ReplicaId, message: LostReport): void {
    if (this.role !== 'primary' || this.view?.number !== message.view || !this.followers.has(from)) return;
    if (!this.leaseValid()) return; // it repeats the report
    // An entry our log has (same index, same view) is not lost: the reporter gets it back from us.
    const fresh = message.entries.filter(
      (lost, position) =>
        !this.loss.has(lost) &&
        this.log.viewOf(lost.index) !== lost.view &&
        message.entries.findIndex((other) => samePosition(other, lost)) === position,
    );
    if (fresh.length > 0) this.appendSystemEntry({ kind: 'async-lost', entries: fresh });
  }

  /**
   * Losses this replica noted as a follower and had not yet seen recorded: now that it leads, it
   * records them itself (sim seed 1622: they were forgotten once it became primary).
   */
  private recordOwnLosses(): void {
    if (this.pendingLost.length === 0 || !this.leaseValid() || !this.viewAcknowledged) return;
    this.forgetLossesNowHeld();
    const fresh = this.pendingLost.filter((lost) => !this.loss.has(lost)).slice(0, 1024);
    if (fresh.length > 0) this.appendSystemEntry({ kind: 'async-lost', entries: fresh });
    else this.forgetLossesOnRecord();
  }

  /**
   * Drops the noted losses the loss record holds in committed entries. One recorded only by an entry
   * not yet committed stays noted until that entry commits (`settleLossRecords`).
   */
  private forgetLossesOnRecord(): void {
    this.setPendingLost(
      this.pendingLost.filter((lost) => !this.loss.has(lost) || this.recordUncommitted(lost)),
    );
  }

  private recordUncommitted(lost: LostEntry): boolean {
    return this.lossRecordsUncommitted.some((record) =>
      record.entries.some((entry) => samePosition(entry, lost)),
    );
  }

  /** Losses whose record has committed (and is the entry our log holds there) leave `pendingLost`. */
  private settleLossRecords(): void {
    for (;;) {
      const record = this.lossRecordsUncommitted[0];
      if (record === undefined || record.position.index > this.commitIndex) return;
      this.lossRecordsUncommitted.shift();
      if (this.log.viewOf(record.position.index) === record.position.view)
        this.forgetRecorded(record.entries);
    }
  }

  private forgetRecorded(recorded: readonly LostEntry[]): void {
    this.setPendingLost(
      this.pendingLost.filter((lost) => !recorded.some((entry) => samePosition(entry, lost))),
    );
  }

  /**
   * Expires sessions idle for longer than the limit (by our clock; a session not seen since we became
   * primary counts from then) and, beyond the count limit, the least recently active. A logged entry
   * decides it, so every replica expires the same ones.
   */
  private expireSessions(): void {
    const sweepTicks = Math.max(1, Math.floor(this.config.sessionIdleTicks / 10));
    if (this.now - this.lastSessionSweepTick < Math.min(sweepTicks, 100) || !this.leaseValid()) return;
    this.lastSessionSweepTick = this.now;
    const expired: ClientId[] = [];
    let excess = this.sessions.size - this.config.sessionsMax;
    for (const [id] of this.sessions.entries()) {
      if (expired.length >= expireBatchMax) break;
      const seen = Math.max(this.sessionSeenTicks.get(id) ?? this.primarySinceTick, this.primarySinceTick);
      const idle = this.now - seen >= this.config.sessionIdleTicks;
      if (!idle && excess <= 0) break; // least recently active first: the rest are newer
      expired.push(id);
      excess -= 1;
    }
    if (expired.length === 0) return;
    for (const id of expired) this.sessionSeenTicks.delete(id);
    this.appendSystemEntry({ kind: 'expire-sessions', clients: expired });
  }

  /** Logs what the service changes by itself as time passes (keys whose time to live ran out). */
  private logServiceUpdate(): void {
    if (!this.leaseValid() || this.stateMachine.dueUpdate === undefined) return;
    const update = this.stateMachine.dueUpdate(this.config.prepareBytesMax - serviceUpdateOverheadBytes);
    if (update !== null) this.appendSystemEntry({ kind: 'service-update', update });
  }

  /** The members every entry must reach: the backups, and the learners that hold everything. */
  private quorum(): ReplicaId[] {
    const view = this.view;
    assert(view !== null, 'a primary has a view');
    const synced = view.learners.filter((id) => this.followers.get(id)?.synced === true);
    const backups =
      this.testOnlyFaults.commitWithoutLastBackup === true ? view.backups.slice(0, -1) : view.backups;
    return [...backups, ...synced];
  }

  /**
   * The highest index on disk at enough members for a commit. Without a commit quorum, every member of
   * the quorum. With one (`syncQuorum` k), k backups of the view: a learner then need not hold what
   * commits (the view that makes it a backup is led only once enough of its backups hold everything,
   * see `leadReady`), and the coordinator promotes only on enough backups' reports.
   */
  private durableAtQuorum(): number {
    const view = this.view;
    assert(view !== null, 'a primary has a view');
    const matchOf = (id: ReplicaId): number => this.followers.get(id)?.matchIndex ?? 0;
    if (!quorumConfigured(this.config)) {
      let durable: number = this.durableIndex;
      for (const id of this.quorum()) durable = Math.min(durable, matchOf(id));
      return durable;
    }
    const required = commitQuorumOf(this.config, view.backups.length);
    if (required === 0) return this.durableIndex;
    const matches = view.backups.map(matchOf).sort((a, b) => b - a);
    return Math.min(this.durableIndex, matches[required - 1] ?? 0);
  }

  /**
   * Commit = durable here and at the quorum, in an acknowledged view. Called on every fsync, ack and
   * first lease of a view: so a primary alone in its view (the lone survivor of a total crash) commits
   * what it inherited as soon as its view is acknowledged.
   */
  private advanceCommit(): void {
    if (!this.viewAcknowledged && this.testOnlyFaults.actOnReportsOfAnyView !== true) return;
    const candidate = this.durableAtQuorum();
    if (candidate <= this.commitIndex || candidate < this.commitFloorIndex) return;
    this.commitIndex = logIndex(candidate);
    this.settleLossRecords();
    this.answerAll(takeUpTo(this.commitWaiters, this.commitIndex));
    this.keepSnapshotIfCommitted();
    this.advanceReplicated();
  }

  /**
   * Replicated writes are answered once durable here and in the memory of every member of the quorum
   * (or committed), in an acknowledged view: the coordinator passes over a view it never saw
   * acknowledged, and a backup that restarted since is no longer counted on (see the coordinator).
   */
  private advanceReplicated(): void {
    if (this.role !== 'primary' || !this.viewAcknowledged) return;
    let candidate: number = this.durableIndex;
    for (const id of this.quorum()) {
      candidate = Math.min(candidate, this.followers.get(id)?.receivedIndex ?? 0);
    }
    candidate = Math.max(candidate, this.commitIndex);
    if (candidate > this.replicatedIndex) this.replicatedIndex = logIndex(candidate);
    this.answerAll(takeUpTo(this.replicatedWaiters, this.replicatedIndex));
  }

  /**
   * May this primary lead its view? Only once its own disk holds every entry that may have been
   * acknowledged before it (`settleIndex`): once the coordinator records the view acknowledged, it
   * counts on this primary's disk for all of them, but a replicated write acknowledged in an earlier
   * view may have reached this replica's memory only, and a crash would take it while the replica
   * whose disk held it is passed over (sim seed 1102070). With a commit quorum, also only once k of
   * the view's backups hold them on disk: each commit is then on k backups of the view the
   * coordinator counts on, whatever backups left or joined. Until the coordinator hears so, it does
   * not acknowledge the view, so it still counts on the last one.
   */
  private leadReady(): boolean {
    const view = this.view;
    if (this.role !== 'primary' || view === null) return false;
    if (this.durableIndex < this.settleIndex) return false;
    if (!quorumConfigured(this.config)) return true;
    const required = commitQuorumOf(this.config, view.backups.length);
    const holding = view.backups.filter(
      (id) => (this.followers.get(id)?.matchIndex ?? 0) >= this.settleIndex,
    ).length;
    return holding >= required;
  }

  private releaseDurableWaiters(): void {
    this.answerAll(takeUpTo(this.durableWaiters, this.durableIndex));
  }

  /** Without a lease nothing that observes the state may be answered: tell those clients to retry. */
  private failWaitingObservations(): void {
    for (let position = this.commitWaiters.length - 1; position >= 0; position--) {
      const waiter = this.commitWaiters[position];
      if (waiter?.kind !== 'observation') continue;
      this.commitWaiters.splice(position, 1);
      this.replyFailure(
        waiter.connection,
        waiter.requestId,
        ErrorCode.notPrimary,
        'the lease ran out; retry',
      );
    }
  }

  private leaseValid(): boolean {
    return this.now < this.leaseExpiryTick;
  }

  private laggingBackups(): ReplicaId[] {
    // Throttling: a slow backup keeps its place, and the commits wait for it.
    if (this.role !== 'primary' || this.view === null || this.config.lagPolicy === 'throttle') return [];
    return this.view.backups.filter((id) => {
      const follower = this.followers.get(id);
      if (follower === undefined) return false;
      const silent = this.now - follower.lastAckTick >= this.config.backupAckTimeoutTicks;
      return (
        silent ||
        (follower.matchIndex < this.log.lastIndex &&
          this.now - follower.lastProgressTick >= this.config.backupAckTimeoutTicks)
      );
    });
  }

  // ---- following (backup, learner) -------------------------------------------------------------

  private onPrepare(from: ReplicaId, message: Prepare): void {
    const view = this.view;
    if (view !== null && message.view > view.number) {
      // The primary knows a newer view than we do: ask the coordinator for it now.
      if (this.lastHeartbeatTick < this.now) this.sendHeartbeat();
      return;
    }
    if (view === null || message.view !== view.number || from !== view.primary || this.role === 'primary')
      return;
    if (!this.log.holds(message.previous)) {
      this.requestSync();
      return;
    }
    let appended = false;
    let replicated = false;
    let index: number = message.previous.index;
    for (const entry of message.entries) {
      index += 1;
      if (entry.index !== index || entry.view > message.view) return; // malformed: drop the rest
      if (index <= this.log.base.index) continue; // in our snapshot already
      if (index <= this.log.lastIndex) {
        if (this.log.viewAt(entry.index) === entry.view) continue;
        // The first entry that differs: everything from here on diverged from the primary.
        this.truncateAfter(logIndex(index - 1));
      }
      this.appendEntry(entry);
      appended = true;
      if (entry.durability === 'replicated') replicated = true;
    }
    this.verifiedIndex = logIndex(Math.max(this.verifiedIndex, index));
    // The primary's commit index speaks of its log; ours matches it only as far as we verified.
    const committed = Math.min(message.commitIndex, this.verifiedIndex);
    if (committed > this.commitIndex) this.commitIndex = logIndex(committed);
    if (message.echo >= 0)
      this.pendingFreshness.push({ tick: message.echo, commitIndex: message.commitIndex });
    this.applyUpTo(logIndex(Math.min(this.commitIndex, this.log.lastIndex)));
    this.settleLossRecords();
    this.keepSnapshotIfCommitted();
    this.acknowledge(!appended && message.entries.length === 0, replicated);
  }

  /** The primary offers a snapshot because we need entries it no longer holds. */
  private onSnapshotOffer(from: ReplicaId, message: SnapshotOffer): void {
    const view = this.view;
    if (view === null || message.view !== view.number || from !== view.primary || this.role === 'primary')
      return;
    if (message.snapshot.position.index <= this.commitIndex) {
      // We hold it already (the offer crossed our sync): tell the primary where we stand.
      this.lastSyncRequestTick = Number.NEGATIVE_INFINITY;
      this.requestSync();
      return;
    }
    this.effects.transfers.push({ from, snapshot: message.snapshot });
  }

  /** Reports discarded async writes to the primary, again and again until it recorded them. */
  private reportLost(): void {
    const view = this.view;
    if (this.pendingLost.length === 0 || view === null || this.role === 'none') return;
    if (this.now - this.lastLostReportTick < this.config.syncRetryTicks) return;
    this.forgetLossesNowHeld();
    // Already on record (another replica reported the same write first): the primary would ignore it forever.
    this.forgetLossesOnRecord();
    if (this.pendingLost.length === 0) return;
    this.lastLostReportTick = this.now;
    const report: LostReport = {
      type: 'lost_report',
      view: view.number,
      entries: this.pendingLost.slice(0, 1024),
    };
    this.effects.peerMessages.push({ to: view.primary, message: report });
  }

  /**
   * Tells the primary how far our log matches its own and is on disk, and how far in memory. A
   * receipt alone (`receipt`: we just appended a replicated entry) is worth a message; otherwise only
   * progress on disk is, so sync and async writes cost one acknowledgement each, as before.
   */
  private acknowledge(always: boolean, receipt = false): void {
    const view = this.view;
    if (view === null || this.role === 'primary' || this.role === 'none') return;
    const index = logIndex(Math.min(this.durableIndex, this.verifiedIndex));
    const received = logIndex(Math.min(this.log.lastIndex, this.verifiedIndex));
    const newReceipt = receipt && received > this.lastReceiptSent;
    if (!always && index <= this.lastAckSent && !newReceipt) return;
    this.lastAckSent = index;
    this.lastReceiptSent = logIndex(Math.max(this.lastReceiptSent, received));
    this.effects.peerMessages.push({
      to: view.primary,
      message: { type: 'prepare_ok', view: view.number, index, received, time: this.now },
    });
  }

  private requestSync(): void {
    const view = this.view;
    if (view === null || this.now - this.lastSyncRequestTick < this.config.syncRetryTicks) return;
    this.lastSyncRequestTick = this.now;
    this.effects.peerMessages.push({
      to: view.primary,
      message: {
        type: 'sync',
        view: view.number,
        base: this.log.base,
        epochs: [...this.log.epochs()],
        lastIndex: this.log.lastIndex,
        formatLevel: this.formatLevel,
      },
    });
  }

  // ---- log and state ---------------------------------------------------------------------------

  private appendEntry(entry: Entry): void {
    this.log.append(entry);
    this.noteFormatLevel(entry);
    this.pendingAppends.push(entry);
    this.logBytesSinceSnapshot += entry.update.length + entry.result.length + entryOverheadBytes;
  }

  private flushAppends(): void {
    if (this.pendingAppends.length === 0) return;
    // Once per batch: a follower that held everything before it starts waiting now; its silence
    // before this was not lag.
    const lastBeforeBatch = this.log.lastIndex - this.pendingAppends.length;
    for (const follower of this.followers.values()) {
      if (follower.matchIndex >= lastBeforeBatch) follower.lastProgressTick = this.now;
    }
    this.effects.storage.push({ kind: 'append', entries: this.pendingAppends });
    this.unsyncedAppends.push({ index: this.log.lastIndex, tick: this.now });
    this.pendingAppends = [];
  }

  private truncateAfter(index: LogIndex): void {
    assert(
      index >= this.commitIndex,
      `truncation after ${index} would remove committed entries (commit ${this.commitIndex})`,
    );
    this.flushAppends();
    const discarded = this.log.slice(logIndex(index + 1), this.log.lastIndex);
    // Writes of the removed entries will never be reported durable: stop waiting for them.
    while ((this.unsyncedAppends.at(-1)?.index ?? 0) > index) this.unsyncedAppends.pop();
    this.log.truncateAfter(index);
    // Records of losses among the removed entries are gone: what they named stays to be reported.
    this.lossRecordsUncommitted = this.lossRecordsUncommitted.filter(
      (record) => record.position.index <= index,
    );
    this.noteLostAsyncWrites(discarded);
    this.effects.storage.push({ kind: 'truncate', afterIndex: index });
    this.durableIndex = logIndex(Math.min(this.durableIndex, index));
    this.verifiedIndex = logIndex(Math.min(this.verifiedIndex, index));
    this.lastAckSent = logIndex(Math.min(this.lastAckSent, index));
    this.lastReceiptSent = logIndex(Math.min(this.lastReceiptSent, index));
    if (this.appliedIndex > index) {
      // The state includes entries that are gone (we led, and they never committed): go back to the
      // newest kept snapshot, which is committed and so at or below `index`, and replay from there.
      const snapshot = this.readSnapshot();
      const position = snapshot?.info.position ?? positionZero;
      assert(
        position.index <= index,
        `the kept snapshot at ${position.index} lies beyond the truncation at ${index}`,
      );
      assert(position.index >= this.log.base.index, 'the log reaches back to the kept snapshot');
      if (snapshot === null) {
        this.stateMachine = this.createStateMachine(this.stateMachineContext);
        this.sessions = new SessionTable();
        this.loss = new AsyncLossRecord();
      } else {
        this.restore(snapshot.payload);
      }
      this.appliedIndex = position.index;
    }
    if (this.snapshotInProgress !== null && this.snapshotInProgress.position.index > index) {
      // It holds entries that are gone; the shell overwrites the file with the next one, taken at
      // once rather than after another threshold of log (its bytes were counted for this one).
      this.snapshotInProgress = null;
      this.snapshotRetryOwed = true;
    }
  }

  /** Discarded async writes our log has again (received back from the primary): not lost after all. */
  private forgetLossesNowHeld(): void {
    this.setPendingLost(this.pendingLost.filter((lost) => this.log.viewOf(lost.index) !== lost.view));
  }

  /**
   * The unreported losses change: noted on disk as a whole (the list is never changed in place, since
   * the storage operation holds it until the shell writes it).
   */
  private setPendingLost(next: LostEntry[]): void {
    // Entries are only ever added or removed, never swapped, so the same length is the same list.
    const changed = next.length !== this.pendingLost.length;
    this.pendingLost = next;
    if (changed && this.testOnlyFaults.keepUnreportedLossesInMemory !== true) {
      this.effects.storage.push({ kind: 'unreported-losses', entries: next });
    }
  }

  /**
   * Async writes just discarded: each may have been acknowledged, so report it as lost, unless the
   * log as it is now still has it (an installed snapshot that covers it).
   */
  private noteLostAsyncWrites(discarded: readonly Entry[]): void {
    const noted = [...this.pendingLost];
    for (const entry of discarded) {
      if (entry.durability !== 'async' || entry.refused || isSystemEntry(entry) || isSessionOpen(entry))
        continue;
      if (this.log.viewOf(entry.index) === entry.view) continue;
      if (noted.some((lost) => samePosition(lost, entry))) continue;
      noted.push({
        view: entry.view,
        index: entry.index,
        clientId: entry.clientId,
        requestNumber: entry.requestNumber,
      });
    }
    this.setPendingLost(noted);
  }

  private applyUpTo(index: LogIndex): void {
    while (this.appliedIndex < index) this.applyEntry(this.log.entryAt(logIndex(this.appliedIndex + 1)));
    // Freshness the primary vouched for counts once we have applied what it vouched for.
    while ((this.pendingFreshness[0]?.commitIndex ?? Number.POSITIVE_INFINITY) <= this.appliedIndex) {
      const fresh = this.pendingFreshness.shift();
      if (fresh !== undefined) this.freshTick = Math.max(this.freshTick, fresh.tick);
    }
    if (this.pendingFreshness.length > pendingFreshnessMax) this.pendingFreshness.shift();
  }

  /** The highest format level of what this replica holds: its store's content and its log's entries. */
  private formatLevelHeld(): number {
    return Math.max(this.stateMachine.formatLevelHeld?.() ?? BASE_FORMAT_LEVEL, this.logFormatLevel);
  }

  /** Raises `logFormatLevel` to the level of `entry`'s update; nothing to ask once it is the highest. */
  private noteFormatLevel(entry: Entry): void {
    if (this.logFormatLevel >= FORMAT_LEVEL || this.stateMachine.formatLevelOf === undefined) return;
    let update = entry.update;
    if (isSystemEntry(entry)) {
      const operation = decodeSystemOperation(entry.update);
      if (operation.kind !== 'service-update') return;
      update = operation.update;
    } else if (isSessionOpen(entry) || entry.refused || update.length === 0) {
      return;
    }
    this.logFormatLevel = Math.max(this.logFormatLevel, this.stateMachine.formatLevelOf(update));
  }

  private applyEntry(entry: Entry): void {
    assert(entry.index === this.appliedIndex + 1, 'entries are applied in order');
    if (isSystemEntry(entry)) {
      this.applySystemOperation(decodeSystemOperation(entry.update), entry);
    } else if (isSessionOpen(entry)) {
      this.sessions.open(entry.clientId, entry.index);
    } else {
      if (entry.update.length > 0) this.stateMachine.apply(entry.update);
      this.sessions.record(entry);
    }
    this.appliedIndex = entry.index;
  }

  private applySystemOperation(operation: SystemOperation, entry: Entry): void {
    if (operation.kind === 'view-start') return;
    if (operation.kind === 'service-update') {
      this.stateMachine.apply(operation.update);
      return;
    }
    if (operation.kind === 'expire-sessions') {
      this.sessions.expire(operation.clients);
      return;
    }
    this.loss.record(operation.entries);
    if (entry.index > this.commitIndex) {
      this.lossRecordsUncommitted.push({
        position: { view: entry.view, index: entry.index },
        entries: operation.entries,
      });
      return;
    }
    this.forgetRecorded(operation.entries);
  }

  /** Restores the replicated state a snapshot payload holds; answers it, decoded. */
  private restore(payload: Uint8Array): SnapshotPayload {
    const decoded = decodeSnapshotPayload(payload);
    this.adopt(decoded);
    return decoded;
  }

  private adopt(decoded: SnapshotPayload): void {
    const stateMachine = this.createStateMachine(this.stateMachineContext);
    stateMachine.restore(decoded.state);
    this.stateMachine = stateMachine;
    this.sessions = decoded.sessions;
    this.loss = decoded.loss;
  }

  // ---- snapshots and compaction ----------------------------------------------------------------

  /**
   * Takes a snapshot of the applied state once enough log has accumulated since the last. A
   * follower applies only committed entries; a primary has applied its whole log, so its snapshot is
   * kept only once everything in it commits (until then it is only written aside).
   */
  private maybeTakeSnapshot(): void {
    if (this.snapshotInProgress !== null || this.role === 'none') return;
    const saved = this.savedSnapshot;
    if (this.appliedIndex <= (saved?.position.index ?? 0)) return;
    const threshold =
      Math.max(this.config.snapshotLogBytes, Math.floor((saved?.sizeBytes ?? 0) / 4)) * this.snapshotStagger;
    // After a failed write, saves wait for the retry too: each would rewrite the whole state only to
    // fail again, as often as clients ask.
    if (this.now < this.snapshotRetryTick) return;
    const saveWaits = this.saveWantedIndex > (saved?.position.index ?? 0);
    if (this.logBytesSinceSnapshot < threshold && !saveWaits && !this.snapshotRetryOwed) return;
    const position = this.log.positionAt(this.appliedIndex);
    const stateMachine = this.stateMachine;
    const payload = beginSnapshotPayload({
      state: stateMachine.beginSnapshot?.() ?? encodedSnapshot(stateMachine.snapshot()),
      sessions: this.sessions,
      loss: this.loss,
      epochs: this.log.historyThrough(position.index),
    });
    this.logBytesSinceSnapshot = 0;
    this.snapshotRetryOwed = false;
    this.snapshotInProgress = { position, written: null, keeping: false, retained: [] };
    this.effects.storage.push({ kind: 'snapshot', position, payload });
  }

  private keepSnapshotIfCommitted(): void {
    const taking = this.snapshotInProgress;
    if (taking === null || taking.written === null || taking.keeping) return;
    if (!this.log.holds(taking.position)) {
      this.snapshotInProgress = null;
      this.snapshotRetryOwed = true;
      return;
    }
    if (this.commitIndex < taking.position.index) return;
    taking.keeping = true;
    taking.retained = this.snapshotsBeingReceived();
    this.effects.storage.push({
      kind: 'keep-snapshot',
      position: taking.position,
      retained: taking.retained.map((info) => info.position),
    });
  }

  /**
   * Forgets the log up to the newest kept snapshot, except what a follower still needs from it (a
   * primary serves followers from its log while it can; one that needs older entries gets the
   * snapshot instead, and one receiving a snapshot needs what follows it).
   */
  private compact(): void {
    const saved = this.savedSnapshot;
    if (saved === null) return;
    let floor: number = Math.min(saved.position.index, this.appliedIndex);
    if (this.role === 'primary') {
      for (const follower of this.followers.values()) {
        // What it holds: what it acknowledged, or where its sync matched (a learner that installed a
        // snapshot acknowledges nothing until entries after it reach it; chaos at 512 KiB/s compacted
        // them away between, and the learner was offered a new snapshot the moment it had one).
        const holds = Math.max(follower.matchIndex, follower.syncMatch);
        if (follower.transferIndex >= 0) floor = Math.min(floor, follower.transferIndex);
        else if (holds >= this.log.base.index) floor = Math.min(floor, holds);
      }
      for (const offered of this.departedOffers.values()) floor = Math.min(floor, offered.position.index);
    }
    if (floor <= this.log.base.index) return;
    if (floor < saved.position.index && floor - this.log.base.index < compactionEntriesMin) return;
    const position = this.log.positionAt(logIndex(floor));
    this.flushAppends();
    this.log.compactThrough(position);
    this.effects.storage.push({ kind: 'compact', throughIndex: position.index });
  }

  /**
   * A snapshot became the newest kept one; the shell keeps it, the one before it and those of
   * `retained` it still had.
   */
  private noteKept(info: SnapshotInfo, retained: readonly SnapshotInfo[] = []): void {
    this.savedSnapshot = info;
    this.snapshotsKept += 1;
    const all = [...this.keptSnapshots, { info, ordinal: this.snapshotsKept }];
    this.keptSnapshots = all.filter(
      (kept, at) =>
        at >= all.length - keptSnapshotsMax || retained.some((other) => sameSnapshot(other, kept.info)),
    );
    for (const [id, offered] of this.departedOffers) {
      if (!this.keptSnapshots.some((kept) => sameSnapshot(kept.info, offered)))
        this.departedOffers.delete(id);
    }
  }

  /**
   * The older kept snapshots that followers are being offered, to keep on beside the next: a transfer
   * slower than the pace of new snapshots still finishes (two kept were not enough when transfers
   * were paced below twice the write rate: the learner never caught up), while a follower that never
   * does pins one for at most keptSnapshotsPastReceivedMax newer ones, and the log after it.
   */
  private snapshotsBeingReceived(): SnapshotInfo[] {
    if (this.role !== 'primary') return [];
    const oldestKept = this.snapshotsKept + 1 - keptSnapshotsPastReceivedMax;
    const older = this.keptSnapshots.slice(0, -1).filter(({ ordinal }) => ordinal >= oldestKept);
    const offers = [...this.departedOffers.values()];
    for (const follower of this.followers.values()) {
      if (follower.transferIndex >= 0 && follower.offered !== null) offers.push(follower.offered);
    }
    return older.flatMap(({ info }) => (offers.some((offered) => sameSnapshot(offered, info)) ? [info] : []));
  }

  private raiseDurableIndex(index: LogIndex): void {
    if (index <= this.durableIndex || index > this.log.lastIndex) return;
    this.durableIndex = index;
    while ((this.unsyncedAppends[0]?.index ?? Number.POSITIVE_INFINITY) <= this.durableIndex) {
      this.unsyncedAppends.shift();
    }
    if (this.role !== 'primary') this.acknowledge(false);
  }

  // ---- coordinator link ------------------------------------------------------------------------

  private sendHeartbeat(): void {
    const leadReady = this.leadReady();
    if (leadReady) this.leadReadySent = true;
    this.lastHeartbeatTick = this.now;
    this.heartbeatSequence += 1;
    this.heartbeatSentTicks.set(this.heartbeatSequence, this.now);
    this.heartbeatSentTicks.delete(this.heartbeatSequence - 64);
    const isPrimary = this.role === 'primary' && this.view !== null;
    this.effects.heartbeats.push({
      type: 'heartbeat',
      replicaId: this.id,
      incarnation: this.incarnation,
      directory: this.directory,
      address: this.address,
      sequence: this.heartbeatSequence,
      view: this.view,
      durable: this.log.positionAt(this.durableIndex),
      received: this.log.lastPosition,
      commitIndex: this.commitIndex,
      appliedIndex: this.appliedIndex,
      leadReady,
      coordinatorSilentTicks: this.coordinatorSilentTicks,
      storageStalledTicks: this.storageStalledTicks,
      syncedLearners: isPrimary
        ? (this.view?.learners.filter((id) => this.followers.get(id)?.synced === true) ?? [])
        : [],
      laggingBackups: this.laggingBackups(),
      transfer: this.transferProgress,
      asyncLost: this.loss.count,
      snapshotIndex: this.savedSnapshot?.position.index ?? logIndex(0),
      sessions: this.sessions.size,
      formatLevel: this.formatLevel,
      formatLevelHeld: this.formatLevelHeld(),
      redisAddress: this.announcedRedisAddress,
    });
  }

  /** How long this replica has heard nothing from the coordinator (the shell redials a silent link). */
  get coordinatorSilentTicks(): number {
    return Math.floor(this.now - this.lastHeardFromCoordinatorTick);
  }

  /** How long the oldest write handed to storage has waited for its fsync. */
  private get storageStalledTicks(): number {
    const oldest = this.unsyncedAppends[0];
    return oldest === undefined ? 0 : Math.floor(this.now - oldest.tick);
  }

  // ---- replies ---------------------------------------------------------------------------------

  private replySuccess(waiter: Waiter, result: Uint8Array, quorum: readonly ReplicaId[]): void {
    const view = this.view;
    assert(view !== null, 'replies come from a replica in a view');
    const read = waiter.kind === 'observation';
    // Who holds it on disk, or, for a replicated write, at least in memory.
    const holders: ReplicaId[] = [this.id];
    if (waiter.durability !== 'async' || read) {
      const received = waiter.durability === 'replicated' && !read;
      for (const id of quorum) {
        const follower = this.followers.get(id);
        const held = follower === undefined ? 0 : received ? follower.receivedIndex : follower.matchIndex;
        if (held >= waiter.index) holders.push(id);
      }
    }
    const reply: ClientReply = {
      type: 'reply',
      id: waiter.requestId,
      ok: true,
      result,
      view: view.number,
      index: waiter.index,
      durability: read ? 'sync' : waiter.durability,
      replicas: holders,
    };
    this.effects.replies.push({ connection: waiter.connection, reply });
  }

  private replyFailure(connection: ConnectionId, requestId: number, code: string, message: string): void {
    const primary = this.view !== null && this.view.primary !== this.id ? this.view.primary : null;
    this.effects.replies.push({
      connection,
      reply: { type: 'reply', id: requestId, ok: false, code, message, primary },
    });
  }

  // ---- inspection ------------------------------------------------------------------------------

  /** This replica's role (status().role, without building the status). */
  get currentRole(): Role {
    return this.role;
  }

  /** Client requests waiting at this primary for a commit or an fsync. */
  get waitingRequests(): number {
    return this.commitWaiters.length + this.durableWaiters.length + this.replicatedWaiters.length;
  }

  /**
   * It is the primary and its lease runs now, by its clock as it reads at this moment: what a check
   * that two primaries never hold a lease at once asks (the simulator), without moving its time.
   */
  holdsPrimaryLease(): boolean {
    if (this.role !== 'primary') return false;
    const now = this.testOnlyFaults.countTicksNotTime === true ? this.now : Math.max(this.now, this.clock());
    return now < this.leaseExpiryTick;
  }

  /** Where this primary's lease ends, in its ticks (0 when it is no primary or was never granted one). */
  get primaryLeaseEndTick(): number {
    return this.role === 'primary' ? this.leaseExpiryTick : 0;
  }

  /** The number of the view it follows, or null before its first. */
  get viewNumber(): number | null {
    return this.view?.number ?? null;
  }

  /** Async writes discarded and not yet seen on the loss record (status().lostUnreported, cheaply). */
  get unreportedLossCount(): number {
    return this.pendingLost.length;
  }

  status(): ReplicaSnapshot {
    return {
      id: this.id,
      role: this.role,
      view: this.view,
      lastIndex: this.log.lastIndex,
      durableIndex: this.durableIndex,
      commitIndex: this.commitIndex,
      appliedIndex: this.appliedIndex,
      leaseValid: this.role === 'primary' && this.leaseValid(),
      sessions: this.sessions.size,
      coordinatorSilentTicks: this.coordinatorSilentTicks,
      storageStalledTicks: this.storageStalledTicks,
      logBaseIndex: this.log.base.index,
      entriesInMemory: this.log.length,
      snapshot: this.savedSnapshot,
      asyncLost: this.loss.count,
      lostRecent: this.loss.recent,
      lostUnreported: this.pendingLost.length,
      transfer: this.transferProgress,
      formatLevel: this.formatLevel,
      clusterFormatLevel: this.coordinatorFormatLevel ?? BASE_FORMAT_LEVEL,
    };
  }

  /** Primary only: how far each backup of the view is behind this log, for the admin port. */
  backupProgress(): BackupProgress[] {
    if (this.role !== 'primary' || this.view === null) return [];
    return this.view.backups.flatMap((id) => {
      const follower = this.followers.get(id);
      if (follower === undefined) return [];
      const behindEntries = Math.max(0, this.log.lastIndex - follower.matchIndex);
      // Behind since its last progress: what the lag policy judges (`backupAckTimeoutTicks`).
      const behindTicks = behindEntries === 0 ? 0 : Math.max(0, this.now - follower.lastProgressTick);
      return [{ id, behindEntries, behindTicks }];
    });
  }

  /**
   * Primary only: async writes durable here (so acknowledged, or about to be) that some backup of the
   * view does not hold on disk yet: what a failover now could lose. Counted when asked (a scrape), over
   * the entries between the least-advanced backup and this replica's disk.
   */
  asyncAtRisk(): number {
    if (this.role !== 'primary' || this.view === null || this.view.backups.length === 0) return 0;
    let onEveryBackup: number = this.durableIndex;
    for (const id of this.view.backups) {
      onEveryBackup = Math.min(onEveryBackup, this.followers.get(id)?.matchIndex ?? 0);
    }
    let count = 0;
    for (let index = Math.max(onEveryBackup, this.log.base.index) + 1; index <= this.durableIndex; index++) {
      if (this.log.entryAt(logIndex(index)).durability === 'async') count++;
    }
    return count;
  }

  /**
   * Reports where this replica's Redis port takes clients, in every heartbeat from the next: the
   * coordinator's Sentinel port names the primary's. Nothing of the protocol depends on it.
   */
  announceRedisAddress(address: Address): void {
    this.announcedRedisAddress = address;
  }

  /** What announceRedisAddress said, or null. */
  get redisAddress(): Address | null {
    return this.announcedRedisAddress;
  }

  /** Where a peer listens, as the coordinator last said. */
  addressOf(id: ReplicaId): Address | undefined {
    return this.addresses[id];
  }

  /** For tests and the simulator: the entries this replica holds (after its log's base). */
  entries(): Entry[] {
    return this.log.slice(logIndex(this.log.base.index + 1), this.log.lastIndex);
  }

  /** For tests and the simulator: whether this replica knows `position` committed (and holds it). */
  knowsCommitted(position: LogPosition): boolean {
    return position.index <= this.commitIndex && this.log.viewOf(position.index) === position.view;
  }

  /** For tests and the simulator: the position the log follows (a snapshot's, or index 0). */
  get logBase(): LogPosition {
    return this.log.base;
  }

  /** The state machine's size, if its service measures it (for the metrics). */
  stateSize(): StateSize | null {
    return this.stateMachine.size?.() ?? null;
  }

  /** For tests and the simulator: the state machine, to compare replicas. */
  currentStateMachine(): StateMachine {
    return this.stateMachine;
  }

  /** For tests and the simulator: bring the applied state up to the committed prefix. */
  applyCommitted(): void {
    const limit: number =
      this.role === 'primary' ? this.log.lastIndex : Math.min(this.commitIndex, this.verifiedIndex);
    this.applyUpTo(logIndex(Math.min(limit, this.log.lastIndex)));
  }

  private checkInvariants(): void {
    assert(this.appliedIndex <= this.log.lastIndex, 'applied beyond the log');
    assert(this.durableIndex <= this.log.lastIndex, 'durable beyond the log');
    assert(this.commitIndex <= this.log.lastIndex, 'committed beyond the log');
    if (this.role === 'primary') {
      assert(this.appliedIndex === this.log.lastIndex, 'a primary has applied its whole log');
    }
  }
}

export interface ReplicaSnapshot {
  readonly id: ReplicaId;
  readonly role: Role;
  readonly view: View | null;
  readonly lastIndex: LogIndex;
  readonly durableIndex: LogIndex;
  readonly commitIndex: LogIndex;
  readonly appliedIndex: LogIndex;
  readonly leaseValid: boolean;
  readonly sessions: number;
  readonly coordinatorSilentTicks: number;
  readonly storageStalledTicks: number;
  /** The log in memory starts after this index. */
  readonly logBaseIndex: LogIndex;
  readonly entriesInMemory: number;
  readonly snapshot: SnapshotInfo | null;
  readonly asyncLost: number;
  readonly lostRecent: readonly LostEntry[];
  /** Async writes this replica discarded and has not yet seen recorded (kept in memory only). */
  readonly lostUnreported: number;
  readonly transfer: TransferProgress | null;
  /** The highest format level it reads, and the cluster's as the coordinator last said. */
  readonly formatLevel: number;
  readonly clusterFormatLevel: number;
}

export interface BackupProgress {
  readonly id: ReplicaId;
  /** Entries of the primary's log the backup has not acknowledged as durable. */
  readonly behindEntries: number;
  /** Ticks since the backup last acknowledged more while it was behind; 0 when it holds the whole log. */
  readonly behindTicks: number;
}

/** Removes and returns, in one splice, the waiters at the front of `queue` with index ≤ `index`. */
function takeUpTo(queue: Waiter[], index: LogIndex): Waiter[] {
  let count = 0;
  while (count < queue.length && (queue[count]?.index ?? Number.POSITIVE_INFINITY) <= index) count++;
  return queue.splice(0, count);
}

function insertByIndex(queue: Waiter[], waiter: Waiter): void {
  let position = queue.length;
  while (position > 0 && (queue[position - 1]?.index ?? 0) > waiter.index) position--;
  queue.splice(position, 0, waiter);
}

const noUpdate = new Uint8Array(0);
/** Snapshots a shell keeps: the newest, and the one before it (it may still be serving a transfer). */
export const keptSnapshotsMax = 2;
/**
 * A snapshot a follower is receiving is kept on until this many newer ones were kept: with one taken
 * after a quarter of the last one's size in log bytes, transfers paced at more than half the write
 * rate (in bytes) finish, and the source then holds at most twice the state's size in log after it.
 */
export const keptSnapshotsPastReceivedMax = 8;

/** Counted per entry towards the snapshot threshold, besides its update and result. */
const entryOverheadBytes = 64;
/** Sessions one expiry entry names at most. */
const expireBatchMax = 4096;
/** What a service update's system entry wraps around the update (msgpack's kind, array, bin header). */
const serviceUpdateOverheadBytes = 64;
/** Vouched commit indexes a lagging follower remembers. */
const pendingFreshnessMax = 1024;
/** Below the snapshot, the log is trimmed for followers only in steps this large (trimming copies). */
const compactionEntriesMin = 4096;

function sessionExpired(request: ClientRequest): Answer {
  return {
    ok: false,
    code: ErrorCode.sessionExpired,
    message: `client ${request.clientId} has no session (it expired, or was never opened): whether request ${request.requestNumber} ran is unknown; open a new session`,
  };
}

/** What a logged request answers, to its client and to every retry: its result, or its refusal. */
function answerOf(executed: { readonly refused: boolean; readonly result: Uint8Array }): Answer {
  return executed.refused
    ? { ok: false, ...decodeRefusal(executed.result) }
    : { ok: true, result: executed.result };
}

/** A refusal by the service; anything else it throws is a bug and propagates. */
function refusal(error: unknown): Refusal {
  if (!isServiceError(error)) throw error;
  return { code: error.code, message: error.message };
}
