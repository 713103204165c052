// The check of reads served under a staleness bound (`read: 'any'`): a backup may answer them, so
// they may be stale by design and stay out of the linearizability check. Instead each one is held
// to what the bound promises. Pure: the writes and the bounded reads in, a verdict per read out.
//
// A bounded read of key k, invoked at time t with bound B (and readYourWrites or not), must see:
//   - staleness:        nothing older than the newest value of k acknowledged (a sync write that
//                       completed ok) more than B + slack before t;
//   - read-your-writes: nothing older than the newest value of k that its own connection (Client)
//                       got acknowledged at or before t, when it asked for readYourWrites.
// The slack (STALENESS_SLACK_MS) covers measuring: the member judges the bound by its own reading of
// the monotonic clock when its freshness was vouched for, the run by when the client saw an answer,
// both on this machine. Both directions of the error favour the member (an acknowledgement is seen
// after the primary sent it; a read is sent after it is invoked), so the slack is only a margin.
//
// "Older", by the kind of key:
//   - an append key: its value only grows, so a value is older than one that is longer; the read's
//     length must be at least the required write's answered length;
//   - a register: values are unique (each write and cas writes a value never written before; an
//     incr's answer is its number), so the value read names the write that produced it, and the log
//     index of that write orders it. The value read is recent enough if a write producing it has a
//     log index at or above the required one, or if one whose index is unknown (its outcome was
//     unknown) was invoked after the required write was acknowledged, so it follows it in the log.
//     The absent value (null) is the state before any write: index 0, or a deletion's (a key's time
//     to live ran out: the cluster deleted it, at an index unknown, no sooner than the time it is
//     recorded at). A value whose producers all
//     sit below the required index is stale; one no write explains, or only writes of unknown index
//     invoked before the required one completed, is not judged (counted as undecided).
// Each rule is sound given unique values: a read that breaks one saw a state older than the bound
// allows.
//
// A clear of every key (FLUSHALL) that may have come between a write and the read's state (it was
// not acknowledged before the write was invoked, and was invoked before the read was answered) may
// have emptied the key: such a write requires nothing of an append key's length, and on a register
// it explains the absent value (the clear's place in the log is not known: a Redis port's reply names
// no index).
// Which acknowledged write is "the newest": on an append key the longest (lengths grow in log order,
// so a write of unknown index, such as one through a Redis port, whose reply names no index, still
// takes its place); on a register the one of the highest log index (a register write of unknown
// index cannot be placed, so it requires nothing).

/** Added to every bound: the margin for measuring (see the file header). */
export const STALENESS_SLACK_MS = 50;

export type KeyKind = 'register' | 'append';

/** A write as the staleness check sees it: what it made the key, and when and where. */
export interface WriteVersion {
  readonly key: string;
  readonly kind: KeyKind;
  /** A register's value after the write (null: a deletion); an append key's length after it (bytes). */
  readonly version: string | number | null;
  /** The write's log index; null when its outcome was unknown, or its reply named none (a Redis port's). */
  readonly index: number | null;
  /** Monotonic nanoseconds, on the run's clock. */
  readonly invokedNs: number;
  /**
   * When a sync write's acknowledgement reached the client; null for writes that were not
   * acknowledged that way (async, outcome unknown, or learned only by asking for the request's status).
   */
  readonly acknowledgedNs: number | null;
  /**
   * Acknowledged before it committed (`replicated`: on the backups' memory, not yet their disk). A
   * backup's freshness is vouched for by the commit index, so the staleness bound covers such a write
   * only once it committed: it is held to read-your-writes (the index), not to the bound.
   */
  readonly beforeCommit?: boolean;
  /** The Client (one connection) that sent it. */
  readonly client: number;
}

/** A read answered under a staleness bound. */
export interface BoundedRead {
  readonly process: number;
  readonly client: number;
  readonly key: string;
  readonly kind: KeyKind;
  /** A register's value (null: absent); an append key's length (0 when absent). */
  readonly version: string | number | null;
  readonly invokedNs: number;
  readonly maxStalenessMs: number;
  readonly readYourWrites: boolean;
  /** Who answered (a replica id), for messages and for counting reads served by backups. */
  readonly member: string;
  /** The view the answer came from. */
  readonly view: number;
  /** The log index the member said the read observed, for messages. */
  readonly index: number;
  /** When the answer reached the client, on the run's clock: the read's state is no later than that. */
  readonly answeredNs: number;
}

/** A clear of every key (FLUSHALL): when it was invoked, and acknowledged (null: not known to be). */
export interface ClearVersion {
  readonly invokedNs: number;
  readonly acknowledgedNs: number | null;
}

export type StalenessRule = 'staleness' | 'read-your-writes';

export interface StalenessViolation {
  readonly rule: StalenessRule;
  readonly key: string;
  readonly message: string;
}

export interface StalenessReport {
  /** Reads judged (and found recent enough, or not). */
  readonly checked: number;
  /** Register reads of a value that no write of known order explains (see the file header). */
  readonly undecided: number;
  readonly violations: readonly StalenessViolation[];
}

interface KeyWrites {
  /** Sync writes acknowledged to the client, in order of acknowledgement. */
  readonly acknowledged: WriteVersion[];
  /** Register value → the writes that produced it. */
  readonly producers: Map<string | number | null, WriteVersion[]>;
}

