// `npm run measure:months -- [retention|transfer|sessions|all] [--json] [flags]`: the figures issue 7
// asks for, measured on real processes on this machine. Each scenario starts its own cluster in a
// fresh temporary directory (127.0.0.1, free ports), drives it with pipelined concurrent calls, and
// stops every process it started by its id, also when it fails or is interrupted.
//
// - retention: many puts over a small key set; every second, each replica's data directory size and
//   resident memory, against the bounds data dir < 4 × live state + one log segment and
//   RSS < 2 × live state + 150 MB; then kill -9 of a backup and the time it takes to come back.
// - transfer: a large state, then a new empty replica joins while a light load writes; the snapshot
//   transfer's bytes, seconds and rate, unthrottled and paced by --transfer-rate.
// - sessions: many short-lived clients (connect, write once, close); the session count against
//   --sessions-max, and replica memory before and after.
//
// Progress goes to stderr; the report (or one JSON object with --json) to stdout.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from '../client/index.js';
import { formatTransfer } from '../client/transfer-progress.js';
import type { StatusReply } from '../protocol/messages.js';
import { segmentSizeBytesDefault } from '../storage/write-ahead-log.js';
import {
  directoryBytes,
  FailureCount,
  isBackup,
  isWhole,
  MeasuredCluster,
  newestSnapshotFile,
  ResourceSampler,
  replicaStatus,
  residentBytes,
  runConcurrently,
  sleep,
  waitFor,
  waitForWholeView,
} from './measure-cluster.js';

// ---- limits and defaults -----------------------------------------------------------------------

/**
 * The memory bound's allowance for the runtime itself (Node, buffers, code, the collector's slack):
 * 150 MB. It was 100 MB while the servers ran with --heap-growing-percent=20, which bought 30-40 MB at
 * a small state with stalls of 300-700 ms at a large one (src/cli/server-node-flags.ts).
 */
const RESIDENT_ALLOWANCE_BYTES = 150 * 1000 * 1000;
/** The data directory bound allows this many times the live state, plus one log segment. */
const DIRECTORY_STATE_FACTOR = 4;
const RESIDENT_STATE_FACTOR = 2;
/**
 * How often the retention run samples directory size and memory. The directory peaks for well under
 * a second (from a segment's rollover to the snapshot that lets it go), so once a second would miss it.
 */
const RESOURCE_SAMPLE_INTERVAL_MS = 100;
/** How often the transfer run asks the coordinator for r4's progress. */
const TRANSFER_SAMPLE_INTERVAL_MS = 200;
/** How often the sessions run asks the coordinator for the session counts. */
const SESSION_SAMPLE_INTERVAL_MS = 250;
/** How long the sessions run keeps sampling after the last client: a few expiry sweeps. */
const SESSIONS_AFTER_MS = 5000;
/** How often a scenario prints how far it got. */
const PROGRESS_INTERVAL_MS = 10_000;
/** How long a restarted backup may take to be a caught-up backup again. */
const RESTART_TIMEOUT_MS = 120_000;
/** How long a new replica may take to receive the snapshot and become a backup. */
const JOIN_TIMEOUT_MS = 15 * 60_000;
/** How often the restart measurement polls status: the resolution of its times. */
const RESTART_POLL_INTERVAL_MS = 20;
/** Progress lines of a transfer printed in the report (evenly spread over the samples). */
const TRANSFER_LINES_SHOWN = 6;
/** Keys the light load and the sessions clients write to (small, so the state stays small). */
const SMALL_KEY_COUNT = 1000;
const SMALL_VALUE_BYTES = 100;
/** Client deadline: long enough that a snapshot of a large state does not fail calls. */
const CLIENT_DEADLINE_MS = 60_000;

const defaults = {
  puts: 1_000_000,
  keys: 10_000,
  valueBytes: 100,
  // At its largest a data directory holds a full 64 MiB segment not yet compacted, up to three
  // snapshot files (two kept, one being written) and the log written since the last snapshot (on
  // disk some 1.15 × what the threshold counts, for small entries), so the bound (4 × state + a
  // segment) needs that log under about one state: 512 KiB for this ~1.1 MB state. The 4 MiB
  // default can exceed it by some 4 MB (docs/OPERATIONS.md).
  snapshotLogBytes: 512 * 1024,
  concurrency: 64,
  transferKeys: 20_000,
  transferValueBytes: 10_000,
  lightConcurrency: 8,
  transferRate: 20_000_000,
  clients: 100_000,
  clientConcurrency: 50,
  sessionsMax: 10_000,
  sessionsReplicas: 3,
};

