// A histogram of durations kept in typed arrays, for timings taken on the hot path (a request's
// answer, a batch's fsync). Observing allocates nothing and looks up no label: the caller names
// its series by a small index it computed once. The admin port (src/admin) reads the arrays when
// it is scraped and turns them into Prometheus text; nothing here knows about Prometheus.

export class TimingHistogram {
  /** Upper bounds of the buckets, in seconds, ascending; a last bucket holds what exceeds them all. */
  readonly boundsSeconds: Float64Array;
  /** Per series, the count of each bucket (not cumulative): `series * bucketCount + bucket`. */
  readonly bucketCounts: Float64Array;
  readonly sumsSeconds: Float64Array;
  readonly counts: Float64Array;
  readonly bucketCount: number;

  constructor(
    boundsSeconds: readonly number[],
    readonly seriesCount: number,
  ) {
    for (let i = 1; i < boundsSeconds.length; i++) {
      if (!((boundsSeconds[i] ?? 0) > (boundsSeconds[i - 1] ?? 0))) throw new Error('bounds must ascend');
    }
    this.boundsSeconds = Float64Array.from(boundsSeconds);
    this.bucketCount = boundsSeconds.length + 1;
    this.bucketCounts = new Float64Array(seriesCount * this.bucketCount);
    this.sumsSeconds = new Float64Array(seriesCount);
    this.counts = new Float64Array(seriesCount);
  }

  observe(series: number, seconds: number): void {
    const bounds = this.boundsSeconds;
    let bucket = 0;
    // A dozen bounds: a linear scan beats a binary search, and short durations stop early.
    while (bucket < bounds.length && seconds > (bounds[bucket] ?? 0)) bucket++;
    const slot = series * this.bucketCount + bucket;
    this.bucketCounts[slot] = (this.bucketCounts[slot] ?? 0) + 1;
    this.sumsSeconds[series] = (this.sumsSeconds[series] ?? 0) + seconds;
    this.counts[series] = (this.counts[series] ?? 0) + 1;
  }
}

/** Bucket bounds for a client request, from arrival to answer: a sync write takes 1-30 ms here. */
export const requestBoundsSeconds: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Bucket bounds for one fdatasync of a batch of log entries. */
export const fsyncBoundsSeconds: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];
