// Quantiles from a cumulative histogram, estimated as Prometheus's `histogram_quantile` does: find
// the bucket holding the rank and interpolate linearly inside it. The request histogram's buckets
// are coarse (…, 1, 2.5, 5, 10, 25 ms, …), so a quantile is an estimate within its bucket, never finer.

/** Cumulative counts per upper bound (ascending; the last bound is +Infinity), as Prometheus has them. */
export interface CumulativeHistogram {
  readonly upperBoundsSeconds: readonly number[];
  readonly cumulativeCounts: readonly number[];
}

export function histogramQuantile(quantile: number, histogram: CumulativeHistogram): number | null {
  const { upperBoundsSeconds: bounds, cumulativeCounts: counts } = histogram;
  const total = counts[counts.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = quantile * total;
  const bucket = counts.findIndex((count) => count >= rank);
  if (bucket < 0) return null;
  const upper = bounds[bucket] ?? Number.POSITIVE_INFINITY;
  const lower = bucket === 0 ? 0 : (bounds[bucket - 1] ?? 0);
  // Beyond the last finite bound nothing is known but "more than that": answer the bound.
  if (upper === Number.POSITIVE_INFINITY) return bucket === 0 ? null : lower;
  const below = bucket === 0 ? 0 : (counts[bucket - 1] ?? 0);
  const inside = (counts[bucket] ?? 0) - below;
  if (inside <= 0) return upper;
  return lower + ((upper - lower) * (rank - below)) / inside;
}

/** `later − earlier`, the requests of the interval between two scrapes; null if they do not fit (a restart). */
export function histogramDifference(
  later: CumulativeHistogram,
  earlier: CumulativeHistogram,
): CumulativeHistogram | null {
  if (!sameBounds(later, earlier)) return null;
  const counts = later.cumulativeCounts.map(
    (count, bucket) => count - (earlier.cumulativeCounts[bucket] ?? 0),
  );
  // Counters only grow; a smaller one means the process restarted and counts from zero again.
  if (counts.some((count) => count < 0)) return null;
  return { upperBoundsSeconds: later.upperBoundsSeconds, cumulativeCounts: counts };
}

/** The requests of both (two replicas' intervals); null if their buckets differ (other versions). */
export function histogramSum(a: CumulativeHistogram, b: CumulativeHistogram): CumulativeHistogram | null {
  if (!sameBounds(a, b)) return null;
  return {
    upperBoundsSeconds: a.upperBoundsSeconds,
    cumulativeCounts: a.cumulativeCounts.map((count, bucket) => count + (b.cumulativeCounts[bucket] ?? 0)),
  };
}

function sameBounds(a: CumulativeHistogram, b: CumulativeHistogram): boolean {
  return (
    a.upperBoundsSeconds.length === b.upperBoundsSeconds.length &&
    a.upperBoundsSeconds.every((bound, index) => bound === b.upperBoundsSeconds[index])
  );
}
