// Short chaos runs against real processes (short-chaos.ts) with the coordinators on a 3-member etcd:
// an etcd member killed and a stale leader, and etcd filled past its space quota.

import assert from 'node:assert/strict';
import { describeShortChaosRuns } from './short-chaos.js';

describeShortChaosRuns('short chaos runs against real processes: coordinators on etcd', [
  {
    nemesis: 'coordinator',
    etcd: ['etcd'],
    seed: 4,
    first: 'kills the etcd leader, then stops the leading coordinator on etcd past its lease',
    // The second fault begins about 11 s in (etcd and two coordinators take a while to form a whole
    // view, then a fault and a quiet spell): 10 s left it out once on a loaded machine.
    durationSeconds: 18,
    failover: false,
    check: (report, printed) => {
      assert.ok(report.faultVariants.get('coordinator')?.get('stale leader'), printed);
      assert.ok(report.faults.etcd >= 1, `an etcd member was killed:\n${printed}`);
    },
  },
  {
    nemesis: 'etcd-full',
    etcd: [],
    seed: 20_262_229,
    first: 'fills etcd past its space quota for 3.5 s, then frees it',
    durationSeconds: 12,
    failover: false,
    check: (report, printed) => {
      assert.ok(report.faultChecks.etcdFills >= 1, `etcd was filled past its quota:\n${printed}`);
    },
  },
]);
