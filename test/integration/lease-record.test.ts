// The chaos runner's check that no two primaries held a lease at once (src/chaos/lease-overlaps.ts),
// on real processes: it must find the overlap a broken margin opens, and none where the margin holds.
// A primary whose clock runs at a quarter of the machine's believes its lease lasts four times as long
// as the coordinator counts it; once it stops answering (SIGSTOP) the coordinator waits out the lease
// and its margin by its own clock and appoints another, whose lease then begins while the stopped one
// still believes it holds its own. At the machine's rate, the same failover leaves them apart.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { test } from 'node:test';
import {
  checkLeases,
  type LeaseCheck,
  leaseRecordDirectory,
  leaseRecordPath,
  readLeaseGrants,
} from '../../src/chaos/lease-overlaps.js';
import { TEST_CLOCK_RATE_VARIABLE } from '../../src/node/test-clock-rate.js';
import { TEST_LEASE_RECORD_VARIABLE } from '../../src/node/test-lease-record.js';
import { LocalCluster } from './harness.js';

/** A failover from r1, whose clock runs at `rate`, to another replica: the leases they wrote down. */
async function leasesAcrossFailover(rate: number): Promise<LeaseCheck> {
  const cluster = new LocalCluster();
  mkdirSync(leaseRecordDirectory(cluster.directory));
  const environment = (id: string, clockRate = 1) => ({
    [TEST_LEASE_RECORD_VARIABLE]: leaseRecordPath(cluster.directory, id),
    ...(clockRate === 1 ? {} : { [TEST_CLOCK_RATE_VARIABLE]: String(clockRate) }),
  });
  try {
    await cluster.startCoordinator();
    const r1 = await cluster.startReplica('r1', { env: environment('r1', rate) });
    await cluster.waitForView((view) => view.primary === 'r1');
    for (const id of ['r2', 'r3']) await cluster.startReplica(id, { env: environment(id) });
    await cluster.waitForView((view) => view.primary === 'r1' && view.backups.length === 2);
    const client = await cluster.client();
    await client.put('k', 'under the first lease');
    r1.child.kill('SIGSTOP');
    try {
      await cluster.waitForView((view) => view.primary !== 'r1');
      // Answered only under the new primary's lease, so its grant is written down by then.
      await client.put('k', 'under the second lease');
    } finally {
      r1.child.kill('SIGCONT');
    }
    return checkLeases(readLeaseGrants(cluster.directory));
  } finally {
    await cluster.close();
  }
}

test("a primary whose clock runs at a quarter of the machine's holds its lease beside its successor's", async () => {
  const check = await leasesAcrossFailover(0.25);
  assert.ok(check.overlaps.length >= 1, `overlaps found: ${check.overlaps.length}`);
  assert.match(check.overlaps.join('\n'), /lease at r1 \(process \d+\) held from .* ms at once/);
});

test("at the machine's rate the same failover leaves the two leases apart", async () => {
  const check = await leasesAcrossFailover(1);
  assert.deepEqual(check.overlaps, []);
  assert.ok(check.leases >= 2, `leases: ${check.leases}`);
  assert.ok(check.closestGapMs !== null && check.closestGapMs > 0, `closest gap: ${check.closestGapMs}`);
});
