// The simulator's workload against a stand-in for the cluster: one correct key/value server that
// answers each request a few ticks later, out of order. It proves the workload's bookkeeping:
// pipelined operations each in their own process and session, replies matched by request id,
// refusals recorded with their codes, unexpected codes kept out of the fail outcomes, bounded reads
// sent to members and kept out of the history, request-status asked for writes left unanswered,
// sequences whose units reach the history each with the outcome the store gave its part, and a run
// that depends on its seed only. Tests of single operations switch sequences off
// (`sequenceProbability: 0`): a sequence's units take history processes of their own, and its
// refusals come whole.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkBoundedReads } from '../../src/check/bounded-reads.js';
import { everyKey, expandClears, type HistoryEvent, pairOperations } from '../../src/check/history.js';
import { checkLinearizable } from '../../src/check/linearizability.js';
import type { ClientReply, ClientRequest } from '../../src/protocol/messages.js';
import { type Execution, ServiceError } from '../../src/protocol/state-machine.js';
import { logIndex, replicaId, type View, viewNumber } from '../../src/protocol/types.js';
import type { SimCluster } from '../../src/sim/cluster.js';
import { GROUP_SIZE, groupMembers } from '../../src/sim/multi-key-workload.js';
import { Random } from '../../src/sim/random.js';
import { SimWorkload, type WorkloadOptions, workloadDefaults } from '../../src/sim/workload.js';
import { type KvLimits, kvLimitsDefault } from '../../src/state-machine/kv-limits.js';
import {
  decodeOperation,
  encodeOperation,
  encodeResult,
  type KvOperation,
  kvOperation,
} from '../../src/state-machine/kv-operations.js';
import {
  decodeSequence,
  decodeSequenceResult,
  encodeSequence,
  encodeSequenceResult,
  isReadOnlySequence,
  isSequence,
  type KvEncodedOutcome,
  type KvOutcome,
} from '../../src/state-machine/kv-sequence.js';
import { KeyValueStore } from '../../src/state-machine/kv-store.js';

/** Small enough that appends are refused VALUE_TOO_LARGE after a few tokens. */
const smallLimits: KvLimits = { ...kvLimitsDefault, keySizeMaxBytes: 64, valueSizeMaxBytes: 64 };

interface Submitted {
  readonly connection: number;
  readonly to: string;
  readonly request: ClientRequest;
  readonly at: number;
}

/** What the stand-in does with a request: answer it, refuse it with a code, or never answer. */
type Answer = string | 'silence' | 'run-silently' | undefined;

/**
 * What the workload uses of SimCluster: a clock, a view, clock rates, submit and takeReplies. Requests
 * run on one KeyValueStore when they arrive, in order; each reply comes back 1 to 4 ticks later, so
 * replies to one connection overtake each other. `answer` may replace a reply with a refusal, or
 * with silence. Sessions open at once; request-status answers from the writes that ran.
 */
class OneServer {
  now = 0;
  readonly store: KeyValueStore;
  readonly submitted: Submitted[] = [];
  /** What each read or write that ran answered, by request id. */
  readonly results = new Map<number, Uint8Array>();
  private readonly outbox: {
    readonly due: number;
    readonly connection: number;
    readonly reply: ClientReply;
  }[] = [];
  private index = 0;
  /** What each write that ran answered, by "clientId#requestNumber", for request-status. */
  private readonly executed = new Map<string, ClientReply>();
  private readonly cancelled = new Set<string>();
  private readonly viewNow: View;

  constructor(
    readonly answer: (request: ClientRequest, to: string) => Answer = () => undefined,
    limits: KvLimits = smallLimits,
    backups: readonly string[] = [],
    store?: KeyValueStore,
  ) {
    this.store = store ?? new KeyValueStore(limits);
    this.viewNow = {
      number: viewNumber(1),
      primary: replicaId('r1'),
      backups: backups.map(replicaId),
      learners: [],
    };
  }

  view(): View {
    return this.viewNow;
  }

  clockRateOf(_id: string): number {
    return 1;
  }

