// Deliberate bugs, for proving that the simulator's checks catch them: each switch turns off one
// rule of the protocol (most of them a fix of issue 6, so the proof is that the simulator would have
// found the hole). Never set outside tests and `npm run sim -- --fault NAME`.

export interface TestOnlyFaults {
  /** A new primary forgets each session's last request, so retried requests run again. */
  readonly forgetSessionsOnPromotion?: boolean;
  /** The primary commits without waiting for the last backup of its view. */
  readonly commitWithoutLastBackup?: boolean;
  /**
   * Hole 1, as the code stood before: the coordinator acts on a primary's report of synced
   * learners made in any view, takes heartbeats in any order, and a primary keeps what it knew of
   * its learners into a new view and commits in a view the coordinator has not acknowledged (the
   * later rules close the same hole a second way, so all of them are switched off together).
   */
  readonly actOnReportsOfAnyView?: boolean;
  /** Hole 2: the coordinator ignores that a member's process or data directory changed. */
  readonly ignoreIdentityChanges?: boolean;
  /** Hole 3: a replica's time is the number of timer callbacks it got, not its clock. */
  readonly countTicksNotTime?: boolean;
  /** Hole 4: refusals are answered at once, from a state that may include uncommitted entries. */
  readonly answerRefusalsAtOnce?: boolean;
  /** Hole 10: only backups of the current view may lead next, even if no primary acknowledged it. */
  readonly candidatesFromCurrentViewOnly?: boolean;
  /** A backup serves bounded reads without checking that the primary vouched for its state lately. */
  readonly ignoreStalenessBound?: boolean;
  /**
   * Replicated writes: the coordinator chooses a new primary as it did before they existed, by the
   * longest log on disk among every candidate, restarted backups included (whose memory is gone).
   */
  readonly rankCandidatesByDiskOnly?: boolean;
  /**
   * Replicated writes: a restarted process takes a view made for its earlier process (whose memory
   * held what it lost) and leads it.
   */
  readonly leadViewsOfEarlierProcesses?: boolean;
  /** Commit quorum: the coordinator promotes as without one (no fence, no count of reports). */
  readonly promoteWithoutQuorumReports?: boolean;
  /** Switchover: the new primary's view is installed at once, while the old primary's lease runs. */
  readonly switchoverWithoutLeaseWait?: boolean;
  /** Coordinator on etcd: leases are granted in full however soon this coordinator's own lease ends. */
  readonly grantLeasesBeyondAuthority?: boolean;
  /**
   * Async loss record: a replica keeps the async writes it discarded only in memory until they are
   * on record, so a crash in between takes them out of the count.
   */
  readonly keepUnreportedLossesInMemory?: boolean;
  /**
   * Commit quorum: a primary kept in a new view owes its backups only what it has committed, not what
   * it inherited (sim seed 2066).
   */
  readonly settleOnlyCommitsWhenKept?: boolean;
  /**
   * Snapshot save: a primary takes a save without a lease, so one deposed without knowing it saves a
   * state that lacks what the new primary acknowledged.
   */
  readonly saveWithoutLease?: boolean;
  /**
   * Keys that expire: the key/value store looks 100 ms ahead when it picks the keys whose time came,
   * so they go early. Honoured by the simulator's store (src/sim/expiry-workload.ts), where the check
   * that a key lives at least its time to live must catch it.
   */
  readonly expireEarly?: boolean;
  /**
   * Keys that expire: the key/value store never hands the primary the deletion of a key whose time
   * came. Honoured by the simulator's store, where the check that the healed cluster deletes every key
   * due must catch it.
   */
  readonly neverExpire?: boolean;
  /**
   * Keys that expire: applying a put's update (or a persist's) leaves the key's time to live, so a key
   * written without one still expires. Honoured by the simulator's store, where the check that a key
   * whose time was taken away is not deleted by expiry must catch it.
   */
  readonly keepTtlOnPut?: boolean;
  /**
   * Scans: the key/value store's cursor is a position in its keys' order (the naive cursor, which a
   * deletion behind it shifts, so the key after it is skipped) instead of a hash bucket. Honoured by
   * the simulator's store, where the check that a whole scan returns every key present throughout
   * must catch it.
   */
  readonly scanByPosition?: boolean;
  /**
   * Scans: each replica keys SCAN's buckets with a seed of its own instead of the one the primary
   * logged, so a cursor names other buckets at another replica. Honoured by the simulator's store,
   * where the check that a whole scan (carried across failovers) returns every key present
   * throughout must catch it.
   */
  readonly ownScanSeeds?: boolean;
  /**
   * Snapshot writes that fail: the core ignores the shell's report of one and waits for the write for
   * ever, so it takes no snapshot again. The check that a replica keeps a snapshot once its disk
   * healed must catch it.
   */
  readonly ignoreFailedSnapshots?: boolean;
  /**
   * Format levels not kept between peers: a primary sends a follower what its sync said it cannot
   * read, and a replica takes what its peers send even after the coordinator said the cluster logs
   * more than it reads. A primary that still lists a replica from before its restart on an older
   * build sends it what it cannot read. (Each of the two rules alone masks the other's removal from
   * the simulator's seeds: unit tests hold each.)
   */
  readonly readAboveFormatLevel?: boolean;
  /** The key/value store draws its scan seed whatever the cluster's format level: an older build's replica meets it. */
  readonly seedAtAnyFormatLevel?: boolean;
}

export const testOnlyFaultNames = [
  'forgetSessionsOnPromotion',
  'commitWithoutLastBackup',
  'actOnReportsOfAnyView',
  'ignoreIdentityChanges',
  'countTicksNotTime',
  'answerRefusalsAtOnce',
  'candidatesFromCurrentViewOnly',
  'ignoreStalenessBound',
  'rankCandidatesByDiskOnly',
  'leadViewsOfEarlierProcesses',
  'promoteWithoutQuorumReports',
  'switchoverWithoutLeaseWait',
  'grantLeasesBeyondAuthority',
  'keepUnreportedLossesInMemory',
  'settleOnlyCommitsWhenKept',
  'saveWithoutLease',
  'expireEarly',
  'neverExpire',
  'keepTtlOnPut',
  'scanByPosition',
  'ownScanSeeds',
  'ignoreFailedSnapshots',
  'readAboveFormatLevel',
  'seedAtAnyFormatLevel',
] as const satisfies readonly (keyof TestOnlyFaults)[];
