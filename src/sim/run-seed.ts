// One simulation run, fully determined by its seed: plan the faults, run a workload through them,
// heal, demand liveness (every new operation completes, every replica converges to the same
// state), then check the history: linearizable per key, no acknowledged write lost, no append
// applied twice, no multi-key write read in part, no part of a sequence unseen by the parts after
// it, bounded reads within their staleness bound and reflecting every write at or below
// the index they observed, asynchronous writes lost only where a failover happened — each named
// in the cluster's loss record, which names nothing but async writes the clients sent — and
// replicated writes lost only where every replica that held one lost its copy (see
// SimWorkload.noteLoss): until then they are checked as definite as sync writes.

import { checkBoundedReads } from '../check/bounded-reads.js';
import { expandClears, type Operation, pairOperations } from '../check/history.js';
import {
  checkAtMostOnce,
  checkNoLostWrites,
  clearMayHaveTakenIn,
  type FinalReads,
} from '../check/invariants.js';
import { checkLinearizable, describeOperation } from '../check/linearizability.js';
import { checkScans, type ScanObservation } from '../check/scans.js';
import type { LagPolicy } from '../protocol/config.js';
import { BASE_FORMAT_LEVEL, FORMAT_LEVEL } from '../protocol/format-level.js';
import type { TestOnlyFaults } from '../protocol/test-only-faults.js';
import type { ReplicaId } from '../protocol/types.js';
import type { ScanSeed } from '../state-machine/kv-key-hash.js';
import { type KvLimits, kvLimitsDefault } from '../state-machine/kv-limits.js';
import { KeyValueStore } from '../state-machine/kv-store.js';
import { SimCluster, type StorageCounts, simMsPerTick } from './cluster.js';
import { checkConvergence } from './convergence.js';
import { type ExpiryCounts, noExpiryCounts, type SimExpiries, SimKeyValueStore } from './expiry-workload.js';
import {
  describePlan,
  type FaultKind,
  Nemesis,
  planFaults,
  withCommitQuorum,
  withEmbeddedCoordinator,
  withEtcdCoordinators,
  withRollingUpgrade,
} from './faults.js';
import { storeKeysOf } from './multi-key-workload.js';
import { Random } from './random.js';
import { noSaveCounts, type SaveCounts } from './save-workload.js';
import { noScanCounts, type ScanCounts } from './scan-workload.js';
import { nanosecondsPerTick, SimWorkload, workloadDefaults } from './workload.js';

export interface SeedOptions {
  readonly faultTicks?: number;
  readonly testOnlyFaults?: TestOnlyFaults;
  /** Search steps per key for the linearizability checker. */
  readonly checkBudgetSteps?: number;
  /**
   * The cluster's lagPolicy for every seed (else the default, demote). An option rather than a draw,
   * so the seeds the tests rely on keep their plans.
   */
  readonly lagPolicy?: LagPolicy;
  /**
   * Where the coordinator keeps its state in this seed, whatever its plan drew: `directory`, one
   * embedded coordinator, without the faults only etcd has (the plan older proof seeds were found on);
   * `etcd`, coordinators on etcd with both of its fault kinds. Absent: as drawn (40 % on etcd).
   */
  readonly coordinatorHome?: 'directory' | 'etcd';
  /** Every seed of 3 or 4 replicas with a commit quorum (`withCommitQuorum`), not 40 % of them. */
  readonly commitQuorum?: boolean;
  /** Every seed a rolling upgrade under way (`withRollingUpgrade`), not a quarter of them. */
  readonly rollingUpgrade?: boolean;
}

