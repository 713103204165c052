// Reads served under a staleness bound (a backup may answer them) may be stale, so they stay out of
// the linearizability check; this checks what they promise instead. Pure: the reads and the history
// of writes in, violations out.
//
// A bounded read of key k, sent at time t with bound B and minimum index m, answered as of log index
// i with value v, must hold:
//   - minimum index:   i ≥ m;
//   - staleness:       v reflects every write to k acknowledged before t − B;
//   - as of its index: v reflects every write to k acknowledged at an index ≤ i (with m the index of
//                      the client's last write, that is read-your-writes), and no write acknowledged
//                      at an index above i;
//   - cancelled:       v reflects no write the cluster said it cancelled (REQUEST_CANCELLED).
// Only acknowledged (ok) writes are held against a read: an info write may or may not have happened,
// and the workloads record async writes as info, since a failover may lose them by design. A write
// acknowledged before it committed (`replicated` durability: on the backups' memory, not their disk)
// is held only as of its index: the primary vouches for backups' freshness with its commit index, so
// the staleness bound covers such a write only once it committed, as it covers async writes.
//
// "Reflects", by the kind of key (write values are unique, as the workloads make them):
//   - an append list (the key has appends): v contains the write's token;
//   - a register (write, cas, incr, delete, replace): v was produced by an operation that does not
//     precede the write (an absent v by the initial state, a delete, or a cas that took the value).
//     P precedes X when P returned before X was called, or both name log indexes and P's is lower;
//     the initial null precedes every write. An incr whose result is unknown may have produced any
//     number, so a number v is then not judged;
//   - a counter (only increments): v is at least the write's result; and below the result of any
//     increment acknowledged at an index above i.
// A clear (FLUSHALL, once per key: history.ts) is a delete of a register; a key with one is no
// counter; and an append a clear may follow (the clear did not finish before the append began, nor
// sit at a lower index) is not held against a read, which may come after that clear.
// Each rule is sound: a read that breaks one saw a state no execution of the history allows.

import { ErrorCode } from '../protocol/error-codes.js';
import { isCasValue, type Operation, operationFunctions } from './history.js';

export interface BoundedRead {
  /** The history process that read (for messages). */
  readonly process: number;
  readonly key: string;
  /** The value read (null: absent). */
  readonly value: string | null;
  /** When the request that was answered left the client, on the history's clock. */
  readonly sent: number;
  /**
   * The staleness bound as real time on the history's clock. The replica measures the bound with its
   * own clock, so a caller that knows how that clock drifts widens the bound accordingly.
   */
  readonly bound: number;
  /** The bound as the client asked it, for messages. */
  readonly maxStalenessMs: number;
  /** The minimum log index the client asked for (0: none). */
  readonly minIndex: number;
  /** The log index the reply said the read observed. */
  readonly index: number;
  /** The replica that answered, for messages. */
  readonly replica: string;
}

export type BoundedReadRule = 'min-index' | 'staleness' | 'index' | 'cancelled' | 'unwritten';

export interface BoundedReadViolation {
  readonly rule: BoundedReadRule;
  readonly key: string;
  readonly message: string;
}

export interface BoundedReadReport {
  readonly checked: number;
  readonly violations: readonly BoundedReadViolation[];
}

type KeyKind = 'append' | 'register' | 'counter';

/** What one key's history offers the check. */
interface KeyHistory {
  readonly kind: KeyKind;
  /** Acknowledged writes (ok), the only ones a read is held to. */
  readonly acknowledged: readonly Operation[];
  /** Writes refused REQUEST_CANCELLED: never ran, never will. */
  readonly cancelled: readonly Operation[];
  /** Every write that did not fail: a possible producer of a register's value. */
  readonly possible: readonly Operation[];
  /** An incr whose result is unknown: it may have produced any number. */
  readonly unknownIncrement: boolean;
  /** Clears that did not fail: an append one of them may follow is not held against a read. */
  readonly clears: readonly Operation[];
}

/** Every function but a read changes the key (or may: a cas, a replace). */
const writeFunctions: ReadonlySet<Operation['f']> = new Set(operationFunctions.filter((f) => f !== 'read'));

