// The built-in key/value service. `execute` computes a write's result and its update without
// changing state; the update is the side effect (set, append or delete; kv-updates.ts; for a
// multi-key write, a batch of them applied whole, kv-batch-updates.ts), never the operation, so
// backups `apply` it without re-executing. A write
// that changes nothing yields an empty update, which `apply` skips. Every log entry keeps both the
// update and the result, so an append's are bounded by its suffix, not by the value it grows: its
// update carries the suffix and its result the new length, and appending to a long value logs only
// what was appended. Keys are held as latin1 strings (one char per byte), so sorting them sorts
// by bytes and snapshots come out in a deterministic order. Keys may have a time to live, fixed
// when the primary executes the write and ended by a deletion the primary logs (kv-expiry.ts).

import { createHash, randomBytes } from 'node:crypto';
import { asBuffer } from '../buffers.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { BASE_FORMAT_LEVEL, FORMAT_LEVEL, SCAN_SEED_FORMAT_LEVEL } from '../protocol/format-level.js';
import {
  type Execution,
  finishSnapshot,
  ServiceError,
  type SnapshotEncoding,
  type StateMachine,
  type StateMachineContext,
  type StateSize,
} from '../protocol/state-machine.js';
import { decodeBatchUpdate, encodeBatchUpdate, isBatchUpdate, someBatchPart } from './kv-batch-updates.js';
import { formatDecimal, parseDecimal } from './kv-decimal.js';
import {
  type ExpireCondition,
  type Expiry,
  ExpiryTimes,
  expireApplies,
  expiryAtMsMax,
  expiryTime,
} from './kv-expiry.js';
import { globFilters, globMatches } from './kv-glob.js';
import { KeyBuckets, SCAN_CURSOR_BUILDING } from './kv-key-buckets.js';
import { type ScanSeed, UNSEEDED } from './kv-key-hash.js';
import { checkKvLimits, entryOverheadBytes, type KvLimits, kvLimitsDefault } from './kv-limits.js';
import {
  decodeOperation,
  encodeResult,
  isReadOnly,
  isValueCondition,
  type KvMultiKeyOperation,
  type KvOperation,
  type KvOperationOf,
  type KvReadOperation,
  type KvResult,
  type KvSingleKeyOperation,
  type SetCondition,
  unpackMessage,
} from './kv-operations.js';
import {
  decodeSequence,
  encodeSequenceResult,
  isReadOnlySequence,
  isSequence,
  type KvEncodedOutcome,
  type KvSequence,
} from './kv-sequence.js';
import { KvSnapshotEncoding } from './kv-snapshot-encoding.js';
import {
  binaryUpdateMarker,
  decodeBinaryUpdate,
  encodeClearUpdate,
  encodeExpireUpdate,
  encodeScanSeedUpdate,
  encodeUpdate,
  isScanSeedUpdate,
  type KvUpdate,
} from './kv-updates.js';

/** Format 4, then the scan seed; written once the store has a seed. */
const seededSnapshotFormatVersion = 5;
/** A store made outside a replica (tests, tools reading a snapshot) writes and reads all this build does. */
const thisBuildsFormats: StateMachineContext = {
  clusterFormatLevel: () => FORMAT_LEVEL,
  formatLevel: FORMAT_LEVEL,
};
/** Format 3, then the keys that have a time to live; written only when one has. */
const expiringSnapshotFormatVersion = 4;
const snapshotFormatVersion = 3;
/** Entries sorted by key: what older builds wrote, still read; stateHash hashes this form. */
const sortedSnapshotFormatVersion = 2;
const noUpdate = new Uint8Array(0);
const incrTextPattern = /^-?[0-9]+$/;
const utf8 = new TextEncoder();

/** The writes that name one key; put-many and delete-many name several, rename and copy two. */
type KvSingleKeyWrite = Exclude<
  KvSingleKeyOperation,
  { readonly kind: 'get' | 'get-range' | 'ttl' | 'rename' | 'copy' }
>;
type KvWriteOperation = Exclude<KvOperation, KvReadOperation>;

/**
 * What the parts of a sequence executed so far changed: each key's value after them (null: deleted),
 * and how many keys and bytes they added, for the limits the next part is checked against.
 */
interface Pending {
  readonly values: Map<string, string | null>;
  /** Each key's time to live after them (null: none). */
  readonly expiries: Map<string, number | null>;
  /** A clear ran: a key not in `values` is absent, whatever the store holds. */
  cleared: boolean;
  keys: number;
  bytes: number;
}

/** The most keys one logged expiry deletes; more wait for the next tick. */
const dueKeysMax = 1000;

export class KeyValueStore implements StateMachine {
  /**
   * Keys and values as latin1 strings (one character per byte). A value as a string is one small
   * heap object; as a Uint8Array it was two plus an ArrayBuffer outside the heap, and at 320,000
   * keys the collector's work over them stopped the replica for 120-280 ms at a time.
   */
  readonly #entries = new Map<string, string>();
  /** What the entries count against `storeBytesMax` (entryBytes of each). */
  #bytes = 0;
  /** While a sequence executes: what its parts so far changed, which the next part sees. */
  #pending: Pending | null = null;
  /** The keys that have a time to live. */
  readonly #expiries = new ExpiryTimes();
  /** SCAN's cursor over the keys: null until the first scan (kv-key-buckets.ts). */
  #buckets: KeyBuckets | null = null;
  /**
   * The key of the buckets' hash: null until the store applies its first seed, which the primary
   * adds to the first write that changes the store, or logs at its next tick for a store an older
   * build wrote (which hashes with UNSEEDED until then).
   */
  #scanSeed: ScanSeed | null = null;
  readonly #clock: () => number;
  readonly #newSeed: () => ScanSeed;
  readonly #context: StateMachineContext;

  /**
   * `clock`: the wall clock in Unix milliseconds, read when the primary executes a write with a
   * relative time to live, answers `ttl`, and looks for keys whose time ran out. `newSeed`: a scan
   * seed nobody outside the cluster can guess, asked for when the primary executes the first write
   * of a store without one (the simulator's is drawn from its own seeded generator). `context`: the
   * format levels (format-level.ts) the store writes at most and reads; by default this build's.
   */
  constructor(
    readonly limits: KvLimits = kvLimitsDefault,
    clock: () => number = Date.now,
    newSeed: () => ScanSeed = randomScanSeed,
    context: StateMachineContext = thisBuildsFormats,
  ) {
    checkKvLimits(limits);
    this.#clock = clock;
    this.#newSeed = newSeed;
    this.#context = context;
  }