  submit(connection: number, to: string, request: ClientRequest): void {
    this.submitted.push({ connection, to, request, at: this.now });
    const due = this.now + 1 + (request.id % 4);
    const name = `${request.clientId}#${request.requestNumber}`;
    const code = this.answer(request, to);
    if (code === 'silence') {
      // Lost, or not yet run: a write left unanswered that request-status may cancel.
      return;
    }
    if (code !== undefined && code !== 'run-silently') {
      this.outbox.push({ due, connection, reply: this.refusal(request, code) });
      return;
    }
    if (request.kind === 'open-session') {
      this.outbox.push({ due, connection, reply: this.success(request, new Uint8Array(0)) });
      return;
    }
    if (request.kind === 'request-status') {
      const executed = this.executed.get(name);
      if (executed === undefined) this.cancelled.add(name);
      const reply = executed ?? this.refusal(request, 'REQUEST_CANCELLED');
      this.outbox.push({ due, connection, reply: { ...reply, id: request.id } });
      return;
    }
    if (request.kind === 'write' && this.cancelled.has(name)) {
      this.outbox.push({ due, connection, reply: this.refusal(request, 'REQUEST_CANCELLED') });
      return;
    }
    try {
      let result: Uint8Array;
      if (request.kind === 'read') result = this.store.query(request.operation);
      else {
        const execution = this.store.execute(request.operation);
        this.store.apply(execution.update);
        result = execution.result;
      }
      this.index += 1;
      this.results.set(request.id, result);
      const reply = this.success(request, result);
      if (request.kind === 'write') this.executed.set(name, reply);
      if (code !== 'run-silently') this.outbox.push({ due, connection, reply });
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error;
      const reply = this.refusal(request, error.code);
      if (request.kind === 'write') this.executed.set(name, reply);
      if (code !== 'run-silently') this.outbox.push({ due, connection, reply });
    }
  }

  private success(request: ClientRequest, result: Uint8Array): ClientReply {
    return {
      type: 'reply',
      id: request.id,
      ok: true,
      result,
      view: viewNumber(1),
      index: logIndex(this.index),
      durability: request.durability,
      replicas: [],
    };
  }

  takeReplies(connection: number): ClientReply[] {
    const due = this.outbox.filter((item) => item.connection === connection && item.due <= this.now);
    for (const item of due) this.outbox.splice(this.outbox.indexOf(item), 1);
    return due.map((item) => item.reply);
  }

  private refusal(request: ClientRequest, code: string): ClientReply {
    return { type: 'reply', id: request.id, ok: false, code, message: code, primary: null };
  }
}

function run(
  server: OneServer,
  options: Partial<WorkloadOptions>,
  seed = 1,
  ticks = 400,
): { workload: SimWorkload; events: readonly HistoryEvent[] } {
  const workload = new SimWorkload(server as unknown as SimCluster, new Random(seed), {
    ...workloadDefaults,
    ...options,
  });
  for (let tick = 0; tick < ticks; tick++) {
    server.now += 1;
    workload.step();
  }
  workload.stopGenerating();
  for (let tick = 0; tick < 100 && !workload.idle; tick++) {
    server.now += 1;
    workload.step();
  }
  assert.ok(workload.idle, 'every operation completed');
  return { workload, events: workload.recorder.events() };
}

/** Process numbers whose operations overlap in time with another of the same connection. */
function overlappingSlots(events: readonly HistoryEvent[], depth: number): Set<number> {
  const pending = new Map<number, number>();
  const overlapping = new Set<number>();
  for (const event of events) {
    const connection = Math.floor(event.process / depth);
    if (event.type !== 'invoke') {
      pending.set(connection, (pending.get(connection) ?? 1) - 1);
      continue;
    }
    const inFlight = pending.get(connection) ?? 0;
    if (inFlight > 0) overlapping.add(event.process);
    pending.set(connection, inFlight + 1);
  }
  return overlapping;
}

