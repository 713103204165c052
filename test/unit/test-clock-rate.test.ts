// The chaos runner's clock hook (src/node/test-clock-rate.ts) and its draws (src/chaos/clock-rates.ts):
// a rate makes performance.now() run that much faster or slower than the machine's clock, a bad one
// is refused saying what was wrong, and each run draws every server's rate from its seed, within the
// drift asked for.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeClockRates, drawClockRates } from '../../src/chaos/clock-rates.js';
import { ConfigError } from '../../src/errors.js';
import { applyTestClockRate, testClockRate } from '../../src/node/test-clock-rate.js';

test("a rate of 1.5 makes performance.now() advance 1.5 times as far as the machine's clock", async () => {
  const machineNow = performance.now;
  try {
    applyTestClockRate('1.5');
    assert.equal(testClockRate(), 1.5, 'the rate is there for the lease record to convert by');
    const [startMs, wallStartMs] = [performance.now(), Date.now()];
    await sleep(300);
    // Both clocks measure the same interval, so the ratio does not depend on how long the sleep took.
    const ratio = (performance.now() - startMs) / (Date.now() - wallStartMs);
    assert.ok(
      ratio > 1.45 && ratio < 1.55,
      `performance.now() advanced ${ratio.toFixed(3)} times the wall clock`,
    );
  } finally {
    performance.now = machineNow;
  }
});

test('no rate, or a rate of 1, leaves the clock alone', () => {
  const machineNow = performance.now;
  for (const value of [undefined, '', '1']) {
    applyTestClockRate(value);
    assert.equal(performance.now, machineNow, `after ${JSON.stringify(value)}`);
  }
});

test('a rate that is not a number from 0.25 to 4 is refused, naming the variable and the value', () => {
  const machineNow = performance.now;
  for (const value of ['abc', '0.1', '5', '-1', '1e0', ' 1', '1.']) {
    assert.throws(
      () => applyTestClockRate(value),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message.includes('UNDERSTUDY_TEST_CLOCK_RATE must be a rate from 0.25 to 4') &&
        error.message.includes(JSON.stringify(value)),
      `refused ${JSON.stringify(value)}`,
    );
  }
  assert.equal(performance.now, machineNow);
});

test("a run's clock rates come from its seed, each within the drift, and drift 0 keeps every clock exact", () => {
  const names = ['coordinator', 'r1', 'r2', 'r3'];
  const draw = (seed: number, drift: number) => {
    const rates = drawClockRates(seed, drift);
    for (const name of names) rates.rateOf(name);
    return [...rates.drawn.values()];
  };
  const rates = draw(7, 0.05);
  assert.deepEqual(draw(7, 0.05), rates, 'the same seed draws the same rates');
  assert.notDeepEqual(draw(8, 0.05), rates, 'another seed draws others');
  for (const rate of rates) assert.ok(rate >= 0.95 && rate <= 1.05, `rate ${rate}`);
  assert.ok(new Set(rates).size > 1, 'the servers differ');
  assert.deepEqual(draw(7, 0), [1, 1, 1, 1]);
  // Asked again, a server keeps its rate (a restart keeps its machine's oscillator).
  const again = drawClockRates(7, 0.05);
  const first = again.rateOf('r1');
  again.rateOf('r2');
  assert.equal(again.rateOf('r1'), first);
  assert.match(describeClockRates(again.drawn, 0.05), /^clocks: .*±5\.0 %: r1 \d\.\d{3}×, r2 \d\.\d{3}×$/);
});
