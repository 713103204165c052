// What `understudy bench` prints: the shape, a table of the runs (latency in milliseconds) with the
// median run last, the errors by code, the mismatches and the read-back; or, with --json, the
// report as one object.

import type { CpuPerOperation } from './process-cpu.js';
import type { BenchReport, MeasuredRunReport, RunReport } from './run.js';
import type { LoadShape } from './scenario.js';
import type { ReplicaWaits } from './server-waits.js';
import { formatMix } from './shape.js';
import { describeTail } from './stalls.js';
import { formatCount, formatMs, formatTable } from './table.js';
import type { SlowBackup } from './target.js';
import type { VerifyReport } from './verify.js';

export function describeShape(report: BenchReport): string {
  const { shape } = report;
  return [
    `understudy bench: ${describeTarget(report)}`,
    ...describeLoad(shape),
    `  ${shape.runs} run${shape.runs === 1 ? '' : 's'} of ${shape.durationSeconds} s ${shape.warmupSeconds === 0 ? 'with no warmup' : `after a ${shape.warmupSeconds} s warmup`}; closed loop`,
  ].join('\n');
}

/**
 * "the cluster at HOST:PORT", or "3 replicas started here (coordinator HOST:PORT)", and which one's
 * fsyncs were slowed.
 */
export function describeTarget(report: {
  readonly coordinator: string;
  readonly startedReplicas: number | null;
  readonly slowBackup?: SlowBackup | null;
}): string {
  const replicas = report.startedReplicas;
  const slow = report.slowBackup;
  const slowed = slow == null ? '' : `; every fsync of ${slow.replica} slowed by ${slow.fsyncDelayMs} ms`;
  return replicas === null
    ? `the cluster at ${report.coordinator}`
    : `${replicas} replica${replicas === 1 ? '' : 's'} started here (coordinator ${report.coordinator})${slowed}`;
}

/** The lines that say who loads the cluster and with what: clients, connections, mix, durability. */
export function describeLoad(shape: LoadShape): string[] {
  const connections = shape.sharedClient
    ? 'one shared client (one connection)'
    : `a client each (${shape.clients} connection${shape.clients === 1 ? '' : 's'})`;
  return [
    `  ${shape.clients} client${shape.clients === 1 ? '' : 's'} × ${shape.pipeline} in flight, ${connections}`,
    `  mix ${formatMix(shape.mix)}, ${shape.valueBytes}-byte values, ${shape.keys} keys per client`,
    `  ${shape.durability} writes, reads at ${shape.read === 'primary' ? 'the primary' : 'any member'}`,
  ];
}

/** The columns of runRow. */
export const runColumns = [
  'run',
  'ops/s',
  'ops',
  'p50 ms',
  'p90 ms',
  'p99 ms',
  'p99.9 ms',
  'max ms',
  'errors',
];

export function runRow(name: string, run: RunReport): string[] {
  const latency = run.latencyMs;
  return [
    name,
    formatCount(run.opsPerSecond),
    formatCount(run.ops),
    formatMs(latency.p50),
    formatMs(latency.p90),
    formatMs(latency.p99),
    formatMs(latency.p999),
    formatMs(latency.max),
    formatCount(run.errors),
  ];
}

export function formatReport(report: BenchReport): string {
  const rows = [
    ...(report.warmup === null ? [] : [runRow('warmup', report.warmup)]),
    ...report.runs.map((run, index) => runRow(String(index + 1), run)),
    runRow(`median (run ${report.median.run})`, report.median),
  ];
  const table = formatTable(runColumns, rows);
  const lines = [describeShape(report), table, describeCpu(report.median.cpu)];
  const waits = describeWaits(report.median);
  if (waits !== null) lines.push(waits);
  if (report.shape.clients * report.shape.pipeline >= 4) lines.push(describeTail(report.median.tail));
  const errors = describeErrors(report.runs);
  if (errors !== null) lines.push(errors);
  lines.push(describeMismatches(report.mismatches));
  if (report.verify !== null) lines.push(describeVerify(report.verify));
  if (report.interrupted) lines.push(`interrupted after ${report.runs.length} of ${report.shape.runs} runs`);
  return `${lines.join('\n')}\n`;
}

