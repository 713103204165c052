// The faults a chaos run injects, one planner per kind. A planner looks at what the faults already
// in progress hold (the Occupancy) and either declines (the fault would break the fault model now)
// or returns the fault's Reservation and how to inject it. Injecting returns a RunningFault: `hold`
// lasts the fault's time, `heal` undoes it (and may wait until the cluster took it back).
//
// The fault model (DESIGN §1: the promise holds through the failure of any N−1 replicas while the
// coordinator is reachable, and a lost directory loses only that replica's copy):
// - at most N−1 replicas are down (killed, paused, frozen on their disk, wiped or isolated) at once;
// - no two faults act on one replica's process;
// - at most one data directory is lost or damaged at a time (a wipe, a corrupt, a transfer-kill, an
//   upgrade's rollback, or the coordinator's amnesia), and only
//   when the view is whole; it holds its place until the replica is primary or backup again (or the
//   coordinator formed a whole view again), and never overlaps a kill;
// - at most one fault acts on the coordinator's process, and one sets loss and delay.
//
//   kill              SIGKILL a replica; restart it from its directory later. Half the kills of the
//                     primary cut it off from its backups first, for less than the lag bound: it goes
//                     on acknowledging async writes that no backup receives, which the failover
//                     loses, and which its restart must report for the loss record
//   pause             SIGSTOP a replica past the failure timeout; SIGCONT
//   disk-hang         freeze a replica's file system (fsfreeze; replicas on disks of their own, as
//                     root) past the failure timeout: its writes and fsyncs wait in the kernel, as on
//                     a disk that stopped answering, while it holds its connections; thaw it
//   disk-full         fill a replica's file system (fallocate; disks of their own, as root): its
//                     next write fails ENOSPC and it must stop saying so in a fatal log line; half
//                     the time restart it while still full (a supervisor would); free the space and
//                     restart it. Or every replica's at once (all stop: nothing acknowledged may be
//                     lost), or the coordinator's as the primary is killed (its failover view cannot
//                     be stored: it must stop, and go on from its stored state once restarted)
//   disk-slow         make a replica's file system stutter (or the coordinator's, where it has one):
//                     frozen for up to 0.4 s (two thirds of the failure timeout), answering for a
//                     moment, frozen again, for seconds; its writes and fsyncs wait as on a slow disk
//                     while it lives on: a primary's sync writes wait, a backup falls behind
//   partition         isolate the primary, cut the coordinator's connections to one replica, or
//                     one one-way cut between two replicas
//   loss              frame loss and delay on every proxy
//   pause-partition   SIGSTOP a replica and cut it off from the coordinator (both ways or one way);
//                     SIGCONT while still cut off, so it resumes believing it leads, with client
//                     requests waiting in its sockets; heal the cut a little later
//   wipe              SIGKILL a replica, lose its directory (deleted, or replaced by an empty one),
//                     restart it (mostly at once, within the failure timeout); wait until it is
//                     primary or backup again, and check it was a learner in between
//   coordinator       SIGKILL the coordinator and restart it from its directory (views must not go
//                     back); or amnesia: restart it with an empty directory, check it refuses to act,
//                     then restart it as the operator would, with --recover-from-replicas
//                     on etcd (`--etcd`): kill the leading coordinator and restart it later (a
//                     standby takes over once its lease ran out), or SIGSTOP it past its lease and
//                     resume it after a standby took over (a stale leader: it must stand by)
//   etcd              on etcd: kill -9 one etcd member (the leader half the time), restart it later
//   etcd-full         on etcd: fill etcd past its space quota (its NOSPACE alarm: every write
//                     refused) for a few seconds, then free it as its documentation says (delete,
//                     compact, defragment, disarm); no view may be installed meanwhile (none can be
//                     stored), and writes must succeed again after
//   coordinator-link  one replica's link to the coordinator (on etcd, every one) goes silent: both
//                     ways, or one way
//   corrupt           SIGKILL a replica, flip a bit in a synced log record in the middle of its
//                     segment or in its newest snapshot, restart it at once; it must find the damage
//                     (a lost record: "data directory repaired", a new identity, back only after
//                     being a learner) and be primary or backup again
//   snapshot-fail     make a replica's snapshot writes fail (a directory where the file to write
//                     goes: EISDIR, as root or not; disk-full gives the real ENOSPC): it must serve
//                     on, say so in a warning, and keep a snapshot as far as the one it failed to
//                     write once the writes succeed again
//   transfer-kill     wipe a backup and restart it, so it needs the whole state by transfer; SIGKILL
//                     it while the status shows its transfer under way (a whole chunk held), restart
//                     it from its directory: the same snapshot must resume where it stopped
//   upgrade           a rolling upgrade (format-upgrade.ts): the run starts every replica at
//                     --format-level 1 (the older build); each fault kills -9 one still held there and
//                     restarts it at this build's level on its directory, the one kept out first if the
//                     level rose without it. Once none is held, a refused rollback: kill a backup, wipe
//                     its directory, start it at level 1 for a few seconds (it must be kept out,
//                     alive), then restart it at this build's level: it must rejoin as a new member

import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from '../client/kv-client.js';
import { defaultNodeConfig } from '../node/config.js';
import { etcdFullMessage } from '../node/etcd/etcd-leadership.js';
import { assert } from '../protocol/assert.js';
import { defaultProtocolConfig } from '../protocol/config.js';
import { FORMAT_LEVEL } from '../protocol/format-level.js';
import type { StatusReply, TransferProgress } from '../protocol/messages.js';
import { membersOf, replicaId, roleIn, type View } from '../protocol/types.js';
import { Random } from '../sim/random.js';
import { noRoomMessageStart, transferChunkBytes, transferInDirectory } from '../storage/index.js';
import { snapshotDirectoryName } from '../storage/replica-directory.js';
import { temporaryFileName } from '../storage/snapshot-store.js';
import { type ChaosCluster, COORDINATOR_NAME, type DirectoryLoss } from './cluster-processes.js';
import { type DamageKind, damageDirectory, newestKeptSnapshot } from './data-damage.js';
import { judgePrimaryForget } from './forget-check.js';
import type { UpgradeWatch } from './format-upgrade.js';
import type { NemesisKind } from './nemesis-kinds.js';
import type { DirectedPair, NetworkFault, NetworkFaults } from './network-faults.js';
import { RedisPortClient, RedisReplyError } from './redis-port-client.js';
import {
  logSize,
  type ReplicaLogLine,
  readReplicaLog,
  replicaLogMessages,
  transferStarts,
} from './replica-logs.js';
import { sleepUnlessAborted, VIEW_POLL_INTERVAL_MS, type ViewMonitor } from './view-monitor.js';

export { type NemesisKind, nemesisKinds } from './nemesis-kinds.js';

// The ranges below that say "past the failure timeout" are written for the cluster's default (600
// ms); a run at another `--failure-timeout-ms` moves them with it (pastFailureTimeout).
/** The failure timeout those ranges are written for: the cluster's default. */
export const DEFAULT_FAILURE_TIMEOUT_MS =
  defaultProtocolConfig.failureTimeoutTicks * defaultNodeConfig.tickMs;

/**
 * A range written for the default failure timeout, for a run at `failureTimeoutMs`: each end keeps
 * its margin past the timeout (the longer end twice over), so a fault meant to outlast it still does.
 */
export function pastFailureTimeout(
  [shortestMs, longestMs]: readonly [number, number],
  failureTimeoutMs: number,
): [number, number] {
  const moveMs = failureTimeoutMs - DEFAULT_FAILURE_TIMEOUT_MS;
  return [shortestMs + moveMs, longestMs + 2 * moveMs];
}

/** A killed replica stays down past the failure timeout. */
export const KILL_DOWN_MS = [2000, 4000] as const;
/** How often a kill of the primary cuts it off from its backups first. */
export const CUT_BEFORE_KILL_PROBABILITY = 0.5;
/** How long the primary is cut off from its backups before the kill: less than the lag bound (1 s). */
export const CUT_BEFORE_KILL_MS = [150, 500] as const;
/** Past the failure timeout, so the coordinator fails the replica over. */
export const PAUSE_MS = [1500, 3000] as const;
/** Past the failure timeout. */
export const PARTITION_MS = [2000, 4000] as const;
export const LOSS_MS = [2000, 5000] as const;
export const LOSS_PROBABILITY = [0.05, 0.2] as const;
export const LOSS_DELAY_MAX_MS = 20;
/** A frozen disk: past the failure timeout, so a replica that waits on it is failed over. */
export const DISK_HANG_MS = [1500, 3000] as const;
/** How often a disk-hang freezes the coordinator's disk (where it has one: not on etcd) rather than a replica's. */
export const COORDINATOR_DISK_HANG_PROBABILITY = 0.25;
/** How long a replica's snapshot writes fail: a few of its tries (5 s after a failure, then 10 s). */
export const SNAPSHOT_FAIL_MS = [4000, 12000] as const;
/**
 * After its snapshot writes succeed again, how long a replica may take to keep one: its retry (5 s
 * after a failure, doubled for each further one in a row, at most 40 s) and the write.
 */
const SNAPSHOT_RESUME_MS = 60_000;
/** How long etcd stays past its quota: a failover asked for meanwhile waits for it. */
export const ETCD_FULL_MS = [3000, 8000] as const;
/** Within an etcd-full, the time before its check begins: a view stored just before the quota was reached may still be on its way. */
const ETCD_FULL_SETTLE_MS = 1500;
/** The keys an etcd-full fills etcd with: apart from every cluster's (`/understudy/...`). */
const ETCD_FILLER_PREFIX = '/chaos-filler/';
/** How long a disk stutters. */
export const DISK_SLOW_MS = [4000, 12_000] as const;
/**
 * Each of a stuttering disk's freezes lasts from this long up to two thirds of the failure timeout
 * (400 ms at the default): a slow disk's wait, not a dead one's. A server whose log write waits on
 * its event loop heartbeats again before the coordinator misses it.
 */
export const DISK_SLOW_FREEZE_MIN_MS = 20;
/** Between a stuttering disk's freezes, the disk answers for this long. */
export const DISK_SLOW_THAW_MS = [10, 250] as const;
/** How often a disk-slow stutters the coordinator's disk (where it has one: not on etcd) rather than a replica's. */
export const COORDINATOR_DISK_SLOW_PROBABILITY = 0.25;
/**
 * power-loss: how often the power fails under every server at once (from a steady whole view, like a
 * total crash), and else how often under the coordinator's disk (the directory home) as the primary
 * is killed, rather than under one replica's.
 */
export const POWER_LOSS_EVERY_SERVER_PROBABILITY = 0.25;
export const COORDINATOR_POWER_LOSS_PROBABILITY = 0.25;
/** How long after the primary's kill the coordinator's power fails, in per cent of the failure timeout: about when it stores the failover's view. */
export const COORDINATOR_POWER_LOSS_AFTER_KILL_PERCENT = [60, 140] as const;
/** A full disk stays full past the failure timeout. */
export const DISK_FULL_MS = [2000, 4000] as const;
/** How often a disk-full fills every replica's disk at once (from a steady whole view, like a total crash). */
export const DISK_FULL_EVERY_REPLICA_PROBABILITY = 0.2;
/** How often a disk-full fills the coordinator's disk (where it has one) and kills the primary. */
export const COORDINATOR_DISK_FULL_PROBABILITY = 0.2;
/** How often a replica stopped by its full disk is restarted while the disk is still full. */
export const DISK_FULL_RESTART_WHILE_FULL_PROBABILITY = 0.5;
/** After a disk is freed, time for a write in flight on it to fail or not. */
const DISK_FULL_LAST_WRITE_MS = 500;
/** A server's fatal line on a full disk to its exit. */
const DISK_FULL_EXIT_WAIT_MS = 10_000;
/** What a server's fatal line on a full disk names (the system error's code). */
const NO_SPACE = 'ENOSPC';

/** Whether a server's log line of `level` names a full disk. */
function namesNoSpace(line: ReplicaLogLine, level: string): boolean {
  return line.fields.level === level && JSON.stringify(line.fields).includes(NO_SPACE);
}

/** Paused and cut off: past the lease (400 ms) plus its margin and the failure timeout. */
export const PAUSE_PARTITION_STOPPED_MS = [1500, 3000] as const;
/** Resumed but still cut off from the coordinator, before the cut heals. */
export const PAUSE_PARTITION_CUT_AFTER_RESUME_MS = [300, 1500] as const;
/** How often a wipe hits the primary rather than a backup. */
export const WIPE_PRIMARY_PROBABILITY = 0.3;
/** How often a wiped replica restarts at once, well within the failure timeout. */
export const WIPE_RESTART_AT_ONCE_PROBABILITY = 0.7;
/** How long a wiped replica stays down when it does not restart at once: past the failure timeout. */
export const WIPE_DOWN_MS = [1000, 3000] as const;
/**
 * After a restart, a replica the coordinator counts alive has heartbeated since the restart once
 * this long has passed (past the failure timeout, with a margin): the coordinator then knows its new
 * directory.
 */
export const WIPE_IDENTITY_SETTLE_MS = 1500;
/** How long a wiped replica may take to be primary or backup again: a full catch-up from the log. */
export const WIPE_REJOIN_TIMEOUT_MS = 60_000;
export const COORDINATOR_AMNESIA_PROBABILITY = 0.5;
/** How long a killed coordinator stays down before it restarts from its directory. */
export const COORDINATOR_DOWN_MS = [0, 2000] as const;
/** On etcd: a leading coordinator stopped this long outlives its lease (2 s in chaos runs) and a standby's election. */
export const STALE_LEADER_STOPPED_MS = [3000, 6000] as const;
/** How long a restarted coordinator may take to answer a status. */
export const COORDINATOR_STATUS_TIMEOUT_MS = 15_000;
/** How long a coordinator with an empty directory may take to say it refuses to act. */
export const AMNESIA_REFUSAL_TIMEOUT_MS = 15_000;
/** How long it is left refusing before the operator restarts it. */
export const AMNESIA_REFUSING_MS = [500, 2000] as const;
/** How long the recovering coordinator may take to form a whole view (every replica reports, the last lease runs out). */
export const AMNESIA_RECOVERY_TIMEOUT_MS = 60_000;
/** A replica's link to the coordinator cut: past the failure timeout. */
export const COORDINATOR_LINK_MS = [2000, 4000] as const;
/** A total crash starts only in a view that has stood this long (it is acknowledged by then). */
export const TOTAL_CRASH_STEADY_VIEW_MS = 2000;
/** How long every replica stays down in a total crash. */
export const TOTAL_CRASH_DOWN_MS = [500, 2000] as const;
/**
 * How long the last primary, restarted alone after a total crash, may take to lead again: the
 * coordinator waits out its old lease and judges the others dead first.
 */
