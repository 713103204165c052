// Scenarios for the per-key linearizability checker: small hand-made histories, each legal or
// illegal for one reason.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventValue, Operation, OperationFunction, OperationStatus } from '../../src/check/index.js';
import { checkLinearizable } from '../../src/check/index.js';

const unknown = Number.POSITIVE_INFINITY;

function operation(
  process: number,
  f: OperationFunction,
  input: EventValue,
  output: EventValue,
  [call, ret]: readonly [number, number],
  status: OperationStatus = 'ok',
  key = 'x',
): Operation {
  return { process, f, key, input, output, call, ret, status };
}
const read = (process: number, output: string | null, interval: readonly [number, number], key = 'x') =>
  operation(process, 'read', null, output, interval, 'ok', key);
const write = (
  process: number,
  value: string,
  interval: readonly [number, number],
  status: OperationStatus = 'ok',
) => operation(process, 'write', value, status === 'ok' ? value : null, interval, status);

test('a sequential legal history is linearizable', () => {
  const history = [
    read(1, null, [0, 1]),
    write(1, 'a', [2, 3]),
    operation(2, 'append', 'b', 2, [4, 5]),
    operation(1, 'cas', ['ab', 'c'], ['ab', 'c'], [6, 7]),
    operation(2, 'cas', ['ab', 'd'], null, [8, 9], 'fail'),
    read(2, 'c', [10, 11]),
  ];
  const report = checkLinearizable(history);
  assert.equal(report.result, 'linearizable');
  assert.equal(report.perKey.get('x')?.operations, 6);
});

test('concurrent writes with a read returning either value are linearizable', () => {
  for (const seen of ['a', 'b']) {
    const history = [
      write(1, 'a', [0, 10]),
      write(2, 'b', [1, 11]),
      read(3, seen, [2, 12]),
      read(3, seen, [13, 14]),
    ];
    assert.equal(checkLinearizable(history).result, 'linearizable', `read ${seen}`);
  }
});

test('a stale read after a completed write is not linearizable, and the explanation names the key', () => {
  const history = [write(1, 'a', [0, 1]), write(1, 'b', [2, 3]), read(2, 'a', [4, 5])];
  const report = checkLinearizable(history);
  assert.equal(report.result, 'not-linearizable');
  const explanation = report.perKey.get('x')?.explanation ?? '';
  assert.match(explanation, /key "x"/);
  assert.match(explanation, /p2 read → "a" \[4, 5\]/);
});

test('a read of a value never written is not linearizable', () => {
  const history = [write(1, 'a', [0, 1]), read(2, 'z', [0, 5])];
  assert.equal(checkLinearizable(history).result, 'not-linearizable');
});

test('a timed-out write whose value is read later is linearizable', () => {
  const history = [write(1, 'a', [0, unknown], 'info'), read(2, null, [1, 2]), read(2, 'a', [3, 4])];
  assert.equal(checkLinearizable(history).result, 'linearizable');
});

test('a timed-out write never read is linearizable', () => {
  const history = [write(1, 'a', [0, unknown], 'info'), read(2, null, [1, 2]), read(2, null, [30, 40])];
  assert.equal(checkLinearizable(history).result, 'linearizable');
});

test('a timed-out write cannot take effect before its invoke', () => {
  const history = [read(2, 'a', [0, 1]), write(1, 'a', [2, unknown], 'info')];
  assert.equal(checkLinearizable(history).result, 'not-linearizable');
});

test('a failed write never happened, so reading its value is not linearizable', () => {
  const history = [write(1, 'a', [0, 1], 'fail'), read(2, null, [2, 3])];
  assert.equal(checkLinearizable(history).result, 'linearizable');
  assert.equal(checkLinearizable([...history, read(2, 'a', [4, 5])]).result, 'not-linearizable');
});

