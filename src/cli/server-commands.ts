// The server commands: `coordinator` and `replica` run one process in the foreground; `start` runs
// a whole local cluster as separate child processes of this same CLI, so that `kill -9` of one
// replica is a real crash and the rest keep serving.
//
// The server classes are imported lazily: the one-shot client commands never load them.

import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CLUSTER_ID_DEFAULT } from '../client/index.js';
import { ConfigError } from '../errors.js';
import { type ClusterSettings, clusterSettingArguments } from '../node/cluster-settings.js';
import { defaultNodeConfig, type NodeConfig } from '../node/config.js';
import type { EtcdHomeOptions } from '../node/coordinator-server.js';
import type { SentinelPeer, SentinelRegistry } from '../node/etcd/sentinel-registry.js';
import type { LeaderStatus } from '../node/leader-status.js';
import { createLogger, errorText, type Logger, type LogLevel } from '../node/logger.js';
import type { ReplicaServiceOptions } from '../node/replica-server.js';
import { isPathSpecifier, type LoadedService, loadServiceModule } from '../node/service-module.js';
import { defaultProtocolConfig, syncQuorumAll } from '../protocol/config.js';
import type { SwitchoverOutcome } from '../protocol/effects.js';
import type { StatusReply } from '../protocol/messages.js';
import { describeService } from '../protocol/service-identity.js';
import type { StateSize } from '../protocol/state-machine.js';
import type { ReplicaId, Role } from '../protocol/types.js';
import type { LocalPersistence, LocalReplica } from '../resp/index.js';
import {
  type AccessPolicy,
  dialableAddress,
  formatAddress,
  type LocalLink,
  type TlsMaterial,
} from '../transport/index.js';
import { serverAccess } from './auth-files.js';
import { address, exitCode, PORT_MAX } from './options.js';
import { packageVersion } from './package-version.js';
import { reloadFiles } from './reload.js';
import { serverNodeFlags } from './server-node-flags.js';
import { type SchedulingPolicy, spawnServer } from './server-spawn.js';
import { addSettings, settingVariables } from './settings/command-settings.js';
import {
  CLUSTER_ADMIN_PORT_OFFSET,
  CLUSTER_HOST_DEFAULT,
  CLUSTER_PORT_DEFAULT,
  RESP_PORT_BASE,
  type RespReadPlace,
  SENTINEL_PORT_DEFAULT,
} from './settings/server-settings.js';
import { etcdTlsMaterial, serverTlsMaterial, type TlsFlags, tlsArgumentsFrom } from './tls-files.js';

// The flags, their defaults and limits are in the settings table (settings/server-settings.ts).
export {
  backupLagMaxMsMin,
  CLUSTER_ADMIN_PORT_OFFSET,
  CLUSTER_DIRECTORY_DEFAULT,
  CLUSTER_HOST_DEFAULT,
  CLUSTER_PORT_DEFAULT,
  CLUSTER_REPLICAS_DEFAULT,
  CLUSTER_REPLICAS_MAX,
  failureTimeoutMsMin,
  RESP_PORT_BASE,
} from './settings/server-settings.js';

/** How long `start` waits for children to stop after SIGTERM before it sends SIGKILL. */
export const CHILD_STOP_GRACE_MS = 5000;

/** What every server prints once it listens; `start` waits for it from each child. */
const READY_MARKER = ' listening on ';
/** What a replica with a Redis port prints, before its ready line (it must not contain READY_MARKER). */
const RESP_MARKER = ' Redis protocol on ';
/** What a coordinator with a Sentinel port prints, before its ready line. */
const SENTINEL_MARKER = ' Sentinel protocol on ';
const cliScript = fileURLToPath(new URL('./main.js', import.meta.url));

interface Closable {
  readonly address: string;
  close(): Promise<void>;
}

/** Every server command's log level. */
interface LogFlags {
  readonly logLevel: LogLevel;
}

interface ServerFlags extends LogFlags {
  readonly listen: string;
  readonly dir: string;
  readonly clusterId: string;
  readonly admin?: string;
}

interface CoordinatorFlags extends Omit<ServerFlags, 'dir'>, ClusterSettings, TlsFlags {
  /** Where its state lives: a directory, or etcd (exactly one of them). */
  readonly dir?: string;
  readonly etcd?: string[];
  readonly etcdLeaseSeconds?: number;
  readonly etcdCa?: string;
  readonly etcdCert?: string;
  readonly etcdKey?: string;
  readonly advertise?: string;
  readonly adminTls?: boolean;
  readonly recoverFromReplicas?: string[];
  readonly newCluster?: boolean;
  readonly replicaAdmins?: string[];
  readonly sentinel?: string;
  readonly sentinelTls?: boolean;
}

