// What the measurement tool stands on: a local cluster of real processes (the coordinator on a port
// the OS picks, each replica on a free port chosen here and kept across its restarts, so peers and
// clients find it again), resource samples of each replica process (data directory bytes and
// resident memory), status polling, and a bounded pool of concurrent calls.
// Invariants: every process is signalled only by its own process id; close() leaves none running.
// Each process's stderr (its JSON log lines) goes to logs/NAME.log in the cluster's directory.

import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ServerProcess } from '../chaos/cluster-processes.js';
import type { Client } from '../client/index.js';
import type { ReplicaStatus, StatusReply } from '../protocol/messages.js';
import { freePort } from './free-port.js';

export const MEASURE_HOST = '127.0.0.1';
/** How long a cluster may take to form its first view with every replica. */
export const CLUSTER_READY_TIMEOUT_MS = 60_000;
/** How often waitFor asks again. */
const POLL_INTERVAL_MS = 100;

export class MeasuredCluster {
  private readonly replicas = new Map<string, ServerProcess>();

  private constructor(
    readonly directory: string,
    readonly coordinatorAddress: string,
    private readonly coordinator: ServerProcess,
    /** Flags every replica of this cluster gets (retention, transfer rate). */
    private readonly replicaFlags: readonly string[],
    /** Environment variables of some replicas, by id (test hooks such as a slow fsync). */
    private readonly replicaEnv: ReadonlyMap<string, Readonly<Record<string, string>>>,
  ) {}

