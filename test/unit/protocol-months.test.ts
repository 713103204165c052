// Issue 7 in the pure core: snapshots and compaction, state transfer, rollback to a snapshot,
// bounded sessions, request status, reads at backups and the async loss record. Each test drives real
// Replica cores by hand; a small in-memory "disk" answers their storage operations as a shell does.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { AsyncLossRecord, lostEntriesKeptMax } from '../../src/protocol/async-loss.js';
import { defaultProtocolConfig, type ProtocolConfig } from '../../src/protocol/config.js';
import type { StorageOperation } from '../../src/protocol/effects.js';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import type { ClientReply, ClientRequest, LostEntry, PeerMessage } from '../../src/protocol/messages.js';
import {
  keptSnapshotsMax,
  keptSnapshotsPastReceivedMax,
  type StoredSnapshot,
} from '../../src/protocol/replica.js';
import { SessionTable } from '../../src/protocol/sessions.js';
import { encodeSnapshotPayload } from '../../src/protocol/snapshot-payload.js';
import { finishSnapshot } from '../../src/protocol/state-machine.js';
import { decodeSystemOperation, isSystemEntry } from '../../src/protocol/system-entries.js';
import {
  clientId,
  connectionId,
  type Entry,
  logIndex,
  type ReplicaId,
  sameSnapshot,
  type View,
  viewNumber,
} from '../../src/protocol/types.js';
import {
  decodeResult,
  encodeOperation,
  KeyValueStore,
  keyValueStoreOfSnapshot,
  kvOperation,
  textValueOf,
} from '../../src/state-machine/index.js';
import { ReplicaHarness, r1, r2, r3, text, view } from './core-fixtures.js';

const months: ProtocolConfig = {
  ...defaultProtocolConfig,
  snapshotLogBytes: 1,
  sessionsMax: 1000,
  sessionIdleTicks: 100_000,
};

/** The wall clock the nodes' key/value stores read (Unix milliseconds), moved by the tests. */
const wall = { nowMs: 1_000_000 };

/** A replica and what its disk keeps: the shell's part, done in memory. */
class Node {
  readonly harness: ReplicaHarness;
  readonly kept: StoredSnapshot[] = [];
  /** Every storage operation settled, in order. */
  readonly stored: StorageOperation[] = [];
  private written: StoredSnapshot | null = null;
  /** Snapshot writes fail, as on a full disk: the shell reports each with snapshotFailed. */
  failSnapshotWrites = false;

  constructor(
    readonly id: ReplicaId,
    options: {
      config?: ProtocolConfig;
      entries?: Entry[];
      snapshot?: StoredSnapshot | null;
      unreportedLosses?: readonly LostEntry[];
      formatLevel?: number;
    } = {},
  ) {
    this.harness = new ReplicaHarness(id, options.entries ?? [], 1, {
      ...(options.formatLevel === undefined ? {} : { formatLevel: options.formatLevel }),
      config: options.config ?? months,
      snapshot: options.snapshot ?? null,
      readSnapshot: () => this.kept.at(-1) ?? null,
      unreportedLosses: options.unreportedLosses ?? [],
      createStateMachine: () => new KeyValueStore(undefined, () => wall.nowMs),
    });
    if (options.snapshot) this.kept.push(options.snapshot);
  }

  get replica() {
    return this.harness.replica;
  }

  /** Runs the storage operations the core asked for, reporting fsyncs and snapshots back. */
  settle(): void {
    for (let round = 0; round < 10; round++) {
      this.harness.drain();
      const operations = this.harness.storage.splice(0);
      if (operations.length === 0) break;
      this.stored.push(...operations);
      for (const operation of operations) {
        if (operation.kind === 'snapshot' && this.failSnapshotWrites) {
          this.replica.snapshotFailed(operation.position);
        } else if (operation.kind === 'snapshot') {
          const { position } = operation;
          const payload = finishSnapshot(operation.payload);
          const info = { position, sizeBytes: payload.length, checksum: crc32(payload) };
          this.written = { info, payload };
          this.replica.snapshotWritten(info);
        } else if (operation.kind === 'keep-snapshot' && this.written !== null) {
          this.kept.push(this.written);
          this.replica.snapshotKept(operation.position);
        }
      }
      this.harness.syncAll();
    }
  }

  tick(ticks = 1): void {
    for (let tick = 0; tick < ticks; tick++) {
      this.harness.clock.now += 1;
      this.replica.tick();
      this.settle();
    }
  }

  get(key: string): string | null {
    const state = this.replica.currentStateMachine();
    const value = decodeResult('get', state.query(encodeOperation(kvOperation.get(text(key))))).value;
    return value === null ? null : new TextDecoder().decode(value);
  }
}

/** Delivers peer messages between nodes until none is left; returns what was delivered. */
function pump(nodes: readonly Node[], drop: (message: PeerMessage) => boolean = () => false): PeerMessage[] {
  const delivered: PeerMessage[] = [];
  for (let round = 0; round < 50; round++) {
    let moved = false;
    for (const node of nodes) {
      node.settle();
      for (const { to, message } of node.harness.sent.splice(0)) {
        const target = nodes.find((candidate) => candidate.id === to);
        if (target === undefined || drop(message)) continue;
        target.replica.receiveFromPeer(node.id, message);
        delivered.push(message);
        moved = true;
      }
    }
    if (!moved) break;
  }
  for (const node of nodes) node.settle();
  return delivered;
}

let requestIds = 10_000;

function send(node: Node, request: Omit<ClientRequest, 'type' | 'id'>): number {
  const id = ++requestIds;
  node.replica.receiveRequest(connectionId(1), { type: 'request', id, ...request });
  node.settle();
  return id;
}

function write(node: Node, client: string, requestNumber: number, key: string, value: string): number {
  return send(node, {
    kind: 'write',
    clientId: clientId(client),
    requestNumber,
    durability: 'sync',
    operation: encodeOperation(kvOperation.put(text(key), text(value))),
    staleness: null,
  });
}

function open(node: Node, client: string): number {
  return send(node, {
    kind: 'open-session',
    clientId: clientId(client),
    requestNumber: 0,
    durability: 'sync',
    operation: new Uint8Array(0),
    staleness: null,
  });
}

function status(node: Node, client: string, requestNumber: number): number {
  return send(node, {
    kind: 'request-status',
    clientId: clientId(client),
    requestNumber,
    durability: 'sync',
    operation: new Uint8Array(0),
    staleness: null,
  });
}

