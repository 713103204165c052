// Every limit of the dashboard, named once with its unit, and the relations between them checked.
// Tests pass tiny limits (one client, a few samples) so that the bounds are actually reached.

export interface DashboardLimits {
  /** How often the dashboard samples the cluster and pushes a state to each page. */
  readonly sampleIntervalMs: number;
  /** Samples kept (and charted): 300 at one a second is the last five minutes. */
  readonly samplesMax: number;
  /** View changes kept in the timeline; the oldest go first. */
  readonly timelineEventsMax: number;
  /** Pages that may follow the event stream at once; one more is answered 503. */
  readonly streamClientsMax: number;
  /** A page whose unread events exceed this is dropped (its browser reconnects when it can read). */
  readonly streamBufferedBytesMax: number;
  /** How long a scrape of a replica's /metrics may take before its latency counts as unknown. */
  readonly scrapeTimeoutMs: number;
}

export const dashboardLimitsDefault: DashboardLimits = {
  sampleIntervalMs: 1000,
  samplesMax: 300,
  timelineEventsMax: 200,
  streamClientsMax: 16,
  streamBufferedBytesMax: 256 * 1024,
  scrapeTimeoutMs: 800,
};

/** A /metrics text larger than this is not a replica's (it is some 20 kB): it is refused unread. */
export const scrapeTextBytesMax = 4 * 1024 * 1024;

/** How long a page's EventSource waits before it reconnects (after a drop, a coordinator restart). */
export const streamReconnectDelayMs = 2000;

export function checkDashboardLimits(limits: DashboardLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1)
      throw new Error(`dashboard limit ${name} must be a positive integer`);
  }
  // One sample's scrapes end before the next sample starts, so scrapes never pile up.
  if (limits.scrapeTimeoutMs >= limits.sampleIntervalMs) {
    throw new Error('dashboard scrapeTimeoutMs must be below sampleIntervalMs');
  }
}
