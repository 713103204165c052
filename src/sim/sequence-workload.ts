// Sequences in the simulator's workload: several key/value operations sent as one request, which the
// store runs in order as one operation (one log entry, atomic; state-machine/kv-sequence.ts), and
// how each goes into a history the per-key checker can judge without a model of its own.
//
// A sequence carries 2 or 3 units on distinct keys of the workload, and sometimes a read-back. A
// unit is what one operation of the workload would be on that key (a register write, cas or incr,
// an append, a counter incr, a flag's put-if or delete, a read), spelled out as single-key parts: a
// group's put-many becomes a put of each member, its delete-many a delete of each, its get-many a
// get of each, a flag's delete-many of its one key a delete. Each unit is one operation of the
// history, with the sequence's invocation and completion and its own outcome:
//   - its part done: ok with the result, as the single operation would be recorded (a cas that did
//     not swap, a put-if that did not write: fail without a code);
//   - its part refused with a code the checker models (incr NOT_AN_INTEGER, append
//     VALUE_TOO_LARGE): fail with the code, an observation of the value the sequence met;
//   - any other refusal of a part: info, and counted as an unexpected reply (the workload never
//     sends what the store should refuse);
//   - the whole sequence's outcome unknown (a timeout, REQUEST_TOO_OLD, SESSION_EXPIRED, async):
//     info for every unit; cancelled by request-status: fail REQUEST_CANCELLED for every write unit
//     (info for a read, which observed nothing).
// Why the per-key check stays sound: the sequence took effect at one point between its invocation
// and its completion, so each unit, given that same interval, may be placed at that point; a
// correct store always leaves a legal order. The units go into the history under history processes
// of their own (one "lane" each, see SimWorkload), since a process of the history has at most one
// operation pending (history.ts and pairOperations assume it). Nothing else depends on processes:
// the checkers order operations by their call and return times only, name processes in messages,
// and run-seed tells operations apart by process and call, which lanes keep distinct. A read-back
// shares its writer's key and interval, so the per-key check may order the two either way: their
// order is checked by the read-back check below instead.
//
// What the per-key check cannot see, two cheap checks of the answers add:
//   - atomicity across keys: a group's members are written only together, so a sequence that
//     reads them and finds them different saw half of a write (a torn read, as for get-many);
//   - order: a read-back (a get of a key an earlier unit of the same sequence wrote, recorded as a
//     read like any other unit) must see that unit's effect, known from the answer: the value put,
//     the token appended at the length answered, the number incremented to, the cas's current
//     value, the key gone after a delete.
// Both hold whatever became of the sequence later (an async one a failover lost answered from one
// state too), so they apply to every answer.
// A clear of every key may be a sequence's first unit (clearUnit): recorded once under everyKey, as
// a single clear, so the per-key check holds each key to it at the sequence's point, in either order
// with the units after it on the same key (the store runs the clear first); no read-back reads a
// clear, and no guard stands behind one.

import { type EventValue, everyKey, type OperationFunction } from '../check/history.js';
import { ErrorCode } from '../protocol/error-codes.js';
import {
  isReadOnly,
  type KvOperation,
  type KvResult,
  type KvResultOf,
  kvOperation,
} from '../state-machine/kv-operations.js';
import type { KvOutcome } from '../state-machine/kv-sequence.js';
import { groupMembers, groupValue, isGroupKey } from './multi-key-workload.js';

/**
 * Units of one sequence before its read-back: each on a key of its own. With the simulator's two
 * append lists, a sequence reads at most two long values (1 KiB at most, run-seed.ts), its read-back
 * included, so its log entry stays well within the tiny config's Prepare (4 KiB); past that, the
 * cluster would refuse it ENTRY_TOO_LARGE, an unexpected reply.
 */
export const sequenceUnitsMin = 2;
export const sequenceUnitsMax = 3;
/** The history processes one session slot needs for a sequence: one per unit, read-back and guard included. */
export const sequenceLanes = sequenceUnitsMax + 2;

/** Refusals that tell the client something about the value: recorded as fail with their code. */
export const observingRefusals: Readonly<Partial<Record<KvOperation['kind'], string>>> = {
  incr: ErrorCode.notAnInteger,
  'incr-float': ErrorCode.notAFloat,
  append: ErrorCode.valueTooLarge,
};

/**
 * The code a refusal goes into the history with: incr-float's NOT_A_FLOAT as an incr's
 * NOT_AN_INTEGER, since of the values the simulator writes (words like "p3-17", and safe integers)
 * the two refuse exactly the same ones.
 */
export const recordedRefusal = (code: string): string =>
  code === ErrorCode.notAFloat ? ErrorCode.notAnInteger : code;

