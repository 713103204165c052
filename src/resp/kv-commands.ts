// The key/value commands, each one operation of the key/value store through the shared client: a
// write runs once (the client retries under its request id) and is answered when every backup has
// it on disk (sync durability); a read is answered by the primary under its lease (linearizable), or,
// on a READONLY connection, by this replica within the port's staleness bound, after the
// connection's own writes.
// Multi-key commands are one operation each (MSET is put-many, DEL is delete-many, MGET is
// get-many, EXISTS and STRLEN are lengths), so they are atomic, as in Redis.
//
// Each command is a plan: its operation and how its result is answered. Alone it runs as that
// operation; pipelined with others it runs in their sequence (pipeline.ts).

import {
  type ExpireCondition,
  type Expiry,
  expiryAtMsMax,
  isValueCondition,
  type KvOperationKind,
  type KvOperationOf,
  type KvResultOf,
  kvOperation,
  type SetCondition,
} from '../state-machine/index.js';
import { floatArgument, integerArgument, lowerName } from './arguments.js';
import type { CommandSpec, KvPlan, Planned } from './command-table.js';
import { wrongArity } from './command-table.js';
import { runPlanned } from './pipeline.js';
import { type RespReply, reply } from './replies.js';

/** A plan whose reply reads the result of its own operation's kind. */
export function planOf<K extends KvOperationKind>(
  operation: KvOperationOf<K>,
  answer: (result: KvResultOf<K>) => RespReply,
): KvPlan {
  // The client decodes a result by its operation's kind and refuses another, so the cast holds.
  return { operation, reply: (result) => answer(result as KvResultOf<K>) };
}

/** A key/value command: its handler runs its plan alone. */
export function kvCommand(
  spec: Omit<CommandSpec, 'handler' | 'plan'> & { readonly plan: (args: readonly Buffer[]) => Planned },
): CommandSpec {
  return {
    ...spec,
    handler: (args, context) =>
      runPlanned(
        spec.plan(args),
        context,
        args.reduce((bytes, argument) => bytes + argument.byteLength, 0),
      ),
  };
}

const arg = (args: readonly Buffer[], at: number): Buffer => args[at] as Buffer; // the arity was checked

/**
 * SET key value [NX | XX | IFEQ value] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]: OK or nil
 * (the condition did not hold), or with GET the value before (nil: absent) whether or not it wrote.
 * IFEQ (Redis 8.4, Valkey 8.1) writes only over exactly that value, never creating the key.
 */
function set(args: readonly Buffer[]): Planned {
  let when: SetCondition | null = null;
  let expiry: Expiry = { kind: 'none' };
  let timed = false;
  let get = false;
  for (let at = 3; at < args.length; at++) {
    const name = lowerName(arg(args, at));
    if ((name === 'nx' || name === 'xx') && when === null) when = name === 'nx' ? 'absent' : 'present';
    else if (name === 'ifeq' && when === null && at + 1 < args.length) when = { equals: arg(args, ++at) };
    else if (name === 'keepttl' && !timed) {
      timed = true;
      expiry = { kind: 'keep' };
    } else if (expiryUnits.has(name) && !timed && at + 1 < args.length) {
      timed = true;
      const amount = integerArgument(arg(args, ++at));
      if (amount <= 0) return invalidExpireTime('set');
      const timedExpiry = expiryOf(name, amount);
      if (timedExpiry === null) return invalidExpireTime('set');
      expiry = timedExpiry;
    } else if (name === 'get' && !get) get = true;
    else return reply.error('ERR syntax error');
  }
  const key = arg(args, 1);
  const value = arg(args, 2);
  if (get) {
    return planOf(kvOperation.getSet(key, value, { when, expiry }), ({ previous }) => reply.bulk(previous));
  }
  // IFEQ goes as a set, not a put-if: a set of a new value ends the time to live, as Redis's does.
  if (expiry.kind !== 'none' || isValueCondition(when)) {
    return planOf(kvOperation.set(key, value, { when, expiry }), ({ written }) =>
      written ? reply.ok : reply.nullBulk,
    );
  }
  if (when === null) return planOf(kvOperation.put(key, value), () => reply.ok);
  return planOf(kvOperation.putIf(key, value, when), ({ written }) => (written ? reply.ok : reply.nullBulk));
}

/** Milliseconds per unit of each time option, and whether it names a time (at) or a length (after). */
const expiryUnits: ReadonlyMap<string, { readonly ms: number; readonly kind: 'after' | 'at' }> = new Map([
  ['ex', { ms: 1000, kind: 'after' }],
  ['px', { ms: 1, kind: 'after' }],
  ['exat', { ms: 1000, kind: 'at' }],
  ['pxat', { ms: 1, kind: 'at' }],
]);

