// A chaos run from start to report: start the cluster behind proxies, run the workload while the
// nemesis injects faults, heal everything, wait for a whole view, stop the clients, read every key,
// and check the history (linearizability per key, no lost acknowledged appends, at most once, async
// appends lost only in failovers) and the bounded reads (staleness.ts), with failover times from the
// faults and the answered writes, and what the replicas' logs say of repairs and transfers. With the
// upgrade nemesis the cluster starts at the older build's format level, and the heal finishes the
// rolling upgrade: every replica at this build's level, the cluster's level must then rise to it.
// The replicas run with small retention limits (cluster-settings.ts), so snapshots, compaction,
// transfers and session expiry happen all the time.
// Invariant: whatever happens, every process is stopped by its id, every proxy and client closed and
// every timer cleared before runChaos settles; the directory (logs, data, lost directories, the
// history and the last snapshot saves) goes unless a check failed.

import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  checkAtMostOnce,
  checkLinearizable,
  checkNoLostWrites,
  checkScans,
  clearMayHaveTakenIn,
  describeOperation,
  expandClears,
  type HistoryEvent,
  HistoryRecorder,
  pairOperations,
  summarize,
  toJsonLines,
} from '../check/index.js';
import { Client } from '../client/index.js';
import { clusterSettingArguments } from '../node/cluster-settings.js';
import { assert } from '../protocol/assert.js';
import type { LagPolicy } from '../protocol/config.js';
import type { StatusReply } from '../protocol/messages.js';
import { groupMembers, groupValue, isGroupKey, storeKeysOf } from '../sim/multi-key-workload.js';
import { Random } from '../sim/random.js';
import { kvLimitsDefault } from '../state-machine/kv-limits.js';
import { transferChunkBytes } from '../storage/index.js';
import { CLOCK_DRIFT_DEFAULT, CLOCK_DRIFT_MAX, describeClockRates, drawClockRates } from './clock-rates.js';
import { CHAOS_HOST, ChaosCluster } from './cluster-processes.js';
import {
  ballastKey,
  CHAOS_BALLAST_KEYS,
  CHAOS_BALLAST_VALUE_BYTES,
  CHAOS_REDIS_PROCESSES_DEFAULT,
  CHAOS_SESSIONS_MAX_CHOICES,
  CHAOS_SNAPSHOT_LOG_BYTES,
  CHAOS_TRANSFER_BYTES_PER_SECOND,
} from './cluster-settings.js';
import { checkKeysExpire, keysStillExpiring } from './expiry-check.js';
import { DEFAULT_FAILURE_TIMEOUT_MS, type FaultRecord, isRollback, noFaultChecks } from './faults.js';
import { PINNED_FORMAT_LEVEL, UpgradeWatch } from './format-upgrade.js';
import { checkLeases, readLeaseGrants } from './lease-overlaps.js';
import { Nemesis, type NemesisKind, nemesisKinds } from './nemesis.js';
import { diskNemesisKinds, etcdNemesisKinds } from './nemesis-kinds.js';
import { SharedSequenceCount } from './redis-port-stats.js';
import {
  addStorageEvents,
  countStorageEvents,
  noStorageEvents,
  readReplicaLog,
  type StorageEvents,
} from './replica-logs.js';
import { type ChaosReport, failoverTimes, failures } from './report.js';
import { noScans } from './scanner.js';
import { SentinelWatch } from './sentinel-watch.js';
import { type FileSystem, powerCutsUnavailable, serverDisksUnavailable } from './server-disks.js';
import { checkHealedSave, noSaves, SAVE_DEADLINE_MS } from './snapshot-saver.js';
import { checkStaleness, STALENESS_SLACK_MS } from './staleness.js';
import { sleepUnlessAborted, ViewMonitor } from './view-monitor.js';
import {
  type AsyncAppend,
  CLIENT_DEADLINE_MS,
  noRedisCommands,
  REDIS_READ_STALENESS_MS,
  SENTINEL_MASTER_NAME,
  Workload,
} from './workload.js';

