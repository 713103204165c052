// Understudy's rows of the comparison, run by `understudy bench`'s own code (run.ts) on local
// clusters it starts: 1 replica with sync puts; 3 replicas with sync puts, then gets over the keys
// those puts wrote (the same callers, so each get is checked against the last put), then replicated
// and async puts under keys of their own. One client object, so one connection, per client, as the peers have.

import { DEADLINE_MS_DEFAULT } from '../../client/index.js';
import { type BenchReport, newKeyPrefix, runBench } from '../run.js';
import { BENCH_SHAPE_DEFAULT, type BenchShape, parseMix } from '../shape.js';
import { startLocalCluster } from '../target.js';
import { createCallers } from '../understudy-load.js';
import type { SystemId } from './comparison.js';

export interface UnderstudyPlan {
  readonly durationSeconds: number;
  readonly runs: number;
  readonly warmupSeconds: number;
  readonly clientCounts: readonly number[];
  readonly signal?: AbortSignal;
}

export async function measureUnderstudy(
  plan: UnderstudyPlan,
  record: (system: SystemId, clients: number, report: BenchReport) => void,
): Promise<void> {
  const shapeFor = (clients: number, changes: Partial<BenchShape>): BenchShape => ({
    ...BENCH_SHAPE_DEFAULT,
    clients,
    durationSeconds: plan.durationSeconds,
    runs: plan.runs,
    warmupSeconds: plan.warmupSeconds,
    ...changes,
  });
  const options = {
    timeoutMs: DEADLINE_MS_DEFAULT,
    verify: false,
    ...(plan.signal === undefined ? {} : { signal: plan.signal }),
  };
  const put = parseMix('put=1');
  const get = parseMix('get=1');

  const single = await startLocalCluster(1);
  try {
    for (const clients of plan.clientCounts) {
      const shape = shapeFor(clients, { mix: put, durability: 'sync' });
      record('u1-sync', clients, await runBench(single, { ...options, shape }));
    }
  } finally {
    await single.close();
  }

  const three = await startLocalCluster(3);
  try {
    for (const clients of plan.clientCounts) {
      const putShape = shapeFor(clients, { mix: put, durability: 'sync' });
      const callers = createCallers(putShape, newKeyPrefix());
      record('u3-sync', clients, await runBench(three, { ...options, shape: putShape, callers }));
      const getShape = shapeFor(clients, { mix: get });
      record('u3-get', clients, await runBench(three, { ...options, shape: getShape, callers }));
    }
    for (const clients of plan.clientCounts) {
      const shape = shapeFor(clients, { mix: put, durability: 'replicated' });
      record('u3-replicated', clients, await runBench(three, { ...options, shape }));
    }
    for (const clients of plan.clientCounts) {
      const shape = shapeFor(clients, { mix: put, durability: 'async' });
      record('u3-async', clients, await runBench(three, { ...options, shape }));
    }
  } finally {
    await three.close();
  }
}
