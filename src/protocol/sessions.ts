// The session table: for each client id, the last request number executed and its result. It is
// replicated state (rebuilt from the log's entries on every replica, and kept in snapshots), so a
// request retried after a failover is answered from here instead of being executed a second time.
//
// A session exists from the entry that opened it to the entry that expired it. Both are log entries,
// so every replica holds the same sessions at the same index. The table keeps sessions in order of
// their last activity (the index of their last entry), oldest first: the same order everywhere, so
// the primary can name the oldest to expire and every replica agrees on what "oldest" was.

import { assert } from './assert.js';
import type { ClientId, Entry, LogIndex } from './types.js';

export interface Session {
  /** The last request number executed (0 for a session just opened). */
  readonly requestNumber: number;
  /** The request was refused; `result` holds the refusal. */
  readonly refused: boolean;
  readonly result: Uint8Array;
  /** Where the session's last entry sits in the log. */
  readonly index: LogIndex;
}

const noResult = new Uint8Array(0);

export class SessionTable {
  private readonly sessions = new Map<ClientId, Session>();

  get(clientId: ClientId): Session | undefined {
    return this.sessions.get(clientId);
  }

  /** An open-session entry: creates the session, or marks an existing one active. */
  open(clientId: ClientId, index: LogIndex): void {
    const existing = this.sessions.get(clientId);
    this.sessions.delete(clientId);
    this.sessions.set(clientId, existing ?? { requestNumber: 0, refused: false, result: noResult, index });
  }

  /** A client's write (executed or refused): the session now answers it to every retry. */
  record(entry: Entry): void {
    assert(entry.requestNumber >= 1, 'only writes are recorded');
    this.sessions.delete(entry.clientId);
    this.sessions.set(entry.clientId, {
      requestNumber: entry.requestNumber,
      refused: entry.refused,
      result: entry.result,
      index: entry.index,
    });
  }

  expire(clientIds: readonly ClientId[]): void {
    for (const id of clientIds) this.sessions.delete(id);
  }

  /** Sessions, least recently active first. */
  entries(): IterableIterator<[ClientId, Session]> {
    return this.sessions.entries();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Rebuilds a table from `entries()` of another (a snapshot), keeping its order. */
  static from(entries: Iterable<readonly [ClientId, Session]>): SessionTable {
    const table = new SessionTable();
    for (const [id, session] of entries) table.sessions.set(id, session);
    return table;
  }
}
