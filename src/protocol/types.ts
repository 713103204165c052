// The nouns of the protocol: identifiers, log positions, views and log entries.
// Branded types keep an index from being passed where a count or a view number is meant.

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

export type ReplicaId = Brand<string, 'ReplicaId'>;
export type ClientId = Brand<string, 'ClientId'>;
export type ViewNumber = Brand<number, 'ViewNumber'>;
/** 1-based position of an entry in the log; 0 means "before the first entry". */
export type LogIndex = Brand<number, 'LogIndex'>;
/** A connection of a client to a replica, named by the shell. */
export type ConnectionId = Brand<number, 'ConnectionId'>;
/** "host:port" */
export type Address = string;

export const replicaId = (value: string): ReplicaId => value as ReplicaId;
export const clientId = (value: string): ClientId => value as ClientId;
export const viewNumber = (value: number): ViewNumber => value as ViewNumber;
export const logIndex = (value: number): LogIndex => value as LogIndex;
export const connectionId = (value: number): ConnectionId => value as ConnectionId;

/**
 * When a write is acknowledged:
 * - `sync`: on the disk of the primary and of every backup of the view (committed);
 * - `replicated`: on the primary's disk and in the memory of every backup (their fsync follows in
 *   the background), what Redis's WAIT promises: it survives a failover unless every replica that
 *   held it failed (the primary, and each backup by a crash or restart that lost its memory);
 * - `async`: on the primary's disk; it may be lost in a failover (the loss is recorded).
 * The log stores a `replicated` entry as `sync` (the on-disk format has no third flag): once on disk
 * the difference no longer matters, and only the primary that answers the write acts on it.
 */
export type Durability = 'sync' | 'replicated' | 'async';

export const durabilities = ['sync', 'replicated', 'async'] as const satisfies readonly Durability[];

/**
 * Who a replica is beyond its id: the process (a new incarnation at every start) and the data
 * directory (a new identity whenever the directory is created, so a wiped or replaced one differs).
 * A member whose identity changed may have lost what it acknowledged, so it counts again only once
 * it has proved that it holds everything.
 */
export interface ReplicaIdentity {
  readonly incarnation: number;
  readonly directory: string;
}

export function sameIdentity(a: ReplicaIdentity, b: ReplicaIdentity): boolean {
  return a.incarnation === b.incarnation && a.directory === b.directory;
}

/**
 * Where an entry stands: the view that created it and its index. Two logs that hold an entry with
 * the same position hold the same entries up to it (only one primary appends in a view).
 */
export interface LogPosition {
  readonly view: ViewNumber;
  readonly index: LogIndex;
}

export const positionZero: LogPosition = { view: viewNumber(0), index: logIndex(0) };

export function comparePositions(a: LogPosition, b: LogPosition): number {
  return a.view !== b.view ? a.view - b.view : a.index - b.index;
}

export interface View {
  readonly number: ViewNumber;
  readonly primary: ReplicaId;
  readonly backups: readonly ReplicaId[];
  readonly learners: readonly ReplicaId[];
}

export type Role = 'primary' | 'backup' | 'learner' | 'none';

export function roleIn(view: View | null, id: ReplicaId): Role {
  if (view === null) return 'none';
  if (view.primary === id) return 'primary';
  if (view.backups.includes(id)) return 'backup';
  if (view.learners.includes(id)) return 'learner';
  return 'none';
}

export function membersOf(view: View): ReplicaId[] {
  return [view.primary, ...view.backups, ...view.learners];
}

/**
 * One log record. `update` is what backups apply; `result` is what the client is answered. A
 * refused write is logged too, with no update and the refusal (see `encodeRefusal`) as its result,
 * so that every retry of it is answered with the same refusal and it never runs later.
 */
export interface Entry {
  readonly view: ViewNumber;
  readonly index: LogIndex;
  readonly clientId: ClientId;
  readonly requestNumber: number;
  readonly durability: Durability;
  readonly refused: boolean;
  readonly update: Uint8Array;
  readonly result: Uint8Array;
}

/** A refusal by the service: a stable code and a message for people. */
export interface Refusal {
  readonly code: string;
  readonly message: string;
}

const refusalEncoder = new TextEncoder();
const refusalDecoder = new TextDecoder();

/** The result bytes of a refused entry: the code, a newline, the message (UTF-8). */
export function encodeRefusal(refusal: Refusal): Uint8Array {
  return refusalEncoder.encode(`${refusal.code}\n${refusal.message}`);
}

export function decodeRefusal(result: Uint8Array): Refusal {
  const text = refusalDecoder.decode(result);
  const newline = text.indexOf('\n');
  return newline === -1
    ? { code: text, message: '' }
    : { code: text.slice(0, newline), message: text.slice(newline + 1) };
}

/** A run of consecutive entries created in one view; a log's epochs summarise it for divergence checks. */
export interface Epoch {
  readonly view: ViewNumber;
  readonly startIndex: LogIndex;
}

/**
 * A snapshot file of the replicated state at a committed position: everything up to `position`
 * applied. `sizeBytes` and `checksum` (crc32 of the whole file) let a learner check a transfer.
 * A committed position holds the same state on every replica, so any copy of it is as good as another.
 */
export interface SnapshotInfo {
  readonly position: LogPosition;
  readonly sizeBytes: number;
  readonly checksum: number;
}

/** The same point of the log: an index written in the same view. */
export function samePosition(a: LogPosition, b: LogPosition): boolean {
  return a.view === b.view && a.index === b.index;
}

/** Two descriptions of the same snapshot file. */
export function sameSnapshot(a: SnapshotInfo, b: SnapshotInfo): boolean {
  return samePosition(a.position, b.position) && a.sizeBytes === b.sizeBytes && a.checksum === b.checksum;
}