/** How long the cluster may take to form its first view with every replica. */
export const CLUSTER_READY_TIMEOUT_MS = 30_000;
/** How long, after healing, the view may take to hold every replica as primary or backup again. */
export const HEAL_TIMEOUT_MS = 60_000;
/** How long the final reads may take, retries included. */
export const FINAL_READS_TIMEOUT_MS = 60_000;
export const FINAL_READ_RETRY_MS = 200;
/** How long, after the final reads, the loss record may take to count the async appends found lost. */
export const LOSS_RECORD_TIMEOUT_MS = 20_000;
/**
 * The checker's search budget per key. A 60 s run gives each register some 8,000 operations, and
 * sync writes left unknown by a long outage (a coordinator that lost its state waits for every
 * replica) multiply the orders to try: a run with four such needed 1.7 million steps on one key,
 * over the checker's default of 1 million. A million steps take about a second.
 */
export const CHAOS_SEARCH_STEPS_PER_KEY_MAX = 10_000_000;
// The ballast must fit the store's values, and a snapshot holding it must span several transfer
// chunks, or a transfer-kill never finds a learner holding a whole chunk of an unfinished transfer.
assert(CHAOS_BALLAST_VALUE_BYTES <= kvLimitsDefault.valueSizeMaxBytes, 'a ballast value fits the store');
assert(CHAOS_BALLAST_KEYS * CHAOS_BALLAST_VALUE_BYTES >= 2 * transferChunkBytes, 'the ballast spans chunks');

/** Separates the draw of --sessions-max from the run's other draws of the same seed. */
const SESSIONS_MAX_STREAM_SALT = 0x5e55_10a5;
/** The history's name in the run's directory. */
export const RUN_HISTORY_FILE = 'history.jsonl';
/** Where the workload's saver writes its snapshot saves, in the run's directory. */
export const RUN_SAVES_DIRECTORY = 'saves';
/** The history is written this many events at a time, never as one string. */
const HISTORY_WRITE_EVENTS_PER_CHUNK = 10_000;