const usage = `usage: npm run measure:months -- [retention|transfer|sessions|all] [--json] [flags]
  retention  --puts N (${defaults.puts}) --keys N (${defaults.keys}) --value-bytes N (${defaults.valueBytes})
             --snapshot-log-bytes N (${defaults.snapshotLogBytes}) --concurrency N (${defaults.concurrency})
  transfer   --transfer-keys N (${defaults.transferKeys}) --transfer-value-bytes N (${defaults.transferValueBytes})
             --transfer-rate BYTES_PER_S (${defaults.transferRate}; the paced run) --light-concurrency N (${defaults.lightConcurrency})
  sessions   --clients N (${defaults.clients}) --client-concurrency N (${defaults.clientConcurrency})
             --sessions-max N (${defaults.sessionsMax}) --sessions-replicas N (${defaults.sessionsReplicas})
  --keep     keep the temporary directories (data and logs) for a look afterwards`;

type Options = typeof defaults & { readonly json: boolean; readonly keep: boolean };
type ScenarioName = 'retention' | 'transfer' | 'sessions';
const scenarioNames: readonly ScenarioName[] = ['retention', 'transfer', 'sessions'];

// ---- shared ------------------------------------------------------------------------------------

/** Clusters running now: an interrupt stops them before the tool exits. */
const running = new Set<MeasuredCluster>();
/** Temporary directories to remove at the end (unless --keep). */
const directories: string[] = [];

function progress(line: string): void {
  process.stderr.write(`measure: ${line}\n`);
}

/** The 1-minute load average: other work shares this machine, and this says how much. */
const loadAverage = (): number => Number((loadavg()[0] ?? 0).toFixed(2));

/** The load average when a scenario's cluster was ready and when its measurement ended. */
interface LoadDuring {
  readonly start: number;
  readonly end: number;
}

const describeLoad = (load: LoadDuring): string =>
  `load average ${load.start} → ${load.end} on ${cpus().length} CPUs`;

/**
 * A value of `bytes` bytes that differs for each k. The store logs no update for a put of the value
 * a key already holds, so a workload that rewrites one value would log almost nothing.
 */
function valueFor(k: number, bytes: number, fill: number): Buffer {
  const value = Buffer.alloc(bytes, fill);
  value.write(String(k), 0, 'latin1');
  return value;
}

const megabytes = (bytes: number): number => Number((bytes / 1e6).toFixed(2));
const seconds = (ms: number): number => Number((ms / 1000).toFixed(3));

/** Runs `body` with a fresh cluster and a client, and stops both whatever happens. */
async function withCluster<T>(
  name: string,
  replicaCount: number,
  replicaFlags: readonly string[],
  body: (cluster: MeasuredCluster, client: Client) => Promise<T>,
  options: Options,
): Promise<T> {
  const directory = mkdtempSync(join(tmpdir(), `understudy-measure-${name}-`));
  directories.push(directory);
  progress(
    `${name}: cluster of ${replicaCount} in ${directory} (${replicaFlags.join(' ') || 'default flags'})`,
  );
  const cluster = await MeasuredCluster.start({ directory, replicaCount, replicaFlags });
  running.add(cluster);
  const client = await Client.connect({
    coordinator: cluster.coordinatorAddress,
    deadlineMs: CLIENT_DEADLINE_MS,
  });
  try {
    await waitForWholeView(client, cluster);
    return await body(cluster, client);
  } finally {
    await client.close();
    await cluster.close();
    running.delete(cluster);
    if (!options.keep) rmSync(directory, { recursive: true, force: true });
  }
}

/** Prints "label: n done (rate/s)" every PROGRESS_INTERVAL_MS until stopped. */
function progressTicker(label: string, done: () => number, extra: () => string = () => ''): () => void {
  const startedMs = performance.now();
  const timer = setInterval(() => {
    const elapsed = (performance.now() - startedMs) / 1000;
    const count = done();
    progress(
      `${label}: ${count.toLocaleString('en-US')} in ${elapsed.toFixed(0)} s (${Math.round(count / elapsed)}/s)${extra()}`,
    );
  }, PROGRESS_INTERVAL_MS);
  return () => clearInterval(timer);
}

function primaryOf(status: StatusReply): string {
  const primary = status.view?.primary;
  if (primary === undefined) throw new Error('no primary in the view');
  return primary;
}

// ---- retention ---------------------------------------------------------------------------------

interface RetentionReplica {
  readonly id: string;
  readonly directoryBytesMax: number;
  readonly residentBytesMax: number;
  /** The largest RssAnon sampled: resident memory less the file-backed pages (the executable). */
  readonly anonymousBytesMax: number;
  readonly directoryBytesEnd: number;
  readonly residentBytesEnd: number | null;
  /** Before the first put: what the process costs with an empty state. */
  readonly residentBytesStart: number | null;
  readonly samples: number;
}

