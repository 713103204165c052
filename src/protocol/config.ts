// Every limit and timeout of the protocol, named once with its unit. Times are in ticks: the shell
// decides how long a tick is (see `tickMs` in src/node/config.ts), the simulator counts them.
// `checkConfig` states the relations between limits that safety or liveness rely on.

import { assert } from './assert.js';

export interface ProtocolConfig {
  /** How often a replica heartbeats the coordinator. */
  readonly heartbeatIntervalTicks: number;
  /**
   * A replica silent this long is suspected dead by the coordinator; so is one whose oldest write has
   * waited this long for its fsync, so a primary whose disk hangs is replaced although its timers
   * still heartbeat. One setting for both: an operator who lengthens it to ride out a paused VM or a
   * slow zone means a slow cloud disk's hiccup too.
   */
  readonly failureTimeoutTicks: number;
  /** Lease granted to the primary per heartbeat, counted from when the heartbeat left. */
  readonly leaseTicks: number;
  /** Extra wait before a new primary is appointed, covering clock drift between processes. */
  readonly leaseDriftMarginTicks: number;
  /** How long the coordinator waits after the first heartbeat before forming the first view. */
  readonly viewFormationTicks: number;
  /** How often the primary sends an empty Prepare (commit index, log check) to each follower. */
  readonly followerHeartbeatTicks: number;
  /** A follower that has not acknowledged for this long gets the unacknowledged suffix again. */
  readonly retransmitTicks: number;
  /**
   * A backup with unacknowledged entries older than this lags: the primary reports it to the
   * coordinator, which acts as `lagPolicy` says.
   */
  readonly backupAckTimeoutTicks: number;
  /**
   * What becomes of a backup that lags (a cluster setting, like syncQuorum):
   * - `demote` (the default): it becomes a learner, an async follower still fed the log but no longer
   *   waited for nor promoted, and a backup again once it has caught up;
   * - `throttle`: it stays a backup, and commits (so the primary's clients) go at its pace; only the
   *   failure rules (no heartbeat, a stalled fsync) remove it;
   * - `eject`: it leaves the view, and rejoins as a learner only after `ejectTicks`.
   */
  readonly lagPolicy: LagPolicy;
  /** How long an ejected backup stays out of the view (`lagPolicy: 'eject'`). */
  readonly ejectTicks: number;
  /** A follower waits this long before repeating a SyncRequest. */
  readonly syncRetryTicks: number;
  /** Entries in one Prepare. */
  readonly prepareEntriesMax: number;
  /** Bytes of update and result in one Prepare, roughly; keeps frames under the frame limit. */
  readonly prepareBytesMax: number;
  /** Entries sent to one follower and not yet acknowledged. */
  readonly inFlightEntriesMax: number;
  /** Client requests waiting at the primary (for commit, fsync or a lease). */
  readonly pendingRequestsMax: number;
  /**
   * A jump of the clock this large between two inputs means this process stalled (SIGSTOP, a long
   * pause, a VM freeze): liveness timers are shifted by the stall, so peers are not judged dead for
   * silence this process caused. Leases are never shifted: they are judged by the clock alone.
   */
  readonly stallTicksMin: number;
  /**
   * Bytes of log (updates and results) appended since the last snapshot before the next is taken.
   * The real threshold grows with the state: at least a quarter of the last snapshot's size, so a
   * large state is not rewritten after every few writes. Each replica process snapshots at two
   * thirds to all of it (by its incarnation), so replicas do not all rewrite their state at once.
   */
  readonly snapshotLogBytes: number;
  /**
   * After a snapshot write failed (a full disk, a failing one), the wait before the next is tried.
   * The log keeps every entry since the last kept snapshot meanwhile, so nothing is lost; the disk
   * only holds more log until a snapshot is kept again. A save asked meanwhile waits for it.
   */
  readonly snapshotRetryTicks: number;
  /** A session whose client sent nothing for this long is expired (decided by the primary, logged). */
  readonly sessionIdleTicks: number;
  /** Beyond this many sessions the least recently active are expired, oldest first. */
  readonly sessionsMax: number;
  /**
   * Backups whose fsync a commit waits for, like PostgreSQL's `ANY k`: an entry commits once the
   * primary and this many backups of the view hold it on disk (all of them when the view has fewer).
   * `syncQuorumAll` (the default) waits for every backup. With fewer, the coordinator promotes only a
   * backup that provably holds every commit: it first stops the old primary's view, then waits to hear
   * from enough of its backups (all but k − 1) and takes the longest log among them, or waits. A
   * cluster setting: the coordinator and every replica must be given the same value.
   */
  readonly syncQuorum: number;
}

/**
 * The settings a replica commits and reports by, which the coordinator's promotions rely on: a
 * primary that commits at fewer backups than the coordinator believes could have it promote a backup
 * that misses a commit. A replica's Hello names them; the coordinator admits only its own.
 */
