// The operations of the built-in key/value service and their results. Both are encoded in a fixed
// binary layout (kv-operation-layout.ts); older builds sent and logged them as MessagePack tuples
// `[name, ...fields]`, which still decode. A result names its kind, so it can be checked against
// the operation it answers. Decoding treats its input as untrusted: anything malformed is refused
// with a ServiceError naming what was wrong, never asserted.

import { Packr } from 'msgpackr';
import { ErrorCode } from '../protocol/error-codes.js';
import { ServiceError } from '../protocol/state-machine.js';
import {
  type ExpireCondition,
  type Expiry,
  type ExpiryKind,
  expireConditions,
  expiryKinds,
} from './kv-expiry.js';
import {
  binaryLayoutMarker,
  binaryResultKind,
  decodeBinaryOperation,
  decodeBinaryResult,
  encodeBinaryOperation,
  encodeBinaryResult,
} from './kv-operation-layout.js';

export type KvOperation =
  | { readonly kind: 'get'; readonly key: Uint8Array }
  | { readonly kind: 'put'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly kind: 'delete'; readonly key: Uint8Array }
  | { readonly kind: 'append'; readonly key: Uint8Array; readonly value: Uint8Array }
  | {
      readonly kind: 'cas';
      readonly key: Uint8Array;
      /** null: the key must be absent. */
      readonly expected: Uint8Array | null;
      /** null: delete the key. */
      readonly next: Uint8Array | null;
    }
  | { readonly kind: 'incr'; readonly key: Uint8Array; readonly delta: number }
  /**
   * Adds `delta` (a finite number) to a decimal value (absent: 0), as Redis INCRBYFLOAT: the sum in
   * double precision, kept as its decimal text rounded to 15 significant digits, with no exponent.
   */
  | { readonly kind: 'incr-float'; readonly key: Uint8Array; readonly delta: number }
  // Multi-key and conditional operations (what the Redis port's MGET, EXISTS, STRLEN, SET NX/XX,
  // MSET and DEL need): each one is one operation, so one log entry, so atomic.
  | { readonly kind: 'get-many'; readonly keys: readonly Uint8Array[] }
  /** The byte length of each key's value, null where the key is absent. */
  | { readonly kind: 'lengths'; readonly keys: readonly Uint8Array[] }
  | {
      readonly kind: 'put-if';
      readonly key: Uint8Array;
      readonly value: Uint8Array;
      readonly when: PutCondition;
    }
  /** `keys[i]` is set to `values[i]`, in order (a key named twice ends with its last value). */
  | {
      readonly kind: 'put-many';
      readonly keys: readonly Uint8Array[];
      readonly values: readonly Uint8Array[];
    }
  | { readonly kind: 'delete-many'; readonly keys: readonly Uint8Array[] }
  /** A put-many that runs only if every key is absent, else changes nothing (Redis MSETNX). */
  | {
      readonly kind: 'put-many-if-absent';
      readonly keys: readonly Uint8Array[];
      readonly values: readonly Uint8Array[];
    }
  /**
   * A guard, read-only: answered when `keys[i]` holds `values[i]` (null: absent) for every i, and
   * refused VALUE_CHANGED otherwise. In a whole sequence a refused expect refuses the sequence whole,
   * so nothing of it runs: the Redis port's WATCH (resp/watch.ts).
   */
  | {
      readonly kind: 'expect';
      readonly keys: readonly Uint8Array[];
      readonly values: readonly (Uint8Array | null)[];
    }
  // Times to live (kv-expiry.ts): Redis SET with its options, EXPIRE, PERSIST and TTL.
  /** Sets the value (when `when` allows: null, always) and the time to live as `expiry` says. */
  | {
      readonly kind: 'set';
      readonly key: Uint8Array;
      readonly value: Uint8Array;
      readonly when: SetCondition | null;
      readonly expiry: Expiry;
    }
  /** Gives a present key a time to live, when `condition` allows; a time already past deletes it. */
  | {
      readonly kind: 'expire';
      readonly key: Uint8Array;
      readonly expiry: Extract<Expiry, { readonly ms: number }>;
      readonly condition: ExpireCondition;
    }
  /** Removes a key's time to live. */
  | { readonly kind: 'persist'; readonly key: Uint8Array }
  /** A read: whether the key exists, and when it expires. */
  | { readonly kind: 'ttl'; readonly key: Uint8Array }
  // A write that also answers the value the key held before it, in the same step (Redis GETDEL,
  // SET ... GET and GETSET, GETEX): one operation, so one log entry, so atomic.
  /** Deletes the key; answers its value before. */
  | { readonly kind: 'get-delete'; readonly key: Uint8Array }
  /** A `set` that answers the value before it, whether or not it wrote. */
  | {
      readonly kind: 'get-set';
      readonly key: Uint8Array;
      readonly value: Uint8Array;
      readonly when: SetCondition | null;
      readonly expiry: Expiry;
    }
  /**
   * Gives a present key the time `expiry` names (`after` or `at`; a time already past deletes it), or
   * removes its time to live (`none`); answers its value before.
   */
  | {
      readonly kind: 'get-expire';
      readonly key: Uint8Array;
      readonly expiry: Exclude<Expiry, { readonly kind: 'keep' }>;
    }
  // A value moved, copied or overwritten in part (Redis RENAME, RENAMENX, COPY, SETRANGE): one
  // operation, so one log entry; its update is sets, deletes and times to live, as any other write's.
  /**
   * Moves the value of `key`, and its time to live, to `destination`, which it replaces (value and
   * time to live); with `onlyIfAbsent`, only if `destination` is absent. `key` absent: refused NO_SUCH_KEY.
   */
  | {
      readonly kind: 'rename';
      readonly key: Uint8Array;
      readonly destination: Uint8Array;
      readonly onlyIfAbsent: boolean;
    }
  /**
   * Copies the value of `key`, and its time to live, to `destination` if `key` is present and
   * `destination` absent (or `replace`). Refused when both name one key.
   */
  | {
      readonly kind: 'copy';
      readonly key: Uint8Array;
      readonly destination: Uint8Array;
      readonly replace: boolean;
    }
  /**
   * Writes `value` over the key's value from byte `offset` on, first padding it with zero bytes to
   * `offset` (an absent key counts as empty); keeps its time to live. An empty `value` changes nothing.
   */
  | {
      readonly kind: 'set-range';
      readonly key: Uint8Array;
      readonly offset: number;
      readonly value: Uint8Array;
    }
  /** Deletes every key (Redis FLUSHALL, FLUSHDB): one entry, so every replica empties at one index. */
  | { readonly kind: 'clear' }
  /** A read: how many keys there are (Redis DBSIZE). */
  | { readonly kind: 'count' }
  /**
   * A read: the bytes of the value from `start` to `end`, both included, a negative one counted from
   * the end, clamped as Redis GETRANGE clamps them (empty for an absent key).
   */
  | { readonly kind: 'get-range'; readonly key: Uint8Array; readonly start: number; readonly end: number }
  // The keys themselves (Redis SCAN, and KEYS as a walk of them; kv-key-buckets.ts, kv-glob.ts).
  /**
   * Some keys, from `cursor` (0: the start) on: about `count` looked at, those that match `match`
   * (a glob; null: all) answered, with the cursor to go on from (0 once every key was looked at).
   */
  | {
      readonly kind: 'scan';
      readonly cursor: number;
      readonly count: number;
      readonly match: Uint8Array | null;
    };

