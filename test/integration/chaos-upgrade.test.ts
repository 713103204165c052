// A short chaos run against real processes (short-chaos.ts) with the upgrade nemesis: the cluster
// starts at the older build's format level (--format-level 1), its faults upgrade replicas one at a
// time, and the heal upgrades the rest; nothing of level 2 may reach a replica still held at level 1,
// and with every replica upgraded the cluster's level must rise to 2.

import assert from 'node:assert/strict';
import { describeShortChaosRuns } from './short-chaos.js';

describeShortChaosRuns('a short chaos run against real processes: a rolling upgrade', [
  {
    nemesis: 'upgrade',
    seed: 20_262_241,
    first: 'upgrades a backup held at format level 1',
    failover: false,
    check: (report, printed) => {
      const upgrade = report.upgrade;
      assert.ok(upgrade !== undefined, printed);
      assert.ok(upgrade.upgrades >= 1, `a fault upgraded a replica:\n${printed}`);
      assert.equal(upgrade.upgrades + upgrade.upgradesAtHeal, report.replicas, printed);
      assert.ok(upgrade.levelRaises >= 1, `the coordinator raised the level:\n${printed}`);
      assert.equal(upgrade.finalLevel, 2, printed);
    },
  },
]);
