// The simulator in the test suite: a fixed sample of seeds must run clean, a seed must replay
// exactly, and deliberately broken builds must be caught within the normal seed budget.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestOnlyFaults } from '../../src/protocol/test-only-faults.js';
import { runSeed } from '../../src/sim/run-seed.js';

const sampleSeeds = 40;

test(`a fixed sample of ${sampleSeeds} simulated seeds under faults has no violation`, () => {
  let operations = 0;
  let faults = 0;
  let saved = 0;
  for (let seed = 1; seed <= sampleSeeds; seed++) {
    const result = runSeed(seed);
    assert.deepEqual(
      result.violations,
      [],
      `seed ${seed} (${result.plan}) failed; replay: npm run sim -- --seed ${seed}`,
    );
    operations += result.operations;
    saved += result.saves.saved;
    for (const count of result.faults.values()) faults += count;
  }
  // The sample must actually exercise something.
  assert.ok(operations > sampleSeeds * 100, `only ${operations} operations`);
  assert.ok(faults > sampleSeeds, `only ${faults} faults`);
  assert.ok(saved > sampleSeeds, `only ${saved} snapshot saves checked as reads`);
});

test('a seed replays exactly: the same trace digest twice', () => {
  const first = runSeed(7);
  const second = runSeed(7);
  assert.equal(first.traceDigest, second.traceDigest);
  assert.equal(first.operations, second.operations);
  assert.notEqual(runSeed(8).traceDigest, first.traceDigest);
});

/**
 * Deliberately broken builds must be caught. Each search runs a short range that holds a known
 * catching seed, and demands a violation of the kind the broken rule causes (so a seed that fails
 * for another reason does not count). The ranges come from searching seeds 1..1000 with each
 * switch on (`node dist/src/sim/main.js --seeds 1000 --fault NAME`), counting only seeds that pass
 * with the switch off, on the build that added bounded reads, request status, transfer-cut and
 * corrupt (and the fix of freshness vouched by a new primary): the seeds move whenever the simulator's draws change, so search again then and update the
 * ranges (and docs/TESTING.md).
 */
