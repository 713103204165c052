// Linearizability checker for per-key registers (read, write, append, cas, incr, delete, replace). Written here
// rather than borrowed because the checker is part of the product's proof of correctness.
//
// The register model is per key, so the history is partitioned by key and each part is checked
// alone (linearizability is compositional). Per key: the Wing & Gong search with Lowe's
// memoization, as in Porcupine. Calls and returns sit in a time-ordered doubly linked list; the
// search walks it, placing a call whose transition is legal from the current value (and lifting
// its call and return out of the list), and backtracks when it meets the return of an operation
// not yet placed. A cache of (set of placed operations, value) prunes configurations already
// explored; the set is a bitset with an incremental Zobrist hash.
//
// An acknowledged append reports the value's new length in bytes, not the value (the store keeps
// every result in its log, so it answers as Redis APPEND does): it is legal only from a value
// exactly its input's length shorter, counted in UTF-8 bytes as the store counts, and leaves that
// value with the input after it. A lost or doubled append thus still shows, in the length of every
// append after it and in every read.
//
// A delete leaves the key absent whatever it held, and so does a clear (FLUSHALL), which goes into
// the search once per key (history.ts, expandClears). A replace (Redis SET XX) writes only a present
// key: acknowledged, the value before it was present; failed without a code, it was absent.
//
// Outcomes: a "fail" is an observation wherever the model knows why it failed. A cas fail without
// an error code means "did not swap": the value differed from `expected`. A refusal the service
// gives because of the value is legal only where the value allows it, and leaves it unchanged:
// incr refused NOT_AN_INTEGER (the value is present and not a decimal safe integer), append
// refused VALUE_TOO_LARGE (the value would outgrow `valueSizeMaxBytes`, when that is given). Any
// other fail is left out of the search and reported in `unmodeledFailures`, never dropped
// silently — except a write refused REQUEST_CANCELLED: the cluster answered a request-status
// question that it never ran and never will, so it is left out of the search as the no-op it is; if
// it ran after all, the value it wrote (values are unique) is one no operation in the search
// explains, and the key is not linearizable. "info" operations have ret = Infinity: each may be placed anywhere after its call, or
// never, so the search ends once every operation with a finite ret is placed. Unknown operations
// make the search explode, so four rules, each sound, keep them in check: (1) they are tried
// after known ones and the cache lets a configuration that placed fewer of them subsume one that
// placed more; (2) one is never placed just before a write, which would undo it; (3) alike ones
// are placed in order of call; (4) ones no later operation could observe are dropped up front,
// or, where only cas failures could, made to leave one stand-in value. Refusals, cas failures and
// acknowledged appends observe a predicate of the value (not equal to `expected`, not an integer,
// too long, this many bytes long), never the value itself: rule 4 counts the values they accept as
// observed, and words that only cas failures and incr refusals accept leave a second stand-in, a
// word, since no operation tells them apart.
// Each rule was checked against a brute-force search (see test/unit/check-property.test.ts).
// Equal times count as concurrent. A search that runs out of steps answers "unknown", never
// "linearizable".

import { assert } from '../protocol/assert.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { isCasValue, type Operation, type OperationFunction } from './history.js';

export type CheckResult = 'linearizable' | 'not-linearizable' | 'unknown';

export interface KeyCheck {
  readonly result: CheckResult;
  /** Operations that took part in the search (unmodeled failures and unneeded unknown ones are dropped). */
  readonly operations: number;
  readonly steps: number;
  /** For not-linearizable: the longest legal order found and the operations that could not follow. */
  readonly explanation?: string;
}

export interface LinearizabilityReport {
  readonly result: CheckResult;
  readonly perKey: Map<string, KeyCheck>;
  /**
   * Failed operations the model cannot check, grouped by function and error code: left out of the
   * search as if they never happened, which nothing confirmed. Empty when every fail was checked;
   * a runner should treat anything here as a finding (a workload recording an unexpected refusal
   * as a fail, or a refusal the checker was not told how to judge).
   */
  readonly unmodeledFailures: readonly UnmodeledFailure[];
}

export interface UnmodeledFailure {
  readonly f: OperationFunction;
  /** The error code, or null for a fail that names none (only a cas fail may: "did not swap"). */
  readonly error: string | null;
  readonly count: number;
  /** The first such operation in the history. */
  readonly example: Operation;
}

export interface LinearizabilityOptions {
  /** Search steps allowed per key before answering "unknown". */
  readonly budgetSteps?: number;
  /**
   * The service's value limit (`KvLimits.valueSizeMaxBytes`). With it, an append refused
   * VALUE_TOO_LARGE is checked (legal only where the value would outgrow it), and no append takes
   * effect where it would; without it, such refusals are unmodeled.
   */
  readonly valueSizeMaxBytes?: number;
}

