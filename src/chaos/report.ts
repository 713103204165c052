// The outcome of a chaos run and how it is printed. `passed` holds only when every check held:
// linearizable on every key (unknown is not a pass), no acknowledged sync append lost, no append
// applied twice, async appends lost only if a failover happened, no bounded read staler than its
// bound allows, no two primaries' leases at once, and nothing else went wrong.

import { describeClockRates } from './clock-rates.js';
import type { FaultChecks, FaultRecord, NemesisKind } from './faults.js';
import type { UpgradeCounts } from './format-upgrade.js';
import { describeLeases, type LeaseCheck } from './lease-overlaps.js';
import type { StorageEvents } from './replica-logs.js';
import type { ScanCounts } from './scanner.js';
import type { FileSystem } from './server-disks.js';
import type { SaveCounts } from './snapshot-saver.js';
import type { BoundedReadCounts, RequestStatusState, WriteAcknowledgement } from './workload.js';

export interface ChaosReport {
  readonly seed: number;
  readonly durationSeconds: number;
  readonly clients: number;
  readonly pipeline: number;
  /** History processes that went through the replicas' Redis ports, and their commands. */
  readonly redisClients: number;
  readonly redisCommands: {
    readonly sent: number;
    readonly ok: number;
    readonly readOnlyReads: number;
    readonly pipelines: number;
    readonly transactions: number;
    /** Transactions that WATCHed their keys first, and those whose EXEC answered nil (none of it ran). */
    readonly watched: number;
    readonly watchAborts: number;
    /** WATCH, GET, MULTI, SET, EXEC on a register (a cas from the value read), and those not swapped (nil). */
    readonly watchedCas: number;
    readonly watchedCasNotSwapped: number;
    /** GET, then SET ... IFEQ (NX where it read nothing) on a register: the same cas in one command. */
    readonly ifEqualCas?: number;
    /** SET under a staging key, then RENAME, COPY ... REPLACE or RENAMENX of it over a register. */
    readonly stagedWrites?: number;
    /** FLUSHALLs sent, and those answered OK (each a clear of every key in the history). */
    readonly flushes?: number;
    readonly flushesOk?: number;
    /** RANDOMKEYs sent, and those answered nil (an empty store); any other answer named a key of the run. */
    readonly randomKeys?: number;
    readonly randomKeysNil?: number;
    /**
     * New connections that asked a coordinator's Sentinel port for the primary first: asked, answered
     * with a Redis port of the run (then dialled), answered nil (no primary to name).
     */
    readonly sentinelAsks?: number;
    readonly sentinelNamed?: number;
    readonly sentinelNil?: number;
    /** Messages a subscriber on every Sentinel port heard, by channel (each checked: sentinel-watch.ts). */
    readonly sentinelMessages?: Readonly<Record<string, number>>;
    /**
     * Sequences that carried the commands of more than one connection, as the Redis ports counted
     * them (INFO stats, read through the run: redis-port-stats.ts); at least this many.
     */
    readonly sharedSequences: number;
  };
  /**
   * The saver's snapshot saves: asked, completed (each recorded as a read of every register key,
   * `reads` in all) and failed (they observed nothing), with the first failure's message.
   */
  readonly saves: Readonly<SaveCounts>;
  /**
   * The scanner's walks over every key: begun, whole (each checked against the history: `keysDue`
   * keys present throughout one, all of which had to come back), ended by a failed call.
   */
  readonly scans: Readonly<ScanCounts> & { readonly keysDue: number };
  readonly nemeses: readonly NemesisKind[];
  readonly concurrency: number;
  readonly replicas: number;
  readonly keys: number;
  /** How far from 1 the servers' clock rates were drawn, and each server's rate (clock-rates.ts). */
  readonly clockDrift: number;
  readonly clockRates: ReadonlyMap<string, number>;
  /** The file system of each server's own disk (the disk nemeses'), or null: none had one. */
  readonly serverDisks: FileSystem | null;
  readonly faults: Readonly<Record<NemesisKind, number>>;
  /** Per kind, how many faults of each variant ("primary", "emptied, restarted at once", "amnesia"). */
  readonly faultVariants: ReadonlyMap<NemesisKind, ReadonlyMap<string, number>>;
  /** The most faults in progress at one time. */
  readonly faultsMostAtOnce: number;
  readonly faultsSkipped: number;
  /** What the wipes and the coordinator's amnesias saw the cluster do. */
  readonly faultChecks: Readonly<FaultChecks>;
  /** With the upgrade nemesis: the upgrades and rollbacks it made and the format levels it saw. */
  readonly upgrade?: Readonly<UpgradeCounts>;
  readonly operations: { readonly ok: number; readonly fail: number; readonly info: number };
  /** Why workload operations did not complete ok ("cas not swapped", "write OUTCOME_UNKNOWN"). */
  readonly unsuccessfulByCause: ReadonlyMap<string, number>;
  /** Messages of acknowledged sync appends missing from the final values. */
  readonly lostWrites: readonly string[];
  /** Messages of tokens found more than once in a final value. */
  readonly duplicates: readonly string[];
  readonly asyncAppendsAcknowledged: number;
  readonly asyncAppendsLost: number;
  /**
   * A data directory was lost or repaired in the run (a wipe, a corrupt, a transfer-kill, a rollback): the async
   * writes only it held may be gone unreported, so the record is not held to the lost appends.
   */
  readonly directoryLost: boolean;
  readonly asyncWritesAcknowledged: number;
  /** Replicated writes acknowledged: among the ok operations, held to the same checks as sync ones. */
  readonly replicatedWritesAcknowledged?: number;
  readonly failoverHappened: boolean;
  readonly linearizability: {
    readonly keys: number;
    readonly linearizable: number;
    readonly unknown: readonly string[];
    /** Key → why no legal order exists. */
    readonly violations: ReadonlyMap<string, string>;
  };
  /** Failover times in milliseconds, one per fault that cut the primary off. */
  readonly failoverMs: readonly number[];
  /** Faults on the primary after which no write in a view with another primary was seen. */
  readonly failoversNotObserved: number;
  /** The fault the slowest failover followed, or null when none was measured. */
  readonly slowestFailover: SlowestFailover | null;
  /** The replicas' --sessions-max. */
  readonly sessionsMax: number;
  /** The highest snapshot index any replica reported. */
  readonly snapshotIndexMax: number;
  /** What the replicas' logs say: repairs, snapshots set aside, transfers begun, resumed, completed. */
  readonly storage: StorageEvents;
  /** Writes that ended SessionExpiredError. */
  readonly sessionsExpired: number;
  /** Register writes sent with a time to live, each a possible deletion in the history (and among the unknown operations). */
  readonly expiringWrites?: number;
  /** Library register writes sent as a GETSET or a GETDEL and acknowledged (each checked as a cas from the value before), and GETDELs of them. */
  readonly readingWrites?: { readonly acknowledged: number; readonly getDeletes: number };
  /** Increments that went as incrFloat or INCRBYFLOAT, and group writes as putManyIfAbsent, answered. */
  readonly floatsAndAllAbsent?: { readonly incrFloats: number; readonly allAbsent: number };
  /**
   * Expiries observed: register reads that found a key gone after a definite write of it; registers
   * read absent at the end though written; and those whose final value a write with a time to live
   * gave them, read again until they went (expiry-check.ts), and how many did.
   */
  readonly expiries?: {
    readonly seen: number;
    readonly goneAtEnd: number;
    readonly stillExpiring: number;
    readonly goneAfter: number;
  };
  /** The replicas' primary leases, as they wrote them down: none may run beside another's. */
  readonly leases: LeaseCheck;
  readonly boundedReads: BoundedReadCounts & {
    /** Answered by a backup rather than the primary of the view they came from. */
    readonly byBackup: number;
    /** Judged by the staleness check (the rest were undecided). */
    readonly checked: number;
    readonly undecided: number;
    readonly violations: readonly string[];
  };
  /** Writes left unknown that the workload asked about, by the answer. */
  readonly requestStatusAnswers: ReadonlyMap<RequestStatusState, number>;
  /** The async writes the cluster recorded as lost in failovers, at the end (null if not learned). */
  readonly asyncLost: number | null;
  /** Primaries chosen among restarted replicas for want of a live one that held every replicated write. */
  readonly promotionsWithoutHolders?: number;
  /** Anything else that went wrong: a final read that never succeeded, a view that never healed. */
  readonly problems: readonly string[];
  /** The run's data and logs; kept when a check failed. */
  readonly directory: string;
  readonly directoryKept: boolean;
  readonly historyFile: string | null;
  readonly passed: boolean;
}