const brokenBuilds: readonly {
  readonly fault: keyof TestOnlyFaults;
  readonly what: string;
  /** The first seed of the range searched, and how many seeds it holds. */
  readonly start: number;
  readonly seeds: number;
  readonly caughtAs: RegExp;
}[] = [
  // Caught in 654 of 1000 seeds (65 %); the first: 1, 2, 4, 6, 7.
  {
    fault: 'forgetSessionsOnPromotion',
    what: 'a primary that forgets the session table on failover (retried writes run twice)',
    start: 1,
    seeds: 5,
    caughtAs: /not linearizable|appears \d+ times/,
  },
  // Caught in 182 of 1000 seeds (18 %); the first: 6, 9, 14, 16, 21. After replicated writes and the
  // commit quorum changed the schedules (issue 8), in 12 of 100: 13, 25, 26, 38, 39.
  {
    fault: 'commitWithoutLastBackup',
    what: 'a primary that commits without its last backup (acknowledged writes lost on failover)',
    start: 13,
    seeds: 10,
    caughtAs: /not linearizable|missing from the final value|would remove committed entries/,
  },
  // Caught in 149 of 1000 seeds (15 %); the first: 20, 33, 34, 38, 44. After the switchover fault
  // (issue 9) changed the schedules: 4, 30, 31; with the flag and group keys of the Redis port's
  // writes in the workload too: 8, 14, 15, 19, 20.
  // Since the simulator's incarnations are spread as real ones are (each replica's snapshot threshold
  // differs): 4, 14, 15, 20, 34.
  // After replicas heartbeat the coordinator every 100 ms rather than 50, and a primary reports a
  // learner that caught up at once: 11, 14, 29, 31, 40.
  // After the coordinator-save-stall fault (armed in half the seeds, 11 among them): 14, 29, 31, 40, 45.
  // After seeds began to draw the failure timeout (14 among them): 21, 29, 37 (and liveness failures
  // in 5 and 9).
  {
    fault: 'ignoreIdentityChanges',
    what: 'a wiped member that keeps its place (hole 2)',
    start: 21,
    seeds: 1,
    caughtAs: /not linearizable|would remove committed entries|missing from the final value/,
  },
  // Caught (not linearizable) in 5 of 1000 seeds (0.5 %): 35, 451, 475, 624, 927; after the fixes of
  // sims seeds 167, 355, 1622 and chaos seed 1 changed the schedules, in 2 of 400: 288, 322; after
  // snapshots began to carry their epochs (issue 7's loss over-count), in 4 of 1000: 512, 634, 869, 945;
  // after replicated writes and the commit quorum (issue 8), in 10 of 1000: 46, 89, 129, 245, 325;
  // after the key/value store's binary updates (smaller entries), in 7 of 1000: 60, 89, 122, 344, 486;
  // after the binary operations and the switchover fault: 38, 89; with the flag and group keys of the
  // Redis port's writes in the workload too: 10, 31, 182.
  // Since the simulator's incarnations are spread as real ones are (each replica's snapshot threshold
  // differs): 52, 137, 399, 404, 675.
  // After replicas heartbeat the coordinator every 100 ms rather than 50, and a primary reports a
  // learner that caught up at once: 26, 53, 230, 405, 516.
  // After the cut-crash fault (armed in half the seeds): 76, the first in 1..120. After the
  // promote-crash fault (armed in half the seeds, 76 among them): 131, 142, 158 (of 1..250). After
  // the keep-crash fault (armed in half the seeds): 142, 148, 158, 337, 342 (of 1..400).
  // After the workload began to send sequences: 21, 27, 37.
  // After sequences went whole behind a guard (WATCH's expect): 5, 38, 44.
  {
    fault: 'answerRefusalsAtOnce',
    what: 'refusals answered from uncommitted state (hole 4)',
    start: 5,
    seeds: 1,
    caughtAs: /not linearizable/,
  },
  // Caught in 35 of 1000 seeds (3.5 %); the first: 25, 62, 145, 183, 212. With flag and group keys in
  // the workload (before the switchover fault), the first five of 1..113: 5, 85, 90, 104, 113; with
  // both, 5 still catches.
  // After replicas heartbeat the coordinator every 100 ms rather than 50, and a primary reports a
  // learner that caught up at once: 18, 56, 68, 83, 145.
  // After the cut-crash fault (armed in half the seeds): 23, 86, 102, 111.
  // After the workload began to send sequences: 166, 213, 214.
  // After sequences went whole behind a guard (WATCH's expect): 4, 145, 184.
  {
    fault: 'candidatesFromCurrentViewOnly',
    what: 'a total crash that narrows who may lead (hole 10)',
    start: 4,
    seeds: 1,
    caughtAs: /returned alone and did not lead/,
  },
  // Caught (a bounded read staler than its bound) in 16 of 1000 seeds (1.6 %); the first: 39, 108, 229.
  // After the switchover fault (issue 9): 10, 132, 143. With flag and group keys in the workload
  // (before the switchover fault): 10, 54, 78, 103, 162; with both, 10 still catches.
  // Since the simulator's incarnations are spread as real ones are (each replica's snapshot threshold
  // differs): 9, 54, 98, 103, 160.
  // After replicas heartbeat the coordinator every 100 ms rather than 50, and a primary reports a
  // learner that caught up at once: 3, 35, 129, 160, 162.
  // After the cut-crash fault (armed in half the seeds): 9, 50, 79, 129.
  // After the workload began to send sequences: 136, 162, 165.
  // After sequences went whole behind a guard (WATCH's expect): 9, 78, 197.
  {
    fault: 'ignoreStalenessBound',
    what: 'a backup that serves bounded reads past their bound',
    start: 9,
    seeds: 1,
    caughtAs: /: staleness: /,
  },
  // Issue 8, replicated writes: caught in 2 of seeds 1001..4000 (2507, 3867), both schedules of the
  // memory-loss fault (a backup restarts, the primary dies, the other backups report late); searched
  // on the build that added replicated writes and the commit quorum. After the key/value store's
  // binary updates: in 1 of seeds 1..4000 (3909); after the binary operations and results: seed 37
  // (the first caught); after the switchover fault: 215 (the first in 1..1500); with the flag and group
  // keys of the Redis port's writes in the workload too: 2454 (the first in 1..2454). Since issue 10, seed 2454
  // draws coordinators on etcd; it was run with the embedded one it was found with.
  // After replicas heartbeat the coordinator every 100 ms rather than 50, and a primary reports a
  // learner that caught up at once: with each seed's own draw of the coordinators' home, 2078, 2738,
  // 2966 (of 1..3000); with the embedded coordinator forced, 6114, 7590, 7908, 9575, 10219 (of
  // 1..14000; none in 1..6000). Run as drawn. After the cut-crash fault (armed in half the seeds): none
  // in 1..3000, then 3499, 3679, 5289.
  // After the workload began to send sequences: 1483, 3389.
  // After sequences went whole behind a guard (WATCH's expect): 2117, the first in 1..2117; after the
  // expect's refusal message changed (the logged results' sizes, so the snapshot thresholds): 15759,
  // the only one in 1..24000. After the simulator began to ask for snapshot saves (their snapshots
  // move the schedules): 702, the first. After half the seeds began to write keys with a time to
  // live: 9994, the first. After a store's first write began to carry its scan seed: 4765, the first.
  {
    fault: 'rankCandidatesByDiskOnly',
    what: 'a coordinator that ranks candidates by disk alone, restarted ones included (replicated writes lost)',
    start: 4765,
    seeds: 1,
    caughtAs: /not linearizable|missing from the final value/,
  },
  // Issue 8, commit quorum: caught in 9 of 1000 seeds (37, 46, 153, 162, 484, ...), same build; after
  // the key/value store's binary updates, in 4 of 1000: 244, 248, 735, 853; with flag and group keys in
  // the workload (before the switchover fault), the first five of 1..642: 81, 160, 489, 499, 642; with
  // both, 81 still catches (and passes with the switch off). After each replica process began to take
  // its snapshots at its own fraction of the threshold: 160, 249, 303, 642, 659 (the first five of 1..659).
  // Since the simulator's incarnations are spread as real ones are (each replica's snapshot threshold
  // differs): 238, 280, 696, 853, 942.
  // After replicas heartbeat the coordinator every 100 ms rather than 50, and a primary reports a
  // learner that caught up at once: 162, 212, 248, 252, 735.
  // After the workload began to send sequences: 142, 216, 248.
  // After sequences went whole behind a guard (WATCH's expect): 221, 248, 503.
  {
    fault: 'promoteWithoutQuorumReports',
    what: 'a commit quorum whose failover counts no reports (commits lost)',
    start: 221,
    seeds: 1,
    caughtAs: /not linearizable|missing from the final value|would remove committed entries/,
  },
  // Issue 9, switchover: held only by a unit test until every step checked that no two primaries hold
  // a lease at once (issue 10); then caught in 2 of seeds 1..300 (5, 13).
  // Since the simulator's incarnations are spread as real ones are (each replica's snapshot threshold
  // differs): 12, 21, 22, 28, 39.
  // After replicas heartbeat the coordinator every 100 ms rather than 50, and a primary reports a
  // learner that caught up at once: 13, 22, 24, 53, 59. After the keep-crash fault (armed in half the
  // seeds): 21 of 1..300, the first 3, 12, 18, 22, 28.
  // After the workload began to send sequences: 13, 22, 28.
  // After sequences went whole behind a guard (WATCH's expect): 12, 21, 22.
  // After the simulator began to ask for snapshot saves: 2, the first.
  {
    fault: 'switchoverWithoutLeaseWait',
    what: 'a switchover that does not wait out the old primary lease (two primaries at once)',
    start: 2,
    seeds: 1,
    caughtAs: /two primaries hold a lease/,
  },
  // Issue 10, coordinators on etcd: caught in 11 of seeds 1..300 (22, 76, 79, 85, 133, ...), each with
  // the stale-leader fault: a leader that stalled past its etcd lease renews the old primary's lease
  // after a standby replaced it.
  // Since the simulator's incarnations are spread as real ones are (each replica's snapshot threshold
  // differs): 56, 79, 120, 223, 226.
  // After replicas heartbeat the coordinator every 100 ms rather than 50, and a primary reports a
  // learner that caught up at once: 58, 85, 121, 133, 166.
  // After a new primary logs a view-start entry and leads only once its disk holds what it inherited:
  // 76, 133, 166. After a disk stall is judged by the failure timeout (76 among the seeds whose draws
  // changed): 133, 166. After the keep-crash fault (armed in half the seeds): 12 of 1..600, the first
  // 57, 85, 186, 192, 205. After the simulator began to ask for snapshot saves: 85, the first.
  // After half the seeds began to write keys with a time to live: 121, the first. After those seeds
  // began to send expire, persist and ttl too: 130, 223, 290. After they began to send get-set,
  // get-delete and get-expire too: 16, 120, 121. After a store's first write began to carry its scan
  // seed (the first entry's size moves the schedules): 226, 344, 355.
  {
    fault: 'grantLeasesBeyondAuthority',
    what: 'a coordinator on etcd that grants leases beyond its own (a stale leader)',
    start: 226,
    seeds: 1,
    caughtAs: /two primaries hold a lease/,
  },
  // The async loss record across a crash: caught in 1 of seeds 1..400 (292), by the discard-crash
  // fault added with the fix (a replica crashes after discarding async writes, before reporting them).
  // After seeds began to draw the failure timeout (292 among them): in 5 of 1..3400, 1969, 2269,
  // 2301, 2879, 3252. After a new primary logs a view-start entry, and noted losses stay noted until
  // their record commits: none in 1..4000, then 6614, 7056, 7874. After a disk stall is judged by
  // the failure timeout (6614 among the seeds whose draws changed): 7056, 7874. The cut-crash fault
  // (a primary cut off from its backups acknowledges async writes, then crashes) made such losses
  // common: caught in 9 of 1..1000 (18, 110, 255, 267, 371, ...), against 1 without it.
  // After the workload began to send sequences: 69, 158, 342.
  // After sequences went whole behind a guard (WATCH's expect): 307, 312, 367.
  // After half the seeds began to write keys with a time to live: 1108, the first. After those seeds
  // began to send expire, persist and ttl too: 143, 1378, 2087. After they began to send get-set,
  // get-delete and get-expire too: 1109, 1326, 1378.
  {
    fault: 'keepUnreportedLossesInMemory',
    what: 'a replica that keeps its unreported async losses only in memory (a crash drops them from the record)',
    start: 1109,
    seeds: 1,
    caughtAs: /the loss record \(\d+\) does not name it/,
  },
  // Commit quorum, a primary kept in a new view: found as a failure of seed 2066, the first run with
  // the cut-crash fault (a primary that crashed with committed entries returned, led a view with a
  // backup that held none of them, and was kept in the next view before it was ready).
  // After the workload began to send sequences: 5277, the only one of 1..10000. After the simulator
  // began to ask for snapshot saves: 65403, the only one of 1..65403 (none in 1..3000 with
  // --commit-quorum either: the rule breaks only while a kept primary's inherited entries wait for a
  // round trip). After snapshots were kept for learners receiving them (2026-12-07): 430157, the
  // first among the seeds whose plan commits at a quorum and draws cut-crash (a sixth of all) in
  // 72000..103232 and 400000..430157 (none in 65404..72403 or 140001..146000 of all seeds). The
  // unit test of seed 2066's schedule in protocol-durability.test holds it too.
  {
    fault: 'settleOnlyCommitsWhenKept',
    what: 'a primary kept in a new view that owes its backups only its commits (committed entries cut)',
    start: 430157,
    seeds: 1,
    caughtAs: /would remove committed entries|not linearizable|missing from the final value/,
  },
  // Snapshot saves (save-workload.ts): caught in 15 of seeds 700001..700300; from 1, the first is 3.
  // After half the seeds began to write keys with a time to live: 29, the first. After those seeds
  // began to send expire, persist and ttl too: 30, 39, 50.
  {
    fault: 'saveWithoutLease',
    what: 'a primary that takes a snapshot save without a lease (a deposed one saves a stale state)',
    start: 30,
    seeds: 1,
    caughtAs: /not linearizable/,
  },
  // Keys that expire (expiry-workload.ts): the stores look 100 ms ahead for keys due; caught in 120 of
  // seeds 1..300 (about every seed that writes keys with a time to live), the first 3. With expire,
  // persist and ttl in those seeds too: 134 of 1..300, the first 3.
  {
    fault: 'expireEarly',
    what: 'a store that deletes keys before their time to live ran out',
    start: 3,
    seeds: 1,
    caughtAs: /before its time/,
  },
  // The check that the healed cluster deletes every key whose time came (expiry-workload.ts): the stores
  // never hand the core a deletion; caught in 42 of seeds 1..300 (those whose keys still hold a time at
  // the end), the first 17; after a store's first write began to carry its scan seed, 11, 14, 16.
  {
    fault: 'neverExpire',
    what: 'a primary that never deletes the keys whose time came',
    start: 11,
    seeds: 1,
    caughtAs: /keys whose time had come are not deleted/,
  },
  // The check that a key whose time to live was taken away is not deleted by expiry: applying a put (or a
  // persist) leaves the key's time; caught in 69 of seeds 1..300, the first 3.
  {
    fault: 'keepTtlOnPut',
    what: 'a store whose put leaves the time to live (a key written without one still expires)',
    start: 3,
    seeds: 1,
    caughtAs: /which ends any time to live|a persist ran after the write/,
  },
  // Scans (scan-workload.ts, in 30 % of the seeds, none of those above): the naive cursor, a position
  // in the keys' order, which a deletion behind it shifts; caught in 9 of seeds 1..200 (6, 25, 51,
  // 104, 121, ...).
  {
    fault: 'scanByPosition',
    what: 'a store whose scan cursor is a position in its keys (a deletion behind it skips a key)',
    start: 6,
    seeds: 1,
    caughtAs: /did not return \S+, present throughout it/,
  },
  // Scan seeds: each replica keys its buckets with a seed of its own, not the one the primary logged;
  // caught by the scan check in 2 of seeds 1..300 (25, 44: a walk carried across a failover to buckets
  // of another seed), and as replicas diverged (their seeds differ) in about half.
  {
    fault: 'ownScanSeeds',
    what: "a store that keys SCAN's buckets with a seed of its own (a cursor means other buckets elsewhere)",
    start: 25,
    seeds: 1,
    caughtAs: /did not return \S+, present throughout it/,
  },
  // Snapshot writes that fail (snapshot-fail, in 30 % of the seeds, none of those above): caught in 30
  // of seeds 41..240, the first 56, 66, 67, 107, 113.
  {
    fault: 'ignoreFailedSnapshots',
    what: 'a replica that waits for a failed snapshot write for ever (no snapshot again)',
    start: 56,
    seeds: 1,
    caughtAs: /wrote no snapshot after the one it failed to write/,
  },
  // Rolling upgrades (upgrade, in a quarter of the seeds, none of those above): peers that keep no
  // format level between them (a primary sends what a follower's sync said it cannot read, and the
  // replica takes what peers send after the coordinator said the cluster logs more than it reads),
  // caught in 1 of seeds 1..1500 (1020: a primary that still listed a rolled-back replica sent it the
  // seed); either rule alone masks the other here, and unit tests hold each (format-level.test,
  // protocol-months.test). A store that seeds at any level, in 20 of 1..100 (8, 12, 33, 40, 45).
  {
    fault: 'readAboveFormatLevel',
    what: 'peers that send and take what a replica cannot read, after its sync and the coordinator said so',
    start: 1020,
    seeds: 1,
    caughtAs: /reached a replica that reads format level 1/,
  },
  {
    fault: 'seedAtAnyFormatLevel',
    what: "a store that logs its scan seed whatever the cluster's format level",
    start: 8,
    seeds: 1,
    caughtAs: /reached a replica that reads format level 1/,
  },
];