  /** Starts the coordinator and `replicaCount` replicas (r1, r2, ...) and waits for a whole view. */
  static async start(options: {
    readonly directory: string;
    readonly replicaCount: number;
    readonly replicaFlags: readonly string[];
    readonly replicaEnv?: ReadonlyMap<string, Readonly<Record<string, string>>>;
    /** Flags of the coordinator beyond its address and directory (the cluster's --sync-quorum). */
    readonly coordinatorFlags?: readonly string[];
  }): Promise<MeasuredCluster> {
    const { directory } = options;
    mkdirSync(join(directory, 'logs'), { recursive: true });
    const coordinator = new ServerProcess(
      'coordinator',
      [
        'coordinator',
        '--listen',
        `${MEASURE_HOST}:0`,
        '--dir',
        join(directory, 'coordinator'),
        ...(options.coordinatorFlags ?? []),
      ],
      join(directory, 'logs', 'coordinator.log'),
    );
    const address = await coordinator.start(['--new-cluster']);
    const cluster = new MeasuredCluster(
      directory,
      address,
      coordinator,
      options.replicaFlags,
      options.replicaEnv ?? new Map(),
    );
    try {
      const ids = Array.from({ length: options.replicaCount }, (_, k) => `r${k + 1}`);
      for (const id of ids) await cluster.addReplica(id);
      return cluster;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  get replicaIds(): readonly string[] {
    return [...this.replicas.keys()];
  }

  /** The coordinator and each replica that is running, by name and process id. */
  processes(): { readonly name: string; readonly pid: number }[] {
    const all = [['coordinator', this.coordinator] as const, ...this.replicas];
    return all.flatMap(([name, server]) => (server.pid === undefined ? [] : [{ name, pid: server.pid }]));
  }

  /** Each running replica's admin port (HOST:PORT), by name. */
  adminAddresses(): { readonly name: string; readonly address: string }[] {
    return [...this.replicas].flatMap(([name, server]) => {
      const address = server.state === 'running' ? server.adminAddress : null;
      return address === null ? [] : [{ name, address }];
    });
  }

  /** Starts a new replica with an empty data directory; resolves once it prints its ready line. */
  async addReplica(id: string): Promise<ServerProcess> {
    if (this.replicas.has(id)) throw new Error(`replica ${id} exists`);
    const port = await freePort();
    const replica = new ServerProcess(
      id,
      [
        'replica',
        '--id',
        id,
        '--listen',
        `${MEASURE_HOST}:${port}`,
        '--coordinator',
        this.coordinatorAddress,
        '--dir',
        this.dataDirectory(id),
        // Its /metrics tell how long its fsyncs and requests took (the bench's "where a write waited").
        '--admin',
        `${MEASURE_HOST}:0`,
        ...this.replicaFlags,
      ],
      this.logPath(id),
      this.replicaEnv.get(id),
    );
    this.replicas.set(id, replica);
    await replica.start();
    return replica;
  }

  replica(id: string): ServerProcess {
    const replica = this.replicas.get(id);
    if (replica === undefined) throw new Error(`no replica ${id}`);
    return replica;
  }

  dataDirectory(id: string): string {
    return join(this.directory, id);
  }

  logPath(name: string): string {
    return join(this.directory, 'logs', `${name}.log`);
  }

  /** The JSON log lines of a process whose `message` is this one, parsed. */
  logLines(name: string, message: string): Record<string, unknown>[] {
    let text: string;
    try {
      text = readFileSync(this.logPath(name), 'utf8');
    } catch {
      return [];
    }
    return text.split('\n').flatMap((line) => {
      if (!line.includes(message)) return [];
      try {
        const parsed: unknown = JSON.parse(line);
        if (typeof parsed !== 'object' || parsed === null) return [];
        const record = parsed as Record<string, unknown>;
        return record.message === message ? [record] : [];
      } catch {
        return [];
      }
    });
  }

  /** Stops every replica, then the coordinator (SIGTERM, SIGKILL after a grace), each by its id. */
  async close(): Promise<void> {
    await Promise.all([...this.replicas.values()].map((replica) => replica.stop()));
    await this.coordinator.stop();
  }
}

// ---- resources ---------------------------------------------------------------------------------

/**
 * The disk space the files under `directory` take (0 if it does not exist): allocated blocks, as
 * `du` counts them, not file sizes, since a log segment is created at its full size as a sparse file.
 */
export function directoryBytes(directory: string): number {
  let total = 0;
  let entries: string[];
  try {
    entries = readdirSync(directory);
  } catch {
    return 0;
  }
  for (const name of entries) {
    const path = join(directory, name);
    try {
      const stats = statSync(path);
      total += stats.isDirectory() ? directoryBytes(path) : stats.blocks * 512;
    } catch {
      // Deleted between the listing and the stat (a compacted segment, a replaced snapshot).
    }
  }
  return total;
}

/** VmRSS of a process, in bytes, or null if it is not running. */
export function residentBytes(pid: number | undefined): number | null {
  return statusField(pid, 'VmRSS');
}

/**
 * RssAnon of a process: its resident memory without the pages mapped from files (the node
 * executable and libraries, some 45 MB shared by every Node process), or null if it is not running.
 */
export function anonymousResidentBytes(pid: number | undefined): number | null {
  return statusField(pid, 'RssAnon');
}

/** A "NAME: N kB" line of /proc/PID/status, in bytes. */
function statusField(pid: number | undefined, name: string): number | null {
  if (pid === undefined) return null;
  try {
    const match = new RegExp(`^${name}:\\s+(\\d+)\\s+kB$`, 'm').exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return match?.[1] === undefined ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

/** The newest kept snapshot file of a replica (by the index in its name), or null. */
export function newestSnapshotFile(dataDirectory: string): { name: string; bytes: number } | null {
  const directory = join(dataDirectory, 'snapshots');
  let names: string[];
  try {
    names = readdirSync(directory).filter((name) => /^snapshot-\d+-\d+\.snap$/.test(name));
  } catch {
    return null;
  }
  const name = names.sort().at(-1); // the index is zero-padded: name order is index order
  if (name === undefined) return null;
  try {
    return { name, bytes: statSync(join(directory, name)).size };
  } catch {
    return null;
  }
}

export interface ResourcePeak {
  directoryBytes: number;
  residentBytes: number;
  anonymousBytes: number;
  samples: number;
}

/** Samples each replica's data directory size and resident memory at an interval; keeps the peaks. */
export class ResourceSampler {
  readonly peaks = new Map<string, ResourcePeak>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly cluster: MeasuredCluster,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.sample();
  }

  sample(): void {
    for (const id of this.cluster.replicaIds) {
      const peak = this.peaks.get(id) ?? {
        directoryBytes: 0,
        residentBytes: 0,
        anonymousBytes: 0,
        samples: 0,
      };
      const pid = this.cluster.replica(id).pid;
      peak.directoryBytes = Math.max(peak.directoryBytes, directoryBytes(this.cluster.dataDirectory(id)));
      peak.residentBytes = Math.max(peak.residentBytes, residentBytes(pid) ?? 0);
      peak.anonymousBytes = Math.max(peak.anonymousBytes, anonymousResidentBytes(pid) ?? 0);
      peak.samples += 1;
      this.peaks.set(id, peak);
    }
  }
}

// ---- status ------------------------------------------------------------------------------------

export function replicaStatus(status: StatusReply, id: string): ReplicaStatus | undefined {
  return status.replicas.find((replica) => replica.id === id);
}

export function isBackup(status: StatusReply, id: string): boolean {
  return status.view?.backups.some((backup) => backup === id) === true;
}

/** Whether the view holds every one of `ids` as primary or backup. */
export function isWhole(status: StatusReply, ids: readonly string[]): boolean {
  const view = status.view;
  if (view === null) return false;
  return ids.every((id) => view.primary === id || view.backups.some((backup) => backup === id));
}

/** Asks `probe` every `intervalMs` until it answers something other than undefined. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = POLL_INTERVAL_MS,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown = null;
  while (performance.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(intervalMs);
  }
  const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
}

/** Waits until the view holds every replica of the cluster as primary or backup. */
export function waitForWholeView(client: Client, cluster: MeasuredCluster): Promise<StatusReply> {
  return waitFor(
    'a view with every replica',
    async () => {
      const status = await client.status();
      return isWhole(status, cluster.replicaIds) ? status : undefined;
    },
    CLUSTER_READY_TIMEOUT_MS,
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- load --------------------------------------------------------------------------------------

/** Failed calls by error code (the class name when there is no code). */
export class FailureCount {
  readonly byCode = new Map<string, number>();

  add(error: unknown): void {
    const code =
      typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
        ? error.code
        : error instanceof Error
          ? error.name
          : 'unknown';
    this.byCode.set(code, (this.byCode.get(code) ?? 0) + 1);
  }

  get total(): number {
    let total = 0;
    for (const count of this.byCode.values()) total += count;
    return total;
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries(this.byCode);
  }
}

/**
 * Runs task(0) .. task(total - 1), at most `concurrency` at a time, until all are done or `stop`
 * says so. A task that throws is counted in `failures`, and the rest go on.
 */
export async function runConcurrently(
  total: number,
  concurrency: number,
  task: (k: number) => Promise<void>,
  failures: FailureCount,
  stop: () => boolean = () => false,
): Promise<number> {
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < total && !stop()) {
      const k = next++;
      try {
        await task(k);
        done += 1;
      } catch (error) {
        failures.add(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, total)) }, worker));
  return done;
}
