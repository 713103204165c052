// Short chaos runs against real processes (short-chaos.ts) for lost and damaged data directories,
// total crashes and the coordinator's faults: a wipe, the coordinator's amnesia, a replica forgotten,
// a flipped bit, a transfer killed half way, every replica killed at once (the coordinators on etcd:
// chaos-etcd.test.ts).

import assert from 'node:assert/strict';
import { describeShortChaosRuns } from './short-chaos.js';

describeShortChaosRuns(
  'short chaos runs against real processes: lost directories, total crashes, coordinators',
  [
    {
      nemesis: 'wipe',
      seed: 20_261_222,
      first: 'wipes the primary and restarts it at once, within the failure timeout',
      check: (report, printed) => {
        assert.ok(report.faultVariants.get('wipe')?.get('deleted, restarted at once'), printed);
        assert.ok(report.faultChecks.wipesRejoined >= 1, `the wiped replica rejoined:\n${printed}`);
      },
    },
    {
      nemesis: 'coordinator',
      seed: 20_261_222,
      first: 'restarts the coordinator with an empty state directory',
      check: (report, printed) => {
        const loss = report.faultChecks;
        assert.ok(loss.amnesias >= 1, `an amnesia was injected:\n${printed}`);
        assert.equal(loss.amnesiasRefusedUntilRecovery, loss.amnesias, `it refused to act:\n${printed}`);
        assert.equal(
          loss.amnesiasRecovered,
          loss.amnesias,
          `--recover-from-replicas made a whole view:\n${printed}`,
        );
      },
    },
    {
      nemesis: 'forget',
      seed: 1,
      first: 'kills a backup, forgets it once out of the view, and starts it again',
      durationSeconds: 10,
      failover: false,
      check: (report, printed) => {
        const loss = report.faultChecks;
        // A forget the end of the run cuts short is asked while its backup is still in the view:
        // refused, which the run's checks allow. Every other answer is checked there.
        assert.ok(loss.forgotten >= 1, `the coordinator forgot the backup:\n${printed}`);
        assert.ok(loss.forgetsOfPrimaryRefused >= 1, `an ask for the primary was refused:\n${printed}`);
      },
    },
    {
      nemesis: 'corrupt',
      seed: 1,
      first: 'flips a bit in a synced log record of the primary and restarts it at once',
      check: (report, printed) => {
        const loss = report.faultChecks;
        assert.ok(loss.corruptedLogRecords >= 1, printed);
        assert.ok(loss.corruptionsRepaired >= 1, `it logged "data directory repaired":\n${printed}`);
        assert.ok(loss.corruptionsRejoined >= 1, `the repaired replica rejoined:\n${printed}`);
      },
    },
    {
      nemesis: 'transfer-kill',
      seed: 7,
      first: 'wipes a backup and kills it again while it receives the snapshot',
      durationSeconds: 10,
      failover: false,
      // No FLUSHALL: it takes the ballast too, and a snapshot taken before the ballast is written
      // again spans a chunk or two, sent before the run sees it under way (a CI run saw neither of
      // its two transfers midway). Clears under transfers are the long chaos runs' to meet.
      flushallIntervalMs: 3_600_000,
      check: (report, printed) => {
        const loss = report.faultChecks;
        assert.ok(loss.transferKillsMidway >= 1, `killed mid-transfer:\n${printed}`);
        // The first one at least; a later one the end of the run may cut short.
        assert.ok(
          loss.transferKillsResumed + loss.transferKillsNewerSnapshot >= 1,
          `it resumed, or was offered a newer snapshot:\n${printed}`,
        );
        assert.ok(report.storage.transfersCompleted >= 1, printed);
      },
    },
    {
      nemesis: 'total-crash',
      seed: 5,
      first: 'kills every replica at once and restarts the last primary first, which must lead again',
      durationSeconds: 8,
      failover: false,
      check: (report, printed) => {
        assert.ok(report.faultVariants.get('total-crash')?.get('every replica'), printed);
      },
    },
  ],
);
