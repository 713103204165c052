// property-seed.ts, which the mutate tool loads into its unit-test runs: with UNDERSTUDY_PROPERTY_SEED
// set, a property test given only its number of runs draws the same cases every time, those of that
// seed; without it, new ones; a seed that is not an integer stops the run, saying so.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';

const seeding = new URL('./property-seed.js', import.meta.url).href;
const packageRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** The cases a property of five runs is given, as the tests write it (no seed of its own), in a new process. */
const script = `import fc from 'fast-check';
const seen = [];
fc.assert(fc.property(fc.integer(), (value) => { seen.push(value); }), { numRuns: 5 });
process.stdout.write(JSON.stringify(seen));`;

function casesDrawn(seed: string | undefined): { readonly cases: number[] | null; readonly stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (seed === undefined) delete env.UNDERSTUDY_PROPERTY_SEED;
  else env.UNDERSTUDY_PROPERTY_SEED = seed;
  const run = spawnSync(process.execPath, ['--import', seeding, '--input-type=module', '-e', script], {
    cwd: packageRoot,
    env,
    encoding: 'utf8',
  });
  return { cases: run.status === 0 ? (JSON.parse(run.stdout) as number[]) : null, stderr: run.stderr };
}

test('with a seed, a property draws the same cases in every run: those of that seed', () => {
  const first = casesDrawn('7').cases;
  assert.deepEqual(casesDrawn('7').cases, first);
  assert.deepEqual(first, fc.sample(fc.integer(), { seed: 7, numRuns: 5 }));
  assert.notDeepEqual(casesDrawn('8').cases, first);
});

test('without a seed, each run draws new cases', () => {
  const runs = [casesDrawn(undefined).cases, casesDrawn(undefined).cases, casesDrawn(undefined).cases];
  assert.equal(new Set(runs.map((cases) => JSON.stringify(cases))).size > 1, true);
});

test('a seed that is not an integer stops the run, saying so', () => {
  const { cases, stderr } = casesDrawn('soon');
  assert.equal(cases, null);
  assert.match(stderr, /UNDERSTUDY_PROPERTY_SEED must be an integer, got soon/);
});
