// CLIENT: the connections of this port. SETNAME, GETNAME and ID for the caller's own; SETINFO for the
// library it names itself by (clients such as redis-py and go-redis send it as they connect); LIST and
// INFO describe connections in Redis's `key=value` line, with the fields this port knows and none it
// would have to make up (no file descriptor, buffer or memory sizes: a connection here is a Node
// socket, not a Redis client struct). Every connection sees every other one, as Redis's default user
// does; with tokens asked (auth.ts) LIST and KILL take an admin token, as Redis's ACLs keep them to
// @admin users, and `user` is each connection's token's name.

import { tokenName } from '../transport/index.js';
import { integerArgument, lowerName } from './arguments.js';
import { notAdminRefusal } from './auth.js';
import { helpReply, unknownSubcommand, wrongArity } from './command-table.js';
import type { CommandContext, ConnectionState } from './context.js';
import { clientNameBytesMax } from './limits.js';
import { type RespReply, reply } from './replies.js';

const arg = (args: readonly Buffer[], at: number): Buffer => args[at] as Buffer;

/** Commands that name a subcommand, which CLIENT LIST's `cmd` shows as `name|subcommand`, as Redis does. */
const containers: ReadonlySet<string> = new Set(['client', 'command', 'config', 'memory', 'object']);

/** A name is printable ASCII without spaces, as Redis requires; `what` names it in the error. */
function nameProblem(name: Buffer, what: 'Client names' | 'lib-name' | 'lib-ver'): string | null {
  if (name.length > clientNameBytesMax) {
    return `ERR ${what} ${what === 'Client names' ? 'are' : 'is'} limited to ${clientNameBytesMax} bytes`;
  }
  for (const byte of name) {
    if (byte < 0x21 || byte > 0x7e)
      return `ERR ${what} cannot contain spaces, newlines or special characters.`;
  }
  return null;
}

/** A connection name (CLIENT SETNAME, HELLO SETNAME): null if it may be used, else the error reply. */
export function clientNameProblem(name: Buffer): string | null {
  return nameProblem(name, 'Client names');
}

const clientHelp = [
  'CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'GETNAME',
  '    Return the name of the current connection.',
  'ID',
  '    Return the ID of the current connection.',
  'INFO',
  '    Return information about the current connection.',
  'KILL <ip:port>',
  '    Kill connection made from <ip:port>.',
  'KILL <option> <value> [<option> <value> [...]]',
  '    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>,',
  '    USER <username>, TYPE (NORMAL|MASTER|REPLICA|PUBSUB), MAXAGE <seconds>, SKIPME (YES|NO).',
  'LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> [<id> ...]]',
  '    Return information about client connections, one line each.',
  'SETINFO <LIB-NAME|LIB-VER> <value>',
  '    Set the name or version of the client library of the current connection.',
  'SETNAME <name>',
  '    Assign the name <name> to the current connection.',
  'HELP',
  '    Print this help.',
];

/** The user a connection acts as: its token's name, or Redis's `default` without one. */
function userOf(connection: Readonly<ConnectionState>): string {
  return connection.token === null ? 'default' : (tokenName(connection.token) ?? 'default');
}

/** A client type CLIENT LIST and KILL take, lowercase, or the error reply for another. */
function clientType(argument: Buffer): string | RespReply {
  const type = lowerName(argument);
  if (['normal', 'master', 'replica', 'slave', 'pubsub'].includes(type)) return type;
  return reply.error(`ERR Unknown client type '${argument.toString('utf8').slice(0, 128)}'`);
}

/** Redis's flags: x in MULTI, r after READONLY, N for none. */
function flagsOf(connection: Readonly<ConnectionState>): string {
  const flags = `${connection.transaction !== null ? 'x' : ''}${connection.readOnly ? 'r' : ''}`;
  return flags === '' ? 'N' : flags;
}

/**
 * `command`'s name as CLIENT LIST's `cmd` shows it (`get`, `client|list`): kept per connection in
 * place of the command, whose arguments (a value of megabytes, say) must not outlive it.
 */
