// Keys that expire, in the simulation. In some seeds a share of the register writes carry a time to
// live (a `set` with `after` or `at` milliseconds of the simulated wall clock), some single writes are
// an `expire` or a `persist` instead, and some reads a `ttl`; and every replica's store is a
// SimKeyValueStore, which reports each deletion its primary's `dueUpdate` hands the core to log. Each
// deletion goes into the history as a `delete` of the key invoked at that moment with an unknown
// outcome: the entry is appended then and may commit at any later point, or never (a primary deposed
// before it commits). So the per-key checker accepts a key gone only where some logged expiry could
// have deleted it, and still refuses a key that vanishes without one, or comes back.
//
// `expire` and `persist` change no value, so they stay out of the history (an `expire` to a time
// already past deletes the key as it runs, so an absolute one puts a deletion into the history from
// its invocation on, as an absolute `set` does). A `ttl` read that finds the key absent is a read of
// the absent value; one that finds it says nothing of the value and goes in as unknown; either way
// the time it names must be one a write could have set, and the time left must fit the clock.
//
// And each deletion is checked when the store picks it:
// - not before its time: the time the store holds for the key is not after the simulated clock, and is
//   one a write could have set (an `at` write names it exactly; an `after` write no sooner than its
//   invocation plus its length);
// - not after the time was taken away: a key whose value was written by a plain put (which ends any
//   time to live), or that a persist definitely reached after the write of its value, may only expire
//   if some expire could have run after that.
// And at the end, with the faults healed, the primary deletes every key whose time came, within
// `dueDeletionTicksMax`. The test-only faults `expireEarly` (the stores look ahead when they pick what
// is due), `neverExpire` (they never hand the core a deletion) and `keepTtlOnPut` (applying a put or a
// persist leaves the key's time) break each of these, and must be caught.
//
// Draws come from their own Random, so the other clients' choices stay the same; seeds whose draw
// gives no expiry run exactly as before it existed.

import {
  answeredReadingWrite,
  type EventValue,
  type HistoryRecorder,
  type OperationFunction,
} from '../check/history.js';
import { FORMAT_LEVEL } from '../protocol/format-level.js';
import type { StateMachineContext } from '../protocol/state-machine.js';
import type { TestOnlyFaults } from '../protocol/test-only-faults.js';
import { decodeBatchUpdate, encodeBatchUpdate, isBatchUpdate } from '../state-machine/kv-batch-updates.js';
import { expireConditions } from '../state-machine/kv-expiry.js';
import type { ScanSeed } from '../state-machine/kv-key-hash.js';
import type { KvLimits } from '../state-machine/kv-limits.js';
import {
  decodeOperation,
  encodeResult,
  type KvOperation,
  type KvResultOf,
  kvOperation,
} from '../state-machine/kv-operations.js';
import { isSequence } from '../state-machine/kv-sequence.js';
import { textValueOf } from '../state-machine/kv-snapshot-reader.js';
import { KeyValueStore } from '../state-machine/kv-store.js';
import { decodeBinaryUpdate, encodeScanSeedUpdate } from '../state-machine/kv-updates.js';
import type { SimCluster } from './cluster.js';
import type { Random } from './random.js';

/** How far ahead a store looks for keys due under the test-only fault `expireEarly`. */
const expireEarlyMs = 100;
/** The times to live the workload draws, in milliseconds of the simulated clock. */
const ttlMsMin = 30;
const ttlMsMax = 1500;
/** Of the single register writes, the share sent as an `expire` or a `persist` instead (seeds with expiry). */
const changeProbability = 0.1;
/** Of those, the share that are a `persist`. */
const persistShare = 0.3;
/**
 * Of the single register writes, the share sent as a write that answers the value before it (Redis
 * GETSET, GETDEL): a `get-set` or a `get-delete` (seeds with expiry).
 */