/** What a replica keeps and forgets: snapshots, sessions, transfers (each has a default). */
interface RetentionFlags {
  readonly snapshotLogBytes?: number;
  readonly snapshotRetryMs?: number;
  readonly sessionsMax?: number;
  readonly sessionIdleSeconds?: number;
  readonly transferRate?: number;
}

/** The service a replica runs: a module whose default export is a StateMachineFactory. */
interface ServiceFlags {
  readonly service?: string;
}

interface ReplicaFlags extends ServerFlags, RetentionFlags, ClusterSettings, ServiceFlags, TlsFlags {
  readonly id: string;
  readonly coordinator: string;
  readonly advertise?: string;
  readonly resp?: string;
  readonly respAdvertise?: string;
  readonly adminTls?: boolean;
  readonly respTls?: boolean;
  readonly respReads: RespReadPlace;
  readonly respReadStalenessMs: number;
  readonly formatLevel: number;
}

interface StartFlags extends RetentionFlags, ClusterSettings, ServiceFlags, LogFlags {
  readonly respReads: RespReadPlace;
  readonly respReadStalenessMs: number;
  readonly replicas: number;
  readonly dir: string;
  readonly port: number;
  readonly host: string;
  readonly clusterId: string;
  readonly respPort?: number;
  readonly sentinelPort?: number;
  readonly adminPort?: number;
  readonly tlsDir?: string;
  readonly scheduling: SchedulingPolicy;
  /** A saved snapshot to start a new cluster from (a decision for one start: no variable, no file). */
  readonly restore?: string;
}

/** The protocol settings every process of the cluster shares, from the defaults and the flags. */
function clusterProtocol(flags: ClusterSettings): NodeConfig['protocol'] {
  return {
    ...defaultProtocolConfig,
    syncQuorum: flags.syncQuorum ?? syncQuorumAll,
    lagPolicy: flags.lagPolicy ?? defaultProtocolConfig.lagPolicy,
    backupAckTimeoutTicks: ticksOf(flags.backupLagMaxMs, defaultProtocolConfig.backupAckTimeoutTicks),
    failureTimeoutTicks: ticksOf(flags.failureTimeoutMs, defaultProtocolConfig.failureTimeoutTicks),
  };
}

/** A setting in milliseconds as whole ticks (rounded up), or the default when it is not given. */
function ticksOf(ms: number | undefined, defaultTicks: number): number {
  return ms === undefined ? defaultTicks : Math.ceil(ms / defaultNodeConfig.tickMs);
}

/** The replica's settings, from the defaults, the cluster setting and the retention flags. */
function replicaConfig(flags: RetentionFlags & ClusterSettings): NodeConfig {
  const protocol = clusterProtocol(flags);
  return {
    ...defaultNodeConfig,
    transferBytesPerSecond: flags.transferRate ?? defaultNodeConfig.transferBytesPerSecond,
    protocol: {
      ...protocol,
      snapshotLogBytes: flags.snapshotLogBytes ?? protocol.snapshotLogBytes,
      snapshotRetryTicks: ticksOf(flags.snapshotRetryMs, protocol.snapshotRetryTicks),
      sessionsMax: flags.sessionsMax ?? protocol.sessionsMax,
      sessionIdleTicks:
        flags.sessionIdleSeconds === undefined
          ? protocol.sessionIdleTicks
          : Math.ceil((flags.sessionIdleSeconds * 1000) / defaultNodeConfig.tickMs),
    },
  };
}

/** The retention flags given to `start`, passed on to each replica. */
function retentionArguments(flags: RetentionFlags): string[] {
  const pairs: [string, number | undefined][] = [
    ['--snapshot-log-bytes', flags.snapshotLogBytes],
    ['--snapshot-retry-ms', flags.snapshotRetryMs],
    ['--sessions-max', flags.sessionsMax],
    ['--session-idle-seconds', flags.sessionIdleSeconds],
    ['--transfer-rate', flags.transferRate],
  ];
  return pairs.flatMap(([flag, value]) => (value === undefined ? [] : [flag, String(value)]));
}