/** When a `put-if` writes: only if the key is absent (Redis SET NX), or only if present (SET XX). */
export type PutCondition = 'absent' | 'present';
export const putConditions: readonly PutCondition[] = ['absent', 'present'];

/**
 * When a `set` or `get-set` writes: a put-if's condition, or only if the key holds exactly `equals`
 * (Redis 8.4's and Valkey 8.1's SET ... IFEQ: an absent key is not created).
 */
export type SetCondition = PutCondition | { readonly equals: Uint8Array };

/** Whether `condition` is IFEQ's, on the value, rather than a put-if's, on presence. */
export function isValueCondition(
  condition: SetCondition | null,
): condition is { readonly equals: Uint8Array } {
  return condition !== null && typeof condition === 'object';
}

/** The operations that name one key (`key`), and those that name several (`keys`). */
export type KvSingleKeyOperation = Extract<KvOperation, { readonly key: Uint8Array }>;
export type KvMultiKeyOperation = Extract<KvOperation, { readonly keys: readonly Uint8Array[] }>;

export type KvOperationKind = KvOperation['kind'];

export type KvOperationOf<K extends KvOperationKind> = Extract<KvOperation, { readonly kind: K }>;

export type KvResult =
  | { readonly kind: 'get'; readonly value: Uint8Array | null }
  /** `existed`: the key had a value before the write. */
  | { readonly kind: 'put'; readonly existed: boolean }
  | { readonly kind: 'delete'; readonly existed: boolean }
  /**
   * `length`: the value's length in bytes after the append (as Redis APPEND answers), never the
   * value itself: the result is kept in the log, and a whole value there would grow with every append.
   */
  | { readonly kind: 'append'; readonly length: number }
  /** `current`: the value after the operation (`next` if it swapped, the unchanged value if not). */
  | { readonly kind: 'cas'; readonly swapped: boolean; readonly current: Uint8Array | null }
  /** `value`: the number after the increment (always a safe integer). */
  | { readonly kind: 'incr'; readonly value: number }
  /** `value`: the decimal text the key holds after the increment. */
  | { readonly kind: 'incr-float'; readonly value: Uint8Array }
  | { readonly kind: 'get-many'; readonly values: readonly (Uint8Array | null)[] }
  | { readonly kind: 'lengths'; readonly lengths: readonly (number | null)[] }
  | { readonly kind: 'put-if'; readonly written: boolean }
  | { readonly kind: 'put-many' }
  /** `count`: the keys that existed and were deleted (a key named twice counts once, as Redis DEL). */
  | { readonly kind: 'delete-many'; readonly count: number }
  /** `written`: every key was absent, so all were set. */
  | { readonly kind: 'put-many-if-absent'; readonly written: boolean }
  | { readonly kind: 'expect' }
  | { readonly kind: 'set'; readonly written: boolean }
  /** `updated`: the key existed and the condition allowed the new time (or it was deleted, the time being past). */
  | { readonly kind: 'expire'; readonly updated: boolean }
  | { readonly kind: 'persist'; readonly removed: boolean }
  /**
   * `expiresAtMs`: the time the key expires at (Unix milliseconds), null when it has none or is absent;
   * `remainingMs`: how long until then by the answering replica's clock, 0 once past (the key is then
   * deleted within a tick or so).
   */
  | {
      readonly kind: 'ttl';
      readonly exists: boolean;
      readonly expiresAtMs: number | null;
      readonly remainingMs: number | null;
    }
  /** `value`: what the key held before (null: absent). */
  | { readonly kind: 'get-delete'; readonly value: Uint8Array | null }
  /** `previous`: what the key held before (null: absent); `written`: whether `when` let the set run. */
  | { readonly kind: 'get-set'; readonly written: boolean; readonly previous: Uint8Array | null }
  | { readonly kind: 'get-expire'; readonly value: Uint8Array | null }
  /** `renamed`: false only when `onlyIfAbsent` found the destination present (or both name one key). */
  | { readonly kind: 'rename'; readonly renamed: boolean }
  | { readonly kind: 'copy'; readonly copied: boolean }
  /** `length`: the value's length after the write (as Redis SETRANGE answers). */
  | { readonly kind: 'set-range'; readonly length: number }
  /** `count`: the keys deleted. */
  | { readonly kind: 'clear'; readonly count: number }
  | { readonly kind: 'count'; readonly count: number }
  | { readonly kind: 'get-range'; readonly value: Uint8Array }
  | { readonly kind: 'scan'; readonly cursor: number; readonly keys: readonly Uint8Array[] };

