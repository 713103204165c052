// The lock service in understudy's simulator: whole clusters in one process under seeded faults
// (crashes, partitions, lost and torn writes, failovers), with clients contending for two locks,
// and the lease check (lease-history.ts) run over every seed's history. Each client acquires a
// lock, holds it for a while (sometimes past its lease), renews it now and then, and releases it
// or lets it run out; a refused client waits for the lease it was shown, or a little.

import type { ServiceSimulation, SimulatedOperation, SimulationRandom } from 'understudy/simulator';
import { findLeaseViolations, type Grant, type ReleaseAttempt } from './lease-history.js';
import {
  type AcquireResult,
  decodeOperation,
  decodeTrusted,
  encode,
  type LockOperation,
  type ReleaseResult,
} from './lock-messages.js';
import createLockService from './lock-service.js';

const locks = ['printer', 'deploy'] as const;
const leaseChoicesMs = [100, 300, 1_000, 3_000] as const;
/** Chances per request, for a client that holds a lock: renew it; once its hold is over: release it. */
const renewProbability = 0.1;
const releaseProbability = 0.7;
const inspectProbability = 0.1;

interface Holding {
  readonly lock: string;
  readonly token: number;
  readonly leaseMs: number;
  /** When this client means to let go (past the lease, sometimes: the lease then runs out first). */
  readonly releaseAtMs: number;
}

interface ClientMemory {
  holding: Holding | null;
  idleUntilMs: number;
  /** The previous operation already taken into account. */
  seen: SimulatedOperation | null;
}

/** A fresh simulation (its clients' memory is per run): pass it to `simulateService`. */
export function lockSimulation(createStateMachine = createLockService): ServiceSimulation {
  const clients = new Map<number, ClientMemory>();
  return {
    createStateMachine,
    clients: 4,
    nextRequest: ({ client, nowMs, random, previous }) => {
      let memory = clients.get(client);
      if (memory === undefined) {
        memory = { holding: null, idleUntilMs: 0, seen: null };
        clients.set(client, memory);
      }
      if (previous !== null && previous !== memory.seen) {
        memory.seen = previous;
        learn(memory, previous, nowMs, random);
      }
      if (nowMs < memory.idleUntilMs) return null;
      const owner = `owner-${client}`;
      const holding = memory.holding;
      if (holding !== null) {
        if (nowMs >= holding.releaseAtMs) {
          memory.holding = null;
          if (!random.chance(releaseProbability)) return null; // let the lease run out
          return write({ op: 'release', lock: holding.lock, owner, token: holding.token, nowMs });
        }
        if (!random.chance(renewProbability)) return null;
        return write({ op: 'acquire', lock: holding.lock, owner, leaseMs: holding.leaseMs, nowMs });
      }
      const lock = random.pick(locks);
      if (random.chance(inspectProbability))
        return { kind: 'read', operation: encode({ op: 'inspect', lock, nowMs }) };
      return write({ op: 'acquire', lock, owner, leaseMs: random.pick(leaseChoicesMs), nowMs });
    },
    check: checkLockHistory,
  };
}

function write(operation: LockOperation) {
  return { kind: 'write', operation: encode(operation), durability: 'sync' } as const;
}

/** What a client makes of its last answer. */
function learn(
  memory: ClientMemory,
  operation: SimulatedOperation,
  nowMs: number,
  random: SimulationRandom,
): void {
  const request = decodeOperation(operation.request.operation);
  if (request.op !== 'acquire' || operation.outcome.type !== 'ok') return;
  const result = decodeTrusted<AcquireResult>(operation.outcome.result);
  if (result.granted) {
    const renewal = memory.holding?.token === result.lease.token;
    const releaseAtMs = renewal
      ? (memory.holding?.releaseAtMs ?? nowMs)
      : nowMs + random.integer(0, Math.round(request.leaseMs * 1.2));
    memory.holding = { lock: request.lock, token: result.lease.token, leaseMs: request.leaseMs, releaseAtMs };
    return;
  }
  memory.holding = null;
  memory.idleUntilMs = Math.min(result.holder.expiresAtMs, nowMs + random.integer(20, 200));
}

/** The lease check over a simulated history; any refusal is a finding too (every request is valid). */
export function checkLockHistory(history: readonly SimulatedOperation[]): string[] {
  const grants: Grant[] = [];
  const releases: ReleaseAttempt[] = [];
  const violations: string[] = [];
  for (const { request, outcome } of history) {
    const operation = decodeOperation(request.operation);
    if (outcome.type === 'refused') {
      violations.push(
        `${operation.op} of ${operation.lock} was refused: ${outcome.code}: ${outcome.message}`,
      );
      continue;
    }
    if (operation.op === 'acquire' && outcome.type === 'ok') {
      const result = decodeTrusted<AcquireResult>(outcome.result);
      if (result.granted) grants.push({ lock: operation.lock, lease: result.lease, atMs: result.atMs });
    } else if (operation.op === 'release') {
      const released = outcome.type === 'ok' ? decodeTrusted<ReleaseResult>(outcome.result).released : null;
      releases.push({ ...operation, sentAtMs: operation.nowMs, released });
    }
  }
  return [...violations, ...findLeaseViolations(grants, releases)];
}

/** For `npm run sim -- --service` in understudy: a fresh simulation per seed. */
export default lockSimulation;
