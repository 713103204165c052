// The key/value client: the built-in store's operations over a ReplicatedClient. Keys and values are
// bytes; strings are taken as UTF-8. Every write answers its result together with where it stands:
// the view, the log index, the durability reached and the replicas holding it. Reads go to the
// primary unless the call allows any member within a staleness bound (ReadOptions).

import { BadFrameError, ConfigError } from '../errors.js';
import type { ForgetReply, StatusReply, SwitchoverReply } from '../protocol/messages.js';
import { ServiceError } from '../protocol/state-machine.js';
import {
  decodeResult,
  decodeSequenceResult,
  decodeSequenceResultAlone,
  type ExpireCondition,
  type Expiry,
  encodeOperation,
  encodeSequence,
  expireConditions,
  isReadOnly,
  isReadOnlySequence,
  isSequenceResult,
  type KvOperation,
  type KvOperationKind,
  type KvOperationOf,
  type KvOutcome,
  type KvResult,
  type KvResultOf,
  keysPageCount,
  kvOperation,
  type PutCondition,
  putConditions,
  type SetCondition,
} from '../state-machine/index.js';
import { resultFields, resultKind } from '../state-machine/kv-operations.js';
import {
  type ClientOptions,
  type ReadOptions,
  ReplicatedClient,
  type RequestStatus,
  type SaveSnapshotOptions,
  type WriteOptions,
  type WriteReply,
} from './replicated-client.js';
import { type SavedSnapshotSummary, saveSnapshotToFile } from './save-snapshot.js';

export type Bytes = string | Uint8Array;

/** Where a write stands: every write's answer carries these besides its own result. */
export type WriteMetadata = Omit<WriteReply, 'result'>;

/** What `execute` answers: the operation's result, and for a write where it stands. */
export interface ExecuteResult {
  readonly result: KvResult;
  /** Null for a read. */
  readonly write: WriteMetadata | null;
}

/** How a sequence runs: where its reads go, its writes' durability, and whether it may be cut. */
export type SequenceOptions = ReadOptions &
  WriteOptions & {
    /**
     * Never cut (a transaction): where a sequence whose results pass their bound answers NOT_RUN for
     * the operations past it, a whole one is refused whole with VALUE_TOO_LARGE, and nothing runs.
     */
    readonly whole?: boolean;
  };

/** What `sequence` answers: each operation's outcome in order, and for a write where it stands. */
export interface SequenceResult {
  readonly outcomes: readonly KvOutcome[];
  /** Null for a sequence of reads only. */
  readonly write: WriteMetadata | null;
}

/** The fields of a result of kind K, without the tag, plus the write's metadata. */
export type WriteResult<K extends KvOperationKind> = Omit<KvResultOf<K>, 'kind'> & WriteMetadata;

/**
 * What became of a write (see RequestStatus); an executed one also carries its result decoded as
 * the key/value store's (`result`, tagged with the operation's kind), or, for a sequence, each of
 * its operations' outcomes (`outcomes`); both null when the bytes are neither (a cluster that runs
 * another service).
 */
export type KvRequestStatus =
  | {
      readonly state: 'executed';
      readonly result: KvResult | null;
      readonly outcomes: readonly KvOutcome[] | null;
      readonly resultBytes: Uint8Array;
      readonly index: number;
      readonly view: number;
    }
  | Exclude<RequestStatus, { readonly state: 'executed' }>;

/** How `set` writes: only when `when` allows, and with a time to live (at most one of the three). */
export interface SetOptions extends WriteOptions {
  /**
   * Only if the key is absent (Redis SET NX), or only if present (XX), or only if it holds exactly
   * `equals` (SET ... IFEQ: a compare-and-set that, unlike `cas`, sets the time to live as a set does).
   */
  readonly when?: PutCondition | { readonly equals: Bytes };
  /** The key expires this many milliseconds after the primary runs the write (Redis PX). */
  readonly ttlMs?: number;
  /** The key expires at this time, Unix milliseconds (Redis PXAT). */
  readonly expiresAtMs?: number;
  /** The key keeps the time to live it has (Redis KEEPTTL); without a time option a set removes it. */
  readonly keepTtl?: boolean;
}

