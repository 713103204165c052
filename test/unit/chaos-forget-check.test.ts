// The forget nemesis's check of the member rule: the coordinator's answers to forgetting the
// primary, taken from a real coordinator core, each judged with and without the primary having
// left the view since (another fault killed it; the coordinator may have restarted too).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgePrimaryForget } from '../../src/chaos/forget-check.js';
import { defaultProtocolConfig } from '../../src/protocol/config.js';
import { replicaId } from '../../src/protocol/types.js';
import { CoordinatorHarness, r1, r2, r3, storedState, view } from './core-fixtures.js';

const { failureTimeoutTicks } = defaultProtocolConfig;

/** View 5 (r1 primary, r2 and r3 backups), every replica heard; then r3 stops and leaves the view. */
function coordinator(): CoordinatorHarness {
  const harness = new CoordinatorHarness(storedState(view(5, r1, [r2, r3])));
  harness.run(failureTimeoutTicks + 5, () => [r1, r2, r3].map((id) => [id, {}] as const));
  harness.run(2 * failureTimeoutTicks, () => [r1, r2].map((id) => [id, {}] as const));
  return harness;
}

const judged = (answer: { ok: boolean; message: string }, left: boolean) =>
  judgePrimaryForget('r1', answer, async () => left);

test('the primary refused as the primary holds the rule, whether or not it left since', async () => {
  const answer = coordinator().coordinator.forgetReplica(r1);
  assert.equal(answer.ok, false);
  assert.equal(await judged(answer, false), 'refused-as-primary');
  assert.equal(await judged(answer, true), 'refused-as-primary');
});

test('refused as a backup of a newer view (a failover the nemesis had not seen) holds it too', async () => {
  const answer = coordinator().coordinator.forgetReplica(r2);
  assert.match(answer.message, /is a backup of view/);
  assert.equal(await judged(answer, false), 'refused-as-member');
});

test('forgotten is a broken rule unless the primary has left the view since', async () => {
  const answer = coordinator().coordinator.forgetReplica(r3);
  assert.equal(answer.ok, true, answer.message);
  assert.equal(await judged(answer, true), 'after-it-left');
  const verdict = await judged(answer, false);
  assert.ok(typeof verdict === 'object');
  assert.match(verdict.problem, /^the coordinator forgot r1, the primary: r3 forgotten/);
});

test('not known (a coordinator restarted since) is right only once the primary left the view', async () => {
  const answer = coordinator().coordinator.forgetReplica(replicaId('r9'));
  assert.match(answer.message, /is not known to this coordinator/);
  assert.equal(await judged(answer, true), 'after-it-left');
  const verdict = await judged(answer, false);
  assert.ok(typeof verdict === 'object');
  assert.match(verdict.problem, /was refused for another reason: r9 is not known/);
});

test('any other refusal is a problem, and the view is asked for only where it decides', async () => {
  let asked = 0;
  const verdict = await judgePrimaryForget('r1', { ok: false, message: 'r1 is on fire' }, async () => {
    asked += 1;
    return true;
  });
  assert.deepEqual(verdict, {
    problem: 'forgetting r1, the primary, was refused for another reason: r1 is on fire',
  });
  assert.equal(asked, 0);
});
