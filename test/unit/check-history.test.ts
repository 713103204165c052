// The history format: recording, JSON-lines round trip, validation, and pairing into operations.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  answeredReadingWrite,
  checkLinearizable,
  errorCodeLengthMax,
  everyKey,
  expandClears,
  HistoryError,
  HistoryRecorder,
  pairOperations,
  parseJsonLines,
  toJsonLines,
} from '../../src/check/index.js';
import { AssertionError } from '../../src/protocol/assert.js';

function recordSample(): HistoryRecorder {
  const recorder = new HistoryRecorder();
  const write = recorder.invoke(1, 'write', 'x', 'a', 10);
  const cas = recorder.invoke(2, 'cas', 'x', [null, 'b'], 11);
  recorder.ok(write, 'a', 20);
  recorder.fail(cas, 21);
  const incr = recorder.invoke(1, 'incr', 'n', 5, 30);
  recorder.info(incr, 40);
  const read = recorder.invoke(3, 'read', 'x', null, 41);
  recorder.ok(read, 'a', 42);
  recorder.invoke(1, 'append', 'x', 'p1-1;', 50);
  return recorder;
}

test('a recorded history survives a JSON-lines round trip', () => {
  const events = recordSample().events();
  const text = toJsonLines(events);
  assert.equal(text.split('\n').length, events.length + 1);
  assert.deepEqual(parseJsonLines(text), events);
  assert.equal(
    text.split('\n')[0],
    '{"process":1,"type":"invoke","f":"write","key":"x","value":"a","time":10}',
  );
});

test('pairing gives each operation its interval, with an infinite return when the outcome is unknown', () => {
  const operations = pairOperations(recordSample().events());
  assert.deepEqual(
    operations.map(({ f, status, call, ret, output }) => ({ f, status, call, ret, output })),
    [
      { f: 'write', status: 'ok', call: 10, ret: 20, output: 'a' },
      { f: 'cas', status: 'fail', call: 11, ret: 21, output: null },
      { f: 'incr', status: 'info', call: 30, ret: Number.POSITIVE_INFINITY, output: null },
      { f: 'read', status: 'ok', call: 41, ret: 42, output: 'a' },
      { f: 'append', status: 'info', call: 50, ret: Number.POSITIVE_INFINITY, output: null },
    ],
  );
});

test('parse errors name the line', () => {
  const good = '{"process":1,"type":"invoke","f":"read","key":"x","value":null,"time":1}';
  assert.throws(() => parseJsonLines(`${good}\n{not json`), {
    name: 'HistoryError',
    message: /^line 2: not JSON/,
  });
  assert.throws(() => parseJsonLines(`${good}\n\n[1]`), /^HistoryError: line 3: expected a JSON object/);
  const badType = good.replace('"invoke"', '"done"');
  assert.throws(() => parseJsonLines(`${good}\n${badType}`), /line 2: "type" must be one of/);
  const badValue = good.replace('"f":"read"', '"f":"cas"');
  assert.throws(() => parseJsonLines(badValue), /line 1: "value" null is not valid for cas invoke/);
  const badTime = good.replace('"time":1', '"time":"soon"');
  assert.throws(
    () => parseJsonLines(badTime),
    (error: unknown) => error instanceof HistoryError && error.line === 1,
  );
});

// Each field of an event is checked on its own, so a history written by a faulty recorder (or
// edited by hand) is refused with the field named, never paired into operations the checker misreads.
test('each malformed field of an event is refused with its reason, and its edge values are taken', () => {
  const good = { process: 1, type: 'ok', f: 'write', key: 'x', value: 'a', time: 2, index: 3 };
  const invoke = JSON.stringify({ ...good, type: 'invoke', index: undefined });
  const parse = (changes: Record<string, unknown>) =>
    parseJsonLines(`${invoke}\n${JSON.stringify({ ...good, ...changes })}`);
  const refusals: readonly [Record<string, unknown>, RegExp][] = [
    [{ process: '1' }, /line 2: "process" must be an integer/],
    [{ process: 1.5 }, /line 2: "process" must be an integer/],
    [{ f: 'frob' }, /line 2: "f" must be one of/],
    [{ key: 5 }, /line 2: "key" must be a string/],
    [{ time: '2' }, /line 2: "time" must be a finite number/],
    [{ value: undefined }, /line 2: "value" is missing/],
    [{ type: 'fail', index: 3 }, /line 2: "index" belongs on ok events only/],
    [{ index: '3' }, /line 2: "index" must be a non-negative integer/],
    [{ index: 1.5 }, /line 2: "index" must be a non-negative integer/],
    [{ index: -1 }, /line 2: "index" must be a non-negative integer/],
  ];
  for (const [changes, reason] of refusals) {
    assert.throws(() => parse(changes), reason, JSON.stringify(changes));
  }
  // JSON has no Infinity, but a number too large for a double parses to it.
  const endless = `${invoke}\n${JSON.stringify(good).replace('"time":2', '"time":1e999')}`;
  assert.throws(() => parseJsonLines(endless), /line 2: "time" must be a finite number/);
  assert.equal(parse({ index: 0 })[1]?.index, 0);
  const longest = 'X'.repeat(errorCodeLengthMax);
  assert.equal(parse({ type: 'fail', index: undefined, error: longest })[1]?.error, longest);
  for (const notAnObject of ['5', 'null', '"ok"']) {
    assert.throws(() => parseJsonLines(notAnObject), /^HistoryError: line 1: expected a JSON object/);
  }
  const cas = (value: unknown) =>
    parseJsonLines(JSON.stringify({ process: 1, type: 'invoke', f: 'cas', key: 'x', value, time: 1 }));
  for (const bad of [[5, 'a'], ['a', 5], ['a'], ['a', 'b', 'c']]) {
    assert.throws(() => cas(bad), /line 1: "value" .* is not valid for cas invoke/, JSON.stringify(bad));
  }
  assert.deepEqual(cas([null, 'a'])[0]?.value, [null, 'a']);
  // An empty string appended to an absent key answers its length, 0.
  const append = '{"process":1,"type":"invoke","f":"append","key":"l","value":"","time":1}';
  const appended = append.replace('"invoke"', '"ok"').replace('"value":""', '"value":0');
  assert.equal(parseJsonLines(`${append}\n${appended}`)[1]?.value, 0);
});

