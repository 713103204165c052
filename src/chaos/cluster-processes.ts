// The cluster of a chaos run: a coordinator and N replicas as separate processes of this same CLI
// (so SIGKILL and SIGSTOP hit real processes), each behind a FaultProxy. Replicas advertise their
// proxy's address, so peers and clients dial the proxy; replicas and clients reach the coordinator
// through its proxy. Every server listens on 127.0.0.1 with a port the OS picks; a restarted
// replica gets a new port and its proxy is pointed there. Each process's stderr (its JSON logs) is
// appended to logs/NAME.log in the run's directory.
// Invariants: processes are only ever signalled by their own process id; close() leaves none
// running (SIGCONT, SIGTERM, then SIGKILL after a grace period) and closes every proxy.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Random } from '../sim/random.js';
import { FaultProxy } from './proxy.js';

export const CHAOS_HOST = '127.0.0.1';
/** How long a server process may take to print its ready line. */
export const PROCESS_READY_TIMEOUT_MS = 15_000;
/** How long a process may take to exit after SIGTERM before it gets SIGKILL. */
export const PROCESS_STOP_GRACE_MS = 2000;
export const COORDINATOR_NAME = 'coordinator';

/** What every server prints once it listens: "... listening on HOST:PORT". */
const readyLinePattern = / listening on (\S+)/;
const cliScript = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export type ProcessState = 'running' | 'paused' | 'stopped';

/** One server process: started, SIGKILLed, SIGSTOPped and restarted with the same arguments. */
export class ServerProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private paused = false;

  constructor(
    readonly name: string,
    private readonly args: readonly string[],
    private readonly logPath: string,
  ) {}

  get state(): ProcessState {
    if (this.child === null) return 'stopped';
    return this.paused ? 'paused' : 'running';
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Spawns the process and resolves with the address it listens on. */
  async start(): Promise<string> {
    if (this.child !== null) throw new Error(`${this.name} is already running`);
    const logFile = openSync(this.logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [cliScript, ...this.args], { stdio: ['ignore', 'pipe', logFile] });
    } finally {
      closeSync(logFile); // the child holds its own copy
    }
    this.child = child;
    this.paused = false;
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
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
        lines.on('line', (line) => {
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
}

export class ChaosCluster {
  private constructor(
    readonly directory: string,
    readonly coordinator: ServerProcess,
    private readonly replicas: ReadonlyMap<string, ServerProcess>,
    /** By target name: 'coordinator' and each replica id. */
    readonly proxies: ReadonlyMap<string, FaultProxy>,
  ) {}

  get replicaIds(): readonly string[] {
    return [...this.replicas.keys()];
  }

  /** Starts the proxies, the coordinator and the replicas; on any failure, stops what started. */
  static async start(options: ChaosClusterOptions): Promise<ChaosCluster> {
    const { directory } = options;
    mkdirSync(join(directory, 'logs'), { recursive: true });
    const random = new Random(options.seed);
    const replicaIds = Array.from({ length: options.replicaCount }, (_, k) => `r${k + 1}`);
    const proxies = new Map<string, FaultProxy>();
    const replicas = new Map<string, ServerProcess>();
    const logPath = (name: string) => join(directory, 'logs', `${name}.log`);
    const coordinator = new ServerProcess(
      COORDINATOR_NAME,
      // A new cluster in a new folder (the flag is ignored once the coordinator has stored state).
      [
        'coordinator',
        '--listen',
        `${CHAOS_HOST}:0`,
        '--dir',
        join(directory, COORDINATOR_NAME),
        '--new-cluster',
      ],
      logPath(COORDINATOR_NAME),
    );
    const cluster = new ChaosCluster(directory, coordinator, replicas, proxies);
    try {
      for (const name of [COORDINATOR_NAME, ...replicaIds]) {
        const proxy = await FaultProxy.start({
          name,
          host: CHAOS_HOST,
          random: new Random(random.nextUint32()),
        });
        proxies.set(name, proxy);
      }
      const coordinatorAddress = cluster.proxy(COORDINATOR_NAME).address;
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
          join(directory, id),
        ];
        replicas.set(id, new ServerProcess(id, args, logPath(id)));
      }
      cluster.proxy(COORDINATOR_NAME).setTarget(await coordinator.start());
      await Promise.all(replicaIds.map((id) => cluster.startReplica(id)));
      return cluster;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  /** Where clients (and replicas) dial the coordinator: its proxy. */
  get coordinatorAddress(): string {
    return this.proxy(COORDINATOR_NAME).address;
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

  /** Starts (or restarts, from its data directory) a replica and points its proxy at it. */
  async startReplica(id: string): Promise<void> {
    const proxy = this.proxy(id);
    proxy.setTarget(null);
    proxy.setTarget(await this.replica(id).start());
  }

  async killReplica(id: string): Promise<void> {
    await this.replica(id).kill();
  }

  /** Clears every proxy fault. */
  healNetwork(): void {
    for (const proxy of this.proxies.values()) proxy.heal();
  }

  /** Stops every process by its id and closes every proxy. */
  async close(): Promise<void> {
    await Promise.all([...this.replicas.values()].map((replica) => replica.stop()));
    await this.coordinator.stop();
    await Promise.all([...this.proxies.values()].map((proxy) => proxy.close()));
  }
}
