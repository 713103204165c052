// The operation mix as a fixed cycle of kinds, interleaved (smooth weighted round-robin: put=3,get=1
// gives put,put,get,put rather than put,put,put,get). A caller walks the cycle from its own offset,
// so callers do not all issue the same kind at the same moment; no randomness, so a run's sequence
// of operations is the same every time.

import { type Mix, type OperationKind, operationKinds } from './shape.js';

export function mixCycle(mix: Mix): readonly OperationKind[] {
  const total = operationKinds.reduce((sum, kind) => sum + mix[kind], 0);
  const current: Record<OperationKind, number> = { put: 0, get: 0, append: 0, cas: 0, incr: 0 };
  const cycle: OperationKind[] = [];
  for (let slot = 0; slot < total; slot++) {
    let chosen: OperationKind | null = null;
    for (const kind of operationKinds) {
      if (mix[kind] === 0) continue;
      current[kind] += mix[kind];
      if (chosen === null || current[kind] > current[chosen]) chosen = kind;
    }
    if (chosen === null) throw new Error('a mix with no positive weight');
    current[chosen] -= total;
    cycle.push(chosen);
  }
  return cycle;
}