export function checkStaleness(
  writes: readonly WriteVersion[],
  reads: readonly BoundedRead[],
  slackMs: number = STALENESS_SLACK_MS,
  clears: readonly ClearVersion[] = [],
  /** How far a member's clock rate may be from 1: a bound it judges by its own clock lasts B / (1 − drift). */
  clockDrift = 0,
): StalenessReport {
  /** Whether a clear may sit between `write` and the state `read` saw (see the file header). */
  const clearedBetween = (write: WriteVersion, read: BoundedRead): boolean =>
    clears.some(
      (clear) =>
        clear.invokedNs < read.answeredNs &&
        (clear.acknowledgedNs ?? Number.POSITIVE_INFINITY) > write.invokedNs,
    );
  const byKey = new Map<string, KeyWrites>();
  for (const write of writes) {
    let group = byKey.get(write.key);
    if (group === undefined) {
      group = { acknowledged: [], producers: new Map() };
      byKey.set(write.key, group);
    }
    if (write.acknowledgedNs !== null && (write.index !== null || write.kind === 'append')) {
      group.acknowledged.push(write);
    }
    const producers = group.producers.get(write.version);
    if (producers === undefined) group.producers.set(write.version, [write]);
    else producers.push(write);
  }
  for (const group of byKey.values()) {
    group.acknowledged.sort((a, b) => (a.acknowledgedNs ?? 0) - (b.acknowledgedNs ?? 0));
  }

  // An append a clear may have followed requires nothing: the key may have been emptied since.
  const survives = (write: WriteVersion, read: BoundedRead): boolean =>
    write.kind !== 'append' || !clearedBetween(write, read);
  let checked = 0;
  let undecided = 0;
  const violations: StalenessViolation[] = [];
  for (const read of reads) {
    const group = byKey.get(read.key) ?? { acknowledged: [], producers: new Map() };
    const cutoffNs = read.invokedNs - (read.maxStalenessMs / (1 - clockDrift) + slackMs) * 1e6;
    const requirements: [StalenessRule, WriteVersion | null][] = [
      [
        'staleness',
        newest(
          group.acknowledged,
          (write) =>
            write.beforeCommit !== true && (write.acknowledgedNs ?? 0) < cutoffNs && survives(write, read),
        ),
      ],
    ];
    if (read.readYourWrites) {
      requirements.push([
        'read-your-writes',
        newest(
          group.acknowledged,
          (write) =>
            write.client === read.client &&
            (write.acknowledgedNs ?? 0) <= read.invokedNs &&
            survives(write, read),
        ),
      ]);
    }
    let violated = false;
    let decided = true;
    for (const [rule, required] of requirements) {
      if (required === null) continue;
      const judged =
        read.version === null && clearedBetween(required, read) ? 'recent' : judge(read, required, group);
      if (judged === 'older') {
        violations.push({ rule, key: read.key, message: describeViolation(rule, read, required) });
        violated = true;
        break;
      }
      if (judged === 'undecided') decided = false;
    }
    if (violated || decided) checked += 1;
    else undecided += 1;
  }
  return { checked, undecided, violations };
}

/** The latest acknowledged write in log order among those that `qualifies`, or null (see the header). */
function newest(
  acknowledged: readonly WriteVersion[],
  qualifies: (write: WriteVersion) => boolean,
): WriteVersion | null {
  let best: WriteVersion | null = null;
  for (const write of acknowledged) {
    if (!qualifies(write)) continue;
    if (best === null || logOrder(write) > logOrder(best)) best = write;
  }
  return best;
}

/** An append key's length, a register's log index: what orders a key's writes in the log. */
function logOrder(write: WriteVersion): number {
  return write.kind === 'append' ? Number(write.version) : (write.index ?? 0);
}

/** Whether what `read` saw is at least as recent as `required`. */
function judge(
  read: BoundedRead,
  required: WriteVersion,
  group: KeyWrites,
): 'recent' | 'older' | 'undecided' {
  if (read.kind === 'append') {
    const length = typeof read.version === 'number' ? read.version : 0;
    return length >= Number(required.version) ? 'recent' : 'older';
  }
  if (read.version === required.version) return 'recent';
  const requiredIndex = required.index ?? 0;
  if (read.version === null && requiredIndex === 0) return 'recent';
  const producers = group.producers.get(read.version) ?? [];
  // No deletion explains an absent value: only the state before any write does, which is older.
  if (read.version === null && producers.length === 0) return 'older';
  let anyUndecided = producers.length === 0;
  for (const producer of producers) {
    if (producer.index !== null) {
      if (producer.index >= requiredIndex) return 'recent';
    } else if (producer.invokedNs > (required.acknowledgedNs ?? Number.POSITIVE_INFINITY)) {
      return 'recent';
    } else {
      anyUndecided = true;
    }
  }
  return anyUndecided ? 'undecided' : 'older';
}

function describeViolation(rule: StalenessRule, read: BoundedRead, required: WriteVersion): string {
  const seconds = (nanoseconds: number | null) => `${((nanoseconds ?? 0) / 1e9).toFixed(3)} s`;
  const what = read.kind === 'append' ? 'length' : 'value';
  const why =
    rule === 'staleness'
      ? `acknowledged at ${seconds(required.acknowledgedNs)}, more than ${read.maxStalenessMs} ms (+${STALENESS_SLACK_MS} ms slack) before the read`
      : `acknowledged to the same connection (client ${read.client}) at ${seconds(required.acknowledgedNs)}, before the read with readYourWrites`;
  return (
    `key ${JSON.stringify(read.key)}: p${read.process}'s bounded read invoked at ${seconds(read.invokedNs)} ` +
    `(maxStalenessMs ${read.maxStalenessMs}${read.readYourWrites ? ', readYourWrites' : ''}) ` +
    `saw ${what} ${JSON.stringify(read.version)} from ${read.member} as of index ${read.index}, ` +
    `older than ${what} ${JSON.stringify(required.version)} (index ${required.index}) ${why}`
  );
}