/** When `expire` sets the time: always, or as Redis 7's EXPIRE options (a key without one never expires). */
export interface ExpireOptions extends WriteOptions {
  readonly condition?: ExpireCondition;
}

/** Which keys `scan` and `scanKeys` look at and answer. */
export interface ScanOptions extends ReadOptions {
  /** Keys looked at per call (Redis's COUNT, 10 if absent): whole buckets, so a few more come. */
  readonly count?: number;
  /** Only keys that match this glob (`*`, `?`, `[a-z]`, `[^a]`, `\x`); every key if absent. */
  readonly match?: Bytes;
}

/** One step of a scan: keys, and the cursor to pass next (0: every key was looked at). */
export type ScanPage = Omit<KvResultOf<'scan'>, 'kind'>;

/** How `getExpire` changes the time to live: exactly one of the three. */
export interface GetExpireOptions extends WriteOptions {
  /** The key expires this many milliseconds after the primary runs it; 0 or less deletes it now. */
  readonly ttlMs?: number;
  /** The key expires at this time, Unix milliseconds; a time already past deletes it now. */
  readonly expiresAtMs?: number;
  /** The key no longer expires. */
  readonly persist?: boolean;
}

/** What `ttl` answers: whether the key exists, and when it expires (both null if it never does). */
export type TtlResult = Omit<KvResultOf<'ttl'>, 'kind'>;

const decoder = new TextDecoder();

/** UTF-8; Buffer.from is about 3× faster than TextEncoder for short strings (measured on Node 20). */
const toBytes = (value: Bytes): Uint8Array =>
  typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
const toBytesOrNull = (value: Bytes | null): Uint8Array | null => (value === null ? null : toBytes(value));

export class Client {
  private constructor(readonly replicated: ReplicatedClient) {}

  static async connect(options: ClientOptions): Promise<Client> {
    return new Client(await ReplicatedClient.connect(options));
  }

  /**
   * The value of `key`, or null if it is absent. Read at the primary unless `options` allows any
   * member within a staleness bound, e.g. `{ read: 'any', readYourWrites: true }`.
   */
  async get(key: Bytes, options?: ReadOptions): Promise<Uint8Array | null> {
    const reply = await this.replicated.read(encodeOperation(kvOperation.get(toBytes(key))), options);
    return decode('get', reply.result).value;
  }

  /** The values of `keys` (null where absent), read at once: one atomic read. */
  async getMany(keys: readonly Bytes[], options?: ReadOptions): Promise<(Uint8Array | null)[]> {
    const reply = await this.replicated.read(
      encodeOperation(kvOperation.getMany(keys.map(toBytes))),
      options,
    );
    return [...decode('get-many', reply.result).values];
  }

  /** The byte length of each key's value (null where absent), read at once. */
  async lengths(keys: readonly Bytes[], options?: ReadOptions): Promise<(number | null)[]> {
    const reply = await this.replicated.read(
      encodeOperation(kvOperation.lengths(keys.map(toBytes))),
      options,
    );
    return [...decode('lengths', reply.result).lengths];
  }

  /**
   * The bytes of `key`'s value from `start` to `end`, both included, a negative one counted from the
   * end, clamped as Redis GETRANGE does (empty for an absent key); only those bytes travel.
   */
  async getRange(key: Bytes, start: number, end: number, options?: ReadOptions): Promise<Uint8Array> {
    for (const [name, value] of [
      ['start', start],
      ['end', end],
    ] as const) {
      if (!Number.isSafeInteger(value))
        throw new ConfigError(`getRange: ${name} must be a whole number, got ${value}`);
    }
    const reply = await this.replicated.read(
      encodeOperation(kvOperation.getRange(toBytes(key), start, end)),
      options,
    );
    return decode('get-range', reply.result).value;
  }

  /** How many keys the store holds (Redis DBSIZE). */
  async keyCount(options?: ReadOptions): Promise<number> {
    const reply = await this.replicated.read(encodeOperation(kvOperation.count()), options);
    return decode('count', reply.result).count;
  }

  /** The value of `key` decoded as UTF-8, or null if it is absent. */
  async getText(key: Bytes, options?: ReadOptions): Promise<string | null> {
    const value = await this.get(key, options);
    return value === null ? null : decoder.decode(value);
  }

