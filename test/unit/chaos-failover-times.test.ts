// How the chaos report measures failovers: from a fault on the primary to the first write answered
// in a later view led by another replica, no further than the next fault on a primary; and which
// fault the slowest one followed, so a long failover in a run can be traced to its cause.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FaultRecord } from '../../src/chaos/faults.js';
import { failoverTimes } from '../../src/chaos/report.js';

const ms = (milliseconds: number): number => milliseconds * 1e6;

function fault(
  description: string,
  startMs: number,
  formerPrimary: string | null,
  viewNumber: number,
  endMs: number | null = null,
): FaultRecord {
  return {
    kind: 'kill',
    variant: 'primary',
    description,
    startNs: ms(startMs),
    endNs: endMs === null ? null : ms(endMs),
    formerPrimary,
    viewNumber,
  };
}

test('each fault on the primary is measured to the first write of another primary, and the slowest is named', () => {
  const faults = [
    fault('kill r1 (primary) in view 1', 1_000, 'r1', 1),
    fault('pause r3 (backup) in view 2', 1_500, null, 2),
    fault("freeze the coordinator's disk and kill r2 (primary) in view 2", 3_000, 'r2', 2),
    fault('kill r3 (primary) in view 4', 9_000, 'r3', 4),
  ];
  const primaries = new Map([
    [1, 'r1'],
    [2, 'r2'],
    [3, 'r2'],
    [4, 'r3'],
  ]);
  const acknowledgements = [
    { timeNs: ms(900), view: 1 },
    // In view 1, after the fault: the old primary's, not a failover.
    { timeNs: ms(1_100), view: 1 },
    { timeNs: ms(1_800), view: 2 },
    // View 3 has the same primary as the fault's: not a failover either.
    { timeNs: ms(3_500), view: 3 },
    { timeNs: ms(5_600), view: 4 },
  ];
  const measured = failoverTimes(faults, acknowledgements, primaries);
  assert.deepEqual(measured.times, [800, 2_600]);
  // Nothing answered after the last one: not observed.
  assert.equal(measured.notObserved, 1);
  assert.deepEqual(measured.slowest, {
    ms: 2_600,
    fault: "freeze the coordinator's disk and kill r2 (primary) in view 2",
  });
});

test('a failover is not looked for past the next fault on a primary', () => {
  const faults = [
    fault('kill r1 (primary) in view 1', 0, 'r1', 1),
    fault('kill r2 (primary) in view 2', 500, 'r2', 2),
  ];
  const primaries = new Map([
    [1, 'r1'],
    [2, 'r2'],
    [3, 'r3'],
  ]);
  const measured = failoverTimes(faults, [{ timeNs: ms(700), view: 3 }], primaries);
  assert.deepEqual(measured.times, [200]);
  assert.equal(measured.notObserved, 1);
  assert.equal(measured.slowest?.ms, 200);
  assert.deepEqual(failoverTimes([], [], primaries), { times: [], notObserved: 0, slowest: null });
});

test('a primary that leads on once its fault ended had no failover: not observed, not a late one', () => {
  // Seed 20262217: r2 paused while no backup could lead; it resumed and led on, and the next change
  // of primary came 18 s later, after a total crash (whose record names no former primary), and was
  // counted as this fault's failover: 21.2 s.
  const primaries = new Map([
    [60, 'r2'],
    [61, 'r2'],
    [66, 'r3'],
  ]);
  const paused = [fault('pause r2 (primary) in view 60', 88_000, 'r2', 60, 90_700)];
  const acknowledgements = [
    { timeNs: ms(91_000), view: 61 },
    { timeNs: ms(109_200), view: 66 },
  ];
  assert.deepEqual(failoverTimes(paused, acknowledgements, primaries), {
    times: [],
    notObserved: 1,
    slowest: null,
  });
  // Another primary first: a failover, whatever the old one does after.
  const early = [{ timeNs: ms(89_500), view: 66 }, ...acknowledgements];
  assert.deepEqual(failoverTimes(paused, early, primaries).times, [1_500]);
  // The old primary answering while the fault holds (a partition, until its lease ends) is no sign.
  const duringFault = [
    { timeNs: ms(88_100), view: 60 },
    { timeNs: ms(95_000), view: 66 },
  ];
  assert.deepEqual(failoverTimes(paused, duringFault, primaries).times, [7_000]);
});