export function addServerCommands(program: Command): void {
  const coordinator = program.command('coordinator').description('run the coordinator in the foreground');
  addSettings(coordinator, 'coordinator').action(async (flags: CoordinatorFlags, command: Command) => {
    if ((flags.dir === undefined) === (flags.etcd === undefined)) {
      command.error(
        'error: give --dir (the state in a directory) or --etcd (the state in etcd), exactly one of them',
        { exitCode: exitCode.usage, code: 'understudy.usage' },
      );
    }
    const { CoordinatorServer } = await import('../node/coordinator-server.js');
    const tls = serverTlsMaterial(flags);
    const access = serverAccess(flags);
    const adminTls = servedTls(tls, flags.adminTls, '--admin-tls');
    const sentinelTls = servedTls(tls, flags.sentinelTls, '--sentinel-tls');
    const logger = createLogger({ level: flags.logLevel });
    warnWithoutServerNodeFlags(logger, 'coordinator');
    let home: { directory: string } | { etcd: EtcdHomeOptions };
    if (flags.etcd !== undefined) {
      home = {
        etcd: {
          endpoints: flags.etcd,
          ...(flags.etcdLeaseSeconds === undefined ? {} : { leaseSeconds: flags.etcdLeaseSeconds }),
          tls: etcdTlsMaterial(flags),
        },
      };
    } else {
      for (const [value, flag] of [
        [flags.etcdCa, '--etcd-ca'],
        [flags.etcdCert, '--etcd-cert'],
        [flags.etcdKey, '--etcd-key'],
      ] as const) {
        if (value !== undefined) throw new ConfigError(`${flag} is for reaching etcd: it needs --etcd`);
      }
      const directory = resolve(flags.dir ?? '.');
      await mkdir(directory, { recursive: true });
      home = { directory };
    }
    const node = await startedOrLogged(logger, async () => {
      const server = await CoordinatorServer.start({
        listen: flags.listen,
        ...home,
        ...(flags.advertise === undefined ? {} : { advertise: flags.advertise }),
        clusterId: flags.clusterId,
        recoverFromReplicas: flags.recoverFromReplicas ?? [],
        newCluster: flags.newCluster === true,
        config: { ...defaultNodeConfig, protocol: clusterProtocol(flags) },
        logger,
        ...(tls === undefined ? {} : { tls }),
        ...access,
      });
      const node = await startAdmin(
        server,
        flags.admin,
        async (listen) => {
          const { startCoordinatorAdmin } = await import('../admin/coordinator-admin.js');
          // With --admin-tls the replicas' admin ports are HTTPS too (one setting across the cluster).
          const replicaAdminsTrust = adminTls === undefined ? undefined : tls;
          return startCoordinatorAdmin(
            server,
            listen,
            {
              replicaAdmins: flags.replicaAdmins ?? [],
              ...(replicaAdminsTrust === undefined ? {} : { replicaAdminsTrust }),
            },
            adminTls,
          );
        },
        adminTls !== undefined,
      );
      return flags.sentinel === undefined
        ? node
        : await withSentinelPort(node, flags, server, logger, sentinelTls, access);
    });
    await serveUntilSignal(node, 'understudy coordinator', () => reloadFiles(logger, flags, access, tls));
  });

  const replica = program.command('replica').description('run one replica in the foreground');
  addSettings(replica, 'replica').action(async (flags: ReplicaFlags, command: Command) => {
    if (flags.resp !== undefined && flags.service !== undefined) {
      // Commander refuses the two flags together; a config file can still name both.
      command.error("error: option '--resp <[host:]port>' cannot be used with option '--service <module>'", {
        exitCode: exitCode.usage,
        code: 'understudy.usage',
      });
    }
    if (flags.respAdvertise !== undefined && flags.resp === undefined) {
      command.error('error: --resp-advertise names where clients dial the Redis port: it needs --resp', {
        exitCode: exitCode.usage,
        code: 'understudy.usage',
      });
    }
    const { ReplicaServer } = await import('../node/replica-server.js');
    const loaded = flags.service === undefined ? null : await loadServiceModule(flags.service);
    const tls = serverTlsMaterial(flags);
    const access = serverAccess(flags);
    const adminTls = servedTls(tls, flags.adminTls, '--admin-tls');
    const respTls = servedTls(tls, flags.respTls, '--resp-tls');
    const logger = createLogger({ level: flags.logLevel });
    warnWithoutServerNodeFlags(logger, `replica ${flags.id}`);
    const directory = resolve(flags.dir);
    await mkdir(directory, { recursive: true });
    const service: ReplicaServiceOptions =
      loaded === null ? {} : { service: loaded.service, createStateMachine: loaded.createStateMachine };
    const served = await startedOrLogged(logger, async () => {
      const server = await ReplicaServer.start({
        id: flags.id,
        listen: flags.listen,
        coordinator: flags.coordinator,
        ...(flags.advertise === undefined ? {} : { advertise: flags.advertise }),
        clusterId: flags.clusterId,
        directory,
        config: replicaConfig(flags),
        formatLevel: flags.formatLevel,
        logger,
        ...(tls === undefined ? {} : { tls }),
        ...access,
        ...service,
      });
      const node = await startAdmin(
        server,
        flags.admin,
        async (listen) => {
          const { startReplicaAdmin } = await import('../admin/replica-admin.js');
          return startReplicaAdmin(server, listen, adminTls === undefined ? {} : { tls: adminTls });
        },
        adminTls !== undefined,
      );
      return flags.resp === undefined
        ? node
        : await withRespPort(node, flags, logger, server, tls, respTls, access);
    });
    await serveUntilSignal(served, `understudy replica ${flags.id}`, () =>
      reloadFiles(logger, flags, access, tls),
    );
  });

  const start = program
    .command('start')
    .description('run a local cluster (a coordinator and N replicas) in the foreground; Ctrl-C stops it')
    .option(
      '--restore <file>',
      'start a new cluster from a snapshot `understudy snapshot save` wrote: every replica directory ' +
        'is made from it (--dir must hold no cluster), and the coordinator rebuilds the view from them',
    );
  addSettings(start, 'start').action(async (flags: StartFlags, command: Command) => {
    const usage = (message: string): never =>
      command.error(`error: ${message}`, { exitCode: exitCode.usage, code: 'understudy.usage' });
    if (flags.port + flags.replicas > PORT_MAX) {
      usage(`--port ${flags.port} leaves no room for ${flags.replicas} replica ports (max ${PORT_MAX})`);
    }
    if (flags.respPort !== undefined && flags.service !== undefined) {
      usage("option '--resp-port <port>' cannot be used with option '--service <module>'");
    }
    // With --service there is no Redis port: it serves the built-in key/value store only.
    const respFirst = flags.service === undefined ? respPortOf(flags, 1) : 0;
    const respLast = flags.service === undefined ? respPortOf(flags, flags.replicas) : -1;
    if (respLast > PORT_MAX) {
      usage(`--resp-port ${respFirst} leaves no room for ${flags.replicas} Redis ports (max ${PORT_MAX})`);
    }
    if (respFirst <= flags.port + flags.replicas && respLast >= flags.port) {
      usage(
        `the Redis ports ${respFirst}..${respLast} overlap the cluster's ports ${flags.port}..${flags.port + flags.replicas}; choose another --resp-port or --port`,
      );
    }
    const admin = adminPortOf(flags);
    if (admin + flags.replicas > PORT_MAX) {
      usage(
        `admin port ${admin} leaves no room for ${flags.replicas} replica admin ports: choose --admin-port`,
      );
    }
    if (admin <= flags.port + flags.replicas && flags.port <= admin + flags.replicas) {
      usage(
        `--admin-port ${admin} overlaps the cluster's ports ${flags.port}..${flags.port + flags.replicas}`,
      );
    }
    if (respFirst <= admin + flags.replicas && admin <= respLast) {
      usage(
        `the Redis ports ${respFirst}..${respLast} overlap the admin ports ${admin}..${admin + flags.replicas}; choose another --resp-port or --admin-port`,
      );
    }
    if (flags.service === undefined) {
      const sentinel = sentinelPortOf(flags);
      const taken: readonly (readonly [string, number, number])[] = [
        ["the cluster's ports", flags.port, flags.port + flags.replicas],
        ['the admin ports', admin, admin + flags.replicas],
        ['the Redis ports', respFirst, respLast],
      ];
      for (const [what, first, last] of taken) {
        if (first <= sentinel && sentinel <= last) {
          usage(`--sentinel-port ${sentinel} is one of ${what} ${first}..${last}; choose another`);
        }
      }
    }
    try {
      address(1)(formatAddress(flags.host, flags.port));
    } catch (error) {
      usage(`--host: ${(error as Error).message}`);
    }
    if (flags.dir.trim() === '') usage('--dir must not be empty');
    // Checked here, so that a bad module stops `start` before any process runs.
    const service = flags.service === undefined ? null : await loadClusterService(flags.service);
    return startCluster(flags, service);
  });
}