for (const { fault, what, start, seeds, caughtAs } of brokenBuilds) {
  const last = start + seeds - 1;
  test(`the simulator catches ${what} within seeds ${start}..${last}`, () => {
    const caught: number[] = [];
    for (let seed = start; seed <= last && caught.length === 0; seed++) {
      const { violations } = runSeed(seed, { testOnlyFaults: { [fault]: true } });
      if (violations.some((violation) => caughtAs.test(violation))) caught.push(seed);
    }
    assert.ok(caught.length > 0, `--fault ${fault} was not caught in seeds ${start}..${last}`);
  });
}

test('coordinators on etcd in simulation: leader loss, stale leaders and etcd outages, and no violation', () => {
  const seeds = 12;
  const injected = new Map<string, number>();
  for (let seed = 1; seed <= seeds; seed++) {
    const result = runSeed(seed, { coordinatorHome: 'etcd' });
    assert.deepEqual(
      result.violations,
      [],
      `seed ${seed} (${result.plan}) failed; replay: npm run sim -- --seed ${seed} --coordinator-home etcd`,
    );
    for (const [kind, count] of result.faults) injected.set(kind, (injected.get(kind) ?? 0) + count);
  }
  // The sample must exercise each path: a leader lost (crash) or stalled (pause, stale-leader), etcd out.
  for (const kind of ['stale-leader', 'etcd-outage', 'coordinator-crash'] as const) {
    assert.ok(
      (injected.get(kind) ?? 0) > 0,
      `no ${kind} fault in seeds 1..${seeds}: ${JSON.stringify([...injected])}`,
    );
  }
});