export interface SeedResult {
  readonly seed: number;
  readonly plan: string;
  readonly traceDigest: string;
  readonly ticks: number;
  readonly faults: ReadonlyMap<FaultKind, number>;
  /** Upgrade faults that started a replica of the older build after every replica ran this one. */
  readonly rollbacks: number;
  /** forget: replicas the coordinator forgot as their faults ended (the rest of the asks it refused). */
  readonly forgotten: number;
  readonly operations: number;
  readonly failovers: number;
  readonly asyncAcknowledged: number;
  /** Acknowledged async appends missing from the final values. */
  readonly asyncLost: number;
  /** Async writes the cluster's loss record counts (null if no replica could be asked). */
  readonly asyncLostReported: number | null;
  /** Replicated writes acknowledged; of them, those every holder of which lost its copy (then unchecked). */
  readonly replicatedAcknowledged: number;
  readonly replicatedExcused: number;
  /** The commit quorum of the run (null: every backup). */
  readonly syncQuorum: number | null;
  readonly storage: StorageCounts;
  /** Writes answered SESSION_EXPIRED. */
  readonly sessionsExpired: number;
  readonly boundedReads: {
    readonly servedByMember: number;
    readonly servedByPrimary: number;
    readonly staleReplies: number;
    readonly abandoned: number;
  };
  /** request-status answers by kind (executed, refused, cancelled, a code, unanswered). */
  readonly statusAnswers: ReadonlyMap<string, number>;
  /** Sequences sent, and what became of them (SimWorkload.sequenceCounts). */
  readonly sequences: Readonly<SimWorkload['sequenceCounts']>;
  /** Single incr-floats, put-many-if-absents and SET ... IFEQs answered (SimWorkload.stringWriteCounts). */
  readonly stringWriteCounts: Readonly<SimWorkload['stringWriteCounts']>;
  /** Clears of every key sent and answered (SimWorkload.clearCounts). */
  readonly clears: Readonly<SimWorkload['clearCounts']>;
  /** Snapshot saves asked, refused, completed (checked as reads of every key) and failed. */
  readonly saves: SaveCounts;
  /** Register writes sent with a time to live, expires and persists, ttl reads, and keys the primaries' logged deletions named. */
  readonly expiry: ExpiryCounts;
  /** Whole scans begun and checked, their pages, and the keys they had to return (check/scans.ts). */
  readonly scans: ScanCounts & { readonly keysDue: number; readonly acrossSeeding: number };
  /** Keys whose history the checker could not decide within its budget. */
  readonly unknownKeys: number;
  readonly violations: readonly string[];
  readonly trace: readonly string[];
}

const faultTicksDefault = 2_000;
/** Draws the seeds with clears apart; none of the seeds sim.test names draws them under it. */
const CLEAR_SALT = 0x0c20_d276;
const firstViewTicksMax = 3_000;
const livenessOperationsPerClient = 3;
const livenessTicksMax = 8_000;
const finalReadAttemptsMax = 5;
/** Chance per tick that a client asks for a snapshot save while none is under way (save-workload.ts). */
const saveProbability = 0.004;
/** Share of seeds whose register puts sometimes carry a time to live, and how often they do (expiry-workload.ts). */
const expirySeedShare = 0.5;
const expiryProbabilityDrawn = 0.25;
/** Share of seeds in which clients now and then scan every key (scan-workload.ts). */
const scanSeedShare = 0.3;
/** Share of the seeds without keys that expire in which clients now and then clear every key (FLUSHALL). */
const clearSeedShare = 0.4;

/**
 * Values stay small enough that a cas's entry (its new value twice, as update and result) fits even
 * the tiny Prepare limit, so the refusal a long list meets is VALUE_TOO_LARGE, which the checker
 * models. (An append's entry holds only its token and the new length.) The store's size limit is
 * fixed, not the default's quarter of this process's heap, so a seed runs the same on any machine.
 */
const simKvLimits: KvLimits = {
  ...kvLimitsDefault,
  valueSizeMaxBytes: 1024,
  storeBytesMax: 256 * 1024 * 1024,
  // A few keys per call, so a scan meets SCAN's buckets still in the making (a new primary's, say),
  // as a large store's scans do.
  scanKeysPerCallMax: 4,
};

/** Format levels r1, r2, ... start at in a seed that draws upgrade: one older replica or more. */
function olderBuildLevels(seed: number, replicaCount: number): number[] {
  const older = new Random((seed ^ 0x01de_b11d) >>> 0).integer(1, replicaCount);
  return Array.from({ length: replicaCount }, (_, at) => (at < older ? BASE_FORMAT_LEVEL : FORMAT_LEVEL));
}

