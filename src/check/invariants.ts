// Invariants checked on the final state rather than by search: each acknowledged append survives
// (no lost writes) and no append took effect twice (at most once, e.g. after a retried timeout).
// Appends carry unique tokens ending in a terminator ("p3-17;"), so a final value splits back
// into the tokens that built it.

import type { Operation, OperationFunction, OperationStatus } from './history.js';

export interface InvariantViolation {
  readonly invariant: 'no-lost-writes' | 'at-most-once';
  readonly key: string;
  readonly token: string;
  readonly message: string;
}

/** Final reads per key; a key appended to but missing here counts as absent. */
export type FinalReads = ReadonlyMap<string, string | null>;

export const appendTokenTerminatorDefault = ';';

/**
 * Every acknowledged append's token must appear in the final value of its key, unless a clear of the
 * key may have come after it (one that did not fail and was not answered before the append began:
 * `clearMayFollow`). Clears are expected once per key, as expandClears leaves them.
 */
export function checkNoLostWrites(
  operations: readonly Operation[],
  finalReads: FinalReads,
): InvariantViolation[] {
  const violations: InvariantViolation[] = [];
  const clearMayFollow = clearMayFollowIn(operations);
  for (const { f, key, input, status, process, call } of operations) {
    if (f !== 'append' || status !== 'ok' || typeof input !== 'string') continue;
    const final = finalReads.get(key) ?? null;
    if (final?.includes(input) === true || clearMayFollow(key, call)) continue;
    violations.push({
      invariant: 'no-lost-writes',
      key,
      token: input,
      message: `key ${JSON.stringify(key)}: append ${JSON.stringify(input)} by p${process} was acknowledged but is missing from the final value`,
    });
  }
  return violations;
}

/**
 * Asks whether a clear of `key` may have taken effect after an operation invoked at `call`: one that
 * did not fail and was not answered before that call.
 */
export function clearMayFollowIn(operations: readonly Operation[]): (key: string, call: number) => boolean {
  const lastAnswered = new Map<string, number>();
  for (const { f, key, status, ret } of operations) {
    if (f === 'clear' && status !== 'fail')
      lastAnswered.set(key, Math.max(ret, lastAnswered.get(key) ?? ret));
  }
  return (key, call) => (lastAnswered.get(key) ?? Number.NEGATIVE_INFINITY) >= call;
}

/**
 * Asks whether a clear of `key` may have taken `token`: come after the append that wrote it (tokens
 * are unique, so each names its append; clearMayFollowIn). Not for tokens the history lacks.
 */
export function clearMayHaveTakenIn(
  operations: readonly Operation[],
): (key: string, token: string) => boolean {
  const clearMayFollow = clearMayFollowIn(operations);
  const calls = new Map<string, number>();
  for (const { f, input, call } of operations) {
    if (f === 'append' && typeof input === 'string') calls.set(input, call);
  }
  return (key, token) => clearMayFollow(key, calls.get(token) ?? Number.NEGATIVE_INFINITY);
}

/** No token may appear twice in a final value. */
export function checkAtMostOnce(
  finalReads: FinalReads,
  tokenTerminator: string = appendTokenTerminatorDefault,
): InvariantViolation[] {
  const violations: InvariantViolation[] = [];
  for (const [key, final] of finalReads) {
    if (final === null) continue;
    const counts = new Map<string, number>();
    for (const token of splitTokens(final, tokenTerminator)) counts.set(token, (counts.get(token) ?? 0) + 1);
    for (const [token, count] of counts) {
      if (count < 2) continue;
      violations.push({
        invariant: 'at-most-once',
        key,
        token,
        message: `key ${JSON.stringify(key)}: token ${JSON.stringify(token)} appears ${count} times in the final value`,
      });
    }
  }
  return violations;
}

/** Splits "a;b;c" into "a;", "b;", "c" (an unterminated tail counts as a token). */
function splitTokens(value: string, terminator: string): string[] {
  const tokens: string[] = [];
  let start = 0;
  for (let end = value.indexOf(terminator); end !== -1; end = value.indexOf(terminator, start)) {
    tokens.push(value.slice(start, end + terminator.length));
    start = end + terminator.length;
  }
  if (start < value.length) tokens.push(value.slice(start));
  return tokens;
}

export type StatusCounts = Record<OperationStatus, number>;

export interface HistorySummary extends StatusCounts {
  readonly operations: number;
  readonly byFunction: Record<OperationFunction, StatusCounts>;
}

export function summarize(operations: readonly Operation[]): HistorySummary {
  const empty = (): StatusCounts => ({ ok: 0, fail: 0, info: 0 });
  const total = empty();
  const byFunction: Record<OperationFunction, StatusCounts> = {
    read: empty(),
    write: empty(),
    append: empty(),
    cas: empty(),
    incr: empty(),
    delete: empty(),
    replace: empty(),
    clear: empty(),
  };
  for (const { f, status } of operations) {
    total[status]++;
    byFunction[f][status]++;
  }
  return { operations: operations.length, ...total, byFunction };
}
