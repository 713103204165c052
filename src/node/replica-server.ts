// A replica process: the pure `Replica` core wired to a write-ahead log, TCP, and a timer.
// Every input (a message, a tick, an fsync) goes into the core; its effects are run once per
// event-loop turn, so all requests that arrived in one turn go out as one Prepare per follower.
// Storage operations are queued before messages are sent; acks that promise durability are only
// produced by the core after the log reported the fsync. The core's clock is the monotonic clock
// (`performance.now()`, in ticks), read at every input: after a stall, the first input it handles
// already sees the time that passed, whatever order Node runs the timer and the I/O callbacks in.
// A replica runs one service (the key/value store unless it is given another) and names it in every
// handshake: the coordinator and its peers refuse a replica of another service, and its data
// directory records whose data it holds, so it never replays another service's log.
// With credentials, a client connection must bring a token, and each of its requests must use a
// client id of the token's name (`<name>/...`), so no client spends or reads another's session; with
// a cluster secret, a peer must bring it, and this replica brings it to its peers and the coordinator.

import { randomInt } from 'node:crypto';
import { ConfigError, HandshakeError } from '../errors.js';
import { commitRulesOf } from '../protocol/config.js';
import { healthProblem } from '../protocol/coordinator.js';
import type { StorageOperation } from '../protocol/effects.js';
import { ErrorCode } from '../protocol/error-codes.js';
import type { TransferMessage } from '../protocol/messages.js';
import { type BackupProgress, Replica, type ReplicaSnapshot } from '../protocol/replica.js';
import {
  describeService,
  type ServiceIdentity,
  sameService,
  serviceIdentityProblem,
} from '../protocol/service-identity.js';
import type { StateMachineFactory, StateSize } from '../protocol/state-machine.js';
import {
  type ConnectionId,
  connectionId,
  type LogPosition,
  type ReplicaId,
  type Role,
  replicaId,
  type SnapshotInfo,
} from '../protocol/types.js';
import { createKeyValueStore, keyValueService } from '../state-machine/kv-service.js';
import { claimDirectoryForService } from '../storage/directory-service.js';
import { openReplicaDirectory } from '../storage/replica-directory.js';
import type { SnapshotStore } from '../storage/snapshot-store.js';
import { writeUnreportedLosses } from '../storage/unreported-losses.js';
import type { WriteAheadLog } from '../storage/write-ahead-log.js';
import {
  type ClusterSecret,
  type Credentials,
  countRequestRefusal,
  dialFirst,
  ID_BYTES_MAX,
  isSaveMessage,
  isTransferMessage,
  type Listener,
  type LocalLink,
  listen,
  listenSecurity,
  type MessageConnection,
  ownsClientId,
  PROTOCOL_VERSION,
  type Principal,
  parseAddress,
  parseAddressList,
  parseClientRequest,
  parseCoordinatorToReplica,
  parsePeerMessage,
  parseSaveClientMessage,
  parseTransferMessage,
  type TlsMaterial,
} from '../transport/index.js';
import { logIfClosedForBadInput, logRejectedHandshake, refuseBadInput } from './bad-input.js';
import { checkNodeConfig, clusterIdDefault, defaultNodeConfig, type NodeConfig } from './config.js';
import { createLogger, errorText, type Logger } from './logger.js';
import { PeerLinks } from './peer-links.js';
import { createRequestHistogram, InFlightRequests } from './request-timing.js';
import { SnapshotSaves } from './snapshot-saves.js';
import { SnapshotFetcher, SnapshotServer } from './snapshot-transfer.js';
import { diskStallCause, type StallCounts, StallWatch } from './stall-watch.js';
import { LeaseRecord, TEST_LEASE_RECORD_VARIABLE } from './test-lease-record.js';
import { fsyncBoundsSeconds, TimingHistogram } from './timing-histogram.js';

/**
 * Tests only: the replica kills itself (SIGKILL, as `kill -9` would) at this step of taking a
 * snapshot, or once async writes it discarded are off its log on disk and not yet reported
 * (`after-discard`), so a test can check recovery after a crash at every step. Unset in production.
 */
