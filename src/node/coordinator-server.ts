// The embedded coordinator process: the pure `Coordinator` wired to TCP, a timer, and a view file.
// A view is stored durably before any replica hears of it. The core's clock is the monotonic
// clock, so leases are judged by the time that passed, also after this process stalled. Replicas
// are admitted only if they run the cluster's service (cluster-service.ts). With credentials, every
// client connection brings a token and a switchover (the one call that changes the cluster) an admin
// token; with a cluster secret, a replica must bring it, so a process that reaches this port cannot
// report as a replica of the cluster.

import { BadFrameError, ErrorCode } from '../errors.js';
import { Coordinator } from '../protocol/coordinator.js';
import { emptyCoordinatorState, type SwitchoverOutcome } from '../protocol/effects.js';
import type { StatusReply, SwitchoverReply } from '../protocol/messages.js';
import { type ReplicaId, replicaId } from '../protocol/types.js';
import {
  type Credentials,
  countRequestRefusal,
  type Listener,
  listen,
  type MessageConnection,
  type Principal,
  parseAddress,
  parseCoordinatorRequest,
  parseHeartbeat,
  type TlsMaterial,
} from '../transport/index.js';
import { logIfClosedForBadInput, logRejectedHandshake, refuseBadInput } from './bad-input.js';
import { ClusterServiceRecord } from './cluster-service.js';
import { checkNodeConfig, clusterIdDefault, defaultNodeConfig, type NodeConfig } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { StateStore } from './state-store.js';
import { logViewTransition } from './view-log.js';

export interface CoordinatorServerOptions {
  readonly listen: string;
  readonly directory: string;
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
  /** The secret every replica must bring in its Hello. */
  readonly clusterSecret?: string;
}

/** What the coordinator knows, read when the admin port is asked. */
export interface CoordinatorInspection {
  /** What `understudy status` is answered. */
  readonly status: StatusReply;
  /** Since this process started. */
  readonly viewsInstalled: number;
  readonly primariesReplaced: number;
  readonly switchoversDone: number;
}

export class CoordinatorServer {
  private readonly replicas = new Map<ReplicaId, MessageConnection>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private problemLogged: string | null = null;
  /** Clients waiting for the switchover under way to end. */
  private switchoverWaiters: { readonly connection: MessageConnection; readonly id: number }[] = [];
  /** Told of each new view (the admin dashboard's timeline), after it is stored and sent. */
  private readonly viewListeners = new Set<() => void>();
  private viewNumberAnnounced: number | null = null;

  private constructor(
    private readonly core: Coordinator,
    private readonly store: StateStore,
    private readonly listener: Listener,
    private readonly logger: Logger,
    config: NodeConfig,
  ) {
    this.timer = setInterval(() => {
      this.core.tick();
      this.flush();
    }, config.tickMs);
  }