function boundedRead(node: Node, key: string, maxStalenessMs: number, minIndex = 0): number {
  return send(node, {
    kind: 'read',
    clientId: clientId('reader'),
    requestNumber: 0,
    durability: 'sync',
    operation: encodeOperation(kvOperation.get(text(key))),
    staleness: { maxStalenessMs, minIndex: logIndex(minIndex) },
  });
}

function reply(node: Node, id: number): ClientReply | undefined {
  return node.harness.replyTo(id);
}

function code(node: Node, id: number): string {
  const answer = reply(node, id);
  return answer === undefined ? 'no reply' : answer.ok ? 'OK' : answer.code;
}

/** A primary r1 and a backup r2 in view 2, the primary leased, one committed put of k. */
function pair(config: ProtocolConfig = months): { primary: Node; backup: Node; current: View } {
  const primary = new Node(r1, { config });
  const backup = new Node(r2, { config });
  const current = view(2, r1, [r2]);
  backup.harness.adopt(current);
  primary.harness.lead(current);
  pump([primary, backup]);
  open(primary, 'writer');
  write(primary, 'writer', 1, 'k', 'v1');
  pump([primary, backup]);
  return { primary, backup, current };
}

// ---- snapshots and compaction ----------------------------------------------------------------

test('a primary keeps a snapshot only once everything in it committed, then trims its log', () => {
  const primary = new Node(r1);
  primary.harness.lead(view(2, r1, [r2]));
  open(primary, 'writer');
  write(primary, 'writer', 1, 'k', 'v1');
  primary.tick();
  assert.equal(primary.kept.length, 0, 'written aside but not kept: r2 has not acknowledged');
  assert.equal(primary.replica.status().logBaseIndex, 0);
  primary.harness.ack(r2, primary.harness.lastIndex());
  primary.settle();
  assert.equal(primary.kept.length, 1, 'kept once committed');
  primary.tick();
  assert.equal(primary.replica.status().logBaseIndex, primary.kept[0]?.info.position.index);
  assert.deepEqual(primary.replica.entries(), [], 'the log before the snapshot is gone from memory');
  assert.ok(
    primary.harness.storage.length === 0 &&
      primary.replica.status().snapshot?.position.index === primary.harness.lastIndex(),
  );
});

test('a snapshot that cannot be written is tried again after snapshotRetryTicks, twice that after two failures (a save waits too), and the log is kept meanwhile', () => {
  const primary = new Node(r1);
  const current = view(2, r1, [r2]);
  primary.harness.lead(current);
  primary.failSnapshotWrites = true;
  open(primary, 'writer');
  write(primary, 'writer', 1, 'k', 'v1');
  primary.harness.ack(r2, primary.harness.lastIndex());
  primary.tick();
  const attempts = () => primary.stored.filter((operation) => operation.kind === 'snapshot').length;
  assert.equal(attempts(), 1);
  assert.equal(primary.replica.snapshotWriteFailures, 1);
  primary.tick(months.snapshotRetryTicks - 2);
  assert.equal(attempts(), 1, 'no second try before the retry wait');
  assert.equal(primary.replica.status().logBaseIndex, 0, 'the log keeps every entry');
  primary.tick(2);
  assert.equal(attempts(), 2, 'tried again once the wait is over, with no write since');
  // A second failure in a row doubles the wait.
  primary.harness.grantLease(current);
  const save = primary.replica.requestSave();
  assert.ok(save.ok);
  primary.tick(2 * months.snapshotRetryTicks - 1);
  assert.equal(attempts(), 2, 'a save does not try before the retry wait is over');
  primary.failSnapshotWrites = false;
  primary.tick();
  assert.equal(attempts(), 3);
  assert.equal(primary.replica.snapshotWriteFailures, 2);
  assert.equal(primary.kept.length, 1, 'kept once it could be written');
  primary.tick();
  assert.equal(primary.replica.status().logBaseIndex, primary.harness.lastIndex(), 'and the log trimmed');
  assert.equal(primary.get('k'), 'v1');
});

test('replica processes take their snapshots at their own two thirds to all of the threshold, never above it', () => {
  // The core counts update + result + 64 bytes an entry; these puts are 20–30 bytes of each.
  const threshold = 4000;
  const entriesBeforeFirstSnapshot = (incarnation: number): { entries: number; logBytes: number } => {
    const harness = new ReplicaHarness(r1, [], incarnation, {
      config: { ...months, snapshotLogBytes: threshold },
    });
    harness.lead(view(1, r1, []));
    for (let number = 1; number <= 200; number++) {
      harness.request(kvOperation.put(text(`key-${number}`), text(`value-${number}`)), { client: 'writer' });
      harness.syncAll();
      harness.replica.tick();
      harness.drain();
      if (harness.storage.some((operation) => operation.kind === 'snapshot')) {
        // Every entry so far (the session's opening too), as the core counts them.
        const entries = harness.replica.entries();
        const logBytes = entries.reduce(
          (sum, entry) => sum + entry.update.length + entry.result.length + 64,
          0,
        );
        return { entries: entries.length, logBytes };
      }
    }
    throw new Error(`incarnation ${incarnation} took no snapshot in 200 writes`);
  };
  // 1024 % 1024 = 0: the whole threshold; 1023: two thirds of it; the same log for both.
  const whole = entriesBeforeFirstSnapshot(1024);
  const twoThirds = entriesBeforeFirstSnapshot(1023);
  assert.ok(whole.logBytes >= threshold && whole.logBytes < threshold + 200, JSON.stringify(whole));
  assert.ok(
    twoThirds.logBytes >= (threshold * 2) / 3 && twoThirds.logBytes < (threshold * 2) / 3 + 200,
    JSON.stringify(twoThirds),
  );
  assert.ok(twoThirds.entries < whole.entries, 'the two processes snapshot at different log positions');
});