const crashPoint = process.env.UNDERSTUDY_TEST_CRASH_AT;
const crashPoints = [
  'before-snapshot',
  'snapshot-written',
  'snapshot-kept',
  'after-compact',
  'after-discard',
] as const;
if (crashPoint !== undefined && !crashPoints.includes(crashPoint as (typeof crashPoints)[number])) {
  throw new Error(`UNDERSTUDY_TEST_CRASH_AT must be one of ${crashPoints.join(', ')}`);
}

function crashIfAt(point: (typeof crashPoints)[number]): void {
  if (crashPoint === point) process.kill(process.pid, 'SIGKILL');
}

/**
 * Tried again after this long when the coordinator refused the handshake (another service or
 * cluster): the refusal will likely stand, so each try costs the coordinator a log line.
 */
const refusedRetryDelayMs = 1000;

/**
 * The service a replica runs: the key/value store when neither is given. `service` names it in every
 * handshake; every replica of a cluster must run the same one (see service-identity.ts).
 */
export type ReplicaServiceOptions =
  | { readonly createStateMachine?: undefined; readonly service?: undefined }
  | { readonly createStateMachine: StateMachineFactory; readonly service: ServiceIdentity };

export type ReplicaServerOptions = ReplicaServerBaseOptions & ReplicaServiceOptions;

export interface ReplicaServerBaseOptions {
  readonly id: string;
  /** host:port to listen on; port 0 picks a free one. */
  readonly listen: string;
  /** The coordinator's host:port; with the coordinator on etcd, several, comma-separated: it finds the leader among them. */
  readonly coordinator: string;
  /** The address reported to the coordinator, when peers must dial something else than `listen`. */
  readonly advertise?: string;
  readonly directory: string;
  readonly clusterId?: string;
  readonly config?: NodeConfig;
  /** Where it logs (a child logger is made for it); default: `info` and above, JSON lines on stderr. */
  readonly logger?: Logger;
  /**
   * Mutual TLS with the cluster's CA: every connection this replica listens for or dials is TLS, and
   * its certificate must name it (`understudy://replica/<id>`; see transport/tls.ts).
   */
  readonly tls?: TlsMaterial;
  /** Client tokens this replica accepts (a credentials file); without them, clients need none. */
  readonly credentials?: Credentials;
  /** The secret every member of the cluster brings to its peers and the coordinator, and asks of them. */
  readonly clusterSecret?: ClusterSecret;
  /** The highest format level it reports reading (`--format-level`); this build's by default. */
  readonly formatLevel?: number;
}

/** The warning of a snapshot write that failed (the chaos runner looks for it). */
export const snapshotWriteFailedMessage =
  'writing a snapshot failed; the log keeps every entry since the last kept snapshot, and the next is tried later';

/** What this replica knows of itself and of its backups, read when the admin port is asked. */
export interface ReplicaInspection {
  readonly status: ReplicaSnapshot;
  /** The address the coordinator is told (what `understudy status` shows). */
  readonly address: string;
  /** Where its Redis port takes clients, as the coordinator is told; null without one. */
  readonly redisAddress: string | null;
  /** Why the coordinator would not count this replica as alive (deaf, disk stalled), or null. */
  readonly problem: string | null;
  /** Primary only: each backup of the view, with how far behind it is (`behindSeconds`, not ticks). */
  readonly backups: readonly (BackupProgress & { readonly behindSeconds: number })[];
  readonly asyncAtRisk: number;
  readonly viewsAdopted: number;
  readonly primaryChanges: number;
  readonly stalls: StallCounts;
  readonly failureTimeoutTicks: number;
  /** How large the service's state is, if the service measures it. */
  readonly stateSize: StateSize | null;
  /** The service this replica runs. */
  readonly service: ServiceIdentity;
  /** Snapshot writes that failed since this process started (it serves on; see snapshotWriteFailed). */
  readonly snapshotWriteFailures: number;
}

/** Timings this shell takes on the hot path, into typed arrays (see timing-histogram.ts). */
export interface ReplicaTimings {
  /** Series by `requestSeries` (request-timing.ts). */
  readonly requests: TimingHistogram;
  /** One series: every fdatasync of a batch of log entries. */
  readonly fsyncs: TimingHistogram;
}

