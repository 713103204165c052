// Entries the primary logs on its own account, not a client's: the expiry of sessions, the record of
// async writes lost in a failover, the start of a new primary's view, and the service's own updates
// as time passes (`StateMachine.dueUpdate`: the key/value store's expired keys). They carry the empty
// client id (clients must name themselves) and their operation in `update`; every replica applies
// them to its session table and loss record, and a service update to the service's state machine, so
// all replicas decide the same things at the same index.
//
// `view-start` changes nothing when applied. A new primary that inherits entries which may not have
// committed yet logs one, and commits nothing before it: so a log holding anything committed in a
// view ends with an entry of that view or a later one, and comparing the last entries of two logs says
// which holds more of what committed (as Raft's leader commits an entry of its own term first). Without
// it, entries of view 13 committed in view 17 sat at the end of a log that looked older than another's
// uncommitted entries of view 15, and a coordinator rebuilding from the replicas chose that other log
// (sim seed 1205286).

import { Packr } from 'msgpackr';
import type { LostEntry } from './messages.js';
import { type ClientId, clientId, type Entry, logIndex, viewNumber } from './types.js';

export const systemClientId: ClientId = clientId('');

export type SystemOperation =
  | { readonly kind: 'expire-sessions'; readonly clients: readonly ClientId[] }
  | { readonly kind: 'async-lost'; readonly entries: readonly LostEntry[] }
  | { readonly kind: 'view-start' }
  | { readonly kind: 'service-update'; readonly update: Uint8Array };

const packr = new Packr({ useRecords: false });

export function isSystemEntry(entry: Pick<Entry, 'clientId'>): boolean {
  return entry.clientId === systemClientId;
}

/** An entry that opens the session of its client (a client's writes carry request numbers ≥ 1). */
export function isSessionOpen(entry: Pick<Entry, 'clientId' | 'requestNumber'>): boolean {
  return entry.clientId !== systemClientId && entry.requestNumber === 0;
}

export function encodeSystemOperation(operation: SystemOperation): Uint8Array {
  const body =
    operation.kind === 'expire-sessions'
      ? [...operation.clients]
      : operation.kind === 'async-lost'
        ? operation.entries.map((lost) => [lost.view, lost.index, lost.clientId, lost.requestNumber])
        : operation.kind === 'service-update'
          ? [operation.update]
          : [];
  return new Uint8Array(packr.pack([operation.kind, body]));
}

/** Decodes what `encodeSystemOperation` wrote; anything else is a damaged log (entries are checksummed). */
export function decodeSystemOperation(update: Uint8Array): SystemOperation {
  const decoded: unknown = packr.unpack(update);
  if (!Array.isArray(decoded) || decoded.length !== 2 || !Array.isArray(decoded[1])) {
    throw new Error('a system entry is not [kind, items]');
  }
  const [kind, items] = decoded as [unknown, unknown[]];
  if (kind === 'expire-sessions') {
    return { kind, clients: items.map((item) => clientId(text(item))) };
  }
  if (kind === 'async-lost') {
    return {
      kind,
      entries: items.map((item) => {
        if (!Array.isArray(item) || item.length !== 4) throw new Error('a lost entry is not a 4-tuple');
        const [view, index, client, requestNumber] = item as unknown[];
        return {
          view: viewNumber(count(view)),
          index: logIndex(count(index)),
          clientId: clientId(text(client)),
          requestNumber: count(requestNumber),
        };
      }),
    };
  }
  if (kind === 'service-update') {
    const [update] = items;
    if (items.length !== 1 || !(update instanceof Uint8Array))
      throw new Error('a service update is not [bytes]');
    return { kind, update };
  }
  if (kind === 'view-start') {
    if (items.length > 0) throw new Error('a view-start entry has items');
    return { kind };
  }
  throw new Error(`unknown system entry kind ${String(kind)}`);
}

function text(value: unknown): string {
  if (typeof value !== 'string') throw new Error('a system entry field is not a string');
  return value;
}

function count(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new Error('a system entry field is not a non-negative integer');
  }
  return value;
}
