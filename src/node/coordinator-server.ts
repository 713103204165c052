// The coordinator process: the pure `Coordinator` wired to TCP, a timer, and a home for its state.
// A view is stored durably before any replica hears of it: messages wait behind every save made
// before them, and status (the CLI, the admin port, the Sentinel port) shows the stored state. The
// core's clock is the monotonic clock, so leases are judged by the time that passed, also after this
// process stalled. Replicas are admitted only if they run the cluster's service (cluster-service.ts).
//
// Two homes (DESIGN §4): a directory (the embedded coordinator, one process, always leading), or etcd
// (any number of processes, one leading; etcd/). With etcd, a process acts only while it leads and
// its etcd lease is surely alive (checked before every input it acts on); a standby refuses replicas
// and clients with NOT_LEADER, naming the leader, so they move on through their coordinator list.
// Each term of leadership has a core of its own, made from the state read from etcd when it began:
// like a restarted coordinator, it waits out any lease the previous leader may have granted.
//
// With credentials, every client connection brings a token, and a switchover and a forget (the
// calls that change the cluster) an admin token; with a cluster secret, a replica must bring it, so
// a process that reaches this port cannot report as a replica of the cluster.

import { BadFrameError, ConfigError } from '../errors.js';
import { commitRulesMismatch, commitRulesOf } from '../protocol/config.js';
import { Coordinator } from '../protocol/coordinator.js';
import {
  type CoordinatorEffects,
  type CoordinatorState,
  emptyCoordinatorState,
  type ForgetOutcome,
  type SwitchoverOutcome,
} from '../protocol/effects.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { BASE_FORMAT_LEVEL } from '../protocol/format-level.js';
import type { ForgetReply, Hello, PeerKind, StatusReply, SwitchoverReply } from '../protocol/messages.js';
import { type ReplicaId, replicaId } from '../protocol/types.js';
import type { ViewTransition } from '../protocol/view-change.js';
import {
  type ClusterSecret,
  type Credentials,
  countRequestRefusal,
  type Listener,
  listen,
  listenSecurity,
  type MessageConnection,
  PROTOCOL_VERSION,
  type Principal,
  parseAddress,
  parseCoordinatorRequest,
  parseHeartbeat,
  type Refusal,
  type TlsMaterial,
} from '../transport/index.js';
import { logIfClosedForBadInput, logRejectedHandshake, refuseBadInput } from './bad-input.js';
import { ClusterServiceRecord, type ServiceRecord } from './cluster-service.js';
import { checkNodeConfig, clusterIdDefault, defaultNodeConfig, type NodeConfig } from './config.js';
import { EtcdClient, type EtcdTls } from './etcd/etcd-client.js';
import { ETCD_LEASE_SECONDS_DEFAULT, EtcdLeadership } from './etcd/etcd-leadership.js';
import { type EtcdKeys, EtcdStateHome, etcdKeysOf } from './etcd/etcd-state-home.js';
import { type SentinelPeer, SentinelRegistry } from './etcd/sentinel-registry.js';
import { LeaderStatus } from './leader-status.js';
import { createLogger, errorText, type Logger } from './logger.js';
import { diskStallCause, type StallCounts, StallWatch } from './stall-watch.js';
import { StateStore } from './state-store.js';
import { logViewTransition } from './view-log.js';

/** The etcd home: where etcd is, and how long this process's leadership lease lasts. */
export interface EtcdHomeOptions {
  /** Every etcd member's client URL (http://host:port). */
  readonly endpoints: readonly string[];
  /** The etcd lease that holds the leadership (etcd raises it to its minimum, 2 s by default). */
  readonly leaseSeconds?: number;
  /** How often a standby looks for a leader to replace. */
  readonly pollMs?: number;
  /** One etcd request to one member, before the next member is tried. */
  readonly requestTimeoutMs?: number;
  /** Over https: the CA to trust and the client certificate to present (etcd's --client-cert-auth). */
  readonly tls?: EtcdTls;
}

const etcdPollMsDefault = 250;
/** Taken off what the leadership lease is known to last: scheduling delays and clock rates. */
const etcdLeaseMarginMs = 500;