  /**
   * Whether a seed may be logged now: only once the cluster's format level has it, or a replica of
   * an older build, which reads no seed, would stop at it.
   */
  #mayDrawSeed(): boolean {
    return this.#context.clusterFormatLevel() >= SCAN_SEED_FORMAT_LEVEL;
  }

  /** A store with a scan seed holds format level 2: a replica reading less could not take it. */
  formatLevelHeld(): number {
    return this.#scanSeed === null ? BASE_FORMAT_LEVEL : SCAN_SEED_FORMAT_LEVEL;
  }

  /** An update holding a scan seed, alone or in a batch, is of format level 2. */
  formatLevelOf(update: Uint8Array): number {
    const seeds =
      isScanSeedUpdate(update) || (isBatchUpdate(update) && someBatchPart(update, isScanSeedUpdate));
    return seeds ? SCAN_SEED_FORMAT_LEVEL : BASE_FORMAT_LEVEL;
  }

  /** What a replica held at a lower format level than `level` refuses, as an older build would. */
  #checkReadable(what: string, level: number): void {
    if (this.#context.formatLevel >= level) return;
    throw new Error(
      `${what} (format level ${level}) reached a replica that reads format level ${this.#context.formatLevel}`,
    );
  }

  /** The key of SCAN's bucket hash (kv-key-hash.ts); null until the store's first write. */
  get scanSeed(): ScanSeed | null {
    return this.#scanSeed;
  }

  /** Every key (latin1), in the store's own order: the order of its snapshots. */
  keys(): IterableIterator<string> {
    return this.#entries.keys();
  }

  /** When `key` (latin1) expires, in Unix milliseconds; undefined if it has no time to live. */
  expiryOf(key: string): number | undefined {
    return this.#expiries.get(key);
  }

  /** How many keys have a time to live. */
  get expiringCount(): number {
    return this.#expiries.size;
  }

  /**
   * The update that deletes the keys whose time ran out by the clock (the earliest first, at most
   * dueKeysMax and `bytesMax` bytes), or null when none has. The primary logs it as it is. First, a
   * store that has keys and no scan seed (an older build wrote it) gets one: its buckets are then
   * keyed without waiting for a write, which a store only read from would never have.
   */
  dueUpdate(bytesMax: number): Uint8Array | null {
    if (this.#scanSeed === null && this.#entries.size > 0 && this.#mayDrawSeed()) {
      return encodeScanSeedUpdate(this.#newSeed());
    }
    const parts: Uint8Array[] = [];
    let bytes = 2;
    this.#expiries.due(this.#clock(), (key) => {
      const part = encodeUpdate('delete', latin1Bytes(key));
      if (parts.length > 0 && (parts.length >= dueKeysMax || bytes + 4 + part.byteLength > bytesMax)) {
        return false;
      }
      parts.push(part);
      bytes += 4 + part.byteLength;
      return true;
    });
    return parts.length === 0 ? null : batchOf(parts);
  }

  get entryCount(): number {
    return this.#entries.size;
  }

  /** The keys' and values' bytes plus `entryOverheadBytes` a key: what `storeBytesMax` bounds. */
  get storeBytes(): number {
    return this.#bytes;
  }

  size(): StateSize {
    return {
      entries: this.#entries.size,
      entriesMax: this.limits.keysMax,
      bytes: this.#bytes,
      bytesMax: this.limits.storeBytesMax,
      expiring: this.#expiries.size,
    };
  }

  execute(operation: Uint8Array): Execution {
    if (isSequence(operation)) return this.#seeded(this.#executeSequence(decodeSequence(operation)));
    const decoded = decodeOperation(operation);
    if (isReadOnly(decoded)) {
      throw new ServiceError(ErrorCode.badRequest, `${decoded.kind} is a read: send it as a query`);
    }
    return this.#seeded(this.#executeWrite(decoded));
  }

  /**
   * The execution, its update preceded by a new scan seed if the store has none and the update
   * changes it: every replica then keys its buckets with the seed this primary drew.
   */
  #seeded(execution: Execution): Execution {
    if (this.#scanSeed !== null || execution.update.byteLength === 0 || !this.#mayDrawSeed())
      return execution;
    const seed = encodeScanSeedUpdate(this.#newSeed());
    const parts = isBatchUpdate(execution.update)
      ? (decodeBatchUpdate(execution.update) as Uint8Array[]) // encoded just now
      : [execution.update];
    return { result: execution.result, update: encodeBatchUpdate([seed, ...parts]) };
  }

  query(operation: Uint8Array): Uint8Array {
    if (isSequence(operation)) return this.#querySequence(decodeSequence(operation));
    const decoded = decodeOperation(operation);
    if (!isReadOnly(decoded)) {
      throw new ServiceError(ErrorCode.badRequest, `${decoded.kind} is a write, not a query`);
    }
    return this.#query(decoded);
  }

  apply(update: Uint8Array): void {
    if (update.byteLength === 0) return;
    if (isBatchUpdate(update)) {
      // Every part is checked before any is applied: a damaged batch changes nothing.
      const effects = decodeBatchUpdate(update)?.map(decodeBinaryUpdate);
      if (effects === undefined || effects.some((effect) => effect === null)) {
        throw new Error('kv batch update is malformed');
      }
      for (const effect of effects as KvUpdate[]) this.#applyEffect(effect);
      return;
    }
    if (update[0] === binaryUpdateMarker) {
      const effect = decodeBinaryUpdate(update);
      if (effect === null) throw new Error('kv update is not one of the binary layout (kv-updates.ts)');
      this.#applyEffect(effect);
      return;
    }
    // An update an older build logged.
    const effect = unpackMessage(update, 'kv update', ErrorCode.badFrame);
    const fields: unknown[] = Array.isArray(effect) ? effect : [];
    const [tag, key, value] = fields;
    const keyAndValue = fields.length === 3 && key instanceof Uint8Array && value instanceof Uint8Array;
    if ((tag === 'set' || tag === 'append') && keyAndValue) {
      this.#applyEffect({ kind: tag, key: latin1String(key), value: latin1String(value) });
    } else if (tag === 'delete' && fields.length === 2 && key instanceof Uint8Array) {
      this.#applyEffect({ kind: 'delete', key: latin1String(key) });
    } else {
      throw new Error('kv update is not [set, key, value], [append, key, suffix] or [delete, key]');
    }
  }

  /**
   * Binary, so a large state is one allocation and a copy per value (msgpack took 0.7 s for 200 MB).
   * Format 3 lists the entries in the store's own order, which every replica shares (they apply the
   * same writes in the same order, and a restore keeps the snapshot's order); format 2 sorted them by
   * key, and at 320,000 keys the sort and the lookups in sorted order were most of the 0.6-1.0 s the
   * snapshot took. stateHash stays independent of order. Layout: kv-snapshot-encoding.ts.
   */
  snapshot(): Uint8Array {
    return finishSnapshot(this.beginSnapshot());
  }

  /** The snapshot of the state as it is now, encoded a slice at a time later. */
  beginSnapshot(): SnapshotEncoding {
    if (this.#scanSeed !== null) {
      const expiries = this.#expiries.entries();
      return new KvSnapshotEncoding(this.#entries, seededSnapshotFormatVersion, expiries, this.#scanSeed);
    }
    return this.#expiries.size === 0
      ? new KvSnapshotEncoding(this.#entries, snapshotFormatVersion)
      : new KvSnapshotEncoding(this.#entries, expiringSnapshotFormatVersion, this.#expiries.entries());
  }

  /** Replaces the whole state; a malformed snapshot throws and leaves the state untouched. */
  restore(snapshot: Uint8Array): void {
    const bytes = asBuffer(snapshot);
    const malformed = (why: string) => new Error(`kv snapshot is malformed: ${why}`);
    const version = bytes.length < 5 ? -1 : bytes.readUInt8(0);
    if (
      version !== seededSnapshotFormatVersion &&
      version !== expiringSnapshotFormatVersion &&
      version !== snapshotFormatVersion &&
      version !== sortedSnapshotFormatVersion
    ) {
      throw malformed(
        `not format version ${seededSnapshotFormatVersion} (or ${expiringSnapshotFormatVersion}, ${snapshotFormatVersion}, ${sortedSnapshotFormatVersion})`,
      );
    }
    const count = bytes.readUInt32LE(1);
    const entries = new Map<string, string>();
    let offset = 5;
    let previous: string | undefined;
    const field = (): string => {
      if (offset + 4 > bytes.length) throw malformed('a length runs past the end');
      const length = bytes.readUInt32LE(offset);
      if (offset + 4 + length > bytes.length) throw malformed('a field runs past the end');
      // A string is a copy: the state never pins the snapshot's buffer.
      const text = bytes.toString('latin1', offset + 4, offset + 4 + length);
      offset += 4 + length;
      return text;
    };
    for (let index = 0; index < count; index++) {
      const key = field();
      if (version === sortedSnapshotFormatVersion && previous !== undefined && key <= previous) {
        throw malformed('keys are not strictly ascending');
      }
      if (entries.has(key)) throw malformed('a key appears twice');
      entries.set(key, field());
      previous = key;
    }
    const expiries = new Map<string, number>();
    if (version === expiringSnapshotFormatVersion || version === seededSnapshotFormatVersion) {
      if (offset + 4 > bytes.length) throw malformed('the count of keys with a time to live is missing');
      const expiring = bytes.readUInt32LE(offset);
      offset += 4;
      for (let index = 0; index < expiring; index++) {
        const key = field();
        if (offset + 8 > bytes.length) throw malformed('a time to live runs past the end');
        const atMs = bytes.readDoubleLE(offset);
        offset += 8;
        if (!entries.has(key)) throw malformed('a time to live names a key that is absent');
        if (!Number.isSafeInteger(atMs)) throw malformed('a time to live is not a whole number');
        if (expiries.has(key)) throw malformed('a key has two times to live');
        expiries.set(key, atMs);
      }
    }
    let seed: ScanSeed | null = null;
    if (version === seededSnapshotFormatVersion) {
      this.#checkReadable(`snapshot format ${seededSnapshotFormatVersion}`, SCAN_SEED_FORMAT_LEVEL);
      if (offset + 8 !== bytes.length) throw malformed('the scan seed is not the last 8 bytes');
      seed = { low: bytes.readUInt32LE(offset), high: bytes.readUInt32LE(offset + 4) };
      offset += 8;
    }
    if (offset !== bytes.length) throw malformed('bytes follow the last entry');
    this.#scanSeed = seed;
    this.#entries.clear();
    this.#expiries.clear();
    this.#bytes = 0;
    for (const [key, value] of entries) {
      this.#entries.set(key, value);
      this.#bytes += entryBytes(key.length, value.length);
    }
    for (const [key, atMs] of expiries) this.#expiries.set(key, atMs);
    this.#buckets = null;
  }

  /**
   * sha256 (hex) of the entries in key order: equal on two stores exactly when their states are
   * equal, whatever order they were written in. For tests and checks, not the hot path.
   */
  stateHash(): string {
    const byKey = ([a]: [string, unknown], [b]: [string, unknown]) => (a < b ? -1 : a > b ? 1 : 0);
    const sorted = new Map([...this.#entries].sort(byKey));
    const encoded = finishSnapshot(new KvSnapshotEncoding(sorted, sortedSnapshotFormatVersion));
    const hash = createHash('sha256').update(encoded);
    // Without a time to live the hash is what it always was.
    for (const [key, atMs] of [...this.#expiries.entries()].sort(byKey)) hash.update(`\n${key}\t${atMs}`);
    return hash.digest('hex');
  }

  #executeWrite(operation: KvWriteOperation): Execution {
    if (operation.kind === 'put-many') return this.#putMany(operation);
    if (operation.kind === 'put-many-if-absent') return this.#putManyIfAbsent(operation);
    if (operation.kind === 'delete-many') return this.#deleteMany(operation);
    if (operation.kind === 'rename' || operation.kind === 'copy') return this.#move(operation);
    if (operation.kind === 'clear') {
      const count = this.#keysHeld();
      return {
        result: encodeResult({ kind: 'clear', count }),
        update: count === 0 ? noUpdate : encodeClearUpdate(),
      };
    }
    this.#checkOperands(operation);
    const key = latin1String(operation.key);
    const before = this.#lookup(key);
    const [result, update, afterLength] = this.#write(
      operation,
      before === undefined ? undefined : latin1Bytes(before),
      before === undefined ? undefined : this.#lookupExpiry(key),
    );
    if (update.byteLength > 0) {
      // On an absent key, any change adds it (a delete of it changes nothing).
      const keyLength = operation.key.byteLength;
      const grown = entryBytes(keyLength, afterLength) - entryBytes(keyLength, before?.length);
      this.#checkRoom(before === undefined ? 1 : 0, grown, operation.kind);
    }
    return { result: encodeResult(result), update };
  }

  #query(operation: KvReadOperation): Uint8Array {
    if (operation.kind === 'get-many' || operation.kind === 'lengths') return this.#readMany(operation);
    if (operation.kind === 'expect') return this.#expect(operation);
    if (operation.kind === 'scan') return this.#scan(operation);
    if (operation.kind === 'count') {
      return encodeResult({ kind: 'count', count: this.#keysHeld() });
    }
    this.#checkOperands(operation);
    const key = latin1String(operation.key);
    const value = this.#lookup(key);
    if (operation.kind === 'get-range') {
      const range = value === undefined ? '' : rangeOf(value, operation.start, operation.end);
      return encodeResult({ kind: 'get-range', value: latin1Bytes(range) });
    }
    if (operation.kind === 'ttl') {
      const atMs = value === undefined ? undefined : this.#lookupExpiry(key);
      return encodeResult({
        kind: 'ttl',
        exists: value !== undefined,
        expiresAtMs: atMs ?? null,
        remainingMs: atMs === undefined ? null : Math.max(0, atMs - this.#clock()),
      });
    }
    return encodeResult({ kind: 'get', value: value === undefined ? null : latin1Bytes(value) });
  }

  /**
   * Runs the parts in order, each against the state the parts before it left (held aside in
   * `#pending`, so the store itself is unchanged, as `execute` promises); a refused part is answered
   * with its refusal and changes nothing. The update is every part's, in order, as one batch.
   */
  #executeSequence({ parts, whole }: KvSequence): Execution {
    this.#checkSequence(parts);
    if (isReadOnlySequence(parts)) {
      throw new ServiceError(ErrorCode.badRequest, 'a sequence of reads is a read: send it as a query');
    }
    const pending: Pending = { values: new Map(), expiries: new Map(), cleared: false, keys: 0, bytes: 0 };
    const updates: Uint8Array[] = [];
    this.#pending = pending;
    try {
      const outcomes = this.#runParts(parts, whole, this.limits.writeSequenceResultBytesMax, (update) => {
        const effects = isBatchUpdate(update) ? decodeBatchUpdate(update) : [update];
        for (const effect of effects ?? []) {
          updates.push(effect);
          this.#holdPending(pending, decodeBinaryUpdate(effect) as KvUpdate); // encoded just now
        }
      });
      return { result: encodeSequenceResult(outcomes), update: batchOf(updates) };
    } finally {
      this.#pending = null;
    }
  }

  #querySequence({ parts, whole }: KvSequence): Uint8Array {
    this.#checkSequence(parts);
    if (!isReadOnlySequence(parts)) {
      throw new ServiceError(ErrorCode.badRequest, 'a sequence with a write is a write, not a query');
    }
    return encodeSequenceResult(this.#runParts(parts, whole, this.limits.readBytesMax, () => {}));
  }

  /**
   * Each part's outcome, in order: a read answered from the pending state, a write executed against
   * it (its update handed to `changed`), a ServiceError the part's refusal. The results together
   * stay within `resultBytesMax` (readBytesMax for reads, answered in one reply;
   * writeSequenceResultBytesMax with a write, whose results are kept in its log entry): the part
   * that would pass it, unless it is the first, does not run, nor any after it (NOT_RUN), so a
   * client that sends those again keeps their order; in a `whole` sequence it refuses the sequence
   * whole instead (VALUE_TOO_LARGE), so nothing runs.
   */
  #runParts(
    parts: readonly KvOperation[],
    whole: boolean,
    resultBytesMax: number,
    changed: (update: Uint8Array) => void,
  ): KvEncodedOutcome[] {
    const outcomes: KvEncodedOutcome[] = [];
    let answered = 0;
    for (const part of parts) {
      let execution: Execution;
      try {
        execution = isReadOnly(part)
          ? { result: this.#query(part), update: noUpdate }
          : this.#executeWrite(part);
      } catch (error) {
        if (!(error instanceof ServiceError)) throw error;
        // A guard that failed: a whole sequence runs nothing at all.
        if (whole && part.kind === 'expect') throw error;
        outcomes.push({ ok: false, code: error.code, message: error.message });
        continue;
      }
      if (answered > 0 && answered + execution.result.byteLength > resultBytesMax) {
        if (whole) {
          throw new ServiceError(
            ErrorCode.valueTooLarge,
            `the results of the whole sequence would pass ${resultBytesMax} bytes, the most one sequence answers, at its operation ${outcomes.length + 1} (a ${part.kind}); nothing ran`,
          );
        }
        const message = `not run: the results of the sequence's operations before this ${part.kind} reached ${resultBytesMax} bytes, the most one sequence answers`;
        while (outcomes.length < parts.length) outcomes.push({ ok: false, code: ErrorCode.notRun, message });
        break;
      }
      answered += execution.result.byteLength;
      outcomes.push({ ok: true, result: execution.result });
      if (execution.update.byteLength > 0) changed(execution.update);
    }
    return outcomes;
  }

  #checkSequence(parts: readonly KvOperation[]): void {
    if (parts.length === 0) throw new ServiceError(ErrorCode.badRequest, 'a sequence holds no operation');
    // It reads the store's keys, not what the parts before it changed: send it on its own.
    if (parts.some((part) => part.kind === 'scan')) {
      throw new ServiceError(ErrorCode.badRequest, 'scan cannot be part of a sequence: send it on its own');
    }
    if (parts.length > this.limits.operationsPerSequenceMax) {
      throw new ServiceError(
        ErrorCode.badRequest,
        `a sequence of ${parts.length} operations exceeds operationsPerSequenceMax = ${this.limits.operationsPerSequenceMax}`,
      );
    }
  }

  /** The keys the store holds, as the parts of a sequence run so far left it. */
  #keysHeld(): number {
    return this.#entries.size + (this.#pending?.keys ?? 0);
  }

  /** A key's value as the parts of a sequence run so far left it (outside one, the store's). */
  #lookup(key: string): string | undefined {
    return pendingOr(this.#pending, this.#pending?.values, key, this.#entries);
  }

  /** A key's time to live as the parts of a sequence run so far left it (outside one, the store's). */
  #lookupExpiry(key: string): number | undefined {
    return pendingOr(this.#pending, this.#pending?.expiries, key, this.#expiries);
  }

  #holdPending(pending: Pending, effect: KvUpdate): void {
    if (effect.kind === 'scan-seed') return; // added after a sequence runs, never within one
    if (effect.kind === 'clear') {
      pending.values.clear();
      pending.expiries.clear();
      pending.cleared = true;
      pending.keys = -this.#entries.size;
      pending.bytes = -this.#bytes;
      return;
    }
    const { key } = effect;
    if (effect.kind === 'expire' || effect.kind === 'persist') {
      pending.expiries.set(key, effect.kind === 'expire' ? effect.atMs : null);
      return;
    }
    const before = this.#lookup(key);
    let after: string | undefined;
    if (effect.kind === 'set') after = effect.value;
    else if (effect.kind === 'append') after = (before ?? '') + effect.value;
    else pending.expiries.set(key, null);
    pending.values.set(key, after ?? null);
    if (before === undefined && after !== undefined) pending.keys += 1;
    if (before !== undefined && after === undefined) pending.keys -= 1;
    pending.bytes += entryBytes(key.length, after?.length) - entryBytes(key.length, before?.length);
  }

  #applyEffect(effect: KvUpdate): void {
    if (effect.kind === 'scan-seed') {
      this.#checkReadable('a scan seed', SCAN_SEED_FORMAT_LEVEL);
      // The first counts: two writes a primary executed before applying either both carry one.
      if (this.#scanSeed !== null) return;
      this.#scanSeed = effect.seed;
      this.#buckets = null;
      return;
    }
    if (effect.kind === 'clear') {
      // The seed stays: cursors of iterations under way keep naming the same buckets.
      this.#entries.clear();
      this.#expiries.clear();
      this.#bytes = 0;
      this.#buckets = null;
      return;
    }
    const { key } = effect;
    if (effect.kind === 'expire') {
      // Only ever logged for a present key; a time for an absent one would outlive nothing.
      if (this.#entries.has(key)) this.#expiries.set(key, effect.atMs);
      return;
    }
    if (effect.kind === 'persist') {
      this.#expiries.delete(key);
      return;
    }
    const before = this.#entries.get(key);
    let after: string | undefined;
    if (effect.kind === 'set') after = effect.value;
    else if (effect.kind === 'append') after = (before ?? '') + effect.value;
    if (after === undefined) {
      if (this.#entries.delete(key)) this.#buckets?.deleted(key);
      this.#expiries.delete(key);
    } else {
      this.#entries.set(key, after);
      if (before === undefined) this.#buckets?.added(key);
    }
    this.#bytes += entryBytes(key.length, after?.length) - entryBytes(key.length, before?.length);
  }

  /** Answers get-many (the values) or lengths (their byte lengths), null for an absent key. */
  #readMany(operation: KvOperationOf<'get-many'> | KvOperationOf<'lengths'>): Uint8Array {
    this.#checkKeys(operation);
    const found = operation.keys.map((key) => this.#lookup(latin1String(key)));
    if (operation.kind === 'lengths') {
      return encodeResult({ kind: 'lengths', lengths: found.map((value) => value?.length ?? null) });
    }
    const bytes = found.reduce((total, value) => total + (value?.length ?? 0), 0);
    if (bytes > this.limits.readBytesMax) {
      throw new ServiceError(
        ErrorCode.valueTooLarge,
        `get-many would answer ${bytes} bytes of values, more than readBytesMax = ${this.limits.readBytesMax}`,
      );
    }
    const values = found.map((value) => (value === undefined ? null : latin1Bytes(value)));
    return encodeResult({ kind: 'get-many', values });
  }

  /**
   * The keys of the buckets from the cursor on until `count` were looked at, those that match; whole
   * buckets, so a reply may hold a few more. A reply stops early past half of readBytesMax, and a
   * bucket that alone would pass readBytesMax is refused.
   */
  #scan(operation: KvOperationOf<'scan'>): Uint8Array {
    const { cursor } = operation;
    if (!Number.isSafeInteger(cursor) || cursor < 0 || cursor > SCAN_CURSOR_BUILDING) {
      throw new ServiceError(
        ErrorCode.badRequest,
        `scan: cursor ${cursor} is not one this store gave (0 to ${SCAN_CURSOR_BUILDING})`,
      );
    }
    if (!Number.isSafeInteger(operation.count) || operation.count < 1) {
      throw new ServiceError(
        ErrorCode.badRequest,
        `scan: count must be a whole number of at least 1, got ${operation.count}`,
      );
    }
    // A hint, as Redis's is: no call holds the event loop for more than a slice of a large store.
    const count = Math.min(operation.count, this.limits.scanKeysPerCallMax);
    const { match } = operation;
    // A pattern is as long as a key may be, or a little longer (escapes).
    if (match !== null && match.byteLength > 2 * this.limits.keySizeMaxBytes) {
      throw new ServiceError(
        ErrorCode.badRequest,
        `scan: a pattern of ${match.byteLength} bytes; at most ${2 * this.limits.keySizeMaxBytes} (twice the longest key)`,
      );
    }
    const glob = match === null ? null : latin1String(match);
    const pattern = glob !== null && globFilters(glob) ? glob : null;
    this.#buckets ??= new KeyBuckets(
      this.#entries.keys(),
      this.limits.scanKeysPerCallMax,
      this.#scanSeed ?? UNSEEDED,
    );
    const keys: Uint8Array[] = [];
    let bytes = 0;
    const next = this.#buckets.scan(cursor, count, (key) => {
      if (pattern === null || globMatches(pattern, key)) {
        keys.push(latin1Bytes(key));
        bytes += key.length;
      }
      return bytes < this.limits.readBytesMax / 2;
    });
    if (bytes > this.limits.readBytesMax) {
      throw new ServiceError(
        ErrorCode.valueTooLarge,
        `scan: the keys at cursor ${cursor} take ${bytes} bytes, more than readBytesMax = ${this.limits.readBytesMax}`,
      );
    }
    return encodeResult({ kind: 'scan', cursor: next, keys });
  }

  /** Answers when every key holds its expected value (null: absent); refuses VALUE_CHANGED otherwise. */
  #expect(operation: KvOperationOf<'expect'>): Uint8Array {
    this.#checkKeys(operation);
    operation.keys.forEach((key, at) => {
      const expected = operation.values[at] ?? null;
      if (expected !== null) {
        this.#checkValueSize(expected.byteLength, `expect: value of ${expected.byteLength} bytes`);
      }
      const found = this.#lookup(latin1String(key));
      const holds =
        found === undefined
          ? expected === null
          : expected !== null && sameBytes(latin1Bytes(found), expected);
      if (!holds) {
        const shown = JSON.stringify(latin1String(key).slice(0, 64));
        const what =
          found === undefined
            ? 'is absent, where a value was expected'
            : expected === null
              ? 'holds a value, where it was expected absent'
              : 'holds another value than expected';
        throw new ServiceError(ErrorCode.valueChanged, `expect: key ${shown} ${what}`);
      }
    });
    return encodeResult({ kind: 'expect' });
  }

  /** Sets every key at once: one batch update of the sets that change something. */
  #putMany(operation: KvOperationOf<'put-many'>): Execution {
    this.#checkKeys(operation);
    for (const value of operation.values) {
      this.#checkValueSize(value.byteLength, `put-many: value of ${value.byteLength} bytes`);
    }
    // A key named twice ends with its last value, as if the sets ran in order.
    const last = new Map<string, Uint8Array>();
    operation.keys.forEach((key, at) => {
      last.set(latin1String(key), operation.values[at] as Uint8Array);
    });
    const parts: Uint8Array[] = [];
    let added = 0;
    let grown = 0;
    for (const [key, value] of last) {
      const before = this.#lookup(key);
      if (before === undefined) added += 1;
      grown += entryBytes(key.length, value.byteLength) - entryBytes(key.length, before?.length);
      const keyBytes = latin1Bytes(key);
      const update = updateFor(keyBytes, before === undefined ? undefined : latin1Bytes(before), value);
      if (update.byteLength > 0) parts.push(update);
      // A put ends a time to live, as Redis MSET does.
      if (this.#lookupExpiry(key) !== undefined) parts.push(encodeUpdate('persist', keyBytes));
    }
    this.#checkRoom(added, grown, 'put-many');
    return { result: encodeResult({ kind: 'put-many' }), update: batchOf(parts) };
  }

  /** Sets every key at once if none is present (Redis MSETNX), else changes nothing. */
  #putManyIfAbsent(operation: KvOperationOf<'put-many-if-absent'>): Execution {
    this.#checkKeys(operation);
    for (const value of operation.values) {
      this.#checkValueSize(value.byteLength, `${operation.kind}: value of ${value.byteLength} bytes`);
    }
    const present = operation.keys.some((key) => this.#lookup(latin1String(key)) !== undefined);
    if (present) return { result: encodeResult({ kind: operation.kind, written: false }), update: noUpdate };
    const { update } = this.#putMany({ kind: 'put-many', keys: operation.keys, values: operation.values });
    return { result: encodeResult({ kind: operation.kind, written: true }), update };
  }

  /** Deletes every key that exists at once; counts each deleted key once. */
  #deleteMany(operation: KvOperationOf<'delete-many'>): Execution {
    this.#checkKeys(operation);
    const present = new Set<string>();
    for (const key of operation.keys) {
      const text = latin1String(key);
      if (this.#lookup(text) !== undefined) present.add(text);
    }
    const parts = [...present].map((key) => encodeUpdate('delete', latin1Bytes(key)));
    return { result: encodeResult({ kind: 'delete-many', count: present.size }), update: batchOf(parts) };
  }

  /**
   * Redis RENAME, RENAMENX and COPY: the destination gets the source's value and time to live (a
   * set keeps the destination's own, so it is replaced or removed by name); a rename deletes the
   * source too. An absent source is refused by a rename (NO_SUCH_KEY) and not copied by a copy.
   */
  #move(operation: KvOperationOf<'rename' | 'copy'>): Execution {
    const { kind, key, destination } = operation;
    this.#checkKey(kind, key);
    this.#checkKey(kind, destination);
    const from = latin1String(key);
    const to = latin1String(destination);
    const value = this.#lookup(from);
    const result = (done: boolean): Uint8Array =>
      encodeResult(kind === 'rename' ? { kind, renamed: done } : { kind, copied: done });
    if (from === to) {
      if (kind === 'copy') {
        throw new ServiceError(ErrorCode.badRequest, 'copy: the source and destination are the same key');
      }
      if (value === undefined) throw noSuchKey(from);
      return { result: result(!operation.onlyIfAbsent), update: noUpdate };
    }
    if (value === undefined) {
      if (kind === 'rename') throw noSuchKey(from);
      return { result: result(false), update: noUpdate };
    }
    const before = this.#lookup(to);
    const mayReplace = kind === 'rename' ? !operation.onlyIfAbsent : operation.replace;
    if (before !== undefined && !mayReplace) return { result: result(false), update: noUpdate };
    const toBytes = latin1Bytes(to);
    const valueBytes = latin1Bytes(value);
    const parts = [updateFor(toBytes, before === undefined ? undefined : latin1Bytes(before), valueBytes)];
    const expiresAtMs = this.#lookupExpiry(from);
    const destinationExpiresAtMs = before === undefined ? undefined : this.#lookupExpiry(to);
    if (expiresAtMs !== undefined && expiresAtMs !== destinationExpiresAtMs) {
      parts.push(encodeExpireUpdate(toBytes, expiresAtMs));
    } else if (expiresAtMs === undefined && destinationExpiresAtMs !== undefined) {
      parts.push(encodeUpdate('persist', toBytes));
    }
    let added = before === undefined ? 1 : 0;
    let grown = entryBytes(to.length, value.length) - entryBytes(to.length, before?.length);
    if (kind === 'rename') {
      parts.push(encodeUpdate('delete', key));
      added -= 1;
      grown -= entryBytes(from.length, value.length);
    }
    this.#checkRoom(added, grown, kind);
    return { result: result(true), update: batchOf(parts.filter((part) => part.byteLength > 0)) };
  }

  /** Refuses a multi-key operation that names no key, too many, or an empty or oversized key. */
  #checkKeys(operation: KvMultiKeyOperation): void {
    const count = operation.keys.length;
    if (count === 0) throw new ServiceError(ErrorCode.badRequest, `${operation.kind}: no key is named`);
    if (count > this.limits.keysPerOperationMax) {
      throw new ServiceError(
        ErrorCode.badRequest,
        `${operation.kind}: ${count} keys exceed keysPerOperationMax = ${this.limits.keysPerOperationMax}`,
      );
    }
    for (const key of operation.keys) this.#checkKey(operation.kind, key);
  }

  /**
   * Refuses a write that would add `added` keys past keysMax (a Map holds 2^24) or grow the store by
   * `grown` bytes past storeBytesMax (its heap): past either every replica would fail in `apply`
   * (kv-limits.ts). A write that adds nothing goes on even in a store over its limit.
   */
  #checkRoom(added: number, grown: number, kind: KvOperation['kind']): void {
    const held = this.#keysHeld();
    const bytes = this.#bytes + (this.#pending?.bytes ?? 0);
    if (added > 0 && held + added > this.limits.keysMax) {
      throw new ServiceError(
        ErrorCode.storeFull,
        `${kind} would add ${added === 1 ? 'a key' : `${added} keys`} to a store that holds ${held} of keysMax = ${this.limits.keysMax}; delete keys to make room`,
      );
    }
    if (grown > 0 && bytes + grown > this.limits.storeBytesMax) {
      throw new ServiceError(
        ErrorCode.storeFull,
        `${kind} would grow the store by ${grown} bytes, and it holds ${bytes} of storeBytesMax = ${this.limits.storeBytesMax} (keys and values, and ${entryOverheadBytes} bytes a key); delete keys or shorten values to make room`,
      );
    }
  }

  #checkKey(kind: KvOperation['kind'], key: Uint8Array): void {
    const size = key.byteLength;
    if (size === 0) throw new ServiceError(ErrorCode.badRequest, `${kind}: the key is empty`);
    if (size > this.limits.keySizeMaxBytes) {
      throw new ServiceError(
        ErrorCode.keyTooLarge,
        `${kind}: key of ${size} bytes exceeds keySizeMaxBytes = ${this.limits.keySizeMaxBytes}`,
      );
    }
  }

  /**
   * The result of a write, its update, and the length of the key's value after it, given the value
   * before it (undefined: absent) and its time to live (undefined: none).
   */
  #write(
    operation: KvSingleKeyWrite,
    before: Uint8Array | undefined,
    expiresAtMs: number | undefined,
  ): [KvResult, Uint8Array, number | undefined] {
    const { key } = operation;
    switch (operation.kind) {
      case 'put': {
        const { value } = operation;
        return [
          { kind: 'put', existed: before !== undefined },
          withoutExpiry(key, updateFor(key, before, value), expiresAtMs),
          value.byteLength,
        ];
      }
      case 'set': {
        const [written, update, length] = this.#set(operation, before, expiresAtMs);
        return [{ kind: 'set', written }, update, length];
      }
      case 'get-set': {
        const [written, update, length] = this.#set(operation, before, expiresAtMs);
        return [{ kind: 'get-set', written, previous: before ?? null }, update, length];
      }
      case 'get-delete':
        return [{ kind: 'get-delete', value: before ?? null }, updateFor(key, before, undefined), undefined];
      case 'get-expire': {
        const { expiry } = operation;
        const [, update, length] =
          expiry.kind === 'none'
            ? persist(key, before, expiresAtMs)
            : this.#expire(key, expiry, 'always', before, expiresAtMs);
        return [{ kind: 'get-expire', value: before ?? null }, update, length];
      }
      case 'expire': {
        const { expiry, condition } = operation;
        const [updated, update, length] = this.#expire(key, expiry, condition, before, expiresAtMs);
        return [{ kind: 'expire', updated }, update, length];
      }
      case 'persist': {
        const [removed, update, length] = persist(key, before, expiresAtMs);
        return [{ kind: 'persist', removed }, update, length];
      }
      case 'delete':
        return [
          { kind: 'delete', existed: before !== undefined },
          updateFor(key, before, undefined),
          undefined,
        ];
      case 'append': {
        const suffix = operation.value;
        const length = (before?.byteLength ?? 0) + suffix.byteLength;
        this.#checkValueSize(length, `append would grow the value to ${length} bytes`);
        // Appending nothing to a present value changes nothing; to an absent key it creates it.
        const changes = suffix.byteLength > 0 || before === undefined;
        return [{ kind: 'append', length }, changes ? encodeUpdate('append', key, suffix) : noUpdate, length];
      }
      case 'cas': {
        const matches =
          operation.expected === null ? before === undefined : sameBytes(before, operation.expected);
        const after = matches ? (operation.next ?? undefined) : before;
        const update = updateFor(key, before, after);
        return [{ kind: 'cas', swapped: matches, current: after ?? null }, update, after?.byteLength];
      }
      case 'incr': {
        const value = parseInteger(before) + operation.delta;
        if (!Number.isSafeInteger(value)) {
          throw new ServiceError(
            ErrorCode.badRequest,
            `incr by ${operation.delta} would leave the safe integer range (±${Number.MAX_SAFE_INTEGER})`,
          );
        }
        const text = utf8.encode(String(value));
        return [{ kind: 'incr', value }, updateFor(key, before, text), text.byteLength];
      }
      case 'incr-float': {
        const sum = formatDecimal(parseFloatValue(before) + operation.delta);
        // Rounded to its digits, the largest doubles round past the largest one.
        if (parseDecimal(sum) === null) {
          throw new ServiceError(ErrorCode.badRequest, 'increment would produce NaN or Infinity');
        }
        const text = utf8.encode(sum);
        this.#checkValueSize(text.byteLength, `incr-float would make a value of ${text.byteLength} bytes`);
        return [{ kind: 'incr-float', value: text }, updateFor(key, before, text), text.byteLength];
      }
      case 'set-range': {
        const { offset, value } = operation;
        const length = Math.max(before?.byteLength ?? 0, offset + value.byteLength);
        // Writing nothing pads nothing, nor creates the key, as in Redis.
        if (value.byteLength === 0)
          return [{ kind: 'set-range', length: before?.byteLength ?? 0 }, noUpdate, before?.byteLength];
        this.#checkValueSize(length, `set-range would make a value of ${length} bytes`);
        if (before !== undefined && offset === before.byteLength) {
          return [{ kind: 'set-range', length }, encodeUpdate('append', key, value), length];
        }
        const after = Buffer.alloc(length);
        if (before !== undefined) after.set(before);
        after.set(value, offset);
        return [{ kind: 'set-range', length }, updateFor(key, before, after), length];
      }
      case 'put-if': {
        const written = conditionHolds(operation.when, before);
        const update = written
          ? withoutExpiry(key, updateFor(key, before, operation.value), expiresAtMs)
          : noUpdate;
        return [
          { kind: 'put-if', written },
          update,
          written ? operation.value.byteLength : before?.byteLength,
        ];
      }
    }
  }

  /**
   * Redis SET with its options: written when `when` allows; the time to live cleared, kept or set as
   * `expiry` says. A time already past leaves the key absent, as Redis does.
   */
  #set(
    operation: KvOperationOf<'set' | 'get-set'>,
    before: Uint8Array | undefined,
    expiresAtMs: number | undefined,
  ): [written: boolean, update: Uint8Array, length: number | undefined] {
    const { key, value, when, expiry } = operation;
    const written = conditionHolds(when, before);
    if (!written) return [written, noUpdate, before?.byteLength];
    if (expiry.kind === 'none') {
      return [written, withoutExpiry(key, updateFor(key, before, value), expiresAtMs), value.byteLength];
    }
    if (expiry.kind === 'keep') return [written, updateFor(key, before, value), value.byteLength];
    const atMs = this.#expiryTime(expiry);
    if (atMs <= this.#clock()) return [written, updateFor(key, before, undefined), undefined];
    const parts = [updateFor(key, before, value)];
    if (atMs !== expiresAtMs) parts.push(encodeExpireUpdate(key, atMs));
    return [written, batchOf(parts.filter((part) => part.byteLength > 0)), value.byteLength];
  }

  /** EXPIRE: the time `expiry` names, if the key is present and `condition` allows it. */
  #expire(
    key: Uint8Array,
    expiry: Extract<Expiry, { readonly ms: number }>,
    condition: ExpireCondition,
    before: Uint8Array | undefined,
    expiresAtMs: number | undefined,
  ): [updated: boolean, update: Uint8Array, length: number | undefined] {
    const atMs = this.#expiryTime(expiry);
    if (before === undefined || !expireApplies(condition, expiresAtMs, atMs)) {
      return [false, noUpdate, before?.byteLength];
    }
    // A time already past deletes the key now, as Redis does.
    if (atMs <= this.#clock()) return [true, updateFor(key, before, undefined), undefined];
    return [true, atMs === expiresAtMs ? noUpdate : encodeExpireUpdate(key, atMs), before.byteLength];
  }

  /** The time an `after` or `at` expiry names by the clock now; refused past the latest time. */
  #expiryTime(expiry: Extract<Expiry, { readonly ms: number }>): number {
    const atMs = expiryTime(expiry, this.#clock());
    if (atMs === null) {
      throw new ServiceError(
        ErrorCode.badRequest,
        `invalid expire time: ${expiry.kind} ${expiry.ms} ms is past the latest time a key may expire at (${expiryAtMsMax})`,
      );
    }
    return atMs;
  }

  /** Refuses empty or oversized keys and oversized value operands, whatever the state. */
  #checkOperands(operation: KvSingleKeyOperation): void {
    this.#checkKey(operation.kind, operation.key);
    const values = operation.kind === 'cas' ? [operation.expected, operation.next] : [];
    if (
      operation.kind === 'put' ||
      operation.kind === 'append' ||
      operation.kind === 'set-range' ||
      operation.kind === 'put-if' ||
      operation.kind === 'set' ||
      operation.kind === 'get-set'
    ) {
      values.push(operation.value);
    }
    if ((operation.kind === 'set' || operation.kind === 'get-set') && isValueCondition(operation.when)) {
      values.push(operation.when.equals);
    }
    for (const value of values) {
      if (value !== null) {
        this.#checkValueSize(value.byteLength, `${operation.kind}: value of ${value.byteLength} bytes`);
      }
    }
  }

  #checkValueSize(size: number, what: string): void {
    if (size > this.limits.valueSizeMaxBytes) {
      throw new ServiceError(
        ErrorCode.valueTooLarge,
        `${what} exceeds valueSizeMaxBytes = ${this.limits.valueSizeMaxBytes}`,
      );
    }
  }
}

