// The run a benchmark reports: the median by throughput (for an even count, the slower of the two
// middle runs). Its latency figures come with it, so the throughput and the latency reported are
// those of one run, not medians taken apart.

export function medianRun<T extends { readonly opsPerSecond: number }>(runs: readonly T[]): T {
  const sorted = [...runs].sort((a, b) => a.opsPerSecond - b.opsPerSecond);
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  if (median === undefined) throw new Error('no run to take the median of');
  return median;
}