/** The refusals the model judges: each is legal only from the values that provoke it. */
export const modeledRefusals: Readonly<Partial<Record<OperationFunction, string>>> = {
  incr: ErrorCode.notAnInteger,
  append: ErrorCode.valueTooLarge,
};

export const searchStepsPerKeyMaxDefault = 1_000_000;

/** Shown in an explanation: the last operations of the longest legal order, and the blocked ones. */
const explanationPrefixOperationsMax = 4;
const explanationBlockedOperationsMax = 6;
const explanationValueCharsMax = 60;

type RegisterValue = string | null;
/** The register after the operation, or undefined if it cannot take effect with the result it gave. */
type Transition = (value: RegisterValue) => RegisterValue | undefined;

export function checkLinearizable(
  operations: readonly Operation[],
  options: LinearizabilityOptions = {},
): LinearizabilityReport {
  const budgetSteps = options.budgetSteps ?? searchStepsPerKeyMaxDefault;
  const limits: ModelLimits = { valueSizeMaxBytes: options.valueSizeMaxBytes ?? null };
  if (limits.valueSizeMaxBytes !== null) {
    assert(
      Number.isSafeInteger(limits.valueSizeMaxBytes) && limits.valueSizeMaxBytes >= 0,
      'valueSizeMaxBytes is a byte count',
    );
  }
  const byKey = new Map<string, Operation[]>();
  const unmodeled = new Map<string, { readonly example: Operation; count: number }>();
  for (const operation of operations) {
    if (operation.status === 'info' && operation.f === 'read') continue; // no effect, no observation
    if (neverRan(operation)) continue; // never ran, never will: no effect, no observation
    if (operation.status === 'fail' && !isModeledFailure(operation, limits)) {
      const group = `${operation.f} ${operation.error}`;
      const seen = unmodeled.get(group);
      if (seen === undefined) unmodeled.set(group, { example: operation, count: 1 });
      else seen.count += 1;
      continue;
    }
    const group = byKey.get(operation.key);
    if (group === undefined) byKey.set(operation.key, [operation]);
    else group.push(operation);
  }
  const perKey = new Map<string, KeyCheck>();
  for (const [key, group] of byKey) {
    perKey.set(key, checkKey(key, planUnknowns(group, limits), limits, budgetSteps));
  }
  const results = [...perKey.values()].map((check) => check.result);
  const result = results.includes('not-linearizable')
    ? 'not-linearizable'
    : results.includes('unknown')
      ? 'unknown'
      : 'linearizable';
  const unmodeledFailures = [...unmodeled.values()].map(({ example, count }) => ({
    f: example.f,
    error: example.error ?? null,
    count,
    example,
  }));
  return { result, perKey, unmodeledFailures };
}

/** What the model knows of the service's limits; null where the caller did not say. */
interface ModelLimits {
  readonly valueSizeMaxBytes: number | null;
}

/**
 * A write the cluster said never ran: cancelled (REQUEST_CANCELLED), or in a transaction refused
 * whole because a key it watched changed (VALUE_CHANGED). It never took effect.
 */
export function neverRan({ f, status, error }: Operation): boolean {
  return (
    status === 'fail' &&
    (error === ErrorCode.requestCancelled || error === ErrorCode.valueChanged) &&
    f !== 'read'
  );
}

/** A cas that did not swap, or a refusal the model can judge from the value. */
function isModeledFailure({ f, error }: Operation, limits: ModelLimits): boolean {
  if (error === undefined) return f === 'cas' || f === 'replace';
  if (error !== modeledRefusals[f]) return false;
  return f !== 'append' || limits.valueSizeMaxBytes !== null;
}

/**
 * Doubly linked lists over entries (entry i < n is the call of operation i, n + i its return),
 * each after a head sentinel. Lifting and restoring in last-in-first-out order is O(1).
 */
class EntryLists {
  readonly #next: Int32Array;
  readonly #previous: Int32Array;

  constructor(size: number) {
    this.#next = new Int32Array(size).fill(-1);
    this.#previous = new Int32Array(size).fill(-1);
  }

  /** Links `entries` after `head`, in the order given. */
  link(head: number, entries: readonly number[]): void {
    let last = head;
    for (const entry of entries) {
      this.#insertAfter(last, entry);
      last = entry;
    }
  }

  after(entry: number): number {
    return this.#next[entry] ?? -1;
  }

  lift(entry: number): void {
    const after = this.after(entry);
    const before = this.#previous[entry] ?? -1;
    this.#next[before] = after;
    if (after !== -1) this.#previous[after] = before;
  }

