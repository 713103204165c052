// The etcd home of the coordinator, simulated: what the real shell (src/node/etcd/) relies on etcd
// for, reduced to its rules, on the simulator's clock.
//
// - The leader key: a campaign wins only while no lease holds it; the winner's term is the revision
//   that created it. A lease lasts `leaseTicks` past its last renewal and is renewed only for its term.
// - The state: written only by a save that names the leading term and the state revision it read (or
//   last wrote); anything else loses its compare, as a deposed leader's late write does.
// - Unavailable (quorum lost): nothing answers, and no lease expires (no etcd leader counts time);
//   when it is back, the lease that held the key runs a whole TTL again, as etcd's new leader does.
//
// The coordinator process's own rule (act only until its last renewal plus the lease, minus a
// margin, on its own clock) lives in SimCluster, beside the real Coordinator core it drives.

import type { CoordinatorState } from '../protocol/effects.js';

/** What a campaign that won reads: the term it leads in, and the state with its revision. */
export interface SimTerm {
  readonly term: number;
  readonly state: CoordinatorState | null;
  readonly stateRevision: number;
}

export class SimEtcd {
  private state: CoordinatorState | null;
  private stateRevision = 0;
  private revision = 0;
  private leader: { term: number; expiresAt: number } | null = null;
  private unavailable = false;

  constructor(
    initial: CoordinatorState | null,
    private readonly leaseTicks: number,
  ) {
    this.state = initial;
  }

  get available(): boolean {
    return !this.unavailable;
  }

  /** The state as etcd holds it (what an operator would read). */
  get stored(): CoordinatorState | null {
    return this.state;
  }

  setAvailable(available: boolean, now: number): void {
    if (available && this.unavailable && this.leader !== null) this.leader.expiresAt = now + this.leaseTicks;
    this.unavailable = !available;
  }

  /**
   * A coordinator that does not act tries to lead: it wins if no lease holds the leader key, or if
   * the key is still held by its own lease (`ownTerm`: it stopped acting but its lease survived).
   */
  campaign(now: number, ownTerm: number | null): SimTerm | null {
    if (this.unavailable) return null;
    this.expire(now);
    if (this.leader !== null && this.leader.term !== ownTerm) return null;
    if (this.leader === null) {
      this.revision += 1;
      this.leader = { term: this.revision, expiresAt: now + this.leaseTicks };
    }
    return { term: this.leader.term, state: this.state, stateRevision: this.stateRevision };
  }

  /** Renews the lease of `term`; false if etcd does not answer or that lease is gone. */
  renew(term: number, now: number): boolean {
    if (this.unavailable) return false;
    this.expire(now);
    if (this.leader?.term !== term) return false;
    this.leader.expiresAt = now + this.leaseTicks;
    return true;
  }

  /** The new state revision, or null: etcd did not answer, or the compare failed (another term, or a newer state). */
  save(term: number, readRevision: number, state: CoordinatorState, now: number): number | null {
    if (this.unavailable) return null;
    this.expire(now);
    if (this.leader?.term !== term || this.stateRevision !== readRevision) return null;
    this.revision += 1;
    this.stateRevision = this.revision;
    this.state = state;
    return this.stateRevision;
  }

  private expire(now: number): void {
    if (this.leader !== null && this.leader.expiresAt <= now) this.leader = null;
  }
}
