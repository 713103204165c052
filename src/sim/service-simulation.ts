// The simulator with a service of your own: the real protocol core under the same seeded faults as
// the key/value runs (SimCluster, planFaults, Nemesis), driven by requests the service chooses
// (service-workload.ts), and judged by the service's own check of the history, besides what holds
// for every service: requests started after the faults are healed complete, and every replica ends
// with the whole log applied and the same state. The phases mirror run-seed.ts (first view, faults,
// heal, liveness, convergence); that file keeps its own, so the key/value seeds keep their schedules.
//
// A seed replays exactly as long as the service is deterministic (`apply` and `restore`, and
// `execute` too: the simulator gives it no clock, so time must come in the request, from
// `nowMs`) and the workload draws only from the random source it is given.

import { createHash } from 'node:crypto';
import type { StateMachineFactory } from '../protocol/state-machine.js';
import type { TestOnlyFaults } from '../protocol/test-only-faults.js';
import type { ReplicaId } from '../protocol/types.js';
import { SimCluster } from './cluster.js';
import { checkConvergence } from './convergence.js';
import { describePlan, type FaultKind, Nemesis, planFaults } from './faults.js';
import { Random } from './random.js';
import { type RequestChooser, ServiceWorkload, type SimulatedOperation } from './service-workload.js';

export interface ServiceSimulation {
  /** The service under test. The run compares every replica's `snapshot()` at the end: one state, one encoding. */
  readonly createStateMachine: StateMachineFactory;
  /** Each client's next request (one at a time per client), or null to stay idle this tick. */
  readonly nextRequest: RequestChooser;
  /** What the service promises, over the whole history: one message per violation, none if it held. */
  readonly check: (history: readonly SimulatedOperation[]) => readonly string[];
  /** Simulated clients (default 4). */
  readonly clients?: number;
}

export interface ServiceSimulationOptions {
  /** Ticks of faults (10 simulated ms each); default 2,000. */
  readonly faultTicks?: number;
  /**
   * Deliberate bugs in the protocol core, each switching off one of its rules: to see that a
   * service's check catches what such a bug does to its history. Never for a real verdict.
   */
  readonly testOnlyFaults?: TestOnlyFaults;
}

export interface ServiceSeedResult {
  readonly seed: number;
  /** The faults and limits the seed drew. */
  readonly plan: string;
  /** Equal for two runs of one seed: the run is deterministic. */
  readonly traceDigest: string;
  readonly history: readonly SimulatedOperation[];
  readonly failovers: number;
  readonly faults: ReadonlyMap<FaultKind, number>;
  readonly violations: readonly string[];
  /** The last events, for a post-mortem. */
  readonly trace: readonly string[];
}

const clientsDefault = 4;
const faultTicksDefault = 2_000;
const firstViewTicksMax = 3_000;
const livenessRequestsPerClient = 3;
const livenessTicksMax = 8_000;
const attemptTimeoutTicks = 80;
const livenessDeadlineTicks = 1_500;
/** The workload's randomness is its own stream, apart from the faults': what it draws moves no fault. */
const workloadSeedMask = 0x5e41_ce00;

/** Runs one seed of `simulation`; never throws for what the run found (an assertion is a violation). */
export function simulateService(
  seed: number,
  simulation: ServiceSimulation,
  options: ServiceSimulationOptions = {},
): ServiceSeedResult {
  const clients = simulation.clients ?? clientsDefault;
  const plan = planFaults(new Random(seed ^ 0x5eed5eed), clients);
  const cluster = new SimCluster({
    seed,
    replicaCount: plan.replicaCount,
    config: plan.config,
    createStateMachine: simulation.createStateMachine,
    ...(options.testOnlyFaults === undefined ? {} : { testOnlyFaults: options.testOnlyFaults }),
    ...(plan.etcdHome === null ? {} : { etcdHome: plan.etcdHome }),
  });
  const workload = new ServiceWorkload(cluster, new Random(seed ^ workloadSeedMask), simulation.nextRequest, {
    clients,
    attemptTimeoutTicks,
    deadlineTicks: plan.clientDeadlineTicks,
    livenessDeadlineTicks,
  });
  const violations: string[] = [];
  const primaries: ReplicaId[] = [];
  let nemesis: Nemesis | null = null;
  try {
    const notePrimary = () => {
      const primary = cluster.view()?.primary;
      if (primary !== undefined && primaries.at(-1) !== primary) primaries.push(primary);
    };
    const formed = cluster.runUntil(
      () => (cluster.view()?.backups.length ?? 0) === plan.replicaCount - 1,
      firstViewTicksMax,
    );
    if (!formed) violations.push('the first view never formed');
    const faults = new Nemesis(cluster, cluster.random, plan);
    nemesis = faults;
    for (let tick = 0; tick < (options.faultTicks ?? faultTicksDefault); tick++) {
      faults.step();
      workload.step();
      cluster.step();
      notePrimary();
    }
    faults.healAll();
    workload.startLivenessPhase(livenessRequestsPerClient);
    const live = cluster.runUntil(() => {
      workload.step();
      notePrimary();
      return workload.livenessDone;
    }, livenessTicksMax);
    violations.push(...faults.violations);
    if (!live) violations.push('liveness: requests started after the heal did not complete');
    violations.push(...workload.livenessFailures.map((failure) => `liveness: ${failure}`));
    workload.stopGenerating();
    for (const [cause, count] of workload.unexpectedReplies)
      violations.push(`${count} unexpected replies: ${cause}`);
    checkConvergence(cluster, violations, (state) =>
      state === undefined
        ? 'missing'
        : `snapshot ${createHash('sha256').update(state.snapshot()).digest('hex').slice(0, 16)}`,
    );
    violations.push(...simulation.check(workload.history));
  } catch (error) {
    // An assertion in the core (or a throw in the service) is what the seed found: report it.
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    violations.push(`the run stopped on an error: ${message.split('\n').slice(0, 4).join(' | ')}`);
  }
  violations.push(...cluster.violations);
  return {
    seed,
    plan: describePlan(plan, 'service'),
    traceDigest: cluster.traceDigest(),
    history: workload.history,
    failovers: Math.max(0, primaries.length - 1),
    faults: (nemesis as Nemesis | null)?.injected ?? new Map(),
    violations,
    trace: cluster.recentTrace(),
  };
}