test('a follower that needs trimmed entries is offered the snapshot, installs it and catches up from the log', () => {
  const { primary, backup } = pair();
  primary.tick(2);
  pump([primary, backup]);
  const base = primary.replica.status().logBaseIndex;
  assert.ok(base > 0, 'the primary trimmed its log');
  // r3 joins with an empty directory.
  const learner = new Node(r3);
  const joined = view(3, r1, [r2], [r3]);
  learner.harness.adopt(joined);
  backup.harness.adopt(joined);
  primary.harness.lead(joined);
  pump([primary, backup, learner]);
  const offer = learner.harness.transfers.at(-1);
  assert.ok(offer !== undefined, 'the learner was offered a snapshot');
  assert.equal(offer.from, r1);
  const snapshot = primary.kept.find((kept) => kept.info.checksum === offer.snapshot.checksum);
  assert.ok(snapshot !== undefined);
  // The shell fetched it and kept it on disk; the core installs it.
  learner.kept.push(snapshot);
  learner.replica.installSnapshot(snapshot);
  pump([primary, backup, learner]);
  write(primary, 'writer', 2, 'k', 'v2');
  pump([primary, backup, learner]);
  // A heartbeat later, the primary reports the learners that hold everything.
  primary.tick(months.heartbeatIntervalTicks + 1);
  pump([primary, backup, learner]);
  assert.equal(learner.get('k'), 'v2', 'the learner holds the snapshot and the log after it');
  const reported = primary.harness.heartbeats.at(-1)?.syncedLearners ?? [];
  assert.deepEqual(reported, [r3], 'and counts as holding everything');
});

test('sim seed 1269394: a learner that reads a lower format level is sent no snapshot and no entries, until it reads more', () => {
  // Sim seed 1269394: a replica restarted on an older build (format level 1), still listed in the
  // view, asked to sync before the coordinator had heard what it reads; the primary offered it a
  // snapshot of format 5 (level 2), and it stopped at it. A build before format levels says no level
  // in its sync and is taken to read level 1, so the rule holds for every build rolled back to.
  const serve = (config: ProtocolConfig) => {
    const { primary, backup } = pair(config);
    primary.tick(months.heartbeatIntervalTicks + 1);
    pump([primary, backup]);
    assert.equal(primary.harness.heartbeats.at(-1)?.formatLevelHeld, 2, 'the primary holds a scan seed');
    const joined = view(3, r1, [r2], [r3]);
    backup.harness.adopt(joined);
    primary.harness.lead(joined);
    const older = new Node(r3, { config, formatLevel: 1 });
    older.harness.adopt(joined);
    const delivered = pump([primary, backup, older]);
    primary.tick(months.heartbeatIntervalTicks + 1);
    delivered.push(...pump([primary, backup, older]));
    const offered = older.harness.transfers.length;
    const entries = older.replica.entries().length;
    const sentEntries = delivered.some((message) => message.type === 'prepare' && message.entries.length > 0);
    // The same replica, restarted on this build: it syncs again, saying what it reads now. Its first
    // sync is lost; the primary's probes make it ask again.
    const newer = new Node(r3, { config });
    newer.harness.adopt(joined);
    const lost = newer.harness.sent.splice(0).filter(({ message }) => message.type !== 'sync');
    newer.harness.sent.push(...lost);
    for (let tick = 0; tick < 3 * config.syncRetryTicks; tick++) {
      primary.tick();
      newer.tick();
      pump([primary, backup, newer]);
    }
    const served = newer.harness.transfers.length + newer.replica.entries().length;
    return { trimmed: primary.replica.status().logBaseIndex > 0, offered, entries, sentEntries, served };
  };

  const fromSnapshot = serve(months);
  assert.ok(fromSnapshot.trimmed, 'the primary trimmed its log: a learner needs its snapshot');
  assert.equal(fromSnapshot.offered, 0, 'no snapshot offered to a learner that reads level 1');
  assert.equal(fromSnapshot.entries, 0);
  assert.ok(fromSnapshot.served > 0, 'the learner on this build is offered one');

  const fromLog = serve({ ...months, snapshotLogBytes: 1 << 30 });
  assert.ok(!fromLog.trimmed, 'the primary kept its whole log: a learner could be sent entries from 1');
  assert.equal(fromLog.sentEntries, false, 'no entries sent to a learner that reads level 1');
  assert.equal(fromLog.entries, 0);
  assert.ok(fromLog.served > 0, 'the learner on this build is sent the log');
});

test('a primary tells the coordinator at once that a learner caught up, not a heartbeat later', () => {
  const config = { ...months, snapshotLogBytes: 1 << 30 };
  const { primary, backup } = pair(config);
  const learner = new Node(r3, { config });
  const joined = view(3, r1, [r2], [r3]);
  learner.harness.adopt(joined);
  backup.harness.adopt(joined);
  primary.harness.lead(joined);
  const heartbeatsBefore = primary.harness.heartbeats.length;
  pump([primary, backup, learner]); // no tick: the clock stands still
  assert.equal(learner.get('k'), 'v1', 'the learner caught up from the log');
  const reports = primary.harness.heartbeats.slice(heartbeatsBefore);
  assert.ok(
    reports.some((heartbeat) => heartbeat.syncedLearners.includes(r3)),
    `no heartbeat since the learner caught up names it: ${JSON.stringify(reports.map((h) => h.syncedLearners))}`,
  );
});

test('a replica restarts from its newest snapshot and the log after it', () => {
  const { primary, backup } = pair();
  primary.tick(2);
  pump([primary, backup]);
  const snapshot = primary.kept.at(-1);
  assert.ok(snapshot !== undefined);
  write(primary, 'writer', 2, 'k', 'after the snapshot');
  pump([primary, backup]);
  const restarted = new Node(r1, { snapshot, entries: primary.replica.entries() });
  assert.equal(restarted.replica.status().appliedIndex, snapshot.info.position.index);
  restarted.harness.lead(view(4, r1, []));
  assert.equal(restarted.get('k'), 'after the snapshot');
  const retry = write(restarted, 'writer', 2, 'k', 'after the snapshot');
  assert.equal(
    code(restarted, retry),
    'OK',
    'the session table came back from the snapshot: a retry is answered',
  );
  assert.equal(
    restarted.harness.lastIndex(),
    primary.harness.lastIndex() + 1,
    'and not run again: the one entry it added is its view-start',
  );
});

/**
 * r2, leading view 3, sends `node` (r1, which led view 2) an entry of its own right after `committed`,
 * committed: whatever `node` holds past `committed` diverged and goes.
 */
function receiveDivergingEntry(node: Node, committed: number): void {
  node.harness.adopt(view(3, r2, [r1]));
  node.replica.receiveFromPeer(r2, {
    type: 'prepare',
    view: viewNumber(3),
    previous: { view: viewNumber(2), index: logIndex(committed) },
    entries: [
      {
        view: viewNumber(3),
        index: logIndex(committed + 1),
        clientId: clientId('other'),
        requestNumber: 0,
        durability: 'sync',
        refused: false,
        update: new Uint8Array(0),
        result: new Uint8Array(0),
      },
    ],
    commitIndex: logIndex(committed + 1),
    echo: -1,
  });
}