export type KvResultOf<K extends KvOperationKind> = Extract<KvResult, { readonly kind: K }>;

/** Typed constructors; `delete` is a keyword, hence an object rather than free functions. */
export const kvOperation = {
  get: (key: Uint8Array): KvOperationOf<'get'> => ({ kind: 'get', key }),
  put: (key: Uint8Array, value: Uint8Array): KvOperationOf<'put'> => ({ kind: 'put', key, value }),
  delete: (key: Uint8Array): KvOperationOf<'delete'> => ({ kind: 'delete', key }),
  append: (key: Uint8Array, value: Uint8Array): KvOperationOf<'append'> => ({ kind: 'append', key, value }),
  cas: (key: Uint8Array, expected: Uint8Array | null, next: Uint8Array | null): KvOperationOf<'cas'> => ({
    kind: 'cas',
    key,
    expected,
    next,
  }),
  incr: (key: Uint8Array, delta = 1): KvOperationOf<'incr'> => ({ kind: 'incr', key, delta }),
  incrFloat: (key: Uint8Array, delta: number): KvOperationOf<'incr-float'> => ({
    kind: 'incr-float',
    key,
    delta,
  }),
  getMany: (keys: readonly Uint8Array[]): KvOperationOf<'get-many'> => ({ kind: 'get-many', keys }),
  lengths: (keys: readonly Uint8Array[]): KvOperationOf<'lengths'> => ({ kind: 'lengths', keys }),
  putIf: (key: Uint8Array, value: Uint8Array, when: PutCondition): KvOperationOf<'put-if'> => ({
    kind: 'put-if',
    key,
    value,
    when,
  }),
  putMany: (keys: readonly Uint8Array[], values: readonly Uint8Array[]): KvOperationOf<'put-many'> => ({
    kind: 'put-many',
    keys,
    values,
  }),
  deleteMany: (keys: readonly Uint8Array[]): KvOperationOf<'delete-many'> => ({ kind: 'delete-many', keys }),
  putManyIfAbsent: (
    keys: readonly Uint8Array[],
    values: readonly Uint8Array[],
  ): KvOperationOf<'put-many-if-absent'> => ({ kind: 'put-many-if-absent', keys, values }),
  expect: (keys: readonly Uint8Array[], values: readonly (Uint8Array | null)[]): KvOperationOf<'expect'> => ({
    kind: 'expect',
    keys,
    values,
  }),
  set: (
    key: Uint8Array,
    value: Uint8Array,
    options: { readonly when?: SetCondition | null; readonly expiry?: Expiry } = {},
  ): KvOperationOf<'set'> => ({
    kind: 'set',
    key,
    value,
    when: options.when ?? null,
    expiry: options.expiry ?? { kind: 'none' },
  }),
  expire: (
    key: Uint8Array,
    expiry: Extract<Expiry, { readonly ms: number }>,
    condition: ExpireCondition = 'always',
  ): KvOperationOf<'expire'> => ({ kind: 'expire', key, expiry, condition }),
  persist: (key: Uint8Array): KvOperationOf<'persist'> => ({ kind: 'persist', key }),
  ttl: (key: Uint8Array): KvOperationOf<'ttl'> => ({ kind: 'ttl', key }),
  getDelete: (key: Uint8Array): KvOperationOf<'get-delete'> => ({ kind: 'get-delete', key }),
  getSet: (
    key: Uint8Array,
    value: Uint8Array,
    options: { readonly when?: SetCondition | null; readonly expiry?: Expiry } = {},
  ): KvOperationOf<'get-set'> => ({
    kind: 'get-set',
    key,
    value,
    when: options.when ?? null,
    expiry: options.expiry ?? { kind: 'none' },
  }),
  getExpire: (
    key: Uint8Array,
    expiry: KvOperationOf<'get-expire'>['expiry'],
  ): KvOperationOf<'get-expire'> => ({
    kind: 'get-expire',
    key,
    expiry,
  }),
  rename: (key: Uint8Array, destination: Uint8Array, onlyIfAbsent = false): KvOperationOf<'rename'> => ({
    kind: 'rename',
    key,
    destination,
    onlyIfAbsent,
  }),
  copy: (key: Uint8Array, destination: Uint8Array, replace = false): KvOperationOf<'copy'> => ({
    kind: 'copy',
    key,
    destination,
    replace,
  }),
  setRange: (key: Uint8Array, offset: number, value: Uint8Array): KvOperationOf<'set-range'> => ({
    kind: 'set-range',
    key,
    offset,
    value,
  }),
  clear: (): KvOperationOf<'clear'> => ({ kind: 'clear' }),
  count: (): KvOperationOf<'count'> => ({ kind: 'count' }),
  getRange: (key: Uint8Array, start: number, end: number): KvOperationOf<'get-range'> => ({
    kind: 'get-range',
    key,
    start,
    end,
  }),
  scan: (
    cursor: number,
    options: { readonly count?: number; readonly match?: Uint8Array | null } = {},
  ): KvOperationOf<'scan'> => ({
    kind: 'scan',
    cursor,
    count: options.count ?? scanCountDefault,
    match: options.match ?? null,
  }),
} as const;