/**
 * The cluster's loss record against the async appends found lost: it counts every async write lost
 * (not only appends, and unacknowledged ones too), so it is at least the acknowledged appends missing
 * from the final values, unless a data directory (and the unreported losses on it) was lost.
 */
export function lossRecordShortfall(
  report: Pick<ChaosReport, 'asyncAppendsLost' | 'asyncLost' | 'directoryLost'>,
): string | null {
  if (report.directoryLost || report.asyncLost === null || report.asyncLost >= report.asyncAppendsLost) {
    return null;
  }
  return `${report.asyncAppendsLost} acknowledged async appends lost, but the cluster's record counts ${report.asyncLost}`;
}

/** Why the run failed; empty when it passed. */
export function failures(report: Omit<ChaosReport, 'passed'>): string[] {
  const reasons: string[] = [];
  const { linearizability } = report;
  if (linearizability.violations.size > 0) {
    reasons.push(`not linearizable on ${[...linearizability.violations.keys()].join(', ')}`);
  }
  if (linearizability.unknown.length > 0) {
    reasons.push(`linearizability unknown on ${linearizability.unknown.join(', ')} (search budget ran out)`);
  }
  if (report.lostWrites.length > 0) reasons.push(`${report.lostWrites.length} acknowledged writes lost`);
  if (report.duplicates.length > 0) reasons.push(`${report.duplicates.length} duplicate appends`);
  if (report.asyncAppendsLost > 0 && !report.failoverHappened) {
    reasons.push(`${report.asyncAppendsLost} async writes lost without a failover`);
  }
  const shortRecord = lossRecordShortfall(report);
  if (shortRecord !== null) reasons.push(shortRecord);
  if (report.boundedReads.violations.length > 0) {
    reasons.push(`${report.boundedReads.violations.length} bounded reads staler than their bound`);
  }
  if (report.leases.overlaps.length > 0) {
    reasons.push(`${report.leases.overlaps.length} times two primaries held a lease at once`);
  }
  reasons.push(...report.problems);
  return reasons;
}

