// Two primaries must never hold a lease at once: while one does, it answers reads and async writes
// from its own state, so another committing beside it would make those answers stale. The
// coordinator ensures it by waiting out the last lease it granted, plus a margin for clocks that
// drift, before another primary may lead. Each replica of a chaos run writes down every lease it is
// granted, on the machine's monotonic clock (node/test-lease-record.ts); this reads them back after
// the run and checks that no two processes' leases overlapped. The simulator checks the same at
// every tick of its core; here it covers the shells' arithmetic too, in real processes whose clocks
// run at rates of their own, without waiting for a read to land in the window.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LeaseGrant } from '../node/test-lease-record.js';

/** The run directory's folder for the replicas' lease records. */
const LEASE_RECORD_FOLDER = 'leases';

export function leaseRecordDirectory(runDirectory: string): string {
  return join(runDirectory, LEASE_RECORD_FOLDER);
}

export function leaseRecordPath(runDirectory: string, replica: string): string {
  return join(leaseRecordDirectory(runDirectory), `${replica}.jsonl`);
}

/** Every grant every replica of the run wrote down (none if the run wrote no record). */
export function readLeaseGrants(runDirectory: string): LeaseGrant[] {
  const folder = leaseRecordDirectory(runDirectory);
  if (!existsSync(folder)) return [];
  const grants: LeaseGrant[] = [];
  for (const file of readdirSync(folder).sort()) {
    const lines = readFileSync(join(folder, file), 'utf8').split('\n');
    lines.forEach((line, index) => {
      if (line === '') return;
      const grant: unknown = JSON.parse(line);
      if (!isLeaseGrant(grant)) throw new Error(`${file} line ${index + 1} is not a lease grant: ${line}`);
      grants.push(grant);
    });
  }
  return grants;
}

function isLeaseGrant(value: unknown): value is LeaseGrant {
  if (typeof value !== 'object' || value === null) return false;
  const { replica, incarnation, view, fromMs, untilMs } = value as Record<string, unknown>;
  return (
    typeof replica === 'string' &&
    [incarnation, view, fromMs, untilMs].every((field) => typeof field === 'number' && Number.isFinite(field))
  );
}

export interface LeaseCheck {
  readonly grants: number;
  /** Leases held: one per view and process, from its first grant to the end of its last. */
  readonly leases: number;
  /** Each pair of processes' leases that ran at once, said in words. */
  readonly overlaps: readonly string[];
  /** The shortest time from one process's lease ending to another's beginning, or null with fewer than two. */
  readonly closestGapMs: number | null;
}

interface HeldLease {
  readonly replica: string;
  readonly incarnation: number;
  readonly view: number;
  fromMs: number;
  untilMs: number;
}

/** Checks the grants of a run whose clock started at `originMs` (machine monotonic ms: for the words only). */
export function checkLeases(grants: readonly LeaseGrant[], originMs = 0): LeaseCheck {
  const held = new Map<string, HeldLease>();
  for (const grant of grants) {
    const key = `${grant.view}/${grant.replica}/${grant.incarnation}`;
    const lease = held.get(key);
    if (lease === undefined) held.set(key, { ...grant });
    else {
      lease.fromMs = Math.min(lease.fromMs, grant.fromMs);
      lease.untilMs = Math.max(lease.untilMs, grant.untilMs);
    }
  }
  const leases = [...held.values()].sort((a, b) => a.fromMs - b.fromMs);
  const overlaps: string[] = [];
  let closestGapMs: number | null = null;
  const at = (ms: number) => `+${((ms - originMs) / 1000).toFixed(3)} s`;
  const name = (lease: HeldLease) =>
    `view ${lease.view}'s lease at ${lease.replica} (process ${lease.incarnation})`;
  leases.forEach((earlier, index) => {
    for (const later of leases.slice(index + 1)) {
      if (later.replica === earlier.replica && later.incarnation === earlier.incarnation) continue;
      const gapMs = later.fromMs - earlier.untilMs;
      if (gapMs < 0) {
        overlaps.push(
          `${name(earlier)} held from ${at(earlier.fromMs)} to ${at(earlier.untilMs)}, ` +
            `and ${name(later)} from ${at(later.fromMs)}: ${Math.round(-gapMs)} ms at once`,
        );
      } else if (closestGapMs === null || gapMs < closestGapMs) closestGapMs = gapMs;
    }
  });
  return { grants: grants.length, leases: leases.length, overlaps, closestGapMs };
}

/** The report's line on the leases. */
export function describeLeases(check: LeaseCheck): string {
  const closest =
    check.closestGapMs === null ? '' : `; the closest two ${Math.round(check.closestGapMs)} ms apart`;
  return (
    `primary leases: ${check.grants} grants, ${check.leases} leases (a view's at one process); ` +
    `${check.overlaps.length} times two ran at once${closest}`
  );
}
