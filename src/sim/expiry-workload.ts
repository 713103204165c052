// Keys that expire, in the simulation. In some seeds a share of the register writes carry a time to
// live (a `set` with `after` or `at` milliseconds of the simulated wall clock), and every replica's
// store is a SimKeyValueStore, which reports each deletion its primary's `dueUpdate` hands the core to
// log. Each deletion goes into the history as a `delete` of the key invoked at that moment with an
// unknown outcome: the entry is appended then and may commit at any later point, or never (a primary
// deposed before it commits). So the per-key checker accepts a key gone only where some logged expiry
// could have deleted it, and still refuses a key that vanishes without one, or comes back.
//
// And a key must live at least its time to live: at each deletion the time the store holds for the
// key is checked against the simulated clock (not before it), and against the writes that could have
// set it (an `at` write names it exactly; an `after` write no sooner than its invocation plus its
// length). The test-only fault `expireEarly` makes the stores look 100 ms ahead when they pick what is
// due, which these checks must catch. Draws come from their own Random, so the other clients' choices
// stay the same; seeds whose draw gives no expiry run exactly as before it existed.

import type { HistoryRecorder } from '../check/history.js';
import { decodeBatchUpdate, isBatchUpdate } from '../state-machine/kv-batch-updates.js';
import type { KvLimits } from '../state-machine/kv-limits.js';
import { type KvOperation, kvOperation } from '../state-machine/kv-operations.js';
import { KeyValueStore } from '../state-machine/kv-store.js';
import { decodeBinaryUpdate } from '../state-machine/kv-updates.js';
import type { Random } from './random.js';

/** How far ahead a store looks for keys due under the test-only fault `expireEarly`. */
const expireEarlyMs = 100;
/** The times to live the workload draws, in milliseconds of the simulated clock. */
const ttlMsMin = 30;
const ttlMsMax = 1500;

/** What expiry did in a run. */
export interface ExpiryCounts {
  /** Register writes sent with a time to live. */
  set: number;
  /** Keys the primaries' logged deletions named (a deletion that never committed counts too). */
  expired: number;
}

/** A write that may have given `key` its time: exactly `atMs`, or no sooner than `earliestMs`. */
interface TtlWrite {
  readonly atMs: number | null;
  readonly earliestMs: number;
}

export class SimExpiries {
  readonly counts: ExpiryCounts = { set: 0, expired: 0 };
  private readonly writes = new Map<string, TtlWrite[]>();
  private readonly processOf: ReadonlyMap<string, number>;

  constructor(
    private readonly recorder: HistoryRecorder,
    keys: readonly string[],
    /** The history process of the first key's expiries (the next keys' follow). */
    firstProcess: number,
    private readonly random: Random,
    /** Share of register puts sent with a time to live. */
    private readonly probability: number,
    /** The history's clock (ns). */
    private readonly time: () => number,
    /** The simulated wall clock the stores read (ms). */
    private readonly nowMs: () => number,
    private readonly violations: string[],
  ) {
    this.processOf = new Map(keys.map((key, offset) => [key, firstProcess + offset]));
  }

  /** A register's put as a set with a time to live, now and then; null to send the put. */
  setFor(key: string, value: Uint8Array): KvOperation | null {
    if (this.probability === 0 || !this.random.chance(this.probability)) return null;
    const ttlMs = this.random.integer(ttlMsMin, ttlMsMax);
    const keyBytes = new Uint8Array(Buffer.from(key, 'latin1'));
    const nowMs = this.nowMs();
    const absolute = this.random.chance(0.5);
    const writes = this.writes.get(key) ?? [];
    writes.push(
      absolute
        ? { atMs: nowMs + ttlMs, earliestMs: nowMs + ttlMs }
        : { atMs: null, earliestMs: nowMs + ttlMs },
    );
    this.writes.set(key, writes);
    this.counts.set += 1;
    // A time that has passed when the primary runs the write (a retry, a failover) deletes the key as
    // the write runs, with no logged expiry: from now on it may have happened.
    if (absolute) this.recordDeletion(key);
    return kvOperation.set(keyBytes, value, {
      expiry: absolute ? { kind: 'at', ms: nowMs + ttlMs } : { kind: 'after', ms: ttlMs },
    });
  }

  /** A primary's store is about to hand the core the deletion of `key`, whose time is `atMs`. */
  deleting(key: string, atMs: number | undefined): void {
    const nowMs = this.nowMs();
    this.counts.expired += 1;
    if (atMs === undefined) {
      this.violations.push(`expiry: key ${key} deleted at ${nowMs} ms though it has no time to live`);
    } else if (atMs > nowMs) {
      this.violations.push(`expiry: key ${key} deleted at ${nowMs} ms, before its time (${atMs} ms)`);
    } else if (!(this.writes.get(key) ?? []).some((write) => matches(write, atMs))) {
      this.violations.push(`expiry: key ${key} holds the time ${atMs} ms, which no write could have set`);
    }
    this.recordDeletion(key);
  }

  /** A deletion of `key` from now on, which may take effect at any later time, or never. */
  private recordDeletion(key: string): void {
    const process = this.processOf.get(key);
    if (process === undefined) {
      this.violations.push(`expiry: key ${key} is not one of the workload's`);
      return;
    }
    const time = this.time();
    const handle = this.recorder.invoke(process, 'delete', key, null, time);
    this.recorder.info(handle, time);
  }
}

function matches(write: TtlWrite, atMs: number): boolean {
  return write.atMs === null ? atMs >= write.earliestMs : atMs === write.atMs;
}

/**
 * The key/value store as every simulated replica runs it, reporting the deletions it hands the core
 * (under `expireEarly`, looking ahead when it picks what is due).
 */
export class SimKeyValueStore extends KeyValueStore {
  constructor(
    limits: KvLimits,
    nowMs: () => number,
    private readonly observer: () => SimExpiries | null,
    expireEarly: boolean,
    lookahead: { ms: number } = { ms: 0 },
  ) {
    super(limits, () => nowMs() + lookahead.ms);
    this.lookahead = lookahead;
    this.expireEarly = expireEarly;
  }

  private readonly lookahead: { ms: number };
  private readonly expireEarly: boolean;

  override dueUpdate(bytesMax: number): Uint8Array | null {
    this.lookahead.ms = this.expireEarly ? expireEarlyMs : 0;
    const update = super.dueUpdate(bytesMax);
    this.lookahead.ms = 0;
    const observer = this.observer();
    if (update === null || observer === null) return update;
    const parts = isBatchUpdate(update) ? (decodeBatchUpdate(update) ?? []) : [update];
    for (const part of parts) {
      const effect = decodeBinaryUpdate(part);
      if (effect?.kind === 'delete') observer.deleting(effect.key, this.expiryOf(effect.key));
    }
    return update;
  }
}