/** The expiry option `name` with `amount` names, or null if it passes the latest time a key may expire at. */
function expiryOf(name: string, amount: number): Extract<Expiry, { readonly ms: number }> | null {
  const unit = expiryUnits.get(name) as { readonly ms: number; readonly kind: 'after' | 'at' };
  const ms = amount * unit.ms;
  return Math.abs(ms) > expiryAtMsMax ? null : { kind: unit.kind, ms };
}

function invalidExpireTime(command: string): RespReply {
  return reply.error(`ERR invalid expire time in '${command}' command`);
}

/** SETEX key seconds value, PSETEX key milliseconds value. */
function setex(name: 'setex' | 'psetex') {
  return (args: readonly Buffer[]): Planned => {
    const amount = integerArgument(arg(args, 2));
    const expiry = amount > 0 ? expiryOf(name === 'setex' ? 'ex' : 'px', amount) : null;
    if (expiry === null) return invalidExpireTime(name);
    return planOf(kvOperation.set(arg(args, 1), arg(args, 3), { expiry }), () => reply.ok);
  };
}

/** EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key time [NX | XX | GT | LT]: 1 if the time was set, else 0. */
function expire(name: 'expire' | 'pexpire' | 'expireat' | 'pexpireat', unit: 'ex' | 'px' | 'exat' | 'pxat') {
  return (args: readonly Buffer[]): Planned => {
    const amount = integerArgument(arg(args, 2));
    const options = new Set<string>();
    for (const option of args.slice(3)) {
      const lower = lowerName(option);
      if (!['nx', 'xx', 'gt', 'lt'].includes(lower)) {
        return reply.error(`ERR Unsupported option ${option.toString('utf8').slice(0, 64)}`);
      }
      options.add(lower);
    }
    if (options.has('nx') && options.size > 1) {
      return reply.error('ERR NX and XX, GT or LT options at the same time are not compatible');
    }
    if (options.has('gt') && options.has('lt')) {
      return reply.error('ERR GT and LT options at the same time are not compatible');
    }
    // GT already needs a time to live (none counts as forever), so XX adds nothing to it; to LT it does.
    const condition: ExpireCondition = options.has('nx')
      ? 'nx'
      : options.has('gt')
        ? 'gt'
        : options.has('lt')
          ? options.has('xx')
            ? 'xx-lt'
            : 'lt'
          : options.has('xx')
            ? 'xx'
            : 'always';
    const expiry = expiryOf(unit, amount);
    if (expiry === null) return invalidExpireTime(name);
    return planOf(kvOperation.expire(arg(args, 1), expiry, condition), ({ updated }) =>
      reply.integer(updated ? 1 : 0),
    );
  };
}

/** GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]: the value; without an option, a GET. */
function getex(args: readonly Buffer[]): Planned {
  const key = arg(args, 1);
  if (args.length === 2) return planOf(kvOperation.get(key), ({ value }) => reply.bulk(value));
  const name = lowerName(arg(args, 2));
  let expiry: KvOperationOf<'get-expire'>['expiry'];
  if (name === 'persist' && args.length === 3) expiry = { kind: 'none' };
  else if (expiryUnits.has(name) && args.length === 4) {
    const amount = integerArgument(arg(args, 3));
    const timed = amount > 0 ? expiryOf(name, amount) : null;
    if (timed === null) return invalidExpireTime('getex');
    expiry = timed;
  } else return reply.error('ERR syntax error');
  return planOf(kvOperation.getExpire(key, expiry), ({ value }) => reply.bulk(value));
}

/** TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 absent, -1 no time to live, else the time left or the time. */
type TtlAnswer = (result: { readonly expiresAtMs: number; readonly remainingMs: number }) => number;

function ttl(answer: TtlAnswer) {
  return (args: readonly Buffer[]): Planned =>
    planOf(kvOperation.ttl(arg(args, 1)), ({ exists, expiresAtMs, remainingMs }) => {
      if (!exists) return reply.integer(-2);
      if (expiresAtMs === null || remainingMs === null) return reply.integer(-1);
      return reply.integer(answer({ expiresAtMs, remainingMs }));
    });
}

function incrBy(delta: (args: readonly Buffer[]) => number) {
  return (args: readonly Buffer[]): Planned =>
    planOf(kvOperation.incr(arg(args, 1), delta(args)), ({ value }) => reply.integer(value));
}

