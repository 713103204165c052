// The coordinator's home on etcd, as the simulator models it: several coordinator processes, one
// leading by an etcd lease that it renews by keepalives, the others standing by. What the model
// keeps of etcd is what safety rests on:
// - the leader's lease runs on etcd's clock; once it ran out (the leader died, stalled or could not
//   reach etcd) a standby is elected, and it starts from the stored state like a restarted
//   coordinator (so it waits out the last lease a primary may hold);
// - a leader knows its authority only from its last answered keepalive, counted from when it asked:
//   `Coordinator.holdAuthorityUntil` keeps it from granting a lease beyond that;
// - state is written by a transaction that also compares the leader key, so a coordinator that lost
//   its lease (a stale leader) never stores a view, and while etcd is unavailable no one does;
// - past its space quota (its NOSPACE alarm) etcd still answers and renews leases, but refuses every
//   write: no view is stored and no one is elected (the leader key is a write), while a leader that
//   needs no write goes on leading.
// The simulation's clock is etcd's; coordinator machines' clocks run at the same rate.

/** How the coordinators' leadership lease is kept, in ticks. */
export interface EtcdHomeSettings {
  /** The etcd lease's time to live. */
  readonly leaseTtlTicks: number;
  /** How often the leader sends a keepalive. */
  readonly keepaliveEveryTicks: number;
}

/** What the leader's keepalive came to, when one was due. */
export type KeepaliveOutcome =
  | { readonly kind: 'renewed'; readonly authorityUntil: number }
  | { readonly kind: 'lost' }
  | { readonly kind: 'unanswered' };

export class EtcdHome {
  /** While false, etcd answers nothing: no keepalive, election or write succeeds. */
  available = true;
  /** While true, etcd is past its space quota: keepalives are answered, writes and elections refused. */
  full = false;
  /** When the leader's lease runs out, on etcd's clock; 0: no leader yet. */
  private leaseExpiresAt = 0;
  /** The leader's clock when it last sent a keepalive. */
  private lastKeepaliveClock = Number.NEGATIVE_INFINITY;

  constructor(readonly settings: EtcdHomeSettings) {}

  /** A standby may be elected now: etcd answers and no leader's lease remains. */
  canElect(now: number): boolean {
    return this.available && !this.full && now >= this.leaseExpiresAt;
  }

  /** A coordinator was elected at `now` (its clock reads `clock`): until when it may act. */
  elect(now: number, clock: number): number {
    this.leaseExpiresAt = now + this.settings.leaseTtlTicks;
    this.lastKeepaliveClock = clock;
    return clock + this.settings.leaseTtlTicks;
  }

  /** The leader's keepalive if one is due (null when not): renewed, lost (its lease ran out), or unanswered. */
  keepalive(now: number, clock: number): KeepaliveOutcome | null {
    if (clock - this.lastKeepaliveClock < this.settings.keepaliveEveryTicks) return null;
    this.lastKeepaliveClock = clock;
    if (!this.available) return { kind: 'unanswered' };
    if (now >= this.leaseExpiresAt) return { kind: 'lost' };
    this.leaseExpiresAt = now + this.settings.leaseTtlTicks;
    return { kind: 'renewed', authorityUntil: clock + this.settings.leaseTtlTicks };
  }
}