export function commandName(command: readonly Buffer[]): string {
  const name = lowerName((command[0] ?? Buffer.alloc(0)).subarray(0, 64));
  const subcommand = command[1];
  return containers.has(name) && subcommand !== undefined
    ? `${name}|${lowerName(subcommand.subarray(0, 64))}`
    : name;
}

/** One connection in CLIENT LIST's form. */
function describeConnection(connection: Readonly<ConnectionState>, nowMs: number): string {
  const seconds = (sinceMs: number): number => Math.max(0, Math.floor((nowMs - sinceMs) / 1000));
  const fields: [string, string | number][] = [
    ['id', connection.id],
    ['addr', connection.remoteAddress],
    ['laddr', connection.localAddress],
    ['name', connection.name ?? ''],
    ['age', seconds(connection.connectedAtMs)],
    ['idle', seconds(connection.lastCommandAtMs)],
    ['flags', flagsOf(connection)],
    ['db', 0],
    ['sub', 0],
    ['psub', 0],
    ['ssub', 0],
    ['multi', connection.transaction === null ? -1 : connection.transaction.planned.length],
    ['watch', connection.watched.size],
    ['cmd', connection.lastCommand ?? 'NULL'],
    ['user', userOf(connection)],
    ['resp', 2],
    ['lib-name', connection.libName ?? ''],
    ['lib-ver', connection.libVersion ?? ''],
  ];
  return fields.map(([name, value]) => `${name}=${value}`).join(' ');
}

/** CLIENT LIST [TYPE type] [ID id ...]: the connections that match, one line each. */
function list(args: readonly Buffer[], context: CommandContext): RespReply {
  let ids: Set<number> | null = null;
  let normal = true;
  for (let at = 2; at < args.length; at++) {
    const option = lowerName(arg(args, at));
    if (option === 'type' && at + 1 < args.length) {
      const type = clientType(arg(args, at + 1));
      if (typeof type !== 'string') return type;
      // Every connection of this port is a normal one: replicas replicate over the cluster port.
      normal = type === 'normal';
      at += 1;
    } else if (option === 'id' && at + 1 < args.length) {
      ids = new Set();
      for (at += 1; at < args.length; at++) {
        const id = integerArgument(arg(args, at), 'ERR Invalid client ID');
        if (id <= 0) return reply.error('ERR Invalid client ID');
        ids.add(id);
      }
    } else {
      return reply.error('ERR syntax error');
    }
  }
  const nowMs = performance.now();
  let text = '';
  if (normal) {
    for (const connection of context.connections.values()) {
      if (ids === null || ids.has(connection.id)) text += `${describeConnection(connection, nowMs)}\n`;
    }
  }
  return reply.bulk(text);
}

/** Which connections CLIENT KILL's filters name, or the error reply for a malformed one. */
function killFilter(
  args: readonly Buffer[],
  context: CommandContext,
): { readonly matches: (connection: Readonly<ConnectionState>) => boolean } | RespReply {
  const tests: ((connection: Readonly<ConnectionState>) => boolean)[] = [];
  let skipMe = true;
  for (let at = 2; at < args.length; at += 2) {
    const option = lowerName(arg(args, at));
    const value = args[at + 1];
    if (value === undefined) return reply.error('ERR syntax error');
    const text = value.toString('latin1');
    switch (option) {
      case 'id': {
        const id = integerArgument(value, 'ERR client-id should be greater than 0');
        if (id <= 0) return reply.error('ERR client-id should be greater than 0');
        tests.push((connection) => connection.id === id);
        break;
      }
      case 'addr':
        tests.push((connection) => connection.remoteAddress === text);
        break;
      case 'laddr':
        tests.push((connection) => connection.localAddress === text);
        break;
      case 'user':
        tests.push((connection) => userOf(connection) === text);
        break;
      case 'type': {
        const type = clientType(value);
        if (typeof type !== 'string') return type;
        tests.push(() => type === 'normal');
        break;
      }
      case 'skipme': {
        const answer = lowerName(value);
        if (answer !== 'yes' && answer !== 'no') return reply.error('ERR syntax error');
        skipMe = answer === 'yes';
        break;
      }
      case 'maxage': {
        const seconds = integerArgument(value);
        const nowMs = performance.now();
        tests.push((connection) => nowMs - connection.connectedAtMs >= seconds * 1000);
        break;
      }
      default:
        return reply.error('ERR syntax error');
    }
  }
  const self = context.connection.id;
  return {
    matches: (connection) => !(skipMe && connection.id === self) && tests.every((test) => test(connection)),
  };
}

