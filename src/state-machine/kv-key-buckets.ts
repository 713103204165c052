// SCAN's cursor over the store's keys. Redis promises that a full iteration (from cursor 0 until a
// call answers 0) returns every key present from its start to its end, some perhaps more than once,
// and keys added or removed meanwhile perhaps or perhaps not. The store's Map has no position to
// resume from, so the keys are also spread over 2^16 buckets by a hash of their bytes: a cursor
// names the next bucket to visit and a call visits whole buckets in order. A key present throughout
// sits in one bucket the whole time, which the iteration visits once: it comes back exactly once.
// The hash is keyed by the store's scan seed (kv-key-hash.ts), so keys cannot be chosen to share a
// bucket; every replica holds the same seed (the primary logs it), so the cursor is the same number
// on every replica and a READONLY client may carry on at another member, or after a failover.
//
// The buckets are made on the store's first scan, so a store never scanned pays nothing for them,
// and made a slice of keys per call (`keysPerCallMax`): made at once, 320,000 keys took the event
// loop 340 ms, and a primary that stops that long under load risks being judged dead. Until they
// are whole a call answers no keys and a cursor to come back with: SCAN_CURSOR_BUILDING for an
// iteration that has not begun, or the cursor it was given. Meanwhile the slices walk a live
// iterator of the store's Map, which also meets every key added after it began (a Map's iterator
// visits what is appended while it runs), so only deletions need noting before the buckets are
// whole; after, every key added or deleted is noted as it happens.

import { halfSipHash, type ScanSeed } from './kv-key-hash.js';

/** Buckets of keys; a cursor names one, 0 to bucketCount − 1. */
const bucketCount = 1 << 16;
/** The cursor of an iteration that has not begun because the buckets are still being made. */
export const SCAN_CURSOR_BUILDING = bucketCount;

export class KeyBuckets {
  readonly #buckets: (string[] | undefined)[] = new Array(bucketCount).fill(undefined);
  /** The store's keys not yet put in buckets; null once every key is in one. */
  #unplaced: Iterator<string> | null;

  constructor(
    keys: Iterator<string>,
    private readonly keysPerCallMax: number,
    private readonly seed: ScanSeed,
  ) {
    this.#unplaced = keys;
  }

  /** A key the store added. Before the buckets are whole, the live iterator meets it anyway. */
  added(key: string): void {
    if (this.#unplaced === null) this.#place(key);
  }

  /** A key the store deleted. */
  deleted(key: string): void {
    const bucket = halfSipHash(key, this.seed) >>> 16;
    const keys = this.#buckets[bucket];
    const at = keys?.indexOf(key) ?? -1;
    if (keys === undefined || at < 0) return;
    // Order within a bucket does not matter: the last takes the deleted one's place.
    const last = keys.pop() as string;
    if (at < keys.length) keys[at] = last;
    if (keys.length === 0) this.#buckets[bucket] = undefined;
  }

  /**
   * Hands `visit` every key of the buckets from `cursor` on, whole buckets, until `count` keys were
   * visited or `visit` answers false (the caller's reply is full); answers the cursor to go on from,
   * 0 once the last bucket was visited. While the buckets are not whole it makes a slice of them
   * and, if that did not finish them, visits nothing and answers the cursor to come back with.
   */
  scan(cursor: number, count: number, visit: (key: string) => boolean): number {
    if (this.#unplaced !== null) {
      this.#placeSome();
      if (this.#unplaced !== null) return cursor === 0 ? SCAN_CURSOR_BUILDING : cursor;
    }
    let visited = 0;
    for (let bucket = cursor === SCAN_CURSOR_BUILDING ? 0 : cursor; bucket < bucketCount; bucket++) {
      const keys = this.#buckets[bucket];
      if (keys === undefined) continue;
      let more = true;
      for (const key of keys) more = visit(key) && more;
      visited += keys.length;
      const next = bucket + 1 === bucketCount ? 0 : bucket + 1;
      if (visited >= count || !more) return next;
    }
    return 0;
  }

  #placeSome(): void {
    const unplaced = this.#unplaced as Iterator<string>;
    for (let placed = 0; placed < this.keysPerCallMax; placed++) {
      const next = unplaced.next();
      if (next.done === true) {
        this.#unplaced = null;
        return;
      }
      this.#place(next.value);
    }
  }

  #place(key: string): void {
    const bucket = halfSipHash(key, this.seed) >>> 16;
    const keys = this.#buckets[bucket];
    if (keys === undefined) this.#buckets[bucket] = [key];
    else keys.push(key);
  }
}
