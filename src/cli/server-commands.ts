// The server commands: `coordinator` and `replica` run one process in the foreground; `start` runs
// a whole local cluster as separate child processes of this same CLI, so that `kill -9` of one
// replica is a real crash and the rest keep serving.
//
// The server classes are imported lazily: the one-shot client commands never load them.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Command, Option } from 'commander';
import { CLUSTER_ID_DEFAULT } from '../client/index.js';
import { defaultNodeConfig, type NodeConfig } from '../node/config.js';
import { createLogger } from '../node/logger.js';
import type { ReplicaServiceOptions } from '../node/replica-server.js';
import { isPathSpecifier, type LoadedService, loadServiceModule } from '../node/service-module.js';
import { defaultProtocolConfig, lagPolicies, syncQuorumAll } from '../protocol/config.js';
import { describeService } from '../protocol/service-identity.js';
import type { LocalReplica } from '../resp/index.js';
import { formatAddress } from '../transport/index.js';
import { type ClusterSettings, clusterSettingArguments } from './cluster-settings.js';
import {
  ADMIN_HOST_DEFAULT,
  addClusterIdOption,
  address,
  adminAddress,
  exitCode,
  idList,
  integerIn,
  nonEmpty,
  PORT_MAX,
  respAddress,
} from './options.js';
import { packageVersion } from './package-version.js';
import { serverNodeFlags } from './server-node-flags.js';

export const CLUSTER_REPLICAS_DEFAULT = 3;
export const CLUSTER_REPLICAS_MAX = 9;
export const CLUSTER_PORT_DEFAULT = 7000;
export const CLUSTER_HOST_DEFAULT = '127.0.0.1';
export const CLUSTER_DIRECTORY_DEFAULT = './data';
/** `start` gives replica i the Redis port RESP_PORT_BASE + i (r1: 6379, Redis's own port). */
export const RESP_PORT_BASE = 6378;
/** `start` puts the admin ports this far above the cluster's: coordinator 8000, replica i 8000 + i. */
export const CLUSTER_ADMIN_PORT_OFFSET = 1000;
/** How long `start` waits for children to stop after SIGTERM before it sends SIGKILL. */
export const CHILD_STOP_GRACE_MS = 5000;

/** What every server prints once it listens; `start` waits for it from each child. */
const READY_MARKER = ' listening on ';
/** What a replica with a Redis port prints, before its ready line (it must not contain READY_MARKER). */
const RESP_MARKER = ' Redis protocol on ';
const cliScript = fileURLToPath(new URL('./main.js', import.meta.url));

interface Closable {
  readonly address: string;
  close(): Promise<void>;
}

interface ServerFlags {
  readonly listen: string;
  readonly dir: string;
  readonly clusterId: string;
  readonly admin?: string;
}

/** Cluster settings the coordinator and every replica must share. */
type QuorumFlags = ClusterSettings;

interface CoordinatorFlags extends ServerFlags, QuorumFlags {
  readonly recoverFromReplicas?: string[];
  readonly newCluster?: boolean;
}

/** What a replica keeps and forgets: snapshots, sessions, transfers (each has a default). */
interface RetentionFlags {
  readonly snapshotLogBytes?: number;
  readonly sessionsMax?: number;
  readonly sessionIdleSeconds?: number;
  readonly transferRate?: number;
}

/** The service a replica runs: a module whose default export is a StateMachineFactory. */
interface ServiceFlags {
  readonly service?: string;
}

interface ReplicaFlags extends ServerFlags, RetentionFlags, QuorumFlags, ServiceFlags {
  readonly id: string;
  readonly coordinator: string;
  readonly advertise?: string;
  readonly resp?: string;
}

interface StartFlags extends RetentionFlags, QuorumFlags, ServiceFlags {
  readonly replicas: number;
  readonly dir: string;
  readonly port: number;
  readonly host: string;
  readonly clusterId: string;
  readonly respPort?: number;
  readonly adminPort?: number;
}