export class ReplicaServer {
  readonly timings: ReplicaTimings = {
    requests: createRequestHistogram(),
    fsyncs: new TimingHistogram(fsyncBoundsSeconds, 1),
  };
  private readonly logger: Logger;
  /** Each client connection, with the requests it has in flight and when they arrived. */
  private readonly clients = new Map<
    ConnectionId,
    { readonly connection: MessageConnection; readonly inFlight: InFlightRequests }
  >();
  private nextConnection = 1;
  private coordinatorConnection: MessageConnection | null = null;
  /** Where the next dial of the coordinator list starts: the one that answered last. */
  private coordinatorIndex = 0;
  private coordinatorConnectedAtMs = 0;
  private readonly timer: NodeJS.Timeout;
  private flushScheduled = false;
  /** How many discarded async writes are not yet on the loss record, as last written to disk. */
  private unreportedLosses = 0;
  /** Client connections are paused because too many requests wait (backpressure). */
  private clientReadsPaused = false;
  private closed = false;
  /** Snapshot writes and renames, one after another in the order the core asked for them. */
  private snapshotWork: Promise<void> = Promise.resolve();
  /** A snapshot is being written now, and how the last write ended (INFO persistence). */
  private writingSnapshot = false;
  private lastSnapshotWriteFailed: boolean | null = null;
  private readonly fetcher: SnapshotFetcher;
  private readonly snapshotServer: SnapshotServer;
  private readonly saves: SnapshotSaves;
  /** Handshake refusals already logged, so that retries do not repeat them. */
  private readonly refusalsLogged = new Set<string>();
  /** The core's count of views adopted when this shell last logged one (debug only). */
  private viewsLogged = 0;
  /** Times this process did not run for a while (its tick timer fired late). */
  private readonly stalls: StallWatch;

  private constructor(
    private readonly core: Replica,
    private readonly log: WriteAheadLog,
    private readonly snapshots: SnapshotStore,
    private readonly listener: Listener,
    private readonly peers: PeerLinks,
    private readonly options: ReplicaServerBaseOptions & {
      clusterId: string;
      config: NodeConfig;
      service: ServiceIdentity;
      logger: Logger;
      /** The chaos runner's record of this process's leases (test-lease-record.ts), or null. */
      leaseRecord: LeaseRecord | null;
    },
  ) {
    this.logger = options.logger;
    this.unreportedLosses = core.unreportedLossCount;
    this.stalls = StallWatch.forNode(this.logger, options.config, (stalledMs) =>
      diskStallCause(
        this.log.takeLongestWaitOnLoopMs(),
        stalledMs,
        'one disk call of the log (a write, an fdatasync, a new segment)',
      ),
    );
    this.log.onDurable = (position) => {
      this.core.durable(position);
      // At once, not on the next turn: the acks and replies this fsync releases wait for nothing else.
      this.flush();
    };
    this.log.onFsyncTimed = (seconds) => this.timings.fsyncs.observe(0, seconds);
    const sendTransfer = (to: ReplicaId, message: TransferMessage) =>
      this.peers.send(to, this.core.addressOf(to), message);
    this.snapshotServer = new SnapshotServer(
      snapshots,
      sendTransfer,
      options.config.transferBytesPerSecond,
      this.logger,
    );
    this.saves = new SnapshotSaves({
      replica: core.id,
      service: options.service,
      requestSave: () => core.requestSave(),
      role: () => core.currentRole,
      newestKept: () => snapshots.newestInfo(),
      server: this.snapshotServer,
      scheduleFlush: () => this.scheduleFlush(),
      logger: this.logger,
    });
    this.fetcher = new SnapshotFetcher(
      {
        beginTransfer: (info) => snapshots.beginTransfer(info),
        ensureRoomToReceive: (bytes) => snapshots.ensureRoomToReceive(bytes),
        writeTransferChunk: (offset, bytes) => snapshots.writeTransferChunk(offset, bytes),
        finishTransfer: () => snapshots.finishTransfer(),
        abortTransfer: () => snapshots.abortTransfer(),
      },
      sendTransfer,
      (snapshot) => {
        if (this.closed) return;
        this.core.installSnapshot(snapshot);
        this.scheduleFlush();
      },
      (progress) => this.core.setTransferProgress(progress),
      this.logger,
    );
    this.timer = setInterval(() => {
      if (crashPoint === 'after-discard' && this.core.unreportedLossCount > 0) {
        // No tick while the discard is being written: a tick would report the losses first.
        if (this.log.idle) crashIfAt('after-discard');
        return;
      }
      this.stalls.tick();
      this.core.tick();
      this.saves.tick();
      this.redialCoordinatorIfSilent();
      this.flush();
      this.logAdoptedView();
    }, options.config.tickMs);
    this.connectCoordinator();
  }

