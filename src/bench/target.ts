// Where the load goes: a running cluster named by its coordinator, or a local one the bench starts
// itself (a coordinator and N replicas as processes of this CLI, on 127.0.0.1 ports the OS picks,
// in a temporary directory) with the measurement tool's cluster (src/tools/measure-cluster.ts).
// Invariant: close() stops every process the target started, each by its own process id, and
// removes its directory; a cluster that failed to form keeps its directory (its logs say why).
// A started cluster is the one way every scenario gets its own cluster: the failover scenario kills
// and restarts its replicas, and the steady one samples their memory, through `cluster`.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpMetricsFetcher, type MetricsFetcher } from '../admin/dashboard/write-latency-scraper.js';
import { CLUSTER_ID_DEFAULT, Client, type TlsMaterial } from '../client/index.js';
import { MeasuredCluster, waitForWholeView } from '../tools/measure-cluster.js';
import type { NamedProcess } from './process-cpu.js';

/** A replica whose every fsync the bench made slower (UNDERSTUDY_TEST_FSYNC_DELAY_MS). */
export interface SlowBackup {
  readonly replica: string;
  readonly fsyncDelayMs: number;
}

export interface BenchTarget {
  readonly coordinator: string;
  readonly clusterId: string;
  /** How many replicas this bench started, or null for a cluster it found running. */
  readonly startedReplicas: number | null;
  readonly slowBackup: SlowBackup | null;
  /** How its clients dial a running cluster on TLS (a cluster the bench starts is plain TCP). */
  readonly tls?: TlsMaterial;
  /** The token its clients bring to a running cluster that asks for one (--auth-file). */
  readonly token?: string;
  /** The cluster's processes, when they run on this machine because the bench started them. */
  processes(): readonly NamedProcess[];
  /**
   * The replicas' admin ports (HOST:PORT) whose /metrics the bench reads: those of the replicas it
   * started, or those named by --replica-admins.
   */
  replicaAdmins(): readonly { readonly name: string; readonly address: string }[];
  /** How it reads them (plain HTTP, or HTTPS trusting the cluster's CA). */
  readonly fetchMetrics: MetricsFetcher;
  close(): Promise<void>;
}

/** How long the bench waits for one replica's /metrics. */
export const METRICS_TIMEOUT_MS = 2000;

/** A cluster that runs already; `admins`, its replicas' admin ports the bench may read (--replica-admins). */
export function runningCluster(
  coordinator: string,
  clusterId: string,
  tls?: TlsMaterial,
  token?: string,
  admins: { readonly addresses: readonly string[]; readonly fetchMetrics: MetricsFetcher } = {
    addresses: [],
    fetchMetrics: httpMetricsFetcher(METRICS_TIMEOUT_MS),
  },
): BenchTarget {
  const replicaAdmins = admins.addresses.map((address) => ({ name: address, address }));
  return {
    coordinator,
    clusterId,
    startedReplicas: null,
    slowBackup: null,
    ...(tls === undefined ? {} : { tls }),
    ...(token === undefined ? {} : { token }),
    processes: () => [],
    replicaAdmins: () => replicaAdmins,
    fetchMetrics: admins.fetchMetrics,
    close: async () => {},
  };
}

/** A cluster the bench started: its processes are the bench's to kill, restart and measure. */
export interface LocalBenchTarget extends BenchTarget {
  readonly startedReplicas: number;
  readonly cluster: MeasuredCluster;
}

export interface LocalClusterOptions {
  /** Slows every fsync of the last replica by this much: a slow backup (a test hook, see the WAL). */
  readonly slowBackupFsyncMs?: number;
  /** Cluster settings given to the coordinator and every replica (--sync-quorum, --lag-policy, ...). */
  readonly clusterArguments?: readonly string[];
}

/** Starts a coordinator and `replicas` replicas, and resolves once the view holds every replica. */
export async function startLocalCluster(
  replicas: number,
  options: LocalClusterOptions = {},
): Promise<LocalBenchTarget> {
  const directory = mkdtempSync(join(tmpdir(), 'understudy-bench-'));
  const replicaEnv = new Map<string, Record<string, string>>();
  // The last to join: the first replica is the primary of a new cluster.
  const slowBackup: SlowBackup | null =
    options.slowBackupFsyncMs === undefined
      ? null
      : { replica: `r${replicas}`, fsyncDelayMs: options.slowBackupFsyncMs };
  if (slowBackup !== null) {
    replicaEnv.set(slowBackup.replica, { UNDERSTUDY_TEST_FSYNC_DELAY_MS: String(slowBackup.fsyncDelayMs) });
  }
  let cluster: MeasuredCluster;
  try {
    const settings = options.clusterArguments ?? [];
    cluster = await MeasuredCluster.start({
      directory,
      replicaCount: replicas,
      replicaFlags: settings,
      coordinatorFlags: settings,
      replicaEnv,
    });
  } catch (error) {
    throw new Error(`the cluster did not start (logs in ${directory}): ${(error as Error).message}`);
  }
  try {
    const client = await Client.connect({ coordinator: cluster.coordinatorAddress });
    try {
      await waitForWholeView(client, cluster);
    } finally {
      await client.close();
    }
  } catch (error) {
    await cluster.close();
    throw new Error(`the cluster did not form a view (logs in ${directory}): ${(error as Error).message}`);
  }
  return {
    coordinator: cluster.coordinatorAddress,
    clusterId: CLUSTER_ID_DEFAULT,
    startedReplicas: replicas,
    slowBackup,
    cluster,
    processes: () => cluster.processes(),
    replicaAdmins: () => cluster.adminAddresses(),
    fetchMetrics: httpMetricsFetcher(METRICS_TIMEOUT_MS),
    close: async () => {
      await cluster.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