const retentionLimitMax = 2 ** 40;

function addRetentionOptions(command: Command): Command {
  return command
    .option(
      '--snapshot-log-bytes <n>',
      `log bytes since the last snapshot before the next (default ${defaultProtocolConfig.snapshotLogBytes}; at least a quarter of the last snapshot)`,
      integerIn(1, retentionLimitMax),
    )
    .option(
      '--sessions-max <n>',
      `client sessions kept; beyond it the least recently active expire (default ${defaultProtocolConfig.sessionsMax})`,
      integerIn(1, 100_000_000),
    )
    .option(
      '--session-idle-seconds <n>',
      `a client session idle this long expires (default ${(defaultProtocolConfig.sessionIdleTicks * defaultNodeConfig.tickMs) / 1000})`,
      integerIn(1, 10 * 365 * 24 * 3600),
    )
    .option(
      '--transfer-rate <bytes-per-second>',
      'pace at which this replica serves snapshots to learners (default: no limit)',
      integerIn(1, retentionLimitMax),
    );
}

function addServiceOption(command: Command): Command {
  return command.option(
    '--service <module>',
    'the service to replicate: a module (a path, or a package name resolved from here) whose default export ' +
      'is a StateMachineFactory, and which may export service = { name, version }; every replica of a ' +
      'cluster must run the same one (default: the key/value store)',
  );
}

/** Backups a commit may wait for at most (there are at most CLUSTER_REPLICAS_MAX − 1 in a local cluster). */
const syncQuorumFlagMax = 1000;

/** A lag limit must exceed two of the primary's empty Prepares, which an idle backup acknowledges. */
export const backupLagMaxMsMin =
  (2 * defaultProtocolConfig.followerHeartbeatTicks + 1) * defaultNodeConfig.tickMs;

function addSyncQuorumOption(command: Command): Command {
  return command
    .option(
      '--sync-quorum <k>',
      "commit once k backups have an entry on disk (PostgreSQL's ANY k) instead of every backup; a failover " +
        'then waits to hear from all but k − 1 of the backups. The coordinator and every replica must be given ' +
        'the same k (default: every backup)',
      integerIn(1, syncQuorumFlagMax),
    )
    .addOption(
      new Option(
        '--lag-policy <policy>',
        'what becomes of a backup that lags by more than --backup-lag-max-ms: demote (a learner until it ' +
          'catches up), throttle (commits wait for it), eject (out of the view for a while); the same on ' +
          `the coordinator and every replica (default: ${defaultProtocolConfig.lagPolicy})`,
      ).choices(lagPolicies),
    )
    .option(
      '--backup-lag-max-ms <ms>',
      `a backup whose oldest unacknowledged entry is older than this lags (default ${defaultProtocolConfig.backupAckTimeoutTicks * defaultNodeConfig.tickMs})`,
      integerIn(backupLagMaxMsMin, 600_000),
    );
}

/** The protocol settings every process of the cluster shares, from the defaults and the flags. */
function clusterProtocol(flags: QuorumFlags): NodeConfig['protocol'] {
  return {
    ...defaultProtocolConfig,
    syncQuorum: flags.syncQuorum ?? syncQuorumAll,
    lagPolicy: flags.lagPolicy ?? defaultProtocolConfig.lagPolicy,
    backupAckTimeoutTicks:
      flags.backupLagMaxMs === undefined
        ? defaultProtocolConfig.backupAckTimeoutTicks
        : Math.ceil(flags.backupLagMaxMs / defaultNodeConfig.tickMs),
  };
}