test('sim seed 1179726 on etcd: a coordinator that lost its state while a log held an unapplied scan seed', () => {
  // It admitted a replica of the older build (format level 1), which then stopped at the seed
  // (format-level.test.ts holds the lasting check; this schedule holds while the draws do not move).
  const result = runSeed(1179726, { coordinatorHome: 'etcd' });
  assert.deepEqual(result.violations, [], 'replay: npm run sim -- --seed 1179726 --coordinator-home etcd');
  assert.ok((result.faults.get('coordinator-amnesia') ?? 0) > 0 && (result.faults.get('upgrade') ?? 0) > 0);
});

test('sim seed 1269394: a replica rolled back to the older build, still in the view, asks to sync', () => {
  // Before the coordinator heard what its new process reads, the primary offered it a snapshot of
  // format 5 and it stopped at it (protocol-months.test.ts holds the lasting check).
  const result = runSeed(1269394);
  assert.deepEqual(result.violations, [], 'replay: npm run sim -- --seed 1269394');
  assert.ok((result.faults.get('upgrade') ?? 0) > 0 && result.storage.transfersCompleted > 0);
});

test('--upgrade makes every seed a rolling upgrade under way: no violation', () => {
  // Seeds 1..40 draw no upgrade (faults.ts: their schedules stay those the tests above rely on).
  let upgrades = 0;
  for (let seed = 1; seed <= 4; seed++) {
    assert.equal(runSeed(seed).faults.get('upgrade') ?? 0, 0, `seed ${seed} drew upgrade by itself`);
    const result = runSeed(seed, { rollingUpgrade: true });
    assert.deepEqual(
      result.violations,
      [],
      `seed ${seed} failed; replay: npm run sim -- --seed ${seed} --upgrade`,
    );
    upgrades += result.faults.get('upgrade') ?? 0;
  }
  assert.ok(upgrades >= 2, `only ${upgrades} upgrades in seeds 1..4`);
});

