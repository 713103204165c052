// The calls of `understudy bench`: each caller (a client's call in flight) walks the operation mix
// over its own keys through the project's Client, and checks every answer against what it wrote
// (caller-keys.ts): a put replaces exactly the keys written before, a cas with the value last written
// always swaps, an append answers the length of everything appended, an incr the number of
// increments, and a read at the primary (linearizable) the last value written. A read at any member
// may be stale, so it is not checked. An answer that disagrees is a mismatch, counted apart from
// errors: errors are the cluster refusing or timing out, mismatches would be it losing or
// inventing a write.

import type { Client, ReadOptions, WriteMetadata, WriteOptions } from '../client/index.js';
import { CallerKeys, namespaceOf, valueBytesOf } from './caller-keys.js';
import { mixCycle } from './mix-cycle.js';
import type { BenchShape, OperationKind } from './shape.js';

/** How many mismatches are kept with their details; beyond it they are only counted. */
export const MISMATCH_DETAILS_MAX = 10;
/** Values in a mismatch's details are cut to this many characters. */
const MISMATCH_TEXT_MAX = 80;

export interface Mismatch {
  readonly key: string;
  readonly operation: OperationKind | 'read-back';
  readonly expected: string;
  readonly got: string;
}

export class Mismatches {
  count = 0;
  readonly first: Mismatch[] = [];

  add(mismatch: Mismatch): void {
    this.count += 1;
    if (this.first.length < MISMATCH_DETAILS_MAX) {
      this.first.push({ ...mismatch, expected: cut(mismatch.expected), got: cut(mismatch.got) });
    }
  }

  reset(): void {
    this.count = 0;
    this.first.length = 0;
  }
}

/** What the load needs of a client: the key/value calls (a fake stands in for it in the unit tests). */
export type BenchClient = Pick<Client, 'get' | 'put' | 'cas' | 'append' | 'incr'>;

/**
 * The same client, telling `onWrite` of each write it gets acknowledged, as the answer arrives (the
 * answer names the view that acknowledged it): how the failover scenario sees the new primary's first.
 */
export function watchWrites(client: BenchClient, onWrite: (reply: WriteMetadata) => void): BenchClient {
  const told = <T extends WriteMetadata>(reply: T): T => {
    onWrite(reply);
    return reply;
  };
  return {
    get: (key, options) => client.get(key, options),
    put: async (key, value, options) => told(await client.put(key, value, options)),
    cas: async (key, expected, next, options) => told(await client.cas(key, expected, next, options)),
    append: async (key, value, options) => told(await client.append(key, value, options)),
    incr: async (key, delta, options) => told(await client.incr(key, delta, options)),
  };
}

const cut = (text: string) =>
  text.length > MISMATCH_TEXT_MAX ? `${text.slice(0, MISMATCH_TEXT_MAX)}…` : text;
const decoder = new TextDecoder();
const show = (value: string | null) => (value === null ? '(absent)' : value);

/** A caller per call in flight: client 0's calls first, then client 1's, and so on. */
export function createCallers(shape: BenchShape, keyPrefix: string): CallerKeys[] {
  const callers: CallerKeys[] = [];
  for (let client = 0; client < shape.clients; client++) {
    for (let slot = 0; slot < shape.pipeline; slot++) {
      callers.push(new CallerKeys(keyPrefix, client, slot, shape.pipeline, shape.keys, shape.valueBytes));
    }
  }
  return callers;
}

export class UnderstudyLoad {
  readonly callers: readonly CallerKeys[];
  readonly mismatches = new Mismatches();
  private readonly cycle: readonly OperationKind[];
  /** Each caller's position in the mix cycle. */
  private readonly cyclePositions: number[];
  private readonly writeOptions: WriteOptions;
  private readonly readOptions: ReadOptions;