/** The update that turns `before` into `after` (undefined: absent), as a set or a delete. */
function updateFor(
  key: Uint8Array,
  before: Uint8Array | undefined,
  after: Uint8Array | undefined,
): Uint8Array {
  if (after === undefined) return before === undefined ? noUpdate : encodeUpdate('delete', key);
  return sameBytes(before, after) ? noUpdate : encodeUpdate('set', key, after);
}

/** `key` as `held` (a sequence's pending changes) holds it (null: absent), else as `store` does, unless cleared. */
function pendingOr<T>(
  pending: Pending | null,
  held: ReadonlyMap<string, T | null> | undefined,
  key: string,
  store: { get(key: string): T | undefined },
): T | undefined {
  const value = held?.get(key);
  if (value !== undefined) return value ?? undefined;
  return pending?.cleared === true ? undefined : store.get(key);
}

/** `update` (a write of a value) and, for a key with a time to live, its end: what a plain put does. */
function withoutExpiry(key: Uint8Array, update: Uint8Array, expiresAtMs: number | undefined): Uint8Array {
  if (expiresAtMs === undefined) return update;
  return batchOf([update, encodeUpdate('persist', key)].filter((part) => part.byteLength > 0));
}

/** What a key with a value of `valueLength` (undefined: absent) counts against storeBytesMax. */
function entryBytes(keyLength: number, valueLength: number | undefined): number {
  return valueLength === undefined ? 0 : keyLength + valueLength + entryOverheadBytes;
}

