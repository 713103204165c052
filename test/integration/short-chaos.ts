// Short chaos runs against real processes, one per kind of fault, each with a seed that makes its
// first fault the one named: every run must find nothing lost, every key linearizable and no bounded
// read staler than its bound, and its own `check` of what the fault did. Shared by the test files
// that hold the runs (split so that each file stays well inside the runner's per-file timeout).

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, test } from 'node:test';
import { etcdSkipReason } from '../../src/chaos/etcd-members.js';
import type { NemesisKind } from '../../src/chaos/faults.js';
import { diskNemesisKinds } from '../../src/chaos/nemesis-kinds.js';
import { type ChaosReport, formatReport } from '../../src/chaos/report.js';
import { runChaos } from '../../src/chaos/run.js';
import {
  type FileSystem,
  powerCutsUnavailable,
  serverDisksUnavailable,
} from '../../src/chaos/server-disks.js';

export interface ShortRun {
  readonly nemesis: NemesisKind;
  readonly seed: number;
  /** What the seed makes the first fault do. */
  readonly first: string;
  /** The run's own proof that the fault did what it is for. */
  readonly check?: (report: ChaosReport, printed: string) => void;
  /** 6 s unless it says. */
  readonly durationSeconds?: number;
  /** Whether the first fault deposes the primary (true unless it says). */
  readonly failover?: boolean;
  /** The cluster's --sync-quorum (every backup unless it says). */
  readonly syncQuorum?: number;
  /** Two coordinators on a 3-member etcd, with these nemeses besides `nemesis`; skipped without etcd. */
  readonly etcd?: readonly NemesisKind[];
  /** Keep the run's directory for `check` to read (removed after it). */
  readonly keep?: boolean;
  /** About how often a Redis-port process sends FLUSHALL (the run's default if absent). */
  readonly flushallIntervalMs?: number;
  /** The file system of the servers' own disks, with a disk nemesis (ext4 if absent). */
  readonly fileSystem?: FileSystem;
}

/** One test per run, one run at a time, so each seed's first fault is the one named. */
export function describeShortChaosRuns(title: string, runs: readonly ShortRun[]): void {
  describe(title, { concurrency: false }, () => {
    const powerCutsMissing = powerCutsUnavailable();
    for (const {
      nemesis,
      seed,
      first,
      check,
      durationSeconds = 6,
      failover = true,
      syncQuorum,
      etcd,
      keep,
      flushallIntervalMs,
      fileSystem,
    } of runs) {
      const disksMissing = serverDisksUnavailable(fileSystem);
      const kinds = [nemesis, ...(etcd ?? [])];
      const skip =
        (etcd !== undefined && etcdSkipReason()) ||
        (kinds.some((kind) => diskNemesisKinds.includes(kind)) && disksMissing !== null
          ? `cannot freeze or fill a disk here: ${disksMissing}`
          : kinds.includes('power-loss') && powerCutsMissing !== null
            ? `cannot cut a disk's power here: ${powerCutsMissing}`
            : false);
      test(`${nemesis} (seed ${seed} ${first}): nothing acknowledged is lost and every key is linearizable`, {
        skip,
      }, async (t) => {
        const report = await runChaos({
          durationSeconds,
          clients: 3,
          pipeline: 2,
          nemeses: [nemesis, ...(etcd ?? [])],
          ...(etcd === undefined ? {} : { etcd: true }),
          concurrency: 1,
          replicas: 3,
          keys: 2,
          seed,
          ...(syncQuorum === undefined ? {} : { syncQuorum }),
          ...(keep === true ? { keepDirectory: true } : {}),
          ...(flushallIntervalMs === undefined ? {} : { flushallIntervalMs }),
          ...(fileSystem === undefined ? {} : { fileSystem }),
        });
        if (keep === true) t.after(() => rmSync(report.directory, { recursive: true, force: true }));
        const printed = formatReport(report);
        for (const line of printed.trimEnd().split('\n')) t.diagnostic(line);
        assert.ok(report.faults[nemesis] >= 1, `a ${nemesis} fault was injected:\n${printed}`);
        if (diskNemesisKinds.includes(nemesis))
          assert.equal(report.serverDisks, fileSystem ?? 'ext4', printed);
        assert.equal(report.lostWrites.length, 0, printed);
        assert.equal(report.duplicates.length, 0, printed);
        assert.equal(report.linearizability.linearizable, report.linearizability.keys, printed);
        assert.ok(report.linearizability.keys >= 2 * 2, printed);
        assert.equal(report.linearizability.unknown.length, 0, printed);
        assert.deepEqual(report.problems, [], printed);
        assert.ok(report.operations.ok > 0, printed);
        assert.deepEqual(report.boundedReads.violations, [], printed);
        assert.ok(report.boundedReads.answered > 0, printed);
        if (nemesis !== 'coordinator' && failover)
          assert.ok(report.failoverMs.length >= 1, `the primary failed over:\n${printed}`);
        check?.(report, printed);
        assert.ok(report.passed, printed);
      });
    }
  });
}