/** The Sentinel port `start` gives the coordinator. */
function sentinelPortOf(flags: StartFlags): number {
  return flags.sentinelPort ?? SENTINEL_PORT_DEFAULT;
}

/** The Redis port `start` gives replica `number` (1-based). */
function respPortOf(flags: StartFlags, number: number): number {
  return (flags.respPort ?? RESP_PORT_BASE + 1) + number - 1;
}

/**
 * Adds the replica's Redis port to what it serves: a RespServer whose commands go through a client of
 * this cluster. Prints where it listens before the ready line (which must come last: `start` and the
 * tests take every address once a server is ready); closed before the replica.
 */
async function withRespPort(
  node: ServedNode,
  flags: ReplicaFlags,
  logger: Logger,
  replica: {
    status(): LocalReplica;
    stateSize(): StateSize | null;
    persistence(): LocalPersistence;
    readonly role: Role;
    readonly localLink: LocalLink;
    readonly advertisedAddress: string;
    announceRedisAddress(address: string): void;
  },
  tls: TlsMaterial | undefined,
  respTls: ServedTls | undefined,
  access: AccessPolicy,
): Promise<ServedNode> {
  const { RespServer, clusterBackend } = await import('../resp/index.js');
  let resp: Closable;
  try {
    resp = await RespServer.start({
      listen: flags.resp as string,
      backend: clusterBackend({
        coordinator: flags.coordinator,
        clusterId: flags.clusterId,
        local: () => replica.status(),
        stateSize: () => replica.stateSize(),
        persistence: () => replica.persistence(),
        isPrimary: () => replica.role === 'primary',
        readOnlyByDefault: flags.respReads === 'replica',
        readStalenessMs: flags.respReadStalenessMs,
        // Commands reach this replica in memory while it is the primary, over TCP to any other.
        localLink: replica.localLink,
        // Its own certificate too: a client's certificate is checked for the chain only.
        ...(tls === undefined ? {} : { tls }),
      }),
      // The replica's own tokens: AUTH is checked here, and commands reach the cluster with that token.
      ...(access.credentials === undefined ? {} : { credentials: access.credentials }),
      understudyVersion: packageVersion,
      logger: logger.child({ component: `replica ${flags.id} redis` }),
      ...(respTls === undefined ? {} : { tls: respTls }),
    });
  } catch (error) {
    await node.close();
    throw error;
  }
  replica.announceRedisAddress(
    flags.respAdvertise ?? dialableAddress(resp.address, replica.advertisedAddress),
  );
  process.stdout.write(`understudy replica ${flags.id}${RESP_MARKER}${resp.address}\n`);
  return servedWith(node, resp);
}