export function runSeed(seed: number, options: SeedOptions = {}): SeedResult {
  let expiries: SimExpiries | null = null;
  // The simulated wall clock the stores read: the cluster's time, once there is a cluster.
  let ticks = (): number => 0;
  /** When a store first applied a scan seed, on the history's clock. */
  const seedings: number[] = [];
  const seedsApplied = new Set<string>();
  const nowMs = () => ticks() * simMsPerTick;
  const drawn = planFaults(new Random(seed ^ 0x5eed5eed), workloadDefaults.clients);
  // The stores' scan seeds, from a generator of their own so no other draw moves.
  const scanSeeds = new Random(seed ^ 0x5ca7_5eed);
  const newScanSeed = (): ScanSeed => ({ low: scanSeeds.nextUint32(), high: scanSeeds.nextUint32() });
  const homed =
    options.coordinatorHome === 'directory'
      ? withEmbeddedCoordinator(drawn)
      : options.coordinatorHome === 'etcd'
        ? withEtcdCoordinators(drawn)
        : drawn;
  const quorate = options.commitQuorum === true ? withCommitQuorum(homed) : homed;
  const plan = options.rollingUpgrade === true ? withRollingUpgrade(quorate) : quorate;
  const cluster = new SimCluster({
    seed,
    replicaCount: plan.replicaCount,
    config: options.lagPolicy === undefined ? plan.config : { ...plan.config, lagPolicy: options.lagPolicy },
    createStateMachine: (context) =>
      new SimKeyValueStore(
        simKvLimits,
        nowMs,
        () => expiries,
        options.testOnlyFaults ?? {},
        newScanSeed,
        context,
        (scanSeed) => {
          // The first replica to apply a seed is the primary that logged it: that is when scans change.
          const key = `${scanSeed.low}/${scanSeed.high}`;
          if (!seedsApplied.has(key)) seedings.push(ticks() * nanosecondsPerTick);
          seedsApplied.add(key);
        },
      ),
    ...(options.testOnlyFaults === undefined ? {} : { testOnlyFaults: options.testOnlyFaults }),
    ...(plan.etcdHome === null ? {} : { etcdHome: plan.etcdHome }),
    // A seed that draws upgrade is a rolling upgrade under way: some replicas (r1 first) still on
    // the older build, upgraded by its faults.
    ...(plan.kinds.includes('upgrade')
      ? { startFormatLevels: olderBuildLevels(seed, plan.replicaCount) }
      : {}),
  });
  ticks = () => cluster.now;
  const violations: string[] = [];
  // Keys that expire in half the seeds, drawn apart: the other half run as they did before expiry.
  const expiryProbability = new Random(seed ^ 0x7e1e_7e1e).chance(expirySeedShare)
    ? expiryProbabilityDrawn
    : 0;
  // INCRBYFLOAT's, MSETNX's and SET ... IFEQ's operations in half the seeds, drawn apart, and so,
  // under this constant, in none of the three broken-build seeds whose schedules they changed
  // (21, 9994, 65403).
  const newerStringWrites = new Random(seed ^ 0x0f_10aa).chance(0.5);
  const workload = new SimWorkload(cluster, cluster.random, {
    ...workloadDefaults,
    pipelineDepth: plan.pipelineDepth,
    idleTicksMax: plan.clientIdleTicksMax,
    deadlineTicks: plan.clientDeadlineTicks,
    livenessDeadlineTicks: workloadDefaults.deadlineTicks,
    replicatedProbability: plan.replicatedProbability,
    // Their own stream: the clients' draws, and so the schedules, stay what they were without saves.
    saves: { probability: saveProbability, seed: seed ^ 0x5a7e_5a7e },
    expiry: { probability: expiryProbability, seed: seed ^ 0x0e_a1e5, nowMs, violations },
    // Scans in some seeds, drawn apart: the others run as they did before scans. Under this constant
    // none of the seeds the broken-build tests name (test/unit/sim.test.ts) draws scans, so each
    // keeps the schedule that catches its bug (seed 65403 was then the only one known for its rule).
    ...(new Random(seed ^ 0x5ca7_63db).chance(scanSeedShare) ? { scans: { seed: seed ^ 0x05ca_0001 } } : {}),
    newerStringWrites,
    // Staged renames in half of those, drawn apart again, under a constant that draws them in none
    // of the seeds sim.test names (1..40, 221, 1109, 9994, 65403): their schedules stay as they were.
    stagedRenames: newerStringWrites && new Random((seed ^ 0x5ea4_6076) >>> 0).chance(0.5),
    // Clears where no key expires, drawn apart under a constant that draws them in none of the seeds
    // sim.test names: their schedules stay as they were.
    clears: expiryProbability === 0 && new Random((seed ^ CLEAR_SALT) >>> 0).chance(clearSeedShare),
  });
  expiries = workload.expiries;
  // Made once the first view formed: its network and disks are the plan's from then on.
  let nemesis: Nemesis | null = null;
  const startNemesis = (): Nemesis => {
    nemesis = new Nemesis(cluster, cluster.random, plan);
    return nemesis;
  };
  const primaries: ReplicaId[] = [];
  let asyncAcknowledged = 0;
  let asyncLost = 0;
  let asyncLostReported: number | null = null;
  let unknownKeys = 0;
  let replicatedExcused = 0;
  let scanKeysDue = 0;
  let scansAcrossSeeding = 0;
  cluster.lossListeners.push((id) => workload.noteLoss(id));
  cluster.promotionWithoutHoldersListeners.push(() => workload.notePromotionWithoutHolders());
  try {
    const { finalReads, lossRecord } = runPhases(
      cluster,
      plan.replicaCount,
      workload,
      startNemesis,
      primaries,
      options,
      violations,
    );
    // Every replica runs this build once the faults healed: the cluster must raise its level, once
    // the coordinator heard each (a late heartbeat of a replaced process may hold that up a while).
    if (
      plan.kinds.includes('upgrade') &&
      !cluster.runUntil(() => cluster.clusterFormatLevel === FORMAT_LEVEL, livenessTicksMax)
    ) {
      violations.push(
        `every replica reads format level ${FORMAT_LEVEL} at the end, but the cluster stayed at ${cluster.clusterFormatLevel}`,
      );
    }
    // A replicated write every holder of which lost its copy may be gone: from then on it is unknown.
    const excused = workload.replicatedExcused();
    replicatedExcused = excused.length;
    const excusedKeys = new Set(excused.map(({ process, call }) => `${process}@${call}`));
    // A clear goes into each key's history as one operation per key, so every check below sees it.
    const operations = expandClears(
      pairOperations(workload.recorder.events()).map(
        (operation): Operation =>
          excusedKeys.has(`${operation.process}@${operation.call}`)
            ? { ...operation, status: 'info', output: null, ret: Number.POSITIVE_INFINITY }
            : operation,
      ),
    );
    const linearizability = checkLinearizable(operations, {
      budgetSteps: options.checkBudgetSteps ?? 200_000,
      valueSizeMaxBytes: simKvLimits.valueSizeMaxBytes,
    });
    // Every refusal is an observation the checker must judge; one it cannot is a gap, reported as such.
    for (const { f, error, count, example } of linearizability.unmodeledFailures) {
      violations.push(
        `${count} ${f} failed with ${error ?? 'no code'}, which the checker cannot judge (first: ${describeOperation(example)})`,
      );
    }
    for (const [cause, count] of workload.unexpectedReplies)
      violations.push(`${count} unexpected replies: ${cause}`);
    violations.push(...workload.tornReads);
    // A store that had keys when the cluster's format level rose is seeded then (kv-store.ts): a
    // scan under way across that moment may miss keys, as documented, once in a store's life.
    const acrossSeeding = (scan: ScanObservation) =>
      seedings.some((at) => scan.start <= at && at <= scan.end);
    const scans = workload.scans?.completed ?? [];
    scansAcrossSeeding = scans.filter(acrossSeeding).length;
    const scanCheck = checkScans(
      scans.filter((scan) => !acrossSeeding(scan)),
      operations,
      storeKeysOf,
    );
    violations.push(...scanCheck.violations);
    scanKeysDue = scanCheck.keysDue;
    violations.push(...workload.readBackViolations);
    for (const [key, check] of linearizability.perKey) {
      if (check.result === 'not-linearizable')
        violations.push(`key ${key} is not linearizable: ${check.explanation ?? ''}`);
      if (check.result === 'unknown') unknownKeys += 1;
    }
    for (const violation of [...checkNoLostWrites(operations, finalReads), ...checkAtMostOnce(finalReads)]) {
      violations.push(violation.message);
    }
    const replicatedKeys = new Set(
      workload.replicatedAcknowledged.map(({ process, call }) => `${process}@${call}`),
    );
    const replicated = new Set(
      operations.filter((operation) => replicatedKeys.has(`${operation.process}@${operation.call}`)),
    );
    for (const violation of checkBoundedReads(workload.boundedReads, operations, replicated).violations) {
      violations.push(`key ${violation.key}: ${violation.rule}: ${violation.message}`);
    }
    const missing: string[] = [];
    // A token a clear may have removed is no loss.
    const clearMayHaveTaken = clearMayHaveTakenIn(operations);
    for (const [key, tokens] of workload.asyncAppendsAcknowledged) {
      const final = finalReads.get(key) ?? '';
      for (const token of tokens) {
        asyncAcknowledged += 1;
        if (final.includes(token) || clearMayHaveTaken(key, token)) continue;
        asyncLost += 1;
        missing.push(token);
      }
    }
    if (lossRecord !== null) {
      asyncLostReported = lossRecord.count;
      // A directory lost in the run (a wipe, a repair) may take unreported async writes with it.
      // A rollback (upgrade) starts its replica on a lost directory too.
      const wipes =
        ((nemesis as Nemesis | null)?.injected.get('wipe') ?? 0) +
        ((nemesis as Nemesis | null)?.rollbacks ?? 0);
      // What the loss record cannot know: a directory lost (its list of unreported losses with it), or
      // a replica that never came back to report.
      const everyReplicaBack = [...cluster.nodes.keys()].every((id) => cluster.isRunning(id));
      const directoryLost = wipes > 0 || cluster.counts.repairs > 0 || !everyReplicaBack;
      violations.push(...checkLossRecord(lossRecord, workload, finalReads, missing, directoryLost));
    }
  } catch (error) {
    // An assertion in the core is a bug the seed found: report it like any other violation.
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    violations.push(`the run stopped on an error: ${message.split('\n').slice(0, 4).join(' | ')}`);
  }
  const failovers = Math.max(0, primaries.length - 1);
  if (asyncLost > 0 && failovers === 0) violations.push(`${asyncLost} async writes lost without a failover`);
  violations.push(...cluster.violations);

  return {
    seed,
    plan: describePlan(plan),
    traceDigest: cluster.traceDigest(),
    ticks: cluster.now,
    faults: (nemesis as Nemesis | null)?.injected ?? new Map(),
    rollbacks: (nemesis as Nemesis | null)?.rollbacks ?? 0,
    forgotten: (nemesis as Nemesis | null)?.forgotten ?? 0,
    operations: workload.operationsInvoked,
    failovers,
    asyncAcknowledged,
    asyncLost,
    asyncLostReported,
    replicatedAcknowledged: workload.replicatedAcknowledged.length,
    replicatedExcused,
    syncQuorum: plan.syncQuorum,
    storage: { ...cluster.counts },
    sessionsExpired: workload.sessionsExpired,
    boundedReads: { ...workload.boundedReadCounts },
    statusAnswers: new Map(workload.statusAnswers),
    sequences: { ...workload.sequenceCounts },
    stringWriteCounts: { ...workload.stringWriteCounts },
    clears: { ...workload.clearCounts },
    saves: workload.saves?.counts ?? noSaveCounts(),
    expiry: { ...(workload.expiries?.counts ?? noExpiryCounts()) },
    scans: {
      ...(workload.scans?.counts ?? noScanCounts()),
      keysDue: scanKeysDue,
      acrossSeeding: scansAcrossSeeding,
    },
    unknownKeys,
    violations,
    trace: cluster.recentTrace(),
  };
}