export interface SlowestFailover {
  readonly ms: number;
  /** The fault's description, as the run's log line for it gave it. */
  readonly fault: string;
}

/**
 * For each fault that cut the primary off: the time from the fault to the first write answered in
 * a later view whose primary is another replica (a view whose primary was never observed counts),
 * looking no further than the next such fault. A write the same primary answered once the fault
 * ended, before any other's, ends the search too: it led on (a paused primary whose backups could
 * not lead, say), and the fault counts as not observed rather than as a failover that came later
 * for another reason.
 */
export function failoverTimes(
  faults: readonly FaultRecord[],
  acknowledgements: readonly WriteAcknowledgement[],
  primaries: ReadonlyMap<number, string>,
): { readonly times: number[]; readonly notObserved: number; readonly slowest: SlowestFailover | null } {
  const onPrimary = faults.filter((fault) => fault.formerPrimary !== null);
  const sorted = [...acknowledgements].sort((a, b) => a.timeNs - b.timeNs);
  const times: number[] = [];
  let notObserved = 0;
  let slowest: SlowestFailover | null = null;
  onPrimary.forEach((fault, index) => {
    const horizonNs = onPrimary[index + 1]?.startNs ?? Number.POSITIVE_INFINITY;
    const ledOnAt = (timeNs: number, view: number) =>
      fault.endNs !== null && timeNs >= fault.endNs && primaries.get(view) === fault.formerPrimary;
    const first = sorted.find(
      ({ timeNs, view }) =>
        timeNs >= fault.startNs &&
        timeNs < horizonNs &&
        ((view > fault.viewNumber && primaries.get(view) !== fault.formerPrimary) || ledOnAt(timeNs, view)),
    );
    if (first === undefined || ledOnAt(first.timeNs, first.view)) {
      notObserved += 1;
      return;
    }
    const ms = (first.timeNs - fault.startNs) / 1e6;
    times.push(ms);
    if (slowest === null || ms > slowest.ms) slowest = { ms, fault: fault.description };
  });
  return { times, notObserved, slowest };
}

