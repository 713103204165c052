// Properties of the checker: any history produced by running operations one at a time against a
// model (non-overlapping intervals, some timed out, refusals recorded with their codes) is
// linearizable, and corrupting one read to a value never written makes it not linearizable. And on
// small concurrent histories the search, with all its pruning rules, agrees with a brute-force
// search over every order, refusals and failures the model does not know included.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Operation } from '../../src/check/index.js';
import {
  checkLinearizable,
  everyKey,
  expandClears,
  HistoryRecorder,
  pairOperations,
  parseJsonLines,
  toJsonLines,
} from '../../src/check/index.js';

const keyArbitrary = fc.constantFrom('x', 'y');
const commandArbitrary = fc.record({
  process: fc.integer({ min: 0, max: 3 }),
  timedOut: fc.boolean(),
  appliedDespiteTimeout: fc.boolean(),
  action: fc.oneof(
    fc.record({ f: fc.constant('read' as const), key: keyArbitrary }),
    fc.record({
      f: fc.constant('write' as const),
      key: keyArbitrary,
      value: fc.constantFrom('a', 'b', '7', '-0', '9007199254740993'),
    }),
    fc.record({
      f: fc.constant('append' as const),
      key: keyArbitrary,
      value: fc.constantFrom('a', 'b', 'é'),
    }),
    fc.record({
      f: fc.constant('cas' as const),
      key: keyArbitrary,
      expected: fc.constantFrom(null, 'a', 'b', '7'),
      replacement: fc.constantFrom('a', 'b'),
    }),
    fc.record({ f: fc.constant('incr' as const), key: keyArbitrary, delta: fc.integer({ min: -3, max: 3 }) }),
    fc.record({ f: fc.constant('delete' as const), key: keyArbitrary }),
    fc.record({
      f: fc.constant('replace' as const),
      key: keyArbitrary,
      value: fc.constantFrom('a', 'b', '7'),
    }),
    fc.record({ f: fc.constant('clear' as const), key: fc.constant(everyKey) }),
  ),
});
type Command = typeof commandArbitrary extends fc.Arbitrary<infer T> ? T : never;

/** Small, so appends are refused VALUE_TOO_LARGE; 'é' takes two bytes. */
const valueSizeMaxBytes = 3;
const checkOptions = { valueSizeMaxBytes };