  static async start(options: ReplicaServerOptions): Promise<ReplicaServer> {
    const config = options.config ?? defaultNodeConfig;
    checkNodeConfig(config);
    const clusterId = options.clusterId ?? clusterIdDefault;
    parseAddressList(options.coordinator);
    if (options.advertise !== undefined) parseAddress(options.advertise);
    const { host, port } = parseAddress(options.listen);
    const id = replicaId(options.id);
    const service = options.service ?? keyValueService;
    const serviceProblem = serviceIdentityProblem(service, ID_BYTES_MAX);
    if (serviceProblem !== null) throw new ConfigError(`service: ${serviceProblem}`);
    const createStateMachine = options.createStateMachine ?? createKeyValueStore;
    if (typeof createStateMachine !== 'function') {
      throw new ConfigError('createStateMachine must be a function that returns a new state machine');
    }
    const logger = (options.logger ?? createLogger()).child({ component: `replica ${options.id}` });
    // Before anything reads the directory: another service's log must not be replayed.
    claimDirectoryForService(options.directory, service, keyValueService);
    const recovered = openReplicaDirectory(options.directory, {
      // Written before the exit (the log's destination is synchronous), where an operator's log
      // pipeline looks: a full disk (ENOSPC) or a failing one stops the replica, and this says why.
      fatal: (error) => {
        logger.fatal({ error: errorText(error) }, 'the write-ahead log failed; stopping');
        process.exit(1);
      },
    });
    const { log, snapshots } = recovered;
    if (recovered.repaired !== null) logger.warn({ what: recovered.repaired }, 'data directory repaired');
    for (const damaged of recovered.damagedSnapshots) {
      logger.warn({ file: damaged.file, reason: damaged.reason }, 'damaged snapshot set aside');
    }
    if (recovered.unreportedLossesDamage !== null) {
      logger.warn(
        { reason: recovered.unreportedLossesDamage },
        'the list of discarded async writes not yet on the loss record was damaged and set aside: the count of async writes lost may be short',
      );
    }
    let server: ReplicaServer | null = null;
    const listener = await listen({
      host,
      port,
      clusterId,
      frameSizeMaxBytes: config.frameSizeMaxBytes,
      ...listenSecurity(options),
      onRejected: (reason) => logRejectedHandshake(logger, reason),
      // Defence in depth beside the coordinator's check: a peer of another service never exchanges entries.
      admit: (peer) =>
        peer.kind === 'replica' && !sameService(peer.service, service)
          ? `replica ${peer.id} runs service ${describeService(peer.service)}, but replica ${id} runs ${describeService(service)}`
          : null,
      onConnection: (peer, connection, principal) => {
        if (server === null) connection.close();
        else if (peer.kind === 'client') server.acceptClient(connection, principal);
        else if (peer.kind === 'replica') server.acceptPeer(peer.id, connection);
        else connection.fail(ErrorCode.badFrame, 'a coordinator does not dial replicas');
      },
    });
    const startedAtMs = performance.now();
    const clock = () => (performance.now() - startedAtMs) / config.tickMs;
    const incarnation = randomInt(2 ** 47);
    const core = new Replica({
      id,
      incarnation,
      directory: recovered.identity,
      clock,
      address: options.advertise ?? listener.address,
      config: config.protocol,
      createStateMachine,
      recovered: {
        snapshot: recovered.snapshot,
        entries: recovered.entries,
        unreportedLosses: recovered.unreportedLosses,
      },
      readSnapshot: () => snapshots.readNewestPayload(),
      msPerTick: config.tickMs,
      ...(options.formatLevel === undefined ? {} : { formatLevel: options.formatLevel }),
    });
    const peers = new PeerLinks(
      id,
      clusterId,
      service,
      config,
      (to, reason) => server?.logRefusal(`replica ${to}`, reason),
      options.tls,
      options.clusterSecret,
    );
    server = new ReplicaServer(core, log, snapshots, listener, peers, {
      ...options,
      clusterId,
      config,
      service,
      logger,
      leaseRecord: LeaseRecord.open(
        process.env[TEST_LEASE_RECORD_VARIABLE],
        id,
        incarnation,
        clock,
        config.tickMs,
      ),
    });
    logger.info(
      {
        address: listener.address,
        service,
        directory: recovered.identity,
        snapshotIndex: recovered.snapshot?.info.position.index ?? 0,
        recoveredEntries: recovered.entries.length,
        tornBytesDropped: recovered.tornBytesDropped,
        // Discarded async writes from before the restart, reported again until they are on record.
        unreportedAsyncLosses: core.unreportedLossCount,
        // Whether, never what: the tokens and the secret are not logged.
        clientTokens: options.credentials === undefined ? 'not asked' : options.credentials.counts,
        clusterSecret: options.clusterSecret !== undefined,
      },
      'started',
    );
    if (options.advertise === undefined && (host === '0.0.0.0' || host === '::')) {
      // Peers and clients dial what the coordinator lists: a wildcard reaches only this machine.
      logger.warn(
        { address: listener.address },
        'listening on every interface without --advertise: other machines cannot dial the address the coordinator lists; pass --advertise HOST:PORT',
      );
    }
    return server;
  }