test('a pipelined connection runs one process per session slot, and its history checks out', () => {
  const server = new OneServer();
  const { workload, events } = run(server, { clients: 2, pipelineDepth: 3, sequenceProbability: 0 });
  const processes = new Set(events.map((event) => event.process));
  assert.deepEqual([...processes].sort(), [0, 1, 2, 3, 4, 5]);
  // Slots of one connection overlap: several operations in flight at once.
  assert.ok(overlappingSlots(events, 3).size >= 4, 'operations of one connection overlap');
  // Every slot is its own session, on its connection's number; writes count up per slot.
  const requestNumbers = new Map<string, number[]>();
  for (const { connection, request } of server.submitted) {
    const [, clientConnection] = /^sim-client-(\d+)\/[0-2]$/.exec(request.clientId) ?? [];
    assert.equal(Number(clientConnection), connection, request.clientId);
    if (request.kind !== 'write') continue;
    requestNumbers.set(request.clientId, [
      ...(requestNumbers.get(request.clientId) ?? []),
      request.requestNumber,
    ]);
  }
  assert.equal(requestNumbers.size, 6);
  for (const numbers of requestNumbers.values()) {
    assert.deepEqual(
      numbers,
      numbers.map((_, index) => index + 1),
    );
  }
  const operations = pairOperations(events);
  const report = checkLinearizable(operations, { valueSizeMaxBytes: smallLimits.valueSizeMaxBytes });
  assert.equal(report.result, 'linearizable');
  assert.deepEqual(report.unmodeledFailures, []);
  // Bounded reads are not in the history; one server is never stale, so they all check out.
  assert.ok(workload.boundedReads.length > 0, 'some reads were bounded');
  assert.equal(workload.operationsInvoked, operations.length + workload.boundedReads.length);
  assert.deepEqual(checkBoundedReads(workload.boundedReads, operations).violations, []);
  assert.deepEqual(workload.unexpectedReplies, new Map());
});

test('registers hold numbers and words, so incr on a register is refused NOT_AN_INTEGER and recorded so', () => {
  const { workload, events } = run(new OneServer(), { clients: 3, pipelineDepth: 2 });
  const registerWrites = events.filter(
    (event) => event.type === 'ok' && event.f === 'write' && event.key.startsWith('register'),
  );
  const numeric = registerWrites.filter((event) => /^[0-9]+$/.test(String(event.value)));
  assert.ok(numeric.length > 0 && numeric.length < registerWrites.length, 'numbers and words written');
  // Refusals of single operations and of parts; a guarded sequence refused whole (VALUE_CHANGED) aside.
  const refusals = events.filter(
    (event) => event.type === 'fail' && event.error !== undefined && event.error !== 'VALUE_CHANGED',
  );
  assert.ok(refusals.some((event) => event.f === 'incr' && event.key.startsWith('register')));
  assert.ok(refusals.some((event) => event.f === 'append' && event.error === 'VALUE_TOO_LARGE'));
  for (const event of refusals) {
    assert.equal(event.error, event.f === 'incr' ? 'NOT_AN_INTEGER' : 'VALUE_TOO_LARGE');
  }
  assert.ok(
    events.some((event) => event.type === 'ok' && event.f === 'incr' && event.key.startsWith('register')),
  );
  // Counters stay numeric: never refused.
  assert.ok(!refusals.some((event) => event.key.startsWith('counter')));
  const sync = refusals.length;
  assert.ok(
    (workload.refusals.get('incr NOT_AN_INTEGER') ?? 0) +
      (workload.refusals.get('append VALUE_TOO_LARGE') ?? 0) >=
      sync,
  );
  // A cas that did not swap, or a put-if-present that found its key absent, are the only fails without a code.
  for (const event of events.filter((event) => event.type === 'fail' && event.error === undefined)) {
    assert.ok(event.f === 'cas' || event.f === 'replace', event.f);
  }
});

test('a refusal of an asynchronous write is info: answered before it replicates, like its acknowledgement', () => {
  const { workload, events } = run(new OneServer(), {
    clients: 2,
    asyncProbability: 1,
    sequenceProbability: 0,
  });
  assert.ok((workload.refusals.get('append VALUE_TOO_LARGE') ?? 0) > 0);
  assert.ok(!events.some((event) => event.type === 'fail' && event.f === 'append'));
  // incr on a register is always sync: what it is there for is its refusal.
  assert.ok(events.some((event) => event.type === 'fail' && event.error === 'NOT_AN_INTEGER'));
});