export interface ChaosOptions {
  readonly durationSeconds: number;
  /** Clients, one connection each. */
  readonly clients: number;
  /** History processes per client: calls in flight on one connection. */
  readonly pipeline: number;
  /** History processes that go through the replicas' Redis ports (CHAOS_REDIS_PROCESSES_DEFAULT if absent; 0: no Redis ports). */
  readonly redisClients?: number;
  readonly nemeses: readonly NemesisKind[];
  /** How many faults may be in progress at once. */
  readonly concurrency: number;
  readonly replicas: number;
  /** Register keys; as many append keys again. */
  readonly keys: number;
  /** Client sessions each replica keeps; the seed picks one of CHAOS_SESSIONS_MAX_CHOICES if absent. */
  readonly sessionsMax?: number;
  /** The cluster's commit quorum (`--sync-quorum`): backups a commit waits for; every backup if absent. */
  readonly syncQuorum?: number;
  /** The cluster's policy for a lagging backup (`--lag-policy`) and its threshold; the defaults if absent. */
  readonly lagPolicy?: LagPolicy;
  readonly backupLagMaxMs?: number;
  /** The cluster's `--failure-timeout-ms`; the default (600) if absent. Faults meant to outlast it hold longer. */
  readonly failureTimeoutMs?: number;
  /**
   * The replicas' --transfer-rate; CHAOS_TRANSFER_BYTES_PER_SECOND if absent and the transfer-kill
   * nemesis runs (the ballast is written then too), unlimited otherwise.
   */
  readonly transferBytesPerSecond?: number;
  /** About how often a Redis-port process sends FLUSHALL (REDIS_FLUSHALL_INTERVAL_MS if absent). */
  readonly flushallIntervalMs?: number;
  /**
   * How far from 1 each server's monotonic clock rate is drawn (clock-rates.ts): CLOCK_DRIFT_DEFAULT
   * if absent, 0 for the machine's clock everywhere.
   */
  readonly clockDrift?: number;
  /** The file system of each server's own disk, with the disk nemeses (ext4 if absent). */
  readonly fileSystem?: FileSystem;
  /** Two coordinators on a 3-member etcd started for the run (the `coordinator` nemesis then stops or kills the leader, `etcd` kills members). */
  readonly etcd?: boolean;
  readonly seed: number;
  /** Where to write the history as JSON lines, final reads included. */
  readonly historyFile?: string;
  /** Parent of the run's directory; the system's temporary directory by default. */
  readonly directory?: string;
  /** Keep the run's directory (data, logs, history) when it passes too; a failed run always keeps it. */
  readonly keepDirectory?: boolean;
  /** Progress lines (faults, heals); the report is returned, not logged. */
  readonly log?: (line: string) => void;
  /** Ends the run early (the report then says so and fails). */
  readonly signal?: AbortSignal;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {});
  const startNs = process.hrtime.bigint();
  const clock = (): number => Number(process.hrtime.bigint() - startNs);
  const parent = resolve(options.directory ?? tmpdir());
  mkdirSync(parent, { recursive: true });
  const directory = mkdtempSync(join(parent, 'understudy-chaos-'));
  const random = new Random(options.seed);
  const recorder = new HistoryRecorder();
  const problems: string[] = [];
  const nemesisStop = new AbortController();
  let cluster: ChaosCluster | null = null;
  let monitor: ViewMonitor | null = null;
  let workload: Workload | null = null;
  let nemesis: Nemesis | null = null;
  let upgrade: UpgradeWatch | null = null;
  let finalReads = new Map<string, string | null>();
  const expiry = { stillExpiring: 0, goneAfter: 0, goneAtEnd: 0 };
  let snapshotIndexMax = 0;
  let asyncLost: number | null = null;
  let sharedCount: SharedSequenceCount | null = null;
  let sentinelWatch: SentinelWatch | null = null;
  // Counted per coordinator process (a restart starts over at 0): the increases seen, summed.
  let promotionsWithoutHolders = 0;
  let promotionsSeen = 0;
  let storage: StorageEvents = noStorageEvents();
  const interrupted = (): boolean => options.signal?.aborted === true;
  // Drawn from a stream of its own, so a seed's other draws (the schedule's) stay as they were.
  const sessionsMax =
    options.sessionsMax ??
    new Random((options.seed ^ SESSIONS_MAX_STREAM_SALT) >>> 0).pick(CHAOS_SESSIONS_MAX_CHOICES);
  const redisClients = options.redisClients ?? CHAOS_REDIS_PROCESSES_DEFAULT;
  const transfersSlowed = options.nemeses.includes('transfer-kill');
  const transferRate =
    options.transferBytesPerSecond ?? (transfersSlowed ? CHAOS_TRANSFER_BYTES_PER_SECOND : null);

  // Servers on file systems of their own only for the disk nemeses, and only where they can be
  // made. The etcd nemesis needs coordinators on etcd; without them it would only take turns from the rest.
  const wantsDisks = options.nemeses.some((kind) => diskNemesisKinds.includes(kind));
  const fileSystem = options.fileSystem ?? 'ext4';
  const disksMissing = wantsDisks ? serverDisksUnavailable(fileSystem) : null;
  if (disksMissing !== null)
    log(`chaos: the ${diskNemesisKinds.join(', ')} nemeses are left out: ${disksMissing}`);
  const etcdLeftOut =
    options.etcd !== true && options.nemeses.some((kind) => etcdNemesisKinds.includes(kind));
  if (etcdLeftOut) log(`chaos: the ${etcdNemesisKinds.join(' and ')} nemeses are left out: they need --etcd`);
  const powerCutsMissing =
    disksMissing === null && options.nemeses.includes('power-loss') ? powerCutsUnavailable() : null;
  if (powerCutsMissing !== null) log(`chaos: the power-loss nemesis is left out: ${powerCutsMissing}`);
  const nemeses = options.nemeses.filter(
    (kind) =>
      !(diskNemesisKinds.includes(kind) && disksMissing !== null) &&
      !(kind === 'power-loss' && powerCutsMissing !== null) &&
      (!etcdNemesisKinds.includes(kind) || options.etcd === true),
  );

  const clockDrift = options.clockDrift ?? CLOCK_DRIFT_DEFAULT;
  assert(
    clockDrift >= 0 && clockDrift <= CLOCK_DRIFT_MAX,
    `a clock drift of ${clockDrift} is outside 0..${CLOCK_DRIFT_MAX}`,
  );
  const clockRates = drawClockRates(options.seed, clockDrift);

  try {
    cluster = await ChaosCluster.start({
      directory,
      replicaCount: options.replicas,
      seed: random.nextUint32(),
      replicaArguments: [
        '--snapshot-log-bytes',
        String(CHAOS_SNAPSHOT_LOG_BYTES),
        '--sessions-max',
        String(sessionsMax),
        ...(transferRate === null ? [] : ['--transfer-rate', String(transferRate)]),
        ...(redisClients > 0
          ? ['--resp', `${CHAOS_HOST}:0`, '--resp-read-staleness-ms', String(REDIS_READ_STALENESS_MS)]
          : []),
      ],
      // Redis-port processes find the primary's port through a coordinator's Sentinel port too.
      ...(redisClients > 0 ? { coordinatorArguments: ['--sentinel', `${CHAOS_HOST}:0`] } : {}),
      clusterArguments: clusterSettingArguments(options),
      etcd: options.etcd === true,
      ...(nemeses.some((kind) => diskNemesisKinds.includes(kind)) ? { serverDisks: fileSystem } : {}),
      ...(nemeses.includes('upgrade') ? { replicaFormatLevel: PINNED_FORMAT_LEVEL } : {}),
      clockRateOf: (name) => clockRates.rateOf(name),
    });
    log(`chaos: ${describeClockRates(clockRates.drawn, clockDrift)}`);
    monitor = await ViewMonitor.start(cluster.coordinatorAddress);
    monitor.observe((status) => {
      for (const replica of status.replicas)
        snapshotIndexMax = Math.max(snapshotIndexMax, replica.snapshotIndex);
      const seen = status.promotionsWithoutHolders;
      promotionsWithoutHolders += seen >= promotionsSeen ? seen - promotionsSeen : seen;
      promotionsSeen = seen;
    });
    if (!(await monitor.waitWhole(cluster.replicaIds, CLUSTER_READY_TIMEOUT_MS))) {
      throw new Error(
        `no view with every replica within ${CLUSTER_READY_TIMEOUT_MS} ms; logs in ${directory}`,
      );
    }
    log(`chaos: cluster up in ${directory}`);
    if (nemeses.includes('upgrade')) {
      upgrade = new UpgradeWatch(
        cluster,
        monitor,
        (line) => log(`chaos: +${(clock() / 1e9).toFixed(1)} s ${line}`),
        clock,
      );
      log(
        `chaos: every replica runs at --format-level ${PINNED_FORMAT_LEVEL} (the older build) until its upgrade`,
      );
    }
    if (transfersSlowed) await writeBallast(cluster.coordinatorAddress);
    const memberNames = new Map([...cluster.proxies].map(([name, proxy]) => [proxy.address, name]));
    const runningCluster = cluster;
    workload = await Workload.start({
      coordinator: cluster.coordinatorAddress,
      clients: options.clients,
      pipeline: options.pipeline,
      keys: options.keys,
      seed: random.nextUint32(),
      recorder,
      clock,
      memberName: (address) => memberNames.get(address) ?? address,
      redisProcesses: redisClients,
      redisPorts: () => runningCluster.redisAddresses(),
      sentinelPorts: () => runningCluster.sentinelAddresses(),
      wasRedisAddress: (address) => runningCluster.wasRedisAddress(address),
      ...(options.flushallIntervalMs === undefined ? {} : { clearIntervalMs: options.flushallIntervalMs }),
      saveDirectory: join(directory, RUN_SAVES_DIRECTORY),
      keepSaves: options.keepDirectory === true,
      // A FLUSHALL takes the ballast too: written again, transfers stay long enough to be cut.
      ...(transfersSlowed
        ? { rewriteBallast: () => writeBallast(runningCluster.coordinatorAddress, CLIENT_DEADLINE_MS) }
        : {}),
    });
    sharedCount = redisClients > 0 ? new SharedSequenceCount(() => runningCluster.redisAddresses()) : null;
    sentinelWatch =
      redisClients > 0
        ? new SentinelWatch({
            sentinelPorts: () => runningCluster.sentinelAddresses(),
            isRunAddress: (address) => runningCluster.wasRedisAddress(address),
            masterName: SENTINEL_MASTER_NAME,
          })
        : null;
    nemesis = new Nemesis({
      cluster,
      monitor,
      kinds: nemeses,
      concurrency: options.concurrency,
      random,
      clock,
      log,
      ...(options.signal === undefined ? {} : { interrupted: options.signal }),
      failureTimeoutMs: options.failureTimeoutMs ?? DEFAULT_FAILURE_TIMEOUT_MS,
      ...(upgrade === null ? {} : { upgrade }),
    });
    const nemesisDone = nemesis.run(nemesisStop.signal);
    await sleepUnlessAborted(options.durationSeconds * 1000, options.signal);
    nemesisStop.abort();
    await nemesisDone;

    if (!interrupted()) {
      log(`chaos: +${(clock() / 1e9).toFixed(1)} s healing and waiting for every replica to rejoin`);
      await healEverything(cluster, problems);
      await upgrade?.finishUpgrade(options.signal);
      if (!(await monitor.waitWhole(cluster.replicaIds, HEAL_TIMEOUT_MS, options.signal)) && !interrupted()) {
        problems.push(
          `after healing, the view did not hold every replica within ${HEAL_TIMEOUT_MS / 1000} s ` +
            `(${describeReplicas(monitor.status)})`,
        );
      }
      await upgrade?.checkFinalLevel(options.signal);
    }
    await sharedCount?.stop();
    sentinelWatch?.stop();
    await workload.stop();
    if (!interrupted()) {
      const finalReader = {
        coordinator: cluster.coordinatorAddress,
        process: workload.processes,
        recorder,
        clock,
      };
      finalReads = await readFinalValues(finalReader, workload.keys, problems, options.signal);
      // Registers whose final value a write with a time to live gave them must go (expiry-check.ts).
      const expiring = keysStillExpiring(finalReads, workload.expiringValues);
      expiry.stillExpiring = expiring.length;
      expiry.goneAfter = await checkKeysExpire(finalReader, expiring, problems, options.signal);
      if (workload.saver !== null) {
        // Paced, the save must be given the time to send the ballast twice over (at 256 KiB/s,
        // 36 s): 20 s alone was a deadline no save could meet, not a save that never completes.
        const pacedMs =
          transferRate === null
            ? 0
            : ((2 * CHAOS_BALLAST_KEYS * CHAOS_BALLAST_VALUE_BYTES) / transferRate) * 1000;
        const deadlineMs = SAVE_DEADLINE_MS + Math.ceil(pacedMs);
        await checkHealedSave(finalReader.coordinator, workload.saver, problems, deadlineMs);
      }
      const registers = workload;
      expiry.goneAtEnd = [...finalReads].filter(
        ([key, value]) => value === null && registers.registerWasWritten(key),
      ).length;
      // Replicas back from the last faults may still be reporting what they discarded.
      const lost = asyncAppendsLostIn(
        workload.asyncAppendsAcknowledged,
        workload.appendKeys,
        finalReads,
        clearMayHaveTakenIn(expandClears(pairOperations(recorder.events()))),
      );
      if (!directoryLostIn(nemesis?.faults ?? [])) {
        const recorded = () => (monitor?.status?.asyncLost ?? 0) >= lost;
        await monitor.waitFor(recorded, LOSS_RECORD_TIMEOUT_MS, options.signal);
      }
      asyncLost = monitor.status?.asyncLost ?? null;
    }
    if (interrupted()) problems.push('the run was interrupted');
  } finally {
    nemesisStop.abort();
    sharedCount?.cancel();
    sentinelWatch?.stop();
    await workload?.stop();
    await monitor?.stop();
    await cluster?.close();
    upgrade?.finish();
  }
  for (const id of cluster?.replicaIds ?? []) {
    const logFile = cluster?.replica(id).logPath;
    if (logFile !== undefined)
      storage = addStorageEvents(storage, countStorageEvents(readReplicaLog(logFile)));
  }

  // ---- checks ------------------------------------------------------------------------------------
  const leases = checkLeases(readLeaseGrants(directory), Number(startNs) / 1e6);
  const events = recorder.events();
  // The run's directory always gets the history, so a failed run keeps it beside the logs.
  writeHistory(join(directory, RUN_HISTORY_FILE), events);
  let historyFile: string | null = null;
  if (options.historyFile !== undefined) {
    historyFile = resolve(options.historyFile);
    writeHistory(historyFile, events);
  }
  const paired = pairOperations(events);
  const summary = summarize(paired);
  // A FLUSHALL goes into each key's history as one operation per key, so every check below sees it.
  const operations = expandClears(paired);
  const linearizability = checkLinearizable(operations, {
    valueSizeMaxBytes: kvLimitsDefault.valueSizeMaxBytes, // the replicas run the default KeyValueStore
    budgetSteps: CHAOS_SEARCH_STEPS_PER_KEY_MAX,
  });
  for (const { f, error, count, example } of linearizability.unmodeledFailures) {
    problems.push(
      `${count} ${f} failed with ${error ?? 'no code'} (unchecked; first: ${describeOperation(example)})`,
    );
  }
  // Only keys whose final read succeeded can be checked for lost writes (a missing one is a problem).
  const appendKeys = new Set(workload?.appendKeys ?? []);
  const appendFinals = new Map([...finalReads].filter(([key]) => appendKeys.has(key)));
  const lostWrites = checkNoLostWrites(
    operations.filter((operation) => appendFinals.has(operation.key)),
    appendFinals,
  ).map((violation) => violation.message);
  const duplicates = checkAtMostOnce(appendFinals).map((violation) => violation.message);
  const asyncAppends = workload?.asyncAppendsAcknowledged ?? [];
  const asyncAppendsLost = asyncAppendsLostIn(
    asyncAppends,
    workload?.appendKeys ?? [],
    finalReads,
    clearMayHaveTakenIn(operations),
  );
  const faults = nemesis?.faults ?? [];
  const primaries = monitor?.primaries ?? new Map<number, string>();
  const failovers = failoverTimes(faults, workload?.writeAcknowledgements ?? [], primaries);
  const faultCounts = Object.fromEntries(nemesisKinds.map((kind) => [kind, 0])) as Record<
    NemesisKind,
    number
  >;
  const faultVariants = new Map<NemesisKind, Map<string, number>>();
  for (const fault of faults) {
    faultCounts[fault.kind] += 1;
    const variants = faultVariants.get(fault.kind) ?? new Map<string, number>();
    variants.set(fault.variant, (variants.get(fault.variant) ?? 0) + 1);
    faultVariants.set(fault.kind, variants);
  }
  problems.push(...(nemesis?.problems ?? []));
  problems.push(...(upgrade?.problems ?? []));
  problems.push(...(workload?.crashes ?? []));
  problems.push(...(workload?.tornReads ?? []));
  // Whole walks over every key, against the history (check/scans.ts); a group stands for its members,
  // the ballast was written before the workload, and staging keys by SETs outside the history. A walk
  // under way as the format level rose may miss keys, as documented (format-upgrade.ts): unchecked.
  const ballast = new Set(Array.from({ length: CHAOS_BALLAST_KEYS }, (_, k) => ballastKey(k)));
  const staged = workload?.stagingKeys ?? new Map<string, number>();
  const walks = workload?.scanner.completed ?? [];
  const checkedWalks = walks.filter((walk) => upgrade?.mayHaveSeededDuring(walk.start, walk.end) !== true);
  if (upgrade !== null) upgrade.counts.scansAcrossSeeding = walks.length - checkedWalks.length;
  const scanCheck = checkScans(
    checkedWalks,
    operations,
    storeKeysOf,
    (key, before) => ballast.has(key) || (staged.get(key) ?? Number.POSITIVE_INFINITY) < before,
  );
  problems.push(...scanCheck.violations);
  problems.push(...(workload?.saver?.unreadable ?? []));
  const malformed = [...(workload?.malformedRedisReplies ?? []), ...(sentinelWatch?.malformed ?? [])];
  if (malformed.length > 0) {
    problems.push(
      `${malformed.length} Redis-port replies had a shape no answer to their command may have; the first: ${malformed[0]}`,
    );
  }

  const staleness = checkStaleness(
    workload?.versions ?? [],
    workload?.boundedReads ?? [],
    STALENESS_SLACK_MS,
    workload?.clears ?? [],
    clockDrift,
  );
  const boundedReads = workload?.boundedReads ?? [];
  const byBackup = boundedReads.filter(
    (read) => primaries.get(read.view) !== undefined && primaries.get(read.view) !== read.member,
  ).length;

  const violations = new Map<string, string>();
  const unknown: string[] = [];
  let linearizable = 0;
  for (const [key, check] of linearizability.perKey) {
    if (check.result === 'linearizable') linearizable += 1;
    else if (check.result === 'unknown') unknown.push(key);
    else violations.set(key, check.explanation ?? 'no legal order');
  }
  const draft: Omit<ChaosReport, 'passed'> = {
    seed: options.seed,
    durationSeconds: options.durationSeconds,
    clients: options.clients,
    pipeline: options.pipeline,
    redisClients,
    redisCommands: {
      ...(workload?.redisCommands ?? noRedisCommands()),
      sharedSequences: sharedCount?.total ?? 0,
      sentinelMessages: Object.fromEntries(sentinelWatch?.heard ?? []),
    },
    saves: { ...(workload?.saver?.counts ?? noSaves()) },
    scans: { ...(workload?.scanner.counts ?? noScans()), keysDue: scanCheck.keysDue },
    // What the run could inject: the report counts each of them.
    nemeses,
    concurrency: options.concurrency,
    replicas: options.replicas,
    keys: options.keys,
    clockDrift,
    clockRates: new Map(clockRates.drawn),
    serverDisks: cluster?.fileSystem ?? null,
    faults: faultCounts,
    faultVariants,
    faultsMostAtOnce: nemesis?.mostAtOnce ?? 0,
    faultsSkipped: nemesis?.skipped ?? 0,
    faultChecks: { ...(nemesis?.checks ?? noFaultChecks()) },
    ...(upgrade === null ? {} : { upgrade: { ...upgrade.counts } }),
    operations: { ok: summary.ok, fail: summary.fail, info: summary.info },
    unsuccessfulByCause: workload?.unsuccessfulByCause ?? new Map(),
    lostWrites,
    duplicates,
    asyncAppendsAcknowledged: asyncAppends.length,
    asyncAppendsLost,
    directoryLost: directoryLostIn(faults),
    asyncWritesAcknowledged: workload?.asyncWritesAcknowledged ?? 0,
    replicatedWritesAcknowledged: workload?.replicatedWritesAcknowledged ?? 0,
    failoverHappened: failovers.times.length > 0 || (monitor?.primaryChanged ?? false),
    linearizability: { keys: linearizability.perKey.size, linearizable, unknown, violations },
    failoverMs: failovers.times,
    failoversNotObserved: failovers.notObserved,
    slowestFailover: failovers.slowest,
    sessionsMax,
    snapshotIndexMax,
    storage,
    sessionsExpired: workload?.sessionsExpired ?? 0,
    expiringWrites: workload?.expiringWrites ?? 0,
    readingWrites: { acknowledged: workload?.readingWrites ?? 0, getDeletes: workload?.getDeletes ?? 0 },
    floatsAndAllAbsent: { incrFloats: workload?.incrFloats ?? 0, allAbsent: workload?.allAbsentWrites ?? 0 },
    expiries: { seen: workload?.expiriesSeen ?? 0, ...expiry },
    leases,
    boundedReads: {
      ...(workload?.boundedReadCounts ?? { answered: 0, staleAnswers: 0, failed: 0 }),
      byBackup,
      checked: staleness.checked,
      undecided: staleness.undecided,
      violations: staleness.violations.map((violation) => violation.message),
    },
    requestStatusAnswers: workload?.requestStatusAnswers ?? new Map(),
    asyncLost,
    promotionsWithoutHolders,
    problems,
    directory,
    directoryKept: false,
    historyFile,
  };
  const passed = failures(draft).length === 0;
  const kept = !passed || options.keepDirectory === true;
  if (!kept) rmSync(directory, { recursive: true, force: true });
  return { ...draft, directoryKept: kept, passed };
}