for (const code of ['REQUEST_CANCELLED', 'VALUE_CHANGED']) {
  test(`a write the cluster said never ran (${code}) never ran: reading its value is not linearizable`, () => {
    const cancelled = (
      process: number,
      f: OperationFunction,
      input: EventValue,
      interval: readonly [number, number],
    ) => ({
      ...operation(process, f, input, null, interval, 'fail'),
      error: code,
    });
    const history = [
      write(1, 'a', [0, 1]),
      cancelled(2, 'write', 'b', [2, 30]),
      cancelled(3, 'append', 'c', [2, 30]),
      cancelled(4, 'incr', 1, [2, 30]),
    ];
    const report = checkLinearizable([...history, read(5, 'a', [40, 41])]);
    assert.equal(report.result, 'linearizable');
    assert.deepEqual(report.unmodeledFailures, [], 'a write that never ran is judged, not left unmodeled');
    assert.equal(checkLinearizable([...history, read(5, 'b', [40, 41])]).result, 'not-linearizable');
    assert.equal(checkLinearizable([...history, read(5, 'ac', [40, 41])]).result, 'not-linearizable');
  });
}

test('a cas that failed while the value equalled expected throughout is not linearizable', () => {
  const history = [write(1, 'a', [0, 1]), operation(2, 'cas', ['a', 'b'], null, [2, 3], 'fail')];
  assert.equal(checkLinearizable(history).result, 'not-linearizable');
});

test('a cas that failed while a concurrent write changed the value is linearizable', () => {
  const history = [
    write(1, 'a', [0, 1]),
    operation(2, 'cas', ['a', 'b'], null, [2, 5], 'fail'),
    write(1, 'c', [3, 4]),
    read(1, 'c', [6, 7]),
  ];
  assert.equal(checkLinearizable(history).result, 'linearizable');
});

test('a legal incr sequence is linearizable, counting a missing key as 0', () => {
  const history = [
    operation(1, 'incr', 2, 2, [0, 1]),
    operation(2, 'incr', 3, 5, [2, 3]),
    read(1, '5', [4, 5]),
    operation(2, 'incr', -6, -1, [6, 7]),
  ];
  assert.equal(checkLinearizable(history).result, 'linearizable');
});

test('an incr sequence that loses an increment is not linearizable', () => {
  const history = [operation(1, 'incr', 1, 1, [0, 1]), operation(2, 'incr', 1, 1, [2, 3])];
  assert.equal(checkLinearizable(history).result, 'not-linearizable');
});

test('a history too big for a tiny budget answers unknown, never linearizable', () => {
  const writes = Array.from({ length: 10 }, (_, index) => write(index, `v${index}`, [0, 100]));
  const legal = [...writes, read(99, 'v7', [101, 102])];
  const illegal = [...writes, read(99, 'never', [101, 102])];
  for (const history of [legal, illegal]) {
    const report = checkLinearizable(history, { budgetSteps: 5 });
    assert.equal(report.result, 'unknown');
    assert.equal(report.perKey.get('x')?.steps, 5);
  }
  assert.equal(checkLinearizable(legal).result, 'linearizable');
  assert.equal(checkLinearizable(illegal).result, 'not-linearizable');
});

test('keys are checked apart: two legal keys are linearizable, one illegal key makes the whole history not', () => {
  const legal = [
    operation(1, 'write', 'a', 'a', [0, 1], 'ok', 'x'),
    operation(2, 'write', 'b', 'b', [0, 1], 'ok', 'y'),
    read(1, 'a', [2, 3], 'x'),
    read(2, 'b', [2, 3], 'y'),
  ];
  const report = checkLinearizable(legal);
  assert.equal(report.result, 'linearizable');
  assert.deepEqual([...report.perKey.keys()], ['x', 'y']);
  const mixed = checkLinearizable([...legal, read(3, 'a', [4, 5], 'y')]);
  assert.equal(mixed.result, 'not-linearizable');
  assert.equal(mixed.perKey.get('x')?.result, 'linearizable');
  assert.match(mixed.perKey.get('y')?.explanation ?? '', /key "y"/);
});