test('a write that answers the value before it (GETSET, GETDEL) goes in as a cas between the two values', () => {
  assert.deepEqual(answeredReadingWrite('a', 'b'), { f: 'cas', input: ['a', 'b'], output: ['a', 'b'] });
  assert.deepEqual(answeredReadingWrite(null, 'b'), { f: 'cas', input: [null, 'b'], output: [null, 'b'] });
  assert.deepEqual(answeredReadingWrite('a', null), { f: 'cas', input: ['a', null], output: ['a', null] });
  // Found nothing and left nothing: a read of the absent value.
  assert.deepEqual(answeredReadingWrite(null, null), { f: 'read', input: null, output: null });
});

test('pairing rejects a completion with nothing pending and a second invoke while one is pending', () => {
  const invoke = { process: 1, type: 'invoke', f: 'write', key: 'x', value: 'a', time: 1 } as const;
  assert.throws(
    () => pairOperations([{ ...invoke, type: 'ok' }]),
    /line 1: process 1 completed with nothing pending/,
  );
  assert.throws(
    () => pairOperations([invoke, { ...invoke, time: 2 }]),
    /line 2: process 1 invoked while its event 1/,
  );
  assert.throws(
    () => pairOperations([invoke, { ...invoke, type: 'ok', key: 'y' }]),
    /does not match event 1/,
  );
  assert.throws(
    () => pairOperations([invoke, { ...invoke, type: 'ok', f: 'append', value: 1 }]),
    /line 2: completion append x does not match event 1/,
  );
  assert.throws(
    () =>
      pairOperations([
        { ...invoke, time: 5 },
        { ...invoke, type: 'ok', time: 4 },
      ]),
    /line 2: completes before its invoke/,
  );
  assert.equal(
    pairOperations([
      { ...invoke, time: 5 },
      { ...invoke, type: 'ok', time: 5 },
    ])[0]?.ret,
    5,
  );
});

test('a process may invoke again after a timeout, but the recorder asserts against overlapping invokes', () => {
  const recorder = new HistoryRecorder();
  const first = recorder.invoke(1, 'write', 'x', 'a', 1);
  assert.throws(() => recorder.invoke(1, 'write', 'x', 'b', 2), AssertionError);
  recorder.info(first, 3);
  recorder.invoke(1, 'write', 'x', 'b', 4);
  assert.throws(() => recorder.ok(first, 'a', 5), AssertionError);
  assert.equal(pairOperations(recorder.events()).length, 2);
});

test('a fail may name the error code that refused it; histories without codes read as before', () => {
  const recorder = new HistoryRecorder();
  const incr = recorder.invoke(1, 'incr', 'x', 1, 10);
  recorder.fail(incr, 11, 'NOT_AN_INTEGER');
  const cas = recorder.invoke(1, 'cas', 'x', ['a', 'b'], 12);
  recorder.fail(cas, 13);
  const text = toJsonLines(recorder.events());
  assert.equal(
    text.split('\n')[1],
    '{"process":1,"type":"fail","f":"incr","key":"x","value":1,"time":11,"error":"NOT_AN_INTEGER"}',
  );
  assert.doesNotMatch(text.split('\n')[3] ?? '', /error/);
  const events = parseJsonLines(text);
  assert.deepEqual(events, recorder.events());
  const [refused, notSwapped] = pairOperations(events);
  assert.equal(refused?.error, 'NOT_AN_INTEGER');
  assert.equal(notSwapped !== undefined && 'error' in notSwapped, false);
});

