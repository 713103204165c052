// The upgrade nemesis's bookkeeping and checks (format-level.ts): a run with it starts every
// replica held at format level 1 (`--format-level 1`: the older build, which reads no scan seed);
// each upgrade fault restarts one at this build's level, and once none is held, rolls a backup back
// to level 1 on a wiped directory, which the coordinator must keep out. The watch knows which
// replicas are held (the pins) and checks, from every status and from their logs, that nothing of a
// higher level ever reached one:
// - a held replica is never a member (primary, backup or learner) of a view the coordinator installed
//   after it heard that process, while the cluster logs level 2;
// - a held replica never logs "reached a replica that reads format level" (it was sent a scan seed
//   or a snapshot of format 5 and stopped, as the older build would), nor exits on its own;
// - once every replica runs this build and the run healed, the cluster's level is 2.
// When the level rises, the primary seeds a store that has none, which makes SCAN's buckets anew: a
// scan under way then may miss keys, as kv-store.ts documents, once in a store's life. The watch
// notes around each rise it saw when that may have been, so the run leaves those scans unchecked.
// A held replica the coordinator had not heard since it started when every replica it had heard
// read level 2 (down as the coordinator restarted) is kept out from then on, by design: the level
// rose without it. It waits for its upgrade, which the nemesis then owes it (upgradeDue), as an
// operator would.

import * as fs from 'node:fs';
import { assert } from '../protocol/assert.js';
import { BASE_FORMAT_LEVEL, FORMAT_LEVEL } from '../protocol/format-level.js';
import type { ReplicaStatus, StatusReply } from '../protocol/messages.js';
import { replicaId, roleIn } from '../protocol/types.js';
import type { ChaosCluster } from './cluster-processes.js';
import { logSize, readReplicaLog } from './replica-logs.js';
import type { ViewMonitor } from './view-monitor.js';

/** The level a replica of the older build reads: what the run starts every replica at. */
export const PINNED_FORMAT_LEVEL = BASE_FORMAT_LEVEL;
/** What a held replica says when it is sent what it cannot read (kv-store.ts), before it stops. */
export const OLDER_BUILD_REACHED = 'reached a replica that reads format level';
/** The line of its stderr that says it (not the source line a stack trace quotes before it). */
const olderBuildReachedPattern = new RegExp(`${OLDER_BUILD_REACHED} \\d+`);
/** What the coordinator logs when it raises the cluster's level (coordinator-server.ts). */
export const FORMAT_LEVEL_RAISED_MESSAGE = 'format level raised: every member of the view reads it';
/** What a replica's status row says while the coordinator keeps it out for its level (format-level.ts). */
const keptOutPattern = /reads format level \d+ but the cluster logs level \d+/;
/** With every replica at this build's level and the run healed, the coordinator raises the level within this. */
export const FINAL_FORMAT_LEVEL_TIMEOUT_MS = 20_000;
/** At the heal, how long each replica upgraded then may take to be a member again before the next. */
const HEAL_UPGRADE_REJOIN_TIMEOUT_MS = 30_000;
/**
 * After the first status at the raised level, how long the seeding may still come: the primary
 * seeds at its first tick once its coordinator said the level, or after a failover, its successor.
 */
export const SEEDING_SLACK_MS = 10_000;
/** How much of a log line a problem quotes. */
const QUOTED_LINE_CHARACTERS_MAX = 300;

/** What the upgrade nemesis did and saw, for the report. */
export interface UpgradeCounts {
  /** Held replicas restarted at this build's level by upgrade faults. */
  upgrades: number;
  /** Of those, the ones the coordinator kept out first (the level rose without them). */
  upgradesOfKeptOut: number;
  /** Held replicas seen kept out for their level outside a rollback. */
  keptOut: number;
  /** Held replicas upgraded at the heal, to finish the rolling upgrade. */
  upgradesAtHeal: number;
  /** Backups restarted at level 1 on a wiped directory once every replica ran this build. */
  rollbacks: number;
  /** Rollbacks the coordinator was seen to keep out for their level, alive. */
  rollbacksRefused: number;
  /** Rollbacks the end of the run cut short before the coordinator was seen to keep them out. */
  rollbacksCutShort: number;
  /** "format level raised" lines in the coordinators' logs. */
  levelRaises: number;
  /** The cluster's level after the heal, as the coordinator said (null if it said none). */
  finalLevel: number | null;
  /** Whole scans under way when the level rose (the store may have been seeded then), not checked. */
  scansAcrossSeeding: number;
}

