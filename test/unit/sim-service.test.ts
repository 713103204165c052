// The simulator with a service of your own (understudy/simulator): the counter fixture over seeds,
// a seed replaying exactly, the service's own check catching a protocol bug, and the command line
// (`npm run sim -- --service MODULE`).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { simulateService } from '../../src/sim/index.js';
import { counterSimulation } from '../fixtures/counter-simulation.js';

const simMain = fileURLToPath(new URL('../../src/sim/main.js', import.meta.url));
const counterSimulationModule = fileURLToPath(new URL('../fixtures/counter-simulation.js', import.meta.url));
const counterServiceModule = fileURLToPath(new URL('../fixtures/counter-service.js', import.meta.url));

test('a custom service runs clean under seeded faults, and converges', () => {
  let failovers = 0;
  let acknowledged = 0;
  for (let seed = 1; seed <= 10; seed++) {
    const result = simulateService(seed, counterSimulation());
    assert.deepEqual(result.violations, [], `seed ${seed} (${result.plan})`);
    failovers += result.failovers;
    acknowledged += result.history.filter((operation) => operation.outcome.type === 'ok').length;
  }
  assert.ok(failovers > 0, 'the faults forced failovers');
  assert.ok(acknowledged > 1000, `requests were answered (${acknowledged})`);
});

test('a seed of a custom service replays exactly', () => {
  const first = simulateService(5, counterSimulation());
  const second = simulateService(5, counterSimulation());
  assert.equal(first.traceDigest, second.traceDigest);
  assert.deepEqual(
    first.history.map((operation) => operation.completedAtMs),
    second.history.map((operation) => operation.completedAtMs),
  );
});

test("the service's own check catches a new primary that forgets its sessions (retries run twice)", () => {
  let found: string | undefined;
  for (let seed = 1; seed <= 150 && found === undefined; seed++) {
    const result = simulateService(seed, counterSimulation(), {
      testOnlyFaults: { forgetSessionsOnPromotion: true },
    });
    found = result.violations.find((violation) => /not within|the same total/.test(violation));
  }
  assert.ok(found !== undefined, 'no seed in 1..150 showed an add run twice');
});

test('npm run sim -- --service MODULE runs and replays seeds; a module of another kind is refused', () => {
  const run = (args: readonly string[]) =>
    spawnSync(process.execPath, [simMain, ...args], { encoding: 'utf8' });
  const seeds = run(['--service', counterSimulationModule, '--seeds', '2']);
  assert.equal(seeds.status, 0, seeds.stdout + seeds.stderr);
  assert.match(seeds.stdout, /sim: 2 seeds \(1\.\.2\)/);
  assert.match(seeds.stdout, /violations: 0 seeds/);
  const replay = run(['--service', counterSimulationModule, '--seed', '2']);
  assert.equal(replay.status, 0, replay.stdout + replay.stderr);
  assert.match(replay.stdout, /identical/);
  const wrong = run(['--service', counterServiceModule, '--seeds', '1']);
  assert.equal(wrong.status, 2);
  assert.match(wrong.stderr, /its default export must be a function that returns a ServiceSimulation/);
});
