// Resident memory of each replica through a run (issue 8, item 5: it must not grow). A sampler reads
// each replica process's VmRSS once a second, by its process id; the verdict compares the largest
// sample of the run's second minute with the largest of its last minute:
//
//   grew  ⇔  last-minute max > RESIDENT_GROWTH_FACTOR_MAX × second-minute max + RESIDENT_GROWTH_SLACK_BYTES
//
// Maxima, not means, so that the garbage collector's sawtooth counts by its peaks on both sides. The
// first minute is the warm-up and is not compared: even after the scenario's prefill, a replica's
// memory climbs through it to its working size (the first snapshots of the whole state, V8 sizing
// its heap) and then holds, which a rule against the first minute flagged as growth in every run
// (docs/PERFORMANCE.md, "Memory through a 10-minute load"). A leak shows as a last minute above the
// second. A window is a minute, or a third of the run when the run is shorter than three minutes, so
// the windows never overlap. The verdict is pure (judgeResident).

import { type MeasuredCluster, residentBytes } from '../tools/measure-cluster.js';

export const RESIDENT_SAMPLE_INTERVAL_MS = 1000;
/** The length of each window (warm-up, baseline, last), at most. */
export const RESIDENT_WINDOW_MS_MAX = 60_000;
export const RESIDENT_GROWTH_FACTOR_MAX = 1.1;
/** 5 MB (the project's MB: 10^6 bytes). */
export const RESIDENT_GROWTH_SLACK_BYTES = 5_000_000;
/** The rule, as the reports and the docs state it. */
export const RESIDENT_GROWTH_RULE =
  `grew if the last minute's max > ${RESIDENT_GROWTH_FACTOR_MAX} × the second minute's max + ` +
  `${RESIDENT_GROWTH_SLACK_BYTES / 1e6} MB (VmRSS sampled every ${RESIDENT_SAMPLE_INTERVAL_MS / 1000} s; ` +
  'the first minute is the warm-up; a run shorter than 3 minutes uses thirds)';

export interface ResidentSample {
  /** Since the run started. */
  readonly atMs: number;
  readonly bytes: number;
}

export interface ResidentVerdict {
  /** The length of each window compared. */
  readonly windowMs: number;
  /** The peak of the window after the warm-up; null when it holds no sample. */
  readonly baselineWindowMaxBytes: number | null;
  readonly lastWindowMaxBytes: number | null;
  /** last − baseline, or null. */
  readonly growthBytes: number | null;
  /** Null when a window holds no sample. */
  readonly grew: boolean | null;
}

export interface ReplicaMemory extends ResidentVerdict {
  readonly id: string;
  readonly samples: readonly ResidentSample[];
  /** Samples taken while the replica's process was not running (none in a healthy run). */
  readonly notRunningSamples: number;
}

export function residentWindowMs(runMs: number): number {
  return Math.min(RESIDENT_WINDOW_MS_MAX, runMs / 3);
}

/** The verdict on one replica's samples over a run of `runMs`. */
export function judgeResident(samples: readonly ResidentSample[], runMs: number): ResidentVerdict {
  const windowMs = residentWindowMs(runMs);
  const maxOf = (window: readonly ResidentSample[]): number | null =>
    window.length === 0 ? null : Math.max(...window.map((sample) => sample.bytes));
  const baseline = maxOf(samples.filter((sample) => sample.atMs >= windowMs && sample.atMs < 2 * windowMs));
  const last = maxOf(samples.filter((sample) => sample.atMs > runMs - windowMs));
  if (baseline === null || last === null) {
    return {
      windowMs,
      baselineWindowMaxBytes: baseline,
      lastWindowMaxBytes: last,
      growthBytes: null,
      grew: null,
    };
  }
  return {
    windowMs,
    baselineWindowMaxBytes: baseline,
    lastWindowMaxBytes: last,
    growthBytes: last - baseline,
    grew: last > RESIDENT_GROWTH_FACTOR_MAX * baseline + RESIDENT_GROWTH_SLACK_BYTES,
  };
}

/** Samples every replica's resident memory from start() to stop(), which judges each one. */
export class ResidentMemorySampler {
  private readonly samples = new Map<string, ResidentSample[]>();
  private readonly notRunning = new Map<string, number>();
  private startedAt = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly cluster: MeasuredCluster) {}

  start(): void {
    this.startedAt = performance.now();
    this.sample();
    this.timer = setInterval(() => this.sample(), RESIDENT_SAMPLE_INTERVAL_MS);
  }

  /** Takes a last sample and judges each replica over the time since start(). */
  stop(): { readonly windowMs: number; readonly replicas: ReplicaMemory[] } {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.sample();
    const runMs = Math.round(performance.now() - this.startedAt);
    const replicas = this.cluster.replicaIds.map((id) => {
      const samples = this.samples.get(id) ?? [];
      return {
        id,
        ...judgeResident(samples, runMs),
        samples,
        notRunningSamples: this.notRunning.get(id) ?? 0,
      };
    });
    return { windowMs: Math.round(residentWindowMs(runMs)), replicas };
  }

  private sample(): void {
    const atMs = Math.round(performance.now() - this.startedAt);
    for (const id of this.cluster.replicaIds) {
      const bytes = residentBytes(this.cluster.replica(id).pid);
      if (bytes === null) {
        this.notRunning.set(id, (this.notRunning.get(id) ?? 0) + 1);
        continue;
      }
      const samples = this.samples.get(id) ?? [];
      samples.push({ atMs, bytes });
      this.samples.set(id, samples);
    }
  }
}