/** The number the key/value store increments, or undefined when it refuses NOT_AN_INTEGER. */
function storeInteger(value: string | null): number | undefined {
  if (value === null) return 0;
  const number = /^-?[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  return Number.isSafeInteger(number) ? number : undefined;
}

/** Runs the commands one after another against a map of registers, recording the history. */
function runSequentially(commands: readonly Command[]): Operation[] {
  const registers = new Map<string, string | null>();
  const recorder = new HistoryRecorder();
  let time = 0;
  for (const { process, timedOut, appliedDespiteTimeout, action } of commands) {
    const current = registers.get(action.key) ?? null;
    const input =
      action.f === 'read' || action.f === 'delete' || action.f === 'clear'
        ? null
        : action.f === 'cas'
          ? ([action.expected, action.replacement] as const)
          : action.f === 'incr'
            ? action.delta
            : action.value;
    const handle = recorder.invoke(process, action.f, action.key, input, time++);
    // Reads always answer: an unanswered read tells the checker nothing.
    const answered = action.f === 'read' || !timedOut;
    const apply = (next: string | null) => {
      if (answered || appliedDespiteTimeout) registers.set(action.key, next);
    };
    if (action.f === 'read') recorder.ok(handle, current, time++);
    else if (action.f === 'append' && Buffer.byteLength((current ?? '') + action.value) > valueSizeMaxBytes) {
      if (answered) recorder.fail(handle, time++, 'VALUE_TOO_LARGE');
    } else if (action.f === 'write') {
      apply(action.value);
      if (answered) recorder.ok(handle, action.value, time++);
    } else if (action.f === 'append') {
      const next = (current ?? '') + action.value;
      apply(next);
      if (answered) recorder.ok(handle, Buffer.byteLength(next), time++); // the store answers the new length
    } else if (action.f === 'delete') {
      apply(null);
      if (answered) recorder.ok(handle, null, time++);
    } else if (action.f === 'clear') {
      if (answered || appliedDespiteTimeout) registers.clear();
      if (answered) recorder.ok(handle, null, time++);
    } else if (action.f === 'replace') {
      if (current !== null) apply(action.value);
      if (answered) {
        if (current !== null) recorder.ok(handle, action.value, time++);
        else recorder.fail(handle, time++); // the key was absent: nothing written
      }
    } else if (action.f === 'cas') {
      if (current === action.expected) apply(action.replacement);
      if (answered) {
        if (current === action.expected) recorder.ok(handle, input, time++);
        else recorder.fail(handle, time++);
      }
    } else if (storeInteger(current) === undefined) {
      if (answered) recorder.fail(handle, time++, 'NOT_AN_INTEGER'); // the store refuses a non-number
    } else {
      const next = (storeInteger(current) ?? 0) + action.delta;
      apply(String(next));
      if (answered) recorder.ok(handle, next, time++);
    }
    if (!answered) recorder.info(handle, time++);
  }
  const final = recorder.invoke(9, 'read', 'x', null, time++);
  recorder.ok(final, registers.get('x') ?? null, time++);
  return expandClears(pairOperations(parseJsonLines(toJsonLines(recorder.events()))));
}

const historyArbitrary = fc.array(commandArbitrary, { maxLength: 40, size: 'max' }).map(runSequentially);

test('histories run one operation at a time against the model are always linearizable', () => {
  fc.assert(
    fc.property(historyArbitrary, (operations) => {
      const report = checkLinearizable(operations, checkOptions);
      assert.equal(report.result, 'linearizable');
      assert.deepEqual(report.unmodeledFailures, []);
    }),
  );
});

test('the same histories with one read corrupted to a value never written are never linearizable', () => {
  fc.assert(
    fc.property(historyArbitrary, fc.nat(), (operations, choice) => {
      const reads = operations.flatMap((operation, index) =>
        operation.f === 'read' && operation.status === 'ok' ? [index] : [],
      );
      const corrupted = reads[choice % reads.length] ?? -1;
      const history = operations.map((operation, index) =>
        index === corrupted ? { ...operation, output: 'never-written' } : operation,
      );
      assert.equal(checkLinearizable(history, checkOptions).result, 'not-linearizable');
    }),
  );
});

test('the same histories with a refusal added where the value was always a number are never linearizable', () => {
  fc.assert(
    fc.property(historyArbitrary, keyArbitrary, fc.nat(), (operations, key, choice) => {
      // On a key only read and incremented, the value is absent or a number all along.
      fc.pre(
        operations.every((operation) => operation.key !== key || ['read', 'incr'].includes(operation.f)),
      );
      const time = (choice % (2 * operations.length)) + 0.5;
      const refusal: Operation = {
        process: 99,
        f: 'incr',
        key,
        input: 1,
        output: null,
        call: time,
        ret: time,
        status: 'fail',
        error: 'NOT_AN_INTEGER',
      };
      const report = checkLinearizable([...operations, refusal], checkOptions);
      assert.equal(report.result, 'not-linearizable');
      assert.match(report.perKey.get(key)?.explanation ?? '', /refused NOT_AN_INTEGER/);
    }),
  );
});

/** Whether a fail is one the model judges: cas not swapped, or a refusal the value explains. */
function isModeled({ f, status, error }: Operation, limitBytes: number | undefined): boolean {
  if (status !== 'fail') return true;
  if (f === 'cas' || f === 'replace') return error === undefined;
  if (f === 'incr') return error === 'NOT_AN_INTEGER';
  return f === 'append' && error === 'VALUE_TOO_LARGE' && limitBytes !== undefined;
}

/** Whether some order of the operations is legal: every permutation tried, written independently. */
function linearizableByBruteForce(all: readonly Operation[], limitBytes: number | undefined): boolean {
  const operations = all.filter(
    (operation) =>
      isModeled(operation, limitBytes) && !(operation.status === 'info' && operation.f === 'read'),
  );
  const fits = (text: string) => limitBytes === undefined || Buffer.byteLength(text) <= limitBytes;
  const apply = (
    { f, input, output, status }: Operation,
    value: string | null,
  ): string | null | undefined => {
    const reported = status === 'ok' ? output : null;
    if (f === 'read') return output === value ? value : undefined;
    if (f === 'write') return input as string;
    if (f === 'delete' || f === 'clear') return null;
    if (f === 'replace') {
      if (status === 'fail') return value === null ? value : undefined;
      return value !== null ? (input as string) : undefined;
    }
    if (f === 'append') {
      const next = (value ?? '') + (input as string);
      if (status === 'fail') return fits(next) ? undefined : value;
      if (!fits(next)) return undefined;
      return reported === null || reported === Buffer.byteLength(next) ? next : undefined;
    }
    if (f === 'cas') {
      const [expected, replacement] = input as readonly [string | null, string];
      if (status === 'fail') return value === expected ? undefined : value;
      return value === expected ? replacement : undefined;
    }
    const before = storeInteger(value);
    if (status === 'fail') return before === undefined ? value : undefined;
    if (before === undefined) return undefined;
    const next = before + (input as number);
    if (!Number.isSafeInteger(next)) return undefined;
    return reported === null || reported === next ? String(next) : undefined;
  };
  const placed = operations.map(() => false);
  const finiteCount = operations.filter(({ ret }) => Number.isFinite(ret)).length;
  const search = (value: string | null, finitePlaced: number): boolean => {
    if (finitePlaced === finiteCount) return true;
    return operations.some((operation, index) => {
      if (placed[index]) return false;
      if (operations.some((before, other) => !placed[other] && before.ret < operation.call)) return false;
      const next = apply(operation, value);
      if (next === undefined) return false;
      placed[index] = true;
      const found = search(next, finitePlaced + Number(Number.isFinite(operation.ret)));
      placed[index] = false;
      return found;
    });
  };
  return search(null, 0);
}

/** The error a fail carries: mostly the one the model knows for its function, sometimes none or another. */
const modeledCodes: Readonly<Record<string, string | undefined>> = {
  incr: 'NOT_AN_INTEGER',
  append: 'VALUE_TOO_LARGE',
  cas: undefined,
  read: 'BAD_REQUEST',
  write: 'BAD_REQUEST',
  delete: 'BAD_REQUEST',
  replace: undefined,
  clear: 'BAD_REQUEST',
};

const concurrentOperationArbitrary = fc
  .record({
    process: fc.nat(5),
    call: fc.nat(10),
    duration: fc.nat(4),
    status: fc.constantFrom('ok', 'ok', 'ok', 'fail', 'info'),
    failure: fc.constantFrom('modeled', 'modeled', 'modeled', 'none', 'other'),
    body: fc.oneof(
      fc.record({
        f: fc.constant('read'),
        input: fc.constant(null),
        output: fc.constantFrom(null, 'a', 'b', 'ab', '1'),
      }),
      fc.record({
        f: fc.constant('write'),
        input: fc.constantFrom('a', 'b', 'c', 'd', '1', '2', '9007199254740993'),
        output: fc.constant(null),
      }),
      fc.record({
        f: fc.constant('append'),
        input: fc.constantFrom('a', 'b', 'é'),
        output: fc.constantFrom(0, 1, 1, 2, 2, 3, 4), // the new length in bytes
      }),
      fc.record({
        f: fc.constant('cas'),
        input: fc.tuple(fc.constantFrom(null, 'a', 'b'), fc.constantFrom('a', 'b', 'c')),
        output: fc.constant(null),
      }),
      fc.record({ f: fc.constant('incr'), input: fc.constantFrom(1, 2), output: fc.constantFrom(1, 2, 3) }),
      fc.record({ f: fc.constant('delete'), input: fc.constant(null), output: fc.constant(null) }),
      // A clear as expandClears leaves it on one key: a delete whatever the key held.
      fc.record({ f: fc.constant('clear'), input: fc.constant(null), output: fc.constant(null) }),
      fc.record({
        f: fc.constant('replace'),
        input: fc.constantFrom('a', 'b', 'c'),
        output: fc.constant(null),
      }),
    ),
  })
  .map(({ process, call, duration, status, failure, body }): Operation => {
    const output =
      status === 'ok'
        ? body.f === 'write' || body.f === 'cas' || body.f === 'replace'
          ? body.input
          : body.output
        : null;
    const ret = status === 'info' ? Number.POSITIVE_INFINITY : call + duration;
    const error =
      failure === 'modeled' ? modeledCodes[body.f] : failure === 'other' ? 'OVERLOADED' : undefined;
    const operation = { process, key: 'x', f: body.f, input: body.input, output, call, ret, status };
    return (status === 'fail' && error !== undefined ? { ...operation, error } : operation) as Operation;
  });

test('on small concurrent histories the search agrees with trying every order', () => {
  fc.assert(
    fc.property(
      fc.array(concurrentOperationArbitrary, { maxLength: 8 }),
      fc.constantFrom(undefined, 2, 3),
      (operations, limitBytes) => {
        const expected = linearizableByBruteForce(operations, limitBytes)
          ? 'linearizable'
          : 'not-linearizable';
        const report = checkLinearizable(
          operations,
          limitBytes === undefined ? {} : { valueSizeMaxBytes: limitBytes },
        );
        assert.equal(report.result, expected);
        const modeled = operations.filter((operation) => isModeled(operation, limitBytes));
        const unmodeled = report.unmodeledFailures.reduce((total, { count }) => total + count, 0);
        assert.equal(unmodeled, operations.length - modeled.length);
      },
    ),
    { numRuns: 10_000 },
  );
});

/** Operations on key x drawn from `bodies`, some of unknown outcome, over a short span of time. */
function keyOperationArbitrary(
  ...bodies: fc.Arbitrary<{ f: string; input: unknown; output: unknown }>[]
): fc.Arbitrary<Operation> {
  return fc
    .record({
      process: fc.nat(5),
      call: fc.nat(10),
      duration: fc.nat(4),
      status: fc.constantFrom('ok', 'ok', 'info'),
      body: fc.oneof(...bodies),
    })
    .map(({ process, call, duration, status, body }): Operation => {
      const ret = status === 'info' ? Number.POSITIVE_INFINITY : call + duration;
      const output = status === 'ok' ? body.output : null;
      return { process, key: 'x', f: body.f, input: body.input, output, call, ret, status } as Operation;
    });
}

/** The search answers as the brute force does on histories of `operation`, many of them linearizable. */
function agreesWithBruteForce(operation: fc.Arbitrary<Operation>): void {
  let linearizable = 0;
  fc.assert(
    fc.property(fc.array(operation, { maxLength: 8 }), (operations) => {
      const expected = linearizableByBruteForce(operations, undefined) ? 'linearizable' : 'not-linearizable';
      if (expected === 'linearizable') linearizable += 1;
      assert.equal(checkLinearizable(operations).result, expected);
    }),
    { numRuns: 10_000 },
  );
  assert.ok(linearizable > 1_000, `only ${linearizable} linearizable histories drawn`);
}

const appendArbitrary = (tokens: readonly string[]) =>
  fc.record({
    f: fc.constant('append'),
    input: fc.constantFrom(...tokens),
    output: fc.constantFrom(1, 2, 3),
  });
const readArbitrary = (values: readonly (string | null)[]) =>
  fc.record({ f: fc.constant('read'), input: fc.constant(null), output: fc.constantFrom(...values) });

// A key of appends and reads only prunes by its longest read (appendOnlyBound): every value an order
// reaches before that read must be a prefix of it. Histories drawn from tokens and reads that often
// agree, so that linearizable ones are common, must still get the brute force's answer.
test('on small histories of appends and reads the search, bounded by the longest read, agrees with trying every order', () => {
  agreesWithBruteForce(
    keyOperationArbitrary(
      readArbitrary([null, 'a', 'ab', 'abc', 'b', 'ba', 'bac', 'ac', 'c', 'ca']),
      appendArbitrary(['a', 'b', 'c']),
    ),
  );
});

// The lists of a workload with clears: appends whose tokens no read returns ('c' and 'd') are told
// apart by their lengths alone and append a stand-in of as many bytes (planUnknowns), and clears
// empty the key between them. The search must still get the brute force's answer.
test('on small histories of appends, clears and reads the search, with its stand-ins for unread appends, agrees with trying every order', () => {
  agreesWithBruteForce(
    keyOperationArbitrary(
      readArbitrary([null, 'a', 'ab', 'b', 'ba']),
      appendArbitrary(['a', 'b', 'c', 'd']),
      fc.record({ f: fc.constant('clear'), input: fc.constant(null), output: fc.constant(null) }),
    ),
  );
});