test('a long concurrent history is decided quickly thanks to the cache', () => {
  // 4 processes, each doing 100 overlapping write/read pairs: exponential without memoization.
  const history: Operation[] = [];
  for (let round = 0; round < 100; round++) {
    for (let process = 0; process < 4; process++) {
      const start = round * 10 + process;
      history.push(write(process, `p${process}`, [start, start + 6]));
    }
    history.push(read(9, 'p3', [round * 10 + 7, round * 10 + 8]));
  }
  const report = checkLinearizable(history);
  assert.equal(report.result, 'linearizable');
  assert.ok((report.perKey.get('x')?.steps ?? 0) < 100_000);
});

// ---- appends: an acknowledged append reports the new length in bytes, not the value -----------

test('an append that reports the length after it is linearizable; one off by its own input is not', () => {
  const history = [write(1, 'a', [0, 1]), operation(2, 'append', 'bc', 3, [2, 3]), read(1, 'abc', [4, 5])];
  assert.equal(checkLinearizable(history).result, 'linearizable');
  for (const length of [1, 2, 5]) {
    const wrong = [write(1, 'a', [0, 1]), operation(2, 'append', 'bc', length, [2, 3])];
    assert.equal(checkLinearizable(wrong).result, 'not-linearizable', `length ${length}`);
  }
  // The length counts UTF-8 bytes, as the store does: "é" takes two.
  assert.equal(checkLinearizable([operation(1, 'append', 'é', 2, [0, 1])]).result, 'linearizable');
  assert.equal(checkLinearizable([operation(1, 'append', 'é', 1, [0, 1])]).result, 'not-linearizable');
});

test('a lost append shows in the length of the next one', () => {
  const history = [
    operation(1, 'append', 'a;', 2, [0, 1]),
    operation(2, 'append', 'b;', 2, [2, 3]), // as if "a;" had been lost
  ];
  const report = checkLinearizable(history);
  assert.equal(report.result, 'not-linearizable');
  assert.match(report.perKey.get('x')?.explanation ?? '', /p2 append\("b;"\) → length 2 \[2, 3\]/);
});

test('a timed-out append applied twice shows in the next length; applied once or not at all, it is legal', () => {
  const timedOut = operation(1, 'append', 'a;', null, [0, unknown], 'info');
  for (const [length, result] of [
    [2, 'linearizable'],
    [4, 'linearizable'],
    [6, 'not-linearizable'],
  ] as const) {
    const history = [timedOut, operation(2, 'append', 'b;', length, [1, 2])];
    assert.equal(checkLinearizable(history).result, result, `length ${length}`);
  }
});

test('concurrent appends may report their lengths in either order, but not both the same', () => {
  const appends = (first: number, second: number) => [
    operation(1, 'append', 'a', first, [0, 5]),
    operation(2, 'append', 'bb', second, [1, 4]),
  ];
  assert.equal(checkLinearizable(appends(1, 3)).result, 'linearizable');
  assert.equal(checkLinearizable(appends(3, 2)).result, 'linearizable');
  assert.equal(checkLinearizable(appends(3, 3)).result, 'not-linearizable');
  // The lengths fix the order, and a read must agree with it.
  assert.equal(checkLinearizable([...appends(1, 3), read(3, 'abb', [6, 7])]).result, 'linearizable');
  assert.equal(checkLinearizable([...appends(1, 3), read(3, 'bba', [6, 7])]).result, 'not-linearizable');
});

test('an acknowledged append never grows a stand-in value, however long it is', () => {
  // The unknown write of "xyz" is seen by nothing but a cas failure, so it leaves a stand-in; an
  // append from "xyz" would answer 4, not 12, so the stand-in must not answer 12 either.
  const history = [
    write(2, 'xyz', [0, unknown], 'info'),
    operation(3, 'cas', ['q', 'r'], null, [1, 2], 'fail'),
    operation(1, 'append', 'a', 12, [3, 4]),
  ];
  assert.equal(checkLinearizable(history).result, 'not-linearizable');
  const fromWrite = history.map((entry) => (entry.f === 'append' ? { ...entry, output: 4 } : entry));
  assert.equal(checkLinearizable(fromWrite).result, 'linearizable');
});