/** Keys a scan looks at when not told how many (Redis's COUNT default). */
const scanCountDefault = 10;
/**
 * Keys each scan of a KEYS walk looks at (`Client.keys`, the Redis port's KEYS): a few milliseconds
 * of the answering replica's event loop, where every key of a large store in one read held it seconds.
 */
export const keysPageCount = 1000;

/** The operations a replica answers from its state (queries); every other one is a write. */
export type KvReadOperation = KvOperationOf<
  'get' | 'get-many' | 'lengths' | 'expect' | 'ttl' | 'scan' | 'count' | 'get-range'
>;

export function isReadOnly(operation: KvOperation): operation is KvReadOperation {
  return (
    operation.kind === 'get' ||
    operation.kind === 'get-many' ||
    operation.kind === 'lengths' ||
    operation.kind === 'expect' ||
    operation.kind === 'ttl' ||
    operation.kind === 'scan' ||
    operation.kind === 'count' ||
    operation.kind === 'get-range'
  );
}

// Field names, for arity checks and error messages.
const operationFields: Readonly<Record<KvOperationKind, readonly string[]>> = {
  get: ['key'],
  put: ['key', 'value'],
  delete: ['key'],
  append: ['key', 'value'],
  cas: ['key', 'expected', 'next'],
  incr: ['key', 'delta'],
  'incr-float': ['key', 'delta'],
  'get-many': ['keys'],
  lengths: ['keys'],
  'put-if': ['key', 'value', 'when'],
  'put-many': ['keys', 'values'],
  'delete-many': ['keys'],
  'put-many-if-absent': ['keys', 'values'],
  expect: ['keys', 'values'],
  set: ['key', 'value', 'when', 'expiry'],
  expire: ['key', 'expiry', 'condition'],
  persist: ['key'],
  ttl: ['key'],
  'get-delete': ['key'],
  'get-set': ['key', 'value', 'when', 'expiry'],
  'get-expire': ['key', 'expiry'],
  rename: ['key', 'destination', 'onlyIfAbsent'],
  copy: ['key', 'destination', 'replace'],
  'set-range': ['key', 'offset', 'value'],
  clear: [],
  count: [],
  'get-range': ['key', 'start', 'end'],
  scan: ['cursor', 'count', 'match'],
};
/** The fields of each kind of result, in their order on the wire (and their names in a KvResult). */
export const resultFields: Readonly<Record<KvOperationKind, readonly string[]>> = {
  get: ['value'],
  put: ['existed'],
  delete: ['existed'],
  append: ['length'],
  cas: ['swapped', 'current'],
  incr: ['value'],
  'incr-float': ['value'],
  'get-many': ['values'],
  lengths: ['lengths'],
  'put-if': ['written'],
  'put-many': [],
  'delete-many': ['count'],
  'put-many-if-absent': ['written'],
  expect: [],
  set: ['written'],
  expire: ['updated'],
  persist: ['removed'],
  ttl: ['exists', 'expiresAtMs', 'remainingMs'],
  'get-delete': ['value'],
  'get-set': ['written', 'previous'],
  'get-expire': ['value'],
  rename: ['renamed'],
  copy: ['copied'],
  'set-range': ['length'],
  clear: ['count'],
  count: ['count'],
  'get-range': ['value'],
  scan: ['cursor', 'keys'],
};