/**
 * Acknowledged async appends missing from their key's final value (keys read at the end only), but
 * for those a FLUSHALL may have taken (`cleared`).
 */
function asyncAppendsLostIn(
  appends: readonly AsyncAppend[],
  appendKeys: readonly string[],
  finalReads: ReadonlyMap<string, string | null>,
  cleared: (key: string, token: string) => boolean,
): number {
  const keys = new Set(appendKeys);
  return appends.filter(
    (append) =>
      keys.has(append.key) &&
      finalReads.has(append.key) &&
      !(finalReads.get(append.key) ?? '').includes(append.token) &&
      !cleared(append.key, append.token),
  ).length;
}

/** Faults that lose or repair a data directory (and an upgrade's rollback): async writes only it held may go unreported. */
const directoryLosingKinds: readonly NemesisKind[] = ['wipe', 'corrupt', 'transfer-kill'];

function directoryLostIn(faults: readonly FaultRecord[]): boolean {
  return faults.some((fault) => directoryLosingKinds.includes(fault.kind) || isRollback(fault));
}

/** Each replica's role, liveness and transfer as a status shows them, for a problem's message. */
function describeReplicas(status: StatusReply | null): string {
  if (status === null) return 'no status';
  const replicas = status.replicas.map((replica) => {
    const transfer =
      replica.transfer === null
        ? ''
        : `, receiving snapshot ${replica.transfer.snapshot.position.index} (${replica.transfer.receivedBytes} of ${replica.transfer.snapshot.sizeBytes} bytes)`;
    return `${replica.id} ${replica.role}${replica.alive ? '' : ' (not alive)'}${transfer}`;
  });
  return `view ${status.view?.number ?? 'none'}: ${replicas.join('; ')}`;
}