test('alike timed-out appends are placed in order of call (regression: fast-check counterexample)', () => {
  const history = [
    operation(0, 'cas', ['b', 'a'], ['b', 'a'], [0, 0]),
    operation(0, 'append', 'b', null, [1, unknown], 'info'),
    operation(1, 'append', 'b', null, [0, unknown], 'info'),
  ];
  assert.equal(checkLinearizable(history).result, 'linearizable');
});

test('a timed-out append observed only by an increment is still placed', () => {
  const history = [write(1, '1', [0, 1]), operation(2, 'append', '2', null, [2, unknown], 'info')];
  assert.equal(checkLinearizable([...history, operation(1, 'incr', 1, 13, [3, 4])]).result, 'linearizable');
  assert.equal(checkLinearizable([...history, operation(1, 'incr', 1, 2, [3, 4])]).result, 'linearizable');
  assert.equal(
    checkLinearizable([...history, operation(1, 'incr', 1, 14, [3, 4])]).result,
    'not-linearizable',
  );
});

test('many timed-out writes seen by nothing but cas failures stay cheap to refute', () => {
  const history: Operation[] = [];
  for (let round = 0; round < 40; round++) {
    const start = round * 10;
    history.push(write(1, `v${round}`, [start, start + 1]));
    history.push(write(100 + round, `lost${round}`, [start + 2, unknown], 'info'));
    history.push(operation(2, 'cas', ['absent', 'q'], null, [start + 3, start + 4], 'fail'));
    history.push(read(3, `v${round}`, [start + 5, start + 6]));
  }
  assert.equal(checkLinearizable(history, { budgetSteps: 10_000 }).result, 'linearizable');
  const refuted = checkLinearizable([...history, read(3, 'never', [400, 401])], { budgetSteps: 10_000 });
  assert.equal(refuted.result, 'not-linearizable');
});

// Found by chaos's disk-full nemesis (every replica's disk full at once): an append key with 11
// unknown appends needed 12.7 million steps (17 s), over the chaos runner's budget. On a key of
// appends and reads only, the longest read bounds every value before it.
test('a dozen timed-out appends on a key of appends and reads stay cheap to decide', () => {
  const history: Operation[] = [];
  let written = '';
  for (let round = 0; round < 20; round++) {
    const token = `k${round};`;
    written += token;
    history.push(operation(1, 'append', token, written.length, [round * 4, round * 4 + 1]));
    history.push(read(2, written, [round * 4 + 2, round * 4 + 3]));
  }
  // Every replica down: twelve appends time out, each from its own process; five took effect.
  const lost = Array.from({ length: 12 }, (_, n) => `u${n};`);
  for (const [n, token] of lost.entries()) {
    history.push(operation(10 + n, 'append', token, null, [100 + n, unknown], 'info'));
  }
  const final = written + [3, 0, 7, 11, 5].map((n) => lost[n]).join('');
  history.push(operation(1, 'append', 'end;', final.length + 4, [200, 201]));
  history.push(read(2, `${final}end;`, [202, 203]));
  assert.equal(checkLinearizable(history, { budgetSteps: 10_000 }).result, 'linearizable');
  // A token the final read shows twice was applied twice, which no order explains.
  const twice = [
    ...history.slice(0, -2),
    operation(1, 'append', 'end;', final.length + 8, [200, 201]),
    read(2, `${final}${lost[3]}end;`, [202, 203]),
  ];
  assert.equal(checkLinearizable(twice, { budgetSteps: 10_000 }).result, 'not-linearizable');
});