  put(key: Bytes, value: Bytes, options?: WriteOptions): Promise<WriteResult<'put'>> {
    return this.write(kvOperation.put(toBytes(key), toBytes(value)), options);
  }

  delete(key: Bytes, options?: WriteOptions): Promise<WriteResult<'delete'>> {
    return this.write(kvOperation.delete(toBytes(key)), options);
  }

  /** Puts only if the key is absent (`when: 'absent'`) or present; `written` says whether it did. */
  putIf(
    key: Bytes,
    value: Bytes,
    when: PutCondition,
    options?: WriteOptions,
  ): Promise<WriteResult<'put-if'>> {
    return this.write(kvOperation.putIf(toBytes(key), toBytes(value), when), options);
  }

  /**
   * Sets `key` to `value` (only if `options.when` allows) with a time to live: `ttlMs` after the
   * primary runs it, until `expiresAtMs`, or the one it has (`keepTtl`); with none of them the key
   * keeps none, as with `put`. A key lives at least its time to live by the primary's clock, and is
   * deleted by a write the primary logs soon after (docs/OPERATIONS.md, "Keys that expire").
   */
  set(key: Bytes, value: Bytes, options: SetOptions = {}): Promise<WriteResult<'set'>> {
    return this.write(kvOperation.set(toBytes(key), toBytes(value), setOptionsOf(options)), options);
  }

  /** Gives `key` a time to live of `ttlMs` from when the primary runs it; 0 or less deletes it now. */
  expire(key: Bytes, ttlMs: number, options: ExpireOptions = {}): Promise<WriteResult<'expire'>> {
    const expiry: Expiry = { kind: 'after', ms: wholeMs(ttlMs, 'ttlMs', Number.MIN_SAFE_INTEGER) };
    return this.write(kvOperation.expire(toBytes(key), expiry, conditionOf(options.condition)), options);
  }

  /** Makes `key` expire at `atMs`, Unix milliseconds; a time already past deletes it now. */
  expireAt(key: Bytes, atMs: number, options: ExpireOptions = {}): Promise<WriteResult<'expire'>> {
    const expiry: Expiry = { kind: 'at', ms: wholeMs(atMs, 'atMs', 0) };
    return this.write(kvOperation.expire(toBytes(key), expiry, conditionOf(options.condition)), options);
  }

  /** Removes `key`'s time to live; `removed` says whether it had one. */
  persist(key: Bytes, options?: WriteOptions): Promise<WriteResult<'persist'>> {
    return this.write(kvOperation.persist(toBytes(key)), options);
  }

  /** Deletes `key` and answers the value it held (null: absent), in one step (Redis GETDEL). */
  getDelete(key: Bytes, options?: WriteOptions): Promise<WriteResult<'get-delete'>> {
    return this.write(kvOperation.getDelete(toBytes(key)), options);
  }

  /**
   * `set` that also answers the value the key held before (`previous`, null: absent), in one step,
   * whether or not `when` let it write (Redis SET ... GET, GETSET).
   */
  getSet(key: Bytes, value: Bytes, options: SetOptions = {}): Promise<WriteResult<'get-set'>> {
    return this.write(kvOperation.getSet(toBytes(key), toBytes(value), setOptionsOf(options)), options);
  }

  /**
   * Answers `key`'s value and, in the same step, gives it a time to live (`ttlMs` from when the
   * primary runs it, or until `expiresAtMs`) or removes the one it has (`persist`); exactly one of
   * the three (Redis GETEX). A key that is absent stays so.
   */
  getExpire(key: Bytes, options: GetExpireOptions): Promise<WriteResult<'get-expire'>> {
    return this.write(kvOperation.getExpire(toBytes(key), getExpiryOf(options)), options);
  }

  /**
   * Moves `key`'s value and time to live to `destination`, replacing whatever it held (Redis
   * RENAME); with `onlyIfAbsent`, only if `destination` is absent (`renamed` false otherwise: Redis
   * RENAMENX). One step. Rejects with RequestRefusedError NO_SUCH_KEY if `key` is absent.
   */
  rename(
    key: Bytes,
    destination: Bytes,
    options: WriteOptions & { readonly onlyIfAbsent?: boolean } = {},
  ): Promise<WriteResult<'rename'>> {
    const operation = kvOperation.rename(toBytes(key), toBytes(destination), options.onlyIfAbsent === true);
    return this.write(operation, options);
  }

