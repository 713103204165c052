// Regression tests for bugs the simulator found, each pinned at the level of the core where the
// rule lives, so they fail without the fix whatever the schedule. See docs/TESTING.md.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultProtocolConfig } from '../../src/protocol/config.js';
import { Coordinator } from '../../src/protocol/coordinator.js';
import { FORMAT_LEVEL } from '../../src/protocol/format-level.js';
import type { Heartbeat } from '../../src/protocol/messages.js';
import { Replica } from '../../src/protocol/replica.js';
import {
  clientId,
  type Entry,
  logIndex,
  positionZero,
  type ReplicaId,
  replicaId,
  type View,
  viewNumber,
} from '../../src/protocol/types.js';
import { KeyValueStore } from '../../src/state-machine/kv-store.js';

const config = defaultProtocolConfig;
const [r1, r2, r3] = [replicaId('r1'), replicaId('r2'), replicaId('r3')];

/** A clock the test moves by hand. */
function manualClock() {
  const clock = { now: 0, read: () => clock.now };
  return clock;
}

function heartbeat(id: ReplicaId, incarnation: number, view: View | null, sequence: number): Heartbeat {
  return {
    type: 'heartbeat',
    replicaId: id,
    incarnation,
    directory: `directory-${id}`,
    address: `sim:${id}`,
    sequence,
    view,
    durable: positionZero,
    received: positionZero,
    commitIndex: logIndex(0),
    appliedIndex: logIndex(0),
    leadReady: true,
    coordinatorSilentTicks: 0,
    storageStalledTicks: 0,
    syncedLearners: [],
    laggingBackups: [],
    transfer: null,
    asyncLost: 0,
    snapshotIndex: logIndex(0),
    sessions: 0,
    formatLevel: FORMAT_LEVEL,
    formatLevelHeld: 1,
    redisAddress: null,
  };
}

/**
 * A coordinator on `clock` that stored view 4, r1 (incarnation 100) leading and r2 (1) its backup, as
 * acknowledged by r1 or not yet.
 */
function coordinatorOfView4(
  clock: ReturnType<typeof manualClock>,
  acknowledged: boolean,
): { coordinator: Coordinator; view: View } {
  const view: View = { number: viewNumber(4), primary: r1, backups: [r2], learners: [] };
  const identities = {
    [r1]: { incarnation: 100, directory: 'directory-r1' },
    [r2]: { incarnation: 1, directory: 'directory-r2' },
  };
  const record = { view, identities };
  const coordinator = new Coordinator({
    config,
    clock: clock.read,
    stored: {
      current: record,
      acknowledged,
      lastAcknowledged: acknowledged ? record : null,
      formatLevel: FORMAT_LEVEL,
    },
  });
  return { coordinator, view };
}

function leaseIn(coordinator: Coordinator, to: ReplicaId): number {
  const replies = coordinator.takeEffects().messages.filter((message) => message.to === to);
  const reply = replies.at(-1)?.message;
  return reply?.type === 'heartbeat_reply' ? reply.leaseTicks : -1;
}

test('sim seed 981: a restarted primary gets no lease in the view it led, and a new view replaces it', () => {
  const clock = manualClock();
  const { coordinator, view } = coordinatorOfView4(clock, false);
  let sequence = 0;
  for (let tick = 0; tick <= config.failureTimeoutTicks; tick++) {
    clock.now += 1;
    coordinator.tick();
    sequence += 1;
    coordinator.receiveHeartbeat(heartbeat(r2, 1, view, sequence));
    coordinator.receiveHeartbeat(heartbeat(r1, 100, view, sequence));
  }
  assert.equal(
    leaseIn(coordinator, r1),
    config.leaseTicks,
    'the incarnation that acknowledged the view leads it',
  );
  // r1 crashes and comes back at once, with a new incarnation, before any failure timeout.
  coordinator.receiveHeartbeat(heartbeat(r1, 101, view, 1));
  assert.equal(leaseIn(coordinator, r1), 0, 'no lease for another incarnation in the same view');
  for (let tick = 0; tick < config.leaseTicks + config.leaseDriftMarginTicks + 2; tick++) {
    clock.now += 1;
    coordinator.tick();
    sequence += 1;
    coordinator.receiveHeartbeat(heartbeat(r2, 1, coordinator.currentView(), sequence));
    coordinator.receiveHeartbeat(heartbeat(r1, 101, coordinator.currentView(), sequence));
  }
  assert.ok((coordinator.currentView()?.number ?? 0) > 4, 'a new view was installed');
});