interface RetentionReport {
  readonly puts: number;
  readonly putsFailed: Record<string, number>;
  readonly keys: number;
  readonly valueBytes: number;
  readonly concurrency: number;
  readonly snapshotLogBytes: number;
  readonly seconds: number;
  readonly putsPerSecond: number;
  readonly liveState: { readonly newestSnapshotBytes: number; readonly keyValueBytes: number };
  readonly bounds: {
    readonly directoryBytes: number;
    readonly residentBytes: number;
    readonly directoryHolds: boolean;
    readonly residentHolds: boolean;
  };
  readonly replicas: readonly RetentionReplica[];
  readonly load: LoadDuring;
  readonly restart: {
    readonly replica: string;
    readonly appliedIndexTarget: number;
    readonly readySeconds: number;
    /** When the view first showed it as a learner (null if no sample caught that view). */
    readonly learnerSeconds: number | null;
    readonly backupSeconds: number;
    readonly caughtUpSeconds: number;
  };
}

async function measureRetention(options: Options): Promise<RetentionReport> {
  const flags = ['--snapshot-log-bytes', String(options.snapshotLogBytes)];
  return withCluster(
    'retention',
    3,
    flags,
    async (cluster, client) => {
      const loadStart = loadAverage();
      const keyWidth = String(options.keys - 1).length;
      const keyOf = (k: number): string => `key-${String(k % options.keys).padStart(keyWidth, '0')}`;
      const sampler = new ResourceSampler(cluster, RESOURCE_SAMPLE_INTERVAL_MS);
      const failures = new FailureCount();
      let done = 0;
      const residentStart = new Map(
        cluster.replicaIds.map((id) => [id, residentBytes(cluster.replica(id).pid)]),
      );
      sampler.start();
      const stopTicker = progressTicker(
        'retention puts',
        () => done,
        () =>
          cluster.replicaIds
            .map((id) => {
              const peak = sampler.peaks.get(id);
              return peak === undefined
                ? ''
                : `  ${id} max dir ${megabytes(peak.directoryBytes)} MB rss ${megabytes(peak.residentBytes)} MB`;
            })
            .join(''),
      );
      const startedMs = performance.now();
      try {
        await runConcurrently(
          options.puts,
          options.concurrency,
          async (k) => {
            await client.put(keyOf(k), valueFor(k, options.valueBytes, 0x61));
            done += 1;
          },
          failures,
        );
      } finally {
        stopTicker();
      }
      const loadMs = performance.now() - startedMs;
      sampler.sample();

      const before = await client.status();
      const primary = primaryOf(before);
      const newest = newestSnapshotFile(cluster.dataDirectory(primary));
      const keyValueBytes = options.keys * (keyOf(0).length + options.valueBytes);
      const newestSnapshotBytes = newest?.bytes ?? 0;

      // Restart: kill -9 a backup and time its way back. The new process is a new incarnation: the
      // coordinator makes it a learner in a new view and a backup again once the primary reports it
      // synced, so "backup again" counts only in a view newer than the one before the kill (a
      // restart quicker than the failure timeout still shows the old view for a moment).
      const backup = before.view?.backups[0];
      const viewBefore = before.view?.number ?? 0;
      if (backup === undefined) throw new Error('no backup to restart');
      const target = replicaStatus(before, primary)?.commitIndex ?? 0;
      progress(`retention: kill -9 of backup ${backup}, then a restart (applied index to reach: ${target})`);
      const replica = cluster.replica(backup);
      await replica.kill();
      const restartMs = performance.now();
      await replica.start();
      const readyMs = performance.now() - restartMs;
      let learnerMs: number | null = null;
      let backupMs: number | null = null;
      const caughtUpMs = await waitFor(
        `${backup} to be a caught-up backup again`,
        async () => {
          const status = await client.status();
          const atMs = performance.now() - restartMs;
          if ((status.view?.number ?? 0) <= viewBefore) return undefined;
          if (status.view?.learners.some((learner) => learner === backup) === true) learnerMs ??= atMs;
          if (!isBackup(status, backup)) return undefined;
          backupMs ??= atMs;
          const applied = replicaStatus(status, backup)?.appliedIndex ?? 0;
          return applied >= target ? atMs : undefined;
        },
        RESTART_TIMEOUT_MS,
        RESTART_POLL_INTERVAL_MS,
      );
      sampler.stop();

      const replicas = cluster.replicaIds.map((id): RetentionReplica => {
        const peak = sampler.peaks.get(id);
        return {
          id,
          directoryBytesMax: peak?.directoryBytes ?? 0,
          residentBytesMax: peak?.residentBytes ?? 0,
          anonymousBytesMax: peak?.anonymousBytes ?? 0,
          directoryBytesEnd: directoryBytes(cluster.dataDirectory(id)),
          residentBytesEnd: residentBytes(cluster.replica(id).pid),
          residentBytesStart: residentStart.get(id) ?? null,
          samples: peak?.samples ?? 0,
        };
      });
      const directoryBound = DIRECTORY_STATE_FACTOR * newestSnapshotBytes + segmentSizeBytesDefault;
      const residentBound = RESIDENT_STATE_FACTOR * newestSnapshotBytes + RESIDENT_ALLOWANCE_BYTES;
      return {
        puts: done,
        putsFailed: failures.toJSON(),
        keys: options.keys,
        valueBytes: options.valueBytes,
        concurrency: options.concurrency,
        snapshotLogBytes: options.snapshotLogBytes,
        seconds: seconds(loadMs),
        putsPerSecond: Math.round(done / (loadMs / 1000)),
        liveState: { newestSnapshotBytes, keyValueBytes },
        bounds: {
          directoryBytes: directoryBound,
          residentBytes: residentBound,
          directoryHolds: replicas.every((r) => r.directoryBytesMax < directoryBound),
          residentHolds: replicas.every((r) => r.residentBytesMax < residentBound),
        },
        replicas,
        load: { start: loadStart, end: loadAverage() },
        restart: {
          replica: backup,
          appliedIndexTarget: target,
          readySeconds: seconds(readyMs),
          learnerSeconds: learnerMs === null ? null : seconds(learnerMs),
          backupSeconds: seconds(backupMs ?? caughtUpMs),
          caughtUpSeconds: seconds(caughtUpMs),
        },
      };
    },
    options,
  );
}