  /** Puts a lifted entry back; entries must be restored in the reverse order of lifting. */
  restore(entry: number): void {
    const after = this.after(entry);
    this.#next[this.#previous[entry] ?? -1] = entry;
    if (after !== -1) this.#previous[after] = entry;
  }

  /** Inserts `entry` after `from` and the entries following it that come before it in `order`. */
  insertInOrder(entry: number, from: number, order: (a: number, b: number) => number): void {
    let at = from;
    while (this.after(at) !== -1 && order(this.after(at), entry) < 0) at = this.after(at);
    this.#insertAfter(at, entry);
  }

  #insertAfter(at: number, entry: number): void {
    this.#next[entry] = this.after(at);
    this.#previous[entry] = at;
    this.restore(entry);
  }
}

/** Whether `f` leaves the same value whatever it finds: a write, a delete, a clear. */
const overwrites = (f: OperationFunction): boolean => f === 'write' || f === 'delete' || f === 'clear';

/** Where the scan for the next candidate is: known calls, unknown ones for any value, or for this value. */
type Phase = 'known' | 'unknownAnyValue' | 'unknownThisValue';

function checkKey(key: string, plan: SearchPlan, limits: ModelLimits, budgetSteps: number): KeyCheck {
  const { operations, standIns, unobservedValue, unobservedWordValue, boundRead } = plan;
  const bound = boundRead === -1 ? null : operationAt(operations, boundRead).output;
  let boundPlaced = false;
  const withinBound = (reached: RegisterValue): boolean =>
    boundPlaced || typeof bound !== 'string' || reached === null || bound.startsWith(reached);
  const operationCount = operations.length;
  const transitions = operations.map((operation) => compileTransition(operation, limits, plan));
  const isInfo = operations.map((operation) => !Number.isFinite(operation.ret));
  const callOf = (index: number): number => operationAt(operations, index).call;
  const timeOf = (entry: number): number =>
    entry < operationCount ? callOf(entry) : operationAt(operations, entry - operationCount).ret;
  // Calls before returns at equal time, so operations touching at an instant overlap.
  const inTimeOrder = (a: number, b: number): number =>
    timeOf(a) - timeOf(b) || Number(a >= operationCount) - Number(b >= operationCount) || a - b;

  // Known operations' calls and returns in one list. Unknown ones' calls in others: one for those
  // legal from any value, one per expected value for cas. Alike unknown operations (same f and
  // input) are interchangeable, so only the first unplaced one of a kind is listed; placing it
  // lists the next (its successor).
  const knownHead = 2 * operationCount;
  const anyValueHead = knownHead + 1;
  const casHeads = new Map<RegisterValue, number>();
  const headOf = new Int32Array(operationCount).fill(anyValueHead);
  const successor = new Int32Array(operationCount).fill(-1);
  const lastOfKind = new Map<string, number>();
  const listed = new Map<number, number[]>();
  const known = [...operations.keys()].filter((index) => !isInfo[index]);
  for (const index of [...operations.keys()].filter((index) => isInfo[index]).sort(inTimeOrder)) {
    const operation = operationAt(operations, index);
    const { f, input } = operation;
    const expected = isCasValue(input) ? input[0] : undefined;
    if (f === 'cas' && expected !== undefined) {
      headOf[index] = casHeads.get(expected) ?? anyValueHead + 1 + casHeads.size;
      casHeads.set(expected, headOf[index] ?? anyValueHead);
    }
    const standIn = standIns.get(operation);
    const kind =
      standIn === undefined
        ? `${f} ${JSON.stringify(input)}`
        : `${f} ${JSON.stringify(expected)} → ${JSON.stringify(standIn)}`;
    const last = lastOfKind.get(kind);
    lastOfKind.set(kind, index);
    const head = headOf[index] ?? anyValueHead;
    if (last !== undefined) successor[last] = index;
    else listed.set(head, [...(listed.get(head) ?? []), index]);
  }
  const lists = new EntryLists(anyValueHead + 1 + casHeads.size);
  lists.link(knownHead, [...known, ...known.map((index) => operationCount + index)].sort(inTimeOrder));
  for (const [head, entries] of listed) lists.link(head, entries);

  const cache = new ConfigurationCache(isInfo);
  const stack: { readonly call: number; readonly value: RegisterValue; readonly deadline: number }[] = [];
  let value: RegisterValue = null;
  let remaining = known.length;
  // The longest legal order found, for the explanation: it shares its first `deepestShared`
  // operations with the stack, so extending it copies each placement at most once.
  const deepest: number[] = [];
  let deepestValue: RegisterValue = null;
  let deepestShared = 0;
  let entry = lists.after(knownHead);
  let phase: Phase = 'known';
  let deadline = Number.NaN; // while scanning unknown calls: the time of the first outstanding return
  let steps = 0;
  while (remaining > 0) {
    if (steps >= budgetSteps) return { result: 'unknown', operations: operationCount, steps };
    steps++;
    if (phase === 'known') {
      assert(entry !== -1, 'an outstanding return is in the list');
      if (entry >= operationCount) {
        // Known calls are exhausted; unknown ones may still be placed up to this return.
        [phase, deadline, entry] = ['unknownAnyValue', timeOf(entry), lists.after(anyValueHead)];
        continue;
      }
    } else if (entry === -1 || callOf(entry) > deadline) {
      if (phase === 'unknownAnyValue') {
        const head = casHeads.get(value);
        [phase, entry] = ['unknownThisValue', head === undefined ? -1 : lists.after(head)];
        continue;
      }
      // No candidate is left: nothing placed so far leads on, so undo the last placement.
      const top = stack.pop();
      if (top === undefined) {
        const valueText =
          deepestValue === unobservedValue
            ? '(never observed)'
            : deepestValue === unobservedWordValue
              ? '(a word never observed)'
              : quote(deepestValue);
        const explanation = explain(key, operations, deepest, valueText);
        return { result: 'not-linearizable', operations: operationCount, steps, explanation };
      }
      ({ value, deadline } = top);
      if (top.call === boundRead) boundPlaced = false;
      deepestShared = Math.min(deepestShared, stack.length);
      cache.toggle(top.call);
      if (isInfo[top.call]) {
        if ((successor[top.call] ?? -1) !== -1) lists.lift(successor[top.call] ?? -1);
        phase = headOf[top.call] === anyValueHead ? 'unknownAnyValue' : 'unknownThisValue';
      } else {
        remaining++;
        lists.restore(operationCount + top.call);
        phase = 'known';
      }
      lists.restore(top.call);
      entry = lists.after(top.call);
      continue;
    }
    // An unknown operation placed just before a write (or a delete, or a clear: each leaves the same
    // value whatever it finds) is undone by it, so searching only orders without that pair loses
    // nothing; the cache tells such configurations apart.
    const afterInfo = isInfo[stack[stack.length - 1]?.call ?? -1] === true;
    const skip = afterInfo && overwrites(operationAt(operations, entry).f);
    const reached: RegisterValue | undefined = skip ? undefined : transitions[entry]?.(value);
    const nextValue = reached !== undefined && withinBound(reached) ? reached : undefined;
    if (nextValue !== undefined) {
      cache.toggle(entry);
      if (cache.remember(nextValue, isInfo[entry] === true)) {
        stack.push({ call: entry, value, deadline });
        if (entry === boundRead) boundPlaced = true;
        value = nextValue;
        lists.lift(entry);
        if (isInfo[entry]) {
          const following = successor[entry] ?? -1;
          if (following !== -1) lists.insertInOrder(following, headOf[entry] ?? anyValueHead, inTimeOrder);
        } else {
          remaining--;
          lists.lift(operationCount + entry);
        }
        if (stack.length > deepest.length) {
          deepest.length = deepestShared;
          for (const placed of stack.slice(deepestShared)) deepest.push(placed.call);
          [deepestShared, deepestValue] = [stack.length, value];
        }
        [phase, deadline, entry] = ['known', Number.NaN, lists.after(knownHead)];
        continue;
      }
      cache.toggle(entry);
    }
    entry = lists.after(entry);
  }
  return { result: 'linearizable', operations: operationCount, steps };
}

