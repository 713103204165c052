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
  type KvOperationKind,
  type KvOperationOf,
  type KvResultOf,
  kvOperation,
} from '../state-machine/index.js';
import { integerArgument, lowerName } from './arguments.js';
import type { CommandSpec, KvPlan, Planned } from './command-table.js';
import { wrongArity } from './command-table.js';
import { runPlanned } from './pipeline.js';
import { type RespReply, reply } from './replies.js';

/** A plan whose reply reads the result of its own operation's kind. */
function planOf<K extends KvOperationKind>(
  operation: KvOperationOf<K>,
  answer: (result: KvResultOf<K>) => RespReply,
): KvPlan {
  // The client decodes a result by its operation's kind and refuses another, so the cast holds.
  return { operation, reply: (result) => answer(result as KvResultOf<K>) };
}

/** A key/value command: its handler runs its plan alone. */
function kvCommand(
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

/** SET key value [NX | XX] [KEEPTTL]; expiry options are refused, there being no expiry here. */
function set(args: readonly Buffer[]): Planned {
  let when: 'absent' | 'present' | null = null;
  for (const option of args.slice(3)) {
    const name = lowerName(option);
    if ((name === 'nx' || name === 'xx') && when === null) when = name === 'nx' ? 'absent' : 'present';
    else if (name === 'keepttl') {
      // No key has a time to live, so every SET keeps it.
    } else if (['ex', 'px', 'exat', 'pxat'].includes(name)) {
      return reply.error(`ERR SET ${name.toUpperCase()} is not supported: keys never expire in Understudy`);
    } else if (name === 'get') {
      return reply.error('ERR SET GET is not supported: use GET, then SET');
    } else return reply.error('ERR syntax error');
  }
  const key = arg(args, 1);
  const value = arg(args, 2);
  if (when === null) return planOf(kvOperation.put(key, value), () => reply.ok);
  return planOf(kvOperation.putIf(key, value, when), ({ written }) => (written ? reply.ok : reply.nullBulk));
}

function incrBy(delta: (args: readonly Buffer[]) => number) {
  return (args: readonly Buffer[]): Planned =>
    planOf(kvOperation.incr(arg(args, 1), delta(args)), ({ value }) => reply.integer(value));
}

const negated = (value: number): number => (value === 0 ? 0 : -value);

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
    name: 'del',
    arity: -2,
    flags: ['write'],
    keys: [1, -1, 1],
    plan: (args) => planOf(kvOperation.deleteMany(args.slice(1)), ({ count }) => reply.integer(count)),
  }),
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
      if (args.length % 2 === 0) return wrongArity('mset');
      const keys: Buffer[] = [];
      const values: Buffer[] = [];
      for (let at = 1; at < args.length; at += 2) {
        keys.push(arg(args, at));
        values.push(arg(args, at + 1));
      }
      return planOf(kvOperation.putMany(keys, values), () => reply.ok);
    },
  }),
];