test('a code the workload does not expect is recorded as info and counted, never as a fail', () => {
  const server = new OneServer((request) => (request.kind === 'write' ? 'BAD_REQUEST' : undefined));
  const { workload, events } = run(server, { clients: 2, pipelineDepth: 2, sequenceProbability: 0 }, 3, 100);
  assert.ok(!events.some((event) => event.type === 'fail'));
  const counted = [...workload.unexpectedReplies.values()].reduce((total, count) => total + count, 0);
  const writes = events.filter((event) => event.type === 'info');
  assert.equal(counted, writes.length);
  assert.ok(counted > 0);
  assert.ok(
    [...workload.unexpectedReplies.keys()].every((cause) =>
      /^(write|cas|incr|append|delete|replace) BAD_REQUEST$/.test(cause),
    ),
  );
});

test('NOT_PRIMARY is retried with the same request number, REQUEST_TOO_OLD is info', () => {
  const refusedOnce = new Set<string>();
  const server = new OneServer((request) => {
    if (request.kind !== 'write') return undefined;
    const name = `${request.clientId}#${request.requestNumber}`;
    if (request.requestNumber % 5 === 0) return 'REQUEST_TOO_OLD';
    if (refusedOnce.has(name)) return undefined;
    refusedOnce.add(name);
    return 'NOT_PRIMARY';
  });
  const { workload, events } = run(server, { clients: 1, pipelineDepth: 2 }, 5, 200);
  const writes = server.submitted.filter(({ request }) => request.kind === 'write');
  const attempts = new Map<string, number>();
  for (const { request } of writes) {
    const name = `${request.clientId}#${request.requestNumber}`;
    attempts.set(name, (attempts.get(name) ?? 0) + 1);
  }
  assert.ok(attempts.size > 10);
  for (const [name, count] of attempts) {
    // Refused NOT_PRIMARY and sent again; REQUEST_TOO_OLD ends the operation.
    assert.equal(count, name.endsWith('0') || name.endsWith('5') ? 1 : 2, name);
  }
  assert.ok(events.some((event) => event.type === 'info'));
  assert.deepEqual(workload.unexpectedReplies, new Map());
});

test('a run depends on its seed only', () => {
  const first = run(new OneServer(), { clients: 3, pipelineDepth: 3 }, 42).events;
  const second = run(new OneServer(), { clients: 3, pipelineDepth: 3 }, 42).events;
  assert.deepEqual(first, second);
  assert.notDeepEqual(run(new OneServer(), { clients: 3, pipelineDepth: 3 }, 43).events, first);
});

/** incr invocations on a register while another process's write or cas to it is in flight. */
function probesOf(events: readonly HistoryEvent[]): { probes: number; increments: number } {
  const writing = new Map<number, string>();
  let probes = 0;
  let increments = 0;
  for (const event of events) {
    if (event.type !== 'invoke') {
      writing.delete(event.process);
      continue;
    }
    if (event.f === 'write' || event.f === 'cas') writing.set(event.process, event.key);
    if (event.f !== 'incr' || !event.key.startsWith('register')) continue;
    increments += 1;
    if ([...writing.values()].includes(event.key)) probes += 1;
  }
  return { probes, increments };
}

test('probes: an incr goes to a register while another process is writing it', () => {
  const always = probesOf(run(new OneServer(), { clients: 2, pipelineDepth: 3, probeProbability: 1 }).events);
  const never = probesOf(run(new OneServer(), { clients: 2, pipelineDepth: 3, probeProbability: 0 }).events);
  assert.ok(always.probes > 3 * never.probes, `${always.probes} probes, against ${never.probes} by chance`);
  assert.ok(always.probes >= always.increments / 2);
});