  /**
   * Copies `key`'s value and time to live to `destination` if `key` is present and `destination`
   * absent, or with `replace` whatever it held (`copied` says whether it did; Redis COPY).
   */
  copy(
    key: Bytes,
    destination: Bytes,
    options: WriteOptions & { readonly replace?: boolean } = {},
  ): Promise<WriteResult<'copy'>> {
    const operation = kvOperation.copy(toBytes(key), toBytes(destination), options.replace === true);
    return this.write(operation, options);
  }

  /**
   * Writes `value` over `key`'s value from byte `offset` on, padding it with zero bytes first if it
   * is shorter (an absent key counts as empty); keeps its time to live; answers the new `length`
   * (Redis SETRANGE).
   */
  setRange(
    key: Bytes,
    offset: number,
    value: Bytes,
    options?: WriteOptions,
  ): Promise<WriteResult<'set-range'>> {
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new ConfigError(`setRange: offset must be a whole number of bytes, not negative; got ${offset}`);
    }
    return this.write(kvOperation.setRange(toBytes(key), offset, toBytes(value)), options);
  }

  /**
   * Deletes every key in one step (Redis FLUSHALL, FLUSHDB): one log entry, so every replica empties
   * at the same index, and no write is half before it and half after. `count`: the keys deleted.
   */
  deleteAll(options?: WriteOptions): Promise<WriteResult<'clear'>> {
    return this.write(kvOperation.clear(), options);
  }

  /** Whether `key` exists and when it expires: `remainingMs` by the answering replica's clock. */
  async ttl(key: Bytes, options?: ReadOptions): Promise<TtlResult> {
    const reply = await this.replicated.read(encodeOperation(kvOperation.ttl(toBytes(key))), options);
    const { exists, expiresAtMs, remainingMs } = decode('ttl', reply.result);
    return { exists, expiresAtMs, remainingMs };
  }

  /**
   * Some keys, from `cursor` (0: the start) on, and the cursor to pass next: 0 once every key was
   * looked at. As Redis SCAN promises, the calls from cursor 0 until one answers 0 return every key
   * present from the first call to the last, perhaps some twice; a key added or deleted meanwhile
   * may or may not come. A cursor is the same on every member, so `read: 'any'` calls may mix.
   */
  async scan(cursor: number, options: ScanOptions = {}): Promise<ScanPage> {
    const { count, match } = options;
    const operation = kvOperation.scan(cursor, {
      ...(count === undefined ? {} : { count }),
      match: match === undefined ? null : toBytes(match),
    });
    const reply = await this.replicated.read(encodeOperation(operation), options);
    const { cursor: next, keys } = decode('scan', reply.result);
    return { cursor: next, keys };
  }

  /** Every key (that matches `options.match`), by scans from cursor 0 until one answers 0. */
  async *scanKeys(options: ScanOptions = {}): AsyncGenerator<Uint8Array> {
    let cursor = 0;
    do {
      const page = await this.scan(cursor, options);
      yield* page.keys;
      cursor = page.cursor;
    } while (cursor !== 0);
  }

  /**
   * Every key that matches `pattern` (a glob), gathered by `scanKeys` (a page of 1,000 at a time, so
   * no member holds its event loop for the whole store): unlike Redis's KEYS, not one instant; a key
   * added or deleted while it walks may or may not come.
   */
  async keys(pattern: Bytes, options?: ReadOptions): Promise<Uint8Array[]> {
    const keys: Uint8Array[] = [];
    for await (const key of this.scanKeys({ ...options, match: pattern, count: keysPageCount }))
      keys.push(key);
    return keys;
  }

  /** Sets every key to its value at once (one log entry); a key named twice ends with its last value. */
  putMany(
    entries: readonly (readonly [Bytes, Bytes])[],
    options?: WriteOptions,
  ): Promise<WriteResult<'put-many'>> {
    const { keys, values } = keysAndValues(entries);
    return this.write(kvOperation.putMany(keys, values), options);
  }

  /** `putMany` only if every key is absent, else nothing (Redis MSETNX); `written` says which. */
  putManyIfAbsent(
    entries: readonly (readonly [Bytes, Bytes])[],
    options?: WriteOptions,
  ): Promise<WriteResult<'put-many-if-absent'>> {
    const { keys, values } = keysAndValues(entries);
    return this.write(kvOperation.putManyIfAbsent(keys, values), options);
  }

  /** Deletes every key at once; `count` is how many existed. */
  deleteMany(keys: readonly Bytes[], options?: WriteOptions): Promise<WriteResult<'delete-many'>> {
    return this.write(kvOperation.deleteMany(keys.map(toBytes)), options);
  }

  /**
   * Appends to the value (an absent key counts as empty); `length` in the answer is the value's new
   * length in bytes. Read the value back with `get`.
   */
  append(key: Bytes, value: Bytes, options?: WriteOptions): Promise<WriteResult<'append'>> {
    return this.write(kvOperation.append(toBytes(key), toBytes(value)), options);
  }

  /**
   * Sets `key` to `next` if its value is `expected`. null as `expected` means "absent", null as
   * `next` deletes. `current` in the answer is the value afterwards.
   */
  cas(
    key: Bytes,
    expected: Bytes | null,
    next: Bytes | null,
    options?: WriteOptions,
  ): Promise<WriteResult<'cas'>> {
    return this.write(kvOperation.cas(toBytes(key), toBytesOrNull(expected), toBytesOrNull(next)), options);
  }

  /** Adds `delta` to a decimal integer value (absent counts as 0); answers the new number. */
  incr(key: Bytes, delta = 1, options?: WriteOptions): Promise<WriteResult<'incr'>> {
    return this.write(kvOperation.incr(toBytes(key), delta), options);
  }

  /**
   * Adds `delta` (a finite number) to a decimal value (absent counts as 0), as Redis INCRBYFLOAT;
   * `value` in the answer is the text the key now holds: the sum rounded to 15 significant digits,
   * without an exponent ("10.6" after 10.5 and 0.1). A value that is not a decimal number is refused
   * NOT_A_FLOAT.
   */
  incrFloat(key: Bytes, delta: number, options?: WriteOptions): Promise<WriteResult<'incr-float'>> {
    if (!Number.isFinite(delta))
      throw new ConfigError(`incrFloat: delta must be a finite number, got ${delta}`);
    return this.write(kvOperation.incrFloat(toBytes(key), delta), options);
  }

  /**
   * Runs one operation built with `kvOperation`: a read (get, get-many, lengths) at the primary
   * unless `options` allows any member, a write with `options.durability`. Answers its result,
   * tagged with its kind, and for a write where it stands (`write`). The named methods above are
   * the same calls, typed by operation.
   */
  async execute(operation: KvOperation, options?: ReadOptions & WriteOptions): Promise<ExecuteResult> {
    const bytes = encodeOperation(checked(operation, 'the operation'));
    if (isReadOnly(operation)) {
      const reply = await this.replicated.read(bytes, options);
      return { result: decode(operation.kind, reply.result), write: null };
    }
    const reply = await this.replicated.write(bytes, options);
    return { result: decode(operation.kind, reply.result), write: metadataOf(reply) };
  }

  /**
   * Runs `operations` (built with `kvOperation`) in order as one operation: one request, one log
   * entry, so all of them or none, and none run twice. Each sees the effects of those before it; one
   * the store refuses (an incr of a word, say) is answered with its refusal while the others run.
   * Answers each operation's outcome in order, and for a write, where it stands (`write`). A
   * sequence of reads only is a read (at the primary unless `options` allows any member); with a
   * write in it, it is a write, with `options.durability`. At most `operationsPerSequenceMax`
   * operations. Its results are bounded (readBytesMax for reads, writeSequenceResultBytesMax with a
   * write): the operations past the bound answer NOT_RUN and did not run, unless `options.whole`,
   * which refuses the sequence whole instead (a transaction: all or nothing).
   */
  async sequence(operations: readonly KvOperation[], options?: SequenceOptions): Promise<SequenceResult> {
    if (!Array.isArray(operations)) throw new ConfigError('sequence takes an array of operations');
    const bytes = encodeSequence(
      operations.map((operation, at) => checked(operation, `operation ${at + 1}`)),
      options?.whole === true,
    );
    if (isReadOnlySequence(operations)) {
      const reply = await this.replicated.read(bytes, options);
      return { outcomes: decodeOutcomes(operations, reply.result), write: null };
    }
    const reply = await this.replicated.write(bytes, options);
    return { outcomes: decodeOutcomes(operations, reply.result), write: metadataOf(reply) };
  }

  /**
   * What became of write `requestId` (as OutcomeUnknownError names it); asking cancels a write that
   * has not run. See ReplicatedClient.requestStatus.
   */
  async requestStatus(requestId: string): Promise<KvRequestStatus> {
    const status = await this.replicated.requestStatus(requestId);
    if (status.state !== 'executed') return status;
    const { result, ...where } = status;
    if (isSequenceResult(result)) {
      return {
        ...where,
        result: null,
        outcomes: decodeOrNull(() => decodeSequenceResultAlone(result)),
        resultBytes: result,
      };
    }
    return { ...where, result: decodeAny(result), outcomes: null, resultBytes: result };
  }

  status(): Promise<StatusReply> {
    return this.replicated.status();
  }

  /** Hands the primary role to backup `to` (see ReplicatedClient.switchover). */
  switchover(to: string): Promise<SwitchoverReply> {
    return this.replicated.switchover(to);
  }

  /** Has the coordinator forget replica `id`, taken out of service for good (see ReplicatedClient.forget). */
  forget(id: string): Promise<ForgetReply> {
    return this.replicated.forget(id);
  }

  /**
   * Saves a snapshot of the store holding every write acknowledged before the call into `file`
   * (`understudy snapshot save`; see ReplicatedClient.saveSnapshot). `understudy snapshot restore`
   * makes replica data directories of it.
   */
  saveSnapshot(file: string, options: SaveSnapshotOptions = {}): Promise<SavedSnapshotSummary> {
    return saveSnapshotToFile(this.replicated, file, options);
  }

  close(): Promise<void> {
    return this.replicated.close();
  }

  private async write<K extends KvOperationKind>(
    operation: Extract<KvOperation, { readonly kind: K }>,
    options: WriteOptions = {},
  ): Promise<WriteResult<K>> {
    const reply = await this.replicated.write(encodeOperation(operation), options);
    const decoded = decode(operation.kind as K, reply.result);
    // Built field by field: object rest and spread cost some 5 µs here, a tenth of a call's CPU.
    const written: Record<string, unknown> = {};
    for (const name of resultFields[decoded.kind]) written[name] = decoded[name as keyof typeof decoded];
    written.view = reply.view;
    written.index = reply.index;
    written.durability = reply.durability;
    written.replicas = reply.replicas;
    return written as WriteResult<K>;
  }
}