const negated = (value: number): number => (value === 0 ? 0 : -value);

/** DEL's answer: how many of `keys` were there to delete. */
const deleteKeys = (keys: readonly Buffer[]): Planned =>
  planOf(kvOperation.deleteMany(keys), ({ count }) => reply.integer(count));

/** A delete only while `key` holds exactly `value` (a cas to absent): 1 deleted, 0 not. */
const deleteIfEquals = (key: Buffer, value: Buffer): Planned =>
  planOf(kvOperation.cas(key, value, null), ({ swapped }) => reply.integer(swapped ? 1 : 0));

/**
 * DELEX key [IFEQ value] (Redis 8.4): without a condition a DEL of the key, with IFEQ a delete only
 * while it holds the value; 1 deleted, 0 not. IFNE, IFDEQ and IFDNE are refused, saying so.
 */
function delex(args: readonly Buffer[]): Planned {
  const key = arg(args, 1);
  if (args.length === 2) return deleteKeys([key]);
  const name = lowerName(arg(args, 2));
  if (args.length !== 4) return reply.error('ERR syntax error');
  if (name === 'ifeq') return deleteIfEquals(key, arg(args, 3));
  if (['ifne', 'ifdeq', 'ifdne'].includes(name)) {
    return reply.error(`ERR DELEX ${name.toUpperCase()} is not supported here; IFEQ is`);
  }
  return reply.error('ERR syntax error');
}

/** MSET's and MSETNX's pairs as keys and values; null when a value is missing. */
function pairsOf(args: readonly Buffer[]): { readonly keys: Buffer[]; readonly values: Buffer[] } | null {
  if (args.length % 2 === 0) return null;
  const keys: Buffer[] = [];
  const values: Buffer[] = [];
  for (let at = 1; at < args.length; at += 2) {
    keys.push(arg(args, at));
    values.push(arg(args, at + 1));
  }
  return { keys, values };
}

/**
 * GETRANGE key start end: the bytes from start to end, both included, counted from the end when
 * negative, as Redis clamps them; an absent key or an empty range is the empty string. The store
 * cuts the value, so only the bytes asked for travel.
 */
function getrange(args: readonly Buffer[]): Planned {
  const first = integerArgument(arg(args, 2));
  const last = integerArgument(arg(args, 3));
  return planOf(kvOperation.getRange(arg(args, 1), first, last), ({ value }) => reply.bulk(value));
}

/** COPY source destination [DB destination-db] [REPLACE]: 1 copied, 0 not. Database 0 is the one there is. */
function copy(args: readonly Buffer[]): Planned {
  let replace = false;
  for (let at = 3; at < args.length; at++) {
    const name = lowerName(arg(args, at));
    if (name === 'replace') replace = true;
    else if (name === 'db' && at + 1 < args.length) {
      if (integerArgument(arg(args, ++at)) !== 0) return reply.error('ERR DB index is out of range');
    } else return reply.error('ERR syntax error');
  }
  // Redis's words for it; the store refuses it too.
  if (arg(args, 1).equals(arg(args, 2)))
    return reply.error('ERR source and destination objects are the same');
  return planOf(kvOperation.copy(arg(args, 1), arg(args, 2), replace), ({ copied }) =>
    reply.integer(copied ? 1 : 0),
  );
}

/** FLUSHALL, FLUSHDB [ASYNC | SYNC]: OK once every key is deleted (one entry; ASYNC changes nothing here). */
function flush(args: readonly Buffer[]): Planned {
  const option = args.length === 2 ? lowerName(arg(args, 1)) : null;
  if (args.length > 2 || (option !== null && option !== 'async' && option !== 'sync')) {
    return reply.error('ERR syntax error');
  }
  return planOf(kvOperation.clear(), () => reply.ok);
}

/** SETRANGE key offset value: the value's length after it. */
function setrange(args: readonly Buffer[]): Planned {
  const offset = integerArgument(arg(args, 2));
  if (offset < 0) return reply.error('ERR offset is out of range');
  return planOf(kvOperation.setRange(arg(args, 1), offset, arg(args, 3)), ({ length }) =>
    reply.integer(length),
  );
}