const packr = new Packr({ useRecords: false });
const unpackr = new Packr({ useRecords: false, copyBuffers: true });

/** Packs a value; the result is copied out of the packer's reused buffer. */
export function packMessage(value: unknown): Uint8Array {
  return new Uint8Array(packr.pack(value));
}

/** Unpacks untrusted bytes, refusing with `code` if they are not exactly one MessagePack value. */
export function unpackMessage(bytes: Uint8Array, what: string, code: string): unknown {
  try {
    return unpackr.unpack(bytes);
  } catch (error) {
    throw new ServiceError(code, `${what} is not valid MessagePack: ${(error as Error).message}`);
  }
}

/** The kinds the binary layout carries (kv-operation-layout.ts): the single-key operations of the hot path. */
export type KvLayoutKind = 'get' | 'put' | 'delete' | 'append' | 'cas' | 'incr';
export type KvLayoutOperation = KvOperationOf<KvLayoutKind>;
export type KvLayoutResult = KvResultOf<KvLayoutKind>;
/** The others (multi-key and conditional) travel as msgpack tuples `[name, ...fields]`. */
type KvTupleOperation = Exclude<KvOperation, KvLayoutOperation>;
type KvTupleResult = Exclude<KvResult, KvLayoutResult>;

const layoutKinds: ReadonlySet<KvOperationKind> = new Set<KvLayoutKind>([
  'get',
  'put',
  'delete',
  'append',
  'cas',
  'incr',
]);

function inLayout(operation: KvOperation): operation is KvLayoutOperation {
  return layoutKinds.has(operation.kind);
}

function inLayoutResult(result: KvResult): result is KvLayoutResult {
  return layoutKinds.has(result.kind);
}

function encodeTuple(operation: KvTupleOperation): Uint8Array {
  switch (operation.kind) {
    case 'get-many':
    case 'lengths':
    case 'delete-many':
      return packMessage([operation.kind, operation.keys]);
    case 'put-if':
      return packMessage([operation.kind, operation.key, operation.value, operation.when]);
    case 'put-many':
    case 'put-many-if-absent':
    case 'expect':
      return packMessage([operation.kind, operation.keys, operation.values]);
    case 'incr-float':
      return packMessage([operation.kind, operation.key, operation.delta]);
    case 'set':
    case 'get-set':
      return packMessage([
        operation.kind,
        operation.key,
        operation.value,
        conditionTuple(operation.when),
        expiryTuple(operation.expiry),
      ]);
    case 'expire':
      return packMessage([operation.kind, operation.key, expiryTuple(operation.expiry), operation.condition]);
    case 'persist':
    case 'ttl':
    case 'get-delete':
      return packMessage([operation.kind, operation.key]);
    case 'get-expire':
      return packMessage([operation.kind, operation.key, expiryTuple(operation.expiry)]);
    case 'rename':
      return packMessage([operation.kind, operation.key, operation.destination, operation.onlyIfAbsent]);
    case 'copy':
      return packMessage([operation.kind, operation.key, operation.destination, operation.replace]);
    case 'set-range':
      return packMessage([operation.kind, operation.key, operation.offset, operation.value]);
    case 'clear':
    case 'count':
      return packMessage([operation.kind]);
    case 'get-range':
      return packMessage([operation.kind, operation.key, operation.start, operation.end]);
    case 'scan':
      return packMessage([operation.kind, operation.cursor, operation.count, operation.match]);
  }
}

/** A set's condition on the wire: null, 'absent' or 'present', or ['equals', bytes]. */
function conditionTuple(condition: SetCondition | null): PutCondition | null | ['equals', Uint8Array] {
  return condition !== null && typeof condition === 'object' ? ['equals', condition.equals] : condition;
}

function expiryTuple(expiry: Expiry): [ExpiryKind] | [ExpiryKind, number] {
  return expiry.kind === 'none' || expiry.kind === 'keep' ? [expiry.kind] : [expiry.kind, expiry.ms];
}