export const noUpgradeCounts = (): UpgradeCounts => ({
  upgrades: 0,
  upgradesOfKeptOut: 0,
  keptOut: 0,
  upgradesAtHeal: 0,
  rollbacks: 0,
  rollbacksRefused: 0,
  rollbacksCutShort: 0,
  levelRaises: 0,
  finalLevel: null,
  scansAcrossSeeding: 0,
});

/** Whether a status row says the coordinator keeps the replica out for its format level. */
export function keptOutForFormatLevel(row: ReplicaStatus): boolean {
  return !row.alive && row.problem !== null && keptOutPattern.test(row.problem);
}

/** One replica held at PINNED_FORMAT_LEVEL, from its pin to its upgrade: what the statuses said of it. */
export class PinnedReplica {
  /** The view the coordinator held when a status first showed this held process's level; null before. */
  knownAtView: number | null = null;
  /** A status since the pin showed the coordinator keeping it out for its level. */
  everKeptOut = false;
  private reportedInView = false;

  constructor(
    readonly id: string,
    /** When it was pinned (performance.now()): statuses asked before say nothing of it. */
    readonly sinceMs: number,
    /** Rolled back to level 1 on a wiped directory (it must be kept out), or held since the start. */
    readonly rollback: boolean,
    /** Where its log ended when it was pinned. */
    readonly logFrom: number,
    /** Its process's exits on its own before the pin. */
    readonly exitsBefore: number,
  ) {}

  get description(): string {
    return this.rollback ? 'rolled back to format level 1' : 'held at format level 1 (the older build)';
  }

  /**
   * Takes in one status; returns a problem (once) when it shows this replica a member of a view while
   * the cluster logs above its level, and either the view was installed after the coordinator heard
   * this held process or the coordinator counts the process alive (as it never may at that level).
   */
  observe(status: StatusReply, askedAtMs: number): string | null {
    if (askedAtMs < this.sinceMs) return null;
    const row = status.replicas.find((replica) => replica.id === this.id);
    // Until the coordinator hears this held process, the row tells of the one before it.
    if (row === undefined || row.formatLevel !== PINNED_FORMAT_LEVEL) return null;
    const view = status.view;
    // The view it held then may still name the replica's former process, which it has yet to drop.
    this.knownAtView ??= view?.number ?? 0;
    if (keptOutForFormatLevel(row)) this.everKeptOut = true;
    if (view === null || status.formatLevel <= PINNED_FORMAT_LEVEL) return null;
    if (view.number <= this.knownAtView && !row.alive) return null;
    const role = roleIn(view, replicaId(this.id));
    if (role === 'none' || this.reportedInView) return null;
    this.reportedInView = true;
    return `${this.id}, ${this.description}, is ${role} of view ${view.number} while the cluster logs format level ${status.formatLevel}`;
  }
}

/** The spans, on the run's clock, in which the level rose to this build's and the primary may have seeded the store. */
export class SeedingWindows {
  /** When the latest status below this build's level was asked for (ns). */
  private belowAskedNs = 0;
  private readonly windows: [number, number][] = [];

  /** Takes in the level a status asked for at `askedNs` showed. */
  observe(level: number, askedNs: number): void {
    if (level < FORMAT_LEVEL) {
      this.belowAskedNs = Math.max(this.belowAskedNs, askedNs);
      return;
    }
    // A rise since the last window: it came after the last status below it was answered, so after
    // it was asked for; the seeding follows within the slack.
    if (this.belowAskedNs > (this.windows.at(-1)?.[0] ?? -1)) {
      this.windows.push([this.belowAskedNs, askedNs + SEEDING_SLACK_MS * 1e6]);
    }
  }

