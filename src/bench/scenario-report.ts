// What `understudy bench --scenario failover` and `--scenario steady` print: what was run, a table
// (the trials; the replicas' memory), the verdicts in a line each, then the load's errors, the
// mismatches and the read-back as the load scenario prints them. --json prints the report object.

import { defaultNodeConfig } from '../node/config.js';
import { stallThresholdMs } from '../node/stall-watch.js';
import type { FailoverReport } from './failover.js';
import { RESIDENT_GROWTH_RULE } from './memory.js';
import {
  describeErrors,
  describeLoad,
  describeMismatches,
  describeTarget,
  describeVerify,
  runColumns,
  runRow,
} from './report.js';
import type { DurationSummary } from './scenario.js';
import type { SteadyReport } from './steady.js';
import { formatCount, formatMs, formatTable } from './table.js';

/** What the servers call a stall, at their default tick (stall-watch.ts). */
const STALL_THRESHOLD_TEXT = `${stallThresholdMs(defaultNodeConfig)} ms`;

/** Views named in the text report; --json has them all. */
const VIEWS_SHOWN_MAX = 8;

/** Bytes as megabytes (10^6 bytes, as elsewhere in the project) with one decimal. */
function formatMegabytes(bytes: number | null): string {
  return bytes === null ? '-' : (bytes / 1e6).toFixed(1);
}

function describeDurations(what: string, summary: DurationSummary | null): string {
  if (summary === null) return `${what}: no trial done`;
  return (
    `${what} over ${summary.count} trial${summary.count === 1 ? '' : 's'}: p50 ${formatMs(summary.p50)} ms, ` +
    `p99 ${formatMs(summary.p99)} ms, max ${formatMs(summary.max)} ms (min ${formatMs(summary.min)}; nearest rank)`
  );
}

export function formatFailoverReport(report: FailoverReport): string {
  const lines = [
    `understudy bench --scenario failover: ${describeTarget(report)}`,
    ...describeLoad(report.shape),
    `  ${report.trialsRequested} trial${report.trialsRequested === 1 ? '' : 's'}: kill -9 of the primary under the load, ` +
      `time to the first ${report.shape.durability} write acknowledged in a later view; then the killed replica restarts from its data ` +
      'directory and the view holds every replica again',
  ];
  lines.push(
    formatTable(
      [
        'trial',
        'killed',
        'of view',
        'new primary',
        'in view',
        'failover ms',
        'rejoin ms',
        'whole view',
        'next write ms',
      ],
      report.trials.map((trial) => [
        String(trial.trial),
        trial.killed,
        String(trial.viewKilled),
        trial.newPrimary ?? '?',
        String(trial.viewAfter),
        formatMs(trial.failoverMs),
        formatMs(trial.rejoinMs),
        String(trial.viewRejoined),
        formatMs(trial.servedAfterRejoinMs),
      ]),
    ),
  );
  lines.push(describeDurations('failover', report.failoverMs));
  lines.push(describeDurations('rejoin', report.rejoinMs));
  const load = report.load;
  lines.push(
    `load through the trials: ${formatCount(load.ops)} calls in ${load.seconds.toFixed(1)} s, ` +
      `latency p50 ${formatMs(load.latencyMs.p50)} ms, max ${formatMs(load.latencyMs.max)} ms, ${formatCount(load.errors)} failed`,
  );
  const errors = describeErrors([load]);
  if (errors !== null) lines.push(errors);
  lines.push(describeMismatches(report.mismatches));
  if (report.verify !== null) lines.push(describeVerify(report.verify));
  if (report.interrupted) {
    lines.push(`interrupted after ${report.trials.length} of ${report.trialsRequested} trials`);
  }
  return `${lines.join('\n')}\n`;
}

export function formatSteadyReport(report: SteadyReport): string {
  const { shape, views, memory } = report;
  const lines = [
    `understudy bench --scenario steady: ${describeTarget(report)}`,
    ...describeLoad(shape),
    `  one run of ${shape.durationSeconds} s ${shape.warmupSeconds === 0 ? 'with no warmup' : `after a ${shape.warmupSeconds} s warmup`}, no fault; closed loop`,
    `  before it, every key written once: ${formatCount(report.prefill.calls)} calls in ${report.prefill.seconds.toFixed(1)} s` +
      (report.prefill.errors > 0 ? `, ${formatCount(report.prefill.errors)} failed` : ''),
  ];
  lines.push(
    formatTable(runColumns, [
      ...(report.warmup === null ? [] : [runRow('warmup', report.warmup)]),
      runRow('steady run', report.run),
    ]),
  );
  const shown = views.seen
    .slice(0, VIEWS_SHOWN_MAX)
    .map((view) => `${view.number} (primary ${view.primary})`);
  const more = views.seen.length - shown.length;
  const seen = `${views.seen.length} seen: ${shown.join(', ')}${more > 0 ? `, and ${more} more (--json lists them)` : ''}`;
  lines.push(
    views.changes === null
      ? `view changes: unknown (the coordinator did not answer at the end); ${seen}`
      : `view changes: ${views.changes} (view ${views.atStart.number} at the start, ${views.atEnd?.number} at the end; ` +
          `${seen}); with no fault, every one is needless`,
  );
  if (views.unansweredPolls > 0) {
    lines.push(`  the coordinator left ${views.unansweredPolls} of ${views.polls} polls unanswered`);
  }
  if (views.problems.count > 0) {
    const kinds = Object.entries(views.problems.byKind)
      .sort(([, a], [, b]) => b - a)
      .map(([kind, count]) => `"${kind}" ${count}`)
      .join(', ');
    lines.push(
      `  replicas not counted as alive, at ${views.problems.count} of ${views.polls} polls × ${report.startedReplicas} replicas: ${kinds}`,
    );
  }
  const stalled = report.stalls.filter((process) => process.count > 0);
  lines.push(
    stalled.length === 0
      ? `stalls: none (no process of the cluster stood still for ${STALL_THRESHOLD_TEXT} or more)`
      : `stalls: ${stalled.map((process) => `${process.process} ${process.count} (longest ${process.longestMs} ms)`).join(', ')}; a view change with no fault, right after one, was that process's own pause`,
  );
  const windowSeconds = Number((memory.windowMs / 1000).toFixed(1));
  lines.push(
    formatTable(
      [
        'replica',
        'samples',
        `second ${windowSeconds} s max MB`,
        `last ${windowSeconds} s max MB`,
        'growth MB',
        'grew',
      ],
      memory.replicas.map((replica) => [
        replica.id,
        String(replica.samples.length),
        formatMegabytes(replica.baselineWindowMaxBytes),
        formatMegabytes(replica.lastWindowMaxBytes),
        formatMegabytes(replica.growthBytes),
        replica.grew === null ? '?' : replica.grew ? 'yes' : 'no',
      ]),
    ),
  );
  lines.push(
    `resident memory: ${memory.grew === null ? 'not judged (a window without samples)' : memory.grew ? 'GREW' : 'did not grow'}; ${RESIDENT_GROWTH_RULE}`,
  );
  for (const replica of memory.replicas) {
    if (replica.notRunningSamples > 0) {
      lines.push(`  ${replica.id} was not running at ${replica.notRunningSamples} samples`);
    }
  }
  const errors = describeErrors([report.run]);
  if (errors !== null) lines.push(errors);
  lines.push(describeMismatches(report.mismatches));
  if (report.verify !== null) lines.push(describeVerify(report.verify));
  if (report.interrupted)
    lines.push(`interrupted after ${report.run.seconds.toFixed(1)} of ${shape.durationSeconds} s`);
  return `${lines.join('\n')}\n`;
}
