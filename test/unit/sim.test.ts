// The simulator in the test suite: a fixed sample of seeds must run clean, a seed must replay
// exactly, and deliberately broken builds must be caught within the normal seed budget.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestOnlyFaults } from '../../src/protocol/test-only-faults.js';
import { runSeed } from '../../src/sim/run-seed.js';

const sampleSeeds = 40;

test(`a fixed sample of ${sampleSeeds} simulated seeds under faults has no violation`, () => {
  let operations = 0;
  let faults = 0;
  for (let seed = 1; seed <= sampleSeeds; seed++) {
    const result = runSeed(seed);
    assert.deepEqual(
      result.violations,
      [],
      `seed ${seed} (${result.plan}) failed; replay: npm run sim -- --seed ${seed}`,
    );
    operations += result.operations;
    for (const count of result.faults.values()) faults += count;
  }
  // The sample must actually exercise something.
  assert.ok(operations > sampleSeeds * 100, `only ${operations} operations`);
  assert.ok(faults > sampleSeeds, `only ${faults} faults`);
});

test('a seed replays exactly: the same trace digest twice', () => {
  const first = runSeed(7);
  const second = runSeed(7);
  assert.equal(first.traceDigest, second.traceDigest);
  assert.equal(first.operations, second.operations);
  assert.notEqual(runSeed(8).traceDigest, first.traceDigest);
});

test('a primary that forgets the session table on failover is caught (retried appends run twice)', () => {
  const caught = [];
  for (let seed = 1; seed <= 20; seed++) {
    const result = runSeed(seed, { testOnlyFaults: { forgetSessionsOnPromotion: true } });
    if (result.violations.length > 0) caught.push(seed);
  }
  assert.ok(caught.length > 0, 'the broken build passed every seed');
});

test('a primary that commits without its last backup is caught (acknowledged writes lost on failover)', () => {
  const caught = [];
  for (let seed = 1; seed <= 40; seed++) {
    const result = runSeed(seed, { testOnlyFaults: { commitWithoutLastBackup: true } });
    if (result.violations.length > 0) caught.push(seed);
  }
  assert.ok(caught.length > 0, 'the broken build passed every seed');
});

/** The first seed from 1 whose run reports a violation with `fault` switched on, or undefined. */
function firstSeedCaught(fault: keyof TestOnlyFaults, seedsMax: number): number | undefined {
  for (let seed = 1; seed <= seedsMax; seed++) {
    if (runSeed(seed, { testOnlyFaults: { [fault]: true } }).violations.length > 0) return seed;
  }
  return undefined;
}

// Issue 6: with the fix of a hole switched off, the simulator's fault kinds find the hole. (Holes 1
// and 3 need rarer schedules; their searches are recorded in docs/TESTING.md.)
for (const [fault, hole, seedsMax] of [
  ['ignoreIdentityChanges', 'a wiped member keeps its place (hole 2)', 100],
  ['answerRefusalsAtOnce', 'refusals answered from uncommitted state (hole 4)', 200],
  ['candidatesFromCurrentViewOnly', 'a total crash narrows who may lead (hole 10)', 300],
] as const) {
  test(`the simulator catches ${hole} within ${seedsMax} seeds`, () => {
    const seed = firstSeedCaught(fault, seedsMax);
    assert.ok(seed !== undefined, `--fault ${fault} passed seeds 1..${seedsMax}`);
  });
}