  get address(): string {
    return this.listener.address;
  }

  /** The address the coordinator is told: --advertise, else where it listens. */
  get advertisedAddress(): string {
    return this.options.advertise ?? this.listener.address;
  }

  /**
   * How code in this process (the Redis port) reaches this replica without a socket: its address as
   * views list it, and a connection over an in-process link, served like any accepted one.
   */
  get localLink(): LocalLink {
    const listener = this.listener;
    return { address: this.options.advertise ?? listener.address, connect: () => listener.connectLocal() };
  }

  /** The role the core holds now (allocates nothing, unlike `status`). */
  get role(): Role {
    return this.core.currentRole;
  }

  /** The service this replica runs, as it names it in handshakes. */
  get service(): ServiceIdentity {
    return this.options.service;
  }

  /** The core's view of itself, for tests and status pages. */
  status() {
    return this.core.status();
  }

  /** What its disk is doing: a snapshot being written, how the last write ended (INFO persistence). */
  persistence(): { readonly writingSnapshot: boolean; readonly lastSnapshotWriteFailed: boolean | null } {
    return { writingSnapshot: this.writingSnapshot, lastSnapshotWriteFailed: this.lastSnapshotWriteFailed };
  }

  /** The state machine's size, if its service measures it (the Redis port's INFO keyspace). */
  stateSize(): StateSize | null {
    return this.core.stateSize();
  }

  /** The replica's data directory (its disk's space is a metric). */
  get dataDirectory(): string {
    return this.options.directory;
  }

  /** Tells the coordinator, from the next heartbeat, where this replica's Redis port takes clients. */
  announceRedisAddress(address: string): void {
    this.core.announceRedisAddress(address);
  }

