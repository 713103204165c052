// The session table: for each client id, the last request number executed and its result. It is
// replicated state (rebuilt from the log's entries on every replica), so a request retried after a
// failover is answered from here instead of being executed a second time.

import type { ClientId, Entry, LogIndex } from './types.js';

export interface Session {
  readonly requestNumber: number;
  /** The request was refused; `result` holds the refusal. */
  readonly refused: boolean;
  readonly result: Uint8Array;
  /** Where the entry that executed the request sits in the log. */
  readonly index: LogIndex;
}

export class SessionTable {
  private readonly sessions = new Map<ClientId, Session>();

  get(clientId: ClientId): Session | undefined {
    return this.sessions.get(clientId);
  }

  record(entry: Entry): void {
    this.sessions.set(entry.clientId, {
      requestNumber: entry.requestNumber,
      refused: entry.refused,
      result: entry.result,
      index: entry.index,
    });
  }

  get size(): number {
    return this.sessions.size;
  }
}
