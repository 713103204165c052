// The upgrade nemesis's judgement of the coordinator's statuses (format-upgrade.ts): a replica held
// at format level 1 may be named by a view the coordinator held before it heard that process, but
// never by a later one while the cluster logs level 2; a status row that says it reads too low a
// level is a refusal; and the report's line on it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  keptOutForFormatLevel,
  noUpgradeCounts,
  PinnedReplica,
  SEEDING_SLACK_MS,
  SeedingWindows,
} from '../../src/chaos/format-upgrade.js';
import { describeUpgrade } from '../../src/chaos/report.js';
import { formatLevelRefusal } from '../../src/protocol/format-level.js';
import type { ReplicaStatus, StatusReply } from '../../src/protocol/messages.js';
import { logIndex, replicaId, viewNumber } from '../../src/protocol/types.js';

const refusal = formatLevelRefusal(1, 2);

function row(id: string, formatLevel: number, problem: string | null = null): ReplicaStatus {
  return {
    id: replicaId(id),
    address: '127.0.0.1:1',
    role: 'none',
    alive: problem === null,
    durableIndex: logIndex(0),
    appliedIndex: logIndex(0),
    commitIndex: logIndex(0),
    problem,
    transfer: null,
    snapshotIndex: logIndex(0),
    sessions: 0,
    formatLevel,
    redisAddress: null,
  };
}

function status(
  viewNumberSeen: number,
  members: { primary: string; backups?: string[]; learners?: string[] },
  formatLevel: number,
  replicas: ReplicaStatus[],
): StatusReply {
  return {
    type: 'status_reply',
    id: 1,
    view: {
      number: viewNumber(viewNumberSeen),
      primary: replicaId(members.primary),
      backups: (members.backups ?? []).map(replicaId),
      learners: (members.learners ?? []).map(replicaId),
    },
    replicas,
    problem: null,
    asyncLost: 0,
    promotionsWithoutHolders: 0,
    formatLevel,
    service: null,
  };
}

test('a row the coordinator refuses for its format level is told apart from one merely silent', () => {
  assert.ok(refusal !== null);
  assert.equal(keptOutForFormatLevel(row('r2', 1, refusal)), true);
  assert.equal(keptOutForFormatLevel(row('r2', 1, 'silent for 900 ms')), false);
  assert.equal(keptOutForFormatLevel(row('r2', 1)), false);
});

test('a rolled-back replica still named by the view the coordinator held when it heard it is no problem', () => {
  const pin = new PinnedReplica('r2', 100, true, 0, 0);
  // Asked before the pin, and then before the coordinator heard the held process: they say nothing.
  assert.equal(pin.observe(status(7, { primary: 'r1', backups: ['r2', 'r3'] }, 2, [row('r2', 1)]), 50), null);
  assert.equal(
    pin.observe(status(7, { primary: 'r1', backups: ['r2', 'r3'] }, 2, [row('r2', 2)]), 150),
    null,
  );
  assert.equal(pin.knownAtView, null);
  // Heard now, refused, while view 7 still names its former process.
  assert.equal(
    pin.observe(status(7, { primary: 'r1', backups: ['r2', 'r3'] }, 2, [row('r2', 1, refusal)]), 200),
    null,
  );
  assert.equal(pin.knownAtView, 7);
  assert.equal(pin.everKeptOut, true);
  assert.equal(
    pin.observe(status(8, { primary: 'r1', backups: ['r3'] }, 2, [row('r2', 1, refusal)]), 300),
    null,
  );
});

test('a held replica in a later view while the cluster logs level 2 is a problem, said once', () => {
  const pin = new PinnedReplica('r2', 100, true, 0, 0);
  pin.observe(status(7, { primary: 'r1', backups: ['r3'] }, 2, [row('r2', 1, refusal)]), 200);
  const problem = pin.observe(
    status(8, { primary: 'r1', backups: ['r3'], learners: ['r2'] }, 2, [row('r2', 1)]),
    300,
  );
  assert.match(
    problem ?? '',
    /r2, rolled back to format level 1, is learner of view 8 while the cluster logs format level 2/,
  );
  assert.equal(pin.observe(status(9, { primary: 'r1', backups: ['r2'] }, 2, [row('r2', 1)]), 400), null);
});

test('a replica of the older build is a member while the cluster logs level 1', () => {
  const pin = new PinnedReplica('r3', Number.NEGATIVE_INFINITY, false, 0, 0);
  for (let number = 1; number <= 5; number++) {
    assert.equal(
      pin.observe(status(number, { primary: 'r3', backups: ['r1', 'r2'] }, 1, [row('r3', 1)]), number),
      null,
    );
  }
  assert.equal(pin.everKeptOut, false);
  assert.match(
    pin.observe(status(6, { primary: 'r1', backups: ['r3'] }, 2, [row('r3', 1)]), 6) ?? '',
    /r3, held at format level 1 \(the older build\), is backup of view 6/,
  );
});

test("the report's line counts upgrades, refused rollbacks and raises", () => {
  assert.equal(
    describeUpgrade({
      ...noUpgradeCounts(),
      upgrades: 3,
      upgradesOfKeptOut: 1,
      keptOut: 1,
      rollbacks: 2,
      rollbacksRefused: 2,
      levelRaises: 1,
      finalLevel: 2,
    }),
    'upgrade: 3 replicas upgraded from format level 1 by faults (1 of them kept out first), 0 at the heal; ' +
      'replicas at level 1 kept out once the level rose without them: 1; rollbacks to level 1 refused: 2 of 2; ' +
      'format level raised 1 times, at the end: 2; 0 whole scans under way as it rose, when the store may have been seeded, not checked',
  );
});

test('a held process counted alive in the view the coordinator held when it heard it is a problem', () => {
  // The coordinator let it in at once: the first status that tells of it already names it.
  const pin = new PinnedReplica('r3', 100, true, 0, 0);
  assert.match(
    pin.observe(status(35, { primary: 'r2', backups: ['r1'], learners: ['r3'] }, 2, [row('r3', 1)]), 200) ??
      '',
    /r3, rolled back to format level 1, is learner of view 35 while the cluster logs format level 2/,
  );
});

test('a rollback cut short by the end of the run is said so', () => {
  assert.match(
    describeUpgrade({ ...noUpgradeCounts(), rollbacks: 4, rollbacksRefused: 3, rollbacksCutShort: 1 }),
    /rollbacks to level 1 refused: 3 of 4 \(1 cut short by the end of the run\);/,
  );
});

test('a scan under way as the level rose, when the store may have been seeded, is told apart', () => {
  const seconds = (value: number) => value * 1e9;
  const windows = new SeedingWindows();
  windows.observe(1, seconds(10));
  windows.observe(1, seconds(20));
  windows.observe(2, seconds(20.1));
  windows.observe(2, seconds(25));
  assert.equal(windows.overlap(seconds(5), seconds(19.9)), false, 'ended before the last status at level 1');
  assert.equal(windows.overlap(seconds(19), seconds(21)), true);
  assert.equal(
    windows.overlap(seconds(30), seconds(31)),
    true,
    'within the slack after the first at level 2',
  );
  assert.equal(windows.overlap(seconds(20.2 + SEEDING_SLACK_MS / 1000), seconds(40)), false);
  // A coordinator that lost its state says level 1 again, then raises it: another window.
  windows.observe(1, seconds(50));
  windows.observe(2, seconds(51));
  assert.equal(windows.overlap(seconds(52), seconds(53)), true);
});