export interface CoordinatorServerOptions {
  readonly listen: string;
  /** The directory home: its state is kept here. Give this or `etcd`. */
  readonly directory?: string;
  /** The etcd home: the state lives in etcd, and this process leads only while elected there. */
  readonly etcd?: EtcdHomeOptions;
  /** With `etcd`: the address the others tell replicas and clients to dial (default: the listening address). */
  readonly advertise?: string;
  readonly clusterId?: string;
  readonly config?: NodeConfig;
  /**
   * The operator's consent to rebuild the view from the replicas if the state directory lost it:
   * every replica of the cluster (each must report first).
   */
  readonly recoverFromReplicas?: readonly string[];
  /**
   * The directory may be empty because this is a new cluster: store an empty state and form the
   * first view. Without it an empty directory means lost state, and the coordinator refuses to act.
   */
  readonly newCluster?: boolean;
  /** Where it logs (a child logger is made for it); default: `info` and above, JSON lines on stderr. */
  readonly logger?: Logger;
  /** Mutual TLS with the cluster's CA: replicas must present certificates naming the id they say. */
  readonly tls?: TlsMaterial;
  /** Client and admin tokens (a credentials file): without them, clients need none and anyone may switch over. */
  readonly credentials?: Credentials;
  /** The secret every replica must bring in its Hello (one of them, while the secret changes). */
  readonly clusterSecret?: ClusterSecret;
}

/** What the coordinator knows, read when the admin port is asked. */
export interface CoordinatorInspection {
  /** What `understudy status` is answered. */
  readonly status: StatusReply;
  /**
   * Since this process started, whatever terms it led: views it stored and told; those that named
   * another primary than the view before because the primary failed (failovers); and planned
   * switchovers that installed their view.
   */
  readonly viewsInstalled: number;
  readonly primariesReplaced: number;
  readonly switchoversDone: number;
  /** Times this process did not run for a while, whether or not it leads. */
  readonly stalls: StallCounts;
}

/** One term of leadership: a core made from the state read when it began, and where it saves. */
interface Term {
  readonly core: Coordinator;
  /** Its clock's reading (in ticks) at a performance.now() time. */
  readonly ticksAt: (ms: number) => number;
  /** Resolves once the state is stored; rejects when it cannot be (this process no longer leads). */
  readonly save: (state: CoordinatorState) => void | Promise<void>;
  readonly service: ServiceRecord;
  /**
   * The state last stored, which status answers from: the core's own runs ahead of it while a save
   * is on its way to etcd (and stays ahead if etcd refuses it), and no replica hears of that yet.
   */
  stored: CoordinatorState;
}

/** What status asks are answered in `term`: its stored state, and the cluster's service. */
function statusOf(term: Term, requestId: number): StatusReply {
  return { ...term.core.status(requestId, term.stored), service: term.service.service };
}

export class CoordinatorServer {
  private readonly replicas = new Map<ReplicaId, MessageConnection>();
  private readonly clients = new Set<MessageConnection>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private problemLogged: string | null = null;
  /** Clients waiting for the switchover under way to end. */
  private switchoverWaiters: { readonly connection: MessageConnection; readonly id: number }[] = [];
  /** Told of each new view (the admin dashboard's timeline), after it is stored and sent. */
  private readonly viewListeners = new Set<() => void>();
  private viewNumberAnnounced: number | null = null;
  /** Counted as views are told (after their save), so they agree with status and the log. */
  private readonly viewCounts = { viewsInstalled: 0, primariesReplaced: 0, switchoversDone: 0 };
  /** The term this process leads in; with the directory home, always the one it started with. */
  private term: Term | null = null;
  /** Effects waiting for a save before them to be stored (the etcd home saves asynchronously). */
  private outbox: Promise<void> | null = null;
  /** Null with the directory home. */
  private leadership: EtcdLeadership | null = null;
  private etcdClient: EtcdClient | null = null;
  private etcdKeys: EtcdKeys | null = null;
  private listener: Listener | null = null;
  private readonly stalls: StallWatch;
  /** The directory home's store (null on etcd): its saves run on the event loop. */
  private stateStore: StateStore | null = null;
  /** How this process dials another coordinator (a standby, the leader): as members dial. */
  private peerDialing: { readonly hello: Hello; readonly tls?: TlsMaterial } | null = null;

