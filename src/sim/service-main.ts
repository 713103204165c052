// `npm run sim -- --service MODULE`: the simulator with a service of your own, from the command line.
// MODULE (a path, or a package name) default-exports a function that returns a fresh ServiceSimulation
// (the service, its clients' requests, its check); it is called once per seed, so a workload that
// keeps memory starts each seed afresh. Seeds and replay work as for the key/value store.

import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TestOnlyFaults } from '../protocol/test-only-faults.js';
import { type ServiceSeedResult, type ServiceSimulation, simulateService } from './service-simulation.js';

export interface ServiceRunOptions {
  readonly faultTicks: number;
  readonly testOnlyFaults?: TestOnlyFaults;
  /** Replay this seed twice (same trace digest?) and show its trace; else run `count` seeds from `start`. */
  readonly replay: number | null;
  readonly start: number;
  readonly count: number;
}

const lineLengthMax = 400;

/** Loads MODULE's simulation factory; a message for the user when it is not one. */
export async function loadSimulation(specifier: string): Promise<() => ServiceSimulation> {
  const isPath = specifier.startsWith('.') || path.isAbsolute(specifier) || specifier.startsWith('file:');
  const url =
    specifier.startsWith('file:') || !isPath ? specifier : pathToFileURL(path.resolve(specifier)).href;
  let exported: unknown;
  try {
    exported = ((await import(url)) as { default?: unknown }).default;
  } catch (error) {
    throw new Error(
      `--service ${specifier} failed to load: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const expected = 'its default export must be a function that returns a ServiceSimulation';
  if (typeof exported !== 'function') throw new Error(`--service ${specifier}: ${expected}`);
  const factory = exported as () => ServiceSimulation;
  // Once here, so that a module of another kind (a StateMachineFactory, say) is told at once.
  const probe = factory() as Partial<ServiceSimulation> | null;
  if (
    typeof probe?.createStateMachine !== 'function' ||
    typeof probe.nextRequest !== 'function' ||
    typeof probe.check !== 'function'
  ) {
    throw new Error(`--service ${specifier}: ${expected} (with createStateMachine, nextRequest and check)`);
  }
  return factory;
}

/** Runs the seeds and prints a summary; answers the exit status (1 if any seed failed). */
export function runServiceSeeds(simulation: () => ServiceSimulation, options: ServiceRunOptions): number {
  const seedOptions = {
    faultTicks: options.faultTicks,
    ...(options.testOnlyFaults === undefined ? {} : { testOnlyFaults: options.testOnlyFaults }),
  };
  if (options.replay !== null) {
    const first = simulateService(options.replay, simulation(), seedOptions);
    const second = simulateService(options.replay, simulation(), seedOptions);
    const same = first.traceDigest === second.traceDigest;
    write(`seed ${first.seed}: ${first.plan}`);
    write(
      `trace digest ${first.traceDigest}, replayed ${second.traceDigest}: ${same ? 'identical' : 'DIFFERENT (nondeterminism!)'}`,
    );
    write(`${first.history.length} requests, ${first.failovers} failovers, faults ${describeFaults(first)}`);
    if (first.violations.length > 0) printFailure(first);
    else
      write(
        `last events:\n${first.trace
          .slice(-10)
          .map((line) => `  ${line}`)
          .join('\n')}`,
      );
    return first.violations.length > 0 || !same ? 1 : 0;
  }
  const began = performance.now();
  let requests = 0;
  let unknown = 0;
  let failovers = 0;
  const failed: number[] = [];
  for (let seed = options.start; seed < options.start + options.count; seed++) {
    const result = simulateService(seed, simulation(), seedOptions);
    requests += result.history.length;
    unknown += result.history.filter((operation) => operation.outcome.type === 'unknown').length;
    failovers += result.failovers;
    if (result.violations.length > 0) {
      failed.push(seed);
      printFailure(result);
    }
  }
  const last = options.start + options.count - 1;
  write(
    `sim: ${options.count} seeds (${options.start}..${last}) in ${((performance.now() - began) / 1000).toFixed(1)} s`,
  );
  write(`requests: ${requests}, ${unknown} of them without a definite answer; failovers: ${failovers}`);
  write(`violations: ${failed.length} seeds${failed.length > 0 ? ` (${failed.join(', ')})` : ''}`);
  return failed.length > 0 ? 1 : 0;
}

function describeFaults(result: ServiceSeedResult): string {
  return [...result.faults].map(([kind, count]) => `${kind} ${count}`).join(', ') || 'none';
}

function printFailure(result: ServiceSeedResult): void {
  write(`\nseed ${result.seed} FAILED (${result.plan})`);
  for (const violation of result.violations.slice(0, 5)) {
    write(
      `  violation: ${violation.length <= lineLengthMax ? violation : `${violation.slice(0, lineLengthMax)}…`}`,
    );
  }
  write('  last events:');
  for (const line of result.trace.slice(-20)) write(`    ${line}`);
}

function write(line: string): void {
  process.stdout.write(`${line}\n`);
}