/** What the Sentinel port needs of the coordinator. */
interface SentinelSourceServer {
  readonly leading: boolean;
  inspect(): { readonly status: StatusReply };
  onViewChange(listener: () => void): () => void;
  switchover(to: ReplicaId, by: string | null): SwitchoverOutcome | null;
  followLeader(pollMs: number, staleMs: number): LeaderStatus | null;
  registerSentinel(self: SentinelPeer, pollMs: number): SentinelRegistry | null;
}

/** How often a standby's Sentinel port asks the leader for its status, and how long it answers from it. */
const sentinelLeaderPollMs = 250;
const sentinelLeaderStaleMs = 2_000;
/** How often a coordinator on etcd reads the other coordinators' Sentinel ports (SENTINEL SENTINELS). */
const sentinelPeersPollMs = 1_000;

/**
 * Adds the coordinator's Sentinel port (resp/sentinel-server.ts) to what it serves: it reads the
 * coordinator's status and hears of its view changes, and while this coordinator stands by (the etcd
 * home), the leader's (node/leader-status.ts), as every Sentinel of a deployment answers alike.
 * Prints where it listens before the ready line; closed before the coordinator.
 */
async function withSentinelPort(
  node: ServedNode,
  flags: CoordinatorFlags,
  coordinator: SentinelSourceServer,
  logger: Logger,
  sentinelTls: ServedTls | undefined,
  access: AccessPolicy,
): Promise<ServedNode> {
  const { SentinelServer } = await import('../resp/sentinel-server.js');
  const leader = coordinator.followLeader(sentinelLeaderPollMs, sentinelLeaderStaleMs);
  let registry: SentinelRegistry | null = null;
  let sentinel: Awaited<ReturnType<typeof SentinelServer.start>>;
  try {
    sentinel = await SentinelServer.start({
      listen: flags.sentinel as string,
      source: {
        status: () =>
          coordinator.leading
            ? coordinator.inspect().status
            : (leader?.status() ?? coordinator.inspect().status),
        onViewChange: (listener) => {
          const stopOwn = coordinator.onViewChange(listener);
          const stopLeader = leader?.onChange(listener);
          return () => {
            stopOwn();
            stopLeader?.();
          };
        },
        // A standby hands SENTINEL FAILOVER to the leader, as any Sentinel of a deployment takes it.
        switchover: (to, by) => {
          if (coordinator.leading || leader === null) return coordinator.switchover(to, by);
          logger.info(
            { to, ...(by === null ? {} : { by }) },
            'SENTINEL FAILOVER handed to the leading coordinator',
          );
          return leader.switchover(to);
        },
        otherSentinels: () => registry?.peers() ?? [],
      },
      masterName: flags.clusterId,
      failureTimeoutMs: clusterProtocol(flags).failureTimeoutTicks * defaultNodeConfig.tickMs,
      understudyVersion: packageVersion,
      logger: logger.child({ component: 'coordinator sentinel' }),
      ...(sentinelTls === undefined ? {} : { tls: sentinelTls }),
      ...(access.credentials === undefined ? {} : { credentials: access.credentials }),
    });
  } catch (error) {
    leader?.close();
    await node.close();
    throw error;
  }
  process.stdout.write(`understudy coordinator${SENTINEL_MARKER}${sentinel.address}\n`);
  const port = sentinel;
  registry = coordinator.registerSentinel(
    { runId: port.myId, address: dialableAddress(port.address, node.address) },
    sentinelPeersPollMs,
  );
  return servedWith(node, {
    address: port.address,
    close: async () => {
      leader?.close();
      registry?.close();
      await port.close();
    },
  });
}

