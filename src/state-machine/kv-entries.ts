// The key/value store's entries, and snapshots of them taken without a copy.
//
// A snapshot must see the state as it was when it began while writes go on. Copying a reference to
// every entry first took 20-45 ms on the event loop at 320,000 keys (every few seconds on each
// replica under load). Here a snapshot reads the one Map in place, a slice at a time, and while it
// does the Map's keys and their order stay as they were: a write to a key the Map holds changes its
// value in place and keeps the old value for the snapshot (`preImages`); a delete leaves a marker in
// its place; a key that is new (or deleted and written again) goes to a second Map (`late`). When the
// snapshot has read everything, the markers are deleted and the late keys appended in their order:
// the Map ends exactly as if every write had gone to it directly, so its order (which snapshots list
// and a restore keeps, so every replica's snapshots are alike byte for byte) is unchanged.
//
// Hashing the keys over many Maps was tried first and not kept: their snapshots read the heap out of
// order and cost more than the copy saved (docs/PERFORMANCE.md, "What the p99 at 32 clients is made
// of").

/** What a deleted key holds in the Map while a snapshot reads it. */
const deleted: unique symbol = Symbol('deleted');
type Held = string | typeof deleted;

/**
 * A snapshot that is never read to its end (its writer failed) would keep its overlay forever: once
 * the overlay holds this many keys, or as many as the Map, the snapshot copies what it has not read
 * yet and lets go of the Map.
 */
const overlayKeysMin = 65_536;

/** A snapshot entry's framing: a u32 length before the key and one before the value. */
export const entryFramingBytes = 8;

export class KvEntries {
  readonly #map = new Map<string, Held>();
  /** Keys written while a snapshot reads the Map that it did not hold (or held deleted). */
  readonly #late = new Map<string, string>();
  /** Keys deleted while a snapshot reads the Map, still there as `deleted`. */
  #deletedKeys: string[] = [];
  #reading: LazyCapture | null = null;
  #size = 0;
  /** The snapshot bytes of every entry: per entry the framing, the key and the value (latin1). */
  #bytes = 0;

  get size(): number {
    return this.#size;
  }