// ---- transfer ----------------------------------------------------------------------------------

interface TransferSample {
  readonly atSeconds: number;
  readonly receivedBytes: number;
  readonly bytesPerSecond: number;
  /** As `understudy status` prints it. */
  readonly line: string;
}

interface TransferRun {
  /** Bytes per second the serving replicas were paced at, or null for no limit. */
  readonly transferRate: number | null;
  readonly loadedKeys: number;
  readonly loadFailed: Record<string, number>;
  readonly loadSeconds: number;
  /**
   * Views the coordinator formed from the start of the load until the cluster settled after it: each
   * is a backup demoted to learner (its acknowledgements late) or promoted back. 0: none changed.
   */
  readonly viewsDuringLoad: number;
  /** Snapshot transfers to r1..r3 during the load: backups that fell behind and were caught up so. */
  readonly transfersDuringLoad: number;
  /** How long after the load the cluster took to be whole again with no transfer running. */
  readonly settleSeconds: number;
  readonly primarySnapshotBytes: number;
  readonly readySeconds: number;
  /** From r4's "snapshot received" line. */
  readonly received: {
    readonly bytes: number;
    readonly seconds: number;
    readonly megabytesPerSecond: number;
  } | null;
  /** Transfers r4 started ("receiving a snapshot" lines): more than one means one started over. */
  readonly transfersStarted: number;
  /** From the status samples: bytes between the first and the last sample with progress, over that time. */
  readonly sampledMegabytesPerSecond: number | null;
  readonly samples: readonly TransferSample[];
  readonly backupSeconds: number;
  readonly lightPuts: number;
  readonly lightFailed: Record<string, number>;
  readonly load: LoadDuring;
}