export const kvCommands: readonly CommandSpec[] = [
  kvCommand({
    name: 'get',
    arity: 2,
    flags: ['readonly', 'fast'],
    keys: [1, 1, 1],
    plan: (args) => planOf(kvOperation.get(arg(args, 1)), ({ value }) => reply.bulk(value)),
  }),
  kvCommand({ name: 'set', arity: -3, flags: ['write', 'denyoom'], keys: [1, 1, 1], plan: set }),
  kvCommand({
    name: 'getdel',
    arity: 2,
    flags: ['write', 'fast'],
    keys: [1, 1, 1],
    plan: (args) => planOf(kvOperation.getDelete(arg(args, 1)), ({ value }) => reply.bulk(value)),
  }),
  kvCommand({
    name: 'getset',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    keys: [1, 1, 1],
    plan: (args) =>
      planOf(kvOperation.getSet(arg(args, 1), arg(args, 2)), ({ previous }) => reply.bulk(previous)),
  }),
  kvCommand({ name: 'getex', arity: -2, flags: ['write', 'fast'], keys: [1, 1, 1], plan: getex }),
  kvCommand({
    name: 'del',
    arity: -2,
    flags: ['write'],
    keys: [1, -1, 1],
    plan: (args) => deleteKeys(args.slice(1)),
  }),
  // Redis frees an UNLINKed value in the background; here a delete is one logged entry either way.
  kvCommand({
    name: 'unlink',
    arity: -2,
    flags: ['write', 'fast'],
    keys: [1, -1, 1],
    plan: (args) => deleteKeys(args.slice(1)),
  }),
  // Valkey 9.0's lock release: delete only while it holds the value (one cas to absent).
  kvCommand({
    name: 'delifeq',
    arity: 3,
    flags: ['write', 'fast'],
    keys: [1, 1, 1],
    plan: (args) => deleteIfEquals(arg(args, 1), arg(args, 2)),
  }),
  kvCommand({ name: 'delex', arity: -2, flags: ['write', 'fast'], keys: [1, 1, 1], plan: delex }),
  kvCommand({
    name: 'exists',
    arity: -2,
    flags: ['readonly', 'fast'],
    keys: [1, -1, 1],
    plan: (args) =>
      planOf(kvOperation.lengths(args.slice(1)), ({ lengths }) =>
        reply.integer(lengths.filter((length) => length !== null).length),
      ),
  }),
  kvCommand({
    name: 'strlen',
    arity: 2,
    flags: ['readonly', 'fast'],
    keys: [1, 1, 1],
    plan: (args) =>
      planOf(kvOperation.lengths([arg(args, 1)]), ({ lengths }) => reply.integer(lengths[0] ?? 0)),
  }),
  kvCommand({
    name: 'append',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    keys: [1, 1, 1],
    plan: (args) =>
      planOf(kvOperation.append(arg(args, 1), arg(args, 2)), ({ length }) => reply.integer(length)),
  }),
  kvCommand({
    name: 'incr',
    arity: 2,
    flags: ['write', 'denyoom', 'fast'],
    keys: [1, 1, 1],
    plan: incrBy(() => 1),
  }),
  kvCommand({
    name: 'decr',
    arity: 2,
    flags: ['write', 'denyoom', 'fast'],
    keys: [1, 1, 1],
    plan: incrBy(() => -1),
  }),
  kvCommand({
    name: 'incrby',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    keys: [1, 1, 1],
    plan: incrBy((args) => integerArgument(arg(args, 2))),
  }),
  kvCommand({
    name: 'decrby',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    keys: [1, 1, 1],
    plan: incrBy((args) => negated(integerArgument(arg(args, 2)))),
  }),
  kvCommand({
    name: 'mget',
    arity: -2,
    flags: ['readonly', 'fast'],
    keys: [1, -1, 1],
    plan: (args) =>
      planOf(kvOperation.getMany(args.slice(1)), ({ values }) =>
        reply.array(values.map((value) => reply.bulk(value))),
      ),
  }),
  kvCommand({
    name: 'mset',
    arity: -3,
    flags: ['write', 'denyoom'],
    keys: [1, -1, 2],
    plan: (args) => {
      const pairs = pairsOf(args);
      if (pairs === null) return wrongArity('mset');
      return planOf(kvOperation.putMany(pairs.keys, pairs.values), () => reply.ok);
    },
  }),
  kvCommand({
    name: 'msetnx',
    arity: -3,
    flags: ['write', 'denyoom'],
    keys: [1, -1, 2],
    plan: (args) => {
      const pairs = pairsOf(args);
      if (pairs === null) return wrongArity('msetnx');
      return planOf(kvOperation.putManyIfAbsent(pairs.keys, pairs.values), ({ written }) =>
        reply.integer(written ? 1 : 0),
      );
    },
  }),
  kvCommand({
    name: 'incrbyfloat',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    keys: [1, 1, 1],
    plan: (args) =>
      planOf(kvOperation.incrFloat(arg(args, 1), floatArgument(arg(args, 2))), ({ value }) =>
        reply.bulk(value),
      ),
  }),
  kvCommand({ name: 'getrange', arity: 4, flags: ['readonly'], keys: [1, 1, 1], plan: getrange }),
  kvCommand({ name: 'setrange', arity: 4, flags: ['write', 'denyoom'], keys: [1, 1, 1], plan: setrange }),
  kvCommand({
    name: 'rename',
    arity: 3,
    flags: ['write'],
    keys: [1, 2, 1],
    plan: (args) => planOf(kvOperation.rename(arg(args, 1), arg(args, 2)), () => reply.ok),
  }),
  kvCommand({
    name: 'renamenx',
    arity: 3,
    flags: ['write', 'fast'],
    keys: [1, 2, 1],
    plan: (args) =>
      planOf(kvOperation.rename(arg(args, 1), arg(args, 2), true), ({ renamed }) =>
        reply.integer(renamed ? 1 : 0),
      ),
  }),
  kvCommand({ name: 'copy', arity: -3, flags: ['write', 'denyoom'], keys: [1, 2, 1], plan: copy }),
  // Both names empty the one database there is.
  kvCommand({ name: 'flushall', arity: -1, flags: ['write'], keys: [0, 0, 0], plan: flush }),
  kvCommand({ name: 'flushdb', arity: -1, flags: ['write'], keys: [0, 0, 0], plan: flush }),
  // A read like GET: at the primary, or on a READONLY connection at this replica after the
  // connection's own writes; so a FLUSHALL and then a DBSIZE answers 0, whichever port took them.
  kvCommand({
    name: 'dbsize',
    arity: 1,
    flags: ['readonly', 'fast'],
    keys: [0, 0, 0],
    plan: () => planOf(kvOperation.count(), ({ count }) => reply.integer(count)),
  }),
  // SUBSTR: GETRANGE's name before Redis 2.0, which Redis still answers.
  kvCommand({ name: 'substr', arity: 4, flags: ['readonly'], keys: [1, 1, 1], plan: getrange }),
  kvCommand({
    name: 'setnx',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    keys: [1, 1, 1],
    plan: (args) =>
      planOf(kvOperation.putIf(arg(args, 1), arg(args, 2), 'absent'), ({ written }) =>
        reply.integer(written ? 1 : 0),
      ),
  }),
  kvCommand({
    name: 'type',
    arity: 2,
    flags: ['readonly', 'fast'],
    keys: [1, 1, 1],
    plan: (args) =>
      planOf(kvOperation.lengths([arg(args, 1)]), ({ lengths }) =>
        reply.simple(lengths[0] === null || lengths[0] === undefined ? 'none' : 'string'),
      ),
  }),
  kvCommand({ name: 'setex', arity: 4, flags: ['write', 'denyoom'], keys: [1, 1, 1], plan: setex('setex') }),
  kvCommand({
    name: 'psetex',
    arity: 4,
    flags: ['write', 'denyoom'],
    keys: [1, 1, 1],
    plan: setex('psetex'),
  }),
  ...(
    [
      ['expire', 'ex'],
      ['pexpire', 'px'],
      ['expireat', 'exat'],
      ['pexpireat', 'pxat'],
    ] as const
  ).map(([name, unit]) =>
    kvCommand({ name, arity: -3, flags: ['write', 'fast'], keys: [1, 1, 1], plan: expire(name, unit) }),
  ),
  kvCommand({
    name: 'persist',
    arity: 2,
    flags: ['write', 'fast'],
    keys: [1, 1, 1],
    plan: (args) =>
      planOf(kvOperation.persist(arg(args, 1)), ({ removed }) => reply.integer(removed ? 1 : 0)),
  }),
  // TTL rounds to the nearest second, as Redis does.
  ...(
    [
      ['ttl', ({ remainingMs }) => Math.floor((remainingMs + 500) / 1000)],
      ['pttl', ({ remainingMs }) => remainingMs],
      ['expiretime', ({ expiresAtMs }) => Math.floor(expiresAtMs / 1000)],
      ['pexpiretime', ({ expiresAtMs }) => expiresAtMs],
    ] as const satisfies readonly (readonly [string, TtlAnswer])[]
  ).map(([name, answer]) =>
    kvCommand({ name, arity: 2, flags: ['readonly', 'fast'], keys: [1, 1, 1], plan: ttl(answer) }),
  ),
];
