// The keys of one caller and what it wrote to them. A client cycles over its --keys keys; its K
// calls in flight split them (call s takes every K-th key from s), so each key has exactly one
// writer, which issues one call at a time to it. That makes the expected state of every key known
// without coordination: the caller that writes a key is also the model of it. Each operation kind
// has its own namespace, so that put, append and incr never meet on one key:
//   PREFIX/CLIENT/rN  registers: put, get and cas
//   PREFIX/CLIENT/aN  append targets
//   PREFIX/CLIENT/iN  counters: incr
// Values carry the number of the write that made them, so a read shows which write it saw. A write
// that failed may or may not have run: its key becomes uncertain and is checked no more.

import type { OperationKind } from './shape.js';

export type Namespace = 'register' | 'append' | 'counter';

export const namespaceOf: Readonly<Record<OperationKind, Namespace>> = {
  put: 'register',
  get: 'register',
  cas: 'register',
  append: 'append',
  incr: 'counter',
};

const namespaceLetter: Readonly<Record<Namespace, string>> = { register: 'r', append: 'a', counter: 'i' };
const namespaces: readonly Namespace[] = ['register', 'append', 'counter'];
/** What pads a value after its write number. */
const VALUE_FILL = '.';

/** The value of write number `write` to a key: the number in decimal, padded to `valueBytes`. */
export function valueText(write: number, valueBytes: number): string {
  return String(write).padEnd(valueBytes, VALUE_FILL);
}

/** The value as bytes: ASCII, so latin1; Buffer.from takes them from its pool, TextEncoder mallocs each. */
export function valueBytesOf(write: number, valueBytes: number): Uint8Array {
  return Buffer.from(valueText(write, valueBytes), 'latin1');
}

/** Per key of one namespace: how many writes it got, and whether a failed one leaves it unknown. */
interface KeyStates {
  readonly writes: Uint32Array;
  readonly uncertain: Uint8Array;
}

export class CallerKeys {
  /** How many keys this caller owns. */
  readonly count: number;
  private readonly cursors: Record<OperationKind, number> = { put: 0, get: 0, append: 0, cas: 0, incr: 0 };
  private readonly states: Readonly<Record<Namespace, KeyStates>>;

  constructor(
    readonly prefix: string,
    private readonly client: number,
    /** Which of the client's calls in flight this is (0 .. pipeline-1). */
    private readonly slot: number,
    private readonly pipeline: number,
    keysPerClient: number,
    readonly valueBytes: number,
  ) {
    this.count = Math.ceil((keysPerClient - slot) / pipeline);
    if (this.count < 1) throw new Error(`call ${slot} of ${pipeline} owns none of ${keysPerClient} keys`);
    const states = () => ({ writes: new Uint32Array(this.count), uncertain: new Uint8Array(this.count) });
    this.states = { register: states(), append: states(), counter: states() };
  }

  /**
   * The next key (by local index) for an operation of this kind. Each kind walks the keys on its
   * own, so that every kind meets every key whatever the mix (a shared walk would pair keys with
   * kinds: with put=1,get=1 and an even key count, the gets would only ever read the keys no put
   * wrote).
   */
  nextKey(kind: OperationKind): number {
    const key = this.cursors[kind];
    this.cursors[kind] = (key + 1) % this.count;
    return key;
  }

  keyName(namespace: Namespace, key: number): string {
    return `${this.prefix}/${this.client}/${namespaceLetter[namespace]}${this.slot + key * this.pipeline}`;
  }

  writes(namespace: Namespace, key: number): number {
    return this.states[namespace].writes[key] ?? 0;
  }

  isUncertain(namespace: Namespace, key: number): boolean {
    return this.states[namespace].uncertain[key] === 1;
  }

  /** Counts a write as sent; if it failed, the key's state is no longer known. */
  recordWrite(namespace: Namespace, key: number, succeeded: boolean): void {
    const state = this.states[namespace];
    state.writes[key] = (state.writes[key] ?? 0) + 1;
    if (!succeeded) state.uncertain[key] = 1;
  }

  /** The value a register holds after its writes, or null if it was never written. */
  registerValue(key: number): string | null {
    const writes = this.writes('register', key);
    return writes === 0 ? null : valueText(writes, this.valueBytes);
  }

  /** The value of an append target after its appends (each appends the value of its number). */
  appendedValue(key: number): string | null {
    const writes = this.writes('append', key);
    if (writes === 0) return null;
    let value = '';
    for (let write = 1; write <= writes; write++) value += valueText(write, this.valueBytes);
    return value;
  }

  /** The value a counter holds after its increments by 1. */
  counterValue(key: number): string | null {
    const writes = this.writes('counter', key);
    return writes === 0 ? null : String(writes);
  }

  /** Every key this caller wrote, with the value it must hold, or `uncertain` after a failed write. */
  *written(): Generator<{
    readonly name: string;
    readonly expected: string | null;
    readonly uncertain: boolean;
  }> {
    for (const namespace of namespaces) {
      for (let key = 0; key < this.count; key++) {
        if (this.writes(namespace, key) === 0) continue;
        const expected =
          namespace === 'register'
            ? this.registerValue(key)
            : namespace === 'append'
              ? this.appendedValue(key)
              : this.counterValue(key);
        yield { name: this.keyName(namespace, key), expected, uncertain: this.isUncertain(namespace, key) };
      }
    }
  }
}