const operationKinds: ReadonlySet<string> = new Set(Object.keys(resultFields));

/** `[key, value]` pairs as the two lists put-many and put-many-if-absent take. */
function keysAndValues(entries: readonly (readonly [Bytes, Bytes])[]): {
  readonly keys: Uint8Array[];
  readonly values: Uint8Array[];
} {
  return { keys: entries.map(([key]) => toBytes(key)), values: entries.map(([, value]) => toBytes(value)) };
}

/** The condition and the time to live `set`'s options name (a ConfigError where they are wrong). */
function setOptionsOf(options: SetOptions): { readonly when: SetCondition | null; readonly expiry: Expiry } {
  return { when: whenOf(options.when), expiry: expiryOf(options) };
}

/** The time to live `set`'s options name; more than one, or a time that is not a whole number, is a ConfigError. */
function expiryOf(options: SetOptions): Expiry {
  const named = [
    options.ttlMs === undefined ? null : 'ttlMs',
    options.expiresAtMs === undefined ? null : 'expiresAtMs',
    options.keepTtl === true ? 'keepTtl' : null,
  ].filter((name) => name !== null);
  if (named.length > 1)
    throw new ConfigError(`set takes one of ttlMs, expiresAtMs and keepTtl, got ${named.join(' and ')}`);
  if (options.ttlMs !== undefined) return { kind: 'after', ms: wholeMs(options.ttlMs, 'ttlMs', 1) };
  if (options.expiresAtMs !== undefined)
    return { kind: 'at', ms: wholeMs(options.expiresAtMs, 'expiresAtMs', 0) };
  return options.keepTtl === true ? { kind: 'keep' } : { kind: 'none' };
}