export function checkBoundedReads(
  reads: readonly BoundedRead[],
  operations: readonly Operation[],
  /** Writes acknowledged before they committed (replicated ones): held by the index rule only. */
  acknowledgedBeforeCommit: ReadonlySet<Operation> = new Set(),
): BoundedReadReport {
  const histories = new Map<string, KeyHistory>();
  const byKey = new Map<string, Operation[]>();
  for (const operation of operations) {
    if (!writeFunctions.has(operation.f)) continue;
    const list = byKey.get(operation.key) ?? [];
    list.push(operation);
    byKey.set(operation.key, list);
  }
  const historyOf = (key: string): KeyHistory => {
    let history = histories.get(key);
    if (history === undefined) {
      history = keyHistory(byKey.get(key) ?? []);
      histories.set(key, history);
    }
    return history;
  };
  const violations: BoundedReadViolation[] = [];
  for (const read of reads) {
    const found = checkRead(read, historyOf(read.key), acknowledgedBeforeCommit);
    if (found !== null) violations.push({ ...found, key: read.key });
  }
  return { checked: reads.length, violations };
}

function keyHistory(writes: readonly Operation[]): KeyHistory {
  const appends = writes.some((operation) => operation.f === 'append');
  const onlyIncrements = writes.every(
    (operation) => operation.f === 'incr' && typeof operation.input === 'number' && operation.input > 0,
  );
  return {
    kind: appends ? 'append' : onlyIncrements ? 'counter' : 'register',
    acknowledged: writes.filter((operation) => operation.status === 'ok'),
    cancelled: writes.filter(
      (operation) => operation.status === 'fail' && operation.error === ErrorCode.requestCancelled,
    ),
    possible: writes.filter((operation) => operation.status !== 'fail'),
    unknownIncrement: writes.some((operation) => operation.f === 'incr' && operation.status === 'info'),
    clears: writes.filter((operation) => operation.f === 'clear' && operation.status !== 'fail'),
  };
}

type Found = Omit<BoundedReadViolation, 'key'>;

function checkRead(
  read: BoundedRead,
  history: KeyHistory,
  acknowledgedBeforeCommit: ReadonlySet<Operation>,
): Found | null {
  if (read.index < read.minIndex) {
    return { rule: 'min-index', message: `${describeRead(read)}: observed an index below the asked one` };
  }
  const cutoff = read.sent - read.bound;
  // Why each acknowledged write must be reflected: acknowledged before t − B, or at an index ≤ i.
  const reasons = new Map<Operation, 'staleness' | 'index'>();
  for (const write of history.acknowledged) {
    if (write.index !== undefined && write.index <= read.index) reasons.set(write, 'index');
    else if (write.ret < cutoff && !acknowledgedBeforeCommit.has(write)) reasons.set(write, 'staleness');
  }
  const later = history.acknowledged.filter((write) => write.index !== undefined && write.index > read.index);
  switch (history.kind) {
    case 'append':
      return checkAppendRead(read, history, reasons, later);
    case 'counter':
      return checkCounterRead(read, reasons, later);
    case 'register':
      return checkRegisterRead(read, history, reasons);
  }
}

function checkAppendRead(
  read: BoundedRead,
  history: KeyHistory,
  reasons: ReadonlyMap<Operation, 'staleness' | 'index'>,
  later: readonly Operation[],
): Found | null {
  const value = read.value ?? '';
  for (const [write, rule] of reasons) {
    if (write.f !== 'append' || typeof write.input !== 'string' || value.includes(write.input)) continue;
    if (history.clears.some((clear) => !precedes(clear, write))) continue;
    return { rule, message: `${describeRead(read)}: lacks ${describeWrite(write, rule, read)}` };
  }
  for (const write of later) {
    if (write.f !== 'append' || typeof write.input !== 'string' || !value.includes(write.input)) continue;
    return {
      rule: 'index',
      message: `${describeRead(read)}: holds ${describeWrite(write, null, read)}, above the index it observed`,
    };
  }
  for (const write of history.cancelled) {
    if (write.f !== 'append' || typeof write.input !== 'string' || !value.includes(write.input)) continue;
    return {
      rule: 'cancelled',
      message: `${describeRead(read)}: holds the cancelled ${describeWrite(write, null, read)}`,
    };
  }
  return null;
}

function checkCounterRead(
  read: BoundedRead,
  reasons: ReadonlyMap<Operation, 'staleness' | 'index'>,
  later: readonly Operation[],
): Found | null {
  const value = read.value === null ? 0 : integerOf(read.value);
  if (value === undefined) {
    return { rule: 'unwritten', message: `${describeRead(read)}: a counter holds numbers only` };
  }
  for (const [write, rule] of reasons) {
    if (typeof write.output === 'number' && value < write.output) {
      return { rule, message: `${describeRead(read)}: lacks ${describeWrite(write, rule, read)}` };
    }
  }
  for (const write of later) {
    if (typeof write.output === 'number' && value >= write.output) {
      return {
        rule: 'index',
        message: `${describeRead(read)}: reflects ${describeWrite(write, null, read)}, above the index it observed`,
      };
    }
  }
  return null;
}