export const TOTAL_CRASH_LEAD_TIMEOUT_MS = 30_000;
/** How often a corrupt fault hits the primary rather than a backup. */
export const CORRUPT_PRIMARY_PROBABILITY = 0.3;
/** How often a corrupt fault aims at a log record rather than the newest snapshot (the other if one is missing). */
export const CORRUPT_LOG_RECORD_PROBABILITY = 0.5;
/**
 * How long a transfer-kill waits for the wiped backup's transfer to hold a whole chunk (a resumable
 * point); after that, or once it is a member again, it gives up killing it.
 */
export const TRANSFER_KILL_WAIT_MS = 30_000;
/** How often it looks for the transfer under way (the learner's files and the latest status). */
export const TRANSFER_KILL_POLL_MS = 20;
/** How long the learner stays down between the kill and its restart. */
export const TRANSFER_KILL_DOWN_MS = [200, 1000] as const;
/** How often an upgrade aims at the primary (when held at the older build's level) rather than another replica. */
export const UPGRADE_PRIMARY_PROBABILITY = 0.3;
/** How long an upgraded replica stays down between its kill and its start at this build's level. */
export const UPGRADE_DOWN_MS = [0, 2000] as const;
/** How often a rolled-back backup starts at level 1 at once, well within the failure timeout. */
export const ROLLBACK_RESTART_AT_ONCE_PROBABILITY = 0.5;
/** How long a rolled-back backup runs at level 1 once the coordinator was seen keeping it out. */
export const ROLLBACK_HELD_MS = [3000, 8000] as const;
/** How long the coordinator may take to say it keeps a rolled-back backup out (through other faults). */
export const ROLLBACK_REFUSAL_TIMEOUT_MS = 15_000;
/** The variants of the upgrade faults that roll a backup back, wiping its directory, begin so. */
const ROLLBACK_VARIANT = 'rollback';

/** Whether `fault` was an upgrade fault's rollback, which loses the backup's directory. */
export function isRollback(fault: FaultRecord): boolean {
  return fault.kind === 'upgrade' && fault.variant.startsWith(ROLLBACK_VARIANT);
}

/** How often a kill, pause, pause-partition or link cut aims at the primary rather than another replica. */
export const PRIMARY_TARGET_PROBABILITY = 0.7;
/** How long an operator's switchover may take to end (a lease, a view, its acknowledgement; with faults). */
export const SWITCHOVER_DEADLINE_MS = 10_000;
/** How long a killed backup may take to leave the view before `forget` is asked anyway. */
export const FORGET_OUT_OF_VIEW_TIMEOUT_MS = 15_000;
/** A fault that needs a whole view now trusts a status at most this old. */
export const WHOLE_VIEW_FRESH_MS = 5 * VIEW_POLL_INTERVAL_MS;
/** The source name proxies see for every client. */
const CLIENT_SOURCE = 'client';

export interface FaultRecord {
  readonly kind: NemesisKind;
  /** Which way it was done ("primary", "emptied, at once", "amnesia", ...), for the report. */
  readonly variant: string;
  readonly description: string;
  /** Monotonic, in nanoseconds since the run started. */
  readonly startNs: number;
  endNs: number | null;
  /** The primary, when the fault cuts it off from the coordinator: a failover is expected. */
  readonly formerPrimary: string | null;
  /** The view number when the fault started (0 if none was known). */
  readonly viewNumber: number;
}

/** What a fault in progress holds, for the fault model's rules. */
export interface Reservation {
  readonly kind: NemesisKind;
  /** Replicas it takes out of service: killed, paused, wiped, isolated. */
  readonly down: readonly string[];
  /** The replica whose process it acts on, if any. */
  readonly process: string | null;
  /** A wipe, or the coordinator's amnesia. */
  readonly losesDirectory: boolean;
  readonly onCoordinator: boolean;
  /** It kills a replica's process (a kill; the coordinator's disk hang kills the primary). */
  readonly kills?: boolean;
  /** It takes every replica down at once (a total crash): no other fault starts while it holds. */
  readonly exclusive?: boolean;
}

/** The reservation of a fault that takes one replica out of service through its process. */
function oneReplica(
  kind: NemesisKind,
  target: string,
  { losesDirectory = false, kills = false }: { losesDirectory?: boolean; kills?: boolean } = {},
): Reservation {
  return { kind, down: [target], process: target, losesDirectory, onCoordinator: false, kills };
}

/** The reservations of the faults in progress, summed up. */
export class Occupancy {
  readonly down: ReadonlySet<string>;
  readonly processes: ReadonlySet<string>;
  readonly killActive: boolean;
  readonly directoryLost: boolean;
  readonly coordinatorBusy: boolean;
  /** An etcd fault is in progress: a member down (the other two keep a majority), or etcd full. */
  readonly etcdBusy: boolean;
  readonly exclusiveActive: boolean;
  /** No fault is in progress. */
  readonly empty: boolean;

  constructor(reservations: Iterable<Reservation>) {
    const all = [...reservations];
    this.exclusiveActive = all.some((reservation) => reservation.exclusive === true);
    this.empty = all.length === 0;
    this.down = new Set(all.flatMap((reservation) => reservation.down));
    this.processes = new Set(all.flatMap((reservation) => reservation.process ?? []));
    this.killActive = all.some((reservation) => reservation.kills === true);
    this.directoryLost = all.some((reservation) => reservation.losesDirectory);
    this.coordinatorBusy = all.some((reservation) => reservation.onCoordinator);
    this.etcdBusy = all.some(
      (reservation) => reservation.kind === 'etcd' || reservation.kind === 'etcd-full',
    );
  }

  /** Whether taking `ids` down too leaves at least one of `replicaCount` replicas up. */
  mayTakeDown(ids: readonly string[], replicaCount: number): boolean {
    return new Set([...this.down, ...ids]).size <= replicaCount - 1;
  }
}

/** What the faults that lose or damage a directory, or fill a disk, saw the cluster do about it, for the report. */
export interface FaultChecks {
  wipes: number;
  /** Wiped replicas seen primary or backup again, two views or more after the wipe. */
  wipesRejoined: number;
  amnesias: number;
  /** The coordinator reported a problem and formed no view until the operator's restart. */
  amnesiasRefusedUntilRecovery: number;
  /** After the operator's restart, a view with every replica as primary or backup formed. */
  amnesiasRecovered: number;
  /** Corrupt faults that damaged something: a synced log record, or the newest snapshot. */
  corruptedLogRecords: number;
  corruptedSnapshots: number;
  /** The damaged replica logged "data directory repaired" (a new identity: it rejoins as a new member). */
  corruptionsRepaired: number;
  /** Only a snapshot was set aside, the log covering it: nothing lost, the identity kept. */
  corruptionsSetAside: number;
  /** Damaged replicas seen primary or backup again (after a demotion, when repaired). */
  corruptionsRejoined: number;
  transferKills: number;
  /** Killed while the status showed its transfer under way with a whole chunk held. */
  transferKillsMidway: number;
  /** After the restart, the same snapshot's transfer went on from the bytes held. */
  transferKillsResumed: number;
  /** After the restart, the primary offered a newer snapshot, so the transfer began anew. */
  transferKillsNewerSnapshot: number;
  /** Seen primary or backup again, two views or more after the wipe. */
  transferKillsRejoined: number;
  /** Disks filled (a server's, or every replica's at once: each counts). */
  disksFilled: number;
  /** Servers that stopped on their full disk, each saying so in a fatal line naming ENOSPC. */
  diskFullStops: number;
  /**
   * disk-slow: disks made to stutter, their freezes in all, and the stutters after which the
   * replica's role was not the one it had before (the lag policy, or a failover, acted).
   */
  diskStutters: number;
  diskStutterFreezes: number;
  diskStutterRoleChanges: number;
  /**
   * power-loss: servers whose power was cut (each of a whole cut counts), and restarts after one
   * that dropped a torn tail from the log (a record the cut caught half on disk).
   */
  powerCuts: number;
  powerCutTornTails: number;
  /** snapshot-fail: the snapshot writes that failed (a warning each), and the faults after which a snapshot was kept. */
  snapshotWritesFailed: number;
  snapshotWritesResumed: number;
  /** Snapshot writes that failed on a full disk while the replica served on, saying so in a warning. */
  diskFullSnapshotFailures: number;
  /** Snapshots (written or received) not tried on a full disk for want of room, each a warning. */
  diskFullSnapshotsNotTried: number;
  /** Restarts tried while the disk was still full (a supervisor's), and how many of them ran. */
  diskFullRestarts: number;
  diskFullRestartsRan: number;
  /**
   * etcd-full: times etcd was filled past its quota, those in which a view was installed all the same
   * while its NOSPACE alarm stood (each a problem), those in which the alarm did not stand through the
   * hold (etcd took writes then: a view stored meanwhile is not counted), those in which etcd refused
   * a filler value but raised no alarm (the nemesis raised it), and the coordinators' log lines saying
   * it was out of space.
   */
  etcdFills: number;
  etcdFullAlarmsRaised: number;
  etcdFullViewsInstalled: number;
  etcdFullAlarmsLapsed: number;
  etcdFullRefusals: number;
  /**
   * forget: backups killed to be forgotten, those the coordinator forgot (each then gone from its
   * status), and asks to forget the primary, which must each be refused.
   */
  forgets: number;
  forgotten: number;
  forgetsOfPrimaryRefused: number;
  /**
   * Asks to forget the primary that were done, or refused as a replica not heard since the
   * coordinator restarted, because another fault had taken it out of the view.
   */
  forgetsOfPrimaryAfterItLeft: number;
}

export const noFaultChecks = (): FaultChecks => ({
  wipes: 0,
  wipesRejoined: 0,
  amnesias: 0,
  amnesiasRefusedUntilRecovery: 0,
  amnesiasRecovered: 0,
  corruptedLogRecords: 0,
  corruptedSnapshots: 0,
  corruptionsRepaired: 0,
  corruptionsSetAside: 0,
  corruptionsRejoined: 0,
  transferKills: 0,
  transferKillsMidway: 0,
  transferKillsResumed: 0,
  transferKillsNewerSnapshot: 0,
  transferKillsRejoined: 0,
  disksFilled: 0,
  diskFullStops: 0,
  diskStutters: 0,
  diskStutterFreezes: 0,
  diskStutterRoleChanges: 0,
  powerCuts: 0,
  powerCutTornTails: 0,
  snapshotWritesFailed: 0,
  snapshotWritesResumed: 0,
  diskFullSnapshotFailures: 0,
  diskFullSnapshotsNotTried: 0,
  diskFullRestarts: 0,
  diskFullRestartsRan: 0,
  etcdFills: 0,
  etcdFullViewsInstalled: 0,
  etcdFullAlarmsLapsed: 0,
  etcdFullAlarmsRaised: 0,
  etcdFullRefusals: 0,
  forgets: 0,
  forgotten: 0,
  forgetsOfPrimaryRefused: 0,
  forgetsOfPrimaryAfterItLeft: 0,
});

export interface FaultContext {
  readonly cluster: ChaosCluster;
  readonly monitor: ViewMonitor;
  readonly network: NetworkFaults;
  /** Monotonic nanoseconds since the run started. */
  readonly clock: () => number;
  readonly log: (line: string) => void;
  /** Something the run must fail for: a broken rule of the core, or a fault that could not be undone. */
  readonly problem: (text: string) => void;
  readonly checks: FaultChecks;
  /** The cluster's `--failure-timeout-ms`: the faults meant to outlast it hold that much longer. */
  readonly failureTimeoutMs: number;
  /** The pins and checks of the upgrade nemesis, when the run has it. */
  readonly upgrade?: UpgradeWatch;
}

/** A fault injected and in progress. */
export interface RunningFault {
  readonly record: FaultRecord;
  /** How long it holds, for the log ("for 2.4 s", "restarted at once"). */
  readonly holdDescription: string;
  /** Lasts the fault's time; returns early when `signal` aborts. */
  hold(signal: AbortSignal): Promise<void>;
  /** Undoes the fault; says how. Waits (bounded, and not past `signal`) until the cluster took it back. */
  heal(signal: AbortSignal): Promise<string>;
}

export interface PlannedFault {
  readonly reservation: Reservation;
  /** Injects the fault. */
  start(): Promise<RunningFault>;
}

/** Plans a fault of `kind`, or null if the fault model does not allow one now. */
export function planFault(
  kind: NemesisKind,
  random: Random,
  context: FaultContext,
  occupancy: Occupancy,
): PlannedFault | null {
  return new Planner(random, context, occupancy).plan(kind);
}

