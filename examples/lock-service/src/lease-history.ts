// The lock service's promise, checked over what clients were told: no lock is ever held by two owners
// at once. From the history of answered acquires (grants) and of releases, each grant's lease is an
// interval of the service's clock:
//
//   from  the time of its first grant (a renewal keeps the token, and its lease)
//   to    its latest expiry (a renewal never shortens a lease, so one that went unanswered could only
//         have made it longer), or the earliest time a release of it was sent, if that release may have
//         run (answered "released", or no answer): a release takes effect at or after its request's
//         time, so this is as early as it can have ended — the check gives the service every benefit
//         of the doubt, and still fails on any overlap it cannot explain.
//
// Two leases of one lock with different owners must not overlap; and as tokens grow, grant times
// must not go back (the service's clock never runs backwards). Acquires without an answer are left
// out: the client never believed it held the lock.

import type { Lease } from './lock-messages.js';

/** An acquire the service answered "granted". */
export interface Grant {
  readonly lock: string;
  readonly lease: Lease;
  /** The service's clock when it granted (the result's `atMs`). */
  readonly atMs: number;
}

/** A release sent by a client, with what it was told. */
export interface ReleaseAttempt {
  readonly lock: string;
  readonly owner: string;
  readonly token: number;
  /** The `nowMs` its request carried. */
  readonly sentAtMs: number;
  /** `true` released, `false` refused (it changed nothing), `null` no answer (it may have run). */
  readonly released: boolean | null;
}

interface Interval {
  readonly owner: string;
  readonly token: number;
  readonly fromMs: number;
  toMs: number;
}

/** Every way the history breaks the promise, one message each; empty when it held. */
export function findLeaseViolations(grants: readonly Grant[], releases: readonly ReleaseAttempt[]): string[] {
  const violations: string[] = [];
  const byLock = new Map<string, Map<number, Interval>>();
  for (const { lock, lease, atMs } of grants) {
    const leases = byLock.get(lock) ?? new Map<number, Interval>();
    byLock.set(lock, leases);
    const known = leases.get(lease.token);
    if (known === undefined) {
      leases.set(lease.token, {
        owner: lease.owner,
        token: lease.token,
        fromMs: atMs,
        toMs: lease.expiresAtMs,
      });
      continue;
    }
    if (known.owner !== lease.owner) {
      violations.push(
        `lock ${lock}: token ${lease.token} was granted to ${known.owner} and to ${lease.owner}`,
      );
    }
    leases.set(lease.token, {
      ...known,
      fromMs: Math.min(known.fromMs, atMs),
      toMs: Math.max(known.toMs, lease.expiresAtMs),
    });
  }
  for (const release of releases) {
    if (release.released === false) continue;
    const interval = byLock.get(release.lock)?.get(release.token);
    if (interval === undefined || interval.owner !== release.owner) continue;
    interval.toMs = Math.max(interval.fromMs, Math.min(interval.toMs, release.sentAtMs));
  }
  for (const [lock, leases] of byLock) {
    const ordered = [...leases.values()].sort((a, b) => a.token - b.token);
    for (let later = 1; later < ordered.length; later++) {
      const next = ordered[later] as Interval;
      const previous = ordered[later - 1] as Interval;
      if (next.fromMs < previous.fromMs) {
        violations.push(
          `lock ${lock}: token ${next.token} was granted at ${next.fromMs}, before token ${previous.token} at ${previous.fromMs}`,
        );
      }
      for (const earlier of ordered.slice(0, later)) {
        if (earlier.owner !== next.owner && earlier.fromMs < next.toMs && next.fromMs < earlier.toMs) {
          violations.push(
            `lock ${lock} was held by two owners at once: ${earlier.owner} (token ${earlier.token}, ` +
              `${earlier.fromMs}..${earlier.toMs}) and ${next.owner} (token ${next.token}, ${next.fromMs}..${next.toMs})`,
          );
        }
      }
    }
  }
  return violations;
}