// ---- refusals: a fail with the code that refused it is an observation of the value ------------

const refused = (
  process: number,
  f: 'incr' | 'append',
  input: string | number,
  interval: readonly [number, number],
  error = f === 'incr' ? 'NOT_AN_INTEGER' : 'VALUE_TOO_LARGE',
): Operation => ({ ...operation(process, f, input, null, interval, 'fail'), error });

test('an incr refused NOT_AN_INTEGER that saw a write no linearization keeps is not linearizable', () => {
  // The write of "abc" was never confirmed, and later reads show the old number with no write
  // since: a primary answered the refusal from a state that never committed.
  const history = [
    write(1, '1', [0, 1]),
    write(2, 'abc', [2, unknown], 'info'),
    refused(3, 'incr', 1, [3, 4]),
    read(3, '1', [5, 6]),
    read(1, '1', [7, 8]),
  ];
  const report = checkLinearizable(history);
  assert.equal(report.result, 'not-linearizable');
  assert.match(report.perKey.get('x')?.explanation ?? '', /p3 incr\(1\) → refused NOT_AN_INTEGER \[3, 4\]/);
  assert.deepEqual(report.unmodeledFailures, []);
});

test('an incr refused NOT_AN_INTEGER is linearizable where the value was not a number', () => {
  const unconfirmedWordKept = [
    write(1, '1', [0, 1]),
    write(2, 'abc', [2, unknown], 'info'),
    refused(3, 'incr', 1, [3, 4]),
    read(3, 'abc', [5, 6]),
  ];
  assert.equal(checkLinearizable(unconfirmedWordKept).result, 'linearizable');
  // Concurrent with the writes that turn the value into a word and back into a number.
  const concurrent = [
    write(1, '1', [0, 1]),
    write(2, 'abc', [2, 5]),
    refused(3, 'incr', 1, [3, 8]),
    write(2, '2', [6, 7]),
    read(1, '2', [9, 10]),
  ];
  assert.equal(checkLinearizable(concurrent).result, 'linearizable');
  // A number the store cannot hold exactly is not an integer to it either.
  const unsafe = [write(1, '9007199254740993', [0, 1]), refused(2, 'incr', 1, [2, 3])];
  assert.equal(checkLinearizable(unsafe).result, 'linearizable');
});

test('an incr refused NOT_AN_INTEGER on a missing key is not linearizable: missing counts as 0', () => {
  assert.equal(checkLinearizable([refused(1, 'incr', 1, [0, 1])]).result, 'not-linearizable');
  const afterNumber = [write(1, '-0', [0, 1]), refused(2, 'incr', 1, [2, 3])];
  assert.equal(checkLinearizable(afterNumber).result, 'not-linearizable');
});

test('an incr that succeeded from a value that is not a decimal safe integer is not linearizable', () => {
  for (const value of ['abc', '', ' 1', '1 ', '+1', '1.0', '0x1', '9007199254740993']) {
    const history = [write(1, value, [0, 1]), operation(2, 'incr', 1, null, [2, unknown], 'info')];
    const observed = [...history, read(1, String(Number(value) + 1), [3, 4])];
    assert.equal(checkLinearizable(observed).result, 'not-linearizable', JSON.stringify(value));
  }
  const leadingZeros = [write(1, '007', [0, 1]), operation(2, 'incr', 1, 8, [2, 3])];
  assert.equal(checkLinearizable(leadingZeros).result, 'linearizable');
});

test('an incr whose result would leave the safe integer range never takes effect', () => {
  const history = [
    write(1, '9007199254740991', [0, 1]),
    operation(2, 'incr', 1, null, [2, unknown], 'info'),
    read(1, '9007199254740992', [3, 4]),
  ];
  assert.equal(checkLinearizable(history).result, 'not-linearizable');
});