test('bounded reads go to a backup, then another member, then the primary, and stay out of the history', () => {
  const server = new OneServer(
    (request, to) => (request.staleness !== null && to !== 'r1' ? 'STALE' : undefined),
    smallLimits,
    ['r2', 'r3'],
  );
  const { workload, events } = run(server, {
    clients: 2,
    boundedReadProbability: 1,
    sequenceProbability: 0,
  });
  const bounded = server.submitted.filter(({ request }) => request.staleness !== null);
  assert.ok(bounded.length > 0);
  // Each bounded read asks at most two members (mostly backups) before the primary answers it.
  const reads = workload.boundedReads.length;
  assert.equal(workload.boundedReadCounts.servedByMember, 0);
  assert.equal(workload.boundedReadCounts.servedByPrimary, reads);
  assert.equal(workload.boundedReadCounts.staleReplies, bounded.length - reads);
  assert.ok(
    bounded.length - reads <= 2 * reads && bounded.length - reads >= reads,
    `${bounded.length} for ${reads}`,
  );
  assert.ok(bounded.filter(({ to }) => to !== 'r1').length > bounded.length / 2);
  // A group is read whole by get-many, always at the primary; every other read is bounded.
  assert.ok(
    !events.some((event) => event.f === 'read' && !event.key.startsWith('group')),
    'no read in the history',
  );
  for (const read of workload.boundedReads) assert.equal(read.replica, 'r1');
  // Read-your-writes: some ask for the index of the connection's last write.
  assert.ok(bounded.some(({ request }) => (request.staleness?.minIndex ?? 0) > 0));
});

test('a write left unanswered asks request-status: executed is ok, never run is cancelled (fail)', () => {
  // Of the writes, every third is lost before it runs, every fifth runs but its reply is lost.
  const attempts = new Map<string, number>();
  const server = new OneServer((request) => {
    if (request.kind !== 'write') return undefined;
    const name = `${request.clientId}#${request.requestNumber}`;
    if (attempts.has(name)) return 'silence'; // retries too: the outcome waits for request-status
    attempts.set(name, attempts.size);
    const order = attempts.size;
    return order % 3 === 0 ? 'silence' : order % 5 === 0 ? 'run-silently' : undefined;
  });
  const { workload, events } = run(
    server,
    { clients: 2, deadlineTicks: 120, statusProbability: 1, asyncProbability: 0, boundedReadProbability: 0 },
    7,
    800,
  );
  const cancelled = events.filter((event) => event.type === 'fail' && event.error === 'REQUEST_CANCELLED');
  assert.ok(cancelled.length > 0, 'some writes were cancelled');
  assert.equal(workload.statusAnswers.get('cancelled'), cancelled.length);
  assert.ok((workload.statusAnswers.get('executed') ?? 0) > 0, 'some writes were found executed');
  assert.ok(!events.some((event) => event.type === 'info'), 'every write ended definite');
  const report = checkLinearizable(pairOperations(events), {
    valueSizeMaxBytes: smallLimits.valueSizeMaxBytes,
  });
  assert.equal(report.result, 'linearizable');
  assert.deepEqual(report.unmodeledFailures, []);
});

test('flags take put-if both ways and deletes, groups move whole, and a group read in part is a torn read', () => {
  const server = new OneServer();
  const { workload, events } = run(server, { clients: 3, pipelineDepth: 2 }, 1, 1500);
  const completed = (type: string, f: string, prefix: string) =>
    events.some((event) => event.type === type && event.f === f && event.key.startsWith(prefix));
  assert.ok(completed('ok', 'cas', 'flag'), 'a put-if-absent wrote');
  assert.ok(completed('fail', 'cas', 'flag'), 'a put-if-absent found the key present');
  assert.ok(completed('ok', 'replace', 'flag'), 'a put-if-present wrote');
  assert.ok(completed('fail', 'replace', 'flag'), 'a put-if-present found the key absent');
  assert.ok(completed('ok', 'delete', 'flag'), 'a flag was deleted');
  assert.ok(completed('ok', 'write', 'group'), 'a group was written whole');
  assert.ok(completed('ok', 'delete', 'group'), 'a group was deleted whole');
  assert.ok(completed('ok', 'read', 'group'), 'a group was read whole');
  const report = checkLinearizable(pairOperations(events), {
    valueSizeMaxBytes: smallLimits.valueSizeMaxBytes,
  });
  assert.equal(report.result, 'linearizable');
  assert.deepEqual(report.unmodeledFailures, []);
  assert.deepEqual(workload.tornReads, []);

  // One member changed alone, as a multi-key write applied in part would leave it.
  const torn = server.store.execute(encodeOperation(kvOperation.put(bytes('group0.1'), bytes('alone'))));
  server.store.apply(torn.update);
  workload.beginRead('group0');
  for (let tick = 0; tick < 100 && !workload.idle; tick++) {
    server.now += 1;
    workload.step();
  }
  assert.equal(workload.tornReads.length, 1);
  assert.match(
    workload.tornReads[0] ?? '',
    /^torn read of group0: its members, written only together, held /,
  );
});

