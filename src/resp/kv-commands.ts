// The key/value commands, each one operation of the key/value store through the shared client: a
// write runs once (the client retries under its request id) and is answered when every backup has
// it on disk (sync durability); a read is answered by the primary under its lease (linearizable), or,
// on a READONLY connection, by this replica within the port's staleness bound, after the
// connection's own writes.
// Multi-key commands are one operation each (MSET is put-many, DEL is delete-many, MGET is
// get-many, EXISTS and STRLEN are lengths), so they are atomic, as in Redis.

import type { Client, ReadOptions, WriteMetadata } from '../client/index.js';
import { integerArgument, lowerName } from './arguments.js';
import type { CommandSpec } from './command-table.js';
import { wrongArity } from './command-table.js';
import type { CommandContext } from './context.js';
import { type RespReply, reply } from './replies.js';

/** Runs `work` with the shared client and notes, for WAIT, how many backups held the write. */
async function write<T extends WriteMetadata>(
  context: CommandContext,
  work: (client: Client) => Promise<T>,
): Promise<T> {
  const result = await work(await context.backend.client(context.connection.token));
  const { connection } = context;
  connection.lastWriteBackups = Math.max(0, result.replicas.length - 1);
  connection.lastWriteIndex = Math.max(connection.lastWriteIndex, result.index);
  return result;
}

/** Runs `work` with the shared client and where this connection reads (the primary unless READONLY). */
async function read<T>(
  context: CommandContext,
  work: (client: Client, options: ReadOptions | undefined) => Promise<T>,
): Promise<T> {
  const { connection, backend } = context;
  const client = await backend.client(connection.token);
  return work(
    client,
    connection.readOnly ? backend.replicaReadOptions(connection.lastWriteIndex) : undefined,
  );
}

const arg = (args: readonly Buffer[], at: number): Buffer => args[at] as Buffer; // the arity was checked

/** SET key value [NX | XX] [KEEPTTL]; expiry options are refused, there being no expiry here. */
async function set(args: readonly Buffer[], context: CommandContext): Promise<RespReply> {
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
  if (when === null) {
    await write(context, (client) => client.put(key, value));
    return reply.ok;
  }
  const { written } = await write(context, (client) => client.putIf(key, value, when));
  return written ? reply.ok : reply.nullBulk;
}

function incrBy(delta: (args: readonly Buffer[]) => number) {
  return async (args: readonly Buffer[], context: CommandContext): Promise<RespReply> => {
    const by = delta(args);
    const { value } = await write(context, (client) => client.incr(arg(args, 1), by));
    return reply.integer(value);
  };
}

const negated = (value: number): number => (value === 0 ? 0 : -value);

export const kvCommands: readonly CommandSpec[] = [
  {
    name: 'get',
    arity: 2,
    flags: ['readonly', 'fast'],
    keys: [1, 1, 1],
    handler: async (args, context) =>
      reply.bulk(await read(context, (client, options) => client.get(arg(args, 1), options))),
  },
  { name: 'set', arity: -3, flags: ['write', 'denyoom'], keys: [1, 1, 1], handler: set },
  {
    name: 'del',
    arity: -2,
    flags: ['write'],
    keys: [1, -1, 1],
    handler: async (args, context) => {
      const { count } = await write(context, (client) => client.deleteMany(args.slice(1)));
      return reply.integer(count);
    },
  },
  {
    name: 'exists',
    arity: -2,
    flags: ['readonly', 'fast'],
    keys: [1, -1, 1],
    handler: async (args, context) => {
      const lengths = await read(context, (client, options) => client.lengths(args.slice(1), options));
      return reply.integer(lengths.filter((length) => length !== null).length);
    },
  },
  {
    name: 'strlen',
    arity: 2,
    flags: ['readonly', 'fast'],
    keys: [1, 1, 1],
    handler: async (args, context) => {
      const [length] = await read(context, (client, options) => client.lengths([arg(args, 1)], options));
      return reply.integer(length ?? 0);
    },
  },
  {
    name: 'append',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    keys: [1, 1, 1],
    handler: async (args, context) => {
      const { length } = await write(context, (client) => client.append(arg(args, 1), arg(args, 2)));
      return reply.integer(length);
    },
  },
  { name: 'incr', arity: 2, flags: ['write', 'denyoom', 'fast'], keys: [1, 1, 1], handler: incrBy(() => 1) },
  { name: 'decr', arity: 2, flags: ['write', 'denyoom', 'fast'], keys: [1, 1, 1], handler: incrBy(() => -1) },
  {
    name: 'incrby',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    keys: [1, 1, 1],
    handler: incrBy((args) => integerArgument(arg(args, 2))),
  },
  {
    name: 'decrby',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    keys: [1, 1, 1],
    handler: incrBy((args) => negated(integerArgument(arg(args, 2)))),
  },
  {
    name: 'mget',
    arity: -2,
    flags: ['readonly', 'fast'],
    keys: [1, -1, 1],
    handler: async (args, context) => {
      const values = await read(context, (client, options) => client.getMany(args.slice(1), options));
      return reply.array(values.map((value) => reply.bulk(value)));
    },
  },
  {
    name: 'mset',
    arity: -3,
    flags: ['write', 'denyoom'],
    keys: [1, -1, 2],
    handler: async (args, context) => {
      if (args.length % 2 === 0) return wrongArity('mset');
      const entries: [Buffer, Buffer][] = [];
      for (let at = 1; at < args.length; at += 2) entries.push([arg(args, at), arg(args, at + 1)]);
      await write(context, (client) => client.putMany(entries));
      return reply.ok;
    },
  },
];