test('an append refused VALUE_TOO_LARGE is legal only where the value would outgrow the limit', () => {
  const options = { valueSizeMaxBytes: 4 };
  const long = [write(1, 'abc', [0, 1]), refused(2, 'append', 'de', [2, 3]), read(1, 'abc', [4, 5])];
  assert.equal(checkLinearizable(long, options).result, 'linearizable');
  const short = [write(1, 'ab', [0, 1]), refused(2, 'append', 'cd', [2, 3])];
  assert.equal(checkLinearizable(short, options).result, 'not-linearizable');
  // The limit counts UTF-8 bytes: "é" takes two.
  const wide = [write(1, 'éé', [0, 1]), refused(2, 'append', 'a', [2, 3])];
  assert.equal(checkLinearizable(wide, options).result, 'linearizable');
  assert.equal(checkLinearizable(wide, { valueSizeMaxBytes: 5 }).result, 'not-linearizable');
});

test('an append never takes effect where it would outgrow the limit', () => {
  const options = { valueSizeMaxBytes: 4 };
  const unknownAppend = [
    write(1, 'abc', [0, 1]),
    operation(2, 'append', 'de', null, [2, unknown], 'info'),
    read(1, 'abcde', [3, 4]),
  ];
  assert.equal(checkLinearizable(unknownAppend).result, 'linearizable');
  assert.equal(checkLinearizable(unknownAppend, options).result, 'not-linearizable');
  const okAppend = [write(1, 'abc', [0, 1]), operation(2, 'append', 'de', 5, [2, 3])];
  assert.equal(checkLinearizable(okAppend).result, 'linearizable');
  assert.equal(checkLinearizable(okAppend, options).result, 'not-linearizable');
});

test('failures the model cannot judge are reported with their codes, not silently dropped', () => {
  const history = [
    write(1, 'a', [0, 1]),
    refused(2, 'append', 'b', [2, 3]), // no limit given: cannot be checked
    refused(2, 'append', 'c', [4, 5]),
    refused(3, 'incr', 1, [2, 3], 'BAD_REQUEST'),
    operation(4, 'write', 'z', null, [2, 3], 'fail'), // a fail that names no code
    { ...operation(5, 'cas', ['q', 'r'], null, [2, 3], 'fail'), error: 'OVERLOADED' },
    operation(6, 'cas', ['q', 'r'], null, [2, 3], 'fail'), // not swapped: modeled
    refused(7, 'incr', 1, [2, 3]), // NOT_AN_INTEGER from "a": modeled and legal
    // Only writes are cancelled (a write that never ran): a read refused so is a finding.
    { ...operation(8, 'read', null, null, [2, 3], 'fail'), error: 'REQUEST_CANCELLED' },
  ];
  const report = checkLinearizable(history);
  assert.equal(report.result, 'linearizable');
  assert.deepEqual(
    report.unmodeledFailures.map(({ f, error, count, example }) => [f, error, count, example.process]),
    [
      ['append', 'VALUE_TOO_LARGE', 2, 2],
      ['incr', 'BAD_REQUEST', 1, 3],
      ['write', null, 1, 4],
      ['cas', 'OVERLOADED', 1, 5],
      ['read', 'REQUEST_CANCELLED', 1, 8],
    ],
  );
  assert.equal(report.perKey.get('x')?.operations, 3);
  const limited = checkLinearizable(history, { valueSizeMaxBytes: 1 });
  assert.deepEqual(
    limited.unmodeledFailures.map(({ f, error }) => `${f} ${error}`),
    ['incr BAD_REQUEST', 'write null', 'cas OVERLOADED', 'read REQUEST_CANCELLED'],
  );
  assert.equal(limited.result, 'linearizable');
});