  private constructor(
    private readonly logger: Logger,
    private readonly config: NodeConfig,
    /** Where the directory home keeps the state (null on etcd): its disk's space is a metric. */
    readonly dataDirectory: string | null,
  ) {
    this.stalls = StallWatch.forNode(logger, config, (stalledMs) =>
      diskStallCause(this.stateStore?.takeLongestSaveMs() ?? 0, stalledMs, 'a save of the coordinator state'),
    );
    this.timer = setInterval(() => {
      this.stalls.tick();
      const term = this.acting();
      if (term === null) return;
      term.core.tick();
      this.flush(term);
    }, config.tickMs);
  }

  static async start(options: CoordinatorServerOptions): Promise<CoordinatorServer> {
    const config = options.config ?? defaultNodeConfig;
    checkNodeConfig(config);
    const { host, port } = parseAddress(options.listen);
    if (options.advertise !== undefined) parseAddress(options.advertise);
    const logger = (options.logger ?? createLogger()).child({ component: 'coordinator' });
    const { directory, etcd } = options;
    if ((directory === undefined) === (etcd === undefined)) {
      throw new ConfigError('a coordinator keeps its state in a directory or in etcd: give exactly one');
    }
    // Read and checked before the server's timer starts: a bad etcd setting or a damaged state file
    // then ends the process with its error, instead of leaving it running with nothing listening.
    const client =
      etcd === undefined ? null : new EtcdClient(etcd.endpoints, etcd.requestTimeoutMs, etcd.tls);
    const home = directory === undefined ? null : openDirectoryHome(directory, options.newCluster === true);
    const server = new CoordinatorServer(logger, config, directory ?? null);
    const newCore = (stored: CoordinatorState | null) => {
      const startedAtMs = performance.now();
      const ticksAt = (ms: number) => (ms - startedAtMs) / config.tickMs;
      const core = new Coordinator({
        config: config.protocol,
        stored,
        clock: () => ticksAt(performance.now()),
        recoverFromReplicas: (options.recoverFromReplicas ?? []).map(replicaId),
        describeTicks: (ticks) => `${ticks * config.tickMs} ms`,
      });
      return { core, ticksAt };
    };
    server.etcdClient = client;
    server.peerDialing = {
      hello: {
        type: 'hello',
        clusterId: options.clusterId ?? clusterIdDefault,
        protocolVersion: PROTOCOL_VERSION,
        peer: { kind: 'coordinator' },
        ...(options.clusterSecret === undefined ? {} : { credential: options.clusterSecret.presented }),
      },
      ...(options.tls === undefined ? {} : { tls: options.tls }),
    };
    if (home !== null) {
      const { store, stored, service } = home;
      server.stateStore = store;
      const save = (state: CoordinatorState): void => {
        try {
          store.save(state);
        } catch (error) {
          // A decision not stored is never told (flush releases effects only after their save), so
          // stopping keeps the promise; a restart goes on from the last state stored. Written
          // before the exit (the log's destination is synchronous): a full disk says so here.
          logger.fatal({ error: errorText(error) }, 'saving the coordinator state failed; stopping');
          process.exit(1);
        }
      };
      server.term = { ...newCore(stored), save, service, stored: stored ?? emptyCoordinatorState };
    }
    try {
      server.listener = await listen({
        host,
        port,
        clusterId: options.clusterId ?? clusterIdDefault,
        frameSizeMaxBytes: config.frameSizeMaxBytes,
        ...listenSecurity(options),
        onRejected: (reason) => logRejectedHandshake(logger, reason),
        admit: (peer) => server.admit(peer),
        onConnection: (peer, connection, principal) => {
          if (server.acting() === null) connection.close();
          else if (peer.kind === 'replica') server.acceptReplica(peer.id, connection);
          else if (peer.kind === 'client') server.acceptClient(connection, principal);
          else server.acceptCoordinator(connection, switchoverFromPeers(options));
        },
      });
    } catch (error) {
      clearInterval(server.timer);
      throw error;
    }
    if (client !== null && etcd !== undefined) {
      const keys = etcdKeysOf(options.clusterId ?? clusterIdDefault);
      server.etcdKeys = keys;
      /** Counts elections and depositions: a term's state read that arrives after either is stale. */
      let changes = 0;
      const leadership = new EtcdLeadership({
        client,
        leaderKey: keys.leader,
        address: options.advertise ?? server.listener.address,
        leaseSeconds: etcd.leaseSeconds ?? ETCD_LEASE_SECONDS_DEFAULT,
        pollMs: etcd.pollMs ?? etcdPollMsDefault,
        marginMs: etcdLeaseMarginMs,
        logger,
        onElected: (term) => {
          changes += 1;
          const election = changes;
          EtcdStateHome.open(client, keys, term, logger)
            .then(async ({ home, state }) => {
              let stored = state;
              if (stored === null && options.newCluster === true) {
                stored = emptyCoordinatorState;
                await home.save(stored);
              }
              if (election !== changes || server.closed) return; // deposed (or elected again) meanwhile
              server.term = {
                ...newCore(stored),
                save: (saved) => home.save(saved),
                service: home.serviceRecord,
                stored: stored ?? emptyCoordinatorState,
              };
              logger.info({ term, view: stored?.current?.view ?? null }, 'leading: read the state from etcd');
            })
            .catch((error: unknown) => {
              if (election === changes) leadership.depose(`could not take over: ${String(error)}`);
            });
        },
        onDeposed: (reason) => {
          changes += 1;
          server.endTerm(reason);
        },
      });
      server.leadership = leadership;
      leadership.start();
    }
    logger.info(
      {
        address: server.listener.address,
        home: etcd === undefined ? { directory } : { etcd: etcd.endpoints },
        view: server.term?.core.currentView() ?? null,
        service: server.term?.service.service ?? null,
        recoverFromReplicas: options.recoverFromReplicas ?? [],
        // Whether, never what: the tokens and the secret are not logged.
        clientTokens: options.credentials === undefined ? 'not asked' : options.credentials.counts,
        clusterSecret: options.clusterSecret !== undefined,
      },
      'started',
    );
    return server;
  }