async function measureTransfer(options: Options, transferRate: number | null): Promise<TransferRun> {
  const flags = transferRate === null ? [] : ['--transfer-rate', String(transferRate)];
  const label = transferRate === null ? 'transfer (unthrottled)' : `transfer (${transferRate} B/s)`;
  return withCluster(
    'transfer',
    3,
    flags,
    async (cluster, client) => {
      const loadStart = loadAverage();
      const viewsBeforeLoad = cluster.logLines('coordinator', 'view change').length;
      const keyWidth = String(options.transferKeys - 1).length;
      const value = Buffer.alloc(options.transferValueBytes);
      for (let k = 0; k < value.length; k++) value[k] = (k * 131 + 17) & 0xff;
      const loadFailures = new FailureCount();
      let loaded = 0;
      const stopTicker = progressTicker(`${label} load`, () => loaded);
      const loadStartedMs = performance.now();
      try {
        await runConcurrently(
          options.transferKeys,
          options.concurrency,
          async (k) => {
            await client.put(`big-${String(k).padStart(keyWidth, '0')}`, value);
            loaded += 1;
          },
          loadFailures,
        );
      } finally {
        stopTicker();
      }
      const loadMs = performance.now() - loadStartedMs;
      // A backup that fell behind during the load (demoted to learner) may be receiving a snapshot
      // from the primary: it would share the source's pacing with r4. Wait until it is done.
      const settleStartedMs = performance.now();
      const settled = await waitFor(
        'every replica a backup again, none receiving a snapshot',
        async () => {
          const status = await client.status();
          const busy = status.replicas.some((replica) => replica.transfer !== null);
          return isWhole(status, cluster.replicaIds) && !busy ? status : undefined;
        },
        JOIN_TIMEOUT_MS,
      );
      const settleMs = performance.now() - settleStartedMs;
      const demotions = cluster.replicaIds.flatMap((id) => cluster.logLines(id, 'receiving a snapshot'));
      const viewsDuringLoad = cluster.logLines('coordinator', 'view change').length - viewsBeforeLoad;
      const primary = primaryOf(settled);
      const primarySnapshotBytes = newestSnapshotFile(cluster.dataDirectory(primary))?.bytes ?? 0;
      progress(
        `${label}: loaded ${loaded} keys in ${seconds(loadMs)} s; ${primary}'s newest snapshot ${primarySnapshotBytes} bytes`,
      );

      let stopLight = false;
      let lightPuts = 0;
      const lightFailures = new FailureCount();
      const light = runConcurrently(
        Number.MAX_SAFE_INTEGER,
        options.lightConcurrency,
        async (k) => {
          await client.put(`light-${k % SMALL_KEY_COUNT}`, valueFor(k, SMALL_VALUE_BYTES, 0x6c));
          lightPuts += 1;
        },
        lightFailures,
        () => stopLight,
      );

      const samples: TransferSample[] = [];
      let backupMs: number;
      let readyMs: number;
      try {
        progress(`${label}: starting r4 with an empty data directory`);
        const startedMs = performance.now();
        await cluster.addReplica('r4');
        readyMs = performance.now() - startedMs;
        backupMs = await waitFor(
          'r4 to be a backup',
          async () => {
            const status = await client.status();
            const r4 = replicaStatus(status, 'r4');
            const atMs = performance.now() - startedMs;
            if (r4?.transfer != null) {
              const sample = {
                atSeconds: seconds(atMs),
                receivedBytes: r4.transfer.receivedBytes,
                bytesPerSecond: Math.round(r4.transfer.bytesPerSecond),
                line: `r4  ${formatTransfer(r4.transfer)}`,
              };
              if (samples.length === 0) progress(`${label}: ${sample.line}`);
              samples.push(sample);
            }
            return isBackup(status, 'r4') ? atMs : undefined;
          },
          JOIN_TIMEOUT_MS,
          TRANSFER_SAMPLE_INTERVAL_MS,
        );
      } finally {
        stopLight = true;
        await light;
      }

      const receivedLine = cluster.logLines('r4', 'snapshot received').at(-1);
      const receivedBytes = receivedLine?.bytes;
      const receivedSeconds = receivedLine?.seconds;
      const received =
        typeof receivedBytes === 'number' && typeof receivedSeconds === 'number'
          ? {
              bytes: receivedBytes,
              seconds: receivedSeconds,
              megabytesPerSecond: megabytes(receivedBytes / receivedSeconds),
            }
          : null;
      // From the first sample with progress to the first with every byte (later ones would dilute it).
      const first = samples[0];
      const last =
        samples.find((sample) => sample.receivedBytes >= (received?.bytes ?? Number.POSITIVE_INFINITY)) ??
        samples.at(-1);
      const sampledMegabytesPerSecond =
        first !== undefined && last !== undefined && last.atSeconds > first.atSeconds
          ? megabytes((last.receivedBytes - first.receivedBytes) / (last.atSeconds - first.atSeconds))
          : null;
      return {
        transferRate,
        loadedKeys: loaded,
        loadFailed: loadFailures.toJSON(),
        loadSeconds: seconds(loadMs),
        viewsDuringLoad,
        transfersDuringLoad: demotions.length,
        settleSeconds: seconds(settleMs),
        primarySnapshotBytes,
        readySeconds: seconds(readyMs),
        received,
        transfersStarted: cluster.logLines('r4', 'receiving a snapshot').length,
        sampledMegabytesPerSecond,
        samples,
        backupSeconds: seconds(backupMs),
        lightPuts,
        lightFailed: lightFailures.toJSON(),
        load: { start: loadStart, end: loadAverage() },
      };
    },
    options,
  );
}

// ---- sessions ----------------------------------------------------------------------------------

