// Client histories in Jepsen's shape: one event per invocation and one per completion, written as
// JSON lines so histories from the simulator and from real processes are checked by the same code.
// A completion is "ok" (happened, with this result), "fail" (definitely did not happen; for cas:
// definitely did not swap) or "info" (unknown: may take effect at any time after its invoke, or
// never). A process has at most one operation pending; after an "info" it may invoke again.
// pairOperations joins each invoke with its completion into an Operation with a [call, ret]
// interval; ret is Infinity when the outcome is unknown.
//
// A "fail" may name the error code that refused it (`error`, e.g. NOT_AN_INTEGER): a refusal the
// service gives because of the value is an observation the checker holds against the model. A fail
// without a code is a cas that did not swap, or (in older histories) a refusal of unknown cause.
// The field is written only when present, so histories without it read and write as before.
//
// An "ok" may name the log index its reply named (`index`): where the write's entry sits, or the
// index a read observed. The linearizability check ignores it; the check of bounded reads
// (bounded-reads.ts) uses it to know which writes a read at a given index must reflect. Written only
// when present, like `error`.

import { assert } from '../protocol/assert.js';

export const operationFunctions = [
  'read',
  'write',
  'append',
  'cas',
  'incr',
  'delete',
  'replace',
  'clear',
] as const;
export type OperationFunction = (typeof operationFunctions)[number];
export const eventTypes = ['invoke', 'ok', 'fail', 'info'] as const;
export type EventType = (typeof eventTypes)[number];
export type OperationStatus = Exclude<EventType, 'invoke'>;

/**
 * cas: swap to `replacement` if the value equals `expected` (null: the key must be absent). A null
 * replacement deletes: what a GETDEL that took `expected` did, at one instant.
 */
export type CasValue = readonly [expected: string | null, replacement: string | null];
/**
 * read: invoke null, ok the value read (null if absent). write: the string written. append: invoke the
 * string appended, ok the value's new length in UTF-8 bytes (what the store answers). cas: CasValue.
 * incr: invoke the delta, ok the new number. delete: null (the key becomes absent). replace: the
 * string written only if the key is present (Redis SET XX); a fail without an error code means the
 * key was absent, so it wrote nothing. A null ok value for append or incr means the result was not
 * reported. clear: null, under the key `everyKey` (Redis FLUSHALL: every key absent at one point;
 * `expandClears` makes it one operation per key for the per-key checks).
 */
export type EventValue = string | number | null | CasValue;

export interface HistoryEvent {
  readonly process: number;
  readonly type: EventType;
  readonly f: OperationFunction;
  readonly key: string;
  readonly value: EventValue;
  /** Monotonic, in nanoseconds. */
  readonly time: number;
  /** fail only: the error code of the refusal, if the operation was refused. */
  readonly error?: string;
  /** ok only: the log index the reply named (the write's entry, or the index a read observed). */
  readonly index?: number;
}

export interface Operation {
  readonly process: number;
  readonly f: OperationFunction;
  readonly key: string;
  readonly input: EventValue;
  /** The ok value; null when the operation failed or its outcome is unknown. */
  readonly output: EventValue;
  readonly call: number;
  /** Infinity when the outcome is unknown ("info" or never completed). */
  readonly ret: number;
  readonly status: OperationStatus;
  /** fail only: the error code that refused it (absent for a cas that did not swap). */
  readonly error?: string;
  /** ok only: the log index the reply named, if it was recorded. */
  readonly index?: number;
}

