// The chaos runner's check of the cluster's async loss record against the async appends its final
// reads found missing: short is a failure, unless a data directory was lost in the run.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lossRecordShortfall } from '../../src/chaos/report.js';

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