  /** Everything the admin port reports, at the moment it asks (allocates: never on the hot path). */
  inspect(): ReplicaInspection {
    const status = this.core.status();
    const { config } = this.options;
    const describeTicks = (ticks: number) => `${Math.round(ticks * config.tickMs)} ms`;
    return {
      status,
      address: this.advertisedAddress,
      redisAddress: this.core.redisAddress,
      problem: healthProblem(0, status, config.protocol, describeTicks),
      backups: this.core.backupProgress().map((backup) => ({
        ...backup,
        behindSeconds: (backup.behindTicks * config.tickMs) / 1000,
      })),
      asyncAtRisk: this.core.asyncAtRisk(),
      service: this.options.service,
      viewsAdopted: this.core.viewsAdopted,
      primaryChanges: this.core.primaryChanges,
      stalls: this.stalls,
      failureTimeoutTicks: config.protocol.failureTimeoutTicks,
      stateSize: this.core.stateSize(),
      snapshotWriteFailures: this.core.snapshotWriteFailures,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.fetcher.close();
    this.snapshotServer.close();
    this.coordinatorConnection?.close();
    this.peers.close();
    await this.listener.close();
    await this.snapshotWork;
    await this.log.close();
  }

  // ---- connections -----------------------------------------------------------------------------

  /** `principal`: who the client's token proved, or null when this replica asks for no token. */
  private acceptClient(connection: MessageConnection, principal: Principal | null): void {
    const id = connectionId(this.nextConnection++);
    const inFlight = new InFlightRequests(this.timings.requests);
    this.clients.set(id, { connection, inFlight });
    if (this.clientReadsPaused) connection.pause();
    connection.onClose = (error) => {
      this.clients.delete(id);
      logIfClosedForBadInput(this.logger, error);
    };
    connection.onMessage = (raw) => {
      try {
        if (isSaveMessage(raw)) {
          this.saves.onMessage(connection, principal, parseSaveClientMessage(raw));
          return;
        }
        const request = parseClientRequest(raw);
        if (principal !== null && !ownsClientId(principal, request.clientId)) {
          refuseForeignClientId(connection, request.id, principal);
          return;
        }
        inFlight.started(request, performance.now());
        this.core.receiveRequest(id, request);
      } catch (error) {
        refuseBadInput(connection, error);
        return;
      }
      this.pauseClientReadsIfBusy();
      this.scheduleFlush();
    };
  }

  private acceptPeer(from: ReplicaId, connection: MessageConnection): void {
    connection.onClose = (error) => logIfClosedForBadInput(this.logger, error);
    connection.onMessage = (raw) => {
      try {
        if (isTransferMessage(raw)) {
          const message = parseTransferMessage(raw);
          if (message.type === 'snapshot_read')
            this.snapshotServer.onRead({ kind: 'learner', id: from }, message);
          else this.fetcher.onMessage(from, message);
          return;
        }
        this.core.receiveFromPeer(from, parsePeerMessage(raw));
      } catch (error) {
        refuseBadInput(connection, error);
        return;
      }
      this.scheduleFlush();
    };
  }

  private connectCoordinator(): void {
    if (this.closed) return;
    const hello = {
      type: 'hello',
      clusterId: this.options.clusterId,
      protocolVersion: PROTOCOL_VERSION,
      peer: {
        kind: 'replica',
        id: this.core.id,
        service: this.options.service,
        rules: commitRulesOf(this.options.config.protocol),
      },
      ...(this.options.clusterSecret === undefined
        ? {}
        : { credential: this.options.clusterSecret.presented }),
    } as const;
    const retry = (delayMs = this.options.config.reconnectDelayMs) =>
      setTimeout(() => this.connectCoordinator(), delayMs);
    const tls =
      this.options.tls === undefined
        ? {}
        : { tls: this.options.tls, expectPeer: { kind: 'coordinator' } as const };
    const coordinators = parseAddressList(this.options.coordinator);
    dialFirst(coordinators, this.coordinatorIndex, hello, { timeoutMs: 2_000, ...tls }).then(
      ({ connection, index }) => {
        this.coordinatorIndex = index;
        if (this.closed) {
          connection.close();
          return;
        }
        this.coordinatorConnection = connection;
        this.coordinatorConnectedAtMs = performance.now();
        connection.onMessage = (raw) => {
          try {
            this.core.receiveFromCoordinator(parseCoordinatorToReplica(raw));
          } catch (error) {
            refuseBadInput(connection, error);
            return;
          }
          this.scheduleFlush();
        };
        connection.onClose = (error) => {
          this.coordinatorConnection = null;
          logIfClosedForBadInput(this.logger, error);
          retry();
        };
      },
      (error: unknown) => {
        if (!(error instanceof HandshakeError)) {
          retry();
          return;
        }
        this.logRefusal('the coordinator', error.message);
        retry(refusedRetryDelayMs);
      },
    );
  }

  /** A refused handshake is a setting to fix (another service or cluster): said once per reason, as an error. */
  private logRefusal(who: string, reason: string): void {
    if (this.closed || this.refusalsLogged.has(reason)) return;
    this.refusalsLogged.add(reason);
    this.logger.error({ reason }, `${who} refused this replica`);
  }

  /**
   * A connection on which nothing arrives may be half open (a peer that vanished, a one-way cut):
   * dial again, so that the coordinator we talk to is one that can still answer.
   */
  private redialCoordinatorIfSilent(): void {
    const { config } = this.options;
    const connection = this.coordinatorConnection;
    if (connection === null || connection.isClosed) return;
    // Silent since this connection opened, not merely since we last heard anything.
    const connectedTicks = (performance.now() - this.coordinatorConnectedAtMs) / config.tickMs;
    const silentTicks = Math.min(this.core.coordinatorSilentTicks, connectedTicks);
    if (silentTicks > 2 * config.protocol.failureTimeoutTicks) {
      // Destroyed, not ended: an end waits for a peer that may never answer; onClose dials again.
      connection.destroy();
    }
  }

  /**
   * At debug level, the views this replica adopted, with its role in each: the coordinator logs each
   * view change once, with why; this says when a replica followed. Checked once a tick (a comparison),
   * never per message.
   */
  private logAdoptedView(): void {
    if (this.core.viewsAdopted === this.viewsLogged) return;
    this.viewsLogged = this.core.viewsAdopted;
    if (!this.logger.isLevelEnabled('debug')) return;
    const { view, role } = this.core.status();
    this.logger.debug({ view: view?.number ?? null, role, primary: view?.primary ?? null }, 'adopted a view');
  }

  // ---- backpressure ----------------------------------------------------------------------------

  private pauseClientReadsIfBusy(): void {
    const { config } = this.options;
    const limit = config.protocol.pendingRequestsMax * config.clientReadsPauseShare;
    if (this.clientReadsPaused || this.core.waitingRequests < limit) return;
    this.clientReadsPaused = true;
    for (const { connection } of this.clients.values()) connection.pause();
  }

  private resumeClientReadsIfCalm(): void {
    const { config } = this.options;
    const limit = config.protocol.pendingRequestsMax * config.clientReadsResumeShare;
    if (!this.clientReadsPaused || this.core.waitingRequests > limit) return;
    this.clientReadsPaused = false;
    for (const { connection } of this.clients.values()) {
      // Resuming delivers what waited, which may fill the queue again.
      if (this.clientReadsPaused) break;
      connection.resume();
    }
  }

  // ---- effects ---------------------------------------------------------------------------------

  private store(operation: StorageOperation): void {
    switch (operation.kind) {
      case 'append':
        this.log.append(operation.entries);
        return;
      case 'truncate':
        this.log.truncateAfter(operation.afterIndex);
        return;
      case 'compact':
        this.log.compactThrough(operation.throughIndex);
        if (crashPoint === 'after-compact') {
          // Once the compaction's segment deletions are durable (the log reports them in order).
          const onDurable = this.log.onDurable;
          this.log.onDurable = (position) => {
            onDurable(position);
            crashIfAt('after-compact');
          };
        }
        return;
      case 'reset':
        this.log.resetTo(operation.position);
        return;
      case 'unreported-losses':
        // Synchronous, so it is on disk before the truncation or reset after it is even queued; rare
        // (after a failover, and when the record catches up). A failure is fatal, as in the log.
        try {
          writeUnreportedLosses(this.options.directory, operation.entries);
        } catch (error) {
          this.logger.fatal(
            { error: errorText(error) },
            'writing the unreported async losses failed; stopping',
          );
          process.exit(1);
        }
        this.logUnreportedLosses(operation.entries.length);
        return;
      case 'snapshot': {
        const { position, payload } = operation;
        crashIfAt('before-snapshot');
        this.afterSnapshotWork(async () => {
          let info: SnapshotInfo;
          this.writingSnapshot = true;
          try {
            info = await this.snapshots.write(position, payload);
          } catch (error) {
            this.lastSnapshotWriteFailed = true;
            this.snapshotWriteFailed(position, error);
            return;
          } finally {
            this.writingSnapshot = false;
          }
          this.lastSnapshotWriteFailed = false;
          crashIfAt('snapshot-written');
          this.core.snapshotWritten(info);
        });
        return;
      }
      case 'keep-snapshot': {
        const { position, retained } = operation;
        this.afterSnapshotWork(async () => {
          await this.snapshots.keep(position, [...retained, ...this.saves.beingRead()]);
          crashIfAt('snapshot-kept');
          this.core.snapshotKept(position);
        });
        return;
      }
    }
  }

  /** Says when async writes were discarded (each may have been acknowledged), and when all are on record. */
  private logUnreportedLosses(count: number): void {
    const before = this.unreportedLosses;
    this.unreportedLosses = count;
    if (count > before) {
      this.logger.warn(
        { discarded: count - before, unreported: count },
        'async writes discarded after a failover: reporting them to the primary for the loss record (asyncLost)',
      );
    } else if (count === 0 && before > 0) {
      this.logger.info('every discarded async write is on the loss record');
    }
  }

  /**
   * A snapshot could not be written (the store removed what it wrote). Not fatal, unlike the log: no
   * write was acknowledged on the strength of it, and the log still holds every entry since the last
   * kept snapshot, so the replica serves on and tries again later. On a disk that fills up, the
   * snapshot, which needs room for the whole state at once, is often the first write to find none
   * while the log's appends of a few kilobytes still fit: stopping there would put every replica of
   * a cluster with equal disks in a loop of restarts and failed snapshots while its log still had room.
   */
  private snapshotWriteFailed(position: LogPosition, error: unknown): void {
    const reason = errorText(error);
    const retryTicks = this.core.snapshotFailed(position);
    const retryInSeconds = Math.round(retryTicks * this.options.config.tickMs) / 1000;
    this.logger.warn({ error: reason, index: position.index, retryInSeconds }, snapshotWriteFailedMessage);
    this.saves.snapshotFailed(reason);
  }

  /**
   * Runs snapshot file work after what was asked before it. A failure that reaches here (keeping a
   * written snapshot: a rename and a directory fsync) is fatal, as in the log: the process stops
   * rather than trust a directory whose changes may not be on disk.
   */
  private afterSnapshotWork(work: () => Promise<void>): void {
    this.snapshotWork = this.snapshotWork.then(async () => {
      if (this.closed) return;
      try {
        await work();
      } catch (error) {
        // Written before the exit: the log's destination is synchronous (logger.ts).
        this.logger.fatal({ error: errorText(error) }, 'keeping a snapshot failed; stopping');
        process.exit(1);
      }
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.closed) return;
    this.options.leaseRecord?.observe(this.core.viewNumber, this.core.primaryLeaseEndTick);
    const effects = this.core.takeEffects();
    // Peer messages first, and out before the log's write: the backups' writes and fsyncs then run
    // beside ours instead of after it. None of them says more about our disk than the log has already
    // reported durable (effects.ts). Replies still leave after the write, in the microtask after this
    // callback: the next batch's fsync should not wait behind a socket write per client.
    for (const { to, message } of effects.peerMessages) this.peers.send(to, this.core.addressOf(to), message);
    if (effects.peerMessages.length > 0 && effects.storage.length > 0) this.peers.sendQueuedNow();
    this.log.fsyncOnEventLoop = this.core.currentRole !== 'primary';
    for (const operation of effects.storage) this.store(operation);
    for (const { from, snapshot } of effects.transfers) this.fetcher.request(from, snapshot);
    for (const heartbeat of effects.heartbeats) this.coordinatorConnection?.send(heartbeat);
    const repliedAtMs = effects.replies.length === 0 ? 0 : performance.now();
    for (const { connection, reply } of effects.replies) {
      const client = this.clients.get(connection);
      if (client === undefined) continue;
      client.connection.send(reply);
      client.inFlight.answered(reply.id, repliedAtMs);
    }
    this.resumeClientReadsIfCalm();
  }
}

/**
 * A request under a client id that is not the token's: answered NOT_AUTHORIZED at once, never seen
 * by the core (so it neither opens, reads nor spends that session), and counted. The connection stays.
 */
function refuseForeignClientId(connection: MessageConnection, id: number, principal: Principal): void {
  countRequestRefusal('client_id_not_owned');
  connection.send({
    type: 'reply',
    id,
    ok: false,
    code: ErrorCode.notAuthorized,
    message: `the token of ${principal.name} may only use client ids that begin with "${principal.name}/"`,
    primary: null,
  });
}
