// The check of whole scans (SCAN from cursor 0 until a call answers 0) against the history of the
// keys: Redis's promise, which Understudy's store keeps (state-machine/kv-key-buckets.ts), is that a
// full iteration returns every key present from its first call to its last. Which keys were present
// throughout is read off the history conservatively, so the check never blames a scan for a key that
// may have been absent for a moment:
// - present by the first call: an operation on the key that definitely ran (ok) and left it present
//   (a write, append, incr, replace, a cas to a value) or saw it present (a read of a value), answered
//   before the first call was sent;
// - never absent until the last answer: no operation that may delete the key (a delete, a cas to
//   absent), whatever became of it, was invoked before the last call was answered.
// And a scan returns nothing but keys: every key it returned is one some client wrote, by an
// operation invoked before its last answer.
//
// A history key may stand for several store keys (the simulator's groups: `storeKeysOf`), and some
// store keys may be written outside the history (a chaos run's ballast, and the staging keys its
// Redis-port processes write a value under before they move it over a register: `writtenElsewhere`,
// asked whether a key was written by a call sent before a time).

import { isCasValue, type Operation } from './history.js';

export interface ScanObservation {
  /** When the first call was sent and the last one answered, on the history's clock. */
  readonly start: number;
  readonly end: number;
  /** The store keys the calls returned. */
  readonly keys: ReadonlySet<string>;
}

export interface ScanCheck {
  readonly violations: readonly string[];
  /** Over all scans, the keys that were present throughout one and so had to come back. */
  readonly keysDue: number;
}

/** Whether `operation`, having run, leaves its key present (or saw it present). */
function showsPresent(operation: Operation): boolean {
  switch (operation.f) {
    case 'write':
    case 'append':
    case 'incr':
    case 'replace':
      return true;
    case 'cas':
      return isCasValue(operation.input) && operation.input[1] !== null;
    case 'read':
      return operation.output !== null;
    case 'delete':
    case 'clear':
      return false;
  }
}

function mayDelete(operation: Operation): boolean {
  return (
    operation.f === 'delete' ||
    operation.f === 'clear' ||
    (operation.f === 'cas' && isCasValue(operation.input) && operation.input[1] === null)
  );
}

export function checkScans(
  scans: readonly ScanObservation[],
  operations: readonly Operation[],
  storeKeysOf: (historyKey: string) => readonly string[],
  writtenElsewhere: (storeKey: string, before: number) => boolean = () => false,
): ScanCheck {
  const byKey = new Map<string, Operation[]>();
  for (const operation of operations) {
    const list = byKey.get(operation.key) ?? [];
    list.push(operation);
    byKey.set(operation.key, list);
  }
  const violations: string[] = [];
  let keysDue = 0;
  for (const [at, scan] of scans.entries()) {
    const which = `scan ${at + 1} (from ${scan.start} to ${scan.end} ns)`;
    const written = new Set<string>();
    for (const [key, list] of byKey) {
      if (list.some((operation) => operation.call < scan.end))
        for (const storeKey of storeKeysOf(key)) written.add(storeKey);
      const present = list.find(
        (operation) => operation.status === 'ok' && operation.ret < scan.start && showsPresent(operation),
      );
      if (present === undefined) continue;
      if (list.some((operation) => operation.call < scan.end && mayDelete(operation))) continue;
      for (const storeKey of storeKeysOf(key)) {
        keysDue += 1;
        if (!scan.keys.has(storeKey)) {
          violations.push(
            `${which} did not return ${storeKey}, present throughout it (a ${present.f} by process ${present.process} answered at ${present.ret} ns, and nothing that may delete it invoked before the scan ended)`,
          );
        }
      }
    }
    for (const key of scan.keys) {
      if (!written.has(key) && !writtenElsewhere(key, scan.end))
        violations.push(`${which} returned ${key}, which no client wrote before it ended`);
    }
  }
  return { violations, keysDue };
}