const readingWriteProbability = 0.05;
/** Of those, the share that are a `get-delete`. */
const getDeleteShare = 0.4;
/** Of the expires and persists, the share sent as a `get-expire` (Redis GETEX): the value too. */
const getExpireShare = 0.3;
/** Of the register reads at the primary, the share sent as a `ttl` (seeds with expiry). */
const ttlReadProbability = 0.1;
/**
 * With the faults healed and the replicas converged, the primary must have deleted (and committed the
 * deletion of) every key whose time came, within this many ticks: a tick and a commit, with room.
 */
const dueDeletionTicksMax = 300;

/** What expiry did in a run. */
export interface ExpiryCounts {
  /** Register writes sent with a time to live. */
  set: number;
  /** Expires and persists sent (out of the history). */
  changed: number;
  /** Get-sets, get-deletes and get-expires answered, each recorded as what its answer showed. */
  readingWrites: number;
  /** Ttl reads answered. */
  ttlReads: number;
  /** Keys the primaries' logged deletions named (a deletion that never committed counts too). */
  expired: number;
}

export function noExpiryCounts(): ExpiryCounts {
  return { set: 0, changed: 0, readingWrites: 0, ttlReads: 0, expired: 0 };
}

/** A write that may have given `key` its time: exactly `atMs`, or no sooner than `earliestMs`. */
interface TtlWrite {
  readonly atMs: number | null;
  readonly earliestMs: number;
}

/** A register write of a value: a plain put ends any time to live, a set with one gives it. History times (ns). */
interface ValueWrite {
  readonly kind: 'put' | 'set';
  readonly invokedAt: number;
  /** When a definite answer said it ran; null while unknown. */
  completedAt: number | null;
}

/** An expire or a persist sent. History times (ns). */
interface Change {
  readonly kind: 'expire' | 'persist';
  readonly invokedAt: number;
  /** When a definite answer said it ran; null while unknown (it may run at any later time). */
  completedAt: number | null;
}

/** What a process has in flight that this file must hear the end of. */
type InFlight =
  | { readonly kind: 'change'; readonly change: Change; readonly reading: ReadingWrite | null }
  | { readonly kind: 'ttl'; readonly key: string; readonly invokedMs: number }
  | { readonly kind: 'reading-write'; readonly reading: ReadingWrite };

/** A write that answers the value before it, recorded once its outcome is known. History time (ns). */
interface ReadingWrite {
  readonly kind: 'get-set' | 'get-delete' | 'get-expire';
  readonly key: string;
  /** What a get-set writes. */
  readonly value: string | null;
  readonly invokedAt: number;
}

export class SimExpiries {
  readonly counts: ExpiryCounts = noExpiryCounts();
  private readonly ttlWrites = new Map<string, TtlWrite[]>();
  private readonly valueWrites = new Map<string, Map<string, ValueWrite>>();
  private readonly changes = new Map<string, Change[]>();
  private readonly inFlight = new Map<number, InFlight>();
  private readonly processOf: ReadonlyMap<string, number>;