/** `node` serving `port` too: the port is closed first, then the node. */
function servedWith(node: ServedNode, port: Closable): ServedNode {
  return {
    address: node.address,
    adminAddress: node.adminAddress,
    ...(node.adminTls === undefined ? {} : { adminTls: node.adminTls }),
    close: async () => {
      try {
        await port.close();
      } finally {
        await node.close();
      }
    },
  };
}

/**
 * Runs a server's start (its ports, its data directory): a failure, a port taken or a full or damaged
 * disk, is logged as a fatal line first, where an operator's log pipeline looks for why a server
 * stopped, then thrown for the CLI to print and exit 1.
 */
async function startedOrLogged<T>(logger: Logger, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    logger.fatal({ error: errorText(error) }, 'could not start; stopping');
    throw error;
  }
}

/**
 * The heap-sizing flags can only be given when node starts: `understudy` and `understudy start` pass
 * them, but `node .../understudy.js replica` does not. Say so, once, rather than let memory grow.
 */
function warnWithoutServerNodeFlags(logger: Logger, component: string): void {
  const missing = serverNodeFlags.filter((flag) => !process.execArgv.includes(flag));
  if (missing.length === 0) return;
  logger
    .child({ component })
    .warn(
      { missing },
      "started without the servers' V8 flags: under load its memory can grow to about 150 MB more than " +
        'it needs, and it may spend more CPU per write; start node with them (docs/OPERATIONS.md, "Memory")',
    );
}

/** Whether some replica folder under `directory` was ever used (it has a data-directory identity). */
function hasReplicaData(directory: string): boolean {
  if (!existsSync(directory)) return false;
  return readdirSync(directory, { withFileTypes: true }).some(
    (entry) => entry.isDirectory() && existsSync(join(directory, entry.name, 'identity')),
  );
}

/**
 * Makes each replica's directory under `directory` from the saved snapshot `file`, checked whole
 * first. Refuses a `directory` that holds a cluster already: a restore starts a new one.
 */
async function restoreCluster(file: string, directory: string, replicaIds: readonly string[]): Promise<void> {
  const { readSavedSnapshot } = await import('../storage/saved-snapshot.js');
  const { restoreReplicaDirectory } = await import('../storage/restore.js');
  const saved = readSavedSnapshot(file);
  const held = ['coordinator', ...replicaIds].filter((name) => {
    const path = join(directory, name);
    return existsSync(path) && readdirSync(path).length > 0;
  });
  if (held.length > 0) {
    throw new ConfigError(
      `--restore starts a new cluster, but ${directory} holds one already (${held.join(', ')}): ` +
        'choose another --dir, or move this one aside',
    );
  }
  for (const id of replicaIds) restoreReplicaDirectory(saved, join(directory, id));
  process.stdout.write(
    `understudy: restored ${replicaIds.join(', ')} from ${file}: the state at index ${saved.position.index}, ` +
      `saved from ${saved.metadata.replica} at ${saved.metadata.savedAt}\n`,
  );
}

/** The admin port `start` gives the coordinator; replica i gets it + i. */
function adminPortOf(flags: StartFlags): number {
  return flags.adminPort ?? flags.port + CLUSTER_ADMIN_PORT_OFFSET;
}

/** Where `start` puts replica `number`'s admin port (1-based). */
function replicaAdminAddress(flags: StartFlags, number: number): string {
  return formatAddress(flags.host, adminPortOf(flags) + number);
}

/** A server with its admin port, if it has one: closed together, the admin port first. */
interface ServedNode extends Closable {
  readonly adminAddress: string | null;
  /** Whether the admin port speaks HTTPS (--admin-tls). */
  readonly adminTls?: boolean;
}

/**
 * Starts the admin port of a server that is already running. If it cannot (its port is taken), the
 * server is closed again, so the process exits with the error instead of running without it.
 */
async function startAdmin(
  server: Closable,
  listen: string | undefined,
  start: (listen: string) => Promise<Closable>,
  adminTls = false,
): Promise<ServedNode> {
  let admin: Closable | null = null;
  try {
    admin = listen === undefined ? null : await start(listen);
  } catch (error) {
    await server.close();
    throw error;
  }
  return {
    address: server.address,
    adminAddress: admin?.address ?? null,
    adminTls,
    close: async () => {
      await admin?.close();
      await server.close();
    },
  };
}

type ServedTls = { readonly cert: string | Buffer; readonly key: string | Buffer };

