// The chaos runner's check of the cluster's async loss record against the async appends its final
// reads found missing: short is a failure, unless a data directory was lost in the run; and the
// report's line on the saver's snapshot saves.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeSaves, lossRecordShortfall } from '../../src/chaos/report.js';

test('a loss record that counts fewer async writes than the appends found lost fails the run', () => {
  assert.match(
    lossRecordShortfall({ asyncAppendsLost: 3, asyncLost: 2, directoryLost: false }) ?? '',
    /3 acknowledged async appends lost, but the cluster's record counts 2/,
  );
});

test('a record at or above the appends found lost passes: it also counts other async writes', () => {
  assert.equal(lossRecordShortfall({ asyncAppendsLost: 3, asyncLost: 3, directoryLost: false }), null);
  assert.equal(lossRecordShortfall({ asyncAppendsLost: 0, asyncLost: 7, directoryLost: false }), null);
});

test('a short record is excused when a directory was lost, and not judged when it is unknown', () => {
  assert.equal(lossRecordShortfall({ asyncAppendsLost: 3, asyncLost: 0, directoryLost: true }), null);
  assert.equal(lossRecordShortfall({ asyncAppendsLost: 3, asyncLost: null, directoryLost: false }), null);
});

test("the saves' line counts those asked, completed (as reads) and failed, naming the first failure", () => {
  assert.equal(
    describeSaves({
      asked: 30,
      completed: 28,
      failed: 2,
      reads: 812,
      firstFailure: 'UNAVAILABLE: no primary',
      healed: null,
    }),
    'snapshot saves: 30 asked, 28 completed (checked as 812 reads of register keys), 2 failed (the first: UNAVAILABLE: no primary)',
  );
  assert.equal(
    describeSaves({ asked: 3, completed: 3, failed: 0, reads: 12, firstFailure: null, healed: true }),
    'snapshot saves: 3 asked, 3 completed (checked as 12 reads of register keys), 0 failed; with the cluster healed, one more completed',
  );
  assert.equal(
    describeSaves({ asked: 3, completed: 0, failed: 3, reads: 0, firstFailure: 'x', healed: false }),
    'snapshot saves: 3 asked, 0 completed (checked as 0 reads of register keys), 3 failed (the first: x); with the cluster healed, one more FAILED',
  );
});