/** The report's line on the saver's snapshot saves. */
export function describeSaves(saves: Readonly<SaveCounts>): string {
  const failure = saves.firstFailure === null ? '' : ` (the first: ${saves.firstFailure})`;
  const healed =
    saves.healed === null
      ? ''
      : `; with the cluster healed, one more ${saves.healed ? 'completed' : 'FAILED'}`;
  return (
    `snapshot saves: ${saves.asked} asked, ${saves.completed} completed (checked as ${saves.reads} reads of ` +
    `register keys), ${saves.failed} failed${failure}${healed}`
  );
}

/** The report's line on the scanner's walks. */
export function describeScans(scans: ChaosReport['scans']): string {
  const failure = scans.firstFailure === null ? '' : ` (the first: ${scans.firstFailure})`;
  return (
    `scans: ${scans.started} walks of every key begun, ${scans.completed} whole (${scans.pages} calls answered), ` +
    `checked: ${scans.keysDue} keys present throughout one, each returned; ${scans.failed} ended by a failed call${failure}`
  );
}

/** The report's line on the upgrade nemesis: upgrades, refused rollbacks, the format levels seen. */
export function describeUpgrade(upgrade: Readonly<UpgradeCounts>): string {
  return (
    `upgrade: ${upgrade.upgrades} replicas upgraded from format level 1 by faults (${upgrade.upgradesOfKeptOut} of them ` +
    `kept out first), ${upgrade.upgradesAtHeal} at the heal; replicas at level 1 kept out once the level rose ` +
    `without them: ${upgrade.keptOut}; rollbacks to level 1 refused: ${upgrade.rollbacksRefused} of ${upgrade.rollbacks}` +
    `${upgrade.rollbacksCutShort > 0 ? ` (${upgrade.rollbacksCutShort} cut short by the end of the run)` : ''}; ` +
    `format level raised ${upgrade.levelRaises} times, at the end: ${upgrade.finalLevel ?? 'unknown'}; ` +
    `${upgrade.scansAcrossSeeding} whole scans under way as it rose, when the store may have been seeded, not checked`
  );
}

