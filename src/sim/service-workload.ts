// Simulated clients of a service of your own (service-simulation.ts): each client runs one request
// at a time, chosen by the service's `nextRequest`, and behaves as the real client does: it opens a
// session before its first request, sends a write again under the same request number after a
// timeout or NOT_PRIMARY (so the cluster runs it at most once), and gives up at a deadline. Every
// request goes into the history with what it got:
//
//   ok                                  → ok, with the reply's bytes
//   the service's refusal (any other code, or ENTRY_TOO_LARGE)
//                                       → refused, with the code (a write's refusal is logged and
//                                         answered once committed: an observation, like a result)
//   NOT_PRIMARY, OVERLOADED             → sent again soon; nothing happened
//   SESSION_EXPIRED, REQUEST_TOO_OLD,
//   no answer by the deadline           → unknown: a write may have run, once
//
// SESSION_EXPIRED also retires the client id: the client goes on under a new one.

import { ErrorCode } from '../protocol/error-codes.js';
import type { ClientReply } from '../protocol/messages.js';
import { clientId, type Durability, type ReplicaId } from '../protocol/types.js';
import { type SimCluster, simMsPerTick } from './cluster.js';
import type { Random } from './random.js';

/** What a simulated client asks: a write (executed once, logged) or a read (answered by the primary). */
export interface SimulatedRequest {
  readonly kind: 'write' | 'read';
  readonly operation: Uint8Array;
  /** Writes only; sync unless given. A read is always at the primary. */
  readonly durability?: Durability;
}

/** What a request got. `unknown`: no definite answer; a write may or may not have run (at most once). */
export type SimulatedOutcome =
  | { readonly type: 'ok'; readonly result: Uint8Array }
  | { readonly type: 'refused'; readonly code: string; readonly message: string }
  | { readonly type: 'unknown'; readonly why: string };

/** One request of the history, from its first send to its outcome, in simulated milliseconds. */
export interface SimulatedOperation {
  readonly client: number;
  readonly request: SimulatedRequest;
  readonly invokedAtMs: number;
  readonly completedAtMs: number;
  readonly outcome: SimulatedOutcome;
}

/** What `nextRequest` is told about one client. */
export interface RequestContext {
  readonly client: number;
  /** Simulated time since the run began, one clock for all clients: what a request may carry as "now". */
  readonly nowMs: number;
  /** The run's seeded randomness: a workload that draws from anything else no longer replays from its seed. */
  readonly random: SimulationRandom;
  /** This client's previous request and its outcome; null before its first. */
  readonly previous: SimulatedOperation | null;
}

/** The seeded randomness a workload draws from. */
export interface SimulationRandom {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [low, high]. */
  integer(low: number, high: number): number;
  chance(probability: number): boolean;
  pick<T>(items: readonly T[]): T;
}

/** Chooses each client's next request, or null to stay idle this tick. */
export type RequestChooser = (context: RequestContext) => SimulatedRequest | null;

export interface ServiceWorkloadOptions {
  readonly clients: number;
  /** Send again when no reply came for this long. */
  readonly attemptTimeoutTicks: number;
  /** Give up (outcome unknown) after this long. */
  readonly deadlineTicks: number;
  /** The deadline once faults are healed: long enough for the cluster to recover. */
  readonly livenessDeadlineTicks: number;
}

interface Pending {
  readonly request: SimulatedRequest;
  readonly requestNumber: number;
  readonly startedAt: number;
  readonly attemptIds: Set<number>;
  nextAttemptAt: number;
  /** Started after the heal: it must end with a definite answer. */
  readonly liveness: boolean;
}

interface SimulatedClient {
  readonly index: number;
  /** Grows when a session expires: a new client id, never the old one reopened. */
  generation: number;
  sessionOpen: boolean;
  readonly sessionAttemptIds: Set<number>;
  nextSessionAttemptAt: number;
  requestNumber: number;
  pending: Pending | null;
  previous: SimulatedOperation | null;
  knownPrimary: ReplicaId | null;
}

const retryBackoffTicks = 5;
const noOperation = new Uint8Array(0);

export class ServiceWorkload {
  readonly history: SimulatedOperation[] = [];
  readonly livenessFailures: string[] = [];
  /** Answers no client should get (a refused session open), by cause. */
  readonly unexpectedReplies = new Map<string, number>();
  private readonly clients: SimulatedClient[] = [];
  private nextRequestId = 1;
  private generating = true;
  private livenessPhase = false;
  private livenessRequestsLeft = 0;

  constructor(
    private readonly cluster: SimCluster,
    private readonly random: Random,
    private readonly choose: RequestChooser,
    private readonly options: ServiceWorkloadOptions,
  ) {
    for (let index = 0; index < options.clients; index++) {
      this.clients.push({
        index,
        generation: 0,
        sessionOpen: false,
        sessionAttemptIds: new Set(),
        nextSessionAttemptAt: 0,
        requestNumber: 0,
        pending: null,
        previous: null,
        knownPrimary: null,
      });
    }
  }

  /** From now on every new request must complete: the faults are healed. */
  startLivenessPhase(requestsPerClient: number): void {
    this.livenessPhase = true;
    this.livenessRequestsLeft = requestsPerClient * this.clients.length;
  }

  get livenessDone(): boolean {
    return this.livenessRequestsLeft <= 0 && this.idle;
  }

  stopGenerating(): void {
    this.generating = false;
  }

  get idle(): boolean {
    return this.clients.every((client) => client.pending === null);
  }

