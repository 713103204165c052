// The flags of `npm run bench:peers`: run length, runs, warmup, rounds, client counts, --json. A bad flag
// prints the usage and exits 2, as the understudy command does.

import { parseArgs } from 'node:util';
import {
  BENCH_CLIENTS_MAX,
  BENCH_DURATION_SECONDS_DEFAULT,
  BENCH_DURATION_SECONDS_MAX,
  BENCH_RUNS_DEFAULT,
  BENCH_RUNS_MAX,
  BENCH_WARMUP_SECONDS_MAX,
} from '../shape.js';

/**
 * Longer than `understudy bench`'s: each system here starts fresh, and a new Understudy cluster at one
 * client spends its first seconds in V8's compiler (a fresh cluster's first 4 s ran at 682 ops/s, the
 * next ones at 1,100-1,200, measured 2026-12-01). Every system gets the same warmup.
 */
export const PEERS_WARMUP_SECONDS_DEFAULT = 5;

const CLIENT_COUNTS_DEFAULT = [1, 32];
/** Rounds of the whole comparison (rounds.ts); more than this is a soak, not a comparison. */
export const PEERS_ROUNDS_MAX = 20;
/** Exit status of a bad flag, as the understudy command has it. */
const USAGE_EXIT_CODE = 2;

export interface Plan {
  readonly durationSeconds: number;
  readonly runs: number;
  readonly warmupSeconds: number;
  /** The whole comparison this many times, every system once per round (rounds.ts). */
  readonly rounds: number;
  readonly clientCounts: readonly number[];
  readonly json: boolean;
}

function usage(message: string): never {
  process.stderr.write(
    `error: ${message}\nusage: npm run bench:peers -- [--duration S] [--runs N] [--warmup S] [--rounds R] [--clients 1,32] [--json]\n`,
  );
  process.exit(USAGE_EXIT_CODE);
}

function integerFlag(
  name: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max)
    usage(`--${name} takes an integer from ${min} to ${max}`);
  return value;
}

export function parsePlan(argv: readonly string[]): Plan {
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(argv);
  } catch (error) {
    usage((error as Error).message);
  }
  const { values } = parsed;
  const clientCounts =
    values.clients === undefined
      ? CLIENT_COUNTS_DEFAULT
      : values.clients.split(',').map((text) => integerFlag('clients', text.trim(), 0, 1, BENCH_CLIENTS_MAX));
  return {
    durationSeconds: integerFlag(
      'duration',
      values.duration,
      BENCH_DURATION_SECONDS_DEFAULT,
      1,
      BENCH_DURATION_SECONDS_MAX,
    ),
    runs: integerFlag('runs', values.runs, BENCH_RUNS_DEFAULT, 1, BENCH_RUNS_MAX),
    warmupSeconds: integerFlag(
      'warmup',
      values.warmup,
      PEERS_WARMUP_SECONDS_DEFAULT,
      0,
      BENCH_WARMUP_SECONDS_MAX,
    ),
    rounds: integerFlag('rounds', values.rounds, 1, 1, PEERS_ROUNDS_MAX),
    clientCounts: [...new Set(clientCounts)],
    json: values.json === true,
  };
}

function parseFlags(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      duration: { type: 'string' },
      runs: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      clients: { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
}