  get address(): string {
    return this.requireListener().address;
  }

  /** Whether this process leads (always, with the directory home). */
  get leading(): boolean {
    return this.acting() !== null;
  }

  inspect(): CoordinatorInspection {
    const term = this.term;
    if (term === null) {
      return {
        status: {
          type: 'status_reply',
          id: 0,
          view: null,
          replicas: [],
          problem: this.standbyMessage(),
          asyncLost: 0,
          promotionsWithoutHolders: 0,
          formatLevel: BASE_FORMAT_LEVEL,
          service: null,
        },
        ...this.viewCounts,
        stalls: this.stalls,
      };
    }
    return { status: statusOf(term, 0), ...this.viewCounts, stalls: this.stalls };
  }

  /**
   * Calls `listener` after each new view is stored and sent to the replicas, so a watcher sees every
   * view change when it happens rather than at its next poll. Returns what stops it.
   */
  onViewChange(listener: () => void): () => void {
    this.viewListeners.add(listener);
    return () => this.viewListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.leadership?.close();
    this.etcdClient?.close();
    await this.listener?.close();
  }

  private requireListener(): Listener {
    if (this.listener === null) throw new Error('the coordinator is not listening yet');
    return this.listener;
  }

  /** The term to act in, or null when this process must not act (a standby, or a leader whose lease may have lapsed). */
  private acting(): Term | null {
    const term = this.term;
    if (term === null || this.closed) return null;
    if (this.leadership !== null) {
      if (!this.leadership.mayAct) {
        this.leadership.depose('the etcd lease was not renewed in time');
        return null;
      }
      // The core grants no lease that could outlive what this process knows of its own.
      term.core.holdAuthorityUntil(term.ticksAt(this.leadership.actsUntilMs));
    }
    return term;
  }

  private standbyMessage(): string {
    const leader = this.leadership?.leaderAddress ?? null;
    if (leader === null || leader === this.listener?.address) {
      return 'this coordinator is not leading, and no leader is known yet: try another coordinator';
    }
    return `this coordinator stands by: the leader is at ${leader}`;
  }

  private admit(peer: PeerKind): string | Refusal | null {
    const term = this.acting();
    if (term === null) return { code: ErrorCode.notLeader, message: this.standbyMessage() };
    if (peer.kind !== 'replica') return null;
    // Promotions rely on the rules every primary commits by: a replica of other rules never joins.
    const mismatch = commitRulesMismatch(commitRulesOf(this.config.protocol), peer.rules);
    if (mismatch !== null) {
      return `replica ${peer.id} ${mismatch}: start the coordinator and every replica with the same --sync-quorum and --lag-policy`;
    }
    return term.service.admit(peer.id, peer.service);
  }

