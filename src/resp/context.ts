// What a command sees: the state of its own connection, and the cluster behind the port. The port
// runs inside a replica process, but it reaches the key/value service only through the client
// library, as any application would: `backend.client()` is the one Client every connection of the
// port shares (see backend.ts for why one), so every command gets the client's retries under one
// request id (at most once), its durability (sync: every backup's disk) and its reads at the
// primary (linearizable).

import type { Client, ReadOptions } from '../client/index.js';
import type { StatusReply } from '../protocol/messages.js';
import type { ReplicaSnapshot } from '../protocol/replica.js';
import type { StateSize } from '../protocol/state-machine.js';
import type { Credentials } from '../transport/index.js';
import type { CommandStats } from './command-stats.js';
import type { Planned } from './command-table.js';
import type { SharedSequences } from './shared-sequences.js';
import type { SlowLog } from './slow-log.js';

/** This replica as its core sees itself: what INFO reports besides the coordinator's view. */
export type LocalReplica = Pick<
  ReplicaSnapshot,
  | 'id'
  | 'role'
  | 'view'
  | 'lastIndex'
  | 'durableIndex'
  | 'commitIndex'
  | 'appliedIndex'
  | 'snapshot'
  | 'transfer'
>;

export interface RespBackend {
  /**
   * The key/value client all connections that authenticated with `token` share (null: the port asks
   * for no token), connected on first use; rejects while none can connect.
   */
  client(token: string | null): Promise<Client>;
  /** This replica, now. */
  local(): LocalReplica;
  /** The size of this replica's state, if its service measures it (INFO keyspace). */
  stateSize?(): StateSize | null;
  /** What this replica's disk is doing (INFO persistence), if the port runs in a replica. */
  persistence?(): LocalPersistence;
  /** The coordinator's status, asked with `token`, or null if it did not answer soon (INFO must not hang on it). */
  clusterStatus(token: string | null): Promise<StatusReply | null>;
  /**
   * Where a READONLY connection's reads go: to any member within the port's staleness bound, this
   * replica first, once it has applied `minIndex` (the connection's own last write). Undefined while
   * this replica is the primary: its reads are at the primary, linearizable, as every other's.
   */
  replicaReadOptions(minIndex: number): ReadOptions | undefined;
  /** Whether a new connection starts READONLY (`--resp-reads replica`), as if it had sent READONLY. */
  readonly readOnlyByDefault: boolean;
  close(): Promise<void>;
}

/** What this replica's disk is doing, as INFO persistence reports it. */
export interface LocalPersistence {
  /** It is writing a snapshot of its state now. */
  readonly writingSnapshot: boolean;
  /** Its last snapshot write failed (null: none was tried since it started). */
  readonly lastSnapshotWriteFailed: boolean | null;
}

/** One client connection's own state. */
export interface ConnectionState {
  /** Unique in this process, from 1 (CLIENT ID, HELLO). */
  readonly id: number;
  /** The client's address and the port's, as host:port (CLIENT LIST). */
  readonly remoteAddress: string;
  readonly localAddress: string;
  /** performance.now() when it connected, and when its last command came (CLIENT LIST's age, idle). */
  readonly connectedAtMs: number;
  lastCommandAtMs: number;
  /** Its last command's name (CLIENT LIST's cmd: `get`, `client|list`), or null before one. */
  lastCommand: string | null;
  /** CLIENT SETNAME, or null. */
  name: string | null;
  /** CLIENT SETINFO LIB-NAME and LIB-VER: the client library, as it names itself. */
  libName: string | null;
  libVersion: string | null;
  /**
   * The replicas besides the primary that held this connection's last acknowledged write when it was
   * answered (WAIT), or null before its first write.
   */
  lastWriteBackups: number | null;
  /**
   * READONLY (until READWRITE): reads are answered by this replica within the port's staleness
   * bound, after the connection's own writes (see RespBackend.replicaReadOptions).
   */
  readOnly: boolean;
  /** The log index of this connection's last acknowledged write (0 before one): what its reads must see. */
  lastWriteIndex: number;
  /**
   * WATCH: each watched key (by its bytes as latin1) with the value the connection last saw it hold
   * (at WATCH, or in a later GET or MGET; null: absent), until EXEC, DISCARD or UNWATCH; EXEC runs
   * only if every one still holds it (watch.ts).
   */
  readonly watched: Map<string, WatchedKey>;
  /** A value it saw would have passed the watch's byte bound: EXEC answers nil (watch.ts). */
  watchOverflowed: boolean;
  /** After MULTI (until EXEC or DISCARD): the commands queued, and whether one was refused (EXECABORT). */
  transaction: { readonly planned: Planned[]; aborted: boolean } | null;
  /** QUIT was asked: answer it, then close. */
  quitting: boolean;
  /** MONITOR was asked: it is sent the other connections' commands, and may only QUIT (monitor.ts). */
  monitoring: boolean;
  /** Closes the connection once what it was answered so far is written (CLIENT KILL). */
  readonly close: () => void;
  /** The token this connection authenticated with (AUTH), or null. Never logged or shown. */
  token: string | null;
}

/** A key under WATCH and the value the connection last saw it hold (null: absent). */
export interface WatchedKey {
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
}

/** What a port has seen, for INFO's Stats section and tests. */
export interface RespCounters {
  connections: number;
  /** Connections refused at the port's caps (in total, per address), as Redis's rejected_connections. */
  rejectedConnections: number;
  commands: number;
  /** Bytes read from clients and written to them (monitors' lines too). */
  inputBytes: number;
  outputBytes: number;
  /** GET, GETEX, GETDEL and each key of MGET that found its key, and those that did not. */
  keyspaceHits: number;
  keyspaceMisses: number;
  /** Pipelines of key/value commands run as one sequence. */
  pipelinedSequences: number;
  /** Sequences that carried the commands of more than one connection (shared-sequences.ts). */
  sharedSequences: number;
  protocolErrors: number;
}

/** What the server states about itself (INFO server, HELLO). */
export interface ServerFacts {
  /** The Redis version whose protocol this port follows, for clients that look. */
  readonly redisVersion: string;
  readonly understudyVersion: string;
  readonly respPort: number;
  readonly startedAtMs: number;
  /** 40 hex characters, new per process, as Redis's run_id. */
  readonly runId: string;
}

export interface CommandContext {
  readonly connection: ConnectionState;
  readonly backend: RespBackend;
  readonly facts: ServerFacts;
  /** The tokens this port accepts (AUTH), or null when it asks for none. */
  readonly credentials: Credentials | null;
  /** Where the port's connections hand over their commands for the primary, to share sequences. */
  readonly sharing: SharedSequences;
  /** What the port has seen so far (INFO stats). */
  readonly counters: Readonly<RespCounters>;
  /** The port's commands that took longest (SLOWLOG). */
  readonly slowLog: SlowLog;
  /** Calls and time per command, replies per error word (INFO commandstats, errorstats). */
  readonly commandStats: CommandStats;
  /** Every connection of the port open now, by id (CLIENT LIST, INFO clients). */
  readonly connections: ReadonlyMap<number, Readonly<ConnectionState>>;
}