test('clears go into the history once, under every key, and catch a store whose clear leaves the lists', () => {
  const options = { clients: 3, pipelineDepth: 2, clears: true };
  const { workload, events } = run(new OneServer(), options, 3, 1500);
  const clears = events.filter((event) => event.f === 'clear');
  assert.ok(
    clears.some((event) => event.type === 'ok'),
    'a clear was answered',
  );
  assert.ok(clears.every((event) => event.key === everyKey));
  // Alone, and as the first unit of a sequence: both go into the history as a clear.
  const answered = clears.filter((event) => event.type === 'ok').length;
  assert.ok(workload.clearCounts.answered > 0 && workload.clearCounts.inSequences > 0);
  assert.ok(answered > workload.clearCounts.answered, `${answered} clears answered in the history`);
  const operations = expandClears(pairOperations(events));
  assert.ok(
    operations.some(({ f, key }) => f === 'clear' && key === 'list0'),
    'each key gets the clear',
  );
  const report = checkLinearizable(operations, { valueSizeMaxBytes: smallLimits.valueSizeMaxBytes });
  assert.equal(report.result, 'linearizable');

  // A clear that deletes every key but the append lists: their reads after it show what it left.
  class ClearLeavingLists extends KeyValueStore {
    override execute(operation: Uint8Array): Execution {
      if (decodeOperation(operation).kind !== 'clear') return super.execute(operation);
      const others = ['register0', 'register1', 'counter0', 'flag0', ...groupMembers('group0')];
      const { update } = super.execute(encodeOperation(kvOperation.deleteMany(others.map(bytes))));
      return { result: encodeResult({ kind: 'clear', count: 0 }), update };
    }
  }
  const broken = new OneServer(undefined, smallLimits, [], new ClearLeavingLists(smallLimits));
  const caught = run(broken, options, 3, 1500);
  const brokenReport = checkLinearizable(expandClears(pairOperations(caught.events)), {
    valueSizeMaxBytes: smallLimits.valueSizeMaxBytes,
  });
  assert.equal(brokenReport.result, 'not-linearizable');
  const failing = [...brokenReport.perKey].filter(([, check]) => check.result === 'not-linearizable');
  assert.ok(
    failing.every(([key]) => key.startsWith('list')),
    failing.map(([key]) => key).join(', '),
  );
});

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

const text = (value: Uint8Array | null): string | null =>
  value === null ? null : new TextDecoder().decode(value);

/** How the history must record a unit of a sequence, from its parts and what the store answered them. */
function expectedCompletion(
  parts: readonly KvOperation[],
  outcomes: readonly KvOutcome[],
): { readonly status: 'ok' | 'fail'; readonly value?: unknown; readonly error?: string } {
  const results = [];
  for (const outcome of outcomes) {
    if (!outcome.ok) return { status: 'fail', error: outcome.code };
    results.push(outcome.result);
  }
  const [first] = results;
  const [part] = parts;
  assert.ok(first !== undefined && part !== undefined);
  switch (first.kind) {
    case 'expect':
      // A guard that held: a read of the value it expected.
      return { status: 'ok', value: part.kind === 'expect' ? text(part.values[0] ?? null) : undefined };
    case 'get': {
      const values = results.map((result) => (result.kind === 'get' ? text(result.value) : undefined));
      assert.ok(
        values.every((value) => value === values[0]),
        'a group read whole',
      );
      return { status: 'ok', value: values[0] ?? null };
    }
    case 'put':
      return { status: 'ok', value: part.kind === 'put' ? text(part.value) : undefined };
    case 'delete':
      return { status: 'ok', value: null };
    case 'append':
      return { status: 'ok', value: first.length };
    case 'incr':
      return { status: 'ok', value: first.value };
    case 'cas':
      return first.swapped && part.kind === 'cas'
        ? { status: 'ok', value: [text(part.expected), text(part.next)] }
        : { status: 'fail' };
    case 'put-if':
      return first.written && part.kind === 'put-if'
        ? {
            status: 'ok',
            value: part.when === 'absent' ? [null, text(part.value)] : text(part.value),
          }
        : { status: 'fail' };
    default:
      throw new Error(`the workload sends no ${first.kind} in a sequence`);
  }
}

