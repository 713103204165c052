// The load shape `understudy bench` runs, for the peers: each client cycles over its own keys
// (bench/CLIENT/N), reads in the same cycle as the writes, every write a new value of the same size (the number of the write, padded, as
// the bench's values are: a store may skip a write of the value it already holds), measured by the
// same closed loop, warmup and median run.

import { valueText } from '../caller-keys.js';
import { type LoopResult, runClosedLoop } from '../closed-loop.js';
import { medianRun } from '../median.js';
import { type PhasePlan, runPhases } from '../phases.js';
import { CpuMeter, type CpuPerOperation, type NamedProcess } from '../process-cpu.js';

/** A peer call that takes longer fails (every call must be bounded for the loop to end). */
export const PEER_CALL_TIMEOUT_MS = 10_000;

/**
 * The keys and values of one client: the next key in its cycle, and a value that no write repeats.
 * Reads take the keys in the same cycle, so they start over the keys the writes before them wrote.
 */
export class KeyCycle {
  private keyIndex = 0;
  private writes = 0;

  constructor(
    private readonly client: number,
    private readonly keys: number,
    private readonly valueBytes: number,
  ) {}

  nextKey(): string {
    const key = `bench/${this.client}/${this.keyIndex}`;
    this.keyIndex = (this.keyIndex + 1) % this.keys;
    return key;
  }

  nextWrite(): { readonly key: string; readonly value: string } {
    this.writes += 1;
    return { key: this.nextKey(), value: valueText(this.writes, this.valueBytes) };
  }

  /**
   * Throws unless `value` is what a read of this shape may find: nothing (a key no write reached
   * yet) or a value of the written size.
   */
  checkRead(key: string, value: string | null): void {
    if (value !== null && value.length !== this.valueBytes) {
      throw new Error(`a read of ${key} found ${value.length} bytes, not ${this.valueBytes}`);
    }
  }
}

/** One run, with what each operation cost the servers and this load generator in CPU. */
export type PeerRun = LoopResult & { readonly cpu: CpuPerOperation | null };

export interface PeerMeasurement {
  readonly median: PeerRun;
  readonly runs: readonly PeerRun[];
}

/**
 * The warmup and the runs of `call` by `callers` callers; the median run by throughput. `servers`
 * are the peer's processes, whose CPU time each run reads.
 */
export async function measureLoad(
  plan: PhasePlan,
  callers: number,
  call: (caller: number) => Promise<void>,
  servers: () => readonly NamedProcess[],
): Promise<PeerMeasurement> {
  const meter = new CpuMeter(servers);
  const { runs } = await runPhases(plan, (_phase, seconds) =>
    meter.measure(() =>
      runClosedLoop({
        callers,
        durationMs: seconds * 1000,
        call,
        ...(plan.signal === undefined ? {} : { signal: plan.signal }),
      }),
    ),
  );
  return { median: medianRun(runs), runs };
}
