// The load shape of a benchmark run, its defaults and its limits, named once. The defaults are the
// shape of issue 8's comparison: closed loop, one request in flight per client, 64-byte values,
// each client cycling over 10,000 keys, 5 s runs, the median of 3. Everything here is pure: the
// CLI checks flags against these limits, and the peers comparison runs the same shape.

import type { Durability } from '../protocol/types.js';
import { valueSizeMaxBytes } from '../state-machine/kv-limits.js';

export const BENCH_CLIENTS_DEFAULT = 32;
export const BENCH_CLIENTS_MAX = 1024;
export const BENCH_PIPELINE_DEFAULT = 1;
export const BENCH_PIPELINE_MAX = 256;
export const BENCH_VALUE_BYTES_DEFAULT = 64;
/** Room for the write number a value carries (up to 2^32 in decimal), which the checks read back. */
export const BENCH_VALUE_BYTES_MIN = 16;
export const BENCH_VALUE_BYTES_MAX = valueSizeMaxBytes;
export const BENCH_KEYS_DEFAULT = 10_000;
export const BENCH_KEYS_MAX = 10_000_000;
export const BENCH_DURATION_SECONDS_DEFAULT = 5;
export const BENCH_DURATION_SECONDS_MAX = 3600;
export const BENCH_RUNS_DEFAULT = 3;
export const BENCH_RUNS_MAX = 100;
export const BENCH_WARMUP_SECONDS_DEFAULT = 1;
export const BENCH_WARMUP_SECONDS_MAX = 600;
/** The largest weight one kind may have in --mix (the mix is a cycle of this many slots at most per kind). */
export const MIX_WEIGHT_MAX = 1000;

export const operationKinds = ['put', 'get', 'append', 'cas', 'incr'] as const;
export type OperationKind = (typeof operationKinds)[number];

/** Relative weights of the operation kinds; at least one is positive. */
export type Mix = Readonly<Record<OperationKind, number>>;

export const MIX_DEFAULT: Mix = { put: 1, get: 0, append: 0, cas: 0, incr: 0 };

export const durabilities = ['sync', 'replicated', 'async'] as const satisfies readonly Durability[];
export type ReadMode = 'primary' | 'any';
export const readModes = ['primary', 'any'] as const satisfies readonly ReadMode[];

export interface BenchShape {
  /** Client objects, each with its own connection (or one shared by all, with sharedClient). */
  readonly clients: number;
  /** Requests each client keeps in flight. */
  readonly pipeline: number;
  /** Every caller goes through one Client object, so one connection to the primary. */
  readonly sharedClient: boolean;
  readonly mix: Mix;
  readonly valueBytes: number;
  /** Keys each client cycles over (per operation kind: put/get/cas, append and incr have their own). */
  readonly keys: number;
  readonly durability: Durability;
  readonly read: ReadMode;
  readonly durationSeconds: number;
  readonly runs: number;
  readonly warmupSeconds: number;
}

export const BENCH_SHAPE_DEFAULT: BenchShape = {
  clients: BENCH_CLIENTS_DEFAULT,
  pipeline: BENCH_PIPELINE_DEFAULT,
  sharedClient: false,
  mix: MIX_DEFAULT,
  valueBytes: BENCH_VALUE_BYTES_DEFAULT,
  keys: BENCH_KEYS_DEFAULT,
  durability: 'sync',
  read: 'primary',
  durationSeconds: BENCH_DURATION_SECONDS_DEFAULT,
  runs: BENCH_RUNS_DEFAULT,
  warmupSeconds: BENCH_WARMUP_SECONDS_DEFAULT,
};

/** A shape that cannot run: the message names the flag. */
export class ShapeError extends Error {
  override name = 'ShapeError';
}

/**
 * "put=3,get=1" → { put: 3, get: 1, append: 0, cas: 0, incr: 0 }. Kinds left out weigh 0; each
 * weight is an integer from 0 to MIX_WEIGHT_MAX, and at least one must be positive.
 */
export function parseMix(text: string): Mix {
  const weights: Record<OperationKind, number> = { put: 0, get: 0, append: 0, cas: 0, incr: 0 };
  const seen = new Set<OperationKind>();
  for (const entry of text.split(',')) {
    const match = /^\s*([a-z]+)\s*=\s*(\d+)\s*$/.exec(entry);
    const kind = operationKinds.find((known) => known === match?.[1]);
    if (match === null || match[2] === undefined) {
      throw new ShapeError(`"${entry.trim()}" is not KIND=WEIGHT (e.g. put=3,get=1).`);
    }
    if (kind === undefined) {
      throw new ShapeError(`unknown operation "${match[1]}"; the kinds are ${operationKinds.join(', ')}.`);
    }
    if (seen.has(kind)) throw new ShapeError(`${kind} is named twice.`);
    seen.add(kind);
    const weight = Number(match[2]);
    if (weight > MIX_WEIGHT_MAX) throw new ShapeError(`the weight of ${kind} is above ${MIX_WEIGHT_MAX}.`);
    weights[kind] = weight;
  }
  if (operationKinds.every((kind) => weights[kind] === 0)) {
    throw new ShapeError('at least one operation needs a weight above 0.');
  }
  return weights;
}

/** "put=1,get=0,..." with every kind, in the order of operationKinds. */
export function formatMix(mix: Mix): string {
  return operationKinds.map((kind) => `${kind}=${mix[kind]}`).join(',');
}

/** The relations between flags that each flag alone cannot check. */
export function checkShape(shape: BenchShape): void {
  if (shape.keys < shape.pipeline) {
    // Each of a client's calls in flight cycles over its own share of the client's keys, so that
    // no two of them touch one key at once and every answer can be checked.
    throw new ShapeError(`--keys (${shape.keys}) must be at least --pipeline (${shape.pipeline}).`);
  }
}