/** A sequence's parts, cut into the units the history records: a group's members together. */
function unitsOf(parts: readonly KvOperation[]): { readonly key: string; readonly parts: KvOperation[] }[] {
  const units: { key: string; parts: KvOperation[] }[] = [];
  for (let at = 0; at < parts.length; ) {
    const part = parts[at];
    assert.ok(
      part !== undefined && ('key' in part || part.kind === 'expect'),
      'single-key parts, or a guard',
    );
    const key = text('key' in part ? part.key : (part.keys[0] ?? null)) ?? '';
    const group = /^(group\d+)\.\d+$/.exec(key)?.[1];
    const size = group === undefined ? 1 : GROUP_SIZE;
    units.push({ key: group ?? key, parts: parts.slice(at, at + size) });
    at += size;
  }
  return units;
}

test('sequences: each unit reaches the history on a lane of its own, with the outcome the store gave its part', () => {
  const clients = 2;
  const depth = 2;
  const processes = clients * depth;
  const server = new OneServer();
  const { workload, events } = run(
    server,
    { clients, pipelineDepth: depth, sequenceProbability: 0.5 },
    11,
    1500,
  );
  const operations = pairOperations(events);
  const sequences = server.submitted.filter(({ request }) => isSequence(request.operation));
  assert.equal(sequences.length, workload.sequenceCounts.sent, 'each sequence sent once');
  assert.ok(sequences.length >= 50, `${sequences.length} sequences sent`);
  assert.ok(
    sequences.some(({ request }) => request.kind === 'read'),
    'some read sequences, sent as queries',
  );
  assert.ok(workload.sequenceCounts.readBacks > 0, 'some sequences read back what they wrote');
  const seen = { units: 0, groups: 0, refusals: 0, notSwapped: 0, async: 0, guards: 0, refusedWhole: 0 };
  for (const { connection, request, at } of sequences) {
    const slot = Number(/\/(\d+)$/.exec(request.clientId)?.[1]);
    const slotProcess = connection * depth + slot;
    const { parts, whole } = decodeSequence(request.operation);
    const recorded = operations
      .filter((operation) => operation.call === at * 1e6 && operation.process % processes === slotProcess)
      .sort((a, b) => a.process - b.process);
    const units = unitsOf(parts);
    assert.equal(
      whole,
      parts.at(-1)?.kind === 'expect',
      'a sequence goes whole exactly when a guard ends it',
    );
    const result = server.results.get(request.id);
    if (result === undefined) {
      // Refused whole, its guard not holding: none of it ran (a write unit fails with the code, a read
      // observed nothing); an async or replicated one's refusal may be lost with its entry: unknown.
      assert.ok(whole, 'one server answers every request, refusing only a guarded sequence');
      const sync = request.durability === 'sync';
      for (const operation of recorded) {
        seen.refusedWhole += 1;
        if (!sync || operation.f === 'read') assert.equal(operation.status, 'info');
        else assert.deepEqual([operation.status, operation.error], ['fail', 'VALUE_CHANGED']);
      }
      seen.units += recorded.length;
      continue;
    }
    if (whole) seen.guards += 1;
    const outcomes = decodeSequenceResult(parts, result);
    assert.deepEqual(
      recorded.map((operation) => [operation.key, Math.floor(operation.process / processes)]),
      units.map((unit, lane) => [unit.key, lane]),
      'a unit per key, each on its lane',
    );
    let first = 0;
    units.forEach((unit, position) => {
      const operation = recorded[position];
      assert.ok(operation !== undefined);
      const own = outcomes.slice(first, first + unit.parts.length);
      first += unit.parts.length;
      seen.units += 1;
      if (unit.parts.length > 1) seen.groups += 1;
      if (request.kind === 'write' && request.durability === 'async') {
        seen.async += 1;
        assert.equal(operation.status, 'info', 'an async sequence may yet be lost');
        return;
      }
      const expected = expectedCompletion(unit.parts, own);
      assert.equal(operation.status, expected.status, `${operation.f} ${operation.key}`);
      if (expected.status === 'ok') assert.deepEqual(operation.output, expected.value);
      else assert.equal(operation.error, expected.error);
      if (expected.error !== undefined) seen.refusals += 1;
      else if (expected.status === 'fail') seen.notSwapped += 1;
    });
  }
  assert.equal(seen.units, workload.sequenceCounts.units);
  for (const [name, count] of Object.entries(seen)) assert.ok(count > 0, `${name}: ${count}`);
  const report = checkLinearizable(operations, { valueSizeMaxBytes: smallLimits.valueSizeMaxBytes });
  assert.equal(report.result, 'linearizable');
  assert.deepEqual(report.unmodeledFailures, []);
  assert.deepEqual(workload.unexpectedReplies, new Map());
  assert.deepEqual(workload.tornReads, []);
  assert.deepEqual(workload.readBackViolations, []);
});

