// The staleness check of bounded reads (src/chaos/staleness.ts): a read may lag, but never by more
// than its bound (plus the slack) behind what was acknowledged, and with readYourWrites never behind
// its own connection's acknowledged writes; what it cannot order it leaves undecided, never passes
// or fails on a guess.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type BoundedRead,
  checkStaleness,
  STALENESS_SLACK_MS,
  type WriteVersion,
} from '../../src/chaos/staleness.js';

const ms = 1e6;
const bound = 500;

/** A sync write of `version` to register `r`, acknowledged at `ackMs`, at log index `index`. */
function write(
  version: string | number,
  index: number | null,
  ackMs: number | null,
  options: { key?: string; client?: number; invokedMs?: number; kind?: WriteVersion['kind'] } = {},
): WriteVersion {
  return {
    key: options.key ?? 'r',
    kind: options.kind ?? 'register',
    version,
    index,
    invokedNs: (options.invokedMs ?? (ackMs ?? 0) - 5) * ms,
    acknowledgedNs: ackMs === null ? null : ackMs * ms,
    client: options.client ?? 0,
  };
}

function read(
  version: string | number | null,
  invokedMs: number,
  options: { key?: string; client?: number; readYourWrites?: boolean; kind?: BoundedRead['kind'] } = {},
): BoundedRead {
  return {
    process: 7,
    client: options.client ?? 1,
    key: options.key ?? 'r',
    kind: options.kind ?? 'register',
    version,
    invokedNs: invokedMs * ms,
    maxStalenessMs: bound,
    readYourWrites: options.readYourWrites ?? false,
    member: 'r2',
    view: 3,
    index: 0,
    answeredNs: (invokedMs + 1) * ms,
  };
}

test('a read may return an older value while the newer one was acknowledged within the bound', () => {
  const writes = [write('a', 10, 1000), write('b', 20, 1400)];
  // b was acknowledged 100 ms before the read: within the bound, so a may still be served.
  const report = checkStaleness(writes, [read('a', 1500), read('b', 1500)]);
  assert.deepEqual(report, { checked: 2, undecided: 0, violations: [] });
});

test('a value older than one acknowledged more than the bound plus the slack before the read is a violation', () => {
  const writes = [write('a', 10, 1000), write('b', 20, 1400)];
  const late = 1400 + bound + STALENESS_SLACK_MS + 1;
  const report = checkStaleness(writes, [read('a', late), read('b', late), read(null, late)]);
  assert.equal(report.checked, 3);
  assert.deepEqual(
    report.violations.map((violation) => violation.rule),
    ['staleness', 'staleness'],
  );
  assert.match(
    report.violations[0]?.message ?? '',
    /saw value "a" from r2.*older than value "b" \(index 20\)/,
  );
  // Within the slack it is not judged stale.
  const edge = 1400 + bound + STALENESS_SLACK_MS;
  assert.deepEqual(checkStaleness(writes, [read('a', edge)]).violations, []);
});

test("a member whose clock runs slow may serve a bound that lasts B / (1 − drift) by the run's clock, and no longer", () => {
  const writes = [write('a', 10, 1000), write('b', 20, 1400)];
  const drift = 0.05;
  // 500 ms by a clock at 0.95 is 526.3 ms: a read 520 ms past b's acknowledgement (plus the slack) is
  // stale by the machine's clock, and within what the drift allows.
  const late = 1400 + bound + 20 + STALENESS_SLACK_MS;
  assert.equal(checkStaleness(writes, [read('a', late)]).violations.length, 1);
  assert.deepEqual(checkStaleness(writes, [read('a', late)], STALENESS_SLACK_MS, [], drift).violations, []);
  const later = 1400 + bound / (1 - drift) + STALENESS_SLACK_MS + 1;
  assert.equal(
    checkStaleness(writes, [read('a', later)], STALENESS_SLACK_MS, [], drift).violations.length,
    1,
  );
});

test('a newer value than required passes, even one of unknown outcome invoked after the required write', () => {
  const writes = [
    write('a', 10, 1000),
    write('b', null, null, { invokedMs: 1001 }), // outcome unknown, began after a was acknowledged
    write('c', null, null, { invokedMs: 900 }), // outcome unknown, began before: cannot be ordered
    write('d', 5, null), // async: acknowledged before replication, index known
  ];
  const report = checkStaleness(writes, [read('b', 3000), read('c', 3000), read('d', 3000)]);
  assert.equal(report.checked, 2);
  assert.equal(report.undecided, 1, 'c may have been written before or after a');
  assert.deepEqual(
    report.violations.map((violation) => violation.message.includes('"d"')),
    [true],
    'd sits at index 5, below a at 10',
  );
});

test('a value no write explains is left undecided, not passed', () => {
  const report = checkStaleness([write('a', 10, 1000)], [read('12345', 3000)]);
  assert.deepEqual(report, { checked: 0, undecided: 1, violations: [] });
});

test("readYourWrites: a read must reflect its own connection's acknowledged write at once, not another's", () => {
  const writes = [write('mine', 30, 1000, { client: 1 }), write('theirs', 31, 1010, { client: 2 })];
  const before = write('old', 20, 500, { client: 1 });
  const all = [before, ...writes];
  const report = checkStaleness(all, [
    read('old', 1050, { client: 1, readYourWrites: true }), // behind its own write: a violation
    read('mine', 1050, { client: 1, readYourWrites: true }), // its own write, not theirs: fine
    read('old', 1050, { client: 3, readYourWrites: true }), // another connection: only the bound applies
    read('old', 1050, { client: 1 }), // no readYourWrites: only the bound applies
  ]);
  assert.equal(report.checked, 4);
  assert.deepEqual(
    report.violations.map((violation) => violation.rule),
    ['read-your-writes'],
  );
});