/** A seed from the operating system's random source. */
export function randomScanSeed(): ScanSeed {
  const bytes = randomBytes(8);
  return { low: bytes.readUInt32LE(0), high: bytes.readUInt32LE(4) };
}

/** One update for the parts of a multi-key write: none, the single part, or a batch. */
function batchOf(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 0) return noUpdate;
  return parts.length === 1 ? (parts[0] as Uint8Array) : encodeBatchUpdate(parts);
}

/** A missing key counts as 0; anything but a decimal safe integer is NOT_AN_INTEGER. */
function parseInteger(value: Uint8Array | undefined): number {
  if (value === undefined) return 0;
  const text = asBuffer(value).toString('latin1');
  const number = incrTextPattern.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(number)) {
    throw new ServiceError(
      ErrorCode.notAnInteger,
      `incr: the value ${shownValue(text)} is not a decimal safe integer`,
    );
  }
  return number;
}

/**
 * Redis GETRANGE's bytes of `value` (latin1: a character a byte) from `first` to `last`, both
 * included, a negative one counted from the end; empty where the range holds nothing. Cut as a string,
 * so only the range is copied out of a long value.
 */
function rangeOf(value: string, first: number, last: number): string {
  const { length } = value;
  if (length === 0 || (first < 0 && last < 0 && first > last)) return '';
  const start = Math.max(0, first < 0 ? length + first : first);
  const end = Math.min(length - 1, Math.max(0, last < 0 ? length + last : last));
  return start > end ? '' : value.slice(start, end + 1);
}

