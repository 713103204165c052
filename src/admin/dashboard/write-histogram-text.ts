// Reads one histogram out of a replica's /metrics text (Prometheus format 0.0.4): the cumulative
// buckets of `understudy_request_duration_seconds` for client writes (`op="write"`), every durability
// summed. The text comes over the network, so anything that does not parse makes the whole reading
// unknown (null) rather than a wrong number.

import type { CumulativeHistogram } from './histogram-quantile.js';

const bucketPrefix = 'understudy_request_duration_seconds_bucket{';
/** `{labels} value`; a label value may hold any character, escaped quotes included. */
const bucketLine = /^understudy_request_duration_seconds_bucket\{((?:[^"}]|"(?:[^"\\]|\\.)*")*)\}\s+(\S+)/;
const labelPair = /(\w+)="((?:[^"\\]|\\.)*)"/g;

export function writeHistogramFromText(text: string): CumulativeHistogram | null {
  const countsByBound = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(bucketPrefix)) continue;
    const match = bucketLine.exec(line);
    if (match === null) return null;
    const labels = new Map<string, string>();
    for (const pair of (match[1] ?? '').matchAll(labelPair)) labels.set(pair[1] ?? '', pair[2] ?? '');
    if (labels.get('op') !== 'write') continue;
    const le = labels.get('le');
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    const count = Number(match[2]);
    if (le === undefined || Number.isNaN(bound) || !Number.isFinite(count) || count < 0) return null;
    countsByBound.set(bound, (countsByBound.get(bound) ?? 0) + count);
  }
  const bounds = [...countsByBound.keys()].sort((a, b) => a - b);
  if (bounds.length === 0 || bounds[bounds.length - 1] !== Number.POSITIVE_INFINITY) return null;
  const counts = bounds.map((bound) => countsByBound.get(bound) ?? 0);
  if (counts.some((count, bucket) => bucket > 0 && count < (counts[bucket - 1] ?? 0))) return null;
  return { upperBoundsSeconds: bounds, cumulativeCounts: counts };
}