/** The change `getExpire`'s options name; none or more than one is a ConfigError. */
function getExpiryOf(options: GetExpireOptions): KvOperationOf<'get-expire'>['expiry'] {
  const named = [
    options.ttlMs === undefined ? null : 'ttlMs',
    options.expiresAtMs === undefined ? null : 'expiresAtMs',
    options.persist === true ? 'persist' : null,
  ].filter((name) => name !== null);
  if (named.length !== 1) {
    throw new ConfigError(
      `getExpire takes exactly one of ttlMs, expiresAtMs and persist, got ${named.length === 0 ? 'none' : named.join(' and ')}`,
    );
  }
  if (options.ttlMs !== undefined)
    return { kind: 'after', ms: wholeMs(options.ttlMs, 'ttlMs', Number.MIN_SAFE_INTEGER) };
  if (options.expiresAtMs !== undefined)
    return { kind: 'at', ms: wholeMs(options.expiresAtMs, 'expiresAtMs', 0) };
  return { kind: 'none' };
}

function wholeMs(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(
      `${name} must be a whole number of milliseconds, at least ${min}; got ${String(value)}`,
    );
  }
  return value;
}

function whenOf(when: unknown): SetCondition | null {
  if (when === undefined) return null;
  if (typeof when === 'object' && when !== null && 'equals' in when) {
    const { equals } = when as { readonly equals: unknown };
    if (typeof equals === 'string' || equals instanceof Uint8Array) return { equals: toBytes(equals) };
  }
  if (!putConditions.includes(when as PutCondition)) {
    throw new ConfigError(
      `when must be one of ${putConditions.join(', ')} or { equals: value }; got ${String(when)}`,
    );
  }
  return when as PutCondition;
}