test('a deposed primary rolls back to its kept snapshot to drop what it applied but never committed', () => {
  const { primary, backup } = pair();
  primary.tick(2);
  pump([primary, backup]);
  const committed = primary.harness.lastIndex();
  // Cut off from r2, the primary runs a write that never commits.
  write(primary, 'writer', 2, 'k', 'never committed');
  primary.harness.sent.length = 0;
  assert.equal(primary.get('k'), 'never committed');
  // r2 leads view 3 and appends its own entry at that index.
  receiveDivergingEntry(primary, committed);
  primary.settle();
  assert.equal(primary.get('k'), 'v1', 'the uncommitted write is gone from the state');
});

test('a snapshot a rollback dropped is taken again at once, not after another threshold of log', () => {
  // Snapshots by the log's size only: a large write crosses the threshold, a small entry does not.
  const { primary, backup } = pair({ ...months, snapshotLogBytes: 1500 });
  const snapshotsTaken = () => primary.stored.filter((operation) => operation.kind === 'snapshot');
  assert.deepEqual(snapshotsTaken(), [], 'none yet');
  pump([primary, backup]);
  const committed = primary.harness.lastIndex();
  // Cut off from r2, the primary runs a large write that never commits: its snapshot is written
  // aside, never kept.
  write(primary, 'writer', 2, 'k', 'x'.repeat(2000));
  primary.harness.sent.length = 0;
  primary.tick();
  assert.equal(snapshotsTaken().length, 1);
  assert.equal(primary.kept.length, 0, 'not kept: it holds an uncommitted entry');
  // r2 leads view 3 and its entry at that index replaces ours: the snapshot in progress is dropped.
  receiveDivergingEntry(primary, committed);
  primary.settle();
  primary.tick();
  assert.equal(snapshotsTaken().length, 2, 'taken again at once, though one small entry came since');
  assert.equal(primary.kept.at(-1)?.info.position.index, committed + 1, 'and kept');
});

// ---- sessions ----------------------------------------------------------------------------------

test('a write without a session is refused with SESSION_EXPIRED and never runs', () => {
  const { primary, backup } = pair();
  const before = primary.harness.lastIndex();
  const ghost = write(primary, 'never-opened', 3, 'k', 'ghost');
  pump([primary, backup]);
  primary.tick(6);
  pump([primary, backup]);
  assert.equal(code(primary, ghost), ErrorCode.sessionExpired);
  assert.equal(primary.get('k'), 'v1');
  assert.equal(primary.harness.lastIndex(), before, 'nothing was logged');
});

test('beyond the session limit the least recently active sessions expire, and their retries are refused', () => {
  const { primary, backup } = pair({ ...months, sessionsMax: 2, snapshotLogBytes: 1 << 30 });
  for (const client of ['a', 'b', 'c']) {
    open(primary, client);
    write(primary, client, 1, client, 'x');
    pump([primary, backup]);
  }
  for (let step = 0; step < 15; step++) {
    primary.tick(10);
    primary.harness.grantLease(view(2, r1, [r2]));
    pump([primary, backup]);
  }
  assert.equal(primary.replica.status().sessions, 2);
  assert.equal(backup.replica.status().sessions, 2, 'the backup expired the same sessions');
  const retry = write(primary, 'writer', 1, 'k', 'v1');
  pump([primary, backup]);
  primary.tick(6);
  pump([primary, backup]);
  assert.equal(code(primary, retry), ErrorCode.sessionExpired, 'the oldest session (writer) expired');
  const fresh = write(primary, 'c', 1, 'c', 'x');
  pump([primary, backup]);
  assert.equal(code(primary, fresh), 'OK', 'the newest session lives');
});

test('an idle session expires after the idle limit', () => {
  const { primary, backup } = pair({ ...months, sessionIdleTicks: 300, snapshotLogBytes: 1 << 30 });
  assert.equal(primary.replica.status().sessions, 1);
  for (let step = 0; step < 40; step++) {
    primary.tick(10);
    primary.harness.grantLease(view(2, r1, [r2]));
    pump([primary, backup]);
  }
  assert.equal(primary.replica.status().sessions, 0);
  assert.equal(backup.replica.status().sessions, 0);
});

// ---- request status ----------------------------------------------------------------------------

test('request status: an executed request answers its result, a request that never ran is cancelled for good', () => {
  const { primary, backup } = pair();
  const asked = status(primary, 'writer', 1);
  pump([primary, backup]);
  const executed = reply(primary, asked);
  assert.ok(executed?.ok === true, 'request 1 ran');
  assert.equal(decodeResult('put', executed.result).existed, false);
  const cancel = status(primary, 'writer', 2);
  pump([primary, backup]);
  assert.equal(code(primary, cancel), ErrorCode.requestCancelled);
  // The request itself arrives late: it must not run.
  const late = write(primary, 'writer', 2, 'k', 'late');
  pump([primary, backup]);
  assert.equal(code(primary, late), ErrorCode.requestCancelled);
  assert.equal(primary.get('k'), 'v1');
  const old = status(primary, 'writer', 1);
  pump([primary, backup]);
  assert.equal(code(primary, old), ErrorCode.resultForgotten, 'the session moved on');
  const unknown = status(primary, 'nobody', 1);
  pump([primary, backup]);
  assert.equal(code(primary, unknown), ErrorCode.sessionExpired);
});

// ---- reads at backups --------------------------------------------------------------------------

test('a backup answers a bounded read only while the primary recently vouched for what it applied', () => {
  const primary = new Node(r1);
  const backup = new Node(r2);
  const current = view(2, r1, [r2]);
  backup.harness.adopt(current);
  const early = boundedRead(backup, 'k', 1000);
  assert.equal(code(backup, early), ErrorCode.stale, 'nothing vouched yet');
  primary.harness.lead(current);
  open(primary, 'writer');
  const put = write(primary, 'writer', 1, 'k', 'v1');
  pump([primary, backup]);
  assert.equal(code(primary, put), 'OK');
  // The next round carries the commit index and the echo of the backup's clock.
  primary.tick(config().followerHeartbeatTicks);
  pump([primary, backup]);
  const fresh = boundedRead(backup, 'k', 1000);
  const answer = reply(backup, fresh);
  assert.ok(answer?.ok === true, `served: ${code(backup, fresh)}`);
  assert.equal(new TextDecoder().decode(decodeResult('get', answer.result).value ?? new Uint8Array()), 'v1');
  assert.equal(
    code(backup, boundedRead(backup, 'k', 1000, primary.harness.lastIndex() + 5)),
    ErrorCode.stale,
  );
  // The primary goes silent; 2 s pass on the backup's clock.
  backup.harness.clock.now += 200;
  backup.replica.tick();
  assert.equal(code(backup, boundedRead(backup, 'k', 1000)), ErrorCode.stale, 'older than the bound');
  assert.equal(code(backup, boundedRead(backup, 'k', 5000)), 'OK', 'within a looser bound');
});