test('a sequence refused whole: every unit info, counted once as an unexpected code', () => {
  const server = new OneServer((request) =>
    isSequence(request.operation) && request.kind === 'write' ? 'BAD_REQUEST' : undefined,
  );
  const { workload, events } = run(
    server,
    { clients: 2, sequenceProbability: 1, probeProbability: 0 },
    3,
    200,
  );
  const refused = server.submitted.filter(({ request }) => request.kind === 'write').length;
  assert.ok(refused > 0);
  assert.equal(workload.unexpectedReplies.get('sequence BAD_REQUEST'), refused);
  // Read sequences are answered; every unit of a refused one is unknown.
  const operations = pairOperations(events);
  assert.ok(operations.some((operation) => operation.status === 'info'));
  assert.ok(operations.every((operation) => operation.status === 'info' || operation.f === 'read'));
});

/** Answers a sequence with every part's result, but leaves the last part's update out. */
class DroppingStore extends KeyValueStore {
  override execute(operation: Uint8Array): Execution {
    const whole = super.execute(operation);
    if (!isSequence(operation)) return whole;
    const kept = decodeSequence(operation).parts.slice(0, -1);
    const update =
      kept.length === 0 || isReadOnlySequence(kept)
        ? new Uint8Array(0)
        : super.execute(encodeSequence(kept)).update;
    return { result: whole.result, update };
  }
}

/** Applies a sequence whole, but answers its parts as run last to first: each before the parts ahead of it. */
class MisorderedStore extends KeyValueStore {
  override execute(operation: Uint8Array): Execution {
    const whole = super.execute(operation);
    if (!isSequence(operation)) return whole;
    const reversed = decodeSequence(operation).parts.reverse();
    const outcomes = decodeSequenceResult(reversed, super.execute(encodeSequence(reversed)).result).reverse();
    const encoded = outcomes.map(
      (outcome): KvEncodedOutcome =>
        outcome.ok ? { ok: true, result: encodeResult(outcome.result) } : outcome,
    );
    return { result: encodeSequenceResult(encoded), update: whole.update };
  }
}

test('the checks catch a store that drops a part of a sequence, or runs its parts out of order', () => {
  const options = { clients: 2, pipelineDepth: 2, sequenceProbability: 0.5 };
  const dropping = run(
    new OneServer(undefined, smallLimits, [], new DroppingStore(smallLimits)),
    options,
    5,
    800,
  );
  const report = checkLinearizable(pairOperations(dropping.events), {
    valueSizeMaxBytes: smallLimits.valueSizeMaxBytes,
  });
  assert.equal(report.result, 'not-linearizable');

  const misordered = run(
    new OneServer(undefined, smallLimits, [], new MisorderedStore(smallLimits)),
    options,
    5,
    800,
  );
  assert.ok(misordered.workload.readBackViolations.length > 0, 'a read-back missed the part before it');
  assert.match(
    misordered.workload.readBackViolations[0] ?? '',
    /^a sequence of sim-client-\d\/\d \(index \d+, /,
  );
});
