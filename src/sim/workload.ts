// Simulated clients: each runs one key/value operation at a time against the cluster, retrying the
// same request number on timeouts and NOT_PRIMARY like the real client, and records every
// operation in a Jepsen-style history for the checkers.
//
// Keys come in three kinds so each final value can be checked: registers (read, write, cas),
// append lists (read, append of unique tokens) and counters (read, incr). Asynchronous writes are
// recorded as "info" (they may be lost in a failover by design); their append tokens are kept
// apart so the run can count how many a failover lost.

import {
  type EventValue,
  HistoryRecorder,
  type OperationFunction,
  type OperationHandle,
} from '../check/history.js';
import { ErrorCode } from '../protocol/error-codes.js';
import type { ClientReply } from '../protocol/messages.js';
import { clientId, type Durability } from '../protocol/types.js';
import {
  decodeResult,
  encodeOperation,
  type KvOperation,
  kvOperation,
} from '../state-machine/kv-operations.js';
import type { SimCluster } from './cluster.js';
import type { Random } from './random.js';

export interface WorkloadOptions {
  readonly clients: number;
  readonly registers: number;
  readonly appendLists: number;
  readonly counters: number;
  readonly asyncProbability: number;
  /** Resend the same request when no reply came for this long. */
  readonly attemptTimeoutTicks: number;
  /** Give up (outcome unknown) after this long. */
  readonly deadlineTicks: number;
}

export const workloadDefaults: WorkloadOptions = {
  clients: 4,
  registers: 2,
  appendLists: 2,
  counters: 1,
  asyncProbability: 0.1,
  attemptTimeoutTicks: 80,
  deadlineTicks: 1_500,
};

const nanosecondsPerTick = 1_000_000;
const retryBackoffTicks = 5;

interface Pending {
  readonly handle: OperationHandle;
  readonly operation: KvOperation;
  readonly f: OperationFunction;
  readonly key: string;
  readonly written: string | null;
  readonly invokeValue: EventValue;
  readonly durability: Durability;
  readonly requestNumber: number;
  readonly startedAt: number;
  readonly attemptIds: Set<number>;
  nextAttemptAt: number;
  liveness: boolean;
}

interface SimClient {
  readonly index: number;
  readonly id: string;
  requestNumber: number;
  operationsDone: number;
  pending: Pending | null;
  readonly lastRead: Map<string, string | null>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);
const text = (value: Uint8Array | null): string | null => (value === null ? null : decoder.decode(value));

export class SimWorkload {
  readonly recorder = new HistoryRecorder();
  /** Acknowledged asynchronous append tokens per key. */
  readonly asyncAppendsAcknowledged = new Map<string, Set<string>>();
  /** Operations invoked after the heal that did not complete with a definite answer. */
  readonly livenessFailures: string[] = [];
  readonly keys: readonly string[];
  private readonly clients: SimClient[] = [];
  private nextRequestId = 1;
  private invoked = 0;
  private generating = true;
  private livenessPhase = false;
  private livenessOperationsLeft = 0;

  constructor(
    private readonly cluster: SimCluster,
    private readonly random: Random,
    private readonly options: WorkloadOptions,
  ) {
    const keys: string[] = [];
    for (let number = 0; number < options.registers; number++) keys.push(`register${number}`);
    for (let number = 0; number < options.appendLists; number++) keys.push(`list${number}`);
    for (let number = 0; number < options.counters; number++) keys.push(`counter${number}`);
    this.keys = keys;
    for (let index = 0; index < options.clients; index++) {
      this.clients.push({
        index,
        id: `sim-client-${index}`,
        requestNumber: 0,
        operationsDone: 0,
        pending: null,
        lastRead: new Map(),
      });
    }
  }

  /** From now on, every new operation must complete: faults have been healed. */
  startLivenessPhase(operationsPerClient: number): void {
    this.livenessPhase = true;
    this.livenessOperationsLeft = operationsPerClient * this.clients.length;
  }

  get livenessDone(): boolean {
    return this.livenessOperationsLeft <= 0 && this.clients.every((client) => client.pending === null);
  }

  stopGenerating(): void {
    this.generating = false;
  }

  get idle(): boolean {
    return this.clients.every((client) => client.pending === null);
  }

  get operationsInvoked(): number {
    return this.invoked;
  }

  step(): void {
    for (const client of this.clients) {
      for (const reply of this.cluster.takeReplies(client.index)) this.onReply(client, reply);
      const pending = client.pending;
      if (pending === null) {
        if (this.generating && (!this.livenessPhase || this.livenessOperationsLeft > 0)) this.begin(client);
        continue;
      }
      if (this.cluster.now - pending.startedAt >= this.options.deadlineTicks) {
        this.finish(client, 'info', null);
      } else if (this.cluster.now >= pending.nextAttemptAt) {
        this.send(client, pending);
      }
    }
  }

  /** Reads one key through the normal path, as one more operation of client 0 (used for final reads);
   * `lastReadOf` then tells its value, or undefined if it did not succeed. */
  beginRead(key: string): void {
    const client = this.clients[0];
    if (client === undefined || client.pending !== null) return;
    client.lastRead.delete(key);
    this.invoke(client, kvOperation.get(bytes(key)), 'read', key, null, 'sync');
  }

  lastReadOf(key: string): string | null | undefined {
    return this.clients[0]?.lastRead.get(key);
  }

  // ---- operations ------------------------------------------------------------------------------

