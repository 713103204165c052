// How long a replica takes to answer each client request, from the frame's arrival to the reply
// leaving, per kind of request. This runs for every request, so it allocates nothing and looks up no
// label: a request's series is a small number chosen by a switch, and its start time waits in a
// per-connection ring of typed arrays indexed by the request id (ids are unique per connection, and a
// client numbers them in order, so the ids in flight on one connection rarely share a slot).

import type { ClientRequest } from '../protocol/messages.js';
import { requestBoundsSeconds, TimingHistogram } from './timing-histogram.js';

/** The label values of each series, in series order (the index `requestSeries` answers). */
export const requestSeriesLabels = [
  { op: 'write', durability: 'sync' },
  { op: 'write', durability: 'replicated' },
  { op: 'write', durability: 'async' },
  { op: 'read', durability: 'none' },
  { op: 'read-any', durability: 'none' },
  // Opening a session is a logged entry, answered once it commits.
  { op: 'open-session', durability: 'sync' },
  { op: 'request-status', durability: 'none' },
] as const;

export function requestSeries(request: ClientRequest): number {
  switch (request.kind) {
    case 'write':
      return request.durability === 'sync' ? 0 : request.durability === 'replicated' ? 1 : 2;
    case 'read':
      return request.staleness === null ? 3 : 4;
    case 'open-session':
      return 5;
    case 'request-status':
      return 6;
  }
}

export function createRequestHistogram(): TimingHistogram {
  return new TimingHistogram(requestBoundsSeconds, requestSeriesLabels.length);
}

/** Slots a connection's ring starts with, and the most it grows to (pipelined requests in flight). */
const inFlightSlotsInitial = 16;
const inFlightSlotsMax = 1024;
const emptySlot = -1;

/** One client connection's requests waiting for their answer, with when each arrived. */
export class InFlightRequests {
  private ids = new Float64Array(inFlightSlotsInitial).fill(emptySlot);
  private startedMs = new Float64Array(inFlightSlotsInitial);
  private series = new Uint8Array(inFlightSlotsInitial);

  constructor(private readonly histogram: TimingHistogram) {}

  started(request: ClientRequest, nowMs: number): void {
    const id = request.id;
    let slot = id & (this.ids.length - 1);
    const holder = this.ids[slot] ?? emptySlot;
    if (holder !== emptySlot && holder !== id && this.ids.length < inFlightSlotsMax) {
      this.grow();
      slot = id & (this.ids.length - 1);
    }
    // At the largest size a collision replaces the older request, which then goes untimed.
    this.ids[slot] = id;
    this.startedMs[slot] = nowMs;
    this.series[slot] = requestSeries(request);
  }

  answered(id: number, nowMs: number): void {
    const slot = id & (this.ids.length - 1);
    if (this.ids[slot] !== id) return;
    this.ids[slot] = emptySlot;
    this.histogram.observe(this.series[slot] ?? 0, (nowMs - (this.startedMs[slot] ?? nowMs)) / 1000);
  }

  /** Doubles the ring (rare: only while more requests are in flight than it holds). */
  private grow(): void {
    const { ids, startedMs, series } = this;
    const length = ids.length * 2;
    this.ids = new Float64Array(length).fill(emptySlot);
    this.startedMs = new Float64Array(length);
    this.series = new Uint8Array(length);
    for (let old = 0; old < ids.length; old++) {
      const id = ids[old] ?? emptySlot;
      if (id === emptySlot) continue;
      const slot = id & (length - 1);
      this.ids[slot] = id;
      this.startedMs[slot] = startedMs[old] ?? 0;
      this.series[slot] = series[old] ?? 0;
    }
  }
}