test('append keys are judged by length: a value shorter than a required append is stale', () => {
  const writes = [
    write(6, 10, 1000, { key: 'a', kind: 'append' }),
    write(12, 11, 1100, { key: 'a', kind: 'append', client: 1 }),
  ];
  const late = 2000;
  const report = checkStaleness(writes, [
    read(12, late, { key: 'a', kind: 'append' }),
    read(18, late, { key: 'a', kind: 'append' }), // longer: an append of unknown outcome, or later
    read(6, late, { key: 'a', kind: 'append' }),
    read(6, 1150, { key: 'a', kind: 'append', client: 1, readYourWrites: true }),
  ]);
  assert.equal(report.checked, 4);
  assert.deepEqual(
    report.violations.map((violation) => violation.rule),
    ['staleness', 'read-your-writes'],
  );
});

test("an append acknowledged without its log index (a Redis port's reply names none) is placed by its length", () => {
  const writes = [
    write(6, 10, 1000, { key: 'a', kind: 'append' }),
    // Through a Redis port: the reply is the length only. It is still the newest, being the longest.
    write(12, null, 1100, { key: 'a', kind: 'append', client: 1_000_001 }),
    write(9, 11, 1050, { key: 'a', kind: 'append' }),
  ];
  const report = checkStaleness(writes, [
    read(9, 1700, { key: 'a', kind: 'append' }), // older than the port's append, acknowledged long before
    read(9, 1110, { key: 'a', kind: 'append', client: 1_000_001, readYourWrites: true }), // behind its own
    read(12, 1110, { key: 'a', kind: 'append', client: 1_000_001, readYourWrites: true }),
    read(9, 1110, { key: 'a', kind: 'append' }), // within the bound: fine
  ]);
  assert.equal(report.checked, 4);
  assert.deepEqual(
    report.violations.map((violation) => violation.rule),
    ['staleness', 'read-your-writes'],
  );
});

test('a register write acknowledged without its log index requires nothing: it cannot be placed', () => {
  const writes = [write('old', 20, 500), write('via-port', null, 600, { client: 1_000_001 })];
  const report = checkStaleness(writes, [read('old', 2000, { client: 1_000_001, readYourWrites: true })]);
  assert.deepEqual(report, { checked: 1, undecided: 0, violations: [] });
});

test('a register read absent is explained by a deletion (a time to live ran out) only from when it may happen', () => {
  const deletion = (atMs: number): WriteVersion => ({
    ...write('unused', null, null),
    version: null,
    invokedNs: atMs * ms,
  });
  const writes = [write('a', 10, 1000)];
  // a was acknowledged long before the read: absent is older, unless a deletion came after it.
  assert.equal(checkStaleness(writes, [read(null, 3000)]).violations.length, 1);
  assert.deepEqual(checkStaleness([...writes, deletion(1200)], [read(null, 3000)]).violations, []);
  // One possible only before the write was acknowledged cannot be ordered after it: undecided, as any
  // value whose only producers have unknown indexes invoked too early.
  const early = checkStaleness([...writes, deletion(900)], [read(null, 3000)]);
  assert.deepEqual([early.violations, early.undecided], [[], 1]);
});

test('a clear that may come between a write and the read explains an absent register and frees an append key', () => {
  const writes = [
    write('a', 10, 1000),
    write(12, 11, 1000, { key: 'l', kind: 'append' }),
    write(6, 13, 1300, { key: 'l', kind: 'append' }),
  ];
  // Sent through a Redis port at 1100, acknowledged at 1200: its index is not known.
  const clears = [{ invokedNs: 1100 * ms, acknowledgedNs: 1200 * ms }];
  const late = 3000;
  const report = checkStaleness(
    writes,
    [
      read(null, late), // the clear emptied it
      read('a', late), // not stale either: a clear leaves no value, so 'a' is still the newest write's
      read(6, late, { key: 'l', kind: 'append' }), // the append after the clear is there
      read(3, late, { key: 'l', kind: 'append' }), // shorter than the append after the clear: stale
    ],
    STALENESS_SLACK_MS,
    clears,
  );
  assert.deepEqual(
    report.violations.map((violation) => `${violation.key} ${violation.rule}`),
    ['l staleness'],
  );
  // Without the clear, the absent register and the shorter list are stale.
  const without = checkStaleness(writes, [read(null, late), read(6, late, { key: 'l', kind: 'append' })]);
  assert.equal(without.violations.length, 2);
  // A clear answered before the write began, or sent after the read was answered, explains nothing.
  for (const clear of [
    { invokedNs: 800 * ms, acknowledgedNs: 900 * ms },
    { invokedNs: (late + 2) * ms, acknowledgedNs: null },
  ]) {
    const report = checkStaleness(writes, [read(null, late)], STALENESS_SLACK_MS, [clear]);
    assert.deepEqual(
      report.violations.map((violation) => violation.rule),
      ['staleness'],
    );
  }
});