interface SessionsReport {
  readonly clients: number;
  readonly clientsFailed: Record<string, number>;
  readonly clientConcurrency: number;
  readonly sessionsMax: number;
  readonly replicaCount: number;
  readonly seconds: number;
  readonly clientsPerSecond: number;
  readonly replicas: readonly {
    readonly id: string;
    readonly sessionsMax: number;
    readonly sessionsEnd: number;
    /** Status samples with more sessions than --sessions-max, and the longest run of them. */
    readonly samplesOver: number;
    readonly longestOverSeconds: number;
    readonly residentBytesBefore: number | null;
    readonly residentBytesAfter: number | null;
  }[];
  readonly samples: number;
  readonly load: LoadDuring;
}

async function measureSessions(options: Options): Promise<SessionsReport> {
  const flags = ['--sessions-max', String(options.sessionsMax)];
  return withCluster(
    'sessions',
    options.sessionsReplicas,
    flags,
    async (cluster, client) => {
      const loadStart = loadAverage();
      const residentBefore = new Map(
        cluster.replicaIds.map((id) => [id, residentBytes(cluster.replica(id).pid)]),
      );
      const peaks = new Map<
        string,
        { max: number; end: number; over: number; overSinceMs: number | null; longestOverMs: number }
      >();
      let samples = 0;
      const sample = async (): Promise<void> => {
        const status = await client.status();
        const atMs = performance.now();
        samples += 1;
        for (const replica of status.replicas) {
          const peak = peaks.get(replica.id) ?? {
            max: 0,
            end: 0,
            over: 0,
            overSinceMs: null,
            longestOverMs: 0,
          };
          peak.max = Math.max(peak.max, replica.sessions);
          peak.end = replica.sessions;
          if (replica.sessions > options.sessionsMax) {
            peak.over += 1;
            peak.overSinceMs ??= atMs;
            peak.longestOverMs = Math.max(peak.longestOverMs, atMs - peak.overSinceMs);
          } else peak.overSinceMs = null;
          peaks.set(replica.id, peak);
        }
      };
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          await sample().catch(() => {});
          await sleep(SESSION_SAMPLE_INTERVAL_MS);
        }
      })();

      const failures = new FailureCount();
      let done = 0;
      const stopTicker = progressTicker(
        'sessions clients',
        () => done,
        () =>
          `  sessions ${[...peaks].map(([id, peak]) => `${id} ${peak.end} (max ${peak.max})`).join(', ')}`,
      );
      const startedMs = performance.now();
      try {
        await runConcurrently(
          options.clients,
          options.clientConcurrency,
          async (k) => {
            const one = await Client.connect({
              coordinator: cluster.coordinatorAddress,
              deadlineMs: CLIENT_DEADLINE_MS,
            });
            try {
              await one.put(`session-${k % SMALL_KEY_COUNT}`, valueFor(k, SMALL_VALUE_BYTES, 0x73));
              done += 1;
            } finally {
              await one.close();
            }
          },
          failures,
        );
      } finally {
        stopTicker();
      }
      const runMs = performance.now() - startedMs;
      await sleep(SESSIONS_AFTER_MS);
      sampling = false;
      await sampler;
      await sample();
      return {
        clients: done,
        clientsFailed: failures.toJSON(),
        clientConcurrency: options.clientConcurrency,
        sessionsMax: options.sessionsMax,
        replicaCount: options.sessionsReplicas,
        seconds: seconds(runMs),
        clientsPerSecond: Math.round(done / (runMs / 1000)),
        replicas: cluster.replicaIds.map((id) => {
          const peak = peaks.get(id);
          return {
            id,
            sessionsMax: peak?.max ?? 0,
            sessionsEnd: peak?.end ?? 0,
            samplesOver: peak?.over ?? 0,
            longestOverSeconds: seconds(peak?.longestOverMs ?? 0),
            residentBytesBefore: residentBefore.get(id) ?? null,
            residentBytesAfter: residentBytes(cluster.replica(id).pid),
          };
        }),
        samples,
        load: { start: loadStart, end: loadAverage() },
      };
    },
    options,
  );
}

// ---- report ------------------------------------------------------------------------------------

interface Machine {
  readonly date: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryBytes: number;
  readonly node: string;
  readonly filesystem: string;
}