test('a primary without a lease vouches for nothing', () => {
  const { primary, backup } = pair();
  primary.harness.clock.now += config().leaseTicks + 1;
  const messages = pump([primary, backup]);
  primary.tick(config().followerHeartbeatTicks);
  const later = pump([primary, backup]);
  const echoes = [...messages, ...later].filter((message) => message.type === 'prepare' && message.echo >= 0);
  assert.deepEqual(echoes, []);
});

// ---- saving a snapshot (`understudy snapshot save`) ------------------------------------------

/** The key/value store a kept snapshot holds: `key`'s value in it, or null. */
function keptValue(snapshot: StoredSnapshot | undefined, key: string): string | null {
  assert.ok(snapshot !== undefined, 'a snapshot is kept');
  return textValueOf(keyValueStoreOfSnapshot(snapshot.payload), key);
}

test('a save at the primary gets a kept snapshot at its log end, whatever the log size, kept only once committed', () => {
  // A threshold no test reaches: only the save makes a snapshot.
  const { primary, backup } = pair({ ...months, snapshotLogBytes: 2 ** 30 });
  assert.equal(primary.kept.length, 0);
  // An uncommitted write: its Prepare waits in the primary's outbox until pump() delivers it.
  write(primary, 'writer', 2, 'k', 'v2');
  const answer = primary.replica.requestSave();
  assert.ok(answer.ok, 'the primary under its lease takes a save');
  assert.equal(answer.index, primary.harness.lastIndex(), 'up to its log end: the uncommitted write too');
  primary.tick();
  assert.ok(
    primary.stored.some((operation) => operation.kind === 'snapshot'),
    'the snapshot is taken at once, far below the threshold',
  );
  assert.equal(primary.kept.length, 0, 'written aside, not kept: its last entry has not committed');
  pump([primary, backup]);
  primary.tick();
  const kept = primary.kept.at(-1);
  assert.ok(kept !== undefined && kept.info.position.index >= answer.index, 'kept once committed');
  assert.equal(keptValue(kept, 'k'), 'v2');
  // Asked again with nothing new, the kept one answers: no snapshot is taken for it.
  const snapshotsTaken = primary.stored.filter((operation) => operation.kind === 'snapshot').length;
  const again = primary.replica.requestSave();
  assert.ok(again.ok && again.index <= (primary.kept.at(-1)?.info.position.index ?? -1));
  primary.tick(3);
  assert.equal(primary.stored.filter((operation) => operation.kind === 'snapshot').length, snapshotsTaken);
});

test('a save is refused by a backup (naming the primary), by a primary without a lease, and on an empty log', () => {
  const { primary, backup } = pair();
  const atBackup = backup.replica.requestSave();
  assert.deepEqual(atBackup.ok ? null : [atBackup.code, atBackup.primary], [ErrorCode.notPrimary, r1]);
  primary.harness.clock.now += config().leaseTicks + 1;
  const unleased = primary.replica.requestSave();
  assert.deepEqual(unleased.ok ? null : [unleased.code, unleased.message], [
    ErrorCode.notPrimary,
    'replica r1 holds no lease',
  ]);
  const empty = new Node(r3);
  empty.harness.lead(view(2, r3, []));
  const nothing = empty.replica.requestSave();
  assert.deepEqual(nothing.ok ? null : nothing.code, ErrorCode.badRequest);
});

// ---- async loss --------------------------------------------------------------------------------

/** An async write of client `fast` at `index`, made in `entryView`; its request number is the index unless given. */
function asyncEntry(index: number, entryView = 2, requestNumber = index): Entry {
  return {
    view: viewNumber(entryView),
    index: logIndex(index),
    clientId: clientId('fast'),
    requestNumber,
    durability: 'async',
    refused: false,
    update: new Uint8Array(0),
    result: new Uint8Array(0),
  };
}

/**
 * r2, a backup of r3 in view 3, holding entry 1 (sync) and async writes 2 and 3 of view 2; r3's first
 * Prepare replaces entry 2 with a sync entry of view 3, so r2 discards the two async writes. Nothing
 * is drained or settled yet: the caller looks at what the core asked for.
 */
function backupThatDiscardsTwoAsyncWrites(): { node: Node; kept: Entry; replacement: Entry } {
  const kept: Entry = { ...asyncEntry(1), durability: 'sync' };
  const node = new Node(r2, { entries: [kept, asyncEntry(2), asyncEntry(3)] });
  node.harness.adopt(view(3, r3, [r2]));
  const replacement: Entry = {
    ...asyncEntry(2, 2, 9),
    view: viewNumber(3),
    durability: 'sync',
    clientId: clientId('new'),
  };
  node.replica.receiveFromPeer(r3, {
    type: 'prepare',
    view: viewNumber(3),
    previous: { view: viewNumber(2), index: logIndex(1) },
    entries: [replacement],
    commitIndex: logIndex(1),
    echo: -1,
  });
  return { node, kept, replacement };
}

test('the loss record counts every loss and names the newest lostEntriesKeptMax: it stays bounded over months', () => {
  const record = new AsyncLossRecord();
  const lost = (index: number): LostEntry => ({
    view: viewNumber(2),
    index: logIndex(index),
    clientId: clientId(`client-${index}`),
    requestNumber: 1,
  });
  for (let batch = 0; batch < 3; batch++) {
    record.record(Array.from({ length: 600 }, (_, position) => lost(batch * 600 + position + 1)));
  }
  assert.equal(record.count, 1800);
  assert.equal(record.recent.length, lostEntriesKeptMax);
  assert.equal(record.recent[0]?.index, 1800 - lostEntriesKeptMax + 1, 'the oldest named went first');
  assert.equal(record.recent.at(-1)?.index, 1800);
  assert.ok(!record.has(lost(1)) && record.has(lost(1800)));
});

