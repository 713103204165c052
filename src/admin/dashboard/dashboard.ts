// The live dashboard of the coordinator's admin port: the page and its files at `/`, and `/events`,
// a stream that pushes the cluster's state to every open page once a sample interval and at once on
// every view change. It reads only what the coordinator already knows (one inspection at a time) and,
// for write latency, the replicas' own /metrics (write-latency-scraper.ts); it changes nothing.
//
//   every sampleIntervalMs:  inspect → scrape replicas (bounded by scrapeTimeoutMs; only while a page
//                            is open) → sample → push
//   on a view change:        inspect → timeline event → push
//
// Samples are taken whether or not a page is open, so a page opened later gets the last minutes of
// throughput; latency costs the replicas a scrape each, so it is only read while someone looks.

import type { CoordinatorInspection } from '../../node/coordinator-server.js';
import type { AdminRoute } from '../admin-server.js';
import { dashboardAssetRoutes } from './dashboard-assets.js';
import { DashboardHistory } from './dashboard-history.js';
import { checkDashboardLimits, type DashboardLimits, dashboardLimitsDefault } from './dashboard-limits.js';
import type { DashboardMessage, DashboardSample, TimelineEvent } from './dashboard-state.js';
import { dashboardStatus } from './dashboard-status.js';
import { EventStream } from './event-stream.js';
import {
  httpMetricsFetcher,
  httpsMetricsFetcher,
  type LatencyScrape,
  type MetricsFetcher,
  WriteLatencyScraper,
} from './write-latency-scraper.js';

/** What the dashboard needs of the coordinator (a CoordinatorServer, or a test's stand-in). */
export interface DashboardSource {
  inspect(): CoordinatorInspection;
  /** Calls `listener` after each new view; returns what stops it. */
  onViewChange(listener: () => void): () => void;
}

export interface DashboardOptions {
  /** The replicas' admin addresses (host:port) to read write latency from; none: no latency chart. */
  readonly replicaAdmins?: readonly string[];
  readonly limits?: DashboardLimits;
  /** How a replica's /metrics is read (tests pass their own). */
  readonly fetchMetrics?: MetricsFetcher;
  /**
   * Read the replicas' admin ports over HTTPS, trusting this material's CA (they run `--admin-tls`),
   * as it is at each scrape (the process's own, which SIGHUP reloads); else HTTP.
   */
  readonly replicaAdminsTrust?: { readonly ca: string | Buffer };
}

export class Dashboard {
  readonly routes: readonly AdminRoute[];
  private readonly limits: DashboardLimits;
  private readonly history: DashboardHistory;
  private readonly scraper: WriteLatencyScraper | null;
  private readonly stream: EventStream;
  private readonly timer: NodeJS.Timeout;
  private readonly stopWatchingViews: () => void;
  private lastScrape: LatencyScrape | null = null;
  private sampling = false;
  private closed = false;

  constructor(
    private readonly source: DashboardSource,
    options: DashboardOptions = {},
  ) {
    this.limits = options.limits ?? dashboardLimitsDefault;
    checkDashboardLimits(this.limits);
    this.history = new DashboardHistory(this.limits, Date.now(), source.inspect());
    const addresses = options.replicaAdmins ?? [];
    this.scraper =
      addresses.length === 0
        ? null
        : new WriteLatencyScraper(
            addresses,
            options.fetchMetrics ??
              (options.replicaAdminsTrust === undefined
                ? httpMetricsFetcher(this.limits.scrapeTimeoutMs)
                : httpsMetricsFetcher(this.limits.scrapeTimeoutMs, options.replicaAdminsTrust)),
          );
    this.stream = new EventStream(
      { clientsMax: this.limits.streamClientsMax, bufferedBytesMax: this.limits.streamBufferedBytesMax },
      () => this.message(true, this.history.samples, this.history.timeline),
    );
    this.routes = [...dashboardAssetRoutes(), this.stream.route('/events')];
    this.timer = setInterval(() => {
      this.sample().catch(() => {}); // scrapes catch their own failures; one bad sample must not stop the next
    }, this.limits.sampleIntervalMs);
    this.timer.unref(); // the coordinator, not its dashboard, decides when the process ends
    this.stopWatchingViews = source.onViewChange(() => this.viewChanged());
  }

  /** Pages following the stream now. */
  get pages(): number {
    return this.stream.clientCount;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.stopWatchingViews();
    this.stream.close();
  }

  private viewChanged(): void {
    const event = this.history.noteView(Date.now(), this.source.inspect());
    if (event !== null) this.push([], [event]);
  }

  private async sample(): Promise<void> {
    if (this.sampling || this.closed) return;
    this.sampling = true;
    try {
      // The commit index and the time it is divided by are taken together, before the scrape.
      const atMs = Date.now();
      const monotonicMs = performance.now();
      const inspection = this.source.inspect();
      if (this.scraper !== null && this.stream.clientCount > 0) {
        this.lastScrape = await this.scraper.scrape();
      } else {
        this.scraper?.forget();
        this.lastScrape = null;
      }
      if (this.closed) return;
      const sample = this.history.addSample(atMs, monotonicMs, inspection, this.lastScrape?.latency ?? null);
      this.push([sample], []);
    } finally {
      this.sampling = false;
    }
  }

  /** What changed, to every page; with none open, the message is not even built. */
  private push(samples: readonly DashboardSample[], timeline: readonly TimelineEvent[]): void {
    if (this.stream.clientCount > 0) this.stream.broadcast(this.message(false, samples, timeline));
  }

  private message(
    full: boolean,
    samples: readonly DashboardSample[],
    timeline: readonly TimelineEvent[],
  ): string {
    const message: DashboardMessage = {
      full,
      sampleIntervalMs: this.limits.sampleIntervalMs,
      samplesMax: this.limits.samplesMax,
      timelineEventsMax: this.limits.timelineEventsMax,
      status: dashboardStatus(
        Date.now(),
        this.source.inspect(),
        this.scraper === null
          ? null
          : { addresses: this.scraper.addresses.length, reachable: this.lastScrape?.reachable ?? null },
      ),
      samples,
      timeline,
    };
    return JSON.stringify(message);
  }
}