const seconds = (milliseconds: number): string => `${(milliseconds / 1000).toFixed(1)} s`;
const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(0)} MB`;

/** A replica's role in `view`, for the log. */
function roleOf(view: View | null, id: string): string {
  if (view === null) return 'no view known';
  const role = roleIn(view, replicaId(id));
  return role === 'none' ? 'not in the view' : role;
}

/** A fault on a coordinator's process that keeps every directory. */
const coordinatorRestart: Reservation = {
  kind: 'coordinator',
  down: [],
  process: null,
  losesDirectory: false,
  onCoordinator: true,
};

/** A fault on the coordinator's disk that kills the primary, so that the failover's view is stored there. */
const coordinatorDiskFault = (kind: NemesisKind, primary: string): Reservation => ({
  kind,
  down: [primary],
  process: primary,
  losesDirectory: false,
  onCoordinator: true,
  kills: true,
});

/** Which way a replica's link to the coordinator is cut. */
const linkWays = ['both ways', 'replica -> coordinator', 'coordinator -> replica'] as const;
type LinkWay = (typeof linkWays)[number];

/** The one-way cuts that silence `replica`'s link to the coordinators (on etcd, every one) `way`. */
function coordinatorLinkCuts(replica: string, way: LinkWay, coordinators: readonly string[]): DirectedPair[] {
  return coordinators.flatMap((coordinator): DirectedPair[] => {
    const up: DirectedPair = [replica, coordinator];
    const down: DirectedPair = [coordinator, replica];
    return way === 'both ways' ? [up, down] : way === 'replica -> coordinator' ? [up] : [down];
  });
}

function describeLink(replica: string, way: LinkWay): string {
  if (way === 'both ways') return `${replica} <-> coordinator`;
  return way === 'replica -> coordinator' ? `${replica} -> coordinator` : `coordinator -> ${replica}`;
}

class Planner {
  private readonly replicaIds: readonly string[];
  private readonly view: View | null;
  private readonly primary: string | null;
  private readonly viewNumber: number;

  constructor(
    private readonly random: Random,
    private readonly context: FaultContext,
    private readonly occupancy: Occupancy,
  ) {
    this.replicaIds = context.cluster.replicaIds;
    this.view = context.monitor.view;
    this.primary = this.view?.primary ?? null;
    this.viewNumber = this.view?.number ?? 0;
  }

  plan(kind: NemesisKind): PlannedFault | null {
    if (this.occupancy.exclusiveActive) return null;
    switch (kind) {
      case 'kill':
        return this.occupancy.directoryLost ? null : this.planProcessFault('kill');
      case 'pause':
        return this.planProcessFault('pause');
      case 'pause-partition':
        return this.planPausePartition();
      case 'disk-hang':
        return this.context.cluster.disks === null ? null : this.planDiskHang();
      case 'disk-full':
        return this.context.cluster.disks === null ? null : this.planDiskFull();
      case 'disk-slow':
        return this.context.cluster.disks === null ? null : this.planDiskSlow();
      case 'partition':
        return this.planPartition();
      case 'loss':
        return this.context.network.lossActive ? null : this.planLoss();
      case 'wipe':
        return this.planWipe();
      case 'coordinator':
        if (this.occupancy.coordinatorBusy) return null;
        return this.context.cluster.etcd === null ? this.planCoordinator() : this.planLeadingCoordinator();
      case 'etcd':
        return this.occupancy.etcdBusy || this.context.cluster.etcd === null ? null : this.planEtcdMember();
      case 'etcd-full':
        return this.occupancy.etcdBusy || this.context.cluster.etcd === null ? null : this.planEtcdFull();
      case 'coordinator-link':
        return this.planCoordinatorLink();
      case 'corrupt':
        return this.planCorrupt();
      case 'snapshot-fail':
        return this.planSnapshotFail();
      case 'transfer-kill':
        return this.planTransferKill();
      case 'switchover':
        return this.planSwitchover();
      case 'total-crash':
        return this.planTotalCrash('total-crash');
      case 'power-loss':
        return this.context.cluster.disks === null ? null : this.planPowerLoss();
      case 'upgrade':
        return this.planUpgrade();
      case 'forget':
        return this.occupancy.directoryLost ? null : this.planForget();
    }
  }

  // ---- every replica at once -------------------------------------------------------------------

  /**
   * kill -9 of every replica at once, as a whole cluster's crash (the kernel keeps what the processes
   * wrote, so it tests their recovery, not their fsyncs), outside the fault model's N − 1 on purpose:
   * nothing acknowledged may be lost even so, since the last primary's disk holds every write it
   * acknowledged, at every durability. So it restarts alone first and must lead again; then the others.
   * Only from a whole view, with no other fault in progress, and none starts until it is over.
   * As `power-loss`, the power fails under every server instead (the coordinator's too, on the
   * directory home): each disk keeps only what it synced, which is what that reasoning rests on.
   */
  private planTotalCrash(kind: 'total-crash' | 'power-loss'): PlannedFault | null {
    const { cluster, monitor, problem } = this.context;
    const { primary } = this;
    if (!this.occupancy.empty || primary === null) return null;
    if (!monitor.isWholeNow(this.replicaIds, WHOLE_VIEW_FRESH_MS)) return null;
    // A view that has stood this long is acknowledged, so its primary is the one the coordinator
    // counts on: one just installed may lead with replicated writes in its memory only.
    if (monitor.viewHeldMs < TOTAL_CRASH_STEADY_VIEW_MS) return null;
    const downMs = this.random.integer(...TOTAL_CRASH_DOWN_MS);
    const powerCut = kind === 'power-loss';
    const withCoordinator = powerCut && cluster.hasOwnDisk(COORDINATOR_NAME);
    return {
      reservation: {
        kind,
        down: [...this.replicaIds],
        process: null,
        losesDirectory: false,
        onCoordinator: withCoordinator,
        kills: true,
        exclusive: true,
      },
      start: async () => {
        const replicas = `${this.replicaIds.join(', ')}; ${primary} primary`;
        const record = powerCut
          ? this.record(
              kind,
              'every server',
              `cut the power of every server (${withCoordinator ? 'the coordinator, ' : ''}${replicas})`,
              null,
            )
          : this.record(kind, 'every replica', `kill -9 every replica (${replicas})`, null);
        const highestBefore = withCoordinator ? monitor.highestViewNumber : 0;
        const logsFrom = powerCut ? this.replicaLogEnds(this.replicaIds) : null;
        if (powerCut) {
          const servers = withCoordinator ? [COORDINATOR_NAME, ...this.replicaIds] : this.replicaIds;
          await Promise.all(servers.map((name) => cluster.cutPower(name)));
          this.context.checks.powerCuts += servers.length;
        } else await Promise.all(this.replicaIds.map((id) => cluster.killReplica(id)));
        return {
          record,
          holdDescription: `down for ${seconds(downMs)}, then ${withCoordinator ? 'the coordinator, ' : ''}the last primary first`,
          hold: (signal) => sleepUnlessAborted(downMs, signal),
          heal: async (signal) => {
            const coordinator = withCoordinator
              ? `${await this.restartCoordinatorShowingNoOlderView(highestBefore, signal, 'after the power cut')}; `
              : '';
            // The last primary is the primary of the view the coordinator holds now, asked after the
            // kills: a view may have changed since the plan (a switchover that just ended, a failover
            // to the replica that died last), and only its primary may hold writes no other has.
            await monitor.waitFor(() => true, TOTAL_CRASH_LEAD_TIMEOUT_MS, signal);
            const last = monitor.view?.primary ?? primary;
            const lastNumber = monitor.view?.number ?? this.viewNumber;
            const others = this.replicaIds.filter((id) => id !== last);
            await cluster.startReplica(last);
            const led = await monitor.waitFor(
              () => monitor.view?.primary === last && monitor.view.number > lastNumber,
              TOTAL_CRASH_LEAD_TIMEOUT_MS,
              signal,
            );
            if (!led && !signal.aborted) {
              problem(
                `after ${powerCut ? 'a power cut of every server' : 'a total crash'} ${last}, the last primary, restarted alone and did not lead within ${seconds(TOTAL_CRASH_LEAD_TIMEOUT_MS)}`,
              );
            }
            const outcome = led
              ? `${last} led again in view ${monitor.view?.number}`
              : `${last} did not lead`;
            await Promise.all(others.map((id) => cluster.startReplica(id)));
            const torn = logsFrom === null ? '' : this.checkStartsAfterPowerCut(logsFrom);
            return `${coordinator}${outcome}; restarted ${others.join(', ')}${torn}`;
          },
        };
      },
    };
  }

  // ---- power cuts ------------------------------------------------------------------------------

  /**
   * The power fails under a server: its process dies at once and its disk loses everything written
   * and not yet synced (server-disks.ts), as a machine's does. A kill leaves what the process wrote
   * with the kernel; this holds the servers to their fsyncs: a replica acknowledges nothing its disk
   * has not synced, and the coordinator tells no one of a view it has not stored. Under one replica
   * (the primary most often), back past the failure timeout; under the coordinator (directory home)
   * about when it stores the view of the primary's failover, back within 2 s, and it must show no view
   * older than one seen before; or, from a steady whole view, under every server at once.
   */
  private planPowerLoss(): PlannedFault | null {
    const { cluster } = this.context;
    if (this.random.chance(POWER_LOSS_EVERY_SERVER_PROBABILITY)) return this.planTotalCrash('power-loss');
    if (
      cluster.hasOwnDisk(COORDINATOR_NAME) &&
      !this.occupancy.coordinatorBusy &&
      this.random.chance(COORDINATOR_POWER_LOSS_PROBABILITY)
    ) {
      return this.planCoordinatorPowerLoss();
    }
    const target = this.chooseTarget(this.freeReplicas(), PRIMARY_TARGET_PROBABILITY);
    if (target === null) return null;
    const holdMs = this.random.integer(...this.pastFailureTimeout(KILL_DOWN_MS));
    const role = this.role(target);
    return {
      reservation: oneReplica('power-loss', target, { kills: true }),
      start: async () => {
        const fault = this.record(
          'power-loss',
          role,
          `cut the power of ${target} (${role})`,
          this.ifPrimary(target),
        );
        const logsFrom = this.replicaLogEnds([target]);
        await cluster.cutPower(target);
        this.context.checks.powerCuts += 1;
        return {
          record: fault,
          holdDescription: `down for ${seconds(holdMs)}`,
          hold: (signal) => sleepUnlessAborted(holdMs, signal),
          heal: async () => {
            await cluster.startReplica(target);
            return `restarted ${target} from what its disk had synced${this.checkStartsAfterPowerCut(logsFrom)}`;
          },
        };
      },
    };
  }

  /**
   * Kills the primary and, a failure timeout later give or take (when the coordinator stores the
   * failover's view, or about to), cuts the power of the coordinator's disk. Restarted, the
   * coordinator must show no view older than one anyone saw: a view is stored before it is told.
   */
  private planCoordinatorPowerLoss(): PlannedFault | null {
    const { primary } = this;
    if (primary === null || !this.freeReplicas().includes(primary)) return null;
    const { cluster, monitor, failureTimeoutMs } = this.context;
    const afterMs = Math.round(
      (failureTimeoutMs * this.random.integer(...COORDINATOR_POWER_LOSS_AFTER_KILL_PERCENT)) / 100,
    );
    const downMs = this.random.integer(...COORDINATOR_DOWN_MS);
    return {
      reservation: coordinatorDiskFault('power-loss', primary),
      start: async () => {
        const fault = this.record(
          'power-loss',
          'coordinator, as the primary is killed',
          `kill ${primary} (primary), then ${seconds(afterMs)} later cut the power of the coordinator`,
          primary,
        );
        await cluster.killReplica(primary);
        await sleepUnlessAborted(afterMs);
        const highestBefore = monitor.highestViewNumber;
        await cluster.cutPower(COORDINATOR_NAME);
        this.context.checks.powerCuts += 1;
        return {
          record: fault,
          holdDescription: `down for ${seconds(downMs)}`,
          hold: (signal) => sleepUnlessAborted(downMs, signal),
          heal: async (signal) => {
            const restarted = await this.restartCoordinatorShowingNoOlderView(
              highestBefore,
              signal,
              'after the power cut',
            );
            await cluster.startReplica(primary);
            return `${restarted}; restarted ${primary}`;
          },
        };
      },
    };
  }

  /** Where each of `ids`' logs ends now: a power cut's heal reads what each start said after it. */
  private replicaLogEnds(ids: readonly string[]): Map<string, number> {
    const { cluster } = this.context;
    return new Map(ids.map((id) => [id, logSize(cluster.replica(id).logPath)]));
  }

  /**
   * Reads what each replica's starts since `from` (where its log ended at the power cut) said. A cut
   * loses only what was not synced, which recovery must take for a torn tail, never for damage: a
   * repaired directory or a kept snapshot set aside after it is a problem. Counts the replicas that
   * dropped a torn tail (a record the cut caught half on disk): ", N dropped a torn tail ..." for the
   * heal's line, or nothing.
   */
  private checkStartsAfterPowerCut(from: ReadonlyMap<string, number>): string {
    const { cluster, checks, problem } = this.context;
    let torn = 0;
    for (const [id, offset] of from) {
      const lines = readReplicaLog(cluster.replica(id).logPath, offset);
      const damage = lines.filter(
        (line) =>
          line.message === replicaLogMessages.repaired ||
          line.message === replicaLogMessages.snapshotSetAside,
      );
      for (const line of damage) {
        problem(
          `after a power cut ${id} said "${line.message}" (${JSON.stringify(line.fields.what ?? line.fields.reason ?? '')}): ` +
            'what a power cut loses was never synced, so recovery must drop it as a torn tail, not call it damage',
        );
      }
      const started = lines.filter((line) => line.message === replicaLogMessages.started);
      if (started.some((line) => Number(line.fields.tornBytesDropped) > 0)) torn += 1;
    }
    checks.powerCutTornTails += torn;
    return torn === 0 ? '' : `; ${torn} dropped a torn tail of their log`;
  }

  // ---- an operator's planned switchover --------------------------------------------------------

  /**
   * Asks the coordinator (through its proxy, as an operator would) to hand the primary role to a
   * backup, under the load and the other faults. A refusal is an answer too (another fault may have
   * taken the backup down); a switchover that says it is done must have installed a view the target leads.
   * Where a coordinator serves a Sentinel port, half of them are asked there instead, as `SENTINEL
   * FAILOVER` (the coordinator picks the backup; OK means under way, or done where a standby handed it
   * to the leader, so only the answer is recorded).
   */
  private planSwitchover(): PlannedFault | null {
    const backups = this.view?.backups ?? [];
    if (backups.length === 0) return null;
    const { cluster, problem } = this.context;
    const sentinels = cluster.sentinelAddresses();
    if (sentinels.length > 0 && this.random.chance(0.5)) {
      const sentinel = this.random.pick(sentinels);
      return this.switchoverFault('SENTINEL FAILOVER', 'SENTINEL FAILOVER understudy', async () => {
        const connection = await RedisPortClient.connect(sentinel, SWITCHOVER_DEADLINE_MS);
        try {
          const reply = await connection.command(
            ['SENTINEL', 'FAILOVER', 'understudy'],
            SWITCHOVER_DEADLINE_MS,
          );
          if (reply === 'OK') return 'under way';
          if (reply instanceof RedisReplyError) return `refused: ${reply.message}`;
          problem(`SENTINEL FAILOVER was answered ${JSON.stringify(reply)}, neither OK nor an error`);
          return `answered ${JSON.stringify(reply)}`;
        } finally {
          connection.close();
        }
      });
    }
    const target = this.random.pick(backups);
    return this.switchoverFault('to a backup', `switchover to ${target} (backup)`, async () => {
      const client = await Client.connect({
        coordinator: cluster.coordinatorAddress,
        deadlineMs: SWITCHOVER_DEADLINE_MS,
      });
      try {
        const reply = await client.switchover(target);
        if (reply.ok && reply.view?.primary !== target) {
          problem(
            `switchover to ${target} said done, but view ${reply.view?.number} is led by ${reply.view?.primary}`,
          );
        }
        return `${reply.ok ? 'done' : 'not done'}: ${reply.message}`;
      } finally {
        await client.close();
      }
    });
  }

  /** A switchover asked by `ask`, which answers its outcome; one that gets no answer is recorded so. */
  private switchoverFault(short: string, description: string, ask: () => Promise<string>): PlannedFault {
    return {
      reservation: {
        kind: 'switchover',
        down: [],
        process: null,
        losesDirectory: false,
        onCoordinator: false,
      },
      start: async () => {
        const fault = this.record('switchover', short, description, this.primary);
        const outcome = await ask().catch(
          (error: unknown) => `no answer: ${error instanceof Error ? error.message : String(error)}`,
        );
        return {
          record: fault,
          holdDescription: 'until it ends',
          hold: async () => {},
          heal: async () => outcome,
        };
      },
    };
  }

  // ---- an operator forgets a replica taken out of service -------------------------------------

  /**
   * kill -9 of a backup taken out of service for good, as an operator replacing its machine would:
   * once the coordinator took it out of the view, `understudy forget` (through the coordinator's
   * proxy) must forget it, and it must then be gone from the status; the same ask for the primary
   * must be refused. Then the replica starts again on its directory (the machine was not replaced
   * after all): heard as new, it must rejoin like any other. A coordinator restarted meanwhile (the
   * coordinator nemesis) no longer knows it: a refusal then is an answer, not a problem.
   */
  private planForget(): PlannedFault | null {
    const target = this.chooseTarget(
      this.freeReplicas().filter((id) => id !== this.primary),
      0,
    );
    if (target === null || this.role(target) !== 'backup') return null;
    const { cluster, monitor, checks, failureTimeoutMs } = this.context;
    return {
      reservation: oneReplica('forget', target, { kills: true }),
      start: async () => {
        const fault = this.record('forget', 'backup', `kill ${target} (backup) and forget it`, null);
        await cluster.killReplica(target);
        checks.forgets += 1;
        return {
          record: fault,
          holdDescription: 'until it is out of the view and forgotten',
          hold: async (signal) => {
            const out = await monitor.waitFor(
              () => monitor.view !== null && !membersOf(monitor.view).includes(replicaId(target)),
              FORGET_OUT_OF_VIEW_TIMEOUT_MS,
              signal,
            );
            if (!out) return;
            // Out of the view means silent for a failure timeout; a little more, for the clock's sake.
            await sleepUnlessAborted(failureTimeoutMs / 2, signal);
          },
          heal: async () => {
            const outcome = await this.forgetThenAskForThePrimary(target);
            await cluster.startReplica(target);
            return `${outcome}; restarted ${target}`;
          },
        };
      },
    };
  }

  /** Asks the coordinator to forget `target`, checks what it then lists, and asks for the primary's too. */
  private async forgetThenAskForThePrimary(target: string): Promise<string> {
    const { cluster, monitor, checks, problem } = this.context;
    const client = await Client.connect({
      coordinator: cluster.coordinatorAddress,
      deadlineMs: SWITCHOVER_DEADLINE_MS,
    });
    try {
      const inView = monitor.view !== null && membersOf(monitor.view).includes(replicaId(target));
      const reply = await client.forget(target);
      let outcome = `${reply.ok ? 'forgotten' : 'not forgotten'}: ${reply.message}`;
      if (reply.ok) {
        checks.forgotten += 1;
        const status = await client.status();
        if (status.replicas.some((replica) => replica.id === target)) {
          problem(`${target} was forgotten but the coordinator still lists it`);
        }
      } else if (!inView && !/not known|not acting|was heard/.test(reply.message)) {
        problem(`forgetting ${target}, out of the view and down, was refused: ${reply.message}`);
      }
      const seen = monitor.view;
      const primary = seen?.primary;
      if (primary !== undefined) {
        const asked = await client.forget(primary);
        const verdict = await judgePrimaryForget(primary, asked, async () => {
          const { view } = await client.status();
          return (
            view !== null &&
            view.number > (seen?.number ?? 0) &&
            !membersOf(view).includes(replicaId(primary))
          );
        });
        if (verdict === 'refused-as-primary') checks.forgetsOfPrimaryRefused += 1;
        else if (verdict === 'after-it-left') checks.forgetsOfPrimaryAfterItLeft += 1;
        else if (typeof verdict === 'object') problem(verdict.problem);
        outcome += `; forgetting ${primary} (primary): ${asked.ok ? 'done' : `refused: ${asked.message}`}`;
      }
      return outcome;
    } catch (error) {
      return `no answer: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      await client.close();
    }
  }

  // ---- choosing ------------------------------------------------------------------------------

  /** Replicas no other fault acts on or holds down, that may go down now. */
  private freeReplicas(): string[] {
    const { occupancy } = this;
    return this.replicaIds.filter(
      (id) =>
        !occupancy.processes.has(id) &&
        !occupancy.down.has(id) &&
        occupancy.mayTakeDown([id], this.replicaIds.length),
    );
  }

  /** The primary with `primaryProbability` when it is a candidate, otherwise another candidate. */
  private chooseTarget(candidates: readonly string[], primaryProbability: number): string | null {
    if (candidates.length === 0) return null;
    const others = candidates.filter((id) => id !== this.primary);
    const primaryFree = this.primary !== null && candidates.includes(this.primary);
    if (primaryFree && (others.length === 0 || this.random.chance(primaryProbability))) {
      return this.primary;
    }
    return this.random.pick(others);
  }

  /** The replica's role in the view the monitor saw when this planner began. */
  private role(id: string): string {
    return roleOf(this.view, id);
  }

  private record(
    kind: NemesisKind,
    variant: string,
    description: string,
    formerPrimary: string | null,
  ): FaultRecord {
    return {
      kind,
      variant,
      description: this.viewNumber === 0 ? description : `${description} in view ${this.viewNumber}`,
      startNs: this.context.clock(),
      endNs: null,
      formerPrimary,
      viewNumber: this.viewNumber,
    };
  }

  /** A fault on the coordinator's disk as the primary is killed (`what`: what is done to the disk). */
  private recordCoordinatorDiskFault(kind: NemesisKind, what: string, primary: string): FaultRecord {
    return this.record(
      kind,
      'coordinator, as the primary is killed',
      `${what} the coordinator's disk and kill ${primary} (primary)`,
      primary,
    );
  }

  private pastFailureTimeout(range: readonly [number, number]): [number, number] {
    return pastFailureTimeout(range, this.context.failureTimeoutMs);
  }

  /** The fault's former primary: the target, if it is the primary. */
  private ifPrimary(target: string): string | null {
    return target === this.primary ? target : null;
  }

  // ---- replica processes ---------------------------------------------------------------------

  private planProcessFault(kind: 'kill' | 'pause'): PlannedFault | null {
    const target = this.chooseTarget(this.freeReplicas(), PRIMARY_TARGET_PROBABILITY);
    if (target === null) return null;
    const { cluster } = this.context;
    const holdMs = this.random.integer(...this.pastFailureTimeout(kind === 'kill' ? KILL_DOWN_MS : PAUSE_MS));
    const role = this.role(target);
    const cutFirstMs =
      kind === 'kill' && target === this.primary && this.random.chance(CUT_BEFORE_KILL_PROBABILITY)
        ? this.random.integer(...CUT_BEFORE_KILL_MS)
        : null;
    const record = () =>
      cutFirstMs === null
        ? this.record(kind, role, `${kind} ${target} (${role})`, this.ifPrimary(target))
        : this.record(
            kind,
            `${role}, cut off from its backups first`,
            `cut ${target} (${role}) off from its backups for ${seconds(cutFirstMs)}, then kill it`,
            target,
          );
    return {
      reservation: oneReplica(kind, target, { kills: kind === 'kill' }),
      start: async () => {
        const fault = record();
        if (cutFirstMs !== null) await this.cutOffThenKill(target, cutFirstMs);
        else if (kind === 'kill') await cluster.killReplica(target);
        else cluster.replica(target).pause();
        return {
          record: fault,
          holdDescription: `for ${seconds(holdMs)}`,
          hold: (signal) => sleepUnlessAborted(holdMs, signal),
          heal: async () => {
            if (kind === 'pause') {
              cluster.replica(target).resume();
              return `resumed ${target}`;
            }
            await cluster.startReplica(target);
            return `restarted ${target}`;
          },
        };
      },
    };
  }

  /**
   * Freezes a replica's file system for longer than the failure timeout and thaws it. The process
   * keeps running until its next write or fsync, which then waits: a primary stops answering and
   * heartbeating in the middle of a batch, a backup in the middle of a Prepare.
   */
  private planDiskHang(): PlannedFault | null {
    const { cluster } = this.context;
    if (
      cluster.hasOwnDisk(COORDINATOR_NAME) &&
      !this.occupancy.coordinatorBusy &&
      this.random.chance(COORDINATOR_DISK_HANG_PROBABILITY)
    ) {
      return this.planCoordinatorDiskHang();
    }
    const target = this.chooseTarget(this.freeReplicas(), PRIMARY_TARGET_PROBABILITY);
    if (target === null) return null;
    const holdMs = this.random.integer(...this.pastFailureTimeout(DISK_HANG_MS));
    const role = this.role(target);
    return {
      reservation: oneReplica('disk-hang', target),
      start: async () => {
        const fault = this.record(
          'disk-hang',
          role,
          `freeze ${target}'s disk (${role})`,
          this.ifPrimary(target),
        );
        await cluster.freezeDisk(target);
        return {
          record: fault,
          holdDescription: `for ${seconds(holdMs)}`,
          hold: (signal) => sleepUnlessAborted(holdMs, signal),
          heal: async () => {
            await cluster.thawDisk(target);
            return `thawed ${target}'s disk`;
          },
        };
      },
    };
  }

  /**
   * Makes a replica's file system stutter (or, on the directory home, the coordinator's): frozen
   * for up to 0.4 s, answering for a moment, frozen again, for several seconds. Every write and
   * fsync may wait up to a freeze, as on a slow or overloaded disk, and the process lives on: a
   * primary's sync writes wait, a backup falls behind (the lag policy acts if it passes its bound),
   * a coordinator's saves wait. Nothing is down; nothing acknowledged may be lost. The heal says how
   * many freezes there were and the replica's role after them (a view change is allowed, not asked).
   */
  private planDiskSlow(): PlannedFault | null {
    const { cluster, monitor, checks } = this.context;
    const onCoordinator =
      cluster.hasOwnDisk(COORDINATOR_NAME) &&
      !this.occupancy.coordinatorBusy &&
      this.random.chance(COORDINATOR_DISK_SLOW_PROBABILITY);
    const candidates = this.replicaIds.filter(
      (id) => !this.occupancy.processes.has(id) && !this.occupancy.down.has(id),
    );
    const target = onCoordinator
      ? COORDINATOR_NAME
      : this.chooseTarget(candidates, PRIMARY_TARGET_PROBABILITY);
    if (target === null) return null;
    const holdMs = this.random.integer(...DISK_SLOW_MS);
    const freezeMaxMs = Math.round((this.context.failureTimeoutMs * 2) / 3);
    // Its own stream, drawn now: the stutter's draws happen while other faults are planned.
    const stutter = new Random(this.random.integer(0, 0xffff_ffff));
    const role = onCoordinator ? 'coordinator' : this.role(target);
    let freezes = 0;
    let longestFreezeMs = 0;
    return {
      reservation: {
        kind: 'disk-slow',
        down: [],
        process: target,
        losesDirectory: false,
        onCoordinator,
        kills: false,
      },
      start: async () => {
        const what = onCoordinator ? "the coordinator's disk" : `${target}'s disk (${role})`;
        const fault = this.record('disk-slow', role, `make ${what} stutter`, null);
        return {
          record: fault,
          holdDescription: `for ${seconds(holdMs)}`,
          hold: async (signal) => {
            const endMs = performance.now() + holdMs;
            while (!signal.aborted && performance.now() < endMs) {
              const freezeMs = Math.min(
                stutter.integer(DISK_SLOW_FREEZE_MIN_MS, freezeMaxMs),
                endMs - performance.now(),
              );
              await cluster.freezeDisk(target);
              freezes += 1;
              longestFreezeMs = Math.max(longestFreezeMs, freezeMs);
              await sleepUnlessAborted(freezeMs, signal);
              await cluster.thawDisk(target);
              await sleepUnlessAborted(stutter.integer(...DISK_SLOW_THAW_MS), signal);
            }
          },
          heal: async () => {
            await cluster.thawDisk(target);
            checks.diskStutters += 1;
            checks.diskStutterFreezes += freezes;
            const disk = onCoordinator ? "the coordinator's disk" : `${target}'s disk`;
            const steady = `${disk} answers steadily again after ${freezes} freezes of up to ${seconds(longestFreezeMs)}`;
            if (onCoordinator) return steady;
            const view = monitor.view;
            if (view === null) return `${steady}; no view known now`;
            const roleAfter = roleOf(view, target);
            if (roleAfter !== role) checks.diskStutterRoleChanges += 1;
            return `${steady}; ${target} is ${roleAfter} in view ${view.number}`;
          },
        };
      },
    };
  }

  /**
   * Fills a replica's file system for longer than the failure timeout: its next write that needs a
   * block fails with ENOSPC, and a replica must then stop (it cannot tell what reached the disk) and
   * say so in a fatal log line. A supervisor restarts a stopped server at once, so half the time it is
   * started again while the disk is still full: it may refuse to start or run until its next write,
   * but never damage what it holds. Then the space is freed and it restarts from its directory.
   */
  private planDiskFull(): PlannedFault | null {
    const { cluster } = this.context;
    if (
      cluster.hasOwnDisk(COORDINATOR_NAME) &&
      !this.occupancy.coordinatorBusy &&
      this.random.chance(COORDINATOR_DISK_FULL_PROBABILITY)
    ) {
      return this.planCoordinatorDiskFull();
    }
    if (this.random.chance(DISK_FULL_EVERY_REPLICA_PROBABILITY)) return this.planEveryDiskFull();
    const target = this.chooseTarget(this.freeReplicas(), PRIMARY_TARGET_PROBABILITY);
    if (target === null) return null;
    const holdMs = this.random.integer(...this.pastFailureTimeout(DISK_FULL_MS));
    const restartWhileFull = this.random.chance(DISK_FULL_RESTART_WHILE_FULL_PROBABILITY);
    const role = this.role(target);
    /** Where its log stood when the restart on the full disk began, if it ran. */
    let restartedFrom: number | null = null;
    return {
      reservation: oneReplica('disk-full', target, { kills: true }),
      start: async () => {
        const fault = this.record(
          'disk-full',
          restartWhileFull ? `${role}, restarted while full` : role,
          `fill ${target}'s disk (${role})`,
          this.ifPrimary(target),
        );
        const stops = this.diskFullWatch([target]);
        const bytes = await cluster.fillDisk(target);
        this.context.checks.disksFilled += 1;
        return {
          record: fault,
          holdDescription: `${megabytes(bytes)} taken, for ${seconds(holdMs)}`,
          hold: async (signal) => {
            await sleepUnlessAborted(holdMs / 2, signal);
            if (restartWhileFull && !signal.aborted) restartedFrom = await this.restartWhileFull(target);
            await sleepUnlessAborted(holdMs / 2, signal);
          },
          heal: async () => {
            await cluster.freeDisk(target);
            if (restartedFrom !== null) await this.stoppedAgainOnTheFullDisk(target, restartedFrom);
            const said = stops();
            if (cluster.replica(target).state !== 'stopped') return `freed ${target}'s disk; ${said}`;
            await cluster.startReplica(target);
            return `freed ${target}'s disk; ${said}; restarted it`;
          },
        };
      },
    };
  }

  /**
   * Every replica's disk full at once, as when identical replicas outgrow identical disks together:
   * outside the fault model's N − 1 (all stop), like a total crash, and for the same reason nothing
   * acknowledged may be lost: each replica stops at a write it could not make, and its disk keeps
   * every one it made. Only from a steady whole view, with no other fault in progress.
   */
  private planEveryDiskFull(): PlannedFault | null {
    const { cluster, monitor } = this.context;
    if (!this.occupancy.empty || this.primary === null) return null;
    if (!monitor.isWholeNow(this.replicaIds, WHOLE_VIEW_FRESH_MS)) return null;
    if (monitor.viewHeldMs < TOTAL_CRASH_STEADY_VIEW_MS) return null;
    const holdMs = this.random.integer(...this.pastFailureTimeout(DISK_FULL_MS));
    const ids = this.replicaIds;
    return {
      reservation: {
        kind: 'disk-full',
        down: [...ids],
        process: null,
        losesDirectory: false,
        onCoordinator: false,
        kills: true,
        exclusive: true,
      },
      start: async () => {
        const fault = this.record(
          'disk-full',
          'every replica',
          `fill every replica's disk (${ids.join(', ')}; ${this.primary} primary)`,
          null,
        );
        const stops = this.diskFullWatch(ids);
        let bytes = 0;
        for (const id of ids) bytes += await cluster.fillDisk(id);
        this.context.checks.disksFilled += ids.length;
        return {
          record: fault,
          holdDescription: `${megabytes(bytes)} taken, for ${seconds(holdMs)}`,
          hold: (signal) => sleepUnlessAborted(holdMs, signal),
          heal: async () => {
            for (const id of ids) await cluster.freeDisk(id);
            const said = stops();
            const stopped = ids.filter((id) => cluster.replica(id).state === 'stopped');
            await Promise.all(stopped.map((id) => cluster.startReplica(id)));
            return `freed every disk; ${said}${stopped.length === 0 ? '' : `; restarted ${stopped.join(', ')}`}`;
          },
        };
      },
    };
  }

  /**
   * Fills the coordinator's file system and kills the primary: the failover's view cannot be stored,
   * and a coordinator must then stop rather than tell a view it has not stored. Restarted once the
   * space is free, it goes on from the state it stored (views never go back) and answers a status.
   */
  private planCoordinatorDiskFull(): PlannedFault | null {
    const { primary } = this;
    if (primary === null || !this.freeReplicas().includes(primary)) return null;
    const { cluster, monitor, problem, checks } = this.context;
    const holdMs = this.random.integer(...this.pastFailureTimeout(DISK_FULL_MS));
    return {
      reservation: coordinatorDiskFault('disk-full', primary),
      start: async () => {
        const fault = this.recordCoordinatorDiskFault('disk-full', 'fill', primary);
        const stops = this.diskFullWatch([COORDINATOR_NAME]);
        const bytes = await cluster.fillDisk(COORDINATOR_NAME);
        checks.disksFilled += 1;
        await cluster.killReplica(primary);
        return {
          record: fault,
          holdDescription: `${megabytes(bytes)} taken, for ${seconds(holdMs)}`,
          hold: (signal) => sleepUnlessAborted(holdMs, signal),
          heal: async (signal) => {
            await cluster.freeDisk(COORDINATOR_NAME);
            const said = stops();
            let restarted = '';
            if (cluster.coordinator.state === 'stopped') {
              await cluster.startCoordinator({ recover: false });
              restarted = '; restarted the coordinator';
            }
            const answered = await monitor.waitFor(() => true, COORDINATOR_STATUS_TIMEOUT_MS, signal);
            if (!answered && !signal.aborted) {
              problem(
                `the coordinator answered no status within ${seconds(COORDINATOR_STATUS_TIMEOUT_MS)} once its disk had room again`,
              );
            }
            await cluster.startReplica(primary);
            return `freed the coordinator's disk; ${said}${restarted}; restarted ${primary}`;
          },
        };
      },
    };
  }

  /**
   * Notes where each of `names`' logs ends now; the returned function (called at the heal) counts
   * those that stopped since, each of which must have said why in a fatal line naming ENOSPC, and
   * the snapshot writes that failed on ENOSPC while their replica served on (a warning each), and
   * the snapshots not tried for want of room (free-space.ts).
   */
  private diskFullWatch(names: readonly string[]): () => string {
    const { cluster, checks, problem } = this.context;
    const server = (name: string) =>
      name === COORDINATOR_NAME ? cluster.coordinator : cluster.replica(name);
    const from = new Map(names.map((name) => [name, logSize(server(name).logPath)]));
    return () => {
      const stopped: string[] = [];
      let snapshotFailures = 0;
      let notTried = 0;
      for (const name of names) {
        const lines = readReplicaLog(server(name).logPath, from.get(name));
        notTried += lines.filter(
          (line) => line.fields.level === 'warn' && String(line.fields.error).startsWith(noRoomMessageStart),
        ).length;
        snapshotFailures += lines.filter(
          (line) => namesNoSpace(line, 'warn') && line.message === replicaLogMessages.snapshotWriteFailed,
        ).length;
        const fatal = lines.some((line) => namesNoSpace(line, 'fatal'));
        if (fatal) {
          checks.diskFullStops += 1;
          stopped.push(name);
        } else if (server(name).state === 'stopped') {
          problem(`${name} stopped while its disk was full without a fatal log line naming ${NO_SPACE}`);
        }
      }
      checks.diskFullSnapshotFailures += snapshotFailures;
      checks.diskFullSnapshotsNotTried += notTried;
      const served =
        (snapshotFailures === 0 ? '' : `; ${snapshotFailures} snapshot writes failed, served on`) +
        (notTried === 0 ? '' : `; ${notTried} snapshots not tried for want of room`);
      return stopped.length === 0
        ? `none stopped on it${served}`
        : `${stopped.join(', ')} stopped on ${NO_SPACE}, saying so${served}`;
    };
  }

  /**
   * A supervisor's restart of `target`, stopped by its full disk, while the disk is still full;
   * where its log stood as it began, if the restart ran.
   */
  private async restartWhileFull(target: string): Promise<number | null> {
    const { cluster, checks, log } = this.context;
    if (cluster.replica(target).state !== 'stopped') return null;
    checks.diskFullRestarts += 1;
    const from = logSize(cluster.replica(target).logPath);
    try {
      await cluster.startReplica(target);
      checks.diskFullRestartsRan += 1;
      log(`chaos: +${seconds(this.context.clock() / 1e6)} ${target} started again on its full disk`);
      return from;
    } catch (error) {
      log(
        `chaos: +${seconds(this.context.clock() / 1e6)} ${target} did not start on its full disk: ${String(error)}`,
      );
      return null;
    }
  }

  /**
   * Once the disk is freed: a process restarted on the full disk may have stopped on it too, and be
   * on its way out (a write in flight as the space came back), though it still counts as running; the
   * heal restarts only a stopped one, so it waits for that exit (seed 20262293: r2 left down for the
   * rest of the run). A process that said it stops and does not is a problem.
   */
  private async stoppedAgainOnTheFullDisk(target: string, from: number): Promise<void> {
    const { cluster, problem } = this.context;
    const replica = cluster.replica(target);
    await sleepUnlessAborted(DISK_FULL_LAST_WRITE_MS);
    const stopping = readReplicaLog(replica.logPath, from).some((line) => namesNoSpace(line, 'fatal'));
    if (!stopping) return;
    const endMs = performance.now() + DISK_FULL_EXIT_WAIT_MS;
    while (replica.state !== 'stopped' && performance.now() < endMs) await sleepUnlessAborted(50);
    if (replica.state !== 'stopped') {
      problem(
        `${target} said it stops on ${NO_SPACE} and still ran ${seconds(DISK_FULL_EXIT_WAIT_MS)} later`,
      );
    }
  }

  /**
   * Freezes the coordinator's file system and kills the primary: the new view of the failover waits
   * in the coordinator's state write, which it makes durable before it tells anyone, so the
   * coordinator stops in the middle of a view change (no heartbeat answered, no lease renewed, no
   * status) until the thaw. Then it must go on from there; the old primary restarts after it.
   */
  private planCoordinatorDiskHang(): PlannedFault | null {
    const { primary } = this;
    if (primary === null || !this.freeReplicas().includes(primary)) return null;
    const { cluster, monitor, problem } = this.context;
    const holdMs = this.random.integer(...this.pastFailureTimeout(DISK_HANG_MS));
    return {
      reservation: coordinatorDiskFault('disk-hang', primary),
      start: async () => {
        const fault = this.recordCoordinatorDiskFault('disk-hang', 'freeze', primary);
        await cluster.freezeDisk(COORDINATOR_NAME);
        let lastAnswerMs = performance.now();
        let longestSilenceMs = 0;
        const stopObserving = monitor.observe(() => {
          const nowMs = performance.now();
          longestSilenceMs = Math.max(longestSilenceMs, nowMs - lastAnswerMs);
          lastAnswerMs = nowMs;
        });
        await cluster.killReplica(primary);
        return {
          record: fault,
          holdDescription: `for ${seconds(holdMs)}`,
          hold: (signal) => sleepUnlessAborted(holdMs, signal),
          heal: async (signal) => {
            await cluster.thawDisk(COORDINATOR_NAME);
            const thawedAtMs = performance.now();
            let answered: boolean;
            try {
              answered = await monitor.waitFor(
                () => lastAnswerMs > thawedAtMs,
                COORDINATOR_STATUS_TIMEOUT_MS,
                signal,
              );
            } finally {
              stopObserving();
            }
            if (!answered && !signal.aborted) {
              problem(
                `the coordinator answered no status within ${seconds(COORDINATOR_STATUS_TIMEOUT_MS)} of its disk's thaw`,
              );
            }
            await cluster.startReplica(primary);
            return `thawed the coordinator's disk (its status went unanswered for up to ${seconds(longestSilenceMs)}) and restarted ${primary}`;
          },
        };
      },
    };
  }

  /**
   * Cuts `target` off from every other replica, both ways, for `cutMs`, kills it, and heals the cut
   * (the others must reach each other and their new primary).
   */
  private async cutOffThenKill(target: string, cutMs: number): Promise<void> {
    const { cluster, network } = this.context;
    const others = this.replicaIds.filter((id) => id !== target);
    const handle = network.add({
      blocked: others.flatMap((other): DirectedPair[] => [
        [target, other],
        [other, target],
      ]),
    });
    try {
      await sleepUnlessAborted(cutMs);
      await cluster.killReplica(target);
    } finally {
      network.remove(handle);
    }
  }

  private planPausePartition(): PlannedFault | null {
    const target = this.chooseTarget(this.freeReplicas(), PRIMARY_TARGET_PROBABILITY);
    if (target === null) return null;
    const { cluster, network, log } = this.context;
    const stoppedMs = this.random.integer(...this.pastFailureTimeout(PAUSE_PARTITION_STOPPED_MS));
    const afterResumeMs = this.random.integer(...PAUSE_PARTITION_CUT_AFTER_RESUME_MS);
    const way = this.random.pick(linkWays);
    // Both ways: its connection to the coordinator is cut and redials refused. One way: the link
    // stays up and carries messages the other way only.
    const cut: NetworkFault =
      way === 'both ways'
        ? { blocked: cluster.coordinatorNames.map((coordinator): DirectedPair => [target, coordinator]) }
        : { oneWay: coordinatorLinkCuts(target, way, cluster.coordinatorNames) };
    const role = this.role(target);
    const record = () =>
      this.record(
        'pause-partition',
        `${role}, ${way}`,
        `pause ${target} (${role}) and cut ${describeLink(target, way)}`,
        this.ifPrimary(target),
      );
    return {
      reservation: oneReplica('pause-partition', target),
      start: async () => {
        const fault = record();
        cluster.replica(target).pause();
        const handle = network.add(cut);
        return {
          record: fault,
          holdDescription: `stopped for ${seconds(stoppedMs)}, then cut off for ${seconds(afterResumeMs)} more`,
          hold: async (signal) => {
            await sleepUnlessAborted(stoppedMs, signal);
            if (signal.aborted) return;
            // Its sockets hold what clients sent meanwhile; it reads them before its timers fire.
            cluster.replica(target).resume();
            log(
              `chaos: +${seconds(this.context.clock() / 1e6)} resumed ${target}; ${describeLink(target, way)} still cut`,
            );
            await sleepUnlessAborted(afterResumeMs, signal);
          },
          heal: async () => {
            cluster.replica(target).resume();
            network.remove(handle);
            return `resumed ${target} and healed its link to the coordinator`;
          },
        };
      },
    };
  }

  private planWipe(): PlannedFault | null {
    const { occupancy, context } = this;
    const { cluster, monitor, checks } = context;
    if (occupancy.directoryLost || occupancy.killActive) return null;
    if (!monitor.isWholeNow(this.replicaIds, WHOLE_VIEW_FRESH_MS)) return null;
    const target = this.chooseTarget(this.freeReplicas(), WIPE_PRIMARY_PROBABILITY);
    if (target === null) return null;
    const how: DirectoryLoss = this.random.chance(0.5) ? 'deleted' : 'emptied';
    const atOnce = this.random.chance(WIPE_RESTART_AT_ONCE_PROBABILITY);
    const downMs = atOnce ? 0 : this.random.integer(...this.pastFailureTimeout(WIPE_DOWN_MS));
    const role = this.role(target);
    const when = atOnce ? 'at once' : 'later';
    const record = () =>
      this.record(
        'wipe',
        `${how}, restarted ${when}`,
        `wipe ${target} (${role}, directory ${how})`,
        this.ifPrimary(target),
      );
    const viewNumber = this.viewNumber;
    return {
      reservation: oneReplica('wipe', target, { losesDirectory: true }),
      start: async () => {
        const fault = record();
        await cluster.killReplica(target);
        const killedAtMs = performance.now();
        cluster.loseDirectory(target, how);
        checks.wipes += 1;
        return {
          record: fault,
          holdDescription: atOnce ? 'restarted at once' : `down for ${seconds(downMs)}`,
          hold: (signal) => sleepUnlessAborted(downMs, signal),
          heal: async (signal) => {
            await cluster.startReplica(target);
            const restarted = `restarted ${target} ${seconds(performance.now() - killedAtMs)} after the kill`;
            const back = await this.waitForRejoin(target, 'wiped', viewNumber, true, signal);
            if (back === null) return restarted;
            if (back.demoted) checks.wipesRejoined += 1;
            return `${restarted}; ${back.description}`;
          },
        };
      },
    };
  }

  /**
   * Waits until `target`, restarted, is primary or backup again. With a new directory identity it
   * must have left the primary and backups on the way: back in fewer than two new views after
   * `viewNumber` means the coordinator kept a replica that lost data as if it held everything.
   * Null (and a problem, unless aborted) if it is not back within WIPE_REJOIN_TIMEOUT_MS.
   */
  private async waitForRejoin(
    target: string,
    what: string,
    viewNumber: number,
    newIdentity: boolean,
    signal: AbortSignal,
  ): Promise<{ readonly demoted: boolean; readonly description: string } | null> {
    const { monitor, problem } = this.context;
    const settleMs = WIPE_IDENTITY_SETTLE_MS + this.context.failureTimeoutMs - DEFAULT_FAILURE_TIMEOUT_MS;
    await sleepUnlessAborted(settleMs, signal);
    // With a new identity, only a view formed after the wipe counts: the one it was wiped in still
    // names it, and a coordinator that starts to lead meanwhile (on etcd) shows that stored view
    // until it has heard the new directory and waited out the old primary's lease.
    // A replica of the older build (the upgrade nemesis) is kept out once the level rose without it.
    const keptOut = () => this.context.upgrade?.keptOut(target) === true;
    const back = await monitor.waitFor(
      () =>
        keptOut() ||
        (monitor.isMember(target) &&
          monitor.isAlive(target) &&
          (!newIdentity || (monitor.view?.number ?? 0) > viewNumber)),
      WIPE_REJOIN_TIMEOUT_MS,
      signal,
    );
    if (back && keptOut()) {
      return {
        demoted: false,
        description: `kept out: it reads format level ${monitor.replica(target)?.formatLevel} and the cluster logs ${monitor.status?.formatLevel} (until its upgrade)`,
      };
    }
    if (!back) {
      if (!signal.aborted) {
        problem(
          `${what} ${target} was not primary or backup again within ${seconds(WIPE_REJOIN_TIMEOUT_MS)}`,
        );
      }
      return null;
    }
    const rejoined = monitor.view?.number ?? 0;
    const role = monitor.view?.primary === target ? 'primary' : 'a backup';
    const demoted = rejoined >= viewNumber + 2;
    if (newIdentity && !demoted) {
      problem(
        `${what} ${target} is ${role} in view ${rejoined} without having been a learner since view ${viewNumber}`,
      );
    }
    return { demoted, description: `${role} again in view ${rejoined}` };
  }

  private planCorrupt(): PlannedFault | null {
    const { occupancy, context } = this;
    const { cluster, monitor, problem, checks } = context;
    if (occupancy.directoryLost || occupancy.killActive) return null;
    if (!monitor.isWholeNow(this.replicaIds, WHOLE_VIEW_FRESH_MS)) return null;
    const target = this.chooseTarget(this.freeReplicas(), CORRUPT_PRIMARY_PROBABILITY);
    if (target === null) return null;
    const wanted: DamageKind = this.random.chance(CORRUPT_LOG_RECORD_PROBABILITY) ? 'log record' : 'snapshot';
    const damageRandom = new Random(this.random.nextUint32());
    const role = this.role(target);
    const viewNumber = this.viewNumber;
    return {
      reservation: oneReplica('corrupt', target, { losesDirectory: true }),
      start: async () => {
        const startNs = this.context.clock();
        const logFile = cluster.replica(target).logPath;
        await cluster.killReplica(target);
        const damage = damageDirectory(cluster.dataDirectory(target), wanted, damageRandom);
        if (damage?.kind === 'log record') checks.corruptedLogRecords += 1;
        if (damage?.kind === 'snapshot') checks.corruptedSnapshots += 1;
        const fault: FaultRecord = {
          ...this.record(
            'corrupt',
            damage?.kind ?? 'nothing to damage',
            `corrupt ${target} (${role}): ${damage?.description ?? 'no synced log record or snapshot to damage'}`,
            this.ifPrimary(target),
          ),
          startNs,
        };
        const logFrom = logSize(logFile);
        await cluster.startReplica(target);
        return {
          record: fault,
          holdDescription: 'restarted at once',
          hold: async () => {},
          heal: async (signal) => {
            // What it said at its start: the damage must not go unnoticed.
            const said = readReplicaLog(logFile, logFrom).map((line) => line.message);
            const repaired = said.includes(replicaLogMessages.repaired);
            const setAside = said.includes(replicaLogMessages.snapshotSetAside);
            if (repaired) checks.corruptionsRepaired += 1;
            else if (setAside) checks.corruptionsSetAside += 1;
            if (damage?.kind === 'log record' && !repaired) {
              problem(
                `${target} restarted after ${damage.description} without "${replicaLogMessages.repaired}"`,
              );
            }
            if (damage?.kind === 'snapshot' && !repaired && !setAside) {
              problem(`${target} restarted after ${damage.description} and noticed nothing`);
            }
            const back = await this.waitForRejoin(target, 'corrupted', viewNumber, repaired, signal);
            const found = repaired
              ? 'repaired with a new identity'
              : setAside
                ? 'set the snapshot aside'
                : 'found nothing';
            if (back === null) return `${target} ${found}`;
            if (!repaired || back.demoted) checks.corruptionsRejoined += 1;
            return `${target} ${found}; ${back.description}`;
          },
        };
      },
    };
  }

  /**
   * A replica's snapshot writes fail for a while, as on a disk nearly full or failing where its log
   * still has room: a directory stands where the snapshot's file goes, so opening it fails (EISDIR).
   * The replica must serve on (nothing relied on the snapshot), warn of each failure, and once the
   * writes succeed again keep a snapshot as far as the last one it failed to write.
   */
  private planSnapshotFail(): PlannedFault | null {
    const { cluster, problem, checks } = this.context;
    const target = this.chooseTarget(this.freeReplicas(), PRIMARY_TARGET_PROBABILITY);
    if (target === null) return null;
    const holdMs = this.random.integer(...SNAPSHOT_FAIL_MS);
    const role = this.role(target);
    return {
      reservation: {
        kind: 'snapshot-fail',
        down: [],
        process: target,
        losesDirectory: false,
        onCoordinator: false,
      },
      start: async () => {
        // No failover is expected: the replica serves on. (Naming it the former primary timed the
        // next change of primary, whatever its cause, as this fault's failover: 15 s in seed 20262230.)
        const fault = this.record(
          'snapshot-fail',
          role,
          `make ${target}'s snapshot writes fail (${role})`,
          null,
        );
        const logFile = cluster.replica(target).logPath;
        const logFrom = logSize(logFile);
        const snapshots = join(cluster.dataDirectory(target), snapshotDirectoryName);
        const blocked = await blockSnapshotWrites(snapshots);
        return {
          record: fault,
          holdDescription: blocked
            ? `for ${seconds(holdMs)}`
            : 'not placed: a snapshot was being written throughout',
          hold: (signal) => sleepUnlessAborted(holdMs, signal),
          heal: async (signal) => {
            if (blocked) await rm(join(snapshots, temporaryFileName), { recursive: true, force: true });
            const failedAt = readReplicaLog(logFile, logFrom)
              .filter((line) => line.message === replicaLogMessages.snapshotWriteFailed)
              .map((line) => Number(line.fields.index));
            checks.snapshotWritesFailed += failedAt.length;
            if (cluster.replica(target).state === 'stopped') {
              problem(`${target} stopped while its snapshot writes failed`);
              return `${target} stopped`;
            }
            const last = Math.max(0, ...failedAt);
            if (failedAt.length === 0)
              return `${target}'s writes succeed again; it tried no snapshot meanwhile`;
            const keptIndex = () => newestKeptSnapshot(snapshots)?.index ?? 0;
            const deadline = Date.now() + SNAPSHOT_RESUME_MS;
            while (keptIndex() < last && Date.now() < deadline && !signal.aborted) {
              await sleepUnlessAborted(VIEW_POLL_INTERVAL_MS, signal);
            }
            if (keptIndex() < last && !signal.aborted) {
              problem(
                `${target} kept no snapshot as far as index ${last}, the last it failed to write, within ${seconds(SNAPSHOT_RESUME_MS)} of its writes succeeding again`,
              );
              return `${target} failed ${failedAt.length} snapshot writes and kept none after`;
            }
            checks.snapshotWritesResumed += 1;
            return `${target} failed ${failedAt.length} snapshot writes, served on, and kept one as far as ${last}`;
          },
        };
      },
    };
  }

  private planTransferKill(): PlannedFault | null {
    const { occupancy, context } = this;
    const { cluster, monitor, problem, checks, log } = context;
    if (occupancy.directoryLost || occupancy.killActive) return null;
    if (!monitor.isWholeNow(this.replicaIds, WHOLE_VIEW_FRESH_MS)) return null;
    const backups = this.freeReplicas().filter((id) => id !== this.primary);
    if (backups.length === 0) return null;
    const target = this.random.pick(backups);
    const how: DirectoryLoss = this.random.chance(0.5) ? 'deleted' : 'emptied';
    const downMs = this.random.integer(...TRANSFER_KILL_DOWN_MS);
    const role = this.role(target);
    const viewNumber = this.viewNumber;
    const record = () =>
      this.record(
        'transfer-kill',
        `directory ${how}`,
        `transfer-kill ${target} (${role}, directory ${how}; killed again while receiving the snapshot)`,
        null,
      );
    return {
      reservation: oneReplica('transfer-kill', target, { losesDirectory: true }),
      start: async () => {
        const fault = record();
        const logFile = cluster.replica(target).logPath;
        await cluster.killReplica(target);
        cluster.loseDirectory(target, how);
        checks.transferKills += 1;
        await cluster.startReplica(target);
        /** The transfer in progress when it was killed again; null if it was not. */
        let killedDuring: TransferProgress | null = null;
        let logFrom = 0;
        const resumable = (transfer: TransferProgress | null): TransferProgress | null =>
          transfer !== null &&
          transfer.receivedBytes >= transferChunkBytes &&
          transfer.receivedBytes < transfer.snapshot.sizeBytes
            ? transfer
            : null;
        // As the coordinator's status reports it, or as the learner's own files show it: on a loaded
        // machine the status can come too late for a transfer of a second or two (a CI run's
        // transfer-kill saw neither of its two transfers under way).
        const onDisk = (): TransferProgress | null => {
          const found = transferInDirectory(join(cluster.dataDirectory(target), snapshotDirectoryName));
          return found === null
            ? null
            : { snapshot: found.info, receivedBytes: found.receivedBytes, bytesPerSecond: 0 };
        };
        const midway = (): TransferProgress | null =>
          resumable(monitor.replica(target)?.transfer ?? null) ?? resumable(onDisk());
        return {
          record: fault,
          holdDescription: `until its transfer holds a whole chunk, then down for ${seconds(downMs)}`,
          hold: async (signal) => {
            // Or until it is back without one (a member again in a view that demoted it first).
            // Checked every TRANSFER_KILL_POLL_MS, not only at each status: the files change between.
            const seen = await monitor.waitFor(
              () =>
                midway() !== null ||
                (monitor.isMember(target) && (monitor.view?.number ?? 0) >= viewNumber + 2) ||
                this.context.upgrade?.keptOut(target) === true,
              TRANSFER_KILL_WAIT_MS,
              signal,
              TRANSFER_KILL_POLL_MS,
            );
            const transfer = midway();
            if (signal.aborted) return;
            if (!seen || transfer === null) {
              log(
                `chaos: +${seconds(this.context.clock() / 1e6)} ${target}: no transfer seen under way; not killed again`,
              );
              return;
            }
            await cluster.killReplica(target);
            killedDuring = transfer;
            logFrom = logSize(logFile);
            checks.transferKillsMidway += 1;
            log(
              `chaos: +${seconds(this.context.clock() / 1e6)} killed ${target} holding ${transfer.receivedBytes} of ` +
                `${transfer.snapshot.sizeBytes} bytes of snapshot ${transfer.snapshot.position.index}`,
            );
            await sleepUnlessAborted(downMs, signal);
          },
          heal: async (signal) => {
            if (cluster.replica(target).state === 'stopped') await cluster.startReplica(target);
            const back = await this.waitForRejoin(target, 'wiped', viewNumber, true, signal);
            if (back?.demoted === true) checks.transferKillsRejoined += 1;
            const killed: TransferProgress | null = killedDuring;
            if (killed === null)
              return `${target} ${back?.description ?? 'not back'}; not killed mid-transfer`;
            // Its first transfer after the restart: the same snapshot must go on from what it held.
            const first = transferStarts(readReplicaLog(logFile, logFrom))[0];
            const same =
              first !== undefined &&
              first.index === killed.snapshot.position.index &&
              first.bytes === killed.snapshot.sizeBytes;
            let outcome: string;
            if (first === undefined) outcome = 'no transfer after the restart';
            else if (!same) {
              checks.transferKillsNewerSnapshot += 1;
              outcome = `offered snapshot ${first.index} instead of ${killed.snapshot.position.index}: began anew`;
            } else if (first.resumingAt > 0) {
              checks.transferKillsResumed += 1;
              outcome = `resumed at byte ${first.resumingAt} of ${first.bytes}`;
            } else {
              outcome = 'started snapshot over';
              problem(
                `${target} held ${killed.receivedBytes} bytes of snapshot ${first.index} when killed, but ` +
                  'after its restart received it again from byte 0',
              );
            }
            return `${target} ${outcome}; ${back?.description ?? 'not back'}`;
          },
        };
      },
    };
  }

  // ---- a rolling upgrade -----------------------------------------------------------------------

  /**
   * While a replica still runs the older build (held at format level 1), upgrades one; once none
   * does, rolls a backup back to it, which the coordinator must keep out (format-upgrade.ts).
   */
  private planUpgrade(): PlannedFault | null {
    const watch = this.context.upgrade;
    if (watch === undefined) return null;
    const older = watch.olderBuildReplicas;
    return older.length > 0 ? this.planUpgradeOfOne(watch, older) : this.planRefusedRollback(watch);
  }

  /**
   * kill -9 of a replica of the older build and a start at this build's level on the same directory:
   * one step of a rolling upgrade. One the coordinator keeps out (the level rose without it) goes
   * first: it cannot rejoin until then. It must be primary or backup again.
   */
  private planUpgradeOfOne(watch: UpgradeWatch, older: readonly string[]): PlannedFault | null {
    if (this.occupancy.directoryLost) return null;
    const free = this.freeReplicas();
    const candidates = older.filter((id) => free.includes(id));
    const keptOut = candidates.filter((id) => watch.keptOut(id));
    const target =
      keptOut.length > 0
        ? this.random.pick(keptOut)
        : this.chooseTarget(candidates, UPGRADE_PRIMARY_PROBABILITY);
    if (target === null) return null;
    const downMs = this.random.integer(...UPGRADE_DOWN_MS);
    const { cluster } = this.context;
    const wasKeptOut = keptOut.includes(target);
    const role = wasKeptOut ? 'kept out for its format level' : this.role(target);
    const viewNumber = this.viewNumber;
    return {
      reservation: oneReplica('upgrade', target, { kills: true }),
      start: async () => {
        const fault = this.record(
          'upgrade',
          role,
          `upgrade ${target} (${role}): kill -9, start it at this build's format level`,
          this.ifPrimary(target),
        );
        await cluster.killReplica(target);
        return {
          record: fault,
          holdDescription: `down for ${seconds(downMs)}`,
          hold: (signal) => sleepUnlessAborted(downMs, signal),
          heal: async (signal) => {
            watch.unpin(target);
            await cluster.startReplica(target);
            watch.counts.upgrades += 1;
            if (wasKeptOut) watch.counts.upgradesOfKeptOut += 1;
            const left = watch.olderBuildReplicas.length;
            const upgraded = `started ${target} at this build's format level (${left === 0 ? 'none' : left} left at the older build's)`;
            const back = await this.waitForRejoin(target, 'upgraded', viewNumber, false, signal);
            return back === null ? upgraded : `${upgraded}; ${back.description}`;
          },
        };
      },
    };
  }

  /**
   * Once every replica runs this build and the cluster logs level 2: a backup rolled back to the
   * older build, as an operator would (its directory wiped, since the older build cannot read what
   * it holds). The coordinator must keep it out, alive, never sending it what it cannot read; started
   * again at this build's level, it must rejoin as a new member.
   */
  private planRefusedRollback(watch: UpgradeWatch): PlannedFault | null {
    const { occupancy, context } = this;
    const { cluster, monitor, problem, log } = context;
    if (occupancy.directoryLost || occupancy.killActive) return null;
    if (!monitor.isWholeNow(this.replicaIds, WHOLE_VIEW_FRESH_MS)) return null;
    // Refused only once the level rose: until then it would be let in, at level 1.
    if ((monitor.status?.formatLevel ?? 0) < FORMAT_LEVEL) return null;
    const backups = this.freeReplicas().filter((id) => this.view?.backups.includes(replicaId(id)) === true);
    if (backups.length === 0) return null;
    const target = this.random.pick(backups);
    const how: DirectoryLoss = this.random.chance(0.5) ? 'deleted' : 'emptied';
    const atOnce = this.random.chance(ROLLBACK_RESTART_AT_ONCE_PROBABILITY);
    const downMs = atOnce ? 0 : this.random.integer(...this.pastFailureTimeout(WIPE_DOWN_MS));
    const heldMs = this.random.integer(...ROLLBACK_HELD_MS);
    const viewNumber = this.viewNumber;
    const when = atOnce ? 'at once' : 'later';
    /** Whether its process at level 1 started, and whether the wait for its refusal ran out. */
    let started = false;
    let refusalTimedOut = false;
    /** The end of the run stopped its hold before the coordinator was seen to keep it out. */
    let cutShort = false;
    const startHeld = async (): Promise<void> => {
      try {
        await cluster.startReplica(target);
        started = true;
      } catch (error) {
        problem(
          `${target}, rolled back to format level 1 on a wiped directory, did not start: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    };
    return {
      reservation: oneReplica('upgrade', target, { losesDirectory: true, kills: true }),
      start: async () => {
        const fault = this.record(
          'upgrade',
          `${ROLLBACK_VARIANT}, started ${when}`,
          `roll ${target} (backup) back to format level 1: kill -9, directory ${how}, start it at level 1`,
          null,
        );
        await cluster.killReplica(target);
        cluster.loseDirectory(target, how);
        watch.pinForRollback(target);
        if (atOnce) await startHeld();
        return {
          record: fault,
          holdDescription: `${atOnce ? 'started at once' : `down for ${seconds(downMs)}`}; until kept out, then ${seconds(heldMs)} more`,
          hold: async (signal) => {
            await sleepUnlessAborted(downMs, signal);
            if (!signal.aborted && !atOnce) await startHeld();
            if (!started) {
              cutShort = signal.aborted;
              return;
            }
            const refused = await monitor.waitFor(
              () => watch.refused(target),
              ROLLBACK_REFUSAL_TIMEOUT_MS,
              signal,
            );
            if (!refused && signal.aborted) {
              cutShort = true;
              return;
            }
            if (!refused) {
              refusalTimedOut = true;
              return;
            }
            log(
              `chaos: +${seconds(this.context.clock() / 1e6)} ${target} at format level 1 is kept out: ${monitor.replica(target)?.problem ?? ''}`,
            );
            await sleepUnlessAborted(heldMs, signal);
          },
          heal: async (signal) => {
            const stoppedMeanwhile = started && cluster.replica(target).state === 'stopped';
            await cluster.killReplica(target);
            const found = watch.refused(target);
            const logged = watch.unpin(target);
            if (found) watch.counts.rollbacksRefused += 1;
            else if (cutShort) watch.counts.rollbacksCutShort += 1;
            if (stoppedMeanwhile && logged.length === 0) {
              problem(`${target}, rolled back to format level 1, stopped while it had to wait, kept out`);
            }
            if (refusalTimedOut && !found) {
              problem(
                `${target}, rolled back to format level 1, was not reported kept out for its format level within ${seconds(ROLLBACK_REFUSAL_TIMEOUT_MS)}`,
              );
            }
            await cluster.startReplica(target);
            const outcome = `${found ? 'kept out' : 'not seen kept out'}; started ${target} at this build's format level`;
            const back = await this.waitForRejoin(target, 'rolled-back', viewNumber, true, signal);
            return back === null ? outcome : `${outcome}; ${back.description}`;
          },
        };
      },
    };
  }

  // ---- network -------------------------------------------------------------------------------

  private planPartition(): PlannedFault | null {
    const { primary, occupancy } = this;
    const isolate = primary !== null && occupancy.mayTakeDown([primary], this.replicaIds.length);
    const variants = isolate ? [0, 1, 2] : [1, 2];
    const variant = this.random.pick(variants);
    const holdMs = this.random.integer(...this.pastFailureTimeout(PARTITION_MS));
    let cut: NetworkFault;
    let down: string[] = [];
    let record: () => FaultRecord;
    if (variant === 0 && primary !== null) {
      const everyoneElse = [
        ...this.context.cluster.coordinatorNames,
        CLIENT_SOURCE,
        ...this.replicaIds.filter((id) => id !== primary),
      ];
      cut = {
        blocked: everyoneElse.flatMap((other): DirectedPair[] => [
          [other, primary],
          [primary, other],
        ]),
      };
      down = [primary];
      record = () =>
        this.record('partition', 'isolate the primary', `partition: isolate the primary ${primary}`, primary);
    } else if (variant === 1) {
      const target = this.chooseTarget(this.replicaIds, PRIMARY_TARGET_PROBABILITY);
      assert(target !== null, 'a cluster without replicas');
      cut = {
        blocked: this.context.cluster.coordinatorNames.flatMap((coordinator): DirectedPair[] => [
          [target, coordinator],
          [coordinator, target],
        ]),
      };
      const role = this.role(target);
      record = () =>
        this.record(
          'partition',
          `coordinator and ${role}`,
          `partition: cut the coordinator off from ${target} (${role})`,
          this.ifPrimary(target),
        );
    } else {
      const from = this.chooseTarget(this.replicaIds, PRIMARY_TARGET_PROBABILITY);
      assert(from !== null, 'a cluster without replicas');
      const to = this.random.pick(this.replicaIds.filter((id) => id !== from));
      cut = { blocked: [[from, to]] };
      record = () =>
        this.record('partition', 'one-way between replicas', `partition: one-way ${from} -> ${to}`, null);
    }
    return this.networkFault(
      { kind: 'partition', down, process: null, losesDirectory: false, onCoordinator: false },
      cut,
      holdMs,
      record,
    );
  }

  private planCoordinatorLink(): PlannedFault | null {
    const target = this.chooseTarget(this.replicaIds, PRIMARY_TARGET_PROBABILITY);
    if (target === null) return null;
    const way = this.random.pick(linkWays);
    const holdMs = this.random.integer(...this.pastFailureTimeout(COORDINATOR_LINK_MS));
    const role = this.role(target);
    const record = () =>
      this.record(
        'coordinator-link',
        `${role}, ${way}`,
        `coordinator link of ${target} (${role}): ${describeLink(target, way)} goes silent`,
        this.ifPrimary(target),
      );
    return this.networkFault(
      { kind: 'coordinator-link', down: [], process: null, losesDirectory: false, onCoordinator: false },
      { oneWay: coordinatorLinkCuts(target, way, this.context.cluster.coordinatorNames) },
      holdMs,
      record,
    );
  }

  private planLoss(): PlannedFault | null {
    const holdMs = this.random.integer(...LOSS_MS);
    const [lowest, highest] = LOSS_PROBABILITY;
    const probability = Math.round((lowest + this.random.next() * (highest - lowest)) * 100) / 100;
    const delayMaxMs = this.random.integer(0, LOSS_DELAY_MAX_MS);
    const record = () =>
      this.record(
        'loss',
        'every proxy',
        `loss ${Math.round(probability * 100)}% and delay 0-${delayMaxMs} ms`,
        null,
      );
    return this.networkFault(
      { kind: 'loss', down: [], process: null, losesDirectory: false, onCoordinator: false },
      { loss: { probability, delayMaxMs } },
      holdMs,
      record,
    );
  }

  private networkFault(
    reservation: Reservation,
    cut: NetworkFault,
    holdMs: number,
    record: () => FaultRecord,
  ): PlannedFault {
    const { network } = this.context;
    return {
      reservation,
      start: async () => {
        const fault = record();
        const handle = network.add(cut);
        return {
          record: fault,
          holdDescription: `for ${seconds(holdMs)}`,
          hold: (signal) => sleepUnlessAborted(holdMs, signal),
          heal: async () => {
            network.remove(handle);
            return reservation.kind;
          },
        };
      },
    };
  }

  // ---- the coordinator -----------------------------------------------------------------------

  private planCoordinator(): PlannedFault | null {
    const { occupancy, context } = this;
    const amnesiaAllowed =
      !occupancy.directoryLost &&
      !occupancy.killActive &&
      context.monitor.isWholeNow(this.replicaIds, WHOLE_VIEW_FRESH_MS);
    if (this.random.chance(COORDINATOR_AMNESIA_PROBABILITY))
      return amnesiaAllowed ? this.planAmnesia() : null;
    const downMs = this.random.integer(...COORDINATOR_DOWN_MS);
    const { cluster, monitor } = context;
    const record = () =>
      this.record('coordinator', 'restart', 'coordinator: kill and restart from its directory', null);
    return {
      reservation: coordinatorRestart,
      start: async () => {
        const fault = record();
        const highestBefore = monitor.highestViewNumber;
        await cluster.killCoordinator();
        return {
          record: fault,
          holdDescription: `down for ${seconds(downMs)}`,
          hold: (signal) => sleepUnlessAborted(downMs, signal),
          heal: (signal) =>
            this.restartCoordinatorShowingNoOlderView(highestBefore, signal, 'from its directory'),
        };
      },
    };
  }

  /**
   * Starts the coordinator from its directory (`how` it went down, for the problems) and checks its
   * first status: the view it stored, never one older than `highestBefore`, seen before it went down.
   */
  private async restartCoordinatorShowingNoOlderView(
    highestBefore: number,
    signal: AbortSignal,
    how: string,
  ): Promise<string> {
    const { cluster, monitor, problem } = this.context;
    await cluster.startCoordinator({ recover: cluster.coordinatorNeedsRecovery });
    const startedAtMs = performance.now();
    let first: StatusReply | null = null;
    const stop = monitor.observe((status, askedAtMs) => {
      if (askedAtMs >= startedAtMs) first ??= status;
    });
    let answered: boolean;
    try {
      answered = await monitor.waitFor(() => first !== null, COORDINATOR_STATUS_TIMEOUT_MS, signal);
    } finally {
      stop();
    }
    if (!answered && !signal.aborted) {
      problem(
        `the coordinator restarted ${how} answered no status within ${seconds(COORDINATOR_STATUS_TIMEOUT_MS)}`,
      );
    }
    const shown = (first as StatusReply | null)?.view?.number ?? null;
    if (shown !== null && shown < highestBefore) {
      problem(
        `the coordinator restarted ${how} shows view ${shown}, below view ${highestBefore} seen before`,
      );
    }
    return `restarted the coordinator${shown === null ? '' : ` (view ${shown})`}`;
  }

  /**
   * On etcd: the leading coordinator is killed and restarted later (a standby takes over once its
   * etcd lease ran out), or stopped (SIGSTOP) past its lease and resumed after a standby took over:
   * a stale leader, which must stand by and grant nothing. Views must never go back.
   */
  private planLeadingCoordinator(): PlannedFault | null {
    const { cluster, monitor, problem } = this.context;
    const stale = this.random.chance(0.5);
    const downMs = stale
      ? this.random.integer(...STALE_LEADER_STOPPED_MS)
      : this.random.integer(...COORDINATOR_DOWN_MS);
    return {
      reservation: coordinatorRestart,
      start: async () => {
        const leader = (await cluster.leadingCoordinator()) ?? COORDINATOR_NAME;
        const fault = this.record(
          'coordinator',
          stale ? 'stale leader' : 'leader killed',
          stale
            ? `coordinator: stop the leading ${leader} (SIGSTOP) past its etcd lease`
            : `coordinator: kill the leading ${leader}; a standby takes over`,
          null,
        );
        const highestBefore = monitor.highestViewNumber;
        const process = cluster.coordinatorNamed(leader);
        if (stale) process.pause();
        else await cluster.killCoordinatorNamed(leader);
        return {
          record: fault,
          holdDescription: stale ? `stopped for ${seconds(downMs)}` : `down for ${seconds(downMs)}`,
          hold: (signal) => sleepUnlessAborted(downMs, signal),
          heal: async () => {
            if (stale) process.resume();
            else await cluster.startCoordinatorNamed(leader);
            const shown = monitor.view?.number ?? 0;
            if (shown < highestBefore) {
              problem(
                `after the leading coordinator's ${stale ? 'stop' : 'loss'}, view ${shown} is below view ${highestBefore} seen before`,
              );
            }
            if (!stale) return `restarted ${leader} (it stands by until it wins an election)`;
            // It stopped past its lease, so a standby was elected meanwhile: it must not lead on.
            const now = (await cluster.leadingCoordinator()) ?? 'none';
            return `resumed ${leader}; the leader key names ${now}`;
          },
        };
      },
    };
  }

  /**
   * kill -9 of one etcd member (the etcd leader half the time); the other two keep a majority. Where
   * the members have disks of their own, half the kills cut the member's power too: etcd answers a
   * put once a majority fsynced it, so a member that lost what it had not synced must rejoin and
   * catch up, and no coordinator may see a state go back.
   */
  private planEtcdMember(): PlannedFault | null {
    const { cluster } = this.context;
    const etcd = cluster.etcd;
    if (etcd === null) return null;
    const downMs = this.random.integer(...KILL_DOWN_MS);
    const aimAtLeader = this.random.chance(0.5);
    const powerCut = etcd.names.every((name) => cluster.hasOwnDisk(name)) && this.random.chance(0.5);
    return {
      reservation: { kind: 'etcd', down: [], process: null, losesDirectory: false, onCoordinator: false },
      start: async () => {
        const leader = aimAtLeader ? await etcd.leaderName() : null;
        const member = leader ?? this.random.pick(etcd.names);
        const fault = this.record(
          'etcd',
          `${leader === null ? 'a member' : 'the etcd leader'}${powerCut ? ', its power cut' : ''}`,
          `etcd: ${powerCut ? 'cut the power of' : 'kill -9'} member ${member}${leader === null ? '' : ' (the leader)'}`,
          null,
        );
        if (powerCut) {
          await cluster.cutPower(member);
          this.context.checks.powerCuts += 1;
        } else await etcd.kill(member);
        return {
          record: fault,
          holdDescription: `down for ${seconds(downMs)}`,
          hold: (signal) => sleepUnlessAborted(downMs, signal),
          heal: async () => {
            await etcd.restart(member);
            return `restarted etcd member ${member}${powerCut ? ' from what its disk had synced' : ''}`;
          },
        };
      },
    };
  }

  /**
   * etcd past its space quota: every write refused, so no view can be stored (a failover waits, a
   * leader that must store steps down, and no one is elected) while the primary serves on. No view may
   * be installed meanwhile; once freed, etcd must take writes again.
   */
  private planEtcdFull(): PlannedFault | null {
    const { monitor, problem, checks, cluster, log } = this.context;
    const etcd = cluster.etcd;
    if (etcd === null) return null;
    const holdMs = this.random.integer(...ETCD_FULL_MS);
    /** Whether etcd's NOSPACE alarm stands (every write refused); null if etcd could not say. */
    const alarmStands = () => etcd.outOfSpace().catch(() => null);
    return {
      reservation: {
        kind: 'etcd-full',
        down: [],
        process: null,
        losesDirectory: false,
        onCoordinator: false,
      },
      start: async () => {
        const fault = this.record(
          'etcd-full',
          'past its quota',
          'etcd-full: fill etcd past its space quota',
          null,
        );
        const logsFrom = new Map(
          cluster.coordinatorNames.map((name) => [name, logSize(cluster.coordinatorNamed(name).logPath)]),
        );
        const { values, raised } = await etcd.fill(ETCD_FILLER_PREFIX);
        checks.etcdFills += 1;
        if (raised) checks.etcdFullAlarmsRaised += 1;
        return {
          record: fault,
          holdDescription: `${values} values of 1 MB${raised ? ' (etcd refused one, yet raised no alarm: the nemesis raised NOSPACE)' : ''}; full for ${seconds(holdMs)}`,
          hold: async (signal) => {
            // A view stored just before the quota was reached may still be on its way to the polls.
            await sleepUnlessAborted(ETCD_FULL_SETTLE_MS, signal);
            const before = monitor.highestViewNumber;
            const alarmAtStart = await alarmStands();
            await sleepUnlessAborted(holdMs - ETCD_FULL_SETTLE_MS, signal);
            const after = monitor.highestViewNumber;
            const alarmAtEnd = await alarmStands();
            if (after <= before) return;
            // The fill made sure the alarm stands, and only `free` disarms it; should it lapse all the
            // same, etcd takes writes, and a view stored then is no fault of ours.
            if (alarmAtStart === false || alarmAtEnd === false) {
              checks.etcdFullAlarmsLapsed += 1;
              log(
                `chaos: +${seconds(this.context.clock() / 1e6)} etcd-full: etcd's NOSPACE alarm did not stand through the hold (at its start: ${alarmAtStart}, at its end: ${alarmAtEnd}): view ${after} (from ${before}) could be stored, not counted`,
              );
              return;
            }
            checks.etcdFullViewsInstalled += 1;
            problem(
              `view ${after} was installed while etcd's NOSPACE alarm stood (it stood at ${before}): no view can be stored then`,
            );
          },
          heal: async () => {
            await etcd.free(ETCD_FILLER_PREFIX);
            if (await etcd.outOfSpace()) problem('etcd still raised its NOSPACE alarm after it was freed');
            let refusals = 0;
            for (const [name, from] of logsFrom) {
              const lines = readReplicaLog(cluster.coordinatorNamed(name).logPath, from);
              refusals += lines.filter((line) => line.message === etcdFullMessage).length;
            }
            checks.etcdFullRefusals += refusals;
            return `freed etcd (deleted, compacted, defragmented, alarms disarmed); coordinators said it was out of space ${refusals} times`;
          },
        };
      },
    };
  }

  private planAmnesia(): PlannedFault | null {
    const { cluster, monitor, problem, log, checks } = this.context;
    const how: DirectoryLoss = this.random.chance(0.5) ? 'deleted' : 'emptied';
    const refusingMs = this.random.integer(...AMNESIA_REFUSING_MS);
    const record = () =>
      this.record(
        'coordinator',
        'amnesia',
        `coordinator amnesia (state directory ${how}, restarted without --recover-from-replicas)`,
        null,
      );
    return {
      reservation: {
        kind: 'coordinator',
        down: [],
        process: null,
        losesDirectory: true,
        onCoordinator: true,
      },
      start: async () => {
        const fault = record();
        const highestBefore = monitor.highestViewNumber;
        await cluster.killCoordinator();
        cluster.loseDirectory(COORDINATOR_NAME, how);
        await cluster.startCoordinator({ recover: false });
        checks.amnesias += 1;
        // Watch everything the coordinator without state says from now until the operator's restart.
        const startedAtMs = performance.now();
        let refusal: string | null = null;
        let formedView: number | null = null;
        const stopWatching = monitor.observe((status, askedAtMs) => {
          if (askedAtMs < startedAtMs) return;
          if (status.problem !== null) refusal ??= status.problem;
          if (status.view !== null) formedView ??= status.view.number;
        });
        return {
          record: fault,
          holdDescription: `until it refuses to act, then ${seconds(refusingMs)} more`,
          hold: async (signal) => {
            const refused = await monitor.waitFor(() => refusal !== null, AMNESIA_REFUSAL_TIMEOUT_MS, signal);
            if (signal.aborted) return;
            if (!refused) {
              problem(
                `the coordinator restarted with its directory ${how} did not report a problem within ${seconds(AMNESIA_REFUSAL_TIMEOUT_MS)}`,
              );
              return;
            }
            // Its first sentence says why; the rest tells the operator what to do.
            const why = (refusal ?? '').split('. ')[0];
            log(`chaos: +${seconds(this.context.clock() / 1e6)} the coordinator refuses to act: ${why}`);
            await sleepUnlessAborted(refusingMs, signal);
          },
          heal: async (signal) => {
            stopWatching();
            if (formedView !== null) {
              problem(
                `the coordinator restarted with its directory ${how} formed view ${formedView} on its own`,
              );
            } else if (refusal !== null) {
              checks.amnesiasRefusedUntilRecovery += 1;
            }
            // The operator stops it and starts it again, naming every replica.
            await cluster.stopCoordinator();
            await cluster.startCoordinator({ recover: true });
            const whole = await monitor.waitWhole(cluster.replicaIds, AMNESIA_RECOVERY_TIMEOUT_MS, signal);
            if (!whole) {
              if (!signal.aborted) {
                problem(
                  `the coordinator restarted with --recover-from-replicas formed no whole view within ${seconds(AMNESIA_RECOVERY_TIMEOUT_MS)}`,
                );
              }
              return 'restarted the coordinator with --recover-from-replicas';
            }
            checks.amnesiasRecovered += 1;
            return `restarted the coordinator with --recover-from-replicas; whole again in view ${
              monitor.view?.number ?? '?'
            } (highest seen before: ${highestBefore})`;
          },
        };
      },
    };
  }
}

/** Tries to place the blocking directory while a snapshot write holds the name, for about a second. */
const SNAPSHOT_BLOCK_ATTEMPTS = 20;

/** Puts a directory where `snapshots`' next snapshot file goes; false if a write held the name throughout. */
async function blockSnapshotWrites(snapshots: string): Promise<boolean> {
  for (let attempt = 0; attempt < SNAPSHOT_BLOCK_ATTEMPTS; attempt++) {
    try {
      await mkdir(join(snapshots, temporaryFileName));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      await sleepUnlessAborted(50);
    }
  }
  return false;
}