/**
 * CLIENT KILL ip:port (the old form: OK, or an error if no connection has that address) or CLIENT
 * KILL <filter value> ... (the number closed; the caller is skipped unless SKIPME no). A connection
 * closed here ends without the answer of a command it was waiting on (which may still run, once, as
 * after any client's disconnect); the caller's own is closed after its answer.
 */
function kill(args: readonly Buffer[], context: CommandContext): RespReply {
  const close = (connection: Readonly<ConnectionState>): void => {
    if (connection.id === context.connection.id) context.connection.quitting = true;
    else connection.close();
  };
  if (args.length === 3) {
    const address = arg(args, 2).toString('latin1');
    const found = [...context.connections.values()].find(
      (connection) => connection.remoteAddress === address,
    );
    if (found === undefined) return reply.error('ERR No such client');
    close(found);
    return reply.ok;
  }
  const filter = killFilter(args, context);
  if (!('matches' in filter)) return filter;
  const doomed = [...context.connections.values()].filter(filter.matches);
  for (const connection of doomed) close(connection);
  return reply.integer(doomed.length);
}

function setInfo(args: readonly Buffer[], context: CommandContext): RespReply {
  if (args.length !== 4) return wrongArity('client|setinfo');
  const attribute = lowerName(arg(args, 2));
  if (attribute !== 'lib-name' && attribute !== 'lib-ver') {
    return reply.error(`ERR Unrecognized option '${arg(args, 2).toString('utf8').slice(0, 128)}'`);
  }
  const problem = nameProblem(arg(args, 3), attribute === 'lib-name' ? 'lib-name' : 'lib-ver');
  if (problem !== null) return reply.error(problem);
  const value = arg(args, 3).toString('latin1');
  if (attribute === 'lib-name') context.connection.libName = value === '' ? null : value;
  else context.connection.libVersion = value === '' ? null : value;
  return reply.ok;
}

export function client(args: readonly Buffer[], context: CommandContext): RespReply {
  const subcommand = lowerName(arg(args, 1));
  const exactly = (count: number): boolean => args.length === count;
  switch (subcommand) {
    case 'setname': {
      if (!exactly(3)) return wrongArity('client|setname');
      const problem = clientNameProblem(arg(args, 2));
      if (problem !== null) return reply.error(problem);
      const name = arg(args, 2).toString('latin1');
      context.connection.name = name === '' ? null : name;
      return reply.ok;
    }
    case 'getname':
      if (!exactly(2)) return wrongArity('client|getname');
      return reply.bulk(context.connection.name);
    case 'id':
      if (!exactly(2)) return wrongArity('client|id');
      return reply.integer(context.connection.id);
    case 'info':
      if (!exactly(2)) return wrongArity('client|info');
      return reply.bulk(`${describeConnection(context.connection, performance.now())}\n`);
    case 'list':
      return notAdminRefusal('client|list', context) ?? list(args, context);
    case 'kill':
      if (args.length < 3) return wrongArity('client|kill');
      return notAdminRefusal('client|kill', context) ?? kill(args, context);
    case 'setinfo':
      return setInfo(args, context);
    case 'help':
      return helpReply(clientHelp);
    default:
      return unknownSubcommand(args, 'CLIENT');
  }
}