  /** Whether a span from `startNs` to `endNs` overlaps one of the windows. */
  overlap(startNs: number, endNs: number): boolean {
    return this.windows.some(([from, to]) => startNs <= to && from <= endNs);
  }
}

/** The pins of a run with the upgrade nemesis, and its checks (see the top of the file). */
export class UpgradeWatch {
  readonly counts: UpgradeCounts = noUpgradeCounts();
  /** What the run must fail for. */
  readonly problems: string[] = [];
  private readonly pins = new Map<string, PinnedReplica>();
  private readonly stopObserving: () => void;
  private finished = false;
  private readonly seedings = new SeedingWindows();

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly monitor: ViewMonitor,
    /** Progress lines, as the run writes them. */
    private readonly note: (line: string) => void,
    /** The run's clock: monotonic nanoseconds since it started (the history's). */
    private readonly clock: () => number,
  ) {
    for (const id of cluster.replicaIds) {
      if (cluster.formatLevelOf(id) === null) continue;
      const exits = cluster.replica(id).exitsOnItsOwn;
      this.pins.set(id, new PinnedReplica(id, Number.NEGATIVE_INFINITY, false, 0, exits));
    }
    this.stopObserving = monitor.observe((status, askedAtMs) => this.observe(status, askedAtMs));
  }

  /** The replicas still held at the older build's level since the start (rollbacks aside). */
  get olderBuildReplicas(): string[] {
    return [...this.pins.values()].filter((pin) => !pin.rollback).map((pin) => pin.id);
  }

  /** Whether `id` is held at the older build's level now (since the start, or rolled back). */
  isHeld(id: string): boolean {
    return this.pins.has(id);
  }

  /** Whether `id` is held and the latest status says the coordinator keeps it out for its level. */
  keptOut(id: string): boolean {
    const row = this.monitor.replica(id);
    return (
      this.pins.has(id) &&
      row !== null &&
      row.formatLevel === PINNED_FORMAT_LEVEL &&
      keptOutForFormatLevel(row)
    );
  }

  /** A replica of the older build is kept out, the level having risen without it: it waits for its upgrade. */
  get upgradeDue(): boolean {
    return this.olderBuildReplicas.some((id) => this.keptOut(id));
  }

  /** Whether the coordinator was seen keeping rolled-back `id` out for its level. */
  refused(id: string): boolean {
    return this.pins.get(id)?.everKeptOut === true;
  }

  /** Holds stopped replica `id` at level 1 from its next start: a rollback to the older build. */
  pinForRollback(id: string): void {
    assert(!this.pins.has(id), `${id} is already held at format level ${PINNED_FORMAT_LEVEL}`);
    const replica = this.cluster.replica(id);
    this.cluster.setFormatLevel(id, PINNED_FORMAT_LEVEL);
    this.pins.set(
      id,
      new PinnedReplica(id, performance.now(), true, logSize(replica.logPath), replica.exitsOnItsOwn),
    );
    this.counts.rollbacks += 1;
  }

  /**
   * Lets stopped replica `id` start at this build's level from its next start (an upgrade), after
   * checking what its held processes did; returns the problems found (also kept in `problems`).
   */
  unpin(id: string): string[] {
    const pin = this.pins.get(id);
    assert(pin !== undefined, `${id} is not held at a format level`);
    this.cluster.setFormatLevel(id, null);
    this.pins.delete(id);
    const found = this.checkLog(pin);
    this.problems.push(...found);
    return found;
  }

  /**
   * At the heal: upgrades every replica still held, one at a time (kill -9, restart at this build's
   * level, wait until it is a member again), as an operator finishes a rolling upgrade.
   */
  async finishUpgrade(signal?: AbortSignal): Promise<void> {
    for (const id of [...this.pins.keys()]) {
      if (signal?.aborted === true) return;
      await this.cluster.killReplica(id);
      this.unpin(id);
      try {
        await this.cluster.startReplica(id);
      } catch (error) {
        this.problems.push(`restarting ${id} at this build's format level at the heal: ${describe(error)}`);
        continue;
      }
      this.counts.upgradesAtHeal += 1;
      this.note(`upgraded ${id} to this build's format level to finish the rolling upgrade`);
      await this.monitor.waitFor(
        () => this.monitor.isMember(id) && this.monitor.isAlive(id),
        HEAL_UPGRADE_REJOIN_TIMEOUT_MS,
        signal,
      );
    }
  }

  /** After the heal, with every replica at this build's level: the coordinator must log at it. */
  async checkFinalLevel(signal?: AbortSignal): Promise<void> {
    // Only with every replica at this build's level (the heal may have been cut short).
    if (this.pins.size > 0) return;
    const reached = await this.monitor.waitFor(
      () => (this.monitor.status?.formatLevel ?? 0) >= FORMAT_LEVEL,
      FINAL_FORMAT_LEVEL_TIMEOUT_MS,
      signal,
    );
    this.counts.finalLevel = this.monitor.status?.formatLevel ?? null;
    if (!reached && signal?.aborted !== true) {
      this.problems.push(
        `with every replica at format level ${FORMAT_LEVEL} and the run healed, the cluster's level was ` +
          `${this.counts.finalLevel ?? 'unknown'} after ${FINAL_FORMAT_LEVEL_TIMEOUT_MS / 1000} s`,
      );
    }
  }

  /** Once the processes stopped: checks the replicas still held, counts the coordinators' raises. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.stopObserving();
    for (const pin of this.pins.values()) this.problems.push(...this.checkLog(pin));
    for (const name of this.cluster.coordinatorNames) {
      const lines = readReplicaLog(this.cluster.coordinatorNamed(name).logPath);
      this.counts.levelRaises += lines.filter((line) => line.message === FORMAT_LEVEL_RAISED_MESSAGE).length;
    }
  }

  /** Whether the store may have been seeded between `startNs` and `endNs` (a scan then may miss keys). */
  mayHaveSeededDuring(startNs: number, endNs: number): boolean {
    return this.seedings.overlap(startNs, endNs);
  }

  private observe(status: StatusReply, askedAtMs: number): void {
    this.seedings.observe(status.formatLevel, this.clock() - (performance.now() - askedAtMs) * 1e6);
    for (const pin of this.pins.values()) {
      const keptOutBefore = pin.everKeptOut;
      const problem = pin.observe(status, askedAtMs);
      if (problem !== null) this.problems.push(problem);
      if (!pin.rollback && pin.everKeptOut && !keptOutBefore) {
        this.counts.keptOut += 1;
        this.note(
          `${pin.id}, ${pin.description}, is kept out: the cluster's level rose to ${status.formatLevel} without it`,
        );
      }
    }
  }

  /** What its log says since the pin: it must not have been sent what it cannot read, nor stopped on its own. */
  private checkLog(pin: PinnedReplica): string[] {
    const replica = this.cluster.replica(pin.id);
    const text = logTextFrom(replica.logPath, pin.logFrom);
    const reached = text.split('\n').find((line) => olderBuildReachedPattern.test(line));
    if (reached !== undefined) {
      return [
        `${pin.id}, ${pin.description}, was sent what it cannot read: ${reached.slice(0, QUOTED_LINE_CHARACTERS_MAX)}`,
      ];
    }
    // A full disk stops a replica by design (the disk-full nemesis checks its fatal line).
    const exits = replica.exitsOnItsOwn - pin.exitsBefore;
    if (exits > 0 && !text.includes('ENOSPC')) {
      return [`${pin.id}, ${pin.description}, exited on its own ${exits} times; see ${replica.logPath}`];
    }
    return [];
  }
}

/** The text of `file` from byte `fromByte` on; empty if it is missing. */
function logTextFrom(file: string, fromByte: number): string {
  try {
    const bytes = fs.readFileSync(file);
    return bytes.subarray(Math.min(fromByte, bytes.length)).toString('utf8');
  } catch {
    return '';
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