function describeMachine(): Machine {
  let filesystem = 'unknown';
  try {
    filesystem =
      execFileSync('df', ['-T', tmpdir()], { encoding: 'utf8' }).trim().split('\n').at(-1) ?? filesystem;
  } catch {
    // df is missing: the report says unknown
  }
  return {
    date: new Date().toISOString(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    node: process.version,
    filesystem,
  };
}

/** A table with a header row, columns padded to their widest cell. */
function table(rows: readonly (readonly (string | number)[])[]): string {
  const cells = rows.map((row) => row.map(String));
  const widths =
    cells[0]?.map((_, column) => Math.max(...cells.map((row) => row[column]?.length ?? 0))) ?? [];
  return cells
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const mb = (bytes: number | null): string => (bytes === null ? '-' : `${megabytes(bytes)} MB`);
const failed = (counts: Record<string, number>): string => {
  const entries = Object.entries(counts);
  return entries.length === 0 ? 'none' : entries.map(([code, count]) => `${code} ${count}`).join(', ');
};

function printRetention(report: RetentionReport): string {
  const { liveState, bounds, restart } = report;
  return [
    `retention: ${report.puts.toLocaleString('en-US')} puts over ${report.keys} keys, ${report.valueBytes}-byte values, ${report.concurrency} in flight, --snapshot-log-bytes ${report.snapshotLogBytes}`,
    `  ${report.seconds} s, ${report.putsPerSecond} puts/s, failed: ${failed(report.putsFailed)}; ${describeLoad(report.load)}`,
    `  live state: newest snapshot ${mb(liveState.newestSnapshotBytes)}; keys × (key + value) ${mb(liveState.keyValueBytes)}`,
    `  bounds: data dir < ${mb(bounds.directoryBytes)} (${DIRECTORY_STATE_FACTOR} × snapshot + 64 MiB segment): ${bounds.directoryHolds ? 'holds' : 'DOES NOT HOLD'}; RSS < ${mb(bounds.residentBytes)} (${RESIDENT_STATE_FACTOR} × snapshot + ${RESIDENT_ALLOWANCE_BYTES / 1e6} MB): ${bounds.residentHolds ? 'holds' : 'DOES NOT HOLD'}`,
    indent(
      table([
        [
          'replica',
          'max data dir',
          'max RSS',
          'max RssAnon',
          'data dir at end',
          'RSS before load',
          'RSS at end',
          'samples',
        ],
        ...report.replicas.map((r) => [
          r.id,
          mb(r.directoryBytesMax),
          mb(r.residentBytesMax),
          mb(r.anonymousBytesMax),
          mb(r.directoryBytesEnd),
          mb(r.residentBytesStart),
          mb(r.residentBytesEnd),
          r.samples,
        ]),
      ]),
    ),
    `  restart of backup ${restart.replica} after kill -9: ready line ${restart.readySeconds} s, learner ${restart.learnerSeconds ?? '-'} s, backup again ${restart.backupSeconds} s, applied index ${restart.appliedIndexTarget} reached ${restart.caughtUpSeconds} s`,
  ].join('\n');
}

function printTransfer(runs: readonly TransferRun[]): string {
  const lines = [
    'transfer: a new replica r4 with an empty directory joins a loaded cluster while a light load writes',
  ];
  lines.push(
    indent(
      table([
        [
          'pacing',
          'state loaded',
          'snapshot sent',
          'seconds',
          'MB/s (log line)',
          'MB/s (status)',
          'r4 backup after',
          'light puts',
        ],
        ...runs.map((run) => [
          run.transferRate === null ? 'none' : `${megabytes(run.transferRate)} MB/s`,
          `${run.loadedKeys} keys in ${run.loadSeconds} s`,
          run.received === null ? '-' : mb(run.received.bytes),
          run.received === null ? '-' : run.received.seconds,
          run.received === null ? '-' : run.received.megabytesPerSecond,
          run.sampledMegabytesPerSecond ?? '-',
          `${run.backupSeconds} s`,
          run.lightPuts,
        ]),
      ]),
    ),
  );
  for (const run of runs) {
    const pacing = run.transferRate === null ? 'unthrottled' : `--transfer-rate ${run.transferRate}`;
    lines.push(
      `  ${pacing}: during the load ${run.viewsDuringLoad} view change(s), ${run.transfersDuringLoad} snapshot transfer(s) to fallen-behind backups, settled ${run.settleSeconds} s after it; r4 ready line ${run.readySeconds} s, ${run.transfersStarted} transfer(s) started; load failures: ${failed(run.loadFailed)}; light-load failures: ${failed(run.lightFailed)}; ${describeLoad(run.load)}`,
    );
    const step = Math.max(1, Math.ceil(run.samples.length / TRANSFER_LINES_SHOWN));
    for (const sample of run.samples.filter((_, k) => k % step === 0)) {
      lines.push(`    t=${sample.atSeconds.toFixed(1)} s  ${sample.line}`);
    }
  }
  return lines.join('\n');
}

function printSessions(report: SessionsReport): string {
  const peak = Math.max(...report.replicas.map((replica) => replica.sessionsMax));
  const excess = Math.max(0, peak - report.sessionsMax);
  const holdsAtEnd = report.replicas.every((replica) => replica.sessionsEnd <= report.sessionsMax);
  return [
    `sessions: ${report.clients.toLocaleString('en-US')} clients (connect, put once, close), ${report.clientConcurrency} at a time, --sessions-max ${report.sessionsMax}, ${report.replicaCount} replica(s)`,
    `  ${report.seconds} s, ${report.clientsPerSecond} clients/s, failed: ${failed(report.clientsFailed)}; ${report.samples} status samples; ${describeLoad(report.load)}`,
    indent(
      table([
        ['replica', 'max sessions', 'at end', 'samples over max', 'longest over', 'RSS before', 'RSS after'],
        ...report.replicas.map((r) => [
          r.id,
          r.sessionsMax,
          r.sessionsEnd,
          r.samplesOver,
          `${r.longestOverSeconds} s`,
          mb(r.residentBytesBefore),
          mb(r.residentBytesAfter),
        ]),
      ]),
    ),
    `  most over --sessions-max: ${excess} sessions, ${(excess / Math.max(1, report.clientsPerSecond)).toFixed(2)} s of new clients at the measured rate (the primary's expiry sweep runs once a second); at the end: ${holdsAtEnd ? 'at or below the limit' : 'STILL ABOVE THE LIMIT'}`,
  ].join('\n');
}

const indent = (text: string): string =>
  text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');

// ---- main --------------------------------------------------------------------------------------

function fail(message: string): never {
  process.stderr.write(`measure: ${message}\n${usage}\n`);
  process.exit(2);
}

function parseOptions(): { scenarios: ScenarioName[]; options: Options } {
  const numeric = Object.keys(defaults) as (keyof typeof defaults)[];
  const flagOf = (name: string): string => name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        keep: { type: 'boolean' },
        help: { type: 'boolean' },
        ...Object.fromEntries(numeric.map((name) => [flagOf(name), { type: 'string' as const }])),
      },
      strict: true,
    });
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const options: Options = {
    ...defaults,
    json: parsed.values.json === true,
    keep: parsed.values.keep === true,
  };
  for (const name of numeric) {
    const text = parsed.values[flagOf(name)];
    if (typeof text !== 'string') continue;
    const value = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
      fail(`--${flagOf(name)} must be a positive integer, got ${text}`);
    }
    (options as Record<keyof typeof defaults, number>)[name] = value;
  }
  const chosen = parsed.positionals.length === 0 ? ['all'] : parsed.positionals;
  const scenarios = new Set<ScenarioName>();
  for (const name of chosen) {
    if (name === 'all') for (const each of scenarioNames) scenarios.add(each);
    else if ((scenarioNames as readonly string[]).includes(name)) scenarios.add(name as ScenarioName);
    else fail(`unknown scenario ${name}`);
  }
  return { scenarios: [...scenarios], options };
}