function conditionOf(condition: unknown): ExpireCondition {
  if (condition === undefined) return 'always';
  if (!expireConditions.includes(condition as ExpireCondition)) {
    throw new ConfigError(
      `condition must be one of ${expireConditions.join(', ')}; got ${String(condition)}`,
    );
  }
  return condition as ExpireCondition;
}

/** `operation` if it names a kind of the store (a caller without types may pass anything), else ConfigError. */
function checked(operation: KvOperation, what: string): KvOperation {
  const kind: unknown = (operation as { kind?: unknown } | null)?.kind;
  if (typeof kind !== 'string' || !operationKinds.has(kind)) {
    throw new ConfigError(
      `${what} is not a key/value operation (build it with kvOperation: ${[...operationKinds].join(', ')})`,
    );
  }
  return operation;
}

/** Where a write stands, without its result (built field by field: object rest costs here). */
function metadataOf(reply: WriteReply): WriteMetadata {
  return { view: reply.view, index: reply.index, durability: reply.durability, replicas: reply.replicas };
}

/** Decodes a sequence's outcomes; a malformed answer is the server's fault, reported as BAD_FRAME. */
function decodeOutcomes(operations: readonly KvOperation[], bytes: Uint8Array): KvOutcome[] {
  return asBadFrame('sequence', () => decodeSequenceResult(operations, bytes));
}

/** A key/value result of whatever kind its tag names, or null if the bytes are not one. */
function decodeAny(bytes: Uint8Array): KvResult | null {
  return decodeOrNull(() => {
    const kind = resultKind(bytes);
    return kind === null ? null : decodeResult(kind, bytes);
  });
}

/** What `decode` answers, or null where it refuses the bytes. */
function decodeOrNull<T>(decode: () => T | null): T | null {
  try {
    return decode();
  } catch (error) {
    if (error instanceof ServiceError) return null;
    throw error;
  }
}

/** Decodes a result; a malformed one is the server's fault, reported as BAD_FRAME. */
function decode<K extends KvOperationKind>(kind: K, bytes: Uint8Array): KvResultOf<K> {
  return asBadFrame(kind, () => decodeResult(kind, bytes));
}

/** What `decode` answers; a ServiceError (the server's answer is malformed) as a BadFrameError. */
function asBadFrame<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof ServiceError) throw new BadFrameError(`malformed ${what} result: ${error.message}`);
    throw error;
  }
}