/** The replica's settings, from the defaults, the cluster setting and the retention flags. */
function replicaConfig(flags: RetentionFlags & QuorumFlags): NodeConfig {
  const protocol = clusterProtocol(flags);
  return {
    ...defaultNodeConfig,
    transferBytesPerSecond: flags.transferRate ?? defaultNodeConfig.transferBytesPerSecond,
    protocol: {
      ...protocol,
      snapshotLogBytes: flags.snapshotLogBytes ?? protocol.snapshotLogBytes,
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
    ['--sessions-max', flags.sessionsMax],
    ['--session-idle-seconds', flags.sessionIdleSeconds],
    ['--transfer-rate', flags.transferRate],
  ];
  return pairs.flatMap(([flag, value]) => (value === undefined ? [] : [flag, String(value)]));
}

function addAdminOption(command: Command): Command {
  return command.option(
    '--admin <[host:]port>',
    'serve status (/status), Prometheus metrics (/metrics) and health checks (/primary, /replica) over ' +
      'HTTP here; a port alone listens on 127.0.0.1, port 0 picks a free one (default: no admin port)',
    adminAddress,
  );
}

export function addServerCommands(program: Command): void {
  addClusterIdOption(
    addAdminOption(addSyncQuorumOption(program.command('coordinator')))
      .description('run the coordinator in the foreground')
      .requiredOption('--listen <host:port>', 'address to listen on', address(0))
      .requiredOption('--dir <path>', 'data directory', nonEmpty('--dir'))
      .option(
        '--new-cluster',
        'an empty --dir means a new cluster: form the first view (without it, an empty --dir means the ' +
          'state was lost and the coordinator waits for --recover-from-replicas)',
      )
      .option(
        '--recover-from-replicas <ids>',
        'if the state directory is empty or older than the cluster, rebuild the view from the ' +
          'replicas, once every one of these (every replica of the cluster, comma-separated) has reported',
        idList('--recover-from-replicas'),
      ),
  ).action(async (flags: CoordinatorFlags) => {
    const { CoordinatorServer } = await import('../node/coordinator-server.js');
    warnWithoutServerNodeFlags('coordinator');
    const directory = resolve(flags.dir);
    await mkdir(directory, { recursive: true });
    const server = await CoordinatorServer.start({
      listen: flags.listen,
      directory,
      clusterId: flags.clusterId,
      recoverFromReplicas: flags.recoverFromReplicas ?? [],
      newCluster: flags.newCluster === true,
      config: { ...defaultNodeConfig, protocol: clusterProtocol(flags) },
    });
    const node = await startAdmin(server, flags.admin, async (listen) => {
      const { startCoordinatorAdmin } = await import('../admin/coordinator-admin.js');
      return startCoordinatorAdmin(server, listen);
    });
    await serveUntilSignal(node, 'understudy coordinator');
  });

  addClusterIdOption(
    addRetentionOptions(
      addAdminOption(addSyncQuorumOption(addServiceOption(program.command('replica'))))
        .description('run one replica in the foreground')
        .requiredOption('--id <id>', 'replica id, unique in the cluster', nonEmpty('--id'))
        .requiredOption('--listen <host:port>', 'address to listen on', address(0))
        .requiredOption('--coordinator <host:port>', 'coordinator address', address(1))
        .requiredOption('--dir <path>', 'data directory', nonEmpty('--dir'))
        .option(
          '--advertise <host:port>',
          'address peers and clients should dial, when it differs from --listen (a proxy, NAT)',
          address(1),
        )
        .addOption(
          new Option(
            '--resp <[host:]port>',
            'serve the key/value store over the Redis protocol (RESP2) on this address too; a bare port ' +
              `listens on ${ADMIN_HOST_DEFAULT}, 0 picks a free one (default: no Redis port)`,
          )
            .argParser(respAddress)
            .conflicts('service'),
        ),
    ),
  ).action(async (flags: ReplicaFlags) => {
    const { ReplicaServer } = await import('../node/replica-server.js');
    const loaded = flags.service === undefined ? null : await loadServiceModule(flags.service);
    warnWithoutServerNodeFlags(`replica ${flags.id}`);
    const directory = resolve(flags.dir);
    await mkdir(directory, { recursive: true });
    const service: ReplicaServiceOptions =
      loaded === null ? {} : { service: loaded.service, createStateMachine: loaded.createStateMachine };
    const server = await ReplicaServer.start({
      id: flags.id,
      listen: flags.listen,
      coordinator: flags.coordinator,
      ...(flags.advertise === undefined ? {} : { advertise: flags.advertise }),
      clusterId: flags.clusterId,
      directory,
      config: replicaConfig(flags),
      ...service,
    });
    const node = await startAdmin(server, flags.admin, async (listen) => {
      const { startReplicaAdmin } = await import('../admin/replica-admin.js');
      return startReplicaAdmin(server, listen);
    });
    const served = flags.resp === undefined ? node : await withRespPort(node, flags, () => server.status());
    await serveUntilSignal(served, `understudy replica ${flags.id}`);
  });

  addClusterIdOption(
    addRetentionOptions(addSyncQuorumOption(addServiceOption(program.command('start'))))
      .description('run a local cluster (a coordinator and N replicas) in the foreground; Ctrl-C stops it')
      .option(
        '--replicas <n>',
        'number of replicas',
        integerIn(1, CLUSTER_REPLICAS_MAX),
        CLUSTER_REPLICAS_DEFAULT,
      )
      .option('--dir <path>', 'data directory (coordinator/, r1/, r2/ ... inside)', CLUSTER_DIRECTORY_DEFAULT)
      .option(
        '--port <port>',
        'coordinator port; replicas take the next ones',
        integerIn(1, PORT_MAX),
        CLUSTER_PORT_DEFAULT,
      )
      .option('--host <host>', 'host to listen on', CLUSTER_HOST_DEFAULT)
      .addOption(
        new Option(
          '--resp-port <port>',
          `Redis protocol port of r1; replica i gets port + i − 1 (default ${RESP_PORT_BASE + 1}: r1 ${RESP_PORT_BASE + 1}, r2 ${RESP_PORT_BASE + 2}, ...; none with --service)`,
        )
          .argParser(integerIn(1, PORT_MAX))
          .conflicts('service'),
      )
      .option(
        '--admin-port <port>',
        `admin HTTP port of the coordinator; replica i gets this + i (default --port + ${CLUSTER_ADMIN_PORT_OFFSET})`,
        integerIn(1, PORT_MAX),
      ),
  ).action(async (flags: StartFlags, command: Command) => {
    const usage = (message: string): never =>
      command.error(`error: ${message}`, { exitCode: exitCode.usage, code: 'understudy.usage' });
    if (flags.port + flags.replicas > PORT_MAX) {
      usage(`--port ${flags.port} leaves no room for ${flags.replicas} replica ports (max ${PORT_MAX})`);
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
  local: () => LocalReplica,
): Promise<ServedNode> {
  const { RespServer, clusterBackend } = await import('../resp/index.js');
  let resp: Closable;
  try {
    resp = await RespServer.start({
      listen: flags.resp as string,
      backend: clusterBackend({ coordinator: flags.coordinator, clusterId: flags.clusterId, local }),
      understudyVersion: packageVersion,
      logger: createLogger(`replica ${flags.id} redis`),
    });
  } catch (error) {
    await node.close();
    throw error;
  }
  process.stdout.write(`understudy replica ${flags.id}${RESP_MARKER}${resp.address}\n`);
  return {
    address: node.address,
    adminAddress: node.adminAddress,
    close: async () => {
      try {
        await resp.close();
      } finally {
        await node.close();
      }
    },
  };
}

/**
 * The heap-sizing flags can only be given when node starts: `understudy` and `understudy start` pass
 * them, but `node .../understudy.js replica` does not. Say so, once, rather than let memory grow.
 */
function warnWithoutServerNodeFlags(component: string): void {
  const missing = serverNodeFlags.filter((flag) => !process.execArgv.includes(flag));
  if (missing.length === 0) return;
  createLogger(component).log(
    'warn',
    "started without the servers' V8 flags: under load its memory can grow to about 150 MB more than " +
      'it needs; start node with them (docs/OPERATIONS.md, "Memory")',
    { missing },
  );
}

/** Whether some replica folder under `directory` was ever used (it has a data-directory identity). */
function hasReplicaData(directory: string): boolean {
  if (!existsSync(directory)) return false;
  return readdirSync(directory, { withFileTypes: true }).some(
    (entry) => entry.isDirectory() && existsSync(join(directory, entry.name, 'identity')),
  );
}

/** The admin port `start` gives the coordinator; replica i gets it + i. */
function adminPortOf(flags: StartFlags): number {
  return flags.adminPort ?? flags.port + CLUSTER_ADMIN_PORT_OFFSET;
}

/** A server with its admin port, if it has one: closed together, the admin port first. */
interface ServedNode extends Closable {
  readonly adminAddress: string | null;
}

/**
 * Starts the admin port of a server that is already running. If it cannot (its port is taken), the
 * server is closed again, so the process exits with the error instead of running without it.
 */
async function startAdmin(
  server: Closable,
  listen: string | undefined,
  start: (listen: string) => Promise<Closable>,
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
    close: async () => {
      await admin?.close();
      await server.close();
    },
  };
}

/** Prints where it listens (the ready line last), then closes on the first SIGINT/SIGTERM and exits. */
async function serveUntilSignal(server: ServedNode, name: string): Promise<void> {
  // Before the ready line: `start` and the tests read the admin address once a server is ready.
  if (server.adminAddress !== null) process.stdout.write(`${name} admin on http://${server.adminAddress}/\n`);
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
  const clusterId = ['--cluster-id', flags.clusterId];
  const quorum = clusterSettingArguments(flags);
  const children: Child[] = [];
  let stopping = false;

  const launch = (name: string, args: string[]): Child => {
    const child = spawn(process.execPath, [...serverNodeFlags, cliScript, ...args, ...clusterId], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
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
  process.on('SIGINT', stopOnSignal).on('SIGTERM', stopOnSignal);

  const coordinatorChild = launch('coordinator', [
    'coordinator',
    '--listen',
    coordinator,
    '--dir',
    join(directory, 'coordinator'),
    // A data folder with no replica data yet is a new cluster; otherwise the coordinator's own state
    // must be there, or it refuses to act rather than start over and reuse view numbers.
    ...(hasReplicaData(directory) ? [] : ['--new-cluster']),
    '--admin',
    formatAddress(flags.host, adminPortOf(flags)),
    ...quorum,
  ]);
  if (!(await coordinatorChild.ready)) return; // its exit was reported; nothing else is running
  const replicas = Array.from({ length: flags.replicas }, (_, k) => {
    const id = `r${k + 1}`;
    return launch(id, [
      'replica',
      '--id',
      id,
      '--listen',
      formatAddress(flags.host, flags.port + k + 1),
      '--coordinator',
      coordinator,
      '--dir',
      join(directory, id),
      ...(service === null ? ['--resp', formatAddress(flags.host, respPortOf(flags, k + 1))] : []),
      '--admin',
      formatAddress(flags.host, adminPortOf(flags) + k + 1),
      ...retentionArguments(flags),
      ...quorum,
      ...(service === null ? [] : ['--service', service.argument]),
    ]);
  });
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
  ].join('');
  const hint =
    service === null
      ? `understudy put hello world${extra}`
      : `a ReplicatedClient with coordinator ${coordinator} (service ${describeService(service.loaded.service)})`;
  process.stdout.write(`try: ${hint}   (Ctrl-C stops the cluster)\n`);
  if (service === null) {
    const redisHost = flags.host === CLUSTER_HOST_DEFAULT ? '' : ` -h ${flags.host}`;
    process.stdout.write(`  or: redis-cli${redisHost} -p ${respPortOf(flags, 1)} set hello world\n`);
  }
}