async function stopEverything(signal: NodeJS.Signals): Promise<void> {
  progress(`${signal}: stopping ${running.size} cluster(s)`);
  await Promise.all([...running].map((cluster) => cluster.close()));
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  process.exit(130);
}

async function main(): Promise<void> {
  const { scenarios, options } = parseOptions();
  process.once('SIGINT', (signal) => void stopEverything(signal));
  process.once('SIGTERM', (signal) => void stopEverything(signal));
  const machine = describeMachine();
  const results: {
    retention?: RetentionReport;
    transfer?: TransferRun[];
    sessions?: SessionsReport;
  } = {};
  const text: string[] = [
    `measured ${machine.date} on ${machine.cpus} × ${machine.cpuModel}, ${megabytes(machine.memoryBytes)} MB RAM, Node ${machine.node}`,
    `temporary directory on: ${machine.filesystem}`,
  ];
  for (const scenario of scenarios) {
    if (scenario === 'retention') {
      results.retention = await measureRetention(options);
      text.push('', printRetention(results.retention));
    } else if (scenario === 'transfer') {
      results.transfer = [
        await measureTransfer(options, null),
        await measureTransfer(options, options.transferRate),
      ];
      text.push('', printTransfer(results.transfer));
    } else {
      results.sessions = await measureSessions(options);
      text.push('', printSessions(results.sessions));
    }
  }
  const { json: _json, keep: _keep, ...settings } = options;
  // With --json, stdout is for the JSON alone; the report for people goes to stderr with the progress.
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ machine, settings, ...results }, null, 2)}\n`);
    process.stderr.write(`${text.join('\n')}\n`);
  } else process.stdout.write(`${text.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  async (error: unknown) => {
    process.stderr.write(
      `measure: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    await Promise.all([...running].map((cluster) => cluster.close()));
    process.exit(1);
  },
);