  /** This process stopped leading: drop the term and every connection, so all find the new leader. */
  private endTerm(reason: string): void {
    if (this.term === null) return;
    this.term = null;
    this.outbox = null;
    this.switchoverWaiters = [];
    this.logger.warn({ reason }, 'standing by: closing the connections of the term');
    for (const connection of this.replicas.values()) connection.close();
    this.replicas.clear();
    for (const connection of this.clients) connection.close();
    this.clients.clear();
  }

  private acceptReplica(id: ReplicaId, connection: MessageConnection): void {
    this.replicas.get(id)?.close();
    this.replicas.set(id, connection);
    connection.onClose = (error) => {
      if (this.replicas.get(id) === connection) this.replicas.delete(id);
      logIfClosedForBadInput(this.logger, error);
    };
    connection.onMessage = (raw) => {
      const term = this.acting();
      if (term === null) {
        connection.close();
        return;
      }
      try {
        const heartbeat = parseHeartbeat(raw);
        if (heartbeat.replicaId !== id)
          throw new BadFrameError(`heartbeat names ${heartbeat.replicaId}, not ${id}`);
        term.core.receiveHeartbeat(heartbeat);
      } catch (error) {
        refuseBadInput(connection, error);
        return;
      }
      this.flush(term);
    };
  }

  /**
   * Another coordinator of the cluster (a standby, for its Sentinel port: LeaderStatus): it may ask
   * for the status, and hand over a SENTINEL FAILOVER it took (it checked the token that asked) when
   * `switchovers` says one may; it proved membership in the handshake as replicas do. A forget from
   * one is refused as bad input.
   */
  private acceptCoordinator(connection: MessageConnection, switchovers: string | null): void {
    this.serveInTerm(connection, (term, raw) => {
      const request = parseCoordinatorRequest(raw);
      if (request.type === 'status_request') {
        connection.send(statusOf(term, request.id));
        return;
      }
      if (request.type !== 'switchover_request')
        throw new BadFrameError(`a coordinator peer may not send ${request.type}`);
      if (switchovers !== null) {
        this.logger.warn({ to: request.to }, `a standby's switchover refused: ${switchovers}`);
        connection.send(
          switchoverReply(request.id, { ok: false, to: request.to, message: switchovers, view: null }),
        );
        return;
      }
      const refused = this.startSwitchover(term, request.to, {
        by: 'SENTINEL FAILOVER at a standby coordinator',
      });
      if (refused !== null) connection.send(switchoverReply(request.id, refused));
      else this.switchoverWaiters.push({ connection, id: request.id });
      this.flush(term);
    });
  }

  /**
   * Serves a client's or a coordinator peer's requests with `handle`, each in the term this process
   * acts in (none: the connection is closed, so the peer finds the leader); a request `handle` cannot
   * read (it throws) is refused as bad input.
   */
  private serveInTerm(connection: MessageConnection, handle: (term: Term, raw: unknown) => void): void {
    this.clients.add(connection);
    connection.onClose = (error) => {
      this.clients.delete(connection);
      logIfClosedForBadInput(this.logger, error);
    };
    connection.onMessage = (raw) => {
      const term = this.acting();
      if (term === null) {
        connection.close();
        return;
      }
      try {
        handle(term, raw);
      } catch (error) {
        refuseBadInput(connection, error);
      }
    };
  }

  /**
   * The leader's status as this process sees it while it stands by (null with the directory home,
   * where this process always leads): asked of the leader every `pollMs`, answered for `staleMs`.
   */
  followLeader(pollMs: number, staleMs: number): LeaderStatus | null {
    const leadership = this.leadership;
    const dialing = this.peerDialing;
    if (leadership === null || dialing === null) return null;
    return new LeaderStatus({
      leader: () => (this.term !== null ? null : leadership.leaderAddress),
      hello: dialing.hello,
      dialOptions: {
        timeoutMs: 2_000,
        ...(dialing.tls === undefined
          ? {}
          : { tls: dialing.tls, expectPeer: { kind: 'coordinator' } as const }),
      },
      pollMs,
      staleMs,
      logger: this.logger,
    });
  }