/** The cluster's record of async writes lost in failovers, as the replicas hold it at the end. */
interface LossRecord {
  readonly count: number;
  readonly names: readonly string[];
}

/**
 * The loss record names only async writes the clients sent (a sync write must never be lost, and
 * nothing else is an async write), and, unless a directory was lost, every acknowledged async append
 * missing from the final values: the replica that discarded it reported it.
 */
function checkLossRecord(
  record: LossRecord,
  workload: SimWorkload,
  finalReads: FinalReads,
  missingTokens: readonly string[],
  directoryLost: boolean,
): string[] {
  const violations: string[] = [];
  const names = new Set(record.names);
  for (const name of names) {
    if (!workload.asyncWritesSent.has(name)) {
      violations.push(`the loss record names ${name}, which no client sent as an async write`);
    }
    // Sent once, so one entry at most ran it: if its token survived, that entry was not lost.
    const append = workload.asyncAppendsSent.get(name);
    if (append !== undefined && !workload.asyncWritesResent.has(name)) {
      if ((finalReads.get(append.key) ?? '').includes(append.token)) {
        violations.push(
          `the loss record names ${name}, but its append ${append.token} is in the final value of key ${append.key}: counted lost, yet it survived`,
        );
      }
    }
  }
  if (directoryLost) return violations;
  for (const token of missingTokens) {
    const name = workload.asyncAppendRequests.get(token);
    if (name !== undefined && !names.has(name)) {
      violations.push(
        `acknowledged async append ${token} (${name}) is missing from the final value, but the loss record (${record.count}) does not name it`,
      );
    }
  }
  return violations;
}