  constructor(
    private readonly recorder: HistoryRecorder,
    keys: readonly string[],
    /** The history process of the first key's expiries (the next keys' follow). */
    firstProcess: number,
    private readonly random: Random,
    /** Share of register puts sent with a time to live; 0: no expiry in this seed. */
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
  setFor(key: string, value: string, valueBytes: Uint8Array): KvOperation | null {
    if (this.probability === 0) return null;
    if (!this.random.chance(this.probability)) {
      this.noteValueWrite(key, value, 'put');
      return null;
    }
    const ttlMs = this.random.integer(ttlMsMin, ttlMsMax);
    const absolute = this.random.chance(0.5);
    const expiry = this.noteTtlWrite(key, ttlMs, absolute);
    this.noteValueWrite(key, value, 'set');
    this.counts.set += 1;
    return kvOperation.set(latin1(key), valueBytes, { expiry });
  }

  /**
   * Now and then, in place of a single write of a register by `process`: an expire, a persist or a
   * get-expire (sent sync, out of the history until answered), or a get-set of `word` or a
   * get-delete (recorded once answered, as what the answer showed); null to send the write.
   */
  changeFor(process: number, key: string, word: string): KvOperation | null {
    if (this.probability === 0) return null;
    if (this.random.chance(readingWriteProbability)) {
      const getDelete = this.random.chance(getDeleteShare);
      const reading: ReadingWrite = {
        kind: getDelete ? 'get-delete' : 'get-set',
        key,
        value: getDelete ? null : word,
        invokedAt: this.time(),
      };
      this.inFlight.set(process, { kind: 'reading-write', reading });
      if (getDelete) return kvOperation.getDelete(latin1(key));
      this.noteValueWrite(key, word, 'put'); // it ends any time to live, as a put does
      return kvOperation.getSet(latin1(key), latin1(word));
    }
    if (!this.random.chance(changeProbability)) return null;
    this.counts.changed += 1;
    const persist = this.random.chance(persistShare);
    const invokedAt = this.time();
    const change: Change = { kind: persist ? 'persist' : 'expire', invokedAt, completedAt: null };
    const changes = this.changes.get(key) ?? [];
    changes.push(change);
    this.changes.set(key, changes);
    const reading: ReadingWrite | null = this.random.chance(getExpireShare)
      ? { kind: 'get-expire', key, value: null, invokedAt }
      : null;
    this.inFlight.set(process, { kind: 'change', change, reading });
    if (persist) {
      return reading === null
        ? kvOperation.persist(latin1(key))
        : kvOperation.getExpire(latin1(key), { kind: 'none' });
    }
    const ttlMs = this.random.integer(ttlMsMin, ttlMsMax);
    const expiry = this.noteTtlWrite(key, ttlMs, this.random.chance(0.5));
    return reading === null
      ? kvOperation.expire(latin1(key), expiry, this.random.pick(expireConditions))
      : kvOperation.getExpire(latin1(key), expiry);
  }

  /** Now and then, a ttl read of a register in place of a read by `process`; null to send the read. */
  ttlReadFor(process: number, key: string): KvOperation | null {
    if (this.probability === 0 || !this.random.chance(ttlReadProbability)) return null;
    this.inFlight.set(process, { kind: 'ttl', key, invokedMs: this.nowMs() });
    return kvOperation.ttl(latin1(key));
  }

  /** A single put or set of `key` to `value` answered: it ran. */
  written(key: string, value: string | null): void {
    const write = value === null ? undefined : this.valueWrites.get(key)?.get(value);
    if (write !== undefined && write.completedAt === null) write.completedAt = this.time();
  }

  /**
   * The expire, persist or get-expire `process` sent was answered: it ran (a get-expire's `value`, what
   * the key held, goes into the history as a read).
   */
  changed(process: number, value?: Uint8Array | null, index?: number): void {
    const inFlight = this.inFlight.get(process);
    this.inFlight.delete(process);
    if (inFlight?.kind !== 'change') return;
    inFlight.change.completedAt = this.time();
    if (inFlight.reading !== null && value !== undefined) {
      this.counts.readingWrites += 1;
      this.record(
        process,
        'read',
        inFlight.reading.key,
        null,
        inFlight.reading.invokedAt,
        textOf(value),
        index,
      );
    }
  }

  /**
   * The get-set or get-delete `process` sent was answered with the value the key held before it, and
   * ran at `index`. In the register model a get-set that found `previous` is a cas from it that
   * swapped, a get-delete that found a value a cas from it to absent, each held to one instant; a
   * get-delete that found none is a read of the absent value (a delete of nothing changes nothing).
   */
  readingWriteAnswered(process: number, previous: Uint8Array | null, index: number): void {
    const inFlight = this.inFlight.get(process);
    this.inFlight.delete(process);
    if (inFlight?.kind !== 'reading-write') return;
    this.counts.readingWrites += 1;
    const { kind, key, value, invokedAt } = inFlight.reading;
    const before = textOf(previous);
    if (kind === 'get-set' && value !== null) this.written(key, value);
    const { f, input, output } = answeredReadingWrite(before, kind === 'get-set' ? value : null);
    this.record(process, f, key, input, invokedAt, output, index);
  }

  /**
   * The ttl read `process` sent was answered `result` by the primary: the time it names must be one a
   * write could have set, and the time left must fit the clock between the read's invocation and now.
   */
  ttlAnswered(process: number, key: string, result: KvResultOf<'ttl'>): void {
    const inFlight = this.inFlight.get(process);
    this.inFlight.delete(process);
    this.counts.ttlReads += 1;
    const { exists, expiresAtMs, remainingMs } = result;
    const answer = `ttl of ${key}: exists ${exists}, expires at ${expiresAtMs}, ${remainingMs} ms left`;
    if (expiresAtMs === null || !exists) {
      if (expiresAtMs !== null || remainingMs !== null) this.violations.push(`expiry: ${answer}`);
      return;
    }
    if (!(this.ttlWrites.get(key) ?? []).some((write) => matches(write, expiresAtMs))) {
      this.violations.push(`expiry: ${answer}, a time no write could have set`);
    }
    const invokedMs = inFlight?.kind === 'ttl' ? inFlight.invokedMs : Number.NEGATIVE_INFINITY;
    const leftMin = Math.max(0, expiresAtMs - this.nowMs());
    const leftMax = Math.max(0, expiresAtMs - invokedMs);
    if (remainingMs === null || remainingMs < leftMin || remainingMs > leftMax) {
      this.violations.push(`expiry: ${answer}, though between ${leftMin} and ${leftMax} ms were left`);
    }
  }

  /**
   * `process` no longer waits for what it sent (given up, or answered otherwise). A get-set or a
   * get-delete left unanswered may still run: a write or a delete of unknown outcome.
   */
  abandoned(process: number): void {
    const inFlight = this.inFlight.get(process);
    this.inFlight.delete(process);
    if (inFlight?.kind !== 'reading-write') return;
    const { kind, key, value, invokedAt } = inFlight.reading;
    const handle = this.recorder.invoke(
      process,
      kind === 'get-set' ? 'write' : 'delete',
      key,
      value,
      invokedAt,
    );
    this.recorder.info(handle, this.time());
  }

  /** One operation, invoked at `invokedAt` and answered now with `output`. */
  private record(
    process: number,
    f: OperationFunction,
    key: string,
    input: EventValue,
    invokedAt: number,
    output: EventValue,
    index?: number,
  ): void {
    const handle = this.recorder.invoke(process, f, key, input, invokedAt);
    this.recorder.ok(handle, output, this.time(), index);
  }

  /**
   * A primary's store is about to hand the core the deletion of `key`, whose time is `atMs`, and which
   * holds `value`.
   */
  deleting(key: string, atMs: number | undefined, value: string | null): void {
    const nowMs = this.nowMs();
    this.counts.expired += 1;
    if (atMs === undefined) {
      this.violations.push(`expiry: key ${key} deleted at ${nowMs} ms though it has no time to live`);
    } else if (atMs > nowMs) {
      this.violations.push(`expiry: key ${key} deleted at ${nowMs} ms, before its time (${atMs} ms)`);
    } else if (!(this.ttlWrites.get(key) ?? []).some((write) => matches(write, atMs))) {
      this.violations.push(`expiry: key ${key} holds the time ${atMs} ms, which no write could have set`);
    }
    const ended = value === null ? null : this.timeEnded(key, value);
    if (ended !== null) {
      this.violations.push(
        `expiry: key ${key} deleted at ${nowMs} ms, but ${ended}, and no expire could have given it a time since`,
      );
    }
    this.recordDeletion(key);
  }

  /**
   * With the faults healed and the replicas converged: the primary deletes every key whose time came,
   * and commits the deletion, within dueDeletionTicksMax.
   */
  checkDueKeysDeleted(cluster: SimCluster): void {
    if (this.probability === 0) return;
    const dueMs = this.nowMs();
    const overdue = (): string[] => {
      const primary = cluster.view()?.primary;
      const replica = primary === undefined ? null : cluster.replica(primary);
      const store = replica?.currentStateMachine();
      if (replica === null || replica === undefined || !(store instanceof KeyValueStore))
        return ['(no primary)'];
      const due = [...this.processOf.keys()].filter(
        (key) => (store.expiryOf(key) ?? Number.POSITIVE_INFINITY) <= dueMs,
      );
      const status = replica.status();
      return due.length > 0 || status.commitIndex === status.lastIndex ? due : ['(deletions not committed)'];
    };
    if (cluster.runUntil(() => overdue().length === 0, dueDeletionTicksMax)) return;
    this.violations.push(
      `liveness: ${dueDeletionTicksMax} ticks after the replicas converged at ${dueMs} ms, keys whose time had come are not deleted: ${overdue().join(', ')}`,
    );
  }

  /**
   * Why `key`, holding `value`, can have no time to live, or null if it may: `value` was written by a
   * plain put, or a persist ran after its write, and no expire could have run after that.
   */
  private timeEnded(key: string, value: string): string | null {
    const write = this.valueWrites.get(key)?.get(value);
    if (write === undefined) return null; // a cas or an incr wrote it, which keep the time they found
    let endedAt: number | null = write.kind === 'put' ? write.invokedAt : null;
    let why = `its value ${value} was written by a plain put, which ends any time to live`;
    const changes = this.changes.get(key) ?? [];
    for (const change of changes) {
      // Invoked once the write had run, and answered: it ran after it, and before now.
      const after = write.completedAt !== null && change.invokedAt > write.completedAt;
      if (
        change.kind === 'persist' &&
        after &&
        change.completedAt !== null &&
        change.invokedAt > (endedAt ?? -1)
      ) {
        endedAt = change.invokedAt;
        why = `a persist ran after the write of its value ${value}`;
      }
    }
    if (endedAt === null) return null;
    const from = endedAt;
    const expireMayFollow = changes.some(
      (change) => change.kind === 'expire' && (change.completedAt === null || change.completedAt >= from),
    );
    return expireMayFollow ? null : why;
  }

  /** The expiry a set or expire of `key` sends, noted as a time some write may give it. */
  private noteTtlWrite(key: string, ttlMs: number, absolute: boolean): { kind: 'after' | 'at'; ms: number } {
    const nowMs = this.nowMs();
    const writes = this.ttlWrites.get(key) ?? [];
    writes.push({ atMs: absolute ? nowMs + ttlMs : null, earliestMs: nowMs + ttlMs });
    this.ttlWrites.set(key, writes);
    // A time that has passed when the primary runs the write (a retry, a failover) deletes the key as
    // the write runs, with no logged expiry: from now on it may have happened.
    if (absolute) this.recordDeletion(key);
    return absolute ? { kind: 'at', ms: nowMs + ttlMs } : { kind: 'after', ms: ttlMs };
  }

  private noteValueWrite(key: string, value: string, kind: ValueWrite['kind']): void {
    const writes = this.valueWrites.get(key) ?? new Map<string, ValueWrite>();
    writes.set(value, { kind, invokedAt: this.time(), completedAt: null });
    this.valueWrites.set(key, writes);
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

function textOf(bytes: Uint8Array | null): string | null {
  return bytes === null
    ? null
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

function latin1(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

/** The test-only faults a SimKeyValueStore honours. */
type StoreFaults = Pick<
  TestOnlyFaults,
  'expireEarly' | 'neverExpire' | 'keepTtlOnPut' | 'scanByPosition' | 'ownScanSeeds' | 'seedAtAnyFormatLevel'
>;

/**
 * The key/value store as every simulated replica runs it, reporting the deletions it hands the core,
 * and breaking expiry as the test-only faults say: looking ahead when it picks what is due
 * (`expireEarly`), never handing the core a deletion (`neverExpire`), or applying a put's or a
 * persist's update without its end of the time to live (`keepTtlOnPut`); and scans, when told, with
 * the naive cursor, a position in the keys' order (`scanByPosition`, scan-workload.ts), or with a
 * scan seed of its own in place of the one the primary logged (`ownScanSeeds`). Its scan seeds come
 * from `newSeed`, the run's own generator, so a seed runs the same every time; `context` is its
 * replica's format levels, as a replica's store is given them, and `onSeeded` hears when it first
 * applies a seed (a scan under way then may miss keys: kv-store.ts).
 */
export class SimKeyValueStore extends KeyValueStore {
  constructor(
    limits: KvLimits,
    nowMs: () => number,
    private readonly observer: () => SimExpiries | null,
    faults: StoreFaults,
    newSeed: () => ScanSeed,
    context?: StateMachineContext,
    private readonly onSeeded: (seed: ScanSeed) => void = () => {},
    lookahead: { ms: number } = { ms: 0 },
  ) {
    super(
      limits,
      () => nowMs() + lookahead.ms,
      newSeed,
      faults.seedAtAnyFormatLevel === true && context !== undefined
        ? { clusterFormatLevel: () => FORMAT_LEVEL, formatLevel: context.formatLevel }
        : context,
    );
    this.lookahead = lookahead;
    this.faults = faults;
    this.ownSeed = faults.ownScanSeeds === true ? encodeScanSeedUpdate(newSeed()) : null;
  }

  /** The seed `ownScanSeeds` applies instead of the logged one; null without that fault. */
  private readonly ownSeed: Uint8Array | null;

  private readonly lookahead: { ms: number };
  private readonly faults: StoreFaults;

  override dueUpdate(bytesMax: number): Uint8Array | null {
    if (this.faults.neverExpire === true) return null;
    this.lookahead.ms = this.faults.expireEarly === true ? expireEarlyMs : 0;
    const update = super.dueUpdate(bytesMax);
    this.lookahead.ms = 0;
    const observer = this.observer();
    if (update === null || observer === null) return update;
    const parts = isBatchUpdate(update) ? (decodeBatchUpdate(update) ?? []) : [update];
    for (const part of parts) {
      const effect = decodeBinaryUpdate(part);
      if (effect?.kind === 'delete') {
        observer.deleting(effect.key, this.expiryOf(effect.key), textValueOf(this, effect.key));
      }
    }
    return update;
  }

  override query(operation: Uint8Array): Uint8Array {
    if (this.faults.scanByPosition !== true || isSequence(operation)) return super.query(operation);
    const scan = decodeOperation(operation);
    if (scan.kind !== 'scan') return super.query(operation);
    // A page of the keys in the store's order, from the cursor's position.
    const all = [...this.keys()];
    const end = scan.cursor + scan.count;
    return encodeResult({
      kind: 'scan',
      cursor: end >= all.length ? 0 : end,
      keys: all.slice(scan.cursor, end).map(latin1),
    });
  }

  /** Tells `onSeeded` when this store first applies a seed: its buckets are made again then. */
  override apply(update: Uint8Array): void {
    if (this.scanSeed !== null) {
      this.applyAsFaultsSay(update);
      return;
    }
    // The seed the primary logged, not the one ownScanSeeds applies instead: one moment per seed.
    const parts = isBatchUpdate(update) ? (decodeBatchUpdate(update) ?? []) : [update];
    const logged = parts.map(decodeBinaryUpdate).find((effect) => effect?.kind === 'scan-seed');
    this.applyAsFaultsSay(update);
    if (logged?.kind === 'scan-seed' && this.scanSeed !== null) this.onSeeded(logged.seed);
  }

  override restore(snapshot: Uint8Array): void {
    const unseeded = this.scanSeed === null;
    super.restore(snapshot);
    if (unseeded && this.scanSeed !== null) this.onSeeded(this.scanSeed);
  }

  private applyAsFaultsSay(update: Uint8Array): void {
    if (this.faults.keepTtlOnPut !== true && this.faults.ownScanSeeds !== true) {
      super.apply(update);
      return;
    }
    const parts = isBatchUpdate(update) ? (decodeBatchUpdate(update) ?? []) : [update];
    const kept: Uint8Array[] = [];
    for (const part of parts) {
      const kind = decodeBinaryUpdate(part)?.kind;
      if (kind === 'persist' && this.faults.keepTtlOnPut === true) continue;
      kept.push(kind === 'scan-seed' && this.ownSeed !== null ? this.ownSeed : part);
    }
    if (kept.length === 1) super.apply(kept[0] ?? new Uint8Array(0));
    else if (kept.length > 1) super.apply(encodeBatchUpdate(kept));
  }
}