  /**
   * Lists this process's Sentinel port (`self`) in etcd beside the other coordinators', and reads
   * theirs every `pollMs` (null with the directory home: one coordinator, no peers).
   */
  registerSentinel(self: SentinelPeer, pollMs: number): SentinelRegistry | null {
    const { leadership, etcdClient, etcdKeys } = this;
    if (leadership === null || etcdClient === null || etcdKeys === null) return null;
    return new SentinelRegistry({
      client: etcdClient,
      prefix: etcdKeys.sentinels,
      lease: () => leadership.lease,
      self,
      pollMs,
      logger: this.logger,
    });
  }

  /** `principal`: who the client's token proved, or null when this coordinator asks for no token. */
  private acceptClient(connection: MessageConnection, principal: Principal | null): void {
    this.serveInTerm(connection, (term, raw) => {
      const request = parseCoordinatorRequest(raw);
      if (request.type === 'status_request') {
        connection.send(statusOf(term, request.id));
        return;
      }
      const by = principal === null ? {} : { by: principal.name };
      if (request.type === 'forget_request') {
        const notAdmin = notAdminRefusal(principal, 'forgetting a replica');
        if (notAdmin !== null) {
          this.logger.warn({ replica: request.replica, ...by }, 'forget refused: not an admin token');
          connection.send(forgetReply(request.id, { ok: false, message: notAdmin }));
          return;
        }
        const outcome = term.core.forgetReplica(request.replica);
        if (outcome.ok) this.logger.info({ replica: request.replica, ...by }, 'replica forgotten');
        else this.logger.warn({ replica: request.replica, reason: outcome.message, ...by }, 'forget refused');
        connection.send(forgetReply(request.id, outcome));
        this.flush(term);
        return;
      }
      const notAdmin = notAdminRefusal(principal, 'a switchover');
      if (notAdmin !== null) {
        this.logger.warn({ to: request.to, ...by }, 'switchover refused: not an admin token');
        connection.send(
          switchoverReply(request.id, { ok: false, to: request.to, message: notAdmin, view: null }),
        );
        return;
      }
      const refused = this.startSwitchover(term, request.to, by);
      if (refused !== null) connection.send(switchoverReply(request.id, refused));
      else this.switchoverWaiters.push({ connection, id: request.id });
      this.flush(term);
    });
  }

  /**
   * Asks for a switchover to `to`, as `understudy switchover` does, for a caller that checked who may
   * (the Sentinel port's `SENTINEL FAILOVER`): the refusal, or null once it is under way. Its end is
   * logged as any switchover's.
   */
  switchover(to: ReplicaId, by: string | null): SwitchoverOutcome | null {
    const term = this.acting();
    if (term === null) return { ok: false, to, message: this.standbyMessage(), view: null };
    const refused = this.startSwitchover(term, to, by === null ? {} : { by });
    this.flush(term);
    return refused;
  }

  private startSwitchover(term: Term, to: ReplicaId, by: { readonly by?: string }): SwitchoverOutcome | null {
    this.logger.info({ to, ...by }, 'switchover requested');
    const refused = term.core.requestSwitchover(to);
    if (refused !== null) this.logSwitchover(refused);
    return refused;
  }

  private logSwitchover(outcome: SwitchoverOutcome): void {
    const fields = { to: outcome.to, reason: outcome.message, view: outcome.view };
    if (outcome.ok) this.logger.info(fields, 'switchover done');
    else this.logger.warn(fields, 'switchover failed');
  }

  /**
   * Takes the core's effects and releases them once their save, and every save before it, is stored:
   * at once with the directory home (its save is synchronous), later with etcd.
   */
  private flush(term: Term): void {
    const effects = term.core.takeEffects();
    const saved = effects.save === null ? undefined : term.save(effects.save);
    if (!(saved instanceof Promise) && this.outbox === null) {
      this.release(term, effects);
      return;
    }
    const next = Promise.all([this.outbox, saved]).then(
      () => {
        if (this.term === term) this.release(term, effects);
      },
      (error: unknown) => {
        if (this.term === term)
          this.leadership?.depose(error instanceof Error ? error.message : String(error));
      },
    );
    this.outbox = next;
    void next.finally(() => {
      if (this.outbox === next) this.outbox = null;
    });
  }