function encodeResultTuple(result: KvTupleResult): Uint8Array {
  switch (result.kind) {
    case 'get-many':
      return packMessage([result.kind, result.values]);
    case 'lengths':
      return packMessage([result.kind, result.lengths]);
    case 'put-if':
    case 'put-many-if-absent':
      return packMessage([result.kind, result.written]);
    case 'incr-float':
      return packMessage([result.kind, result.value]);
    case 'put-many':
    case 'expect':
      return packMessage([result.kind]);
    case 'delete-many':
      return packMessage([result.kind, result.count]);
    case 'set':
      return packMessage([result.kind, result.written]);
    case 'expire':
      return packMessage([result.kind, result.updated]);
    case 'persist':
      return packMessage([result.kind, result.removed]);
    case 'ttl':
      return packMessage([result.kind, result.exists, result.expiresAtMs, result.remainingMs]);
    case 'get-delete':
    case 'get-expire':
      return packMessage([result.kind, result.value]);
    case 'get-set':
      return packMessage([result.kind, result.written, result.previous]);
    case 'rename':
      return packMessage([result.kind, result.renamed]);
    case 'copy':
      return packMessage([result.kind, result.copied]);
    case 'set-range':
      return packMessage([result.kind, result.length]);
    case 'clear':
    case 'count':
      return packMessage([result.kind, result.count]);
    case 'get-range':
      return packMessage([result.kind, result.value]);
    case 'scan':
      return packMessage([result.kind, result.cursor, result.keys]);
  }
}

export function encodeOperation(operation: KvOperation): Uint8Array {
  return inLayout(operation) ? encodeBinaryOperation(operation) : encodeTuple(operation);
}

export function decodeOperation(bytes: Uint8Array): KvOperation {
  const code = ErrorCode.badRequest;
  if (bytes[0] === binaryLayoutMarker) return decodeBinaryOperation(bytes, code, ErrorCode.unknownOperation);
  // Sent by an older client. Its byte fields are private copies.
  const [kind, fields] = readTuple(bytes, 'operation', operationFields, code, ErrorCode.unknownOperation);
  const field = new FieldReader(kind, fields, operationFields[kind], code);
  switch (kind) {
    case 'get':
    case 'delete':
    case 'persist':
    case 'ttl':
    case 'get-delete':
      return { kind, key: field.bytes(0) };
    case 'get-expire': {
      const expiry = field.expiry(1);
      if (expiry.kind === 'keep')
        throw new ServiceError(code, 'get-expire: expiry must be none, after or at');
      return { kind, key: field.bytes(0), expiry };
    }
    case 'set':
    case 'get-set':
      return {
        kind,
        key: field.bytes(0),
        value: field.bytes(1),
        when: field.setConditionOrNull(2),
        expiry: field.expiry(3),
      };
    case 'expire': {
      const expiry = field.expiry(1);
      if (expiry.kind === 'none' || expiry.kind === 'keep') {
        throw new ServiceError(code, `expire: expiry must be after or at, got ${expiry.kind}`);
      }
      return { kind, key: field.bytes(0), expiry, condition: field.expireCondition(2) };
    }
    case 'put':
    case 'append':
      return { kind, key: field.bytes(0), value: field.bytes(1) };
    case 'cas':
      return { kind, key: field.bytes(0), expected: field.bytesOrNull(1), next: field.bytesOrNull(2) };
    case 'incr':
      return { kind, key: field.bytes(0), delta: field.safeInteger(1) };
    case 'incr-float':
      return { kind, key: field.bytes(0), delta: field.finiteNumber(1) };
    case 'get-many':
    case 'lengths':
    case 'delete-many':
      return { kind, keys: field.list(0, (value) => field.asBytes(0, value)) };
    case 'put-if':
      return { kind, key: field.bytes(0), value: field.bytes(1), when: field.condition(2) };
    case 'put-many':
    case 'put-many-if-absent': {
      const keys = field.list(0, (value) => field.asBytes(0, value));
      const values = field.list(1, (value) => field.asBytes(1, value));
      if (keys.length !== values.length) {
        throw new ServiceError(code, `${kind}: ${keys.length} keys but ${values.length} values`);
      }
      return { kind, keys, values };
    }
    case 'expect': {
      const keys = field.list(0, (value) => field.asBytes(0, value));
      const values = field.list(1, (value) => (value === null ? null : field.asBytes(1, value)));
      if (keys.length !== values.length) {
        throw new ServiceError(code, `expect: ${keys.length} keys but ${values.length} values`);
      }
      return { kind, keys, values };
    }
    case 'rename':
      return { kind, key: field.bytes(0), destination: field.bytes(1), onlyIfAbsent: field.boolean(2) };
    case 'copy':
      return { kind, key: field.bytes(0), destination: field.bytes(1), replace: field.boolean(2) };
    case 'set-range':
      return { kind, key: field.bytes(0), offset: field.wholeNumber(1), value: field.bytes(2) };
    case 'clear':
    case 'count':
      return { kind };
    case 'get-range':
      return { kind, key: field.bytes(0), start: field.safeInteger(1), end: field.safeInteger(2) };
    case 'scan':
      return { kind, cursor: field.wholeNumber(0), count: field.wholeNumber(1), match: field.bytesOrNull(2) };
  }
}

export function encodeResult(result: KvResult): Uint8Array {
  return inLayoutResult(result) ? encodeBinaryResult(result) : encodeResultTuple(result);
}