  get(key: string): string | undefined {
    if (this.#reading === null) return this.#map.get(key) as string | undefined;
    const late = this.#late.get(key);
    if (late !== undefined) return late;
    const held = this.#map.get(key);
    return held === deleted ? undefined : held;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  set(key: string, value: string): void {
    const before = this.get(key);
    this.#bytes +=
      before === undefined ? entryFramingBytes + key.length + value.length : value.length - before.length;
    if (before === undefined) this.#size += 1;
    const reading = this.#reading;
    if (reading === null) {
      this.#map.set(key, value);
      return;
    }
    if (this.#late.has(key) || before === undefined) {
      this.#late.set(key, value);
    } else {
      reading.keep(key, before);
      this.#map.set(key, value);
    }
    this.#boundOverlay(reading);
  }

  delete(key: string): void {
    const before = this.get(key);
    if (before === undefined) return;
    this.#bytes -= entryFramingBytes + key.length + before.length;
    this.#size -= 1;
    const reading = this.#reading;
    if (reading === null) {
      this.#map.delete(key);
      return;
    }
    if (this.#late.delete(key)) return;
    reading.keep(key, before);
    this.#map.set(key, deleted);
    this.#deletedKeys.push(key);
    this.#boundOverlay(reading);
  }

  /** Visits every entry in the store's order. */
  forEach(visit: (value: string, key: string) => void): void {
    this.#map.forEach((held, key) => {
      if (held !== deleted) visit(held, key);
    });
    this.#late.forEach(visit);
  }

  /**
   * The entries as they are now, for a snapshot. The first snapshot under way reads the Map in place;
   * one begun while another reads it copies the entries at once.
   */
  capture(): KvCapture {
    if (this.#reading !== null) {
      const keys: string[] = [];
      const values: string[] = [];
      this.forEach((value, key) => {
        keys.push(key);
        values.push(value);
      });
      return new CopiedCapture(keys, values, this.#bytes);
    }
    const reading = new LazyCapture(this.#map, this.#size, this.#bytes, () => this.#stopReading(reading));
    this.#reading = reading;
    return reading;
  }

  #boundOverlay(reading: LazyCapture): void {
    if (this.#late.size + reading.kept < Math.max(overlayKeysMin, this.#map.size)) return;
    reading.copyRest();
    this.#stopReading(reading);
  }

  /** Folds the overlay back: the Map ends as if every write since the snapshot began had gone to it. */
  #stopReading(reading: LazyCapture): void {
    if (this.#reading !== reading) return;
    this.#reading = null;
    for (const key of this.#deletedKeys) if (this.#map.get(key) === deleted) this.#map.delete(key);
    this.#deletedKeys = [];
    this.#late.forEach((value, key) => {
      this.#map.set(key, value);
    });
    this.#late.clear();
  }
}

/** The entries of a snapshot, read in order a slice at a time. */
export interface KvCapture {
  readonly count: number;
  /** The snapshot bytes of every entry (see `entryFramingBytes`). */
  readonly bytes: number;
  /** Appends up to `max` more entries to `keys` and `values`; returns how many (0 once all are read). */
  take(keys: string[], values: string[], max: number): number;
}

/** Entries copied when the snapshot began. */
export class CopiedCapture implements KvCapture {
  readonly count: number;
  #next = 0;

  constructor(
    private keys: string[],
    private values: string[],
    readonly bytes: number,
  ) {
    this.count = keys.length;
  }

  /** A capture of one Map in its own order, which nothing writes to while it is read (stateHash's sorted copy). */
  static ofMap(map: ReadonlyMap<string, string>): CopiedCapture {
    const keys: string[] = [];
    const values: string[] = [];
    let bytes = 0;
    map.forEach((value, key) => {
      keys.push(key);
      values.push(value);
      bytes += entryFramingBytes + key.length + value.length;
    });
    return new CopiedCapture(keys, values, bytes);
  }

  take(keys: string[], values: string[], max: number): number {
    const end = Math.min(this.keys.length, this.#next + max);
    for (let at = this.#next; at < end; at++) {
      keys.push(this.keys[at] as string);
      values.push(this.values[at] as string);
    }
    const taken = end - this.#next;
    this.#next = end;
    if (end === this.keys.length) {
      // The references are not needed any more.
      this.keys = [];
      this.values = [];
    }
    return taken;
  }
}

/** Reads the Map in place; the store keeps the Map's keys, order and (through `keep`) values for it. */
class LazyCapture implements KvCapture {
  /** The values at the beginning of keys written or deleted since. */
  readonly #preImages = new Map<string, string>();
  #iterator: MapIterator<[string, Held]> | null;
  #unread: number;
  /** What is left, copied when the store stopped waiting for this snapshot (`copyRest`). */
  #copied: CopiedCapture | null = null;

  constructor(
    map: Map<string, Held>,
    readonly count: number,
    readonly bytes: number,
    private readonly done: () => void,
  ) {
    this.#iterator = map.entries();
    this.#unread = count;
  }

  /** Keys whose value at the beginning is kept here. */
  get kept(): number {
    return this.#preImages.size;
  }

  /** Called by the store before it changes or deletes `key`, which held `before`. */
  keep(key: string, before: string): void {
    if (!this.#preImages.has(key)) this.#preImages.set(key, before);
  }

  take(keys: string[], values: string[], max: number): number {
    if (this.#copied !== null) return this.#copied.take(keys, values, max);
    const iterator = this.#iterator;
    if (iterator === null) return 0;
    let taken = 0;
    const preImages = this.#preImages;
    while (taken < max && this.#unread > 0) {
      const next = iterator.next();
      if (next.done === true) break;
      const [key, held] = next.value;
      keys.push(key);
      values.push(preImages.size === 0 ? (held as string) : (preImages.get(key) ?? (held as string)));
      taken += 1;
      this.#unread -= 1;
    }
    if (this.#unread === 0) this.#finish();
    return taken;
  }

  /** Copies every entry not yet read, so that the store can let go of the Map. */
  copyRest(): void {
    const keys: string[] = [];
    const values: string[] = [];
    this.take(keys, values, this.#unread);
    this.#copied = new CopiedCapture(keys, values, 0);
  }

  #finish(): void {
    this.#iterator = null;
    this.#preImages.clear();
    this.done();
  }
}
