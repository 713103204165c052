// The lease check must fail on a history where two owners held a lock at once, and must not fail on
// one the service could have produced (releases that may have run, leases that ran out).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findLeaseViolations, type Grant, type ReleaseAttempt } from '../src/lease-history.js';

const grant = (lock: string, owner: string, token: number, atMs: number, expiresAtMs: number): Grant => ({
  lock,
  lease: { owner, token, expiresAtMs },
  atMs,
});
const release = (
  owner: string,
  token: number,
  sentAtMs: number,
  released: boolean | null,
): ReleaseAttempt => ({
  lock: 'printer',
  owner,
  token,
  sentAtMs,
  released,
});

test('two owners whose leases overlap are a violation', () => {
  const violations = findLeaseViolations(
    [grant('printer', 'ada', 1, 0, 1000), grant('printer', 'bob', 2, 500, 1500)],
    [],
  );
  assert.equal(violations.length, 1);
  assert.match(
    violations[0] ?? '',
    /lock printer was held by two owners at once: ada \(token 1, 0\.\.1000\) and bob/,
  );
});

test('a lease that ran out, or was released, before the next grant is fine', () => {
  assert.deepEqual(
    findLeaseViolations([grant('printer', 'ada', 1, 0, 1000), grant('printer', 'bob', 2, 1000, 2000)], []),
    [],
  );
  const grants = [grant('printer', 'ada', 1, 0, 1000), grant('printer', 'bob', 2, 400, 1400)];
  assert.deepEqual(findLeaseViolations(grants, [release('ada', 1, 300, true)]), []);
  // A release without an answer may have run: the check gives the service the benefit of the doubt.
  assert.deepEqual(findLeaseViolations(grants, [release('ada', 1, 300, null)]), []);
  // A refused release changed nothing, and a release of another token does not end this one.
  assert.equal(findLeaseViolations(grants, [release('ada', 1, 300, false)]).length, 1);
  assert.equal(findLeaseViolations(grants, [release('ada', 7, 300, true)]).length, 1);
  // A release sent after the next grant cannot explain it.
  assert.equal(findLeaseViolations(grants, [release('ada', 1, 500, true)]).length, 1);
});

test('renewals extend a lease under its token; one token with two owners is a violation', () => {
  const renewed = [grant('printer', 'ada', 1, 0, 1000), grant('printer', 'ada', 1, 900, 1900)];
  assert.equal(findLeaseViolations([...renewed, grant('printer', 'bob', 2, 1500, 2500)], []).length, 1);
  assert.deepEqual(findLeaseViolations([...renewed, grant('printer', 'bob', 2, 1900, 2500)], []), []);
  assert.match(
    findLeaseViolations([grant('printer', 'ada', 1, 0, 10), grant('printer', 'bob', 1, 20, 30)], [])[0] ?? '',
    /token 1 was granted to ada and to bob/,
  );
});

test("a grant that goes back in the service's time is a violation; other locks are independent", () => {
  assert.match(
    findLeaseViolations(
      [grant('printer', 'ada', 1, 500, 600), grant('printer', 'bob', 2, 100, 200)],
      [],
    )[0] ?? '',
    /token 2 was granted at 100, before token 1 at 500/,
  );
  assert.deepEqual(
    findLeaseViolations([grant('printer', 'ada', 1, 0, 1000), grant('deploy', 'bob', 2, 0, 1000)], []),
    [],
  );
});
