// `--verify`: after the runs, every key the bench wrote is read back at the primary (linearizable)
// through a client of its own, and must hold what its writer last wrote. Keys with a failed write
// (it may or may not have run) are counted as uncertain and not compared.

import type { Client } from '../client/index.js';
import { FailureCount, runConcurrently } from '../tools/measure-cluster.js';
import type { CallerKeys } from './caller-keys.js';
import { type Mismatch, Mismatches } from './understudy-load.js';

/** Reads in flight during the read-back. */
export const VERIFY_READS_IN_FLIGHT = 16;

export interface VerifyReport {
  /** Keys read back and compared. */
  readonly keysChecked: number;
  /** Keys not compared because a write to them failed. */
  readonly keysUncertain: number;
  readonly mismatches: number;
  readonly firstMismatches: readonly Mismatch[];
  /** Reads that failed, by error code (their keys are neither checked nor mismatched). */
  readonly readErrors: Readonly<Record<string, number>>;
}

/** The value of a key at the primary, as text, or null if absent. */
export type ReadKey = (key: string) => Promise<string | null>;

export function readKeyThrough(client: Client): ReadKey {
  return (key) => client.getText(key);
}

export async function verifyKeys(callers: readonly CallerKeys[], readKey: ReadKey): Promise<VerifyReport> {
  const expectations = callers.flatMap((caller) => [...caller.written()]);
  const certain = expectations.filter((expectation) => !expectation.uncertain);
  const mismatches = new Mismatches();
  const readErrors = new FailureCount();
  let keysChecked = 0;
  await runConcurrently(
    certain.length,
    VERIFY_READS_IN_FLIGHT,
    async (index) => {
      const expectation = certain[index];
      if (expectation === undefined) return;
      const got = await readKey(expectation.name);
      keysChecked += 1;
      if (got !== expectation.expected) {
        mismatches.add({
          key: expectation.name,
          operation: 'read-back',
          expected: expectation.expected ?? '(absent)',
          got: got ?? '(absent)',
        });
      }
    },
    readErrors,
  );
  return {
    keysChecked,
    keysUncertain: expectations.length - certain.length,
    mismatches: mismatches.count,
    firstMismatches: mismatches.first,
    readErrors: readErrors.toJSON(),
  };
}
