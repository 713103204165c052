// The cluster of a chaos run: a coordinator and N replicas as separate processes of this same CLI
// (so SIGKILL and SIGSTOP hit real processes), each behind a FaultProxy. Replicas advertise their
// proxy's address, so peers and clients dial the proxy; replicas and clients reach the coordinator
// through its proxy. Every server listens on 127.0.0.1 with a port the OS picks; a restarted
// replica or coordinator gets a new port and its proxy is pointed there. Each process's stderr (its
// JSON logs) is appended to logs/NAME.log in the run's directory.
// A data directory is "lost" (a wiped disk) only while its process is stopped: it is moved aside to
// lost/NAME.N beside it (kept for a post-mortem, removed with the run) and either left
// missing or replaced by an empty directory. A coordinator whose state was lost is started, as an
// operator would, with --recover-from-replicas naming every replica.
// With `etcd`, the coordinators keep their state on a local 3-member etcd: two coordinator processes,
// each behind its own proxy, one leading and one standing by; replicas and clients take both.
// With `serverDisks`, each replica's data directory, and the coordinator's when it keeps its state
// there (not on etcd), lives with what a wipe moves aside on a file system of its own
// (server-disks.ts), which the disk-hang nemesis freezes and the disk-full nemesis fills.
// A replica may be held at a format level below this build's (`--format-level`, the upgrade
// nemesis: a replica of the older build): the cluster keeps each replica's level and starts it with
// it at every start, whichever fault restarts it, until it is changed while the replica is stopped.
// Invariants: processes are only ever signalled by their own process id; close() leaves none
// running (SIGCONT, SIGTERM, then SIGKILL after a grace period), thawing every frozen disk first, and
// closes every proxy.

import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { serverNodeFlags } from '../cli/server-node-flags.js';
import { spawnServer } from '../cli/server-spawn.js';
import { clusterIdDefault } from '../node/config.js';
import { EtcdClient } from '../node/etcd/etcd-client.js';
import { etcdKeysOf } from '../node/etcd/etcd-state-home.js';
import { TEST_CLOCK_RATE_VARIABLE } from '../node/test-clock-rate.js';
import { TEST_LEASE_RECORD_VARIABLE } from '../node/test-lease-record.js';
import { assert } from '../protocol/assert.js';
import { Random } from '../sim/random.js';
import { EtcdMembers, etcdMemberName } from './etcd-members.js';
import { leaseRecordDirectory, leaseRecordPath } from './lease-overlaps.js';
import { FaultProxy } from './proxy.js';
import { type FileSystem, ServerDisks } from './server-disks.js';

export const CHAOS_HOST = '127.0.0.1';
/** How long a server process may take to print its ready line. */
export const PROCESS_READY_TIMEOUT_MS = 15_000;
/** How long a process may take to exit after SIGTERM before it gets SIGKILL. */
export const PROCESS_STOP_GRACE_MS = 2000;
export const COORDINATOR_NAME = 'coordinator';
/** On etcd: the coordinators, the first named as the only one is without etcd. */
const ETCD_COORDINATOR_NAMES = [COORDINATOR_NAME, 'coordinator-2'] as const;
const ETCD_MEMBERS = 3;
/** On etcd: the coordinators' leadership lease, short so that a standby takes over within a chaos run. */
const CHAOS_ETCD_LEASE_SECONDS = 2;

/** What every server prints once it listens: "... listening on HOST:PORT". */
const readyLinePattern = / listening on (\S+)/;
/** What a server with an admin port prints before its ready line: "... admin on http://HOST:PORT/". */
const adminLinePattern = / admin on https?:\/\/(\S+)\/$/;
/** What a replica with a Redis port prints before its ready line: "... Redis protocol on HOST:PORT". */
const redisLinePattern = / Redis protocol on (\S+)$/;
/** What a coordinator with a Sentinel port prints before its ready line. */
const sentinelLinePattern = / Sentinel protocol on (\S+)$/;
const cliScript = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export type ProcessState = 'running' | 'paused' | 'stopped';

/** How a data directory is lost: it is gone, or an empty directory stands in its place. */
export type DirectoryLoss = 'deleted' | 'emptied';

/**
 * One server process: started, SIGKILLed, SIGSTOPped and restarted with the same arguments (and,
 * for one start, extra ones).
 */