/** Decodes the answer to an operation of kind `expected`; a malformed answer is a BAD_FRAME. */
export function decodeResult<K extends KvOperationKind>(expected: K, bytes: Uint8Array): KvResultOf<K> {
  const code = ErrorCode.badFrame;
  if (bytes[0] === binaryLayoutMarker) {
    const result = decodeBinaryResult(bytes, code);
    if (result.kind !== expected) {
      throw new ServiceError(code, `expected a ${expected} result, got a ${result.kind} result`);
    }
    return result as KvResultOf<K>; // kind === expected, checked above
  }
  // Logged by an older build and answered again to a retried request.
  const [kind, fields] = readTuple(bytes, 'result', resultFields, code, code);
  if (kind !== expected) throw new ServiceError(code, `expected a ${expected} result, got a ${kind} result`);
  const field = new FieldReader(kind, fields, resultFields[kind], code);
  const result = decodeResultFields(kind, field);
  return result as KvResultOf<K>; // kind === expected, checked above
}

/** The kind a result's bytes name (either encoding), or null if they are not a key/value result. */
export function resultKind(bytes: Uint8Array): KvOperationKind | null {
  if (bytes[0] === binaryLayoutMarker) return binaryResultKind(bytes);
  try {
    const tuple = unpackr.unpack(bytes);
    const name: unknown = Array.isArray(tuple) ? tuple[0] : undefined;
    return typeof name === 'string' && Object.hasOwn(resultFields, name) ? (name as KvOperationKind) : null;
  } catch {
    return null;
  }
}

function decodeResultFields(kind: KvOperationKind, field: FieldReader): KvResult {
  switch (kind) {
    case 'get':
      return { kind, value: field.bytesOrNull(0) };
    case 'append':
      return { kind, length: field.byteCount(0) };
    case 'incr':
      return { kind, value: field.safeInteger(0) };
    case 'incr-float':
      return { kind, value: field.bytes(0) };
    case 'put':
    case 'delete':
      return { kind, existed: field.boolean(0) };
    case 'cas':
      return { kind, swapped: field.boolean(0), current: field.bytesOrNull(1) };
    case 'get-many':
      return { kind, values: field.list(0, (value) => (value === null ? null : field.asBytes(0, value))) };
    case 'lengths':
      return {
        kind,
        lengths: field.list(0, (value) => (value === null ? null : field.asByteCount(0, value))),
      };
    case 'put-if':
    case 'put-many-if-absent':
      return { kind, written: field.boolean(0) };
    case 'put-many':
    case 'expect':
      return { kind };
    case 'delete-many':
      return { kind, count: field.byteCount(0) };
    case 'set':
      return { kind, written: field.boolean(0) };
    case 'expire':
      return { kind, updated: field.boolean(0) };
    case 'persist':
      return { kind, removed: field.boolean(0) };
    case 'ttl':
      return {
        kind,
        exists: field.boolean(0),
        expiresAtMs: field.safeIntegerOrNull(1),
        remainingMs: field.safeIntegerOrNull(2),
      };
    case 'get-delete':
    case 'get-expire':
      return { kind, value: field.bytesOrNull(0) };
    case 'get-set':
      return { kind, written: field.boolean(0), previous: field.bytesOrNull(1) };
    case 'rename':
      return { kind, renamed: field.boolean(0) };
    case 'copy':
      return { kind, copied: field.boolean(0) };
    case 'set-range':
      return { kind, length: field.byteCount(0) };
    case 'clear':
    case 'count':
      return { kind, count: field.byteCount(0) };
    case 'get-range':
      return { kind, value: field.bytes(0) };
    case 'scan':
      return { kind, cursor: field.wholeNumber(0), keys: field.list(1, (value) => field.asBytes(1, value)) };
  }
}

/** Unpacks `[name, ...fields]` and checks the name is known and the field count matches. */
function readTuple(
  bytes: Uint8Array,
  what: string,
  fieldsByKind: Readonly<Record<KvOperationKind, readonly string[]>>,
  code: string,
  unknownCode: string,
): [KvOperationKind, unknown[]] {
  const tuple = unpackMessage(bytes, what, code);
  if (!Array.isArray(tuple) || tuple.length === 0) {
    throw new ServiceError(code, `${what} must be an array [name, ...fields], got ${describe(tuple)}`);
  }
  const [name, ...fields] = tuple as unknown[];
  if (typeof name !== 'string') {
    throw new ServiceError(code, `${what} name must be a string, got ${describe(name)}`);
  }
  if (!Object.hasOwn(fieldsByKind, name)) {
    throw new ServiceError(unknownCode, `unknown ${what} ${JSON.stringify(name.slice(0, 64))}`);
  }
  const kind = name as KvOperationKind;
  const names = fieldsByKind[kind];
  if (fields.length !== names.length) {
    throw new ServiceError(
      code,
      `${kind} ${what} takes ${names.length} fields (${names.join(', ')}), got ${fields.length}`,
    );
  }
  return [kind, fields];
}

