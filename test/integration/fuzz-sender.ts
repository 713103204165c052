// Raw connections for hostile-input tests: write a batch of bytes, then see whether the server
// closed the connection (a rejection) within a wait, and what it said; and the process-side
// measurements the tests assert on (RSS from /proc, Prometheus counters from /metrics).

import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

export interface BatchOutcome {
  /** The server closed (or reset) the connection before our wait ran out. */
  readonly closedByServer: boolean;
  /** Whether `marker` appeared in what the server sent (within one chunk). */
  readonly sawMarker: boolean;
}

export function sendBatch(
  address: string,
  bytes: Buffer,
  waitMs: number,
  marker = '',
): Promise<BatchOutcome> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    let sawMarker = false;
    let settled = false;
    const socket = connect({ host: host ?? '127.0.0.1', port: Number(port) });
    const finish = (closedByServer: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ closedByServer, sawMarker });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => {
      if (marker !== '' && chunk.includes(marker)) sawMarker = true;
    });
    socket.on('error', () => finish(true));
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
  });
}

/** Runs `tasks` with at most `parallel` at once. */
export async function runPool<T>(tasks: readonly (() => Promise<T>)[], parallel: number): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const index = next;
      next += 1;
      const task = tasks[index];
      if (task !== undefined) results[index] = await task();
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return results;
}

/** Resident set size of process `pid` in bytes (Linux /proc), or 0 once it is gone. */
export function residentBytes(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] === undefined ? 0 : Number(match[1]) * 1024;
  } catch {
    return 0;
  }
}

/** Samples the RSS of each pid every `everyMs` and keeps the largest seen; `stop` returns them. */
export function sampleResident(pids: readonly number[], everyMs: number): () => number[] {
  const largest = pids.map(residentBytes);
  const timer = setInterval(() => {
    pids.forEach((pid, position) => {
      largest[position] = Math.max(largest[position] ?? 0, residentBytes(pid));
    });
  }, everyMs);
  return () => {
    clearInterval(timer);
    return largest;
  };
}

/** The sum of every series of `name` (all label values) on an admin port's /metrics. */
export async function scrapeSum(admin: string, name: string): Promise<number> {
  const text = await (await fetch(`http://${admin}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.split(' ').at(-1));
  }
  return sum;
}