/** Writes the ballast (not part of the history) through a client of its own. */
async function writeBallast(coordinator: string, deadlineMs = FINAL_READS_TIMEOUT_MS): Promise<void> {
  const client = await Client.connect({ coordinator, deadlineMs });
  try {
    const value = 'b'.repeat(CHAOS_BALLAST_VALUE_BYTES);
    for (let k = 0; k < CHAOS_BALLAST_KEYS; k++) await client.put(ballastKey(k), value);
  } finally {
    await client.close();
  }
}

function writeHistory(path: string, events: readonly HistoryEvent[]): void {
  const file = openSync(path, 'w');
  try {
    for (let start = 0; start < events.length; start += HISTORY_WRITE_EVENTS_PER_CHUNK) {
      writeSync(file, toJsonLines(events.slice(start, start + HISTORY_WRITE_EVENTS_PER_CHUNK)));
    }
  } finally {
    closeSync(file);
  }
}

/**
 * Whatever a fault left undone (its heal failed): clears every proxy fault, restarts the coordinator
 * (recovering it if its state was lost) and dead replicas, resumes paused ones.
 */
async function healEverything(cluster: ChaosCluster, problems: string[]): Promise<void> {
  cluster.healNetwork();
  await cluster.thawDisks();
  const etcd = cluster.etcd;
  for (const name of etcd?.names ?? []) {
    if (etcd === null || etcd.isRunning(name)) continue;
    await etcd.restart(name).catch((error: unknown) => {
      problems.push(
        `restarting etcd member ${name}: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
  }
  for (const name of cluster.coordinatorNames) {
    const coordinator = cluster.coordinatorNamed(name);
    if (coordinator.state === 'paused') coordinator.resume();
    if (coordinator.state !== 'stopped') continue;
    const started =
      etcd === null
        ? cluster.startCoordinator({ recover: cluster.coordinatorNeedsRecovery })
        : cluster.startCoordinatorNamed(name);
    await started.catch((error: unknown) => {
      problems.push(`restarting ${name}: ${error instanceof Error ? error.message : String(error)}`);
    });
  }
  for (const id of cluster.replicaIds) {
    const replica = cluster.replica(id);
    if (replica.state === 'paused') replica.resume();
    if (replica.state === 'stopped') {
      await cluster.startReplica(id).catch((error: unknown) => {
        problems.push(`restarting ${id}: ${error instanceof Error ? error.message : String(error)}`);
      });
    }
  }
}

interface FinalReader {
  readonly coordinator: string;
  /** The history's process number for the final reads: one after the workload's. */
  readonly process: number;
  readonly recorder: HistoryRecorder;
  readonly clock: () => number;
}

/** A group's value, read whole; a torn group is a problem, and reads as its first member. */
async function readGroup(client: Client, key: string, problems: string[]): Promise<string | null> {
  const values = (await client.getMany(groupMembers(key))).map((value) =>
    value === null ? null : new TextDecoder().decode(value),
  );
  const seen = groupValue(key, values);
  if ('value' in seen) return seen.value;
  problems.push(`final read: ${seen.torn}`);
  return values[0] ?? null;
}

/** Reads every key as one more process of the history, retrying each until it succeeds. */
async function readFinalValues(
  { coordinator, process, recorder, clock }: FinalReader,
  keys: readonly string[],
  problems: string[],
  signal?: AbortSignal,
): Promise<Map<string, string | null>> {
  const finals = new Map<string, string | null>();
  const endMs = performance.now() + FINAL_READS_TIMEOUT_MS;
  const client = await Client.connect({ coordinator, deadlineMs: CLIENT_DEADLINE_MS });
  try {
    for (const key of keys) {
      while (!finals.has(key)) {
        if (signal?.aborted === true) return finals;
        if (performance.now() >= endMs) {
          problems.push(`the final read of ${key} did not succeed within ${FINAL_READS_TIMEOUT_MS / 1000} s`);
          return finals;
        }
        const handle = recorder.invoke(process, 'read', key, null, clock());
        try {
          const value = isGroupKey(key) ? await readGroup(client, key, problems) : await client.getText(key);
          recorder.ok(handle, value, clock());
          finals.set(key, value);
        } catch {
          // It observed nothing. Not `fail`: the checker counts a failure with no code it models as a
          // problem of the run, and a read that met the last moments of a fault is none.
          recorder.info(handle, clock());
          await sleepUnlessAborted(FINAL_READ_RETRY_MS, signal);
        }
      }
    }
  } finally {
    await client.close();
  }
  return finals;
}
