// SCAN and KEYS: the keys themselves. SCAN walks them a few at a time with Redis's promise (a full
// iteration returns every key present from its start to its end; state-machine/kv-key-buckets.ts),
// KEYS answers every match at once and is refused when they would pass the store's read bound
// (8 MiB of keys). Each runs as one read on its own, never in a pipeline's sequence or a
// transaction, where this connection's reads go: the primary, or this replica on a READONLY
// connection (a cursor is the same number on every replica, so an iteration may go on anywhere).
// Every key is a string here, so SCAN ... TYPE string filters nothing and any other type finds none.

import {
  type KvOperation,
  type KvResultOf,
  kvOperation,
  SCAN_CURSOR_BUILDING,
} from '../state-machine/index.js';
import { integerArgument, lowerName } from './arguments.js';
import type { CommandSpec } from './command-table.js';
import type { CommandContext } from './context.js';
import { refusalReply } from './errors.js';
import { runOnItsOwn } from './pipeline.js';
import { type RespReply, reply } from './replies.js';

const arg = (args: readonly Buffer[], at: number): Buffer => args[at] as Buffer; // the arity was checked

async function answer<K extends 'scan' | 'keys'>(
  operation: KvOperation & { readonly kind: K },
  context: CommandContext,
  replyTo: (result: KvResultOf<K>) => RespReply,
): Promise<RespReply> {
  const outcome = await runOnItsOwn(operation, context);
  // The client decodes a result by its operation's kind and refuses another, so the cast holds.
  return outcome.ok ? replyTo(outcome.result as KvResultOf<K>) : refusalReply(outcome.code, outcome.message);
}

const keysReply = (keys: readonly Uint8Array[]): RespReply => reply.array(keys.map((key) => reply.bulk(key)));

/** SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]: the next cursor and some keys. */
async function scan(args: readonly Buffer[], context: CommandContext): Promise<RespReply> {
  const cursor = integerArgument(arg(args, 1), 'ERR invalid cursor');
  if (cursor < 0 || cursor > SCAN_CURSOR_BUILDING) return reply.error('ERR invalid cursor');
  let match: Buffer | null = null;
  let count: number | undefined;
  let stringsOnly = true;
  for (let at = 2; at < args.length; at += 2) {
    const option = lowerName(arg(args, at));
    const value = args[at + 1];
    if (value === undefined) return reply.error('ERR syntax error');
    if (option === 'match') match = value;
    else if (option === 'count') {
      count = integerArgument(value);
      if (count < 1) return reply.error('ERR syntax error');
    } else if (option === 'type') stringsOnly = lowerName(value) === 'string';
    else return reply.error('ERR syntax error');
  }
  return answer(
    kvOperation.scan(cursor, { match, ...(count === undefined ? {} : { count }) }),
    context,
    (result) => reply.array([reply.bulk(String(result.cursor)), keysReply(stringsOnly ? result.keys : [])]),
  );
}

export const keyspaceCommands: readonly CommandSpec[] = [
  {
    name: 'scan',
    arity: -2,
    flags: ['readonly'],
    keys: [0, 0, 0],
    handler: scan,
  },
  {
    name: 'keys',
    arity: 2,
    flags: ['readonly', 'sort_for_script'],
    keys: [0, 0, 0],
    handler: (args, context) =>
      answer(kvOperation.keys(arg(args, 1)), context, (result) => keysReply(result.keys)),
  },
];
