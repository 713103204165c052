// CPU time per operation: the user + system time of each process of a measured system (every
// thread: event loop, thread pool, the runtime's collector and compiler), read from /proc before and
// after a run, divided by the operations the run completed, and how much of it the kernel took
// (system calls, the network stack, the disk's), which no change to our own code takes away. On a
// machine whose cores the servers and the load generator share, a run's throughput is this figure
// upside down, and it scatters far less from run to run than ops/s does (runs of one build here:
// ops/s ±20 %, CPU per operation a few per cent), so comparisons between systems and builds lean on it. Linux only: elsewhere, and
// for a process that has gone, there is no figure (null), never a guess.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { formatCount } from './table.js';

export interface NamedProcess {
  readonly name: string;
  readonly pid: number;
}

/** Microseconds of CPU per operation in one run. */
export interface CpuPerOperation {
  /** The measured system's processes together (servers, coordinator). */
  readonly serversMicros: number;
  /** The load generator: this process, its clients and their connections. */
  readonly clientMicros: number;
  /** Each server process by name. */
  readonly byProcess: Readonly<Record<string, number>>;
  /** Of serversMicros, the time in the kernel (system calls, the network stack, the disk's). */
  readonly serversKernelMicros: number;
  /** Of clientMicros, the time in the kernel. */
  readonly clientKernelMicros: number;
}

/** A process's CPU time (user + system) and the system part of it, in clock ticks or seconds. */
export interface CpuTimes {
  readonly total: number;
  readonly kernel: number;
}

/** A reading of every process's CPU times in seconds; null for one that could not be read. */
type CpuReading = ReadonlyMap<string, CpuTimes | null>;

const CLIENT = 'client';

/** Clock ticks per second of /proc's times: what `getconf CLK_TCK` says, 100 where it says nothing. */
let ticksPerSecond: number | null = null;

function clockTicksPerSecond(): number {
  if (ticksPerSecond === null) {
    const answer = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const value = Number(answer.stdout?.trim());
    ticksPerSecond = Number.isSafeInteger(value) && value > 0 ? value : 100;
  }
  return ticksPerSecond;
}

/**
 * utime + stime and stime, in clock ticks, from the text of /proc/PID/stat. The command name (field 2)
 * is in parentheses and may itself hold spaces and parentheses, so the fields are counted after the last ")".
 */
export function cpuTicksOfStat(stat: string): CpuTimes | null {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name: state is field 3, utime field 14 and stime field 15 of the whole line.
  const user = Number(fields[14 - 3]);
  const system = Number(fields[15 - 3]);
  return Number.isSafeInteger(user) && Number.isSafeInteger(system)
    ? { total: user + system, kernel: system }
    : null;
}

function cpuSeconds(pid: number): CpuTimes | null {
  try {
    const ticks = cpuTicksOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    const perSecond = clockTicksPerSecond();
    return ticks === null ? null : { total: ticks.total / perSecond, kernel: ticks.kernel / perSecond };
  } catch {
    return null; // not Linux, or the process has gone
  }
}

/** Reads the CPU time of the servers it is given and of this process (named "client"). */
export class CpuMeter {
  constructor(private readonly servers: () => readonly NamedProcess[]) {}

  read(): CpuReading {
    const reading = new Map<string, CpuTimes | null>();
    for (const { name, pid } of this.servers()) reading.set(name, cpuSeconds(pid));
    reading.set(CLIENT, cpuSeconds(process.pid));
    return reading;
  }

  /** Times `run` and divides each process's CPU by the operations it reports. */
  async measure<T extends { readonly ops: number }>(
    run: () => Promise<T>,
  ): Promise<T & { readonly cpu: CpuPerOperation | null }> {
    const before = this.read();
    const result = await run();
    return { ...result, cpu: perOperation(before, this.read(), result.ops) };
  }
}

/** Null unless every process was read both times and some operation completed. */
export function perOperation(before: CpuReading, after: CpuReading, ops: number): CpuPerOperation | null {
  if (ops <= 0) return null;
  const micros = (name: string): CpuTimes | null => {
    const start = before.get(name);
    const end = after.get(name);
    if (start == null || end == null) return null;
    return {
      total: Math.round(((end.total - start.total) * 1e6) / ops),
      kernel: Math.round(((end.kernel - start.kernel) * 1e6) / ops),
    };
  };
  const client = micros(CLIENT);
  if (client === null) return null;
  const byProcess: Record<string, number> = {};
  let serversMicros = 0;
  let serversKernelMicros = 0;
  for (const name of after.keys()) {
    if (name === CLIENT) continue;
    const value = micros(name);
    if (value === null) return null;
    byProcess[name] = value.total;
    serversMicros += value.total;
    serversKernelMicros += value.kernel;
  }
  return {
    serversMicros,
    clientMicros: client.total,
    byProcess,
    serversKernelMicros,
    clientKernelMicros: client.kernel,
  };
}

/** "254 + 61" (servers + client), or "—". */
export function formatCpu(cpu: CpuPerOperation | null | undefined): string {
  return cpu == null ? '—' : `${formatCount(cpu.serversMicros)} + ${formatCount(cpu.clientMicros)}`;
}

/** The kernel's part of formatCpu's figures: "90 + 30", or "—". */
export function formatKernelCpu(cpu: CpuPerOperation | null | undefined): string {
  return cpu == null
    ? '—'
    : `${formatCount(cpu.serversKernelMicros)} + ${formatCount(cpu.clientKernelMicros)}`;
}