test("the coordinator's state write hangs (coordinator-save-stall), and sometimes it goes down first: no violation", () => {
  // Seeds 1..40 with the embedded coordinator hold such hangs, and seeds 30 and 34 a coordinator that
  // went down before the hung write completed (its decided view lost).
  let hung = 0;
  let lost = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const result = runSeed(seed, { coordinatorHome: 'directory' });
    assert.deepEqual(
      result.violations,
      [],
      `seed ${seed} (${result.plan}) failed; replay: npm run sim -- --seed ${seed} --coordinator-home directory`,
    );
    hung += result.storage.coordinatorSaveStalls;
    lost += result.storage.coordinatorSavesLost;
  }
  assert.ok(hung >= 5, `only ${hung} views decided while the coordinator's write hung`);
  assert.ok(lost >= 1, 'no coordinator went down in a hung state write');
});

test('clears of every key (FLUSHALL) in the seeds that draw them: no violation, and the clears answered', () => {
  // Seeds 1..40 draw none (run-seed.ts: their schedules stay those the tests above rely on); these
  // three do, and a build whose clear leaves the append lists fails each of them, one whose sequence
  // does not see its own clear seed 43 (docs/TESTING.md).
  let answered = 0;
  for (const seed of [41, 43, 53]) {
    const result = runSeed(seed);
    assert.deepEqual(
      result.violations,
      [],
      `seed ${seed} (${result.plan}) failed; replay: npm run sim -- --seed ${seed}`,
    );
    answered += result.clears.answered;
  }
  assert.ok(answered >= 3, `only ${answered} clears answered`);
});

test('replicas forgotten by the operator as their faults end (forget) rejoin as new: no violation', () => {
  // Seeds 42, 48 and 51 draw forget (run-seed.ts; none of those above does): the coordinator forgets
  // some replicas (out of the view and silent) and refuses the rest, and each comes back.
  let asked = 0;
  let forgotten = 0;
  for (const seed of [42, 48, 51]) {
    const result = runSeed(seed);
    assert.deepEqual(
      result.violations,
      [],
      `seed ${seed} (${result.plan}) failed; replay: npm run sim -- --seed ${seed}`,
    );
    asked += result.faults.get('forget') ?? 0;
    forgotten += result.forgotten;
  }
  assert.ok(forgotten >= 3, `only ${forgotten} replicas forgotten`);
  assert.ok(asked > forgotten, 'no forget was refused');
});
