// WATCH and UNWATCH: optimistic transactions. WATCH reads the keys at the primary (linearizable) and
// the connection keeps the value each held; EXEC then sends its transaction behind one expect of
// those values, as one whole sequence (kv-sequence.ts): the store runs it only if every watched key
// still holds its value at that moment, and otherwise refuses it whole (VALUE_CHANGED), so nothing
// of it ran, and EXEC answers nil as Redis does. EXEC and DISCARD end the watch whatever became of
// the transaction; UNWATCH ends it at once.
//
// Redis aborts the transaction when a watched key was written since WATCH; here, when its value
// differs. The two differ only for a key written and then given back the value it had (or written
// with the same value): Redis aborts, Understudy runs the transaction, whose every read still sees
// the values the client saw. The watch is held by value, so one connection holds at most
// watchedKeysMax keys and watchedBytesMax bytes of keys and values (limits.ts).

import { type KvOperationOf, kvOperation } from '../state-machine/index.js';
import type { CommandSpec } from './command-table.js';
import type { CommandContext, ConnectionState } from './context.js';
import { errorReply } from './errors.js';
import { watchedBytesMax, watchedKeysMax } from './limits.js';
import { type RespReply, reply } from './replies.js';

/** Redis 7's answer to WATCH inside MULTI (a command flagged no-multi), which also discards the transaction. */
export const WATCH_INSIDE_MULTI = 'ERR Command not allowed inside a transaction';

/** The expect that guards the connection's transaction (null: nothing is watched), ending the watch. */
export function takeWatchGuard(connection: ConnectionState): KvOperationOf<'expect'> | null {
  const { watched } = connection;
  if (watched.size === 0) return null;
  const entries = [...watched.values()];
  watched.clear();
  return kvOperation.expect(
    entries.map((entry) => entry.key),
    entries.map((entry) => entry.value),
  );
}

async function watch(args: readonly Buffer[], context: CommandContext): Promise<RespReply> {
  const { connection } = context;
  const { watched } = connection;
  const fresh = new Map<string, Buffer>();
  for (const key of args.slice(1)) {
    const name = key.toString('latin1');
    if (!watched.has(name)) fresh.set(name, key);
  }
  if (fresh.size === 0) return reply.ok;
  if (watched.size + fresh.size > watchedKeysMax) {
    return reply.error(
      `ERR WATCH of ${watched.size + fresh.size} keys: one connection watches at most ${watchedKeysMax} in Understudy`,
    );
  }
  let values: (Uint8Array | null)[];
  try {
    const client = await context.backend.client(connection.token);
    const { result } = await client.execute(kvOperation.getMany([...fresh.values()]));
    if (result.kind !== 'get-many') throw new Error(`WATCH read a ${result.kind} result`);
    values = [...result.values];
  } catch (error) {
    const mapped = errorReply(error);
    if (mapped === null) throw error;
    return mapped;
  }
  let bytes = 0;
  for (const entry of watched.values()) bytes += entry.key.byteLength + (entry.value?.byteLength ?? 0);
  [...fresh.values()].forEach((key, at) => {
    bytes += key.byteLength + (values[at]?.byteLength ?? 0);
  });
  if (bytes > watchedBytesMax) {
    return reply.error(
      `ERR WATCH would hold ${bytes} bytes of keys and their values: one connection watches at most ${watchedBytesMax} in Understudy, which compares values`,
    );
  }
  [...fresh.values()].forEach((key, at) => {
    watched.set(key.toString('latin1'), { key: new Uint8Array(key), value: values[at] ?? null });
  });
  return reply.ok;
}

export const watchCommands: readonly CommandSpec[] = [
  {
    name: 'watch',
    arity: -2,
    flags: ['noscript', 'loading', 'stale', 'fast'],
    keys: [1, -1, 1],
    handler: watch,
  },
  {
    name: 'unwatch',
    arity: 1,
    flags: ['noscript', 'loading', 'stale', 'fast'],
    keys: [0, 0, 0],
    handler: (_args, context) => {
      context.connection.watched.clear();
      return reply.ok;
    },
  },
];
