// What `understudy bench` prints: the shape, a table of the runs (latency in milliseconds) with the
// median run last, the errors by code, the mismatches and the read-back; or, with --json, the
// report as one object.

import type { BenchReport, RunReport } from './run.js';
import { formatMix } from './shape.js';
import { formatCount, formatMs, formatTable } from './table.js';

export function describeShape(report: BenchReport): string {
  const { shape } = report;
  const connections = shape.sharedClient
    ? 'one shared client (one connection)'
    : `a client each (${shape.clients} connection${shape.clients === 1 ? '' : 's'})`;
  const target =
    report.startedReplicas === null
      ? `the cluster at ${report.coordinator}`
      : `${report.startedReplicas} replica${report.startedReplicas === 1 ? '' : 's'} started here (coordinator ${report.coordinator})`;
  return [
    `understudy bench: ${target}`,
    `  ${shape.clients} client${shape.clients === 1 ? '' : 's'} × ${shape.pipeline} in flight, ${connections}`,
    `  mix ${formatMix(shape.mix)}, ${shape.valueBytes}-byte values, ${shape.keys} keys per client`,
    `  ${shape.durability} writes, reads at ${shape.read === 'primary' ? 'the primary' : 'any member'}`,
    `  ${shape.runs} run${shape.runs === 1 ? '' : 's'} of ${shape.durationSeconds} s ${shape.warmupSeconds === 0 ? 'with no warmup' : `after a ${shape.warmupSeconds} s warmup`}; closed loop`,
  ].join('\n');
}

function runRow(name: string, run: RunReport): string[] {
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
  const table = formatTable(
    ['run', 'ops/s', 'ops', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'errors'],
    rows,
  );
  const lines = [describeShape(report), table];
  const errorCodes = new Map<string, number>();
  for (const run of report.runs) {
    for (const [code, count] of Object.entries(run.errorsByCode)) {
      errorCodes.set(code, (errorCodes.get(code) ?? 0) + count);
    }
  }
  if (errorCodes.size > 0) {
    lines.push(`errors by code: ${[...errorCodes].map(([code, count]) => `${code} ${count}`).join(', ')}`);
  }
  lines.push(describeMismatches(report));
  if (report.verify !== null) {
    const { keysChecked, keysUncertain, mismatches, readErrors } = report.verify;
    const failedReads = Object.values(readErrors).reduce((sum, count) => sum + count, 0);
    lines.push(
      `verify: ${formatCount(keysChecked)} keys read back at the primary, ${mismatches} not as last written` +
        (keysUncertain > 0 ? `, ${keysUncertain} uncertain (a write to them failed)` : '') +
        (failedReads > 0 ? `, ${failedReads} reads failed` : ''),
    );
    for (const mismatch of report.verify.firstMismatches) lines.push(`  ${describeMismatch(mismatch)}`);
  }
  if (report.interrupted) lines.push(`interrupted after ${report.runs.length} of ${report.shape.runs} runs`);
  return `${lines.join('\n')}\n`;
}

function describeMismatches(report: BenchReport): string {
  const { count, first } = report.mismatches;
  if (count === 0) return 'answers: every one as the bench wrote';
  return [
    `answers: ${count} disagreed with what the bench wrote`,
    ...first.map((mismatch) => `  ${describeMismatch(mismatch)}`),
  ].join('\n');
}

function describeMismatch(mismatch: BenchReport['mismatches']['first'][number]): string {
  return `${mismatch.operation} ${mismatch.key}: expected ${mismatch.expected}, got ${mismatch.got}`;
}

/** The one JSON object of --json. */
export function jsonReport(report: BenchReport): string {
  return `${JSON.stringify(report)}\n`;
}
