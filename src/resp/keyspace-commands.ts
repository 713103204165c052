// SCAN, KEYS and RANDOMKEY: the keys themselves. SCAN walks them a few at a time with Redis's promise (a full
// iteration returns every key present from its start to its end; state-machine/kv-key-buckets.ts).
// KEYS answers every match, gathered here by such a walk, keysPageCount keys a read: a store's
// every key in one read held a primary of 330,000 keys 2.5 s, and the coordinator replaced it. So,
// unlike Redis's, it is not one instant: a key added or deleted while it walks may or may not come.
// It is refused past 8 MiB of keys (the store's read bound). Each read runs on its own, never in a
// pipeline's sequence or a transaction, where this connection's reads go: the primary, or this
// replica on a READONLY connection (a cursor is the same number on every replica, so an iteration may
// go on anywhere). Every key is a string here, so SCAN ... TYPE string filters nothing and any other
// type finds none.

import {
  type KvResultOf,
  keysPageCount,
  kvOperation,
  readBytesMax,
  SCAN_CURSOR_BUILDING,
} from '../state-machine/index.js';
import { integerArgument, lowerName } from './arguments.js';
import type { CommandSpec } from './command-table.js';
import type { CommandContext } from './context.js';
import { refusalReply } from './errors.js';
import { runOnItsOwn } from './pipeline.js';
import { encodeBulkStrings, type RespReply, reply } from './replies.js';

const arg = (args: readonly Buffer[], at: number): Buffer => args[at] as Buffer; // the arity was checked

/** One page of SCAN, where this connection's reads go. */
async function scanPage(
  cursor: number,
  options: { readonly match: Buffer | null; readonly count?: number },
  context: CommandContext,
): Promise<KvResultOf<'scan'> | RespReply> {
  const outcome = await runOnItsOwn(kvOperation.scan(cursor, options), context);
  // The client decodes a result by its operation's kind and refuses another, so the cast holds.
  return outcome.ok ? (outcome.result as KvResultOf<'scan'>) : refusalReply(outcome.code, outcome.message);
}

const isPage = (answer: KvResultOf<'scan'> | RespReply): answer is KvResultOf<'scan'> =>
  'kind' in answer && answer.kind === 'scan';

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
  const page = await scanPage(cursor, { match, ...(count === undefined ? {} : { count }) }, context);
  if (!isPage(page)) return page;
  return reply.array([reply.bulk(String(page.cursor)), keysReply(stringsOnly ? page.keys : [])]);
}

/** KEYS pattern: every match, by a walk of SCAN pages, in RESP as each page comes. */
async function keys(args: readonly Buffer[], context: CommandContext): Promise<RespReply> {
  const parts: Buffer[] = [];
  let count = 0;
  let bytes = 0;
  let cursor = 0;
  do {
    const page = await scanPage(cursor, { match: arg(args, 1), count: keysPageCount }, context);
    if (!isPage(page)) return page;
    for (const key of page.keys) bytes += key.byteLength;
    if (bytes > readBytesMax) {
      return reply.error(
        `ERR KEYS would answer more than ${readBytesMax} bytes of keys; SCAN through them instead`,
      );
    }
    parts.push(encodeBulkStrings(page.keys));
    count += page.keys.length;
    cursor = page.cursor;
  } while (cursor !== 0);
  return reply.encoded(Buffer.concat([Buffer.from(`*${count}\r\n`), ...parts]));
}

/** A bucket to start RANDOMKEY's look from: any of them, each as likely. */
const randomCursor = (): number => Math.floor(Math.random() * SCAN_CURSOR_BUILDING);

/** Pages RANDOMKEY asks for at most before it answers that the store is still making its buckets. */
const randomKeyPagesMax = 64;
/** The keys in a row RANDOMKEY draws from: all of them in a store of no more. */
const randomKeyWindow = 16;

/**
 * RANDOMKEY: one of the first `randomKeyWindow` keys (SCAN's order) from a random bucket on, going on
 * from the first bucket past the last, each of them as likely; nil only when a walk of every bucket
 * found none. Every key of a store of up to 16 keys is as likely as the others. In a larger one a key
 * is drawn about as often as the others (a window of 16 evens out the gaps between SCAN's buckets,
 * where the first key after a random bucket alone made a key after a long empty stretch far likelier);
 * like Redis's, not exactly uniform.
 */
async function randomKey(_args: readonly Buffer[], context: CommandContext): Promise<RespReply> {
  const start = randomCursor();
  let cursor = start;
  let wrapped = false;
  const found = new Map<string, Uint8Array>();
  for (let page = 0; page < randomKeyPagesMax; page++) {
    const answer = await scanPage(cursor, { match: null, count: randomKeyWindow - found.size }, context);
    if (!isPage(answer)) return answer;
    for (const key of answer.keys) found.set(Buffer.from(key).toString('latin1'), key);
    if (found.size >= randomKeyWindow) break;
    if (answer.cursor === 0) {
      if (wrapped) break;
      wrapped = true;
    }
    // Past the bucket it began at, after the wrap, the walk only finds keys it has.
    if (wrapped && answer.cursor >= start && answer.cursor !== SCAN_CURSOR_BUILDING) break;
    cursor = answer.cursor;
    if (page === randomKeyPagesMax - 1 && found.size === 0) {
      return reply.error(
        'BUSY the store is still indexing its keys for SCAN; try RANDOMKEY again in a moment',
      );
    }
  }
  const keys = [...found.values()];
  return keys.length === 0
    ? reply.nullBulk
    : reply.bulk(keys[Math.floor(Math.random() * keys.length)] as Uint8Array);
}

export const keyspaceCommands: readonly CommandSpec[] = [
  { name: 'randomkey', arity: 1, flags: ['readonly'], keys: [0, 0, 0], handler: randomKey },
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
    handler: keys,
  },
];