/** A malformed history: bad JSON, a bad field, or a completion without its invoke. */
export class HistoryError extends Error {
  override readonly name = 'HistoryError';
  constructor(
    /** 1-based line (or event position) of the offending event. */
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

/** An error code in a history: a short line of printable ASCII, such as NOT_AN_INTEGER. */
export const errorCodeLengthMax = 64;
const errorCodePattern = /^[\x21-\x7e][\x20-\x7e]*$/;

export type OperationHandle = number & { readonly brand: 'OperationHandle' };

/** Records a history as it happens; the caller supplies times from its own monotonic clock. */
export class HistoryRecorder {
  readonly #events: HistoryEvent[] = [];
  readonly #pending: (HistoryEvent | undefined)[] = [];
  readonly #busyProcesses = new Set<number>();

  invoke(
    process: number,
    f: OperationFunction,
    key: string,
    value: EventValue,
    time: number,
  ): OperationHandle {
    assert(!this.#busyProcesses.has(process), `process ${process} invoked while its operation is pending`);
    const event: HistoryEvent = { process, type: 'invoke', f, key, value, time };
    const problem = describeInvalidEvent(event);
    assert(problem === undefined, `invalid invoke: ${problem}`);
    this.#busyProcesses.add(process);
    this.#events.push(event);
    this.#pending.push(event);
    return (this.#pending.length - 1) as OperationHandle;
  }

  /** `index`: the log index the reply named, if the caller knows it. */
  ok(handle: OperationHandle, value: EventValue, time: number, index?: number): void {
    this.#complete(handle, 'ok', value, time, undefined, index);
  }

  /** `error`: the code the service refused it with; omit it for a cas that did not swap. */
  fail(handle: OperationHandle, time: number, error?: string): void {
    this.#complete(handle, 'fail', undefined, time, error);
  }

  info(handle: OperationHandle, time: number): void {
    this.#complete(handle, 'info', undefined, time);
  }

  events(): readonly HistoryEvent[] {
    return [...this.#events];
  }

  #complete(
    handle: OperationHandle,
    type: OperationStatus,
    value: EventValue | undefined,
    time: number,
    error?: string,
    index?: number,
  ): void {
    const invoke = this.#pending[handle];
    assert(invoke !== undefined, `operation ${handle} is unknown or already completed`);
    // Jepsen's convention: fail and info completions repeat the invoke value.
    const event: HistoryEvent = {
      ...invoke,
      type,
      value: value === undefined ? invoke.value : value,
      time,
      ...(error === undefined ? {} : { error }),
      ...(index === undefined ? {} : { index }),
    };
    const problem = describeInvalidEvent(event);
    assert(problem === undefined, `invalid ${type}: ${problem}`);
    this.#pending[handle] = undefined;
    this.#busyProcesses.delete(invoke.process);
    this.#events.push(event);
  }
}

export function toJsonLines(events: readonly HistoryEvent[]): string {
  return events
    .map(
      ({ process, type, f, key, value, time, error, index }) =>
        `${JSON.stringify({ process, type, f, key, value, time, ...(error === undefined ? {} : { error }), ...(index === undefined ? {} : { index }) })}\n`,
    )
    .join('');
}

/** Parses and validates a JSON-lines history; blank lines are skipped. Throws HistoryError. */
export function parseJsonLines(text: string): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  text.split('\n').forEach((rawLine, position) => {
    const line = rawLine.trim();
    if (line === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new HistoryError(position + 1, `not JSON (${(error as Error).message})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new HistoryError(position + 1, 'expected a JSON object');
    }
    const event = parsed as Record<string, unknown>;
    const problem = describeInvalidEvent(event);
    if (problem !== undefined) throw new HistoryError(position + 1, problem);
    const { process, type, f, key, value, time, error, index } = event as unknown as HistoryEvent;
    events.push({
      process,
      type,
      f,
      key,
      value,
      time,
      ...(error === undefined ? {} : { error }),
      ...(index === undefined ? {} : { index }),
    });
  });
  return events;
}

/** Joins invokes with completions, in invoke order. Throws HistoryError naming the event position. */
export function pairOperations(events: readonly HistoryEvent[]): Operation[] {
  const operations: Operation[] = [];
  const pending = new Map<
    number,
    { readonly invoke: HistoryEvent; readonly slot: number; readonly line: number }
  >();
  events.forEach((event, index) => {
    const line = index + 1;
    const open = pending.get(event.process);
    if (event.type === 'invoke') {
      if (open !== undefined) {
        throw new HistoryError(
          line,
          `process ${event.process} invoked while its event ${open.line} is pending`,
        );
      }
      pending.set(event.process, { invoke: event, slot: operations.length, line });
      operations.push(toOperation(event, event, 'info'));
      return;
    }
    if (open === undefined)
      throw new HistoryError(line, `process ${event.process} completed with nothing pending`);
    const { invoke, slot } = open;
    if (invoke.f !== event.f || invoke.key !== event.key) {
      throw new HistoryError(line, `completion ${event.f} ${event.key} does not match event ${open.line}`);
    }
    if (event.time < invoke.time) throw new HistoryError(line, 'completes before its invoke');
    operations[slot] = toOperation(invoke, event, event.type);
    pending.delete(event.process);
  });
  return operations;
}

function toOperation(invoke: HistoryEvent, completion: HistoryEvent, status: OperationStatus): Operation {
  const known = completion.type !== 'invoke' && status !== 'info';
  return {
    process: invoke.process,
    f: invoke.f,
    key: invoke.key,
    input: invoke.value,
    output: status === 'ok' ? completion.value : null,
    call: invoke.time,
    ret: known ? completion.time : Number.POSITIVE_INFINITY,
    status,
    ...(status === 'fail' && completion.error !== undefined ? { error: completion.error } : {}),
    ...(status === 'ok' && completion.index !== undefined ? { index: completion.index } : {}),
  };
}

/** The key a clear goes into a history under: it names every key. */
export const everyKey = '*';

/**
 * Each clear as one operation per key the other operations name, with the clear's process, interval
 * and outcome: the per-key checks then hold every key to it as to a delete. Sound as long as the
 * clear's process invoked nothing else meanwhile, which a history's one pending operation per
 * process ensures. A key no other operation names was never written, so its clear is left out.
 */
export function expandClears(operations: readonly Operation[]): Operation[] {
  if (!operations.some(({ f }) => f === 'clear')) return [...operations];
  const keys = [...new Set(operations.flatMap(({ f, key }) => (f === 'clear' ? [] : [key])))];
  return operations.flatMap((operation) =>
    operation.f === 'clear' ? keys.map((key) => ({ ...operation, key })) : [operation],
  );
}

/** Why a decoded event is malformed, or undefined if it is well-formed. */
function describeInvalidEvent(event: Readonly<Record<string, unknown>> | HistoryEvent): string | undefined {
  const { process, type, f, key, value, time, error, index } = event as Record<string, unknown>;
  if (typeof process !== 'number' || !Number.isSafeInteger(process)) return '"process" must be an integer';
  if (!eventTypes.includes(type as EventType)) return `"type" must be one of ${eventTypes.join(', ')}`;
  if (!operationFunctions.includes(f as OperationFunction)) {
    return `"f" must be one of ${operationFunctions.join(', ')}`;
  }
  if (typeof key !== 'string') return '"key" must be a string';
  if ((f === 'clear') !== (key === everyKey)) return `"key" ${everyKey} goes with clear, and only with it`;
  if (typeof time !== 'number' || !Number.isFinite(time)) return '"time" must be a finite number';
  if (value === undefined) return '"value" is missing';
  if (error !== undefined) {
    if (type !== 'fail') return '"error" belongs on fail events only';
    if (typeof error !== 'string' || error.length > errorCodeLengthMax || !errorCodePattern.test(error)) {
      return `"error" must be printable ASCII of 1 to ${errorCodeLengthMax} characters`;
    }
  }
  if (index !== undefined) {
    if (type !== 'ok') return '"index" belongs on ok events only';
    if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) {
      return '"index" must be a non-negative integer';
    }
  }
  // fail and info completions may carry the invoke value or null.
  const nullAllowed =
    type === 'fail' || type === 'info' || (type === 'ok' && f !== 'write' && f !== 'cas' && f !== 'replace');
  if (
    value === null &&
    (nullAllowed || ((f === 'read' || f === 'delete' || f === 'clear') && type === 'invoke'))
  )
    return undefined;
  const valid =
    f === 'read'
      ? type === 'ok' && typeof value === 'string'
      : f === 'append' && type === 'ok'
        ? typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
        : f === 'write' || f === 'append' || f === 'replace'
          ? typeof value === 'string'
          : f === 'cas'
            ? isCasValue(value)
            : f === 'delete' || f === 'clear'
              ? false // a delete or a clear carries null only
              : typeof value === 'number' && Number.isSafeInteger(value);
  return valid ? undefined : `"value" ${JSON.stringify(value)} is not valid for ${f} ${type}`;
}

/**
 * What a write that answers the value before it goes into the history as, once answered that the key
 * held `before` (GETSET: `after` its value; GETDEL: `after` null): a cas from `before` to `after`,
 * held to one instant, or a read of the absent value if it found none and left none.
 */
export function answeredReadingWrite(
  before: string | null,
  after: string | null,
): { readonly f: OperationFunction; readonly input: EventValue; readonly output: EventValue } {
  if (before === null && after === null) return { f: 'read', input: null, output: null };
  return { f: 'cas', input: [before, after], output: [before, after] };
}

export function isCasValue(value: unknown): value is CasValue {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    (value[0] === null || typeof value[0] === 'string') &&
    (value[1] === null || typeof value[1] === 'string')
  );
}
