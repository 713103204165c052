// One mutant's trial for `npm run mutate` (mutate-core.ts), run in a copy of the build whose core file
// holds the mutant: simulator seeds START.. in turn until one finds a violation. Prints one JSON line,
// `{"caught":true,"seed":S,"violation":"..."}` or `{"caught":false,"seeds":N}`.

import { runSeed } from '../sim/run-seed.js';

const [startText, countText] = process.argv.slice(2);
const start = Number(startText);
const count = Number(countText);
if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || count < 1) {
  process.stderr.write('usage: node mutant-seeds.js START COUNT\n');
  process.exit(2);
}

let result: { caught: true; seed: number; violation: string } | { caught: false; seeds: number } = {
  caught: false,
  seeds: count,
};
for (let seed = start; seed < start + count; seed += 1) {
  const { violations } = runSeed(seed);
  const [violation] = violations;
  if (violation !== undefined) {
    result = { caught: true, seed, violation: violation.slice(0, 300) };
    break;
  }
}
process.stdout.write(`${JSON.stringify(result)}\n`);
