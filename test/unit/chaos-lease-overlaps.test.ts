// The check that no two primaries held a lease at once in a chaos run (src/chaos/lease-overlaps.ts),
// and the record each replica writes for it (src/node/test-lease-record.ts): a grant is written down
// on the machine's clock, converted by the process's own clock rate; leases of two processes that ran
// at once are reported whatever their views, and one process's leases never contend with each other.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  checkLeases,
  describeLeases,
  leaseRecordDirectory,
  leaseRecordPath,
  readLeaseGrants,
} from '../../src/chaos/lease-overlaps.js';
import { type LeaseGrant, LeaseRecord, machineClockMs } from '../../src/node/test-lease-record.js';

function grant(replica: string, view: number, fromMs: number, untilMs: number, incarnation = 1): LeaseGrant {
  return { replica, incarnation, view, fromMs, untilMs };
}

test('leases of two views that ran at once are reported, with how long; leases apart are not', () => {
  const apart = checkLeases([
    grant('r1', 2, 1000, 1400),
    grant('r1', 2, 1100, 1500),
    grant('r2', 3, 1650, 2050),
  ]);
  assert.deepEqual(apart.overlaps, []);
  assert.equal(apart.grants, 3);
  assert.equal(apart.leases, 2, "one view's grants at one process are one lease");
  assert.equal(apart.closestGapMs, 150);
  assert.match(
    describeLeases(apart),
    /3 grants, 2 leases .*; 0 times two ran at once; the closest two 150 ms apart$/,
  );

  const atOnce = checkLeases(
    [grant('r1', 2, 1000, 1400), grant('r1', 2, 1100, 1700), grant('r2', 3, 1650, 2050)],
    1000,
  );
  assert.equal(atOnce.overlaps.length, 1);
  assert.equal(
    atOnce.overlaps[0],
    "view 2's lease at r1 (process 1) held from +0.000 s to +0.700 s, and view 3's lease at r2 (process 1) from +0.650 s: 50 ms at once",
  );
  assert.equal(atOnce.closestGapMs, null);
});

test("a process's own leases of consecutive views do not contend; a restarted process's do", () => {
  // r1 kept leading from view 4 into view 5 (a backup left): the same process, no contention.
  const kept = checkLeases([grant('r1', 4, 0, 400), grant('r1', 5, 300, 700)]);
  assert.deepEqual(kept.overlaps, []);
  // r1 restarted and led view 5 while its earlier process's lease of view 4 could still run.
  const restarted = checkLeases([grant('r1', 4, 0, 400, 1), grant('r1', 5, 300, 700, 2)]);
  assert.equal(restarted.overlaps.length, 1);
  // Two processes in one view: as wrong as in two.
  const oneView = checkLeases([grant('r1', 6, 0, 400), grant('r2', 6, 100, 500)]);
  assert.equal(oneView.overlaps.length, 1);
  // Touching is not overlapping: one ends as the next begins.
  assert.deepEqual(checkLeases([grant('r1', 7, 0, 400), grant('r2', 8, 400, 800)]).overlaps, []);
});

test("a replica writes each grant on the machine's clock, its ticks converted by its clock rate", () => {
  const directory = mkdtempSync(join(tmpdir(), 'understudy-leases-'));
  try {
    mkdirSync(leaseRecordDirectory(directory));
    const path = leaseRecordPath(directory, 'r1');
    let nowTick = 100;
    // A clock at half the machine's rate: its 40 ticks of 10 ms take 800 ms of the machine's.
    const record = LeaseRecord.open(path, 'r1', 77, () => nowTick, 10, 0.5);
    assert.ok(record !== null);
    assert.equal(
      LeaseRecord.open(undefined, 'r1', 77, () => nowTick, 10),
      null,
      'no variable, no record',
    );
    const before = machineClockMs();
    record.observe(null, 0);
    record.observe(3, 0);
    record.observe(3, 140);
    record.observe(3, 140); // the same lease: nothing more
    record.observe(3, 130); // not further: nothing more
    nowTick = 120;
    record.observe(3, 160); // renewed further
    record.observe(4, 150); // another view, though it reaches less far
    nowTick = 200;
    record.observe(4, 190); // already over by its clock: nothing to hold
    const after = machineClockMs();
    const grants = readLeaseGrants(directory);
    assert.deepEqual(
      grants.map(({ view, untilMs, fromMs }) => [view, Math.round(untilMs - fromMs)]),
      [
        [3, 800],
        [3, 800],
        [4, 600],
      ],
    );
    for (const { replica, incarnation, fromMs } of grants) {
      assert.equal(replica, 'r1');
      assert.equal(incarnation, 77);
      assert.ok(fromMs >= before && fromMs <= after, 'taken on the machine clock the test reads');
    }

    writeFileSync(path, `${readFileSync(path, 'utf8')}{"replica":"r1","view":"five"}\n`);
    assert.throws(() => readLeaseGrants(directory), /r1\.jsonl line 4 is not a lease grant/);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('a run that wrote no record has no grants', () => {
  assert.deepEqual(readLeaseGrants(join(tmpdir(), 'understudy-no-such-run')), []);
});
