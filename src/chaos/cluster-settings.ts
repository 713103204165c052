// The settings a chaos cluster's replicas run with, named once. A file of its own, importing
// nothing, so the CLI can show the defaults without loading the chaos code.
//
// The limits are small on purpose: snapshots, log compaction and state transfers happen all the
// time, and client sessions expire under the workload, so a run drives those paths as hard as the
// faults. A run with the transfer-kill nemesis also slows transfers and writes a ballast first, so
// that a snapshot spans several transfer chunks (1 MiB each) and takes seconds to send: long enough
// to kill the learner in the middle and see it resume.

/**
 * History processes that go through the replicas' Redis ports (`chaos --redis-clients`), unless the
 * options say; every replica then runs with `--resp`. Three, so that connections share a port's
 * sequences (src/resp/shared-sequences.ts): they start at the same port, and a shared sequence needs
 * two commands that come while a third is under way.
 */
export const CHAOS_REDIS_PROCESSES_DEFAULT = 3;
/** Log bytes since the last snapshot before a replica takes the next (`--snapshot-log-bytes`). */
export const CHAOS_SNAPSHOT_LOG_BYTES = 64 * 1024;
/**
 * Client sessions a replica keeps (`--sessions-max`), when `chaos --sessions-max` does not say: the
 * seed picks one of these. Each write in flight holds a session, and one left unknown keeps its own
 * until it expires, so with the default workload's 10 processes: 8 expires sessions every second
 * (writes retried after a fault meet SESSION_EXPIRED), 16 pushes out those of unknown writes after
 * a few more (a late request-status question may find it expired), 32 rarely expires any.
 */
export const CHAOS_SESSIONS_MAX_CHOICES = [8, 16, 32] as const;
/**
 * With the transfer-kill nemesis: every replica serves snapshots at this pace (`--transfer-rate`),
 * and CHAOS_BALLAST_KEYS values of CHAOS_BALLAST_VALUE_BYTES are written first, so a snapshot spans
 * five chunks and takes over a second to send. Not slower: a short run would end before a transfer
 * did (and one paced below half the write rate starts over; see docs/OPERATIONS.md, state transfer).
 */
export const CHAOS_TRANSFER_BYTES_PER_SECOND = 4 * 1024 * 1024;
export const CHAOS_BALLAST_KEYS = 6;
export const CHAOS_BALLAST_VALUE_BYTES = 768 * 1024;
/** The ballast's keys: outside the workload's, never in the history. */
export const ballastKey = (k: number): string => `ballast.${k}`;
