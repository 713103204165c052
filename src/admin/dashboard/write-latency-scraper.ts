// Write latency for the dashboard, from the replicas' own admin ports. The coordinator sees no client
// request (clients talk to the primary), so it cannot time one; each replica already keeps a
// histogram of the requests it answered, served in its /metrics. Once a sample, this reads that
// histogram from every replica admin address it was given (`--replica-admins`), subtracts what each
// replica had at the previous sample, and sums the differences: the writes answered in the interval
// (only the primary answers writes, so that is in effect the primary's, also across a failover).
// A replica that does not answer, or whose counts went down (it restarted), adds nothing this time.
// Each reading costs a replica a few ms of CPU (prom-client's process metrics, mostly), so the
// dashboard scrapes only while a page is open, and `forget`s its readings while none is.

import { get as httpsGet } from 'node:https';
import { scrapeTextBytesMax } from './dashboard-limits.js';
import {
  type CumulativeHistogram,
  histogramDifference,
  histogramQuantile,
  histogramSum,
} from './histogram-quantile.js';
import { writeHistogramFromText } from './write-histogram-text.js';

/** Writes answered in one interval, with quantiles estimated from the histogram's buckets. */
export interface WriteLatency {
  readonly count: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

export interface LatencyScrape {
  /** Null when no replica could be compared with its previous reading. */
  readonly latency: WriteLatency | null;
  /** Replica admin ports that answered with a readable histogram. */
  readonly reachable: number;
  readonly addresses: number;
}

/** Fetches a replica's /metrics text, or fails. */
export type MetricsFetcher = (address: string) => Promise<string>;

/**
 * Reads /metrics over HTTPS, trusting only `trust.ca` (the cluster's CA: replicas with `--admin-tls`
 * serve their own certificates, which name the hosts they are dialled by), read at each fetch so a
 * reloaded CA (SIGHUP) counts at once. node:https, because `fetch` takes no CA of its own.
 */
export function httpsMetricsFetcher(
  timeoutMs: number,
  trust: { readonly ca: string | Buffer },
): MetricsFetcher {
  return (address) =>
    new Promise((resolve, reject) => {
      const options = { ca: trust.ca, timeout: timeoutMs };
      const request = httpsGet(`https://${address}/metrics`, options, (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          reject(new Error(`${address}/metrics answered ${response.statusCode}`));
          return;
        }
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
          if (text.length > scrapeTextBytesMax) {
            request.destroy();
            reject(new Error(`${address}/metrics is too large`));
          }
        });
        response.on('end', () => resolve(text));
        response.on('error', reject);
      });
      request.on('timeout', () =>
        request.destroy(new Error(`${address}/metrics: no answer in ${timeoutMs} ms`)),
      );
      request.on('error', reject);
    });
}

export function httpMetricsFetcher(timeoutMs: number): MetricsFetcher {
  return async (address) => {
    const response = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    if (response.status !== 200) throw new Error(`${address}/metrics answered ${response.status}`);
    const length = Number(response.headers.get('content-length') ?? 0);
    if (length > scrapeTextBytesMax) {
      await response.body?.cancel();
      throw new Error(`${address}/metrics is ${length} bytes`);
    }
    const text = await response.text();
    if (text.length > scrapeTextBytesMax) throw new Error(`${address}/metrics is too large`);
    return text;
  };
}

export class WriteLatencyScraper {
  private readonly previous = new Map<string, CumulativeHistogram>();

  constructor(
    readonly addresses: readonly string[],
    private readonly fetchMetrics: MetricsFetcher,
  ) {}

  /** Drops every reading, so that the next scrape starts afresh instead of spanning a long gap. */
  forget(): void {
    this.previous.clear();
  }

  async scrape(): Promise<LatencyScrape> {
    const texts = await Promise.all(
      this.addresses.map((address) => this.fetchMetrics(address).catch(() => null)),
    );
    let interval: CumulativeHistogram | null = null;
    let reachable = 0;
    for (const [position, address] of this.addresses.entries()) {
      const text = texts[position] ?? null;
      const now = text === null ? null : writeHistogramFromText(text);
      const before = this.previous.get(address);
      if (now === null) {
        this.previous.delete(address);
        continue;
      }
      reachable += 1;
      this.previous.set(address, now);
      const difference = before === undefined ? null : histogramDifference(now, before);
      if (difference === null) continue;
      interval = interval === null ? difference : (histogramSum(interval, difference) ?? interval);
    }
    return {
      latency: interval === null ? null : latencyOf(interval),
      reachable,
      addresses: this.addresses.length,
    };
  }
}

function latencyOf(interval: CumulativeHistogram): WriteLatency {
  const toMs = (seconds: number | null) => (seconds === null ? null : seconds * 1000);
  return {
    count: interval.cumulativeCounts[interval.cumulativeCounts.length - 1] ?? 0,
    p50Ms: toMs(histogramQuantile(0.5, interval)),
    p99Ms: toMs(histogramQuantile(0.99, interval)),
  };
}