  private begin(client: SimClient): void {
    const key = this.random.pick(this.keys);
    const unique = `c${client.index}-${client.operationsDone}`;
    const durability: Durability = this.random.chance(this.options.asyncProbability) ? 'async' : 'sync';
    const reading = this.random.chance(0.3);
    if (this.livenessPhase) this.livenessOperationsLeft -= 1;
    if (reading) {
      this.invoke(client, kvOperation.get(bytes(key)), 'read', key, null, 'sync');
    } else if (key.startsWith('register')) {
      if (this.random.chance(0.5)) {
        this.invoke(client, kvOperation.put(bytes(key), bytes(unique)), 'write', key, unique, durability);
      } else {
        const expected = client.lastRead.get(key) ?? null;
        const operation = kvOperation.cas(
          bytes(key),
          expected === null ? null : bytes(expected),
          bytes(unique),
        );
        this.invoke(client, operation, 'cas', key, unique, durability, expected);
      }
    } else if (key.startsWith('list')) {
      const token = `${unique};`;
      this.invoke(client, kvOperation.append(bytes(key), bytes(token)), 'append', key, token, durability);
    } else {
      this.invoke(client, kvOperation.incr(bytes(key), 1), 'incr', key, null, durability);
    }
  }

  private invoke(
    client: SimClient,
    operation: KvOperation,
    f: OperationFunction,
    key: string,
    written: string | null,
    durability: Durability,
    expected: string | null = null,
  ): void {
    const value = f === 'cas' ? ([expected, written ?? ''] as const) : f === 'incr' ? 1 : written;
    const handle = this.recorder.invoke(client.index, f, key, value, this.time());
    this.invoked += 1;
    const readOnly = operation.kind === 'get';
    if (!readOnly) client.requestNumber += 1;
    client.pending = {
      handle,
      operation,
      f,
      key,
      written,
      invokeValue: value,
      durability,
      requestNumber: readOnly ? 0 : client.requestNumber,
      startedAt: this.cluster.now,
      attemptIds: new Set(),
      nextAttemptAt: this.cluster.now,
      liveness: this.livenessPhase,
    };
    this.send(client, client.pending);
  }

  private send(client: SimClient, pending: Pending): void {
    pending.nextAttemptAt = this.cluster.now + this.options.attemptTimeoutTicks;
    const primary = this.cluster.view()?.primary;
    if (primary === undefined) return;
    const id = this.nextRequestId++;
    pending.attemptIds.add(id);
    this.cluster.submit(client.index, primary, {
      type: 'request',
      id,
      clientId: clientId(client.id),
      requestNumber: pending.requestNumber,
      readOnly: pending.operation.kind === 'get',
      durability: pending.durability,
      operation: encodeOperation(pending.operation),
    });
  }

  private onReply(client: SimClient, reply: ClientReply): void {
    const pending = client.pending;
    if (pending === null || !pending.attemptIds.has(reply.id)) return;
    if (!reply.ok) {
      if (reply.code === ErrorCode.notPrimary || reply.code === ErrorCode.overloaded) {
        pending.nextAttemptAt = Math.min(pending.nextAttemptAt, this.cluster.now + retryBackoffTicks);
      } else if (reply.code === ErrorCode.requestTooOld) {
        this.finish(client, 'info', null);
      } else {
        this.finish(client, 'fail', null);
      }
      return;
    }
    const { operation } = pending;
    if (pending.durability === 'async' && operation.kind !== 'get') {
      if (operation.kind === 'append' && pending.written !== null) {
        const tokens = this.asyncAppendsAcknowledged.get(pending.key) ?? new Set<string>();
        tokens.add(pending.written);
        this.asyncAppendsAcknowledged.set(pending.key, tokens);
      }
      // Acknowledged, but a failover may still lose it: unknown as far as linearizability goes.
      this.finish(client, 'info', null, true);
      return;
    }
    switch (operation.kind) {
      case 'get': {
        const value = text(decodeResult('get', reply.result).value);
        client.lastRead.set(pending.key, value);
        this.finish(client, 'ok', value);
        return;
      }
      case 'put':
        this.finish(client, 'ok', pending.written);
        return;
      case 'append':
        this.finish(client, 'ok', text(decodeResult('append', reply.result).value));
        return;
      case 'cas': {
        const result = decodeResult('cas', reply.result);
        if (result.swapped) client.lastRead.set(pending.key, pending.written);
        this.finish(client, result.swapped ? 'ok' : 'fail', pending.invokeValue);
        return;
      }
      case 'incr':
        this.finish(client, 'ok', decodeResult('incr', reply.result).value);
        return;
      case 'delete':
        this.finish(client, 'ok', null);
    }
  }

  private finish(
    client: SimClient,
    status: 'ok' | 'fail' | 'info',
    value: EventValue,
    acknowledged = false,
  ): void {
    const pending = client.pending;
    if (pending === null) return;
    if (pending.liveness && status === 'info' && !acknowledged) {
      this.livenessFailures.push(`${pending.f} ${pending.key} by client ${client.index} did not complete`);
    }
    if (status === 'ok') {
      this.recorder.ok(pending.handle, value, this.time());
    } else if (status === 'fail') {
      this.recorder.fail(pending.handle, this.time());
    } else {
      this.recorder.info(pending.handle, this.time());
    }
    client.pending = null;
    client.operationsDone += 1;
  }

  private time(): number {
    return this.cluster.now * nanosecondsPerTick;
  }
}