/** One operation of the history that a sequence carries. */
export interface SequenceUnit {
  readonly f: OperationFunction;
  readonly key: string;
  /** The value written or appended (a cas's replacement), as for a single operation. */
  readonly written: string | null;
  readonly invokeValue: EventValue;
  /** Its parts, in order: one, or one per member of a group. */
  readonly parts: readonly KvOperation[];
  /** For a read-back: the position of the unit whose write it reads. */
  readonly readsBack: number | null;
  /**
   * For a guard (an expect that the key holds this value, null: absent; the sequence is sent whole,
   * so nothing of it runs if the guard fails): the value expected. Recorded as a read of it.
   */
  readonly guards?: string | null;
}

/** How a unit goes into the history, and what it tells the workload. */
export type UnitVerdict =
  | { readonly status: 'ok'; readonly value: EventValue; readonly seen: string | null | undefined }
  | {
      readonly status: 'fail';
      /** The refusal's code; none for a cas that did not swap or a put-if that did not write. */
      readonly error: string | undefined;
      readonly seen: string | null | undefined;
    }
  | {
      readonly status: 'info';
      /** "f CODE" of a refusal the workload does not expect. */
      readonly unexpected: string | undefined;
      /** A group read whose members disagreed. */
      readonly torn: string | undefined;
    };

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);
const text = (value: Uint8Array | null): string | null => (value === null ? null : decoder.decode(value));

/** A single operation spelled out as single-key parts, so a sequence runs the same thing. */
export function partsOf(operation: KvOperation): KvOperation[] {
  switch (operation.kind) {
    case 'put-many':
      return operation.keys.map((key, at) => kvOperation.put(key, operation.values[at] ?? new Uint8Array(0)));
    case 'delete-many':
      return operation.keys.map((key) => kvOperation.delete(key));
    case 'get-many':
      return operation.keys.map((key) => kvOperation.get(key));
    default:
      return [operation];
  }
}

/** A read of `key` as a unit: a group by a get of each member. */
export function readUnit(key: string): SequenceUnit {
  const parts = isGroupKey(key)
    ? groupMembers(key).map((member) => kvOperation.get(bytes(member)))
    : [kvOperation.get(bytes(key))];
  return { f: 'read', key, written: null, invokeValue: null, parts, readsBack: null };
}

/** A clear of every key as a unit: recorded once, under everyKey, as a single clear is. */
export function clearUnit(): SequenceUnit {
  return {
    f: 'clear',
    key: everyKey,
    written: null,
    invokeValue: null,
    parts: [kvOperation.clear()],
    readsBack: null,
  };
}

/**
 * An expect that `key` (a single key) holds `value`, as a unit: the sequence goes whole behind it.
 * Answered, it observed the value: a read of `value` at the sequence's point.
 */
export function guardUnit(key: string, value: string | null): SequenceUnit {
  const part = kvOperation.expect([bytes(key)], [value === null ? null : bytes(value)]);
  return { f: 'read', key, written: null, invokeValue: null, parts: [part], readsBack: null, guards: value };
}

/** A get of the key that the unit at `position` writes: it must see what that unit did. */
export function readBackUnit(writer: SequenceUnit, position: number): SequenceUnit {
  return { ...readUnit(writer.key), readsBack: position };
}

export function writesSomething(unit: SequenceUnit): boolean {
  return !unit.parts.every(isReadOnly);
}