  /** Sends what the core decided, its save (if any) being stored. */
  private release(term: Term, effects: CoordinatorEffects): void {
    if (effects.save !== null) term.stored = effects.save;
    // A lease granted late would outlive what the next leader waits out: a leader that may have lapsed sends nothing.
    if (this.acting() !== term) return;
    // After the save: a view is told once it is stored.
    for (const transition of effects.viewChanges) {
      logViewTransition(this.logger, transition);
      this.countViewChange(transition);
    }
    if (effects.formatLevelRaised !== null) {
      this.logger.info(
        { ...effects.formatLevelRaised, view: term.core.currentView()?.number ?? null },
        'format level raised: every member of the view reads it',
      );
    }
    for (const { id, reason } of effects.formatRefusals) {
      this.logger.warn({ replica: id, reason }, 'replica kept out of the view: its format level is too low');
    }
    const problem = term.core.problem;
    if (problem !== this.problemLogged) {
      if (problem !== null) this.logger.error({ problem }, 'not acting');
      else if (this.problemLogged !== null) this.logger.info('acting again');
      this.problemLogged = problem;
    }
    for (const { to, message } of effects.messages) this.replicas.get(to)?.send(message);
    for (const outcome of effects.switchovers) {
      this.logSwitchover(outcome);
      for (const { connection, id } of this.switchoverWaiters) connection.send(switchoverReply(id, outcome));
      this.switchoverWaiters = [];
    }
    const viewNumber = effects.save?.current?.view.number;
    if (viewNumber !== undefined && viewNumber !== this.viewNumberAnnounced) {
      this.viewNumberAnnounced = viewNumber;
      this.announceView();
    }
  }

  private countViewChange({ previous, view, cause }: ViewTransition): void {
    this.viewCounts.viewsInstalled += 1;
    if (previous === null || previous.primary === view.primary) return;
    if (cause === 'switchover') this.viewCounts.switchoversDone += 1;
    else this.viewCounts.primariesReplaced += 1;
  }

  private announceView(): void {
    for (const listener of this.viewListeners) {
      try {
        listener();
      } catch (error) {
        // A watcher (the dashboard) must never stop the coordinator from acting.
        this.logger.error({ error: String(error) }, 'a view watcher failed');
      }
    }
  }
}

/**
 * The refusal of `what` (a call that changes the cluster) to a client token, counted, or null when
 * the principal may ask it: an admin token, or no token asked for.
 */
function notAdminRefusal(principal: Principal | null, what: string): string | null {
  if (principal === null || principal.role === 'admin') return null;
  countRequestRefusal('not_admin');
  return `${ErrorCode.notAuthorized}: ${what} needs an admin token; ${principal.name} is a client`;
}

function forgetReply(id: number, outcome: ForgetOutcome): ForgetReply {
  return { type: 'forget_reply', id, ok: outcome.ok, message: outcome.message };
}

/**
 * Whether a coordinator peer's switchover is taken (null), or why not: with tokens asked, a switchover
 * takes an admin token, which a standby checked; but a peer proves it is a coordinator only with a
 * cluster secret or TLS, and without either anyone could say it is one.
 */
function switchoverFromPeers(options: CoordinatorServerOptions): string | null {
  if (options.credentials === undefined) return null;
  if (options.clusterSecret !== undefined || options.tls !== undefined) return null;
  return 'tokens are asked, and coordinators prove themselves to each other only with a cluster secret or TLS: ask the leading coordinator';
}

function switchoverReply(id: number, outcome: SwitchoverOutcome): SwitchoverReply {
  return { type: 'switchover_reply', id, ok: outcome.ok, message: outcome.message, view: outcome.view };
}

/** The directory home's state and service record, read at start (a new cluster's state stored at once). */
function openDirectoryHome(
  directory: string,
  newCluster: boolean,
): { store: StateStore; stored: CoordinatorState | null; service: ClusterServiceRecord } {
  const store = new StateStore(directory);
  let stored = store.load();
  if (stored === null && newCluster) {
    // Stored at once, so that a restart before the first view is not mistaken for lost state.
    stored = emptyCoordinatorState;
    store.save(stored);
  }
  return { store, stored, service: new ClusterServiceRecord(directory) };
}
