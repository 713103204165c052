// The mutants `npm run mutate` tries (src/tools/mutants.ts): one per rule it can remove or bend, none
// inside comments, strings, assertions or the test-only switches, and each applied as exactly the
// text it names.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyMutant, mutantsOf } from '../../src/tools/mutants.js';

const source = `export function decide(a, b, view) {
    // a comment with if (x) and a < b and it's
    const label = 'if (a < b) return';
    if (this.testOnlyFaults.skip === true)
        return null;
    assert(a >= 0, \`a < 0: \${a}\`);
    if (a < b && view?.number === 3) {
        return (a > 1 &&
            b <= 2);
    }
    const either = a === 1 || b === 2;
    return a ?? b;
}
`;

test('every if, chain term and bound outside comments, strings, assertions and test-only switches', () => {
  const found = mutantsOf('core.js', source).map(({ id, before, after }) => [id, before, after]);
  assert.deepEqual(found, [
    ['core.js:7:if-false:1', 'a < b && view?.number === 3', 'false'],
    ['core.js:7:term-true:1', 'a < b', 'true'],
    ['core.js:7:boundary:1', '<', '<='],
    ['core.js:7:term-true:2', 'view?.number === 3', 'true'],
    ['core.js:8:term-true:1', 'a > 1', 'true'],
    ['core.js:8:boundary:1', '>', '>='],
    ['core.js:9:term-true:1', 'b <= 2', 'true'],
    ['core.js:9:boundary:1', '<=', '<'],
    ['core.js:11:term-false:1', 'a === 1', 'false'],
    ['core.js:11:term-false:2', 'b === 2', 'false'],
  ]);
});

test('a mutant applied changes exactly its own text', () => {
  const mutants = mutantsOf('core.js', source);
  const bound = mutants.find((mutant) => mutant.id === 'core.js:9:boundary:1');
  assert.ok(bound);
  const changed = applyMutant(source, bound);
  assert.equal(changed, source.replace('b <= 2', 'b < 2'));
  const guard = mutants.find((mutant) => mutant.id === 'core.js:7:if-false:1');
  assert.ok(guard);
  assert.equal(applyMutant(source, guard), source.replace('if (a < b && view?.number === 3)', 'if (false)'));
});