export class ServerProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private paused = false;
  private admin: string | null = null;
  private redis: string | null = null;
  private sentinel: string | null = null;
  /** Every Redis address it had in this run, one per start (a port 0 is new at each start). */
  private readonly redisEver = new Set<string>();
  /** Set by kill() and stop() until the next start: the exit that follows is ours, not its own. */
  private stopRequested = false;
  private ownExits = 0;

  constructor(
    readonly name: string,
    private readonly args: readonly string[],
    /** Where its stderr (its JSON log) is appended, from every start. */
    readonly logPath: string,
    /** Environment variables beyond this process's own. */
    private readonly env: Readonly<Record<string, string>> = {},
  ) {}

  get state(): ProcessState {
    if (this.child === null) return 'stopped';
    return this.paused ? 'paused' : 'running';
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Where its Redis port listens while it runs (a replica started with --resp), else null. */
  get redisAddress(): string | null {
    return this.child === null ? null : this.redis;
  }

  /** Where its Sentinel port listens while it runs (a coordinator started with --sentinel), else null. */
  get sentinelAddress(): string | null {
    return this.child === null ? null : this.sentinel;
  }

  /** Whether it had its Redis port at `address` at some start in this run. */
  hadRedisAddress(address: string): boolean {
    return this.redisEver.has(address);
  }

  /** How many times a process of it exited with no kill() or stop() asked for (a crash, a fatal stop). */
  get exitsOnItsOwn(): number {
    return this.ownExits;
  }

  /** HOST:PORT of its admin port, as it said at its last start; null if it serves none. */
  get adminAddress(): string | null {
    return this.admin;
  }

  /** Spawns the process and resolves with the address it listens on. */
  async start(extraArgs: readonly string[] = []): Promise<string> {
    if (this.child !== null) throw new Error(`${this.name} is already running`);
    const logFile = openSync(this.logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawnServer(process.execPath, [...serverNodeFlags, cliScript, ...this.args, ...extraArgs], {
        stdio: ['ignore', 'pipe', logFile],
        env: { ...inheritedEnvironment(), ...this.env },
      });
    } finally {
      closeSync(logFile); // the child holds its own copy
    }
    this.child = child;
    this.paused = false;
    this.stopRequested = false;
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        if (!this.stopRequested) this.ownExits += 1;
        if (this.child === child) this.child = null;
        resolve();
      });
    });
    const lines = createInterface({ input: child.stdout as NonNullable<ChildProcess['stdout']> });
    try {
      return await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${this.name} printed no ready line within ${PROCESS_READY_TIMEOUT_MS} ms`)),
          PROCESS_READY_TIMEOUT_MS,
        );
        this.admin = null;
        this.redis = null;
        this.sentinel = null;
        lines.on('line', (line) => {
          const admin = adminLinePattern.exec(line)?.[1];
          if (admin !== undefined) this.admin = admin;
          const redis = redisLinePattern.exec(line)?.[1];
          if (redis !== undefined) {
            this.redis = redis;
            this.redisEver.add(redis);
          }
          const sentinel = sentinelLinePattern.exec(line)?.[1];
          if (sentinel !== undefined) this.sentinel = sentinel;
          const address = readyLinePattern.exec(line)?.[1];
          if (address === undefined) return;
          clearTimeout(timer);
          resolve(address);
        });
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(
            new Error(`${this.name} exited (${signal ?? code}) before it was ready; see ${this.logPath}`),
          );
        });
      });
    } catch (error) {
      await this.kill();
      throw error;
    } finally {
      lines.removeAllListeners('line');
    }
  }

  /** SIGKILL: a crash, with no chance to flush or say goodbye. */
  async kill(): Promise<void> {
    if (this.child !== null) this.stopRequested = true;
    this.child?.kill('SIGKILL');
    await this.exited;
    this.paused = false;
  }

  /** SIGSTOP: the process stays, its sockets stay open, nothing runs. */
  pause(): void {
    if (this.child === null || this.paused) return;
    this.child.kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    if (this.child === null || !this.paused) return;
    this.child.kill('SIGCONT');
    this.paused = false;
  }

  /** Orderly stop: SIGCONT if paused, SIGTERM, and SIGKILL if it has not exited after the grace. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    this.stopRequested = true;
    this.resume();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), PROCESS_STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

export interface ChaosClusterOptions {
  readonly directory: string;
  readonly replicaCount: number;
  /** Seeds the proxies' loss and delay draws. */
  readonly seed: number;
  /** Flags every replica starts with besides its own (retention and transfer settings). */
  readonly replicaArguments?: readonly string[];
  /** Flags for the coordinators only (a Sentinel port, say). */
  readonly coordinatorArguments?: readonly string[];
  /** Flags the coordinator and every replica start with (cluster settings: the commit quorum). */
  readonly clusterArguments?: readonly string[];
  /** Two coordinators keep the state on a 3-member etcd started for the run (else one, on its directory). */
  readonly etcd?: boolean;
  /** Each server's data directory on a file system of its own, of this kind, which can be frozen (needs root). */
  readonly serverDisks?: FileSystem;
  /** Every replica starts held at this format level (`--format-level`): a cluster of an older build. */
  readonly replicaFormatLevel?: number;
  /**
   * The rate of each server's monotonic clock, by name (the coordinators, then each replica): each
   * process of it runs with UNDERSTUDY_TEST_CLOCK_RATE at that rate (test-clock-rate.ts). Absent: 1.
   */
  readonly clockRateOf?: (name: string) => number;
}

/** The space quota of the chaos runs' etcd members (`--quota-backend-bytes`). */
const ETCD_QUOTA_BYTES = 16 * 1024 * 1024;

export class ChaosCluster {
  /** Set when the coordinator's state directory is lost; cleared by a start that recovers. */
  private coordinatorStateLost = false;
  /** How many directories were moved aside, to name each one apart. */
  private directoriesLost = 0;
  /** The replicas held at a format level below this build's, and that level (`--format-level`). */
  private readonly formatLevels = new Map<string, number>();

  private constructor(
    readonly directory: string,
    /** By name: 'coordinator' (and, on etcd, 'coordinator-2'). */
    private readonly coordinators: ReadonlyMap<string, ServerProcess>,
    private readonly replicas: ReadonlyMap<string, ServerProcess>,
    /** By target name: each coordinator and each replica id. */
    readonly proxies: ReadonlyMap<string, FaultProxy>,
    /** The etcd the coordinators keep their state on, or null. */
    readonly etcd: EtcdMembers | null,
    /** The servers' own file systems, or null when their directories share the run's. */
    readonly disks: ServerDisks | null,
  ) {}

  /** The coordinator; on etcd, the first of them. */
  get coordinator(): ServerProcess {
    return this.coordinatorNamed(COORDINATOR_NAME);
  }

  get coordinatorNames(): readonly string[] {
    return [...this.coordinators.keys()];
  }

  coordinatorNamed(name: string): ServerProcess {
    const coordinator = this.coordinators.get(name);
    if (coordinator === undefined) throw new Error(`no coordinator ${name}`);
    return coordinator;
  }

  get replicaIds(): readonly string[] {
    return [...this.replicas.keys()];
  }

  /** The Redis ports of the replicas running now (started with --resp), in replica order. */
  redisAddresses(): string[] {
    const addresses: string[] = [];
    for (const replica of this.replicas.values()) {
      const address = replica.redisAddress;
      if (address !== null && replica.state === 'running') addresses.push(address);
    }
    return addresses;
  }

  /** The Sentinel ports of the coordinators running now (started with --sentinel). */
  sentinelAddresses(): string[] {
    return this.coordinatorNames.flatMap((name) => {
      const coordinator = this.coordinatorNamed(name);
      const address = coordinator.sentinelAddress;
      return address !== null && coordinator.state === 'running' ? [address] : [];
    });
  }

  /** The file system of the servers' own disks, or null: they have none. */
  get fileSystem(): FileSystem | null {
    return this.disks?.fileSystem ?? null;
  }

  /** Whether some replica of this run had its Redis port at `address` (now or at an earlier start). */
  wasRedisAddress(address: string): boolean {
    return [...this.replicas.values()].some((replica) => replica.hadRedisAddress(address));
  }

  /** Starts the proxies, the coordinator and the replicas; on any failure, stops what started. */
  static async start(options: ChaosClusterOptions): Promise<ChaosCluster> {
    const { directory } = options;
    mkdirSync(join(directory, 'logs'), { recursive: true });
    mkdirSync(leaseRecordDirectory(directory), { recursive: true });
    const random = new Random(options.seed);
    const replicaIds = Array.from({ length: options.replicaCount }, (_, k) => `r${k + 1}`);
    const proxies = new Map<string, FaultProxy>();
    const replicas = new Map<string, ServerProcess>();
    const coordinators = new Map<string, ServerProcess>();
    const logPath = (name: string) => join(directory, 'logs', `${name}.log`);
    // On etcd the coordinators' state is in etcd: their disks hold nothing they wait for, and each
    // etcd member gets one instead, so the etcd nemesis can cut a member's power.
    const etcdMembers = Array.from({ length: ETCD_MEMBERS }, (_, k) => etcdMemberName(k + 1));
    const disks =
      options.serverDisks === undefined
        ? null
        : await ServerDisks.create(
            join(directory, 'disks'),
            options.etcd === true ? [...replicaIds, ...etcdMembers] : [COORDINATOR_NAME, ...replicaIds],
            options.serverDisks,
          );
    let etcd: EtcdMembers | null = null;
    try {
      // A space quota of 16 MiB, so the etcd-full nemesis reaches it with a few puts; a run's own
      // state (a few kilobytes per view change) stays far below it.
      if (options.etcd === true) {
        etcd = await EtcdMembers.start(
          join(directory, 'etcd'),
          ETCD_MEMBERS,
          ['--quota-backend-bytes', String(ETCD_QUOTA_BYTES)],
          (name) => (disks === null ? join(directory, 'etcd', name) : join(disks.mountPoint(name), name)),
        );
      }
    } catch (error) {
      await disks?.close();
      throw error;
    }
    const cluster = new ChaosCluster(directory, coordinators, replicas, proxies, etcd, disks);
    const clockEnvironment = (name: string): Record<string, string> => {
      const rate = options.clockRateOf?.(name) ?? 1;
      return rate === 1 ? {} : { [TEST_CLOCK_RATE_VARIABLE]: String(rate) };
    };
    try {
      const coordinatorNames = etcd === null ? [COORDINATOR_NAME] : [...ETCD_COORDINATOR_NAMES];
      for (const name of [...coordinatorNames, ...replicaIds]) {
        const proxy = await FaultProxy.start({
          name,
          host: CHAOS_HOST,
          random: new Random(random.nextUint32()),
        });
        proxies.set(name, proxy);
      }
      for (const name of coordinatorNames) {
        const home =
          etcd === null
            ? ['--dir', join(cluster.diskRoot(name), name)]
            : [
                '--etcd',
                etcd.endpoints,
                '--etcd-lease-seconds',
                String(CHAOS_ETCD_LEASE_SECONDS),
                // Standbys name the leader by the address replicas and clients dial: its proxy.
                '--advertise',
                cluster.proxy(name).address,
              ];
        const args = [
          'coordinator',
          '--listen',
          `${CHAOS_HOST}:0`,
          ...home,
          ...(options.coordinatorArguments ?? []),
          ...(options.clusterArguments ?? []),
        ];
        coordinators.set(name, new ServerProcess(name, args, logPath(name), clockEnvironment(name)));
      }
      const coordinatorAddress = cluster.coordinatorAddress;
      for (const id of replicaIds) {
        const args = [
          'replica',
          '--id',
          id,
          '--listen',
          `${CHAOS_HOST}:0`,
          '--coordinator',
          coordinatorAddress,
          '--advertise',
          cluster.proxy(id).address,
          '--dir',
          join(cluster.diskRoot(id), id),
          ...(options.replicaArguments ?? []),
          ...(options.clusterArguments ?? []),
        ];
        // Every lease it is granted, written down for the check that no two ran at once.
        const environment = {
          ...clockEnvironment(id),
          [TEST_LEASE_RECORD_VARIABLE]: leaseRecordPath(directory, id),
        };
        replicas.set(id, new ServerProcess(id, args, logPath(id), environment));
        if (options.replicaFormatLevel !== undefined)
          cluster.formatLevels.set(id, options.replicaFormatLevel);
      }
      // A new cluster in a new folder: said once, at the first start. A restart after losing the
      // state directory comes without it, as it would from an operator who did not notice.
      for (const name of coordinatorNames) {
        cluster.proxy(name).setTarget(await cluster.coordinatorNamed(name).start(['--new-cluster']));
      }
      await Promise.all(replicaIds.map((id) => cluster.startReplica(id)));
      return cluster;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  /** Where clients (and replicas) dial the coordinator: its proxy (on etcd, every coordinator's, comma-separated). */
  get coordinatorAddress(): string {
    return this.coordinatorNames.map((name) => this.proxy(name).address).join(',');
  }

  proxy(name: string): FaultProxy {
    const proxy = this.proxies.get(name);
    if (proxy === undefined) throw new Error(`no proxy for ${name}`);
    return proxy;
  }

  replica(id: string): ServerProcess {
    const replica = this.replicas.get(id);
    if (replica === undefined) throw new Error(`no replica ${id}`);
    return replica;
  }

  /**
   * Starts (or restarts, from its data directory) a replica at the format level it is held at, if
   * any, and points its proxy at it.
   */
  async startReplica(id: string): Promise<void> {
    const proxy = this.proxy(id);
    proxy.setTarget(null);
    const level = this.formatLevels.get(id);
    proxy.setTarget(
      await this.replica(id).start(level === undefined ? [] : ['--format-level', String(level)]),
    );
  }

  /** The format level replica `id` is held at, or null when it runs at this build's. */
  formatLevelOf(id: string): number | null {
    return this.formatLevels.get(id) ?? null;
  }

  /** Holds a stopped replica at `level` from its next start on; null: this build's level (an upgrade). */
  setFormatLevel(id: string, level: number | null): void {
    assert(this.replica(id).state === 'stopped', `${id}'s format level changed while its process runs`);
    if (level === null) this.formatLevels.delete(id);
    else this.formatLevels.set(id, level);
  }

  async killReplica(id: string): Promise<void> {
    await this.replica(id).kill();
  }

  /** The data directory of 'coordinator' or a replica id. */
  dataDirectory(name: string): string {
    assert(name === COORDINATOR_NAME || this.replicas.has(name), `no server ${name}`);
    return join(this.diskRoot(name), name);
  }

  /** The directory `name`'s data directory lies in: the run's, or the server's own file system. */
  private diskRoot(name: string): string {
    return this.disks?.has(name) === true ? this.disks.mountPoint(name) : this.directory;
  }

  /**
   * Loses a stopped server's data directory, as a wiped or replaced disk would: the directory moves
   * to lost/NAME.N and either nothing or an empty directory is left in its place. Returns where the
   * old one went.
   */
  loseDirectory(name: string, how: DirectoryLoss): string {
    const server = name === COORDINATOR_NAME ? this.coordinator : this.replica(name);
    assert(server.state === 'stopped', `${name}'s directory lost while its process runs`);
    const directory = this.dataDirectory(name);
    this.directoriesLost += 1;
    // On the same file system, so that the move is a rename.
    const lost = join(this.diskRoot(name), 'lost');
    const aside = join(lost, `${name}.${this.directoriesLost}`);
    mkdirSync(lost, { recursive: true });
    if (existsSync(directory)) renameSync(directory, aside);
    if (how === 'emptied') mkdirSync(directory);
    if (name === COORDINATOR_NAME) this.coordinatorStateLost = true;
    return aside;
  }

  /** Whether the coordinator lost its state and has not been started to recover it since. */
  get coordinatorNeedsRecovery(): boolean {
    return this.coordinatorStateLost;
  }

  /**
   * Starts the coordinator from its directory and points its proxy at it. With `recover`, as the
   * operator does after it lost its state: --recover-from-replicas naming every replica.
   */
  async startCoordinator({ recover }: { readonly recover: boolean }): Promise<void> {
    const proxy = this.proxy(COORDINATOR_NAME);
    proxy.setTarget(null);
    const extraArgs = recover ? ['--recover-from-replicas', this.replicaIds.join(',')] : [];
    proxy.setTarget(await this.coordinator.start(extraArgs));
    if (recover) this.coordinatorStateLost = false;
  }

  /** Stops the coordinator in order (SIGTERM), as an operator does before restarting it. */
  async stopCoordinator(): Promise<void> {
    this.proxy(COORDINATOR_NAME).setTarget(null);
    await this.coordinator.stop();
  }

  /** SIGKILL the coordinator; its proxy refuses new connections until it is started again. */
  async killCoordinator(): Promise<void> {
    this.proxy(COORDINATOR_NAME).setTarget(null);
    await this.coordinator.kill();
  }

  // ---- coordinators on etcd ----------------------------------------------------------------------

  /** SIGKILL one coordinator (its proxy refuses new connections until it is started again). */
  async killCoordinatorNamed(name: string): Promise<void> {
    this.proxy(name).setTarget(null);
    await this.coordinatorNamed(name).kill();
  }

  /** Starts a coordinator again (on etcd it stands by until it wins an election). */
  async startCoordinatorNamed(name: string): Promise<void> {
    const proxy = this.proxy(name);
    proxy.setTarget(null);
    proxy.setTarget(await this.coordinatorNamed(name).start());
  }

  /** The coordinator that leads now, by etcd's leader key (its proxy's address), or null. */
  async leadingCoordinator(): Promise<string | null> {
    if (this.etcd === null) return COORDINATOR_NAME;
    // The chaos cluster runs the default cluster id; the client asks every member in turn.
    const client = new EtcdClient(this.etcd.urls);
    const { kv } = await client
      .range(etcdKeysOf(clusterIdDefault).leader)
      .catch(() => ({ kv: null }))
      .finally(() => client.close());
    if (kv === null) return null;
    const address = kv.value.toString('utf8');
    return this.coordinatorNames.find((name) => this.proxy(name).address === address) ?? null;
  }

  /** Clears every proxy fault. */
  healNetwork(): void {
    for (const proxy of this.proxies.values()) proxy.heal();
  }

  /** Whether server `name` (a replica id or 'coordinator') has a file system of its own to freeze. */
  hasOwnDisk(name: string): boolean {
    return this.disks?.has(name) === true;
  }

  /** Freezes `name`'s file system: its writes and fsyncs wait until thawDisk. */
  async freezeDisk(name: string): Promise<void> {
    assert(this.disks?.has(name) === true, `${name} has no disk of its own to freeze`);
    await this.disks.freeze(name);
  }

  async thawDisk(name: string): Promise<void> {
    await this.disks?.thaw(name);
  }

  /** Takes every free block of `name`'s file system: its next write that needs one fails ENOSPC. */
  async fillDisk(name: string): Promise<number> {
    assert(this.disks?.has(name) === true, `${name} has no disk of its own to fill`);
    return await this.disks.fill(name);
  }

  /** Frees what fillDisk took. */
  async freeDisk(name: string): Promise<void> {
    await this.disks?.free(name);
  }

  /**
   * The power fails under `name` (a replica id, 'coordinator' or an etcd member): its process dies at
   * once (kill -9), its disk loses what was not synced and is mounted again (server-disks.ts). Not
   * restarted.
   */
  async cutPower(name: string): Promise<void> {
    assert(this.disks?.has(name) === true, `${name} has no disk of its own to cut the power of`);
    if (name === COORDINATOR_NAME) await this.killCoordinator();
    else if (this.etcd?.names.includes(name) === true) await this.etcd.kill(name);
    else await this.killReplica(name);
    await this.disks.cutPower(name);
  }

  /** Thaws every frozen disk. */
  async thawDisks(): Promise<void> {
    await this.disks?.thawAll();
  }

  /** Stops every process by its id and closes every proxy; thaws the disks first, unmounts them last. */
  async close(): Promise<void> {
    // A process waiting on a frozen disk cannot exit, not even on SIGKILL.
    await this.disks?.thawAll();
    await Promise.all([...this.replicas.values()].map((replica) => replica.stop()));
    await Promise.all([...this.coordinators.values()].map((coordinator) => coordinator.stop()));
    await this.etcd?.close();
    await Promise.all([...this.proxies.values()].map((proxy) => proxy.close()));
    await this.disks?.close();
  }
}

/**
 * The shell's environment without its UNDERSTUDY_* variables: the processes the chaos runner and the
 * benchmarks start get their settings as flags (and test hooks through `env`), so a variable set for
 * something else (UNDERSTUDY_LOG_LEVEL=warn would hide the lines the chaos runner counts) changes none.
 */
function inheritedEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('UNDERSTUDY_')));
}