test('async writes a backup discards after a failover are reported and recorded once', () => {
  // The new primary r3 holds only entry 1: entries 2 and 3 fall beyond its log.
  const { node: follower } = backupThatDiscardsTwoAsyncWrites();
  follower.tick(config().syncRetryTicks + 1);
  const report = follower.harness.sent.find((sent) => sent.message.type === 'lost_report');
  assert.ok(report?.message.type === 'lost_report');
  const lost: LostEntry[] = [...report.message.entries];
  assert.deepEqual(
    lost.map((entry) => entry.requestNumber),
    [2, 3],
  );
  const primary = new Node(r3);
  const current = view(3, r3, [r2]);
  primary.harness.lead(current);
  primary.replica.receiveFromPeer(r2, report.message);
  primary.replica.receiveFromPeer(r2, report.message); // a repeat changes nothing
  primary.settle();
  assert.equal(primary.replica.status().asyncLost, 2);
  assert.deepEqual(
    primary.replica.status().lostRecent.map((entry) => entry.index),
    [2, 3],
  );
});

test('discarded async writes are noted on disk before the truncation, so a crash before the record does not drop them', () => {
  const { node: follower, kept, replacement } = backupThatDiscardsTwoAsyncWrites();
  follower.harness.drain();
  const operations = follower.harness.storage.map((operation) => operation.kind);
  const noted = follower.harness.storage.find((operation) => operation.kind === 'unreported-losses');
  assert.ok(noted?.kind === 'unreported-losses', `storage operations: ${operations.join(', ')}`);
  assert.deepEqual(
    noted.entries.map((entry) => entry.requestNumber),
    [2, 3],
  );
  assert.ok(
    operations.indexOf('unreported-losses') < operations.indexOf('truncate'),
    `the note must come before the truncation: ${operations.join(', ')}`,
  );

  // The process dies before reporting: its disk holds the new log and the note.
  const restarted = new Node(r2, { entries: [kept, replacement], unreportedLosses: noted.entries });
  restarted.harness.adopt(view(3, r3, [r2]));
  restarted.tick(config().syncRetryTicks + 1);
  const report = restarted.harness.sent.find((sent) => sent.message.type === 'lost_report');
  assert.ok(report?.message.type === 'lost_report', 'the restarted replica reports the noted losses');
  assert.deepEqual(
    report.message.entries.map((entry) => entry.requestNumber),
    [2, 3],
  );

  // Once the record is applied, the note is replaced by an empty one.
  const primary = new Node(r3, { entries: [kept, replacement] });
  primary.harness.lead(view(3, r3, [r2]));
  primary.replica.receiveFromPeer(r2, report.message);
  primary.settle();
  assert.equal(primary.replica.status().asyncLost, 2);
  restarted.settle();
  restarted.stored.length = 0;
  pump([primary, restarted]);
  // The next round carries the commit index: the backup applies the record.
  primary.tick(config().followerHeartbeatTicks);
  pump([primary, restarted]);
  assert.equal(restarted.replica.status().lostUnreported, 0);
  const cleared = restarted.stored.filter((operation) => operation.kind === 'unreported-losses');
  assert.deepEqual(
    cleared.map((operation) => operation.kind === 'unreported-losses' && operation.entries.length),
    [0],
  );
});

test('a restarted replica drops noted losses its log holds again or the record already has', () => {
  const lost = (index: number, entryView: number): LostEntry => ({
    view: viewNumber(entryView),
    index: logIndex(index),
    clientId: clientId('fast'),
    requestNumber: index,
  });
  // Entry 2 of view 2 is back in its log (a crash between the note and the truncation); entry 3 of
  // view 2 is gone, replaced by view 3's.
  const node = new Node(r2, {
    entries: [asyncEntry(1, 2), asyncEntry(2, 2), asyncEntry(3, 3)],
    unreportedLosses: [lost(2, 2), lost(3, 2)],
  });
  assert.equal(node.replica.status().lostUnreported, 1);
  node.harness.drain();
  const noted = node.harness.storage.filter((operation) => operation.kind === 'unreported-losses');
  assert.deepEqual(
    noted.map((operation) => operation.kind === 'unreported-losses' && operation.entries.map((e) => e.index)),
    [[3]],
  );
});

test('a replica that was far behind and installs a snapshot reports lost only the async writes the snapshot does not hold', () => {
  // It holds 1-4 but never learned that any committed. The history the snapshot covers (through 6)
  // made 1-2 in view 2 and 3-6 in view 3: its entry 3 (view 2) diverged, its entries 1, 2 and 4 are in.
  const follower = new Node(r2, {
    entries: [
      asyncEntry(1, 2),
      asyncEntry(2, 2),
      asyncEntry(3, 2),
      { ...asyncEntry(4, 3), requestNumber: 4 },
    ],
  });
  follower.harness.adopt(view(4, r3, [r2]));
  const payload = encodeSnapshotPayload({
    state: new KeyValueStore().snapshot(),
    sessions: new SessionTable(),
    loss: new AsyncLossRecord(),
    epochs: [
      { view: viewNumber(2), startIndex: logIndex(1) },
      { view: viewNumber(3), startIndex: logIndex(3) },
    ],
  });
  const position = { view: viewNumber(3), index: logIndex(6) };
  follower.replica.installSnapshot({
    info: { position, sizeBytes: payload.length, checksum: crc32(payload) },
    payload,
  });
  follower.settle();
  follower.tick(config().syncRetryTicks + 1);
  const report = follower.harness.sent.find((sent) => sent.message.type === 'lost_report');
  assert.ok(report?.message.type === 'lost_report');
  assert.deepEqual(
    report.message.entries.map((entry) => entry.index),
    [3],
  );
  // The primary records a reported entry only if its own log does not hold it.
  const primary = new Node(r3, { entries: [asyncEntry(1, 2), asyncEntry(2, 2), { ...asyncEntry(3, 3) }] });
  primary.harness.lead(view(4, r3, [r2]));
  primary.replica.receiveFromPeer(r2, {
    type: 'lost_report',
    view: viewNumber(4),
    entries: [
      { view: viewNumber(2), index: logIndex(2), clientId: clientId('fast'), requestNumber: 2 },
      { view: viewNumber(2), index: logIndex(3), clientId: clientId('fast'), requestNumber: 3 },
    ],
  });
  primary.settle();
  assert.deepEqual(
    primary.replica.status().lostRecent.map((entry) => entry.index),
    [3],
  );
});