/** Nearest-rank percentile of ascending `sorted`. */
export function percentile(sorted: readonly number[], fraction: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

export function formatReport(report: ChaosReport): string {
  const lines: string[] = [];
  const nemeses = report.nemeses.length === 0 ? 'none' : report.nemeses.join(',');
  lines.push(
    `chaos: seed ${report.seed}, ${report.durationSeconds} s, ${report.clients} clients × ${report.pipeline} pipelined` +
      `${report.redisClients > 0 ? ` and ${report.redisClients} through Redis ports` : ''}, ` +
      `nemesis ${nemeses}, concurrency ${report.concurrency}, ${report.replicas} replicas` +
      `${report.serverDisks === null ? '' : `, each server on a disk of its own (${report.serverDisks})`}`,
  );
  lines.push(describeClockRates(report.clockRates, report.clockDrift));
  const faultCounts = report.nemeses.map((kind) => `${report.faults[kind]} ${kind}`).join(', ');
  const details = [
    ...(report.nemeses.length > 0 ? [`at most ${report.faultsMostAtOnce} at once`] : []),
    ...(report.faultsSkipped > 0 ? [`${report.faultsSkipped} skipped: not allowed in time`] : []),
  ];
  const detail = details.length === 0 ? '' : ` (${details.join('; ')})`;
  lines.push(`faults: ${faultCounts === '' ? 'none' : faultCounts}${detail}`);
  for (const kind of report.nemeses) {
    const variants = report.faultVariants.get(kind);
    if (variants === undefined) continue;
    const counts = [...variants]
      .sort(([, a], [, b]) => b - a)
      .map(([variant, count]) => `${count} ${variant}`);
    lines.push(`  ${kind}: ${counts.join('; ')}`);
  }
  const loss = report.faultChecks;
  if (loss.wipes > 0) {
    lines.push(
      `wiped replicas: ${loss.wipes}, rejoined as primary or backup after a demotion: ${loss.wipesRejoined}`,
    );
  }
  if (loss.amnesias > 0) {
    lines.push(
      `coordinator amnesia: ${loss.amnesias}, refused to act until the operator's restart: ${loss.amnesiasRefusedUntilRecovery}, ` +
        `whole view again after --recover-from-replicas: ${loss.amnesiasRecovered}`,
    );
  }
  const corruptions = loss.corruptedLogRecords + loss.corruptedSnapshots;
  if (corruptions > 0) {
    lines.push(
      `corrupted replicas: ${corruptions} (${loss.corruptedLogRecords} log record, ${loss.corruptedSnapshots} snapshot), ` +
        `repaired with a new identity: ${loss.corruptionsRepaired}, snapshot set aside without loss: ${loss.corruptionsSetAside}, ` +
        `back as primary or backup: ${loss.corruptionsRejoined}`,
    );
  }
  if (loss.forgets > 0) {
    lines.push(
      `forget: ${loss.forgets} backups killed to be forgotten, ${loss.forgotten} forgotten (each then gone ` +
        `from the status), ${loss.forgetsOfPrimaryRefused} asks to forget the primary refused, ` +
        `${loss.forgetsOfPrimaryAfterItLeft} done (or refused as not known) once another fault had taken it out of the view`,
    );
  }
  if (loss.transferKills > 0) {
    lines.push(
      `transfer-kills: ${loss.transferKills}, killed mid-transfer: ${loss.transferKillsMidway}, resumed the same snapshot: ` +
        `${loss.transferKillsResumed}, offered a newer one: ${loss.transferKillsNewerSnapshot}, ` +
        `rejoined after a demotion: ${loss.transferKillsRejoined}`,
    );
  }
  if (report.faults['snapshot-fail'] > 0) {
    lines.push(
      `snapshot-fail: ${loss.snapshotWritesFailed} snapshot writes failed, the replica serving on; ` +
        `kept one as far as the last failed once writes succeeded again: ${loss.snapshotWritesResumed}`,
    );
  }
  if (loss.etcdFills > 0) {
    lines.push(
      `etcd-full: etcd filled past its quota ${loss.etcdFills} times, a view installed while full in ${loss.etcdFullViewsInstalled}, ` +
        `its NOSPACE alarm not standing through the hold in ${loss.etcdFullAlarmsLapsed}, ` +
        `raised by the nemesis (etcd refused a value, yet raised none) in ${loss.etcdFullAlarmsRaised}; ` +
        `coordinators said it was out of space ${loss.etcdFullRefusals} times`,
    );
  }
  if (loss.disksFilled > 0) {
    lines.push(
      `disks filled: ${loss.disksFilled}, servers stopped on ENOSPC saying so: ${loss.diskFullStops}, ` +
        `snapshot writes that failed on ENOSPC, the replica serving on: ${loss.diskFullSnapshotFailures}, ` +
        `snapshots not tried for want of room: ${loss.diskFullSnapshotsNotTried}, ` +
        `restarted while still full: ${loss.diskFullRestarts} (${loss.diskFullRestartsRan} ran)`,
    );
  }
  if (loss.diskStutters > 0) {
    lines.push(
      `disk-slow: ${loss.diskStutters} disks made to stutter, ${loss.diskStutterFreezes} freezes in all; ` +
        `the replica's role changed meanwhile in ${loss.diskStutterRoleChanges}`,
    );
  }
  if (loss.powerCuts > 0) {
    lines.push(
      `power-loss: ${loss.powerCuts} servers' power cut (what their disks had not synced lost), ` +
        `restarts that dropped a torn tail from their log: ${loss.powerCutTornTails}`,
    );
  }
  if (report.upgrade !== undefined) lines.push(describeUpgrade(report.upgrade));
  const { storage } = report;
  lines.push(
    `storage: snapshots up to index ${report.snapshotIndexMax}, transfers ${storage.transfersCompleted} completed of ` +
      `${storage.transfersStarted} begun (${storage.transfersResumed} resumed), ${storage.repairs} directories repaired, ` +
      `${storage.snapshotsSetAside} snapshots set aside`,
  );
  const { ok, fail, info } = report.operations;
  lines.push(
    `operations: ${ok} ok (${report.replicatedWritesAcknowledged ?? 0} of them replicated writes), ${fail} failed, ${info} unknown (${report.asyncWritesAcknowledged} of them acknowledged async writes)`,
  );
  if (report.redisClients > 0) {
    lines.push(
      `  through Redis ports: ${report.redisCommands.sent} commands, ${report.redisCommands.ok} answered ok; ` +
        `${report.redisCommands.readOnlyReads} of them GETs on READONLY connections (bounded reads, below); ` +
        `${report.redisCommands.pipelines} pipelines of 2-3 commands, ${report.redisCommands.transactions} of them MULTI ... EXEC ` +
        `(${report.redisCommands.watched} behind WATCH, ${report.redisCommands.watchAborts} of those answered nil: a watched key changed); ` +
        `${report.redisCommands.watchedCas} WATCH-GET-MULTI-SET-EXEC on a register, ${report.redisCommands.watchedCasNotSwapped} of them nil (the value the GET read had changed); ${report.redisCommands.ifEqualCas ?? 0} GET-SET IFEQ on a register; ${report.redisCommands.stagedWrites ?? 0} SET aside then RENAME, COPY or RENAMENX over a register; ` +
        `${report.redisCommands.flushes ?? 0} FLUSHALL (${report.redisCommands.flushesOk ?? 0} answered OK), each a clear of every key in the history; ` +
        `${report.redisCommands.randomKeys ?? 0} RANDOMKEY (${report.redisCommands.randomKeysNil ?? 0} nil), each a key of the run; ` +
        `${report.redisCommands.sentinelAsks ?? 0} connections that asked a Sentinel port for the primary first (${report.redisCommands.sentinelNamed ?? 0} named a Redis port of the run, ${report.redisCommands.sentinelNil ?? 0} nil); ` +
        `${describeSentinelMessages(report.redisCommands.sentinelMessages ?? {})}; ` +
        `at least ${report.redisCommands.sharedSequences} sequences shared by connections`,
    );
  }
  lines.push(`  ${describeSaves(report.saves)}`);
  lines.push(`  ${describeScans(report.scans)}`);
  if (report.unsuccessfulByCause.size > 0) {
    const causes = [...report.unsuccessfulByCause].sort(([, a], [, b]) => b - a);
    lines.push(`  not ok: ${causes.map(([cause, count]) => `${count} ${cause}`).join(', ')}`);
  }
  lines.push(`acknowledged writes lost: ${report.lostWrites.length}`);
  for (const message of report.lostWrites.slice(0, 5)) lines.push(`  ${message}`);
  lines.push(`duplicate appends: ${report.duplicates.length}`);
  for (const message of report.duplicates.slice(0, 5)) lines.push(`  ${message}`);
  lines.push(
    `async writes lost in failovers: ${report.asyncAppendsLost} (of ${report.asyncAppendsAcknowledged} acknowledged async appends)` +
      `; the cluster's record: ${report.asyncLost ?? 'unknown'} lost of ${report.asyncWritesAcknowledged} async writes acknowledged` +
      (report.directoryLost ? ' (a data directory was lost, so the record may be short)' : ''),
  );
  lines.push(
    `primaries chosen among restarted replicas, none that held every replicated write being alive: ${report.promotionsWithoutHolders ?? 0}`,
  );
  lines.push(
    `sessions: --sessions-max ${report.sessionsMax}, ${report.sessionsExpired} writes ended SESSION_EXPIRED`,
    `keys that expire: ${report.expiringWrites ?? 0} register writes with a time to live, each a deletion in the history from its earliest time on (counted among the unknown operations)`,
  );
  if (report.readingWrites !== undefined) {
    const { acknowledged, getDeletes } = report.readingWrites;
    lines.push(
      `writes that answer the value before: ${acknowledged} acknowledged (${acknowledged - getDeletes} GETSET, ${getDeletes} GETDEL), each checked as a cas from the value before it`,
    );
  }
  if (report.floatsAndAllAbsent !== undefined) {
    const { incrFloats, allAbsent } = report.floatsAndAllAbsent;
    lines.push(
      `INCRBYFLOAT and MSETNX: ${incrFloats} increments answered as incrFloat or INCRBYFLOAT (checked as the incrs they are), ${allAbsent} group writes as putManyIfAbsent (checked as a cas from absent)`,
    );
  }
  if (report.expiries !== undefined) {
    const { seen, goneAtEnd, stillExpiring, goneAfter } = report.expiries;
    lines.push(
      `  expiries seen: ${seen} reads found a register gone after a write of it; ${goneAtEnd} registers read absent at the end; ${stillExpiring} whose final value had a time to live read again until gone: ${goneAfter} went`,
    );
  }
  const answers = [...report.requestStatusAnswers].sort(([, a], [, b]) => b - a);
  const asked = answers.reduce((sum, [, count]) => sum + count, 0);
  lines.push(
    `request status: ${asked} unknown writes asked about${
      asked === 0 ? '' : `: ${answers.map(([state, count]) => `${count} ${state}`).join(', ')}`
    }`,
  );
  const bounded = report.boundedReads;
  lines.push(
    `bounded reads: ${bounded.answered} answered (${bounded.byBackup} by a backup), ${bounded.staleAnswers} STALE answers ` +
      `on the way, ${bounded.failed} unanswered; staleness: ${bounded.violations.length} violations in ` +
      `${bounded.checked} checked (${bounded.undecided} undecided)`,
  );
  for (const message of bounded.violations.slice(0, 5)) lines.push(`  ${message}`);
  lines.push(describeLeases(report.leases));
  for (const overlap of report.leases.overlaps.slice(0, 5)) lines.push(`  ${overlap}`);
  const { linearizability } = report;
  lines.push(
    `linearizable: ${linearizability.linearizable} of ${linearizability.keys} keys (unknown: ${linearizability.unknown.length})`,
  );
  for (const [key, explanation] of linearizability.violations) lines.push(`  ${key}: ${explanation}`);
  const sorted = [...report.failoverMs].sort((a, b) => a - b);
  const notObserved = report.failoversNotObserved > 0 ? ` (${report.failoversNotObserved} not observed)` : '';
  lines.push(
    sorted.length === 0
      ? `failover: none measured${notObserved}`
      : `failover: ${sorted.length} failover${sorted.length === 1 ? '' : 's'}, p50 ${Math.round(percentile(sorted, 0.5))} ms, p99 ${Math.round(
          percentile(sorted, 0.99),
        )} ms, max ${Math.round(percentile(sorted, 1))} ms${notObserved}`,
  );
  const slowest = report.slowestFailover;
  if (slowest !== null) lines.push(`  slowest: ${Math.round(slowest.ms)} ms after: ${slowest.fault}`);
  for (const problem of report.problems) lines.push(`problem: ${problem}`);
  if (report.historyFile !== null) lines.push(`history: ${report.historyFile}`);
  if (report.directoryKept) lines.push(`data and logs kept in ${report.directory}`);
  const reasons = failures(report);
  lines.push(reasons.length === 0 ? 'result: PASS' : `result: FAIL (${reasons.join('; ')})`);
  return `${lines.join('\n')}\n`;
}

/** The Sentinel ports' messages a subscriber heard, by channel, as the report line gives them. */
function describeSentinelMessages(heard: Readonly<Record<string, number>>): string {
  const channels = Object.entries(heard).sort(([a], [b]) => a.localeCompare(b));
  if (channels.length === 0) return 'no Sentinel port message heard';
  const counts = channels.map(([channel, count]) => `${count} ${channel}`).join(', ');
  return `Sentinel port messages heard (each checked to name Redis ports of the run): ${counts}`;
}