test('a write nothing reads stands in for a value no refusal accepts (rule 4 with refusals)', () => {
  // A cas failure makes the unknown write of "2" leave a stand-in value; "2" is a number and
  // short, so neither refusal below may accept what it leaves.
  const base = [write(2, '2', [0, unknown], 'info'), operation(3, 'cas', ['q', 'r'], null, [1, 2], 'fail')];
  assert.equal(checkLinearizable([...base, refused(1, 'incr', 1, [3, 4])]).result, 'not-linearizable');
  assert.equal(
    checkLinearizable([...base, refused(1, 'append', 'a', [3, 4])], { valueSizeMaxBytes: 3 }).result,
    'not-linearizable',
  );
  // A word, or a value too long to grow, is seen by the refusal: the write is placed as itself.
  const word = [write(2, 'w', [0, unknown], 'info'), operation(3, 'cas', ['q', 'r'], null, [1, 2], 'fail')];
  assert.equal(checkLinearizable([...word, refused(1, 'incr', 1, [3, 4])]).result, 'linearizable');
  const long = [write(2, 'long', [0, unknown], 'info'), refused(1, 'append', 'a', [3, 4])];
  assert.equal(checkLinearizable(long, { valueSizeMaxBytes: 3 }).result, 'linearizable');
  assert.equal(
    checkLinearizable([...word, refused(1, 'append', 'a', [3, 4])], { valueSizeMaxBytes: 3 }).result,
    'not-linearizable',
  );
});

test('an unknown append seen only by a refusal is still placed', () => {
  // "1" + "x" is no number: only the append can explain the refusal, and no value shows its token.
  const history = [
    write(1, '1', [0, 1]),
    operation(2, 'append', 'x', null, [2, unknown], 'info'),
    refused(3, 'incr', 1, [3, 4]),
  ];
  assert.equal(checkLinearizable(history).result, 'linearizable');
  const tooLong = [
    write(1, 'ab', [0, 1]),
    operation(2, 'append', 'c', null, [2, unknown], 'info'),
    refused(3, 'append', 'd', [3, 4]),
  ];
  assert.equal(checkLinearizable(tooLong, { valueSizeMaxBytes: 3 }).result, 'linearizable');
});

test('an unknown write seen only through an unknown increment is still placed', () => {
  const history = [
    write(1, '1', [0, 1]),
    write(2, '5', [2, unknown], 'info'),
    operation(3, 'incr', 1, null, [3, unknown], 'info'),
    read(1, '6', [10, 11]),
  ];
  assert.equal(checkLinearizable(history).result, 'linearizable');
});

test('an unknown write seen only through an unknown append is still placed', () => {
  const history = [
    write(2, 'a', [0, unknown], 'info'),
    operation(3, 'append', 'b', null, [1, unknown], 'info'),
    read(1, 'ab', [10, 11]),
  ];
  assert.equal(checkLinearizable(history).result, 'linearizable');
});

test('many unknown words seen by nothing but incr refusals stay cheap to decide', () => {
  // Each round: a number, then a word nobody reads, refused by an incr, and an unknown increment.
  const history: Operation[] = [];
  for (let round = 0; round < 40; round++) {
    const start = round * 10;
    history.push(write(1, `${round}000`, [start, start + 1]));
    history.push(write(100 + round, `word${round}`, [start + 2, unknown], 'info'));
    history.push(refused(2, 'incr', 1, [start + 3, start + 4]));
    history.push(operation(200 + round, 'incr', 1, null, [start + 5, unknown], 'info'));
  }
  assert.equal(checkLinearizable(history, { budgetSteps: 20_000 }).result, 'linearizable');
  // After a last refusal the value is some word, but a read shows the last number again.
  const refuted = [...history, refused(2, 'incr', 1, [400, 401]), read(3, '39000', [402, 403])];
  const report = checkLinearizable(refuted, { budgetSteps: 20_000 });
  assert.equal(report.result, 'not-linearizable');
});