  static async start(options: CoordinatorServerOptions): Promise<CoordinatorServer> {
    const config = options.config ?? defaultNodeConfig;
    checkNodeConfig(config);
    const { host, port } = parseAddress(options.listen);
    const logger = (options.logger ?? createLogger()).child({ component: 'coordinator' });
    const store = new StateStore(options.directory);
    let stored = store.load();
    if (stored === null && options.newCluster === true) {
      // Stored at once, so that a restart before the first view is not mistaken for lost state.
      stored = emptyCoordinatorState;
      store.save(stored);
    }
    const startedAtMs = performance.now();
    const core = new Coordinator({
      config: config.protocol,
      stored,
      clock: () => (performance.now() - startedAtMs) / config.tickMs,
      recoverFromReplicas: (options.recoverFromReplicas ?? []).map(replicaId),
      describeTicks: (ticks) => `${ticks * config.tickMs} ms`,
    });
    const clusterService = new ClusterServiceRecord(options.directory);
    let server: CoordinatorServer | null = null;
    const listener = await listen({
      host,
      port,
      clusterId: options.clusterId ?? clusterIdDefault,
      frameSizeMaxBytes: config.frameSizeMaxBytes,
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      access: {
        ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
        ...(options.clusterSecret === undefined ? {} : { clusterSecret: options.clusterSecret }),
      },
      onRejected: (reason) => logRejectedHandshake(logger, reason),
      // A replica of another service never reports, so it never joins a view.
      admit: (peer) => (peer.kind === 'replica' ? clusterService.admit(peer.id, peer.service) : null),
      onConnection: (peer, connection, principal) => {
        if (server === null) connection.close();
        else if (peer.kind === 'replica') server.acceptReplica(peer.id, connection);
        else if (peer.kind === 'client') server.acceptClient(connection, principal);
        else connection.close();
      },
    });
    server = new CoordinatorServer(core, store, listener, logger, config);
    logger.info(
      {
        address: listener.address,
        view: core.currentView(),
        service: clusterService.service,
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
    return this.listener.address;
  }

  inspect(): CoordinatorInspection {
    return {
      status: this.core.status(0),
      viewsInstalled: this.core.viewsInstalled,
      primariesReplaced: this.core.primariesReplaced,
      switchoversDone: this.core.switchoversDone,
    };
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
    await this.listener.close();
  }

  private acceptReplica(id: ReplicaId, connection: MessageConnection): void {
    this.replicas.get(id)?.close();
    this.replicas.set(id, connection);
    connection.onClose = (error) => {
      if (this.replicas.get(id) === connection) this.replicas.delete(id);
      logIfClosedForBadInput(this.logger, error);
    };
    connection.onMessage = (raw) => {
      try {
        const heartbeat = parseHeartbeat(raw);
        if (heartbeat.replicaId !== id)
          throw new BadFrameError(`heartbeat names ${heartbeat.replicaId}, not ${id}`);
        this.core.receiveHeartbeat(heartbeat);
      } catch (error) {
        refuseBadInput(connection, error);
        return;
      }
      this.flush();
    };
  }

  /** `principal`: who the client's token proved, or null when this coordinator asks for no token. */
  private acceptClient(connection: MessageConnection, principal: Principal | null): void {
    connection.onClose = (error) => logIfClosedForBadInput(this.logger, error);
    connection.onMessage = (raw) => {
      try {
        const request = parseCoordinatorRequest(raw);
        if (request.type === 'status_request') {
          connection.send(this.core.status(request.id));
          return;
        }
        if (principal !== null && principal.role !== 'admin') {
          countRequestRefusal('not_admin');
          this.logger.warn({ to: request.to, by: principal.name }, 'switchover refused: not an admin token');
          connection.send(
            switchoverReply(request.id, {
              ok: false,
              to: request.to,
              message: `${ErrorCode.notAuthorized}: a switchover needs an admin token; ${principal.name} is a client`,
              view: null,
            }),
          );
          return;
        }
        this.logger.info(
          { to: request.to, ...(principal === null ? {} : { by: principal.name }) },
          'switchover requested',
        );
        const refused = this.core.requestSwitchover(request.to);
        if (refused !== null) {
          this.logSwitchover(refused);
          connection.send(switchoverReply(request.id, refused));
        } else {
          this.switchoverWaiters.push({ connection, id: request.id });
        }
        this.flush();
      } catch (error) {
        refuseBadInput(connection, error);
      }
    };
  }

  private logSwitchover(outcome: SwitchoverOutcome): void {
    const fields = { to: outcome.to, reason: outcome.message, view: outcome.view };
    if (outcome.ok) this.logger.info(fields, 'switchover done');
    else this.logger.warn(fields, 'switchover failed');
  }

  private flush(): void {
    const effects = this.core.takeEffects();
    if (effects.save !== null) this.store.save(effects.save);
    // After the save: a view is told once it is stored.
    for (const transition of effects.viewChanges) logViewTransition(this.logger, transition);
    const problem = this.core.problem;
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

function switchoverReply(id: number, outcome: SwitchoverOutcome): SwitchoverReply {
  return { type: 'switchover_reply', id, ok: outcome.ok, message: outcome.message, view: outcome.view };
}