/** The unit's history outcome from its parts' outcomes (in the unit's order). */
export function unitVerdict(unit: SequenceUnit, outcomes: readonly KvOutcome[]): UnitVerdict {
  if (unit.guards !== undefined) {
    // A sequence sent whole ran only if its guard held; a refused guard refuses it whole, no outcome.
    const [outcome] = outcomes;
    if (outcomes.length !== 1 || outcome?.ok !== true) {
      return {
        status: 'info',
        unexpected: `guard ${outcome?.ok === false ? outcome.code : 'unanswered'}`,
        torn: undefined,
      };
    }
    return { status: 'ok', value: unit.guards, seen: unit.guards };
  }
  const results: KvResult[] = [];
  for (const outcome of outcomes) {
    if (outcome.ok) {
      results.push(outcome.result);
      continue;
    }
    const [part] = unit.parts;
    if (unit.parts.length === 1 && part !== undefined && observingRefusals[part.kind] === outcome.code) {
      return { status: 'fail', error: recordedRefusal(outcome.code), seen: undefined };
    }
    return { status: 'info', unexpected: `${unit.f} ${outcome.code}`, torn: undefined };
  }
  const [first] = results;
  if (first === undefined || results.length !== unit.parts.length) {
    throw new Error(`${results.length} outcomes for the ${unit.parts.length} parts of ${unit.f} ${unit.key}`);
  }
  switch (unit.f) {
    case 'read': {
      const values = results.map((result) => text(resultOf(result, 'get').value));
      if (!isGroupKey(unit.key)) {
        const value = values[0] ?? null;
        return { status: 'ok', value, seen: value };
      }
      const seen = groupValue(unit.key, values);
      if ('torn' in seen) return { status: 'info', unexpected: undefined, torn: seen.torn };
      return { status: 'ok', value: seen.value, seen: seen.value };
    }
    case 'write':
      return { status: 'ok', value: unit.written, seen: undefined };
    case 'delete':
    case 'clear':
      return { status: 'ok', value: null, seen: undefined };
    case 'append':
      return { status: 'ok', value: resultOf(first, 'append').length, seen: undefined };
    case 'incr': {
      const value = incrementResult(first);
      return { status: 'ok', value, seen: String(value) };
    }
    case 'cas':
    case 'replace': {
      if (first.kind === 'put-if' || first.kind === 'put-many-if-absent' || first.kind === 'set') {
        // Not written is an observation: the key was present (absent, for a put-if-present).
        return first.written
          ? { status: 'ok', value: unit.invokeValue, seen: undefined }
          : { status: 'fail', error: undefined, seen: undefined };
      }
      const { swapped, current } = resultOf(first, 'cas');
      return swapped
        ? { status: 'ok', value: unit.invokeValue, seen: text(current) }
        : { status: 'fail', error: undefined, seen: text(current) };
    }
  }
}

/**
 * Why a read-back's value cannot follow its writer's part with the outcome it got (null: it can).
 * Values and tokens are unique, so each expectation names the part's own effect, or its absence.
 */
export function readBackProblem(writer: KvOperation, outcome: KvOutcome, read: string | null): string | null {
  const expect = (holds: boolean, what: string): string | null => (holds ? null : `expected ${what}`);
  if (!outcome.ok) {
    // A refused part changed nothing.
    if (writer.kind === 'append') {
      const token = decoder.decode(writer.value);
      return expect(
        !(read ?? '').endsWith(token),
        `a value not ending with the refused ${JSON.stringify(token)}`,
      );
    }
    if (
      (writer.kind === 'incr' || writer.kind === 'incr-float') &&
      observingRefusals[writer.kind] === outcome.code
    ) {
      return expect(read !== null && !/^-?[0-9]+$/.test(read), 'the value that is not an integer');
    }
    return null;
  }
  const { result } = outcome;
  switch (writer.kind) {
    case 'put': {
      const value = decoder.decode(writer.value);
      return expect(read === value, JSON.stringify(value));
    }
    case 'append': {
      const token = decoder.decode(writer.value);
      const { length } = resultOf(result, 'append');
      return expect(
        read?.endsWith(token) === true && encoder.encode(read).byteLength === length,
        `${length} bytes ending with ${JSON.stringify(token)}`,
      );
    }
    case 'incr':
    case 'incr-float': {
      const value = String(incrementResult(result));
      return expect(read === value, value);
    }
    case 'cas': {
      // The value after the cas, swapped or not.
      const current = text(resultOf(result, 'cas').current);
      return expect(read === current, JSON.stringify(current));
    }
    case 'put-if': {
      const value = decoder.decode(writer.value);
      if (resultOf(result, 'put-if').written) return expect(read === value, JSON.stringify(value));
      return writer.when === 'absent'
        ? expect(read !== null && read !== value, 'the value present before it')
        : expect(read === null, 'the key absent');
    }
    case 'delete':
      return expect(read === null, 'the key absent');
    default:
      return null;
  }
}

/** The number an incr or an incr-float (by a whole delta, on a safe integer) answered. */
function incrementResult(result: KvResult): number {
  return result.kind === 'incr-float' ? Number(text(result.value)) : resultOf(result, 'incr').value;
}

function resultOf<K extends KvResult['kind']>(result: KvResult, kind: K): KvResultOf<K> {
  if (result.kind !== kind) throw new Error(`a ${result.kind} result where a ${kind} result belongs`);
  return result as KvResultOf<K>;
}

/** A part's outcome, for messages. */
export function describeOutcome(outcome: KvOutcome): string {
  if (!outcome.ok) return `refused ${outcome.code}`;
  const { result } = outcome;
  switch (result.kind) {
    case 'append':
      return `length ${result.length}`;
    case 'incr':
    case 'incr-float':
      return `value ${incrementResult(result)}`;
    case 'cas':
      return `${result.swapped ? 'swapped' : 'not swapped'}, now ${JSON.stringify(text(result.current))}`;
    case 'put-if':
      return result.written ? 'written' : 'not written';
    case 'get':
      return `read ${JSON.stringify(text(result.value))}`;
    default:
      return 'done';
  }
}
