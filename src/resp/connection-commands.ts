// Commands about the connection itself, answered here without the cluster: PING, ECHO, QUIT, AUTH
// (auth.ts), CLIENT (client-command.ts), SELECT 0, and HELLO, which speaks RESP2 only (HELLO 3 gets NOPROTO, as from a
// server without RESP3, and clients such as ioredis then stay on RESP2).

import { integerArgument, lowerName } from './arguments.js';
import { auth, authenticate, helloNoAuthRefusal } from './auth.js';
import { client, clientNameProblem } from './client-command.js';
import { type CommandSpec, wrongArity } from './command-table.js';
import type { CommandContext } from './context.js';
import { type RespReply, reply } from './replies.js';

const arg = (args: readonly Buffer[], at: number): Buffer => args[at] as Buffer;

/**
 * HELLO [protover [AUTH username password] [SETNAME clientname]]'s version and options, as the Redis
 * ports and the Sentinel port read them (RESP2 only): the first refusal (`authenticate`'s for AUTH),
 * or the name SETNAME gave (null to clear it; undefined when none was given).
 */
export function readHello(
  args: readonly Buffer[],
  authenticate: (username: Buffer, password: Buffer) => RespReply | null,
): { readonly refused: RespReply } | { readonly name: string | null | undefined } {
  if (args.length >= 2) {
    const version = integerArgument(arg(args, 1), 'ERR Protocol version is not an integer or out of range');
    if (version !== 2) return { refused: reply.error('NOPROTO unsupported protocol version') };
  }
  let name: string | null | undefined;
  for (let at = 2; at < args.length; at++) {
    const option = lowerName(arg(args, at));
    if (option === 'setname' && at + 1 < args.length) {
      const problem = clientNameProblem(arg(args, at + 1));
      if (problem !== null) return { refused: reply.error(problem) };
      name = arg(args, at + 1).toString('latin1');
      at += 1;
    } else if (option === 'auth' && at + 2 < args.length) {
      const refused = authenticate(arg(args, at + 1), arg(args, at + 2));
      if (refused !== null) return { refused };
      at += 2;
    } else {
      const text = `ERR Syntax error in HELLO option '${arg(args, at).toString('utf8').slice(0, 128)}'`;
      return { refused: reply.error(text) };
    }
  }
  return { name: name === '' ? null : name };
}

/** HELLO's answer: who speaks, on RESP2. */
export function helloReply(redisVersion: string, id: number, mode: string, role: string): RespReply {
  return reply.array([
    reply.bulk('server'),
    reply.bulk('understudy'),
    reply.bulk('version'),
    reply.bulk(redisVersion),
    reply.bulk('proto'),
    reply.integer(2),
    reply.bulk('id'),
    reply.integer(id),
    reply.bulk('mode'),
    reply.bulk(mode),
    reply.bulk('role'),
    reply.bulk(role),
    reply.bulk('modules'),
    reply.array([]),
  ]);
}

function hello(args: readonly Buffer[], context: CommandContext): RespReply {
  const read = readHello(args, (username, password) => authenticate(username, password, context));
  if ('refused' in read) return read.refused;
  const refused = helloNoAuthRefusal(context);
  if (refused !== null) return refused;
  if (read.name !== undefined) context.connection.name = read.name;
  const role = context.backend.local().role === 'primary' ? 'master' : 'replica';
  return helloReply(context.facts.redisVersion, context.connection.id, 'standalone', role);
}

/**
 * READONLY and READWRITE, Redis Cluster's words for reads at a replica, offered on every port: whether
 * this connection's reads go to the port's own replica within the bound (kv-commands.ts, backend.ts).
 */
function readsAt(name: string, readOnly: boolean): CommandSpec {
  return {
    name,
    arity: 1,
    flags: ['fast'],
    keys: [0, 0, 0],
    handler: (_args, context) => {
      context.connection.readOnly = readOnly;
      return reply.ok;
    },
  };
}

export const connectionCommands: readonly CommandSpec[] = [
  {
    name: 'ping',
    arity: -1,
    flags: ['fast'],
    keys: [0, 0, 0],
    handler: (args) => {
      if (args.length > 2) return wrongArity('ping');
      return args.length === 2 ? reply.bulk(arg(args, 1)) : reply.simple('PONG');
    },
  },
  { name: 'echo', arity: 2, flags: ['fast'], keys: [0, 0, 0], handler: (args) => reply.bulk(arg(args, 1)) },
  {
    name: 'quit',
    arity: -1,
    flags: ['fast'],
    keys: [0, 0, 0],
    handler: (_args, context) => {
      context.connection.quitting = true;
      return reply.ok;
    },
  },
  { name: 'client', arity: -2, flags: [], keys: [0, 0, 0], handler: client },
  { name: 'hello', arity: -1, flags: ['fast'], keys: [0, 0, 0], handler: hello },
  { name: 'auth', arity: -2, flags: ['fast', 'no-auth'], keys: [0, 0, 0], handler: auth },
  readsAt('readonly', true),
  readsAt('readwrite', false),
  // Redis's one database is number 0: some clients and pools select it as they connect.
  {
    name: 'select',
    arity: 2,
    flags: ['loading', 'stale', 'fast'],
    keys: [0, 0, 0],
    handler: (args) =>
      integerArgument(arg(args, 1)) === 0 ? reply.ok : reply.error('ERR DB index is out of range'),
  },
];