export interface CommitRules {
  readonly syncQuorum: number;
  readonly lagPolicy: LagPolicy;
}

export function commitRulesOf(config: ProtocolConfig): CommitRules {
  return { syncQuorum: config.syncQuorum, lagPolicy: config.lagPolicy };
}

/** Why a replica with `theirs` may not join a coordinator with `ours`, or null when they agree. */
export function commitRulesMismatch(ours: CommitRules, theirs: CommitRules): string | null {
  const quorum = (rules: CommitRules) =>
    rules.syncQuorum >= syncQuorumAll ? 'every backup' : `--sync-quorum ${rules.syncQuorum}`;
  const differences: string[] = [];
  if (ours.syncQuorum !== theirs.syncQuorum)
    differences.push(`commits at ${quorum(theirs)}, the coordinator at ${quorum(ours)}`);
  if (ours.lagPolicy !== theirs.lagPolicy) {
    differences.push(`runs --lag-policy ${theirs.lagPolicy}, the coordinator ${ours.lagPolicy}`);
  }
  return differences.length === 0 ? null : differences.join('; ');
}

export const lagPolicies = ['demote', 'throttle', 'eject'] as const;
export type LagPolicy = (typeof lagPolicies)[number];

/** `syncQuorum` for "every backup of the view": today's commit rule, and no commit quorum. */
export const syncQuorumAll = Number.MAX_SAFE_INTEGER;

/** Backups a commit waits for in a view with `backups` backups: k = min(syncQuorum, backups). */
export function commitQuorumOf(config: ProtocolConfig, backups: number): number {
  return Math.min(config.syncQuorum, backups);
}

/** A commit may leave some backups of a view without an entry: promotion must then count reports. */
export function quorumConfigured(config: ProtocolConfig): boolean {
  return config.syncQuorum < syncQuorumAll;
}

export const defaultProtocolConfig: ProtocolConfig = {
  heartbeatIntervalTicks: 10,
  failureTimeoutTicks: 60,
  leaseTicks: 40,
  leaseDriftMarginTicks: 10,
  viewFormationTicks: 30,
  followerHeartbeatTicks: 5,
  retransmitTicks: 20,
  backupAckTimeoutTicks: 100,
  syncRetryTicks: 20,
  prepareEntriesMax: 512,
  prepareBytesMax: 4 * 1024 * 1024,
  inFlightEntriesMax: 8192,
  pendingRequestsMax: 16384,
  stallTicksMin: 15,
  snapshotLogBytes: 4 * 1024 * 1024,
  snapshotRetryTicks: 500,
  sessionIdleTicks: 360_000,
  sessionsMax: 50_000,
  syncQuorum: syncQuorumAll,
  lagPolicy: 'demote',
  ejectTicks: 1000,
};

/** Small limits so that batching, backpressure and retransmission paths run in tests. */
export const tinyProtocolConfig: ProtocolConfig = {
  ...defaultProtocolConfig,
  prepareEntriesMax: 3,
  prepareBytesMax: 4096,
  inFlightEntriesMax: 8,
  pendingRequestsMax: 64,
  snapshotLogBytes: 2048,
  snapshotRetryTicks: 50,
  sessionIdleTicks: 3000,
  sessionsMax: 64,
};

export function checkConfig(config: ProtocolConfig): void {
  for (const [name, value] of Object.entries(config)) {
    if (name === 'lagPolicy') continue;
    assert(Number.isInteger(value) && value > 0, `${name} must be a positive integer, got ${value}`);
  }
  assert(lagPolicies.includes(config.lagPolicy), `lagPolicy must be one of ${lagPolicies.join(', ')}`);
  // The lease must be renewable before it runs out, or a healthy primary would flap.
  assert(config.leaseTicks > 2 * config.heartbeatIntervalTicks, 'leaseTicks must exceed two heartbeats');
  // A primary is declared dead only after it has missed several heartbeats.
  assert(
    config.failureTimeoutTicks > 2 * config.heartbeatIntervalTicks,
    'failureTimeoutTicks must exceed two heartbeats',
  );
  assert(config.inFlightEntriesMax >= config.prepareEntriesMax, 'inFlightEntriesMax must hold one Prepare');
  // An idle backup acknowledges only the primary's empty Prepares: a shorter lag limit would call
  // every healthy backup lagging between two of them (found with --backup-lag-max-ms 30).
  assert(
    config.backupAckTimeoutTicks > 2 * config.followerHeartbeatTicks,
    'backupAckTimeoutTicks must exceed two follower heartbeats',
  );
  // A clock jump shorter than a few heartbeats is scheduling noise, not a stall.
  assert(config.stallTicksMin > config.heartbeatIntervalTicks, 'stallTicksMin must exceed a heartbeat');
}