test("sim seed 801352: a dead process's heartbeat that arrives after its successor's does not hide the successor for good", () => {
  const clock = manualClock();
  const { coordinator } = coordinatorOfView4(clock, true);
  let sequence = 0;
  const members = () => {
    sequence += 1;
    coordinator.receiveHeartbeat(heartbeat(r1, 100, coordinator.currentView(), sequence));
    coordinator.receiveHeartbeat(heartbeat(r2, 1, coordinator.currentView(), sequence));
  };
  // r3's process 300 sends a heartbeat and dies; process 301 takes over, and its first heartbeat
  // arrives before 300's, which was delayed on the way: 300 looks like the newer process.
  coordinator.receiveHeartbeat(heartbeat(r3, 301, null, 1));
  coordinator.receiveHeartbeat(heartbeat(r3, 300, null, 1));
  coordinator.takeEffects();
  // From now on only 301 talks, and it must be heard: answered, and back in the view as a learner.
  let answered = false;
  for (let tick = 0; tick < 3 * config.failureTimeoutTicks; tick++) {
    clock.now += 1;
    coordinator.tick();
    members();
    coordinator.receiveHeartbeat(heartbeat(r3, 301, coordinator.currentView(), 2 + tick));
    answered ||= coordinator
      .takeEffects()
      .messages.some(
        ({ to, message }) => to === r3 && message.type === 'heartbeat_reply' && message.incarnation === 301,
      );
  }
  assert.ok(answered, 'the live process of r3 is answered');
  assert.deepEqual(coordinator.currentView()?.learners, [r3], 'r3 is a learner again');
});

test('sim seed 251: a restarted primary does not count a learner as synced before it holds the old log', () => {
  const recovered: Entry[] = Array.from({ length: 50 }, (_, position) => ({
    view: viewNumber(2),
    index: logIndex(position + 1),
    clientId: clientId('c'),
    requestNumber: position + 1,
    durability: 'sync' as const,
    refused: false,
    update: new Uint8Array(),
    result: new Uint8Array(),
  }));
  // A fresh process: it does not know which of these 50 entries had committed.
  const clock = manualClock();
  const primary = new Replica({
    id: r1,
    incarnation: 7,
    directory: 'directory-r1',
    clock: clock.read,
    address: 'sim:r1',
    config,
    createStateMachine: () => new KeyValueStore(),
    recovered: { snapshot: null, entries: recovered, unreportedLosses: [] },
    readSnapshot: () => null,
    msPerTick: 10,
  });
  const view: View = { number: viewNumber(5), primary: r1, backups: [], learners: [r2] };
  primary.receiveFromCoordinator({ type: 'view_change', view, primaryIncarnation: null, addresses: {} });
  primary.takeEffects();
  // The learner has synced its first few entries.
  primary.receiveFromPeer(r2, {
    type: 'prepare_ok',
    view: viewNumber(5),
    index: logIndex(3),
    received: logIndex(3),
    time: 0,
  });
  clock.now += config.heartbeatIntervalTicks;
  primary.tick();
  const reported = primary.takeEffects().heartbeats.flatMap((sent) => sent.syncedLearners);
  assert.deepEqual(reported, [], 'a learner with 3 of 50 entries is not synced');
  primary.receiveFromPeer(r2, {
    type: 'prepare_ok',
    view: viewNumber(5),
    index: logIndex(50),
    received: logIndex(50),
    time: 0,
  });
  clock.now += config.heartbeatIntervalTicks;
  primary.tick();
  // Reported at once (the acknowledgement) and again at the next heartbeat.
  const reportedNow = primary.takeEffects().heartbeats.flatMap((sent) => sent.syncedLearners);
  assert.deepEqual([...new Set(reportedNow)], [r2]);
});
