// MULTI, EXEC and DISCARD: a Redis transaction as one whole sequence of the store. After MULTI a
// connection's key/value commands are queued (+QUEUED); EXEC runs them in order as one request and one
// log entry, at the primary, all of them or none (a sequence sent whole is refused whole rather than
// cut: kv-sequence.ts), and answers an array of their replies. As in Redis, a command refused before
// it is queued (unknown, a wrong number of arguments) discards the transaction at EXEC (EXECABORT), and
// one whose arguments are wrong for its own reasons (SET ... EX) is queued and answered with its error
// inside EXEC's array while the others run. Only key/value commands (and UNWATCH, answered OK) may be
// queued: the others (PING, INFO, ...) are refused inside MULTI and abort it, where Redis would queue
// them. After WATCH the transaction runs behind a guard of the watched values, and EXEC answers nil
// if one changed (watch.ts).

import { type CommandSpec, type CommandTable, isPlan, type Planned } from './command-table.js';
import type { CommandContext } from './context.js';
import { keyspaceCommands } from './keyspace-commands.js';
import type { RespCommand } from './parser.js';
import { runTransaction } from './pipeline.js';
import { type RespReply, reply } from './replies.js';
import { endWatch, OVERFLOWED, takeWatchGuard, WATCH_INSIDE_MULTI } from './watch.js';

const EXECABORT = 'EXECABORT Transaction discarded because of previous errors.';

/** Key/value commands that read the store's keys, not a transaction's pending writes. */
const walksOfKeys: ReadonlySet<string> = new Set(keyspaceCommands.map((command) => command.name));

/** Commands that act on the transaction itself, or on the connection (QUIT closes it), never queued. */
const controls: ReadonlySet<string> = new Set(['multi', 'exec', 'discard', 'quit']);

/**
 * Queues `command` on a connection inside MULTI: its reply (+QUEUED, or the error that aborts the
 * transaction). Null for the commands that act on the transaction, which run as themselves.
 */
export function queueCommand(
  name: string,
  command: RespCommand,
  context: CommandContext,
  table: CommandTable,
): RespReply | null {
  const transaction = context.connection.transaction;
  if (transaction === null || controls.has(name)) return null;
  if (name === 'watch') {
    transaction.aborted = true;
    return reply.error(WATCH_INSIDE_MULTI);
  }
  if (name === 'unwatch' && table.refusal(command, context) === null) {
    // As in Redis, queued and answered OK in EXEC's array; EXEC ends the watch anyway.
    transaction.planned.push(reply.ok);
    return reply.simple('QUEUED');
  }
  const planned = table.plan(command, context);
  if (planned === null) {
    transaction.aborted = true;
    const refusal = table.refusal(command, context);
    const why = walksOfKeys.has(name)
      ? 'it walks the keys in reads of its own, never in a transaction'
      : 'Understudy queues only key/value commands';
    return refusal ?? reply.error(`ERR ${name.toUpperCase()} inside MULTI is not supported: ${why}`);
  }
  transaction.planned.push(planned);
  return reply.simple('QUEUED');
}

async function exec(_args: readonly Buffer[], context: CommandContext): Promise<RespReply> {
  const { connection } = context;
  const transaction = connection.transaction;
  if (transaction === null) return reply.error('ERR EXEC without MULTI');
  connection.transaction = null;
  const guard = takeWatchGuard(connection);
  if (transaction.aborted) return reply.error(EXECABORT);
  if (guard === OVERFLOWED) return reply.array(null);
  if (guard === null && !transaction.planned.some(isPlan)) {
    return reply.array(transaction.planned as RespReply[]);
  }
  const replies = await runTransaction(transaction.planned, context, guard);
  return Array.isArray(replies) ? reply.array(replies) : replies;
}

export const transactionCommands: readonly CommandSpec[] = [
  {
    name: 'multi',
    arity: 1,
    flags: ['fast'],
    keys: [0, 0, 0],
    handler: (_args, context) => {
      if (context.connection.transaction !== null) return reply.error('ERR MULTI calls can not be nested');
      context.connection.transaction = { planned: [] as Planned[], aborted: false };
      return reply.ok;
    },
  },
  { name: 'exec', arity: 1, flags: [], keys: [0, 0, 0], handler: exec },
  {
    name: 'discard',
    arity: 1,
    flags: ['fast'],
    keys: [0, 0, 0],
    handler: (_args, context) => {
      if (context.connection.transaction === null) return reply.error('ERR DISCARD without MULTI');
      context.connection.transaction = null;
      endWatch(context.connection);
      return reply.ok;
    },
  },
];
