// Which coordinator process leads, decided in etcd: the leader key holds the leader's address and is
// attached to that process's etcd lease, so it vanishes when the process stops renewing the lease.
// Every coordinator keeps its own lease alive and, while the key is absent, tries to create it in a
// transaction (create revision 0); the one that succeeds leads, and its term is named by the key's
// create revision, which every state write compares (etcd-state-home.ts): a deposed leader's late
// write fails even if it arrives after the new leader was elected.
//
// A leader acts only while it knows its lease is alive: until the time it *sent* its last renewal
// that etcd answered, plus the TTL, minus a margin. etcd cannot expire the lease before the renewal
// arrived plus the TTL, so a leader stops acting (granting replica leases, above all) before any other
// coordinator can be elected; the new one then waits out the replica leases the old one granted
// (the Coordinator core does, as after any restart). Times are monotonic (performance.now), so a
// process that was stopped finds its lease lapsed when it wakes, before it acts on anything.
//
//   standby ──(key absent; create wins)──▶ leader ──(renewal refused, or not renewed in time)──▶ standby

import type { Logger } from '../logger.js';
import type { EtcdClient } from './etcd-client.js';

/** The leadership lease a coordinator takes in etcd unless told otherwise. */
export const ETCD_LEASE_SECONDS_DEFAULT = 3;

export interface LeadershipOptions {
  readonly client: EtcdClient;
  readonly leaderKey: string;
  /** What the leader key holds: the address replicas and clients dial to reach this process. */
  readonly address: string;
  readonly leaseSeconds: number;
  /** How often a standby looks at the leader key. */
  readonly pollMs: number;
  /** Subtracted from what the lease is known to last, for clock rates and scheduling. */
  readonly marginMs: number;
  readonly logger: Logger;
  /** This process leads from now, in the term named by `term` (the leader key's create revision). */
  readonly onElected: (term: number) => void;
  /** It no longer leads (or must not act as if it did): stop acting now. */
  readonly onDeposed: (reason: string) => void;
}

export class EtcdLeadership {
  private leaseId: string | null = null;
  private leaseTtlMs = 0;
  /** performance.now() until which the lease is known to be alive. */
  private leaseValidUntilMs = 0;
  private term: number | null = null;
  private leader: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private lastProblem: string | null = null;

  constructor(private readonly options: LeadershipOptions) {}

  start(): void {
    void this.step();
  }

  /** Whether this process leads and its lease is surely alive: checked before each thing it does as leader. */
  get mayAct(): boolean {
    return this.term !== null && performance.now() < this.leaseValidUntilMs;
  }

  /** performance.now() until which this process may act as leader (its lease is surely alive). */
  get actsUntilMs(): number {
    return this.leaseValidUntilMs;
  }

  /** The leader's address as last read from etcd (this process's own while it leads), or null. */
  get leaderAddress(): string | null {
    return this.term !== null ? this.options.address : this.leader;
  }

  /** The etcd lease this process holds now (every coordinator keeps one, leading or not), or null. */
  get lease(): string | null {
    return this.leaseId;
  }

  /** The term this process leads in, or null. */
  get currentTerm(): number | null {
    return this.term;
  }

  /** Gives up leading (the state write lost its compare: another term began). */
  depose(reason: string): void {
    if (this.term === null) return;
    this.term = null;
    this.options.logger.warn({ reason }, 'no longer the leading coordinator');
    this.options.onDeposed(reason);
  }

  /** Stops, and revokes the lease so that a standby takes over at once. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.depose('closing');
    if (this.leaseId !== null) await this.options.client.revokeLease(this.leaseId).catch(() => undefined);
  }

  /** One round: renew (or get) the lease, then, unless leading, try to lead. Rescheduled at its end. */
  private async step(): Promise<void> {
    try {
      await this.renew();
      if (this.term === null && this.leaseId !== null) await this.campaign(this.leaseId);
      this.noteProblem(null);
    } catch (error) {
      this.noteProblem(error instanceof Error ? error.message : String(error));
    }
    if (this.term !== null && !this.mayAct) this.depose('the etcd lease was not renewed in time');
    if (this.closed) return;
    // A leader renews well before what it knows of its lease runs out (a slow answer leaves it less).
    const leftMs = this.leaseValidUntilMs - performance.now();
    const delayMs =
      this.term === null ? this.options.pollMs : Math.max(20, Math.min(this.leaseTtlMs / 4, leftMs / 3));
    this.timer = setTimeout(() => void this.step(), delayMs);
  }

  private async renew(): Promise<void> {
    const { client, leaseSeconds } = this.options;
    if (this.leaseId === null) {
      const sentAtMs = performance.now();
      const granted = await client.grantLease(leaseSeconds);
      this.leaseId = granted.id;
      this.leaseTtlMs = granted.ttlSeconds * 1000;
      this.leaseValidUntilMs = sentAtMs + this.leaseTtlMs - this.options.marginMs;
      return;
    }
    const sentAtMs = performance.now();
    const ttlSeconds = await client.keepAlive(this.leaseId);
    if (this.closed) return;
    if (ttlSeconds <= 0) {
      // etcd let it expire: whatever was attached to it, the leader key included, is gone.
      this.leaseId = null;
      this.leaseValidUntilMs = 0;
      this.depose('the etcd lease expired');
      return;
    }
    this.leaseValidUntilMs = sentAtMs + ttlSeconds * 1000 - this.options.marginMs;
  }

  private async campaign(leaseId: string): Promise<void> {
    const { client, leaderKey, address, logger } = this.options;
    const result = await client.txn(
      [{ key: leaderKey, target: 'CREATE', revision: 0 }],
      [{ key: leaderKey, value: Buffer.from(address, 'utf8'), lease: leaseId }],
    );
    if (this.closed) return;
    let term: number | null = null;
    if (result.succeeded) term = result.revision;
    else if (result.current !== null && result.current.lease === leaseId) {
      // Our own key, from before this process stopped acting (a renewal that came too late): lead again, in a new term of our own making.
      term = result.current.createRevision;
    }
    if (term === null || !this.mayActWith(term)) {
      const leader = result.current?.value.toString('utf8') ?? null;
      if (leader !== this.leader) logger.info({ leader }, 'standing by');
      this.leader = leader;
      return;
    }
    this.term = term;
    this.leader = address;
    logger.info({ term, address }, 'elected the leading coordinator');
    this.options.onElected(term);
  }

  private mayActWith(term: number): boolean {
    return term > 0 && performance.now() < this.leaseValidUntilMs;
  }

  private noteProblem(problem: string | null): void {
    if (problem === this.lastProblem) return;
    if (problem !== null && etcdFullPattern.test(problem)) {
      this.options.logger.error({ problem, hint: etcdFullHint }, etcdFullMessage);
    } else if (problem !== null) this.options.logger.warn({ problem }, 'etcd unavailable');
    else if (this.lastProblem !== null) this.options.logger.info('etcd answers again');
    this.lastProblem = problem;
  }
}

/** What a coordinator logs (error) when etcd refuses its write for its space quota. */
export const etcdFullMessage = 'etcd is out of space';
/** etcd's words for a database past its space quota (its NOSPACE alarm), which refuses every write. */
const etcdFullPattern = /database space exceeded/;
const etcdFullHint =
  'etcd is past its space quota (its NOSPACE alarm) and refuses every write: no view can be stored, ' +
  'so no failover happens until space is freed (etcdctl compact, etcdctl defrag, etcdctl alarm disarm; ' +
  'run etcd with --auto-compaction-retention; docs/OPERATIONS.md, The coordinator on etcd)';
