// The ViewMonitor polls the coordinator's status (through its proxy) every 100 ms: the nemesis finds
// the primary and waits for whole views with it, the coordinator faults watch what a restarted
// coordinator says, and the report maps view numbers to primaries to measure failovers.
// Invariant: each status is paired with the time its poll was sent, so a wait only trusts statuses
// asked for after it began (a status from before a fault says nothing about after it).

import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '../client/index.js';
import { assert } from '../protocol/assert.js';
import type { ReplicaStatus, StatusReply } from '../protocol/messages.js';
import type { View } from '../protocol/types.js';

export const VIEW_POLL_INTERVAL_MS = 100;
/** Deadline of one status poll, retries included. */
export const STATUS_DEADLINE_MS = 1000;

/** Called with every status the coordinator answers, and when its poll was sent (performance.now()). */
export type StatusListener = (status: StatusReply, askedAtMs: number) => void;

/** Polls the coordinator's view; remembers the primary of every view it saw. */
export class ViewMonitor {
  /** View number → its primary, for every view observed. */
  readonly primaries = new Map<number, string>();
  private latest: StatusReply | null = null;
  /** When the poll that produced `latest` was sent (performance.now() milliseconds). */
  private latestAskedAtMs = Number.NEGATIVE_INFINITY;
  /** When the first status showing the latest view's number was asked for. */
  private viewSinceMs = Number.POSITIVE_INFINITY;
  private readonly listeners = new Set<StatusListener>();
  private stopped = false;
  private readonly loop: Promise<void>;
  private readonly stopping = new AbortController();

  private constructor(private readonly client: Client) {
    this.loop = this.poll();
  }

  static async start(coordinator: string): Promise<ViewMonitor> {
    return new ViewMonitor(await Client.connect({ coordinator, deadlineMs: STATUS_DEADLINE_MS }));
  }

  get view(): View | null {
    return this.latest?.view ?? null;
  }

  /** How long the latest view has been the coordinator's, as far as the polls saw (0 with none). */
  get viewHeldMs(): number {
    return (this.latest?.view ?? null) === null ? 0 : Math.max(0, this.latestAskedAtMs - this.viewSinceMs);
  }

  /** The latest status the coordinator answered, or null before any. */
  get status(): StatusReply | null {
    return this.latest;
  }

  /** What the latest status says of replica `id`, or null. */
  replica(id: string): ReplicaStatus | null {
    return this.latest?.replicas.find((replica) => replica.id === id) ?? null;
  }

  /** The highest view number observed so far (0 before any). */
  get highestViewNumber(): number {
    return Math.max(0, ...this.primaries.keys());
  }

  /** Whether more than one replica has been primary. */
  get primaryChanged(): boolean {
    return new Set(this.primaries.values()).size > 1;
  }

  /** Every replica alive and either the primary or a backup of the view. */
  isWhole(replicaIds: readonly string[]): boolean {
    assert(replicaIds.length > 0, 'a whole view of no replicas');
    return this.latest !== null && statusIsWhole(this.latest, replicaIds);
  }

  /** Like isWhole, from a status asked for at most `maxAgeMs` ago. */
  isWholeNow(replicaIds: readonly string[], maxAgeMs: number): boolean {
    return performance.now() - this.latestAskedAtMs <= maxAgeMs && this.isWhole(replicaIds);
  }

  /** Whether `id` is the primary or a backup of the latest view. */
  isMember(id: string): boolean {
    const view = this.latest?.view;
    return (
      view !== null &&
      view !== undefined &&
      (view.primary === id || view.backups.some((backup) => backup === id))
    );
  }

  /** Whether the coordinator counts `id` alive in the latest status. */
  isAlive(id: string): boolean {
    return this.latest?.replicas.some((replica) => replica.id === id && replica.alive) ?? false;
  }

  /** Calls `listener` with every status from now on; returns what unsubscribes it. */
  observe(listener: StatusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Resolves true once a status asked for after this call shows a whole view, false after
   * `timeoutMs` or on abort.
   */
  async waitWhole(replicaIds: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return this.waitFor(() => this.isWhole(replicaIds), timeoutMs, signal);
  }

  /**
   * Resolves true once a status asked for after this call satisfies `condition`, false after
   * `timeoutMs` or on abort. `condition` is checked every `everyMs`: more often than statuses come
   * when it also reads something else (a learner's files, say).
   */
  async waitFor(
    condition: () => boolean,
    timeoutMs: number,
    signal?: AbortSignal,
    everyMs = VIEW_POLL_INTERVAL_MS,
  ): Promise<boolean> {
    const sinceMs = performance.now();
    const endMs = sinceMs + timeoutMs;
    while (!(this.latestAskedAtMs >= sinceMs && condition())) {
      if (performance.now() >= endMs || signal?.aborted === true || this.stopped) return false;
      await sleepUnlessAborted(everyMs, signal);
    }
    return true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    await this.loop;
    await this.client.close();
  }

  private async poll(): Promise<void> {
    while (!this.stopped) {
      const askedAtMs = performance.now();
      try {
        const status = await this.client.status();
        if (status.view?.number !== this.latest?.view?.number) this.viewSinceMs = askedAtMs;
        this.latest = status;
        this.latestAskedAtMs = askedAtMs;
        if (status.view !== null) this.primaries.set(status.view.number, status.view.primary);
        for (const listener of this.listeners) listener(status, askedAtMs);
      } catch {
        // The coordinator is behind a faulty proxy at times, or restarting; the next poll asks again.
      }
      await sleepUnlessAborted(VIEW_POLL_INTERVAL_MS, this.stopping.signal);
    }
  }
}

function statusIsWhole(status: StatusReply, replicaIds: readonly string[]): boolean {
  const view = status.view;
  if (view === null) return false;
  const members = new Set<string>([view.primary, ...view.backups]);
  const alive = new Set<string>(
    status.replicas.filter((replica) => replica.alive).map((replica) => replica.id),
  );
  return replicaIds.every((id) => members.has(id) && alive.has(id));
}

/** Sleeps, or returns early (without throwing) when `signal` aborts. */
export async function sleepUnlessAborted(milliseconds: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return;
  await sleep(milliseconds, undefined, signal === undefined ? {} : { signal }).catch(() => {});
}