  step(): void {
    for (const client of this.clients) {
      for (const reply of this.cluster.takeReplies(client.index)) this.onReply(client, reply);
      if (!client.sessionOpen) {
        if (this.generating && this.cluster.now >= client.nextSessionAttemptAt) this.openSession(client);
        continue;
      }
      const pending = client.pending;
      if (pending === null) {
        if (this.generating && (!this.livenessPhase || this.livenessRequestsLeft > 0)) this.begin(client);
      } else if (this.cluster.now - pending.startedAt >= this.deadlineTicks(pending)) {
        this.finish(client, { type: 'unknown', why: 'no answer by the deadline' });
      } else if (this.cluster.now >= pending.nextAttemptAt) {
        this.send(client, pending);
      }
    }
  }

  private deadlineTicks(pending: Pending): number {
    return pending.liveness ? this.options.livenessDeadlineTicks : this.options.deadlineTicks;
  }

  private clientIdOf(client: SimulatedClient) {
    return clientId(`sim-service-${client.index}.${client.generation}`);
  }

  private begin(client: SimulatedClient): void {
    const request = this.choose({
      client: client.index,
      nowMs: this.cluster.now * simMsPerTick,
      random: this.random,
      previous: client.previous,
    });
    if (request === null) return;
    if (this.livenessPhase) this.livenessRequestsLeft -= 1;
    const write = request.kind === 'write';
    if (write) client.requestNumber += 1;
    client.pending = {
      request: { ...request, durability: write ? (request.durability ?? 'sync') : 'sync' },
      requestNumber: write ? client.requestNumber : 0,
      startedAt: this.cluster.now,
      attemptIds: new Set(),
      nextAttemptAt: this.cluster.now,
      liveness: this.livenessPhase,
    };
    this.send(client, client.pending);
  }

  private openSession(client: SimulatedClient): void {
    client.nextSessionAttemptAt = this.cluster.now + this.options.attemptTimeoutTicks;
    const primary = this.primaryFor(client, true);
    if (primary === null) return;
    const id = this.nextRequestId++;
    client.sessionAttemptIds.add(id);
    this.cluster.submit(client.index, primary, {
      type: 'request',
      id,
      kind: 'open-session',
      clientId: this.clientIdOf(client),
      requestNumber: 0,
      durability: 'sync',
      operation: noOperation,
      staleness: null,
    });
  }

  private send(client: SimulatedClient, pending: Pending): void {
    pending.nextAttemptAt = this.cluster.now + this.options.attemptTimeoutTicks;
    const to = this.primaryFor(client, pending.attemptIds.size > 0);
    if (to === null) return;
    const id = this.nextRequestId++;
    pending.attemptIds.add(id);
    this.cluster.submit(client.index, to, {
      type: 'request',
      id,
      kind: pending.request.kind,
      clientId: this.clientIdOf(client),
      requestNumber: pending.requestNumber,
      durability: pending.request.durability ?? 'sync',
      operation: pending.request.operation,
      staleness: null,
    });
  }

  /** Like the real client, it asks the coordinator again only to retry: a new request may reach a deposed primary. */
  private primaryFor(client: SimulatedClient, retry: boolean): ReplicaId | null {
    if (client.knownPrimary === null || retry) client.knownPrimary = this.cluster.view()?.primary ?? null;
    return client.knownPrimary;
  }

  private onReply(client: SimulatedClient, reply: ClientReply): void {
    if (!client.sessionOpen && client.sessionAttemptIds.has(reply.id)) {
      if (reply.ok) {
        client.sessionOpen = true;
        client.sessionAttemptIds.clear();
      } else if (reply.code === ErrorCode.notPrimary || reply.code === ErrorCode.overloaded) {
        client.nextSessionAttemptAt = Math.min(
          client.nextSessionAttemptAt,
          this.cluster.now + retryBackoffTicks,
        );
      } else {
        const cause = `open-session ${reply.code}`;
        this.unexpectedReplies.set(cause, (this.unexpectedReplies.get(cause) ?? 0) + 1);
      }
      return;
    }
    const pending = client.pending;
    if (pending === null || !pending.attemptIds.has(reply.id)) return; // an earlier attempt's late answer
    if (reply.ok) {
      this.finish(client, { type: 'ok', result: reply.result });
      return;
    }
    switch (reply.code) {
      case ErrorCode.notPrimary:
      case ErrorCode.overloaded:
        pending.nextAttemptAt = Math.min(pending.nextAttemptAt, this.cluster.now + retryBackoffTicks);
        return;
      case ErrorCode.sessionExpired:
        this.finish(client, { type: 'unknown', why: reply.code }, true);
        client.generation += 1;
        client.requestNumber = 0;
        client.sessionOpen = false;
        client.sessionAttemptIds.clear();
        client.nextSessionAttemptAt = this.cluster.now;
        return;
      case ErrorCode.requestTooOld:
      case ErrorCode.requestCancelled:
        this.finish(client, { type: 'unknown', why: reply.code }, true);
        return;
      default:
        this.finish(client, { type: 'refused', code: reply.code, message: reply.message });
    }
  }

  /** `answered`: the cluster did answer, though the outcome stays unknown (not a liveness failure). */
  private finish(client: SimulatedClient, outcome: SimulatedOutcome, answered = false): void {
    const pending = client.pending;
    if (pending === null) return;
    if (pending.liveness && outcome.type === 'unknown' && !answered) {
      this.livenessFailures.push(`a ${pending.request.kind} of client ${client.index} did not complete`);
    }
    const operation: SimulatedOperation = {
      client: client.index,
      request: pending.request,
      invokedAtMs: pending.startedAt * simMsPerTick,
      completedAtMs: this.cluster.now * simMsPerTick,
      outcome,
    };
    this.history.push(operation);
    client.previous = operation;
    client.pending = null;
  }
}
