// Short chaos runs against real processes (short-chaos.ts) for full disks: a replica's file system
// filled under load, every replica's at once, and the coordinator's as the primary is killed. Each
// server that stops must say why (a fatal line naming ENOSPC), nothing acknowledged may be lost, and
// once the space is back the cluster goes on. Needs root and a loop device, like disk-hang. A slow
// disk too (the same file systems, frozen and thawed by turns): nothing acknowledged is lost. And
// snapshot writes that fail (any user): the replica serves on, and keeps one once they succeed.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeShortChaosRuns } from './short-chaos.js';

/** Its first fault makes the primary's disk stutter (searched: `--nemesis disk-slow`). */
const SEED_DISK_SLOW = 3;

describeShortChaosRuns(
  'short chaos runs against real processes: full and slow disks, failing snapshot writes',
  [
    {
      nemesis: 'disk-full',
      seed: 2,
      first: "fills the primary's disk: it stops on its next write, saying ENOSPC, and rejoins once freed",
      check: (report, printed) => {
        const variants = report.faultVariants.get('disk-full');
        assert.ok(variants?.get('primary') ?? variants?.get('primary, restarted while full'), printed);
        assert.ok(
          report.faultChecks.diskFullStops >= 1,
          `the primary stopped on ENOSPC, saying so:\n${printed}`,
        );
      },
    },
    {
      nemesis: 'disk-full',
      seed: 1,
      first: "fills every replica's disk at once: all that write stop, and nothing acknowledged is lost",
      failover: false,
      check: (report, printed) => {
        assert.ok(report.faultVariants.get('disk-full')?.get('every replica'), printed);
        assert.ok(
          report.faultChecks.diskFullStops >= 1,
          `replicas stopped on ENOSPC, saying so:\n${printed}`,
        );
      },
    },
    {
      nemesis: 'disk-full',
      seed: 4,
      first:
        "fills the coordinator's disk and kills the primary: the failover's view cannot be stored, so the coordinator stops",
      keep: true,
      check: (report, printed) => {
        assert.ok(
          report.faultVariants.get('disk-full')?.get('coordinator, as the primary is killed'),
          printed,
        );
        const log = readFileSync(join(report.directory, 'logs', 'coordinator.log'), 'utf8');
        assert.match(
          log,
          /"error":"ENOSPC[^"]*","message":"saving the coordinator state failed; stopping"/,
          printed,
        );
        // Restarted with room again, it went on from its stored state to fail the primary over.
        assert.match(log, /"cause":"failover"/, printed);
      },
    },
    {
      nemesis: 'disk-slow',
      seed: SEED_DISK_SLOW,
      first: "makes the primary's disk stutter: its writes wait through each freeze",
      durationSeconds: 12,
      failover: false,
      // Whether the primary's event loop stalls at all depends on when each freeze begins (during
      // its fdatasync, on the thread pool, the loop runs on), so its stall warnings are not checked
      // here: stall-watch.test and storage-wal.test hold the cause they name.
      check: (report, printed) => {
        assert.ok(report.faultVariants.get('disk-slow')?.get('primary'), printed);
        const loss = report.faultChecks;
        assert.ok(loss.diskStutterFreezes >= 5, `the disk froze again and again:\n${printed}`);
      },
    },
    {
      nemesis: 'snapshot-fail',
      seed: 20_262_223,
      first: "makes the primary's snapshot writes fail for 10.8 s",
      durationSeconds: 15,
      failover: false,
      check: (report, printed) => {
        const loss = report.faultChecks;
        assert.ok(
          loss.snapshotWritesFailed >= 1,
          `a snapshot write failed, the replica serving on:\n${printed}`,
        );
        assert.ok(
          loss.snapshotWritesResumed >= 1,
          `it kept a snapshot once its writes succeeded:\n${printed}`,
        );
      },
    },
  ],
);