test('a delete makes the key absent; a replace writes only a present key, and failing says it was absent', () => {
  const legal = [
    write(1, 'a', [0, 1]),
    operation(2, 'delete', null, null, [2, 3]),
    operation(1, 'replace', 'b', null, [4, 5], 'fail'),
    read(2, null, [6, 7]),
    write(1, 'c', [8, 9]),
    operation(2, 'replace', 'd', 'd', [10, 11]),
    read(1, 'd', [12, 13]),
  ];
  assert.equal(checkLinearizable(legal).result, 'linearizable');
  // A replace acknowledged right after a delete completed: the key was absent, so it cannot have written.
  const replacedAbsent = [
    write(1, 'a', [0, 1]),
    operation(2, 'delete', null, null, [2, 3]),
    operation(1, 'replace', 'b', 'b', [4, 5]),
  ];
  const report = checkLinearizable(replacedAbsent);
  assert.equal(report.result, 'not-linearizable');
  assert.match(report.perKey.get('x')?.explanation ?? '', /replace\("b"\)/);
  // A replace that found the key absent while a write had surely completed.
  const absentAfterWrite = [write(1, 'a', [0, 1]), operation(2, 'replace', 'b', null, [2, 3], 'fail')];
  assert.equal(checkLinearizable(absentAfterWrite).result, 'not-linearizable');
  // An unknown delete may take effect late: a read of null after the write is then legal.
  const unknownDelete = [
    operation(2, 'delete', null, null, [0, unknown], 'info'),
    write(1, 'a', [1, 2]),
    read(1, null, [3, 4]),
  ];
  assert.equal(checkLinearizable(unknownDelete).result, 'linearizable');
});

test('a cas to null takes the value at one instant (GETDEL): two takers of one write is not linearizable', () => {
  const take = (process: number, value: string, interval: readonly [number, number]) =>
    operation(process, 'cas', [value, null], [value, null], interval);
  // Two racing takers: one took 'a', the other found nothing, and the key stays absent.
  const legal = [write(1, 'a', [0, 1]), take(2, 'a', [2, 6]), read(3, null, [3, 7]), read(1, null, [8, 9])];
  assert.equal(checkLinearizable(legal).result, 'linearizable');
  // Both took the one 'a': no order lets the second find it after the first took it.
  const twice = [write(1, 'a', [0, 1]), take(2, 'a', [2, 6]), take(3, 'a', [3, 7])];
  const report = checkLinearizable(twice);
  assert.equal(report.result, 'not-linearizable');
  assert.match(report.perKey.get('x')?.explanation ?? '', /cas\(\["a",null\]\)/);
  // Recorded as a read of 'a' and a delete each, the same answers pass: what the cas records catch.
  const apart = [
    write(1, 'a', [0, 1]),
    read(2, 'a', [2, 6]),
    operation(4, 'delete', null, null, [2, 6]),
    read(3, 'a', [3, 7]),
    operation(5, 'delete', null, null, [3, 7]),
  ];
  assert.equal(checkLinearizable(apart).result, 'linearizable');
  // A take that left the value in place shows in the read after it.
  const kept = [write(1, 'a', [0, 1]), take(2, 'a', [2, 3]), read(3, 'a', [4, 5])];
  assert.equal(checkLinearizable(kept).result, 'not-linearizable');
});

// Histories reach the checker paired and validated (history.ts); one built by hand that the model
// cannot read is refused by name rather than searched as something else.
test('an operation whose input or output does not fit its function is refused, naming it', () => {
  const malformed: readonly Operation[] = [
    operation(1, 'read', null, 5, [0, 1]),
    operation(1, 'write', 5, 5, [0, 1]),
    operation(1, 'append', 5, 1, [0, 1]),
    operation(1, 'append', 'a', 'a', [0, 1]),
    operation(1, 'cas', 'a', 'a', [0, 1]),
    operation(1, 'replace', 5, 5, [0, 1]),
    operation(1, 'incr', '1', 1, [0, 1]),
    operation(1, 'incr', 1, '1', [0, 1]),
  ];
  for (const bad of malformed) {
    assert.throws(() => checkLinearizable([bad]), /^TypeError: malformed ok \w+ on "x"/, JSON.stringify(bad));
  }
});
