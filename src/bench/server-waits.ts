// Where a write waited, as the replicas tell it: the /metrics of each one whose admin port the bench
// knows (the replicas it started, or those --replica-admins names), read before and after a run. A closed loop's throughput is its clients over the time each write
// takes, and at the client that time is one number; the replicas split it. The primary times each
// request from its arrival to its answer (`understudy_request_duration_seconds`), and every replica
// times each fdatasync of a batch of log entries (`understudy_fsync_seconds`, one per group commit).
// The client's mean less the primary's is the way there and back; a replica whose fsyncs take longer
// than the others' is the disk the cluster waits for (docs/PERFORMANCE.md, "Where a write's 2.7 ms go").

import type { MetricsFetcher } from '../admin/dashboard/write-latency-scraper.js';

/** Running totals of one replica, as its /metrics had them at one moment. */
export interface ReplicaCounters {
  /** Its id, from `understudy_replica_info`; null from a build without it. */
  readonly id: string | null;
  readonly fsyncs: number;
  readonly fsyncSeconds: number;
  /** Client writes it answered (every durability), and their time from arrival to answer. */
  readonly writes: number;
  readonly writeSeconds: number;
}

/** One replica's share of a run: what it did between the two readings. */
export interface ReplicaWaits {
  readonly replica: string;
  readonly fsyncs: number;
  /** Null when it synced nothing. */
  readonly fsyncMeanMs: number | null;
  /** Client writes it answered: the primary's, none on a backup. */
  readonly writes: number;
  readonly writeMeanMs: number | null;
}

const sample =
  /^(understudy_fsync_seconds|understudy_request_duration_seconds)_(sum|count)(\{[^}]*\})?\s+(\S+)$/;
const replicaInfo = /^understudy_replica_info\{replica="([^"\\]+)"\}\s+1$/;

/**
 * The counters in a replica's /metrics text, or null if any is missing or unreadable (another
 * program on that port, a build without them): a wrong number would be worse than none.
 */
export function countersFromMetrics(text: string): ReplicaCounters | null {
  let fsyncs: number | null = null;
  let fsyncSeconds: number | null = null;
  let writes = 0;
  let writeSeconds = 0;
  let writeSeries = 0;
  let id: string | null = null;
  for (const line of text.split('\n')) {
    id = replicaInfo.exec(line)?.[1] ?? id;
    const match = sample.exec(line);
    if (match === null) continue;
    const [, name, part, labels = '', text] = match;
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0) return null;
    if (name === 'understudy_fsync_seconds') {
      if (part === 'sum') fsyncSeconds = value;
      else fsyncs = value;
    } else if (labels.includes('op="write"')) {
      writeSeries += 1;
      if (part === 'sum') writeSeconds += value;
      else writes += value;
    }
  }
  if (fsyncs === null || fsyncSeconds === null || writeSeries === 0) return null;
  return { id, fsyncs, fsyncSeconds, writes, writeSeconds };
}

/**
 * Each replica read both times, in the order of `after`, by the id its metrics gave (or the name it
 * was read under); one that restarted in between (its counts went down) or was not read is left out.
 */
export function waitsBetween(
  before: ReadonlyMap<string, ReplicaCounters | null>,
  after: ReadonlyMap<string, ReplicaCounters | null>,
): ReplicaWaits[] {
  return [...after].flatMap(([replica, end]) => {
    const start = before.get(replica);
    if (start == null || end === null) return [];
    const fsyncs = end.fsyncs - start.fsyncs;
    const writes = end.writes - start.writes;
    if (fsyncs < 0 || writes < 0) return [];
    const meanMs = (seconds: number, count: number) => (count === 0 ? null : round((seconds * 1000) / count));
    return [
      {
        replica: end.id ?? replica,
        fsyncs,
        fsyncMeanMs: meanMs(end.fsyncSeconds - start.fsyncSeconds, fsyncs),
        writes,
        writeMeanMs: meanMs(end.writeSeconds - start.writeSeconds, writes),
      },
    ];
  });
}

/** Reads the /metrics of a cluster's replicas, by name, through `fetchMetrics`. */
export class ServerWaitsMeter {
  constructor(
    private readonly replicas: () => readonly { readonly name: string; readonly address: string }[],
    private readonly fetchMetrics: MetricsFetcher,
  ) {}

  async read(): Promise<Map<string, ReplicaCounters | null>> {
    const replicas = this.replicas();
    const texts = await Promise.all(
      replicas.map(({ address }) => this.fetchMetrics(address).catch(() => null)),
    );
    return new Map(
      replicas.map(({ name }, index) => {
        const text = texts[index];
        return [name, text == null ? null : countersFromMetrics(text)];
      }),
    );
  }

  /**
   * Times `run` between two readings: each replica read both times (none, if none could be), or
   * null when there is no replica to read.
   */
  async measure<T>(run: () => Promise<T>): Promise<T & { readonly waits: readonly ReplicaWaits[] | null }> {
    if (this.replicas().length === 0) return { ...(await run()), waits: null };
    const before = await this.read();
    const result = await run();
    return { ...result, waits: waitsBetween(before, await this.read()) };
  }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