  constructor(
    private readonly shape: BenchShape,
    /** One client per --clients, or a single one shared by every caller. */
    private readonly clients: readonly BenchClient[],
    /** The callers' keys (createCallers), new or carried over from an earlier load of the same shape. */
    callers: readonly CallerKeys[],
  ) {
    if (callers.length !== shape.clients * shape.pipeline) {
      throw new Error(`${callers.length} callers for ${shape.clients} clients × ${shape.pipeline} in flight`);
    }
    this.callers = callers;
    this.cycle = mixCycle(shape.mix);
    // Callers start at different places in the cycle, so a mix of kinds is in flight at once.
    this.cyclePositions = callers.map((_, caller) => caller % this.cycle.length);
    this.writeOptions = { durability: shape.durability };
    this.readOptions = shape.read === 'any' ? { read: 'any' } : {};
  }

  get callerCount(): number {
    return this.callers.length;
  }

  /** Calls of one caller that take each kind of the mix through each of its keys at least once. */
  callsToCoverKeys(caller: number): number {
    return (this.callers[caller]?.count ?? 0) * this.cycle.length;
  }

  /** One call of `caller`: the next kind of the mix on its next key. */
  readonly call = async (caller: number): Promise<void> => {
    const keys = this.callers[caller];
    const position = this.cyclePositions[caller];
    const kind = position === undefined ? undefined : this.cycle[position];
    if (keys === undefined || position === undefined || kind === undefined)
      throw new Error(`no caller ${caller}`);
    this.cyclePositions[caller] = (position + 1) % this.cycle.length;
    const client = this.clientOf(caller);
    const key = keys.nextKey(kind);
    const namespace = namespaceOf[kind];
    const name = keys.keyName(namespace, key);
    if (kind === 'get') {
      const value = await client.get(name, this.readOptions);
      if (this.shape.read === 'primary' && !keys.isUncertain(namespace, key)) {
        this.expect(name, kind, keys.registerValue(key), value === null ? null : decoder.decode(value));
      }
      return;
    }
    const write = keys.writes(namespace, key) + 1;
    const certain = !keys.isUncertain(namespace, key);
    // What the answer says against what it must say: one field of it, compared as a value, and put
    // in words only for a mismatch (no strings per call).
    let field: string;
    let got: number | boolean;
    let expected: number | boolean;
    try {
      switch (kind) {
        case 'put': {
          const reply = await client.put(name, valueBytesOf(write, keys.valueBytes), this.writeOptions);
          field = 'existed';
          got = reply.existed;
          expected = write > 1;
          break;
        }
        case 'cas': {
          const last = keys.registerValue(key);
          const next = valueBytesOf(write, keys.valueBytes);
          const reply = await client.cas(name, last, next, this.writeOptions);
          field = 'swapped';
          got = reply.swapped;
          expected = true;
          break;
        }
        case 'append': {
          const reply = await client.append(name, valueBytesOf(write, keys.valueBytes), this.writeOptions);
          field = 'length';
          got = reply.length;
          expected = write * keys.valueBytes;
          break;
        }
        case 'incr': {
          const reply = await client.incr(name, 1, this.writeOptions);
          field = 'value';
          got = reply.value;
          expected = write;
          break;
        }
      }
    } catch (error) {
      keys.recordWrite(namespace, key, false);
      throw error;
    }
    keys.recordWrite(namespace, key, true);
    if (certain && got !== expected) this.expect(name, kind, `${field}=${expected}`, `${field}=${got}`);
  };

  /** The client a caller goes through. */
  clientOf(caller: number): BenchClient {
    const client = this.shape.sharedClient
      ? this.clients[0]
      : this.clients[Math.floor(caller / this.shape.pipeline)];
    if (client === undefined) throw new Error(`no client for caller ${caller}`);
    return client;
  }

  private expect(key: string, operation: OperationKind, expected: string | null, got: string | null): void {
    if (expected !== got) this.mismatches.add({ key, operation, expected: show(expected), got: show(got) });
  }
}