/** Forms the first view, runs the workload through the faults, heals, and reads every key. */
function runPhases(
  cluster: SimCluster,
  replicaCount: number,
  workload: SimWorkload,
  startNemesis: () => Nemesis,
  primaries: ReplicaId[],
  options: SeedOptions,
  violations: string[],
): { finalReads: FinalReads; lossRecord: LossRecord | null } {
  const formed = cluster.runUntil(
    () => (cluster.view()?.backups.length ?? 0) === replicaCount - 1,
    firstViewTicksMax,
  );
  if (!formed) violations.push('the first view never formed');
  const nemesis = startNemesis();
  const notePrimary = () => {
    const primary = cluster.view()?.primary;
    if (primary !== undefined && primaries.at(-1) !== primary) primaries.push(primary);
  };
  const faultTicks = options.faultTicks ?? faultTicksDefault;
  for (let tick = 0; tick < faultTicks; tick++) {
    nemesis.step();
    workload.step();
    cluster.step();
    notePrimary();
  }

  nemesis.healAll();
  workload.startLivenessPhase(livenessOperationsPerClient);
  const live = cluster.runUntil(() => {
    workload.step();
    notePrimary();
    return workload.livenessDone;
  }, livenessTicksMax);
  violations.push(...nemesis.violations);
  if (!live) violations.push('liveness: operations started after the heal did not complete');
  violations.push(...workload.livenessFailures.map((failure) => `liveness: ${failure}`));
  workload.stopGenerating();

  const finalReads = readEverything(cluster, workload, violations);
  checkConvergence(cluster, violations, (state) =>
    state instanceof KeyValueStore
      ? `state hash ${state.stateHash()}, scan seed ${JSON.stringify(state.scanSeed)}`
      : 'no key/value store',
  );
  // Healed and converged: every key whose time came must now go (expiry-workload.ts).
  workload.expiries?.checkDueKeysDeleted(cluster);
  const primary = cluster.view()?.primary;
  const status = primary === undefined ? undefined : cluster.replica(primary)?.status();
  const lossRecord =
    status === undefined
      ? null
      : {
          count: status.asyncLost,
          names: status.lostRecent.map((lost) => `${lost.clientId}#${lost.requestNumber}`),
        };
  return { finalReads, lossRecord };
}

/** Reads every key through the primary, as ordinary operations of the history. */
function readEverything(cluster: SimCluster, workload: SimWorkload, violations: string[]): FinalReads {
  const finalReads = new Map<string, string | null>();
  for (const key of workload.keys) {
    for (let attempt = 0; attempt < finalReadAttemptsMax && !finalReads.has(key); attempt++) {
      cluster.runUntil(() => {
        workload.step();
        return workload.idle;
      }, livenessTicksMax);
      workload.beginRead(key);
      cluster.runUntil(() => {
        workload.step();
        return workload.idle;
      }, livenessTicksMax);
      const value = workload.lastReadOf(key);
      if (value !== undefined) finalReads.set(key, value);
    }
    if (!finalReads.has(key)) violations.push(`liveness: the final read of ${key} never succeeded`);
  }
  return finalReads;
}