function checkRegisterRead(
  read: BoundedRead,
  history: KeyHistory,
  reasons: ReadonlyMap<Operation, 'staleness' | 'index'>,
): Found | null {
  const value = read.value;
  // Who could have produced the value read; null stands for the initial (absent) value.
  const producers: (Operation | null)[] =
    value === null
      ? [null, ...history.possible.filter(deletes)]
      : history.possible.filter((write) => produced(write, value));
  if (producers.length === 0) {
    if (value !== null && integerOf(value) !== undefined && history.unknownIncrement) return null;
    const cancelled = history.cancelled.find((write) => value !== null && produced(write, value));
    if (cancelled !== undefined) {
      return {
        rule: 'cancelled',
        message: `${describeRead(read)}: the value of the cancelled ${describeWrite(cancelled, null, read)}`,
      };
    }
    return { rule: 'unwritten', message: `${describeRead(read)}: no operation wrote this value` };
  }
  if (value !== null && integerOf(value) !== undefined && history.unknownIncrement) return null;
  // The producer is the last write in the state read: it precedes none of the writes the read reflects,
  // and it is not above the index the read observed.
  let blocking: { readonly write: Operation; readonly rule: 'staleness' | 'index' } | null = null;
  for (const producer of producers) {
    if (producer !== null && producer.index !== undefined && producer.index > read.index) {
      blocking ??= { write: producer, rule: 'index' };
      continue;
    }
    let overwritten: { readonly write: Operation; readonly rule: 'staleness' | 'index' } | null = null;
    for (const [write, rule] of reasons) {
      if (write !== producer && precedes(producer, write)) {
        overwritten = { write, rule };
        break;
      }
    }
    if (overwritten === null) return null;
    blocking ??= overwritten;
  }
  if (blocking === null) return null;
  const { write, rule } = blocking;
  const why =
    producers.includes(write) && write.index !== undefined && write.index > read.index
      ? `was written by ${describeWrite(write, null, read)}, above the index it observed`
      : `was overwritten by ${describeWrite(write, rule, read)}`;
  return { rule, message: `${describeRead(read)}: the value read ${why}` };
}

/** Whether `write` leaves a register absent: a delete, or a cas that takes the value (GETDEL). */
function deletes(write: Operation): boolean {
  return (
    write.f === 'delete' ||
    write.f === 'clear' ||
    (write.f === 'cas' && isCasValue(write.input) && write.input[1] === null)
  );
}

/** Whether `write` could have left `value` in a register. */
function produced(write: Operation, value: string): boolean {
  switch (write.f) {
    case 'write':
    case 'replace':
      return write.input === value;
    case 'cas':
      return isCasValue(write.input) && write.input[1] === value;
    case 'incr':
      return write.status === 'ok' && typeof write.output === 'number' && String(write.output) === value;
    default:
      return false;
  }
}

/** `earlier` took effect before `later` in every execution: it returned first, or sits at a lower index. */
function precedes(earlier: Operation | null, later: Operation): boolean {
  if (earlier === null) return true;
  if (earlier.status === 'ok' && earlier.ret < later.call) return true;
  return earlier.index !== undefined && later.index !== undefined && earlier.index < later.index;
}

function integerOf(value: string): number | undefined {
  if (!/^-?[0-9]+$/.test(value)) return undefined;
  const number = Number(value);
  return Number.isSafeInteger(number) ? number : undefined;
}

const valueCharsMax = 60;

function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= valueCharsMax ? text : `${text.slice(0, valueCharsMax)}…`;
}

function describeRead(read: BoundedRead): string {
  const minimum = read.minIndex > 0 ? `, min index ${read.minIndex}` : '';
  return (
    `bounded read of ${quote(read.key)} by p${read.process} at ${read.replica} ` +
    `(sent at ${read.sent}, bound ${read.maxStalenessMs} ms${minimum}, observed index ${read.index}) ` +
    `returned ${quote(read.value)}`
  );
}

function describeWrite(write: Operation, rule: 'staleness' | 'index' | null, read: BoundedRead): string {
  const value = write.f === 'cas' && isCasValue(write.input) ? write.input[1] : write.input;
  const index = write.index === undefined ? '' : ` at index ${write.index}`;
  const when =
    rule === 'staleness'
      ? `, acknowledged at ${write.ret}, before ${read.sent} − bound ${read.bound}`
      : rule === 'index'
        ? ', at or below the index the read observed'
        : '';
  return `${write.f} ${quote(value)} by p${write.process}${index}${when}`;
}
