// The phases of one measurement: a warmup (not counted) and then the runs, in order, each measured
// by the caller's function; a fired signal skips the phases not yet started. The bench and the
// peers comparison measure the same way.

export interface PhasePlan {
  readonly durationSeconds: number;
  readonly runs: number;
  readonly warmupSeconds: number;
  readonly signal?: AbortSignal;
}

export interface Phases<T> {
  readonly warmup: T | null;
  readonly runs: readonly T[];
}

export async function runPhases<T>(
  plan: PhasePlan,
  measure: (phase: string, seconds: number) => Promise<T>,
): Promise<Phases<T>> {
  const warmup = plan.warmupSeconds > 0 ? await measure('warmup', plan.warmupSeconds) : null;
  const runs: T[] = [];
  for (let run = 1; run <= plan.runs && plan.signal?.aborted !== true; run++) {
    runs.push(await measure(`run ${run}/${plan.runs}`, plan.durationSeconds));
  }
  return { warmup, runs };
}