function noSuchKey(key: string): ServiceError {
  return new ServiceError(ErrorCode.noSuchKey, `rename: no such key ${shownValue(key)}`);
}

/** A value as a refusal shows it: its first 32 characters, quoted. */
function shownValue(text: string): string {
  return JSON.stringify(text.slice(0, 32)) + (text.length > 32 ? '…' : '');
}

/** A missing key counts as 0; anything but a decimal number is NOT_A_FLOAT. */
function parseFloatValue(value: Uint8Array | undefined): number {
  if (value === undefined) return 0;
  const text = asBuffer(value).toString('latin1');
  const number = parseDecimal(text);
  if (number === null) {
    throw new ServiceError(
      ErrorCode.notAFloat,
      `incr-float: the value ${shownValue(text)} is not a decimal number`,
    );
  }
  return number;
}

/** Whether `condition` (null: none) lets a write go on a key that holds `before` (undefined: absent). */
function conditionHolds(condition: SetCondition | null, before: Uint8Array | undefined): boolean {
  if (condition === null) return true;
  if (isValueCondition(condition)) return sameBytes(before, condition.equals);
  return (before === undefined) === (condition === 'absent');
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && Buffer.compare(a, b) === 0;
}

function latin1String(bytes: Uint8Array): string {
  return asBuffer(bytes).toString('latin1');
}

function latin1Bytes(text: string): Uint8Array {
  return Buffer.from(text, 'latin1');
}

/** PERSIST: the key's time to live removed, if it had one. */
function persist(
  key: Uint8Array,
  before: Uint8Array | undefined,
  expiresAtMs: number | undefined,
): [removed: boolean, update: Uint8Array, length: number | undefined] {
  const removed = expiresAtMs !== undefined;
  return [removed, removed ? encodeUpdate('persist', key) : noUpdate, before?.byteLength];
}