const safeIntegerMin = BigInt(Number.MIN_SAFE_INTEGER);
const safeIntegerMax = BigInt(Number.MAX_SAFE_INTEGER);

/** `value` as a safe integer (MessagePack int64 decodes as bigint: taken when it fits), else undefined. */
function asSafeInteger(value: unknown): number | undefined {
  const fits = typeof value === 'bigint' && value >= safeIntegerMin && value <= safeIntegerMax;
  const number = fits ? Number(value) : value;
  return typeof number === 'number' && Number.isSafeInteger(number) ? number : undefined;
}

class FieldReader {
  constructor(
    private readonly kind: KvOperationKind,
    private readonly fields: readonly unknown[],
    private readonly names: readonly string[],
    private readonly code: string,
  ) {}

  bytes(index: number): Uint8Array {
    return this.asBytes(index, this.fields[index]);
  }

  /** `value`, an element of field `index` or the field itself, as bytes. */
  asBytes(index: number, value: unknown): Uint8Array {
    if (!(value instanceof Uint8Array)) this.refuse(index, 'bytes', value);
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength); // a plain view of the private copy
  }

  /** Field `index` as an array, each element read by `element` (which refuses a wrong one). */
  list<T>(index: number, element: (value: unknown) => T): T[] {
    const value = this.fields[index];
    if (!Array.isArray(value)) this.refuse(index, 'an array', value);
    return (value as unknown[]).map(element);
  }

  condition(index: number): PutCondition {
    return this.oneOf(index, putConditions);
  }

  /** Field `index`, which must be one of `choices`. */
  private oneOf<T extends string>(index: number, choices: readonly T[]): T {
    const value = this.fields[index];
    const choice = choices.find((known) => known === value);
    if (choice === undefined) this.refuse(index, `one of ${choices.join(', ')}`, value);
    return choice;
  }

  /** null, a put-if's condition, or `['equals', bytes]`. */
  setConditionOrNull(index: number): SetCondition | null {
    const value = this.fields[index];
    if (value === null) return null;
    if (!Array.isArray(value)) return this.condition(index);
    const [name, equals] = value as unknown[];
    if (value.length !== 2 || name !== 'equals' || !(equals instanceof Uint8Array)) {
      this.refuse(index, `null, one of ${putConditions.join(', ')}, or ['equals', bytes]`, value);
    }
    return { equals: this.asBytes(index, equals) };
  }

  /** `[kind]` or `[kind, ms]` (kv-expiry.ts), the milliseconds a safe integer. */
  expiry(index: number): Expiry {
    const value = this.fields[index];
    const wanted = `[${expiryKinds.join(' | ')}] or [after | at, ms]`;
    if (!Array.isArray(value) || value.length === 0) this.refuse(index, wanted, value);
    const [kind, ms] = value as unknown[];
    if ((kind === 'none' || kind === 'keep') && value.length === 1) return { kind };
    const number = asSafeInteger(ms);
    if ((kind === 'after' || kind === 'at') && value.length === 2 && number !== undefined)
      return { kind, ms: number };
    return this.refuse(index, wanted, value);
  }

  expireCondition(index: number): ExpireCondition {
    return this.oneOf(index, expireConditions);
  }

  safeIntegerOrNull(index: number): number | null {
    return this.fields[index] === null ? null : this.safeInteger(index);
  }

  asByteCount(index: number, value: unknown): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      this.refuse(index, 'byte counts', value);
    }
    return value;
  }

  bytesOrNull(index: number): Uint8Array | null {
    return this.fields[index] === null ? null : this.bytes(index);
  }

  boolean(index: number): boolean {
    const value = this.fields[index];
    if (typeof value !== 'boolean') this.refuse(index, 'a boolean', value);
    return value;
  }

  /** A number, neither NaN nor infinite (MessagePack may carry a whole one as an integer). */
  finiteNumber(index: number): number {
    const value = this.fields[index];
    const number = asSafeInteger(value) ?? value;
    if (typeof number !== 'number' || !Number.isFinite(number)) this.refuse(index, 'a finite number', value);
    return number;
  }

  safeInteger(index: number): number {
    const value = this.fields[index];
    const number = asSafeInteger(value);
    if (number === undefined) this.refuse(index, 'a safe integer', value);
    return number;
  }

  /** A size in bytes: a safe integer, not negative. */
  byteCount(index: number): number {
    const value = this.safeInteger(index);
    if (value < 0) this.refuse(index, 'a byte count (not negative)', value);
    return value;
  }

  /** A cursor or a count: a safe integer, not negative. */
  wholeNumber(index: number): number {
    const value = this.safeInteger(index);
    if (value < 0) this.refuse(index, 'a whole number (not negative)', value);
    return value;
  }

  private refuse(index: number, wanted: string, got: unknown): never {
    throw new ServiceError(
      this.code,
      `${this.kind}: ${this.names[index]} must be ${wanted}, got ${describe(got)}`,
    );
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 32))}`;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    return String(value);
  }
  return typeof value;
}