/**
 * Configurations seen: the set of placed operations as a bitset, and the value. The hash covers
 * known operations only, so a configuration that placed a subset of the same unknown operations
 * is found, and subsumes: every option it left open is still open. To keep memory near the
 * number of operations in flight, a stored set keeps only its words between the settled ones
 * (every known operation placed, no unknown one) and the empty ones.
 */
class ConfigurationCache {
  readonly #isInfo: readonly boolean[];
  readonly #placed: Uint32Array;
  readonly #infoMask: Uint32Array;
  readonly #settled: Uint32Array;
  #knownHash = 0;
  readonly #seen = new Map<number, StoredConfiguration[]>();
  readonly #valueIds = new Map<RegisterValue, number>();

  constructor(isInfo: readonly boolean[]) {
    this.#isInfo = isInfo;
    this.#placed = new Uint32Array(Math.ceil(isInfo.length / 32));
    this.#infoMask = new Uint32Array(this.#placed.length);
    this.#settled = new Uint32Array(this.#placed.length);
    isInfo.forEach((info, index) => {
      const mask = info ? this.#infoMask : this.#settled;
      mask[index >>> 5] = (mask[index >>> 5] ?? 0) | (1 << (index & 31));
    });
  }

  /** Marks an operation placed, or no longer placed. */
  toggle(index: number): void {
    this.#placed[index >>> 5] = (this.#placed[index >>> 5] ?? 0) ^ (1 << (index & 31));
    if (!this.#isInfo[index]) this.#knownHash = (this.#knownHash ^ zobrist(index)) >>> 0;
  }

  /** Adds the current configuration; false if one seen before subsumes it. */
  remember(value: RegisterValue, afterInfo: boolean): boolean {
    const valueId = this.#valueIds.get(value) ?? this.#valueIds.size;
    this.#valueIds.set(value, valueId);
    let first = 0;
    while (first < this.#placed.length && this.#placed[first] === this.#settled[first]) first++;
    let end = this.#placed.length;
    while (end > first && this.#placed[end - 1] === 0) end--;
    const current = { first, words: this.#placed.subarray(first, end), valueId, afterInfo };
    const hash = (this.#knownHash ^ Math.imul(valueId + 1, 0x9e3779b1)) >>> 0;
    const bucket = this.#seen.get(hash) ?? [];
    if (bucket.some((seen) => this.#subsumes(seen, current))) return false;
    bucket.push({ ...current, words: current.words.slice() });
    if (bucket.length === 1) this.#seen.set(hash, bucket);
    return true;
  }

  /** The same value and known operations placed, a subset of the unknown ones, and no stricter rule. */
  #subsumes(seen: StoredConfiguration, current: StoredConfiguration): boolean {
    if (seen.valueId !== current.valueId || (seen.afterInfo && !current.afterInfo)) return false;
    const end = Math.max(seen.first + seen.words.length, current.first + current.words.length);
    for (let word = Math.min(seen.first, current.first); word < end; word++) {
      const had = this.#wordOf(seen, word);
      const has = this.#wordOf(current, word);
      if ((had & ~has) !== 0 || (has & ~had & ~(this.#infoMask[word] ?? 0)) !== 0) return false;
    }
    return true;
  }

  #wordOf(configuration: StoredConfiguration, word: number): number {
    if (word < configuration.first) return this.#settled[word] ?? 0;
    return configuration.words[word - configuration.first] ?? 0;
  }
}

interface StoredConfiguration {
  /** Words before this one are settled; words after `words` are empty. */
  readonly first: number;
  readonly words: Uint32Array;
  readonly valueId: number;
  /** Placed an unknown operation last, so may not place a write next (rule 2). */
  readonly afterInfo: boolean;
}

/** How the search treats unknown operations, decided from the whole history of a key. */
interface SearchPlan {
  readonly operations: readonly Operation[];
  /** Unknown writes and cas whose result no operation can tell apart from others: what they leave instead. */
  readonly standIns: ReadonlyMap<Operation, string>;
  /** Left instead of results that nothing accepts but cas failures. */
  readonly unobservedValue: string;
  /** Left instead of words that nothing accepts but cas failures and incr refusals. */
  readonly unobservedWordValue: string;
  /** On a key of appends and reads only: a known read of the longest value, or -1 (appendOnlyBound). */
  readonly boundRead: number;
}

/** What an unknown append whose token nothing reads appends instead, one per byte of it. */
const appendStandInCharacter = '\u0001';

/** Whether appending `input` could leave a decimal integer (an incr accepts it, a refusal does not). */
const couldBeNumeric = (input: string): boolean => /^[0-9-]*$/.test(input);

/**
 * Simplifies unknown operations before the search. The value an unknown write, cas or append
 * leaves matters only to an operation that accepts it as the value before it, so:
 * - an unknown append whose token no value read or expected contains (and whose length no
 *   acknowledged append sees: with any of those, every unknown append is kept), or an unknown
 *   write or cas whose result no operation accepts, can only be followed by a write that undoes
 *   it: it is dropped;
 * - but cas failures accept any value other than `expected`, so where there are some, such a
 *   write or cas is kept and produces one stand-in value instead, making alike ones
 *   interchangeable (rule 3).
 * Refusals accept whole classes of values too: an incr refusal every non-integer, an append
 * refusal every value too long to grow. A value one of those accepts counts as accepted, except
 * that words seen by nothing but incr refusals and cas failures are alike to every operation: they
 * leave a second stand-in, a word. An unknown append is kept wherever a refusal could see it (it
 * can make a value a non-integer, or long). No append refusal accepts a stand-in, and no incr
 * refusal the first one (they stand for results those refusals do not accept; see
 * compileTransition).
 * Where an unknown append could turn one value into another, nothing is simplified; where an
 * unknown increment could, numbers are not.
 * An unknown append that is kept but whose token no value read or expected contains is told apart
 * from others by its length alone (acknowledged appends' lengths, refusals of long values): it
 * appends a stand-in of as many bytes instead, so alike ones are interchangeable (rule 3). Between
 * clears, which leave a key empty, many such appends of equal lengths fit the same lengths, and
 * told apart by their tokens they made the search try each of their subsets after every clear.
 * A token that could leave a number (digits and minus signs only) keeps its own.
 */
function planUnknowns(operations: readonly Operation[], limits: ModelLimits): SearchPlan {
  const accepted = new Set<RegisterValue>();
  /** Byte lengths an acknowledged append accepts as the value before it. */
  const acceptedLengths = new Set<number>();
  const acceptedNumbers = new Set<number>();
  const observed: string[] = [];
  let casFails = false;
  let refusals = false;
  let nonIntegersAccepted = false;
  /** A value longer than this many bytes is accepted by some VALUE_TOO_LARGE refusal. */
  let tooLargeAboveBytes = Number.POSITIVE_INFINITY;
  let increments = false;
  let unknownIncrements = false;
  let unknownAppends = false;
  for (const { f, input, output, status } of operations) {
    const known = status === 'ok' && output !== null;
    if (f === 'replace') {
      // Failed, it saw the key absent; otherwise it accepts every present value, as cas failures do
      // every value but one: where there are replaces, unknown writes leave stand-ins (below).
      if (status === 'fail') accepted.add(null);
      else casFails = true;
      continue;
    }
    if (f === 'delete' || f === 'clear') continue; // leaves null whatever it finds: it observes nothing
    if (status === 'fail' && f !== 'cas') {
      // A refusal the model judges (the others never reach the search): it observes, never writes.
      refusals = true;
      if (f === 'incr') nonIntegersAccepted = true;
      else if (f === 'append' && typeof input === 'string' && limits.valueSizeMaxBytes !== null) {
        tooLargeAboveBytes = Math.min(tooLargeAboveBytes, limits.valueSizeMaxBytes - utf8ByteLength(input));
      }
    } else if (f === 'read') {
      accepted.add(output as RegisterValue);
      if (typeof output === 'string') observed.push(output);
    } else if (f === 'cas' && isCasValue(input)) {
      accepted.add(input[0]);
      if (input[0] !== null) observed.push(input[0]);
      casFails ||= status === 'fail';
    } else if (f === 'append' && known && typeof input === 'string' && typeof output === 'number') {
      acceptedLengths.add(output - utf8ByteLength(input));
    } else if (f === 'incr' && known && typeof input === 'number' && typeof output === 'number') {
      acceptedNumbers.add(output - input);
    } else if (f === 'incr') unknownIncrements = true;
    else if (f !== 'write') unknownAppends = true;
    increments ||= f === 'incr' && status !== 'fail';
  }
  // Only the observed values that are not a prefix of another: one per branch of the history.
  observed.sort();
  const longest = observed.filter((text, index) => !observed[index + 1]?.startsWith(text)).join('\u0000');
  const standInFor = (base: string): string => {
    let value = base;
    while (accepted.has(value)) value += '\u0000';
    return value;
  };
  const unobservedValue = standInFor('\u0000unobserved');
  const unobservedWordValue = standInFor('\u0000unobserved word');
  const standIns = new Map<Operation, string>();
  const appendStandIns = !longest.includes(appendStandInCharacter);
  const kept = operations.filter((operation) => {
    const { f, input, status } = operation;
    if (status !== 'info') return true;
    if (f === 'append') {
      const keep =
        typeof input !== 'string' ||
        input === '' ||
        casFails ||
        refusals ||
        increments ||
        acceptedLengths.size > 0 ||
        longest.includes(input);
      if (keep && appendStandIns && typeof input === 'string' && input !== '' && !longest.includes(input)) {
        // Seen by lengths, refusals or cas failures only, never in a value: only its length tells.
        if (!couldBeNumeric(input))
          standIns.set(operation, appendStandInCharacter.repeat(utf8ByteLength(input)));
      }
      return keep;
    }
    const result = f === 'write' || f === 'replace' ? input : isCasValue(input) ? input[1] : null;
    if (typeof result !== 'string' || unknownAppends || accepted.has(result)) return true;
    if (acceptedLengths.has(utf8ByteLength(result))) return true;
    const number = integerOf(result);
    if (number !== undefined && (unknownIncrements || acceptedNumbers.has(number))) return true;
    if (utf8ByteLength(result) > tooLargeAboveBytes) return true;
    if (number === undefined && nonIntegersAccepted) {
      standIns.set(operation, unobservedWordValue);
      return true;
    }
    if (casFails) standIns.set(operation, unobservedValue);
    return casFails;
  });
  return {
    operations: kept,
    standIns,
    unobservedValue,
    unobservedWordValue,
    boundRead: appendOnlyBound(kept),
  };
}

/**
 * On a key that only appends and reads, a value only ever grows at its end, so every value an order
 * reaches before a read must be a prefix of what that read returned. The read of the longest value
 * (every other read's a prefix of it, or the key is not linearizable and no bound is set) then bounds
 * every value reached while it is not yet placed: a search that places unknown appends in an order
 * that read contradicts stops at once, rather than when it reaches the read. Without it a key with a
 * dozen unknown appends (every replica down at once: chaos's disk-full) took 12.7 million steps.
 * Returns that read's index in `operations`, or -1.
 */
function appendOnlyBound(operations: readonly Operation[]): number {
  let bound = -1;
  let longest = '';
  const outputs: string[] = [];
  for (const [index, { f, status, output }] of operations.entries()) {
    if (f !== 'append' && f !== 'read') return -1;
    if (f !== 'read' || status !== 'ok') continue;
    const text = output === null ? '' : String(output);
    outputs.push(text);
    if (bound === -1 || text.length > longest.length) [bound, longest] = [index, text];
  }
  return outputs.every((text) => longest.startsWith(text)) ? bound : -1;
}

/**
 * The operation's transition. A write or cas with a stand-in leaves it instead of its result. The
 * stand-ins stand for results no append accepts (refused or acknowledged), and `unobservedValue`
 * for results no incr refusal accepts either, so those operations are illegal from them.
 */
function compileTransition(operation: Operation, limits: ModelLimits, plan: SearchPlan): Transition {
  const { unobservedValue, unobservedWordValue } = plan;
  const standIn = plan.standIns.get(operation);
  const { f, input, output, status, error } = operation;
  const fail = (): never => {
    throw new TypeError(
      `malformed ${status} ${f} on ${JSON.stringify(operation.key)}: ${JSON.stringify(operation)}`,
    );
  };
  const reported = status === 'ok' ? output : null;
  const { valueSizeMaxBytes } = limits;
  switch (f) {
    case 'read': {
      if (typeof output !== 'string' && output !== null) return fail();
      return (value) => (value === output ? value : undefined);
    }
    case 'write': {
      if (typeof input !== 'string') return fail();
      const written = standIn ?? input;
      return () => written;
    }
    case 'append': {
      if (typeof input !== 'string' || (typeof reported !== 'number' && reported !== null)) return fail();
      const inputBytes = utf8ByteLength(input);
      if (status === 'fail') {
        assert(error === ErrorCode.valueTooLarge && valueSizeMaxBytes !== null, 'a modeled refusal');
        // Refused because the value would outgrow the limit: it was that long, and stays.
        return (value) =>
          value !== unobservedValue &&
          value !== unobservedWordValue &&
          !fitsAfterAppend(value ?? '', inputBytes, valueSizeMaxBytes)
            ? value
            : undefined;
      }
      if (reported === null) {
        // Unknown outcome: where the value would outgrow the limit, the service refuses it.
        const appended = standIn ?? input;
        return (value) => {
          const before = value ?? '';
          const fits = valueSizeMaxBytes === null || fitsAfterAppend(before, inputBytes, valueSizeMaxBytes);
          return fits ? before + appended : undefined;
        };
      }
      // No value leads to a length shorter than the input, or past the limit (the service never
      // grows a value past it, whatever it answers).
      const beforeBytes = reported - inputBytes;
      if (beforeBytes < 0 || (valueSizeMaxBytes !== null && reported > valueSizeMaxBytes)) {
        return () => undefined;
      }
      // Placed again from the same value, it answers the same string: long values are then shared,
      // and hashed once for the cache.
      let lastBefore: RegisterValue | undefined;
      let lastAfter = '';
      return (value) => {
        if (value === unobservedValue || value === unobservedWordValue) return undefined;
        const before = value ?? '';
        if (!hasByteLength(before, beforeBytes)) return undefined;
        if (value !== lastBefore) [lastBefore, lastAfter] = [value, before + input];
        return lastAfter;
      };
    }
    case 'cas': {
      if (!isCasValue(input)) return fail();
      const [expected] = input;
      const replacement = standIn ?? input[1];
      // An unknown cas that did not swap changed nothing: the same as never linearizing it.
      if (status === 'fail') return (value) => (value !== expected ? value : undefined);
      return (value) => (value === expected ? replacement : undefined);
    }
    case 'delete':
    case 'clear':
      return () => null;
    case 'replace': {
      if (typeof input !== 'string') return fail();
      if (status === 'fail') return (value) => (value === null ? value : undefined);
      const written = standIn ?? input;
      return (value) => (value !== null ? written : undefined);
    }
    case 'incr': {
      if (typeof input !== 'number' || (typeof reported !== 'number' && reported !== null)) return fail();
      if (status === 'fail') {
        assert(error === ErrorCode.notAnInteger, 'a modeled refusal');
        // Refused because the value is not a number; a missing key counts as 0, so it is present.
        return (value) =>
          value !== null && value !== unobservedValue && integerOf(value) === undefined ? value : undefined;
      }
      return (value) => {
        const before = value === null ? 0 : integerOf(value);
        if (before === undefined) return undefined;
        const incremented = before + input;
        // Out of the safe range the service refuses (BAD_REQUEST) instead.
        if (!Number.isSafeInteger(incremented)) return undefined;
        return reported === null || reported === incremented ? String(incremented) : undefined;
      };
    }
  }
}

/** The number a value holds for incr, as the key/value store reads it, or undefined if it holds none. */
function integerOf(value: string): number | undefined {
  if (!/^-?[0-9]+$/.test(value)) return undefined;
  const number = Number(value);
  return Number.isSafeInteger(number) ? number : undefined;
}

/** Whether `value` grown by `inputBytes` stays within `limitBytes`, measured as UTF-8 bytes. */
function fitsAfterAppend(value: string, inputBytes: number, limitBytes: number): boolean {
  // A UTF-16 code unit takes 1 to 3 bytes in UTF-8: most values are decided without encoding.
  if (value.length * 3 + inputBytes <= limitBytes) return true;
  if (value.length + inputBytes > limitBytes) return false;
  return utf8ByteLength(value) + inputBytes <= limitBytes;
}

/** Whether `value` takes exactly `bytes` bytes in UTF-8. */
function hasByteLength(value: string, bytes: number): boolean {
  // A UTF-16 code unit takes 1 to 3 bytes in UTF-8: most values are decided without encoding.
  if (value.length > bytes || value.length * 3 < bytes) return false;
  return utf8ByteLength(value) === bytes;
}

function utf8ByteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function explain(
  key: string,
  operations: readonly Operation[],
  prefix: readonly number[],
  valueText: string,
): string {
  const placed = new Set(prefix);
  const unplaced = operations.filter((_, index) => !placed.has(index));
  // Whatever is placed next must start no later than the earliest return still outstanding.
  const deadline = unplaced.reduce((earliest, operation) => Math.min(earliest, operation.ret), Infinity);
  const blocked = unplaced
    .filter((operation) => operation.call <= deadline)
    .sort((a, b) => Number(a.status === 'info') - Number(b.status === 'info') || a.call - b.call);
  const shownPrefix = prefix
    .slice(-explanationPrefixOperationsMax)
    .map((index) => operationAt(operations, index));
  const elided = prefix.length > shownPrefix.length ? '…, ' : '';
  return (
    `key ${JSON.stringify(key)}: not linearizable. The longest legal order places ${prefix.length} of ` +
    `${operations.length} operations (${elided}${shownPrefix.map(describeOperation).join('; ')}), leaving ` +
    `the value ${valueText}; from there no legal order goes on with any of: ` +
    `${blocked.slice(0, explanationBlockedOperationsMax).map(describeOperation).join('; ')}` +
    (blocked.length > explanationBlockedOperationsMax ? '; …' : '')
  );
}

export function describeOperation(operation: Operation): string {
  const { process, f, input, output, status, call, ret, error } = operation;
  const argument = f === 'read' || f === 'delete' || f === 'clear' ? '' : `(${quote(input)})`;
  const result =
    status === 'info'
      ? ' → ?'
      : status === 'fail' && error !== undefined
        ? ` → refused ${error}`
        : f === 'cas'
          ? status === 'ok'
            ? ' → swapped'
            : ' → not swapped'
          : f === 'replace' && status === 'fail'
            ? ' → key absent'
            : status === 'fail'
              ? ' → failed'
              : '';
  const observed =
    status !== 'ok' || f === 'write' || f === 'cas' || f === 'replace' || f === 'delete' || f === 'clear'
      ? ''
      : f === 'append' && typeof output === 'number'
        ? ` → length ${output}`
        : ` → ${quote(output)}`;
  return `p${process} ${f}${argument}${result}${observed} [${call}, ${Number.isFinite(ret) ? `${ret}]` : '∞)'}`;
}

/** JSON, with long values (appends grow) cut in the middle. */
function quote(value: unknown): string {
  const text = JSON.stringify(value);
  const half = explanationValueCharsMax / 2;
  return text.length <= explanationValueCharsMax ? text : `${text.slice(0, half)}…${text.slice(-half)}`;
}

function operationAt(operations: readonly Operation[], index: number): Operation {
  const operation = operations[index];
  assert(operation !== undefined, `operation ${index} exists`);
  return operation;
}

/** A well-mixed 32-bit hash of an operation index (murmur3's finalizer). */
function zobrist(index: number): number {
  let hash = Math.imul(index + 1, 0x9e3779b1);
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}