test('sim seed 1001415: a primary that records its own losses keeps them noted until the record commits', () => {
  // r2 discards async writes 2 and 3 as a backup of r3 (as in the test above), noting them.
  const { node } = backupThatDiscardsTwoAsyncWrites();
  node.settle();
  assert.equal(node.replica.status().lostUnreported, 2);
  // Then it leads view 4, and records its losses itself: an entry its backup r3 has not acknowledged.
  node.harness.lead(view(4, r2, [r3]));
  node.tick();
  const record = node.replica.entries().at(-1);
  assert.ok(record !== undefined && isSystemEntry(record), 'the primary appended the record');
  assert.equal(
    node.replica.status().lostUnreported,
    2,
    'a crash, or a new primary without the record, would take it: the losses stay noted',
  );
  assert.ok(
    !node.stored.some(
      (operation) => operation.kind === 'unreported-losses' && operation.entries.length === 0,
    ),
    'the note on disk is not emptied',
  );
  // Once r3 holds the record, it commits, and the note goes.
  node.harness.ack(r3, record.index);
  node.settle();
  assert.equal(node.replica.status().lostUnreported, 0);
  const last = node.stored.filter((operation) => operation.kind === 'unreported-losses').at(-1);
  assert.ok(last?.kind === 'unreported-losses');
  assert.equal(last.entries.length, 0, 'the note on disk is emptied');
});

function config(): ProtocolConfig {
  return months;
}

// ---- found by the simulator ------------------------------------------------------------------

/** A former primary r1 of view 2: entries 1-2 committed, 3-4 (async) applied but never committed. */
function deposedPrimary(): { node: Node; snapshot: StoredSnapshot } {
  const { primary, backup } = pair();
  primary.tick(2);
  pump([primary, backup]);
  for (const [number, value] of [
    [2, 'lost a'],
    [3, 'lost b'],
  ] as const) {
    send(primary, {
      kind: 'write',
      clientId: clientId('writer'),
      requestNumber: number,
      durability: 'async',
      operation: encodeOperation(kvOperation.put(text('k'), text(value))),
      staleness: null,
    });
  }
  primary.harness.sent.length = 0;
  // The committed state, as a snapshot any replica could serve (the test moves its position).
  const snapshot = primary.kept.at(-1);
  assert.ok(snapshot !== undefined);
  primary.harness.adopt(view(3, r2, [r1]));
  return { node: primary, snapshot };
}

test('sim seed 167: a deposed primary accepts a snapshot below what it applied but above its commit index', () => {
  const { node } = deposedPrimary();
  const { commitIndex, appliedIndex } = node.replica.status();
  assert.ok(appliedIndex > commitIndex);
  node.replica.receiveFromPeer(r2, {
    type: 'snapshot_offer',
    view: viewNumber(3),
    snapshot: {
      position: { view: viewNumber(3), index: logIndex(commitIndex + 1) },
      sizeBytes: 10,
      checksum: 1,
    },
  });
  node.settle();
  assert.equal(node.harness.transfers.length, 1, 'it fetches the snapshot instead of claiming to hold it');
});

test('sim seeds 355 and 1622: async writes dropped with a log replaced by a snapshot are reported, and recorded by a replica that leads next', () => {
  const { node, snapshot } = deposedPrimary();
  // A snapshot of view 3 at an index within r1's uncommitted suffix, which it does not hold.
  const position = { view: viewNumber(3), index: logIndex(node.replica.status().commitIndex + 1) };
  node.replica.installSnapshot({ info: { ...snapshot.info, position }, payload: snapshot.payload });
  node.settle();
  const lead = view(4, r1, [r2]);
  node.harness.lead(lead);
  node.tick(2);
  assert.equal(node.replica.status().asyncLost, 2, 'both async writes are on record');
});

/**
 * r3 joins with an empty directory and is offered r1's snapshot; `keepNewer` then has the primary keep
 * newer snapshots while the learner still fetches (a transfer paced slower than the writes).
 */
function slowLearner() {
  const { primary, backup } = pair();
  primary.tick(2);
  pump([primary, backup]);
  const learner = new Node(r3);
  const joined = view(3, r1, [r2], [r3]);
  learner.harness.adopt(joined);
  backup.harness.adopt(joined);
  primary.harness.lead(joined);
  pump([primary, backup, learner]);
  const first = learner.harness.transfers.at(-1)?.snapshot;
  assert.ok(first !== undefined, 'offered a snapshot');
  let requestNumber = 2;
  const keepNewer = (count: number) => {
    for (let kept = 0; kept < count; kept++) {
      const before = primary.replica.status().snapshot?.position.index ?? 0;
      write(primary, 'writer', requestNumber, 'k', `v${requestNumber}`);
      requestNumber += 1;
      pump([primary, backup], (message) => message.type === 'snapshot_offer');
      primary.tick(2);
      pump([primary, backup], (message) => message.type === 'snapshot_offer');
      assert.ok((primary.replica.status().snapshot?.position.index ?? 0) > before, 'a newer snapshot kept');
    }
  };
  const lastValue = () => `v${requestNumber - 1}`;
  return { primary, backup, learner, first, keepNewer, lastValue };
}

test('chaos seed 1: a learner keeps being offered the snapshot it is fetching while it is kept, and the log after it stays', () => {
  const { primary, backup, learner, first, keepNewer } = slowLearner();
  keepNewer(1);
  primary.tick(config().followerHeartbeatTicks);
  pump([primary, backup, learner]);
  const again = learner.harness.transfers.at(-1)?.snapshot;
  assert.equal(again?.position.index, first.position.index, 'the same snapshot is offered again');
  assert.ok(primary.replica.status().logBaseIndex <= first.position.index, 'and the log after it is kept');
});

test('a snapshot a follower is receiving stays kept past two newer ones, and the log after it, up to a bound', () => {
  const { primary, backup, learner, first, keepNewer } = slowLearner();
  const offered = () => {
    primary.tick(config().followerHeartbeatTicks);
    pump([primary, backup, learner]);
    return learner.harness.transfers.at(-1)?.snapshot.position.index;
  };
  const retained = () =>
    primary.stored.flatMap((operation) => (operation.kind === 'keep-snapshot' ? [operation] : [])).at(-1)
      ?.retained;
  keepNewer(keptSnapshotsMax + 1);
  assert.equal(offered(), first.position.index, 'the same snapshot is offered again');
  assert.deepEqual(retained(), [first.position], 'the shell is told to keep it');
  assert.ok(primary.replica.status().logBaseIndex <= first.position.index, 'and the log after it');
  keepNewer(keptSnapshotsPastReceivedMax - keptSnapshotsMax - 1);
  assert.equal(offered(), first.position.index, `kept until ${keptSnapshotsPastReceivedMax} newer ones`);
  keepNewer(1);
  assert.deepEqual(retained(), [], 'then the shell may delete it');
  const newest = primary.replica.status().snapshot?.position.index;
  assert.equal(offered(), newest, 'and the learner is offered the newest');
  assert.ok(primary.replica.status().logBaseIndex > first.position.index, 'the log after it goes');
});