/**
 * The certificate and key an optional TLS port serves with: the process's own, so --admin-tls and
 * --resp-tls need --tls-cert and --tls-key. Undefined when the port stays plain.
 */
function servedTls(
  tls: TlsMaterial | undefined,
  wanted: boolean | undefined,
  flag: string,
): ServedTls | undefined {
  if (wanted !== true) return undefined;
  if (tls?.cert === undefined || tls.key === undefined) {
    throw new ConfigError(
      `${flag} serves with this process's certificate: give --tls-ca, --tls-cert and --tls-key`,
    );
  }
  // The process's own material, not a copy: the port then follows its reloads (SIGHUP).
  return tls as ServedTls;
}

/**
 * Prints where it listens (the ready line last), then closes on the first SIGINT/SIGTERM and exits.
 * SIGHUP (which would end the process by default) runs `reload` instead.
 */
async function serveUntilSignal(server: ServedNode, name: string, reload: () => void): Promise<void> {
  process.on('SIGHUP', reload);
  // Before the ready line: `start` and the tests read the admin address once a server is ready.
  if (server.adminAddress !== null) {
    const scheme = server.adminTls === true ? 'https' : 'http';
    process.stdout.write(`${name} admin on ${scheme}://${server.adminAddress}/\n`);
  }
  process.stdout.write(`${name}${READY_MARKER}${server.address}\n`);
  const signal = await new Promise<NodeJS.Signals>((resolveSignal) => {
    process.once('SIGINT', resolveSignal);
    process.once('SIGTERM', resolveSignal);
  });
  // Repeated signals (a terminal's Ctrl-C reaches `start` and its children alike) must not cut
  // the close short; `start` escalates to SIGKILL if it takes too long.
  const ignore = () => {};
  process.on('SIGINT', ignore).on('SIGTERM', ignore);
  try {
    await server.close();
  } catch (error) {
    process.stderr.write(`error: closing after ${signal}: ${(error as Error).message}\n`);
    process.exit(exitCode.failed);
  }
  process.exit(exitCode.success); // the server is closed; nothing it left behind may hold the exit
}

interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly ready: Promise<boolean>;
  readonly exited: Promise<void>;
  running: boolean;
}

/** A service `start` checked, and how its replicas are told to load it. */
interface ClusterService {
  readonly loaded: LoadedService;
  /** A path made absolute; a package name as given (the replicas resolve it from the same directory). */
  readonly argument: string;
}

async function loadClusterService(specifier: string): Promise<ClusterService> {
  const loaded = await loadServiceModule(specifier);
  return { loaded, argument: isPathSpecifier(specifier) ? loaded.file : specifier };
}