test('an append is invoked with the string appended and completes ok with the new length in bytes', () => {
  const recorder = new HistoryRecorder();
  recorder.ok(recorder.invoke(1, 'append', 'x', 'p1-1;', 1), 5, 2);
  const events = parseJsonLines(toJsonLines(recorder.events()));
  assert.deepEqual(
    pairOperations(events).map(({ input, output }) => [input, output]),
    [['p1-1;', 5]],
  );
  const invoke = '{"process":1,"type":"invoke","f":"append","key":"x","value":"p1-1;","time":1}';
  for (const value of ['"p1-1;"', '-1', '1.5']) {
    const ok = invoke.replace('"invoke"', '"ok"').replace('"p1-1;"', value);
    assert.throws(
      () => parseJsonLines(`${invoke}\n${ok}`),
      /line 2: "value" .* is not valid for append ok/,
      value,
    );
  }
  assert.throws(() => parseJsonLines(invoke.replace('"p1-1;"', '5')), /not valid for append invoke/);
});

test('an error code is validated: fail events only, a short line of printable ASCII', () => {
  const invoke = '{"process":1,"type":"invoke","f":"incr","key":"x","value":1,"time":1}';
  const fail = (error: unknown) =>
    `${invoke}\n${JSON.stringify({ process: 1, type: 'fail', f: 'incr', key: 'x', value: 1, time: 2, error })}`;
  assert.equal(parseJsonLines(fail('VALUE_TOO_LARGE'))[1]?.error, 'VALUE_TOO_LARGE');
  for (const bad of [null, 7, '', ' LEADING', 'TAB\t', 'X'.repeat(65), 'ÉCHEC']) {
    assert.throws(() => parseJsonLines(fail(bad)), /line 2: "error" must be printable ASCII/, String(bad));
  }
  const okWithError = invoke.replace('"invoke"', '"ok"').replace('}', ',"error":"NOT_AN_INTEGER"}');
  assert.throws(
    () => parseJsonLines(`${invoke}\n${okWithError}`),
    /line 2: "error" belongs on fail events only/,
  );
  const recorder = new HistoryRecorder();
  assert.throws(() => recorder.fail(recorder.invoke(1, 'incr', 'x', 1, 1), 2, ''), AssertionError);
});

test('a clear goes into a history once, under every key, and expands into one clear per key the history names', () => {
  const recorder = new HistoryRecorder();
  const write = recorder.invoke(1, 'write', 'x', 'a', 0);
  recorder.ok(write, 'a', 1);
  const append = recorder.invoke(2, 'append', 'l', 't1;', 2);
  recorder.ok(append, 3, 3);
  const clear = recorder.invoke(1, 'clear', everyKey, null, 4);
  recorder.ok(clear, null, 6);
  const read = recorder.invoke(2, 'read', 'x', null, 7);
  recorder.ok(read, null, 8);
  const text = toJsonLines(recorder.events());
  assert.match(text, /"f":"clear","key":"\*","value":null/);
  const operations = expandClears(pairOperations(parseJsonLines(text)));
  assert.deepEqual(
    operations
      .filter(({ f }) => f === 'clear')
      .map(({ key, call, ret, process }) => ({ key, call, ret, process })),
    [
      { key: 'x', call: 4, ret: 6, process: 1 },
      { key: 'l', call: 4, ret: 6, process: 1 },
    ],
  );
  // Held against each key as a delete: the read of x after it sees it absent, and could not see 'a'.
  assert.equal(checkLinearizable(operations).result, 'linearizable');
  const stale = operations.map((operation) =>
    operation.f === 'read' ? { ...operation, output: 'a' } : operation,
  );
  assert.equal(checkLinearizable(stale).result, 'not-linearizable');
  assert.match(checkLinearizable(stale).perKey.get('x')?.explanation ?? '', /p1 clear \[4, 6\]/);
  // A history without clears expands to itself.
  const plain = pairOperations(recordSample().events());
  assert.deepEqual(expandClears(plain), plain);
});

test('a clear names every key and nothing else does: other keys and values are refused', () => {
  const recorder = new HistoryRecorder();
  assert.throws(
    () => recorder.invoke(1, 'clear', 'x', null, 0),
    /"key" \* goes with clear, and only with it/,
  );
  assert.throws(() => recorder.invoke(1, 'write', everyKey, 'a', 0), /goes with clear/);
  assert.throws(() => recorder.invoke(1, 'clear', everyKey, 'a', 0), /not valid for clear invoke/);
  const bad = '{"process":1,"type":"invoke","f":"clear","key":"k","value":null,"time":1}';
  assert.throws(() => parseJsonLines(bad), /^HistoryError: line 1: "key" \* goes with clear/);
});
