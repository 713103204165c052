// The key/value store's entries, held in a fixed number of Maps (shards) chosen by a hash of the key.
//
// Why not one Map: a snapshot must see the state as it was when it began while writes go on. With one
// Map it copied a reference to every entry first, 30-45 ms on the event loop at 320,000 keys (every
// 5-7 s at 32 clients on each replica), and a Map grows by rehashing all of its entries in one go
// (57-91 ms once at 262,144 keys, on every replica at the same moment). Here a snapshot takes the
// shards as they are and marks them shared; a write to a shared shard first copies that shard alone
// (1/256 of the state) and changes the copy, so the snapshot's shards never change under it and the
// copying is spread over the writes that follow. A shard rehashes 1/256 of the state.
//
// Order: each shard keeps its insertion order, as a Map does, and the store's order is shard 0's
// entries, then shard 1's, and so on. Every replica applies the same writes in the same order, and a
// restore inserts a snapshot's entries in the snapshot's order, so every shard's order, and the bytes
// of later snapshots, come out the same on a replica that restored as on the one that wrote it.

export const shardCount = 256;
/** A snapshot entry's framing: a u32 length before the key and one before the value. */
export const entryFramingBytes = 8;

/** One shard as a snapshot sees it: it does not change while the snapshot holds it. */
export interface KvShard {
  readonly map: ReadonlyMap<string, string>;
  /** The snapshot bytes of its entries: per entry the framing, the key and the value (latin1). */
  readonly bytes: number;
}

interface HeldShard {
  readonly map: Map<string, string>;
  bytes: number;
  /** Snapshots holding this shard; a write to it while any does goes to a copy. */
  sharers: number;
}

export class KvEntries {
  #shards: HeldShard[] = Array.from({ length: shardCount }, () => ({ map: new Map(), bytes: 0, sharers: 0 }));
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(key: string): string | undefined {
    return this.#shardOf(key).map.get(key);
  }

  has(key: string): boolean {
    return this.#shardOf(key).map.has(key);
  }

  set(key: string, value: string): void {
    const shard = this.#writable(shardIndex(key));
    const before = shard.map.get(key);
    if (before === undefined) {
      shard.bytes += entryFramingBytes + key.length + value.length;
      this.#size += 1;
    } else {
      shard.bytes += value.length - before.length;
    }
    shard.map.set(key, value);
  }

  delete(key: string): void {
    const index = shardIndex(key);
    const before = this.#shards[index]?.map.get(key);
    if (before === undefined) return;
    const shard = this.#writable(index);
    shard.bytes -= entryFramingBytes + key.length + before.length;
    shard.map.delete(key);
    this.#size -= 1;
  }

  /** Visits every entry in the store's order. */
  forEach(visit: (value: string, key: string) => void): void {
    for (const shard of this.#shards) shard.map.forEach(visit);
  }

  /** The entries as they are now, for a snapshot: nothing is copied until a write needs it. */
  capture(): KvCapture {
    return new KvCapture(this.#shards);
  }

  #shardOf(key: string): HeldShard {
    return this.#shards[shardIndex(key)] as HeldShard;
  }

  /** The shard at `index`, copied first if a snapshot holds it. */
  #writable(index: number): HeldShard {
    const shard = this.#shards[index] as HeldShard;
    if (shard.sharers === 0) return shard;
    const copy: HeldShard = { map: new Map(shard.map), bytes: shard.bytes, sharers: 0 };
    this.#shards[index] = copy;
    return copy;
  }
}

/**
 * Shards held for a snapshot, read in order and released one by one. A capture that is dropped
 * without releasing them costs at most one copy of each shard, at its next write.
 */
export class KvCapture {
  readonly count: number;
  /** The snapshot bytes of every entry (see `KvShard.bytes`). */
  readonly bytes: number;
  readonly #shards: (HeldShard | undefined)[];

  constructor(shards: readonly HeldShard[]) {
    this.#shards = shards.slice();
    let count = 0;
    let bytes = 0;
    for (const shard of shards) {
      shard.sharers += 1;
      count += shard.map.size;
      bytes += shard.bytes;
    }
    this.count = count;
    this.bytes = bytes;
  }

  /** A capture of one Map in its own order, which nothing else writes to (stateHash's sorted copy). */
  static ofMap(map: Map<string, string>): KvCapture {
    let bytes = 0;
    map.forEach((value, key) => {
      bytes += entryFramingBytes + key.length + value.length;
    });
    return new KvCapture([{ map, bytes, sharers: 0 }]);
  }

  get length(): number {
    return this.#shards.length;
  }

  /** The shard at `index`, until it is released. */
  shard(index: number): KvShard {
    const shard = this.#shards[index];
    if (shard === undefined) throw new Error(`shard ${index} of this capture was released`);
    return shard;
  }

  /** Lets writes change the shard at `index` in place again (if no other snapshot holds it). */
  release(index: number): void {
    const shard = this.#shards[index];
    if (shard === undefined) return;
    shard.sharers -= 1;
    this.#shards[index] = undefined;
  }
}

/** FNV-1a over the key's characters (latin1: one per byte), its high half folded into the low. */
function shardIndex(key: string): number {
  let hash = 0x811c9dc5;
  for (let at = 0; at < key.length; at++) hash = Math.imul(hash ^ key.charCodeAt(at), 0x01000193);
  return (hash ^ (hash >>> 16)) & (shardCount - 1);
}