async function startCluster(flags: StartFlags, service: ClusterService | null): Promise<void> {
  const directory = resolve(flags.dir);
  const coordinator = formatAddress(flags.host, flags.port);
  const tlsDirectory = flags.tlsDir === undefined ? undefined : resolve(flags.tlsDir);
  const everyProcess = ['--cluster-id', flags.clusterId, '--log-level', flags.logLevel];
  const quorum = clusterSettingArguments(flags);
  const children: Child[] = [];
  let stopping = false;
  // Its children get their settings from `start` alone, as flags: a variable meant for `start` (its
  // --dir, say) or a replica's own (--advertise, --config) must not reach every process it launches.
  const variables = settingVariables();
  const childEnvironment = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !variables.has(name)),
  );

  const launch = (name: string, args: string[]): Child => {
    const child = spawnServer(
      process.execPath,
      [...serverNodeFlags, cliScript, ...args, ...everyProcess],
      { stdio: ['ignore', 'pipe', 'inherit'], env: childEnvironment },
      flags.scheduling,
    );
    let markReady: (ready: boolean) => void = () => {};
    const ready = new Promise<boolean>((resolveReady) => {
      markReady = resolveReady;
    });
    createInterface({ input: child.stdout as NonNullable<ChildProcess['stdout']> }).on('line', (line) => {
      process.stdout.write(`${line}\n`);
      if (line.includes(READY_MARKER)) markReady(true);
    });
    const entry: Child = {
      name,
      process: child,
      ready,
      running: true,
      exited: new Promise((resolveExit) => {
        child.on('exit', (code, signal) => {
          entry.running = false;
          markReady(false);
          if (!stopping) {
            const how = signal === null ? `with code ${code}` : `on ${signal}`;
            const left = children.filter((other) => other.running).length;
            const next = left === 0 ? 'no process is left' : `the other ${left} keep running`;
            process.stderr.write(`understudy: ${name} exited ${how}; ${next}\n`);
            if (left === 0) process.exit(exitCode.failed);
          }
          resolveExit();
        });
      }),
    };
    children.push(entry);
    return entry;
  };

  const stop = async (code: number = exitCode.success) => {
    if (stopping) return;
    stopping = true;
    for (const child of children) if (child.running) child.process.kill('SIGTERM');
    const escalation = setTimeout(() => {
      for (const child of children) if (child.running) child.process.kill('SIGKILL');
    }, CHILD_STOP_GRACE_MS);
    await Promise.all(children.map((child) => child.exited));
    clearTimeout(escalation);
    process.stdout.write('understudy: cluster stopped\n');
    process.exit(code);
  };
  const stopOnSignal = () => stop();
  // A hang-up (its terminal closed) stops the cluster too: the servers take SIGHUP as a reload.
  process.on('SIGINT', stopOnSignal).on('SIGTERM', stopOnSignal).on('SIGHUP', stopOnSignal);

  const replicaIds = Array.from({ length: flags.replicas }, (_, k) => `r${k + 1}`);
  if (flags.restore !== undefined) await restoreCluster(flags.restore, directory, replicaIds);
  const coordinatorChild = launch('coordinator', [
    'coordinator',
    '--listen',
    coordinator,
    '--dir',
    join(directory, 'coordinator'),
    // A data folder with no replica data yet is a new cluster; otherwise the coordinator's own state
    // must be there, or it refuses to act rather than start over and reuse view numbers. A restored
    // cluster's coordinator is new, and its replicas hold the state: it rebuilds the view from them.
    ...(flags.restore !== undefined
      ? ['--recover-from-replicas', replicaIds.join(',')]
      : hasReplicaData(directory)
        ? []
        : ['--new-cluster']),
    '--admin',
    formatAddress(flags.host, adminPortOf(flags)),
    // The replicas' admin ports, which `start` chooses below: the dashboard's latency comes from them.
    '--replica-admins',
    Array.from({ length: flags.replicas }, (_, k) => replicaAdminAddress(flags, k + 1)).join(','),
    ...(service === null ? ['--sentinel', formatAddress(flags.host, sentinelPortOf(flags))] : []),
    ...quorum,
    ...tlsArgumentsFrom(tlsDirectory, 'coordinator'),
  ]);
  if (!(await coordinatorChild.ready)) return; // its exit was reported; nothing else is running
  const replicas = replicaIds.map((id, k) =>
    launch(id, [
      'replica',
      '--id',
      id,
      '--listen',
      formatAddress(flags.host, flags.port + k + 1),
      '--coordinator',
      coordinator,
      '--dir',
      join(directory, id),
      ...(service === null
        ? [
            '--resp',
            formatAddress(flags.host, respPortOf(flags, k + 1)),
            '--resp-reads',
            flags.respReads,
            '--resp-read-staleness-ms',
            String(flags.respReadStalenessMs),
          ]
        : []),
      '--admin',
      replicaAdminAddress(flags, k + 1),
      ...retentionArguments(flags),
      ...quorum,
      ...(service === null ? [] : ['--service', service.argument]),
      ...tlsArgumentsFrom(tlsDirectory, id),
    ]),
  );
  const ready = await Promise.all(replicas.map((replica) => replica.ready));
  if (stopping) return;
  if (!ready.includes(true)) {
    // Each exit was reported (a data directory of another service, say): a coordinator alone serves nothing.
    process.stderr.write('understudy: no replica started; stopping the coordinator\n');
    await stop(exitCode.failed);
    return;
  }
  const extra = [
    flags.port === CLUSTER_PORT_DEFAULT && flags.host === CLUSTER_HOST_DEFAULT
      ? ''
      : ` --coordinator ${coordinator}`,
    flags.clusterId === CLUSTER_ID_DEFAULT ? '' : ` --cluster-id ${flags.clusterId}`,
    // Clients of a TLS cluster verify it with the CA.
    tlsDirectory === undefined ? '' : ` --tls-ca ${join(flags.tlsDir ?? '', 'ca.crt')}`,
    // A cluster that asks for tokens: the file is the user's own (start never sees a token).
    flags.authFile === undefined ? '' : ' --token-file YOUR.token',
  ].join('');
  const hint =
    service === null
      ? `understudy put hello world${extra}`
      : `a ReplicatedClient with coordinator ${coordinator} (service ${describeService(service.loaded.service)})`;
  process.stdout.write(`try: ${hint}   (Ctrl-C stops the cluster)\n`);
  if (service === null) {
    const redisHost = flags.host === CLUSTER_HOST_DEFAULT ? '' : ` -h ${flags.host}`;
    const redisAuth = flags.authFile === undefined ? '' : 'REDISCLI_AUTH="$(cat YOUR.token)" ';
    process.stdout.write(
      `  or: ${redisAuth}redis-cli${redisHost} -p ${respPortOf(flags, 1)} set hello world\n`,
    );
  }
}