/**
 * "CPU per operation (median run): 254 µs in the cluster (coordinator 12, r1 115, ...; 90 of them in
 * the kernel), 61 µs in this client (30 in the kernel)"; a running cluster's processes are not the
 * bench's to read, so only the client's is said.
 */
export function describeCpu(cpu: CpuPerOperation | null): string {
  if (cpu === null) return 'CPU per operation: not measured (it is read from /proc, on Linux)';
  const processes = Object.entries(cpu.byProcess);
  const cluster =
    processes.length === 0
      ? ''
      : `${formatCount(cpu.serversMicros)} µs in the cluster (${processes.map(([name, micros]) => `${name} ${formatCount(micros)}`).join(', ')}; ${formatCount(cpu.serversKernelMicros)} of them in the kernel), `;
  return `CPU per operation (median run, user + system): ${cluster}${formatCount(cpu.clientMicros)} µs in this client (${formatCount(cpu.clientKernelMicros)} in the kernel)`;
}

/**
 * "where a write waited (median run): 2.71 ms at this client, 2.02 of them at the primary r1; fsyncs
 * r1 0.93 ms (11,513, 12.6 writes each), r2 0.56 ms (12,348, 11.7), ..." from the replicas' /metrics;
 * null when the bench knows no admin port (a running cluster without --replica-admins).
 */
export function describeWaits(run: Pick<MeasuredRunReport, 'waits' | 'latencyMs'>): string | null {
  const { waits } = run;
  if (waits === null) return null;
  if (waits.length === 0)
    return "where a write waited: not measured (no replica's /metrics could be read before and after the run)";
  const primary = waits.reduce<ReplicaWaits | null>(
    (most, replica) => (replica.writes > (most?.writes ?? 0) ? replica : most),
    null,
  );
  const atPrimary =
    primary?.writeMeanMs == null
      ? ''
      : `, ${formatMs(primary.writeMeanMs)} of them at the primary ${primary.replica}`;
  const fsyncs = waits.map(({ replica, fsyncs, fsyncMeanMs }) => {
    if (fsyncMeanMs === null) return `${replica} none`;
    const perSync = primary === null ? '' : `, ${(primary.writes / fsyncs).toFixed(1)} writes each`;
    return `${replica} ${formatMs(fsyncMeanMs)} ms (${formatCount(fsyncs)}${perSync})`;
  });
  return `where a write waited (median run, means): ${formatMs(run.latencyMs.mean)} ms at this client${atPrimary}; fsyncs ${fsyncs.join(', ')}`;
}

/** "errors by code: UNAVAILABLE 3, ..." over some runs, or null with none. */
export function describeErrors(runs: readonly RunReport[]): string | null {
  const errorCodes = new Map<string, number>();
  for (const run of runs) {
    for (const [code, count] of Object.entries(run.errorsByCode)) {
      errorCodes.set(code, (errorCodes.get(code) ?? 0) + count);
    }
  }
  if (errorCodes.size === 0) return null;
  return `errors by code: ${[...errorCodes].map(([code, count]) => `${code} ${count}`).join(', ')}`;
}

export function describeMismatches(mismatches: BenchReport['mismatches']): string {
  const { count, first } = mismatches;
  if (count === 0) return 'answers: every one as the bench wrote';
  return [
    `answers: ${count} disagreed with what the bench wrote`,
    ...first.map((mismatch) => `  ${describeMismatch(mismatch)}`),
  ].join('\n');
}

export function describeVerify(verify: VerifyReport): string {
  const { keysChecked, keysUncertain, mismatches, readErrors } = verify;
  const failedReads = Object.values(readErrors).reduce((sum, count) => sum + count, 0);
  return [
    `verify: ${formatCount(keysChecked)} keys read back at the primary, ${mismatches} not as last written` +
      (keysUncertain > 0 ? `, ${keysUncertain} uncertain (a write to them failed)` : '') +
      (failedReads > 0 ? `, ${failedReads} reads failed` : ''),
    ...verify.firstMismatches.map((mismatch) => `  ${describeMismatch(mismatch)}`),
  ].join('\n');
}

function describeMismatch(mismatch: BenchReport['mismatches']['first'][number]): string {
  return `${mismatch.operation} ${mismatch.key}: expected ${mismatch.expected}, got ${mismatch.got}`;
}

/** The one JSON object of --json, whatever the scenario. */
export function jsonReport(report: object): string {
  return `${JSON.stringify(report)}\n`;
}
