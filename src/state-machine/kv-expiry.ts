// Keys with a time to live. A key's expiry is a time in Unix milliseconds fixed by the primary when
// it executes the write (a relative time to live counts from its clock then), so every replica holds
// the same time in its state. Nothing hides a key lazily: it stays, to reads and writes alike, until
// the primary logs its deletion (`KeyValueStore.dueUpdate`, asked each tick under the primary's
// lease), so an expiry is a write the cluster makes itself, at one index on every replica, and reads
// stay linearizable. A key therefore lives at least its time to live by the primary's clock, and
// normally goes a tick and a commit after.

/** How a write sets a key's time to live. */
export type Expiry =
  /** The key keeps no time to live (what a plain put does, as Redis SET does). */
  | { readonly kind: 'none' }
  /** The key keeps the time to live it had (Redis KEEPTTL). */
  | { readonly kind: 'keep' }
  /** The key expires `ms` after the primary executes the write (Redis EX, PX). */
  | { readonly kind: 'after'; readonly ms: number }
  /** The key expires at `ms`, Unix milliseconds (Redis EXAT, PXAT). */
  | { readonly kind: 'at'; readonly ms: number };

export type ExpiryKind = Expiry['kind'];
export const expiryKinds: readonly ExpiryKind[] = ['none', 'keep', 'after', 'at'];

/**
 * When an `expire` sets the time (Redis 7's EXPIRE options; `xx-lt` is XX and LT together: only a key
 * that has a time, and only an earlier one). For GT and LT a key without a time never expires.
 */
export type ExpireCondition = 'always' | 'nx' | 'xx' | 'gt' | 'lt' | 'xx-lt';
export const expireConditions: readonly ExpireCondition[] = ['always', 'nx', 'xx', 'gt', 'lt', 'xx-lt'];

/** The latest time a key may expire at: the end of JavaScript's Date range. */
export const expiryAtMsMax = 8_640_000_000_000_000;

/** The time `expiry` (after or at) names, given the clock's `nowMs`; null if past the latest time. */
export function expiryTime(expiry: Extract<Expiry, { readonly ms: number }>, nowMs: number): number | null {
  const atMs = expiry.kind === 'after' ? nowMs + expiry.ms : expiry.ms;
  return Number.isSafeInteger(atMs) && atMs <= expiryAtMsMax ? atMs : null;
}

/** Whether an `expire` under `condition` replaces `currentMs` (undefined: none) with `atMs`. */
export function expireApplies(
  condition: ExpireCondition,
  currentMs: number | undefined,
  atMs: number,
): boolean {
  switch (condition) {
    case 'always':
      return true;
    case 'nx':
      return currentMs === undefined;
    case 'xx':
      return currentMs !== undefined;
    case 'gt':
      return currentMs !== undefined && atMs > currentMs;
    case 'lt':
      return currentMs === undefined || atMs < currentMs;
    case 'xx-lt':
      return currentMs !== undefined && atMs < currentMs;
  }
}

/**
 * The keys with a time to live, and a min-heap of (time, key) to find those due. A key given a new
 * time leaves its old heap item behind, skipped when it surfaces (it no longer matches the key's
 * time); the heap is rebuilt when such items outnumber the live ones, so it stays within twice the
 * keys that have a time to live.
 */
export class ExpiryTimes {
  readonly #times = new Map<string, number>();
  #heapTimes: number[] = [];
  #heapKeys: string[] = [];

  get size(): number {
    return this.#times.size;
  }

  get(key: string): number | undefined {
    return this.#times.get(key);
  }

  entries(): IterableIterator<[string, number]> {
    return this.#times.entries();
  }

  set(key: string, atMs: number): void {
    if (this.#times.get(key) === atMs) return;
    this.#times.set(key, atMs);
    this.#push(atMs, key);
    if (this.#heapTimes.length > 2 * this.#times.size + 1024) this.#rebuild();
  }

  delete(key: string): void {
    this.#times.delete(key);
  }

  clear(): void {
    this.#times.clear();
    this.#heapTimes = [];
    this.#heapKeys = [];
  }

  /**
   * The keys whose time is at or before `nowMs`, earliest first, while `take(key)` accepts them
   * (it returns false once a batch is full). The keys stay until a delete removes them.
   */
  due(nowMs: number, take: (key: string) => boolean): void {
    const taken: [number, string][] = [];
    while (this.#heapTimes.length > 0 && (this.#heapTimes[0] as number) <= nowMs) {
      const atMs = this.#heapTimes[0] as number;
      const key = this.#heapKeys[0] as string;
      this.#pop();
      if (this.#times.get(key) !== atMs) continue; // an old time of a key given another, or gone
      taken.push([atMs, key]);
      if (!take(key)) break;
    }
    // Back in the heap until their deletes are applied: a batch that is never logged loses nothing.
    for (const [atMs, key] of taken) this.#push(atMs, key);
  }

  #rebuild(): void {
    this.#heapTimes = [];
    this.#heapKeys = [];
    for (const [key, atMs] of this.#times) this.#push(atMs, key);
  }

  #push(atMs: number, key: string): void {
    const times = this.#heapTimes;
    const keys = this.#heapKeys;
    let at = times.length;
    times.push(atMs);
    keys.push(key);
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if ((times[parent] as number) <= atMs) break;
      times[at] = times[parent] as number;
      keys[at] = keys[parent] as string;
      at = parent;
    }
    times[at] = atMs;
    keys[at] = key;
  }

  #pop(): void {
    const times = this.#heapTimes;
    const keys = this.#heapKeys;
    const lastTime = times.pop() as number;
    const lastKey = keys.pop() as string;
    if (times.length === 0) return;
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= times.length) break;
      const right = left + 1;
      const child = right < times.length && (times[right] as number) < (times[left] as number) ? right : left;
      if ((times[child] as number) >= lastTime) break;
      times[at] = times[child] as number;
      keys[at] = keys[child] as string;
      at = child;
    }
    times[at] = lastTime;
    keys[at] = lastKey;
  }
}
