// WATCH and UNWATCH: optimistic transactions. WATCH reads the keys at the primary (linearizable) and
// the connection keeps the value each held; a GET or MGET of a watched key before EXEC replaces it
// with the value read. EXEC then sends its transaction behind one expect of those values, as one
// whole sequence (kv-sequence.ts): the store runs it only if every watched key still holds the
// value the connection last saw at that moment, and otherwise refuses it whole (VALUE_CHANGED), so
// nothing of it ran, and EXEC answers nil as Redis does. EXEC and DISCARD end the watch whatever
// became of the transaction; UNWATCH ends it at once. While a connection watches, its reads go to
// the primary even if it is READONLY: a value read within the staleness bound could be older than
// the one watched, and a transaction computed from it would pass the guard.
//
// Redis aborts the transaction when a watched key was written since WATCH; here, when it no longer
// holds the value the client last saw. So a transaction runs only on the values its client saw (a
// key written and given back an earlier value the client did not see last still aborts it), and it
// also runs where Redis would abort but the client has read the new value since. The watch is held
// by value, so one connection holds at most watchedKeysMax keys and watchedBytesMax bytes of keys
// and values (limits.ts); a read that would pass the bytes makes the next EXEC answer nil.

import { asBuffer } from '../buffers.js';
import { type KvOperation, type KvOperationOf, type KvOutcome, kvOperation } from '../state-machine/index.js';
import type { CommandSpec } from './command-table.js';
import type { CommandContext, ConnectionState } from './context.js';
import { errorReply } from './errors.js';
import { watchedBytesMax, watchedKeysMax } from './limits.js';
import { type RespReply, reply } from './replies.js';

/** Redis 7's answer to WATCH inside MULTI (a command flagged no-multi), which also discards the transaction. */
export const WATCH_INSIDE_MULTI = 'ERR Command not allowed inside a transaction';

/** A guard no transaction passes: its watch could not keep a value it saw (watchedBytesMax). */
export const OVERFLOWED = 'overflowed';

/**
 * The expect that guards the connection's transaction (null: nothing is watched; OVERFLOWED: EXEC
 * answers nil without sending it), ending the watch.
 */
export function takeWatchGuard(
  connection: ConnectionState,
): KvOperationOf<'expect'> | typeof OVERFLOWED | null {
  const { watched } = connection;
  const overflowed = connection.watchOverflowed;
  connection.watchOverflowed = false;
  if (watched.size === 0) return null;
  const entries = [...watched.values()];
  watched.clear();
  if (overflowed) return OVERFLOWED;
  return kvOperation.expect(
    entries.map((entry) => entry.key),
    entries.map((entry) => entry.value),
  );
}

/** Ends the connection's watch (UNWATCH, DISCARD). */
export function endWatch(connection: ConnectionState): void {
  connection.watched.clear();
  connection.watchOverflowed = false;
}

/**
 * Keeps, for each watched key that `operations` read (get, get-many) with an answer, the value read:
 * what the connection last saw of it, which its transaction's guard then expects.
 */
export function noteWatchedReads(
  connection: ConnectionState,
  operations: readonly KvOperation[],
  outcomes: readonly KvOutcome[],
): void {
  const { watched } = connection;
  if (watched.size === 0) return;
  const seen = (key: Uint8Array, value: Uint8Array | null): void => {
    const name = asBuffer(key).toString('latin1');
    const entry = watched.get(name);
    if (entry !== undefined) watched.set(name, { key: entry.key, value });
  };
  operations.forEach((operation, at) => {
    const outcome = outcomes[at];
    if (outcome?.ok !== true) return;
    const { result } = outcome;
    if (operation.kind === 'get' && result.kind === 'get') seen(operation.key, result.value);
    if (operation.kind === 'get-many' && result.kind === 'get-many') {
      operation.keys.forEach((key, index) => {
        seen(key, result.values[index] ?? null);
      });
    }
  });
  if (watchedBytes(connection) > watchedBytesMax) connection.watchOverflowed = true;
}

function watchedBytes(connection: ConnectionState): number {
  let bytes = 0;
  for (const entry of connection.watched.values()) {
    bytes += entry.key.byteLength + (entry.value?.byteLength ?? 0);
  }
  return bytes;
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
  const keys = [...fresh.values()];
  let values: (Uint8Array | null)[];
  try {
    const client = await context.backend.client(connection.token);
    const { result } = await client.execute(kvOperation.getMany(keys));
    if (result.kind !== 'get-many') throw new Error(`WATCH read a ${result.kind} result`);
    values = [...result.values];
  } catch (error) {
    const mapped = errorReply(error);
    if (mapped === null) throw error;
    return mapped;
  }
  let bytes = watchedBytes(connection);
  keys.forEach((key, at) => {
    bytes += key.byteLength + (values[at]?.byteLength ?? 0);
  });
  if (bytes > watchedBytesMax) {
    return reply.error(
      `ERR WATCH would hold ${bytes} bytes of keys and their values: one connection watches at most ${watchedBytesMax} in Understudy, which compares values`,
    );
  }
  [...fresh].forEach(([name, key], at) => {
    watched.set(name, { key: new Uint8Array(key), value: values[at] ?? null });
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
      endWatch(context.connection);
      return reply.ok;
    },
  },
];