test('a learner still receiving its snapshot in a new view is offered the same one, kept on for it', () => {
  const { primary, backup, learner, first, keepNewer } = slowLearner();
  keepNewer(1);
  const next = view(4, r1, [r2], [r3]);
  for (const follower of [backup, learner]) follower.harness.adopt(next);
  primary.harness.lead(next);
  pump([primary, backup, learner], (message) => message.type === 'snapshot_offer');
  keepNewer(keptSnapshotsMax);
  primary.tick(config().followerHeartbeatTicks);
  pump([primary, backup, learner]);
  assert.equal(learner.harness.transfers.at(-1)?.snapshot.position.index, first.position.index);
  assert.ok(primary.replica.status().logBaseIndex <= first.position.index, 'and the log after it');
});

test('a learner that left the view mid-transfer and comes back is offered the same snapshot, kept for it meanwhile', () => {
  const { primary, backup, learner, first, keepNewer } = slowLearner();
  keepNewer(1);
  // Killed while it fetched: the coordinator takes it out of the view, then adds it again.
  const without = view(4, r1, [r2]);
  backup.harness.adopt(without);
  primary.harness.lead(without);
  pump([primary, backup]);
  keepNewer(keptSnapshotsMax);
  const back = view(5, r1, [r2], [r3]);
  for (const follower of [backup, learner]) follower.harness.adopt(back);
  primary.harness.lead(back);
  pump([primary, backup, learner]);
  assert.equal(learner.harness.transfers.at(-1)?.snapshot.position.index, first.position.index);
  assert.ok(primary.replica.status().logBaseIndex <= first.position.index, 'and the log after it');
});

test('a learner that installed its snapshot keeps the log after it at the primary until it acknowledges entries', () => {
  // Chaos at 512 KiB/s: a learner installed a snapshot it had fetched for 13 s; its sync ended the
  // transfer at the primary before any entry was acknowledged, a save's snapshot was kept in between,
  // and the compaction took the log after the installed snapshot: it was offered a new one at once.
  const { primary, backup, learner, first, keepNewer, lastValue } = slowLearner();
  keepNewer(keptSnapshotsMax + 1);
  const snapshot = primary.kept.find((kept) => sameSnapshot(kept.info, first));
  assert.ok(snapshot !== undefined, 'still kept');
  learner.kept.push(snapshot);
  learner.replica.installSnapshot(snapshot);
  pump([primary, learner], (message) => message.type === 'prepare'); // its sync, and nothing more
  keepNewer(1);
  assert.ok(primary.replica.status().logBaseIndex <= first.position.index, 'the log after it stays');
  const transfers = learner.harness.transfers.length;
  for (let beat = 0; beat < 10; beat++) {
    primary.tick(config().followerHeartbeatTicks);
    pump([primary, backup, learner]);
  }
  assert.equal(learner.get('k'), lastValue(), 'the learner caught up from the log');
  assert.equal(learner.harness.transfers.length, transfers, 'offered no other snapshot');
});

// ---- times to live -----------------------------------------------------------------------------

function setExpiring(
  node: Node,
  client: string,
  requestNumber: number,
  key: string,
  afterMs: number,
): number {
  return send(node, {
    kind: 'write',
    clientId: clientId(client),
    requestNumber,
    durability: 'sync',
    operation: encodeOperation(
      kvOperation.set(text(key), text('soon gone'), { expiry: { kind: 'after', ms: afterMs } }),
    ),
    staleness: null,
  });
}

/** The indexes of the entries that delete keys whose time ran out. */
function expiryIndexes(node: Node): number[] {
  return node.replica
    .entries()
    .filter((entry) => isSystemEntry(entry) && decodeSystemOperation(entry.update).kind === 'service-update')
    .map((entry) => entry.index);
}

test('a key whose time ran out is deleted by an entry the primary logs, at the same index on the backup', () => {
  const { primary, backup, current } = pair({ ...months, snapshotLogBytes: 1 << 30 });
  const set = setExpiring(primary, 'writer', 2, 'brief', 100);
  pump([primary, backup]);
  assert.equal(code(primary, set), 'OK');
  const store = (node: Node) => node.replica.currentStateMachine() as KeyValueStore;
  primary.tick(months.followerHeartbeatTicks); // carries the commit index: the backup applies
  pump([primary, backup]);
  assert.equal(store(primary).expiryOf('brief'), wall.nowMs + 100, 'the primary fixed the time');
  assert.equal(store(backup).expiryOf('brief'), wall.nowMs + 100, 'the backup holds the same');
  wall.nowMs += 99;
  primary.tick(5);
  primary.harness.grantLease(current);
  pump([primary, backup]);
  assert.equal(primary.get('brief'), 'soon gone', 'not before its time');
  assert.deepEqual(expiryIndexes(primary), []);
  wall.nowMs += 1;
  primary.tick(1);
  pump([primary, backup]);
  primary.tick(months.followerHeartbeatTicks);
  pump([primary, backup]);
  assert.equal(primary.get('brief'), null);
  assert.equal(backup.get('brief'), null);
  assert.equal(primary.get('k'), 'v1', 'a key without a time to live stays');
  const [index] = expiryIndexes(primary);
  assert.ok(index !== undefined, 'one entry deleted it');
  assert.deepEqual(expiryIndexes(backup), [index], 'the backup deleted it at the same index');
  assert.equal(store(primary).stateHash(), store(backup).stateHash());
});

test('a primary without its lease logs no expiry: its clock may be a deposed one', () => {
  const { primary, backup, current } = pair({ ...months, snapshotLogBytes: 1 << 30 });
  const set = setExpiring(primary, 'writer', 2, 'brief', 10);
  pump([primary, backup]);
  assert.equal(code(primary, set), 'OK');
  primary.tick(months.leaseTicks + 5); // no lease granted meanwhile: it ran out
  wall.nowMs += 1000;
  primary.tick(3);
  pump([primary, backup]);
  assert.deepEqual(expiryIndexes(primary), [], 'nothing logged without a lease');
  assert.equal(primary.get('brief'), 'soon gone');
  primary.harness.grantLease(current);
  primary.tick(1);
  pump([primary, backup]);
  primary.tick(months.followerHeartbeatTicks);
  pump([primary, backup]);
  assert.equal(expiryIndexes(primary).length, 1, 'logged once the lease is back');
  assert.equal(backup.get('brief'), null);
});
