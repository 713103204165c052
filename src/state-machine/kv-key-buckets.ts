// SCAN's cursor over the store's keys. Redis promises that a full iteration (from cursor 0 until a
// call answers 0) returns every key present from its start to its end, some perhaps more than once,
// and keys added or removed meanwhile perhaps or perhaps not. The store's Map has no position to
// resume from, so the keys are also spread over 2^16 buckets by a hash of their bytes: a cursor
// names the next bucket to visit and a call visits whole buckets in order. A key present throughout
// sits in one bucket the whole time, which the iteration visits once: it comes back exactly once.
// The cursor is the same number on every replica (they hold the same keys), so a READONLY client may
// carry on at another member. Built on the store's first SCAN and kept up from then on: a store that
// is never scanned pays nothing for it.

export const scanBucketCount = 1 << 16;
/** A cursor is a bucket's number, 0 to scanBucketCount − 1; 0 starts an iteration and ends one. */
export const scanCursorMax = scanBucketCount - 1;

export class KeyBuckets {
  readonly #buckets: (Set<string> | undefined)[] = new Array(scanBucketCount).fill(undefined);

  constructor(keys: Iterable<string>) {
    for (const key of keys) this.add(key);
  }

  add(key: string): void {
    const bucket = bucketOf(key);
    const keys = this.#buckets[bucket];
    if (keys === undefined) this.#buckets[bucket] = new Set([key]);
    else keys.add(key);
  }

  delete(key: string): void {
    const bucket = bucketOf(key);
    const keys = this.#buckets[bucket];
    if (keys === undefined) return;
    keys.delete(key);
    if (keys.size === 0) this.#buckets[bucket] = undefined;
  }

  /**
   * Hands `visit` every key of the buckets from `cursor` on, whole buckets, until `count` keys were
   * visited or `visit` answers false (the caller's reply is full); answers the cursor to go on from,
   * 0 once the last bucket was visited.
   */
  scan(cursor: number, count: number, visit: (key: string) => boolean): number {
    let visited = 0;
    for (let bucket = cursor; bucket < scanBucketCount; bucket++) {
      const keys = this.#buckets[bucket];
      if (keys === undefined) continue;
      let more = true;
      for (const key of keys) more = visit(key) && more;
      visited += keys.size;
      const next = bucket + 1 === scanBucketCount ? 0 : bucket + 1;
      if (visited >= count || !more) return next;
    }
    return 0;
  }
}

/** FNV-1a over the key's bytes (latin1: one char a byte), its high 16 bits. */
function bucketOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let at = 0; at < key.length; at++) hash = Math.imul(hash ^ key.charCodeAt(at), 0x01000193);
  return hash >>> 16;
}
