// The chaos faults meant to outlast the failure timeout (a kill, a pause, a frozen disk, a partition,
// a cut coordinator link, a wiped replica kept down) do at every timeout `chaos --failure-timeout-ms`
// accepts; at the default they hold what they always held.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  COORDINATOR_LINK_MS,
  DEFAULT_FAILURE_TIMEOUT_MS,
  DISK_HANG_MS,
  KILL_DOWN_MS,
  PARTITION_MS,
  PAUSE_MS,
  PAUSE_PARTITION_STOPPED_MS,
  pastFailureTimeout,
  WIPE_DOWN_MS,
} from '../../src/chaos/faults.js';
import { defaultNodeConfig } from '../../src/node/config.js';
import { defaultProtocolConfig } from '../../src/protocol/config.js';

const outlasting = { COORDINATOR_LINK_MS, DISK_HANG_MS, KILL_DOWN_MS, PARTITION_MS, PAUSE_MS, WIPE_DOWN_MS };
const leaseAndMarginMs =
  (defaultProtocolConfig.leaseTicks + defaultProtocolConfig.leaseDriftMarginTicks) * defaultNodeConfig.tickMs;

test('at the default failure timeout the ranges are unchanged', () => {
  assert.equal(DEFAULT_FAILURE_TIMEOUT_MS, 600);
  for (const range of [...Object.values(outlasting), PAUSE_PARTITION_STOPPED_MS]) {
    assert.deepEqual(pastFailureTimeout(range, DEFAULT_FAILURE_TIMEOUT_MS), [...range]);
  }
});

for (const failureTimeoutMs of [210, 600, 1000, 4000, 10_000]) {
  test(`at --failure-timeout-ms ${failureTimeoutMs} every such fault outlasts it`, () => {
    for (const [name, range] of Object.entries(outlasting)) {
      const [shortestMs, longestMs] = pastFailureTimeout(range, failureTimeoutMs);
      assert(shortestMs > failureTimeoutMs, `${name}: ${shortestMs} ms`);
      assert(longestMs > shortestMs, `${name}: ${shortestMs}..${longestMs} ms`);
    }
    // A paused primary cut off must also outlive its lease, so that a new one is appointed meanwhile.
    const [stoppedMs] = pastFailureTimeout(PAUSE_PARTITION_STOPPED_MS, failureTimeoutMs);
    assert(stoppedMs > failureTimeoutMs + leaseAndMarginMs, `pause-partition: ${stoppedMs} ms`);
  });
}
