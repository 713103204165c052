// The workload of a chaos run: `clients` Clients (one connection to the primary each), each shared
// by `pipeline` logical processes. A process runs one operation at a time until it is stopped, as a
// history requires, so each connection carries up to `pipeline` calls at once; every operation is
// recorded in a HistoryRecorder. Process p uses Client ⌊p / pipeline⌋.
//
// Keys come in two groups so the checks can read them: K register slots take read, write, cas and
// incr, each on a fresh key every REGISTER_KEY_SECONDS of the run ("r0.0", "r0.1", ...); append
// keys take append and read only, so a final read of an append key lists every token
// that reached it. Register values are unique per process: mostly decimal numbers (process p's n-th
// is (p + 1)·10⁹ + n·10³, and increments climb inside that block), and sometimes words ("p3-w17"),
// so an incr is refused NOT_AN_INTEGER or not depending on the value: the refusal is an observation
// the checker holds against the model.
// Keys that expire: a tenth of the register writes carry a time to live, and each library process has
// an expiring register of its own ("x3.0", moving on as the slots do), which it alone writes, about
// once a second and always with a time to live, and which every process reads: there keys live long
// enough to expire, and reads see them go. Each write with a time to live puts a deletion into the
// history from the earliest time the cluster may make it (expectExpiry); expiry-check.ts checks at
// the end that keys whose time came are gone.
// An append value grows without end, and so does every read of it in the history and every value
// the checker's search carries for that key; so each of the K append slots moves to a fresh key
// ("a0.0", "a0.1", ...) once a process sees its value pass APPEND_VALUE_BYTES_MAX, by the length an
// append answers or by a read. Every key ever used is read at the end.
//
// Outcomes: ok with the result (an append's is the value's new length in bytes); fail when the
// operation definitely did not happen and the history says why: a cas that did not swap (no code),
// or a refusal the service gives because of the value (incr NOT_AN_INTEGER, append
// VALUE_TOO_LARGE), recorded with its code. Anything else is info (unknown): OutcomeUnknownError,
// a refused old retry, a dropped connection, and refusals the model does not judge (they say
// nothing the checker can hold against the value; all are counted in `unsuccessfulByCause`). A
// failed read is info too: it observed nothing. Async writes are acknowledged before they are
// replicated and may be lost in a failover by design, so they go into the history as info and are
// counted apart.
// A write that ended OutcomeUnknownError (the first client, of several, gives up after
// CLIENT_SHORT_DEADLINE_MS, so faults leave some) is, half the time, settled by asking the cluster: the
// process keeps the operation open and asks `requestStatus` until it is answered (the fault that
// hid the outcome must heal first), then records what it learned: executed → ok with its result
// (the answer comes once the entry committed), refused → as a refusal, cancelled → fail with
// REQUEST_CANCELLED (it never ran and never will: the checker leaves it out), forgotten or expired
// → info. SessionExpiredError is info too: whether the write ran can no longer be learned.
//
// Multi-key and conditional writes (MULTI_KEY_PROBABILITY of the operations): flag keys take put-if
// absent (recorded as a cas from null) or present (a replace) and delete; group keys stand for
// members written, deleted and read only together (put-many, delete-many, get-many), and a group
// read whose members disagree is a torn read (src/sim/multi-key-workload.ts, shared with the
// simulator). Their keys move on like register keys.
//
// Redis-port processes (`redisProcesses`, numbered after the others): each runs GET, SET, APPEND and
// INCR on the same register and append keys through a replica's Redis port, a connection of its own
// to one port at a time (moving to the next replica's port after a lost connection), so the port's
// commands share the history, and its checks, with the library's. A SET answered OK and an APPEND
// or INCR answered a number are definite, and so is INCR's not-an-integer error (the service's
// NOT_AN_INTEGER, recorded as the library's refusal is); any other error reply or a lost connection
// is info. They send each command once: a port that
// ran one twice would show as a duplicate append. Half their connections send READONLY first: the
// GETs of such a connection are answered by the port's own replica within REDIS_READ_STALENESS_MS,
// after the connection's own writes, so they go to the staleness check as bounded reads (with
// readYourWrites), not to the history. Some of their pipelines are transactions (MULTI ... EXEC), and
// half of those WATCH their keys a moment before: an EXEC answered nil never ran, so its writes are
// recorded as failed VALUE_CHANGED (never took effect, as a cancelled write) and its reads as info.
// And one step in ten is a compare-and-set done the Redis way, WATCH, GET, MULTI, SET, EXEC on a
// register: the port's guard expects the value the GET read, so it goes into the history as a cas
// from that value (EXEC's array: swapped; nil: not swapped). A few steps (REDIS_RANDOMKEY_PROBABILITY)
// ask RANDOMKEY, which must answer nil or a name this run gives its keys (workloadKeyPattern). A
// share of new connections (REDIS_SENTINEL_PROBABILITY) go where a coordinator's Sentinel port names
// the primary, as a Sentinel client's would; an answer that is not a Redis port of the run fails it.
//
// About every REDIS_FLUSHALL_INTERVAL_MS one Redis-port step is a FLUSHALL: a clear of every key,
// in the history once (check/history.ts expands it into a delete of each key); OK is definite. The
// other checks take it into account: a staged move whose staging key a FLUSHALL may have taken is
// unknown, not the port's bug; a bounded read may find a key emptied by one (staleness.ts); an async
// append one may have followed is not counted lost. Half of them carry another command after them in
// one pipeline, so the port's sequence runs it on the emptied store. The run writes its ballast
// again after each.
//
// The saver (snapshot-saver.ts; when the run gives a directory for its files), one more process
// numbered after the Redis-port ones, saves a snapshot of the cluster every few seconds through a
// Client of its own and records each save as a read of every register key.
//
// The scanner (scanner.ts) walks every key with SCAN every few seconds through the last library
// Client; its walks stay out of the history and are checked against it (check/scans.ts).
//
// Bounded reads: some reads ask any member, within BOUNDED_READ_MAX_STALENESS_MS (half of them also
// readYourWrites). A backup may answer them from an older state, so they stay out of the history;
// they, and every write's version (its value or length, log index and acknowledgement time), go to
// the staleness check (staleness.ts) instead.

import { mkdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  answeredReadingWrite,
  type EventValue,
  everyKey,
  type HistoryRecorder,
  type OperationFunction,
  type OperationHandle,
} from '../check/index.js';
import { Client, type KvRequestStatus, type WriteMetadata } from '../client/index.js';
import {
  ConfigError,
  ErrorCode,
  OutcomeUnknownError,
  RequestRefusedError,
  SessionExpiredError,
  UnderstudyError,
} from '../errors.js';
import { assert } from '../protocol/assert.js';
import type { Durability } from '../protocol/types.js';
import { notAnIntegerText } from '../resp/arguments.js';
import { notAFloatText } from '../resp/errors.js';
import { chooseFlagWrite, chooseGroupWrite, groupMembers, groupValue } from '../sim/multi-key-workload.js';
import { Random } from '../sim/random.js';
import { recordedRefusal } from '../sim/sequence-workload.js';
import { decodeResult, encodeOperation, kvOperation } from '../state-machine/index.js';
import type { ExpiringValue } from './expiry-check.js';
import {
  RedisConnectionError,
  RedisPortClient,
  type RedisReply,
  RedisReplyError,
} from './redis-port-client.js';
import { Scanner } from './scanner.js';
import { SnapshotSaver } from './snapshot-saver.js';
import type { BoundedRead, KeyKind, WriteVersion } from './staleness.js';

/** Deadline of one client call, retries included. */
export const CLIENT_DEADLINE_MS = 5000;
/**
 * The first client's deadline, when there are several: short enough that a fault on the primary
 * leaves its writes of unknown outcome, for request-status to settle.
 */
export const CLIENT_SHORT_DEADLINE_MS = 800;
export const ASYNC_WRITE_PROBABILITY = 0.1;
/**
 * Share of the other writes, appends and cas that ask for `replicated` durability: acknowledged on
 * the primary's disk and every backup's memory, they must survive every fault here as sync ones do
 * (the nemesis never crashes every replica), and are checked as definite.
 */
export const REPLICATED_WRITE_PROBABILITY = 0.25;
/** How long a Redis-port process waits to connect, for one command's reply (the port's own deadline is 10 s), and between failed connects. */
export const REDIS_CONNECT_TIMEOUT_MS = 2000;
export const REDIS_COMMAND_TIMEOUT_MS = 15_000;
const REDIS_RECONNECT_PAUSE_MS = 100;
/** Share of Redis-port connections that send READONLY first. */
export const REDIS_READONLY_PROBABILITY = 0.5;
/** The ports' bound for READONLY reads (`--resp-read-staleness-ms`, which the run gives every replica). */
export const REDIS_READ_STALENESS_MS = 500;
/** Share of a Redis-port process's steps that send a pipeline of commands (one sequence at the port). */
export const REDIS_PIPELINE_PROBABILITY = 0.3;
/** Share of pipelines sent as a transaction, MULTI ... EXEC (one whole sequence at the port). */
export const REDIS_TRANSACTION_PROBABILITY = 0.5;
/**
 * Share of transactions that WATCH their keys first, a moment (up to REDIS_WATCH_PAUSE_MS_MAX)
 * before MULTI: a write by another process meanwhile makes EXEC answer nil, and none of it ran.
 */
export const REDIS_WATCH_PROBABILITY = 0.5;
/**
 * Share of a Redis-port process's steps that compare and set a register the Redis way: WATCH it,
 * GET it, then MULTI, SET, EXEC. The port's guard expects what the GET read, so the four commands
 * are a cas from that value: EXEC's array is a swap, its nil a value that differed.
 */
export const REDIS_WATCHED_CAS_PROBABILITY = 0.1;
/**
 * Share of a Redis-port process's new connections that go where a coordinator's Sentinel port names
 * the primary (SENTINEL GET-MASTER-ADDR-BY-NAME), as a Sentinel client would, instead of the next port.
 */
export const REDIS_SENTINEL_PROBABILITY = 0.3;
/** The master name a Sentinel port knows the cluster by: its cluster id (chaos runs the default). */
export const SENTINEL_MASTER_NAME = 'understudy';

/** Share of a Redis-port process's other steps that ask RANDOMKEY (checked to name a key of the run). */
export const REDIS_RANDOMKEY_PROBABILITY = 0.03;
const REDIS_WATCH_PAUSE_MS_MAX = 10;
/** The most commands of one pipeline: each a history process of its own. */
export const REDIS_PIPELINE_WIDTH_MAX = 3;
/** Redis-port connections are "clients" from here on in the staleness check (library Clients count from 0). */
const REDIS_CONNECTION_CLIENT_BASE = 1_000_000;
/** Bounds one process's operations; register values are unique up to this many per process. */
export const OPERATIONS_PER_PROCESS_MAX = 999_999;
export const PROCESS_VALUE_STRIDE = 1_000_000_000;
export const SEQUENCE_VALUE_STRIDE = 1000;
/** Once an append key's value is this long, its slot moves on to a fresh key. */
export const APPEND_VALUE_BYTES_MAX = 2048;
/**
 * Share of the library processes' register writes sent with a time to live (`set` with `ttlMs`), and
 * its range. Each such write puts a deletion of the key into the history (a delete of unknown outcome,
 * on a process of its own) invoked EXPIRY_MARGIN_MS before the earliest time the cluster may delete
 * it: the primary fixes the key's time when it runs the write, after the client sent it, on the same
 * machine's clock. So a key gone sooner than its time to live is a violation, and one gone after it is
 * explained; the margin covers the two clocks (the run's monotonic one, the primary's wall clock).
 */
export const TTL_WRITE_PROBABILITY = 0.1;
const TTL_MS_MIN = 200;
const TTL_MS_MAX = 3000;
const EXPIRY_MARGIN_MS = 20;
/** History processes of the expiries, one each: past every process a workload has. */
const EXPIRY_PROCESS_BASE = 10_000_000;
/** Share of library register writes (without a time to live) sent as a GETSET or a GETDEL. */
export const READING_WRITE_PROBABILITY = 0.08;
/** Of those, the share that are a GETDEL. */
const GET_DELETE_SHARE = 0.3;
/**
 * Share of a library process's steps on the expiring registers ("x<p>.<generation>", one per process,
 * moving on as register slots do): the register slots take a write every few milliseconds, each
 * plain put ending the time a write gave, so their keys almost never live long enough to expire.
 * Process p alone writes its own, every second or so (EXPIRING_WRITE_SHARE of these steps), always
 * with a time to live; every process reads them all. So keys expire between writes, and reads see them go.
 */
export const EXPIRING_KEY_PROBABILITY = 0.05;
const EXPIRING_WRITE_SHARE = 0.1;
/** Share of register writes and cas replacements that write a word, which incr refuses. */
export const REGISTER_WORD_PROBABILITY = 0.2;
/** Share of reads sent to any member under a staleness bound (kept out of the history). */
export const BOUNDED_READ_PROBABILITY = 0.3;
/** The staleness bound of those reads. */
export const BOUNDED_READ_MAX_STALENESS_MS = 500;
/** Share of bounded reads that also ask for the connection's own writes. */
export const READ_YOUR_WRITES_PROBABILITY = 0.5;
/** Share of writes ended OutcomeUnknownError that ask the cluster what became of them. */
export const REQUEST_STATUS_PROBABILITY = 0.5;
/** Pause between request-status questions that got no answer. */
export const REQUEST_STATUS_RETRY_MS = 200;
/** Once the workload stops, a request-status question is asked at most this many more times. */
export const REQUEST_STATUS_ATTEMPTS_AFTER_STOP = 2;
/** Share of operations on flag and group keys (multi-key and conditional writes); half on each. */
export const MULTI_KEY_PROBABILITY = 0.2;
/** Share of the operations on flag and group keys that read. */
const MULTI_KEY_READ_PROBABILITY = 0.3;
/** Cumulative shares of the operation mix: read 30%, write 20%, append 20%, cas 15%, incr 15%. */
const operationMix: readonly (readonly [OperationFunction, number])[] = [
  ['read', 0.3],
  ['write', 0.5],
  ['append', 0.7],
  ['cas', 0.85],
  ['incr', 1],
];

/**
 * A register slot moves to a fresh key every this many seconds of the run (Jepsen's independent
 * keys): the linearizability search grows with the history of one key, and a long run's history on
 * one key, with the unknown outcomes its faults leave, is more than the checker can decide. (30 s
 * was enough until the hot path got faster: a 150 s run with twice the operations left two keys
 * undecided, seed 20261202; 15 s was enough until the snapshot got faster: seed 20261204 left two.)
 */
export const REGISTER_KEY_SECONDS = 8;

export const registerKey = (slot: number, generation: number): string => `r${slot}.${generation}`;
export const appendKey = (slot: number, generation: number): string => `a${slot}.${generation}`;
export const expiringKey = (process: number, generation: number): string => `x${process}.${generation}`;
/** Process p's register value of its n-th operation: unique to it, a word when `word`, else a number. */
const registerValue = (process: number, sequence: number, word: boolean): string =>
  word
    ? `p${process}-w${sequence}`
    : String((process + 1) * PROCESS_VALUE_STRIDE + sequence * SEQUENCE_VALUE_STRIDE);
/** Process p's append token of its n-th operation: unique to it. */
const appendToken = (process: number, sequence: number): string => `p${process}-${sequence};`;
export const chaosFlagKey = (slot: number, generation: number): string => `flag${slot}.${generation}`;
export const chaosGroupKey = (slot: number, generation: number): string => `group${slot}.${generation}`;
/**
 * Every name a key of a chaos run may have: the makers above, a group's members (groupMembers), a
 * staging key (redisStagedWrite) and a ballast key (cluster-settings.ts). RANDOMKEY must answer one of
 * these or nil; a key family added without its name here fails the run, saying which.
 */
const workloadKeyPattern = /^(?:(?:r|a|x|flag)\d+\.\d+|group\d+\.\d+\.\d+|staging-\d+-\d+|ballast\.\d+)$/;

export interface WorkloadOptions {
  readonly coordinator: string;
  readonly clients: number;
  /** Processes per Client: calls in flight on one connection. */
  readonly pipeline: number;
  readonly keys: number;
  /** Seeds each process's choice of operations. */
  readonly seed: number;
  readonly recorder: HistoryRecorder;
  /** Monotonic nanoseconds since the run started. */
  readonly clock: () => number;
  /** The name of the member at an address a client dialled (a replica id), for bounded reads. */
  readonly memberName?: (address: string) => string;
  /** History processes that go through the replicas' Redis ports (none if absent). */
  readonly redisProcesses?: number;
  /** Where the Redis ports of the replicas running now listen. */
  readonly redisPorts?: () => readonly string[];
  /** Where the coordinators' Sentinel ports running now listen (none if absent). */
  readonly sentinelPorts?: () => readonly string[];
  /** Whether a replica of the run had its Redis port at this address (now or at an earlier start). */
  readonly wasRedisAddress?: (address: string) => boolean;
  /** Where the saver writes its snapshot saves (made if missing); no saver if absent. */
  readonly saveDirectory?: string;
  /** Keep every save file (the run keeps its directory); else only the last few. */
  readonly keepSaves?: boolean;
  /** About how often a Redis-port process sends FLUSHALL (REDIS_FLUSHALL_INTERVAL_MS if absent). */
  readonly clearIntervalMs?: number;
  /** Writes the run's ballast again after a clear took it (absent: the run has none). */
  readonly rewriteBallast?: () => Promise<void>;
}

/** What became of the writes whose outcome the workload asked for, by the answer's state. */
export type RequestStatusState = KvRequestStatus['state'] | 'unanswered';

export interface BoundedReadCounts {
  /** Bounded reads answered (by the primary or a backup). */
  answered: number;
  /** STALE answers members gave along the way (the client then asked the next member). */
  staleAnswers: number;
  /** Bounded reads no member answered in time. */
  failed: number;
}

/**
 * About how often a Redis-port process clears every key (FLUSHALL): rarely, as in use, since each
 * takes every key the other checks follow (each time drawn from half to one and a half of this; the
 * first from a tenth to two fifths).
 */
export const REDIS_FLUSHALL_INTERVAL_MS = 25_000;
/** Share of FLUSHALLs sent with another command after them in one pipeline (one sequence at the port). */
export const REDIS_CLEAR_PIPELINED_PROBABILITY = 0.5;

/** How a staged register write moves its value over the register (redisStagedWrite), in turn. */
const stagedMoves = ['RENAME', 'COPY', 'RENAMENX'] as const;
type StagedMove = (typeof stagedMoves)[number];

/** One command of a Redis-port step: its arguments, and how its reply, or none, is recorded. */
/** What the Redis-port processes sent, before they sent anything (the report's redisCommands). */
export function noRedisCommands() {
  return {
    sent: 0,
    ok: 0,
    readOnlyReads: 0,
    pipelines: 0,
    transactions: 0,
    watched: 0,
    watchAborts: 0,
    watchedCas: 0,
    watchedCasNotSwapped: 0,
    ifEqualCas: 0,
    stagedWrites: 0,
    flushes: 0,
    flushesOk: 0,
    randomKeys: 0,
    randomKeysNil: 0,
    sentinelAsks: 0,
    sentinelNamed: 0,
    sentinelNil: 0,
  };
}

interface RedisCommand {
  readonly args: readonly string[];
  settle(reply: RedisReply): void;
  /** No reply came: the connection was lost (`why`). */
  lost(why: string): void;
  /** Its transaction's EXEC answered nil (a watched key changed): it never ran. */
  aborted(): void;
}

/** A Redis-port process's connection, and what the staleness check knows it by. */
interface RedisSession {
  readonly connection: RedisPortClient;
  readonly address: string;
  readonly readOnly: boolean;
  /** Its number among the staleness check's clients (its writes and its reads' readYourWrites). */
  readonly client: number;
}

export interface WriteAcknowledgement {
  readonly timeNs: number;
  readonly view: number;
}

export interface AsyncAppend {
  readonly key: string;
  readonly token: string;
}

export class Workload {
  /** Every write answered by a primary (swapped or not), for measuring failovers. */
  readonly writeAcknowledgements: WriteAcknowledgement[] = [];
  readonly asyncAppendsAcknowledged: AsyncAppend[] = [];
  asyncWritesAcknowledged = 0;
  /** Replicated writes acknowledged (checked as definite, like sync ones). */
  replicatedWritesAcknowledged = 0;
  /** Why operations did not complete ok: an error code, or "cas not swapped". */
  readonly unsuccessfulByCause = new Map<string, number>();
  /** Every write's version, for the staleness check. */
  readonly versions: WriteVersion[] = [];
  readonly boundedReads: BoundedRead[] = [];
  readonly boundedReadCounts: BoundedReadCounts = { answered: 0, staleAnswers: 0, failed: 0 };
  /** Writes that ended SessionExpiredError. */
  sessionsExpired = 0;
  /** Register writes sent with a time to live; each put a possible deletion into the history. */
  expiringWrites = 0;
  /** Processes that stopped on an error of the runner (guarded): each a problem of the run. */
  readonly crashes: string[] = [];
  /** GETSETs and GETDELs acknowledged, each recorded as a cas from the value before it. */
  readingWrites = 0;
  /** Of them, GETDELs. */
  getDeletes = 0;
  /** Increments answered that went as incrFloat (INCRBYFLOAT on the Redis port). */
  incrFloats = 0;
  /** Group writes answered that went as putManyIfAbsent (MSETNX). */
  allAbsentWrites = 0;
  /**
   * Register reads that found the key absent though a definite write of it was acknowledged before
   * they began: the cluster deleted it, which only expiry does to a register.
   */
  expiriesSeen = 0;
  /** A register's first definite write acknowledged (monotonic ns), by key. */
  private readonly registersWritten = new Map<string, number>();
  /** Values written by a definite write with a time to live, each once (values are unique). */
  readonly expiringValues = new Map<string, ExpiringValue>();
  /**
   * Commands the Redis-port processes sent, those answered ok (the rest are info), the GETs among
   * them sent on READONLY connections (bounded reads), the pipelines they were sent in, and the
   * pipelines among those sent as transactions (MULTI ... EXEC).
   */
  readonly redisCommands = noRedisCommands();
  /** Each staging key a Redis-port process wrote (redisStagedWrite), and when its SET was sent. */
  readonly stagingKeys = new Map<string, number>();
  /** Every FLUSHALL sent: when, and when answered OK (null until then, or never). */
  readonly clears: { readonly invokedNs: number; acknowledgedNs: number | null }[] = [];
  /** When the next FLUSHALL is due (REDIS_FLUSHALL_INTERVAL_MS); the first Redis-port step sets it. */
  private nextClearNs: number | null = null;
  private redisConnectionsMade = 0;
  /** Group reads whose members disagreed: a multi-key write applied in part. */
  readonly tornReads: string[] = [];
  /**
   * Redis-port replies of a shape no answer to their command may have (an INCR answered with a
   * string or a malformed integer): the port's bug, whatever the faults, so each fails the run.
   */
  readonly malformedRedisReplies: string[] = [];
  readonly requestStatusAnswers = new Map<RequestStatusState, number>();
  private readonly multiKeysUsed = new Set<string>();
  private readonly registerKeysUsed = new Set<string>();
  private readonly appendKeysUsed = new Set<string>();
  private stopped = false;
  private readonly loops: Promise<void>[];
  /** How many history processes run: the final reads use the next number. */
  readonly processes: number;
  /** The Redis-port processes' open connections, closed at once by stop(). */
  private readonly redisConnections = new Set<RedisPortClient>();
  /** The saver, if the run gave it a directory; its counts are the report's saves. */
  readonly saver: SnapshotSaver | null = null;
  /** Walks every key with SCAN while the faults go on (scanner.ts); its counts are the report's scans. */
  readonly scanner: Scanner;
  /** Ends the saver's and the scanner's pauses at once when the workload stops. */
  private readonly stopping = new AbortController();

  private constructor(
    private readonly options: WorkloadOptions,
    private readonly clients: readonly Client[],
    /** The saver's own Client: its saves wait on nothing the other processes do. */
    private readonly saverClient: Client | null,
  ) {
    for (let slot = 0; slot < options.keys; slot++) {
      this.registerKeysUsed.add(registerKey(slot, 0));
      this.appendKeysUsed.add(appendKey(slot, 0));
    }
    const seeds = new Random(options.seed);
    this.loops = Array.from({ length: clients.length * options.pipeline }, (_, process) => {
      const clientIndex = Math.floor(process / options.pipeline);
      const client = clients[clientIndex];
      assert(client !== undefined, `no client for process ${process}`);
      return this.guarded(
        process,
        this.runProcess(process, clientIndex, client, new Random(seeds.nextUint32())),
      );
    });
    // Drawn after the library's processes, so theirs are the same with or without these.
    let next = this.loops.length;
    for (let redis = 0; redis < (options.redisProcesses ?? 0); redis++) {
      this.loops.push(this.guarded(next, this.runRedisProcess(next, new Random(seeds.nextUint32()))));
      next += REDIS_PIPELINE_WIDTH_MAX;
    }
    // Drawn after the Redis-port processes, for the same reason.
    if (saverClient !== null && options.saveDirectory !== undefined) {
      const saverProcess = next++;
      this.saver = new SnapshotSaver({
        client: saverClient,
        directory: options.saveDirectory,
        keepFiles: options.keepSaves === true,
        process: saverProcess,
        random: new Random(seeds.nextUint32()),
        recorder: options.recorder,
        clock: options.clock,
        registerKeys: () => this.registerKeys,
      });
      this.loops.push(this.guarded(saverProcess, this.saver.run(this.stopping.signal)));
    }
    // Drawn after the saver, for the same reason. Out of the history: it needs no process of its own.
    const scanClient = clients[clients.length - 1];
    assert(scanClient !== undefined, 'a workload has a client');
    this.scanner = new Scanner({
      client: scanClient,
      random: new Random(seeds.nextUint32()),
      clock: options.clock,
    });
    this.loops.push(this.guarded(next, this.scanner.run(this.stopping.signal)));
    this.processes = next;
  }

  static async start(options: WorkloadOptions): Promise<Workload> {
    const clients: Client[] = [];
    let saverClient: Client | null = null;
    try {
      for (let process = 0; process < options.clients; process++) {
        clients.push(
          await Client.connect({
            coordinator: options.coordinator,
            deadlineMs: process === 0 && options.clients > 1 ? CLIENT_SHORT_DEADLINE_MS : CLIENT_DEADLINE_MS,
          }),
        );
      }
      if (options.saveDirectory !== undefined) {
        mkdirSync(options.saveDirectory, { recursive: true });
        saverClient = await Client.connect({
          coordinator: options.coordinator,
          deadlineMs: CLIENT_DEADLINE_MS,
        });
      }
    } catch (error) {
      await Promise.all(clients.map((client) => client.close()));
      throw error;
    }
    return new Workload(options, clients, saverClient);
  }

  /** Every register key used so far (each slot's first key at least). */
  get registerKeys(): readonly string[] {
    return [...this.registerKeysUsed];
  }

  /** Every append key used so far (each slot's first key at least). */
  get appendKeys(): readonly string[] {
    return [...this.appendKeysUsed];
  }

  get keys(): readonly string[] {
    return [...this.registerKeys, ...this.appendKeys, ...this.multiKeysUsed];
  }

  /**
   * A process's loop, whose error (a bug of the runner's, never the cluster's: those are recorded)
   * becomes a problem of the run rather than an unhandled rejection, which would end the runner
   * before it stopped the cluster and unmounted its disks.
   */
  private guarded(process: number, loop: Promise<void>): Promise<void> {
    return loop.catch((error: unknown) => {
      this.crashes.push(
        `workload process ${process} stopped on an error of the runner: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
    });
  }

  /** Lets every process finish its operation in flight, then closes the clients. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    // A command in flight through a port may wait for its deadline: its outcome is unknown (info).
    for (const connection of this.redisConnections) connection.close();
    await Promise.all(this.loops);
    const clients = this.saverClient === null ? this.clients : [...this.clients, this.saverClient];
    await Promise.all(clients.map((client) => client.close()));
  }

  private async runProcess(
    process: number,
    clientIndex: number,
    client: Client,
    random: Random,
  ): Promise<void> {
    const state: ProcessState = {
      process,
      clientIndex,
      client,
      random,
      lastRead: new Map(),
      generations: Array.from({ length: this.options.keys }, () => 0),
    };
    for (let sequence = 1; !this.stopped && sequence <= OPERATIONS_PER_PROCESS_MAX; sequence++) {
      await this.step(state, sequence);
    }
  }

  private async step(state: ProcessState, sequence: number): Promise<void> {
    const { recorder, clock } = this.options;
    const { process, client, random, lastRead, generations } = state;
    if (random.chance(MULTI_KEY_PROBABILITY)) {
      await this.multiKeyStep(state, sequence);
      return;
    }
    const expiring = random.chance(EXPIRING_KEY_PROBABILITY);
    const roll = random.next();
    const chosen: OperationFunction = expiring
      ? roll < EXPIRING_WRITE_SHARE
        ? 'write'
        : 'read'
      : (operationMix.find(([, share]) => roll < share)?.[0] ?? 'read');
    const { key, kind, observe } = expiring
      ? this.chooseExpiringKey(chosen, process, random)
      : this.chooseKey(chosen, random, generations);
    // Now and then a register write answers the value the key held before it (GETSET), or is a
    // GETDEL instead: it goes into the history once answered, as a cas from the value it found.
    const reading =
      chosen === 'write' && !expiring && kind === 'register' && random.chance(READING_WRITE_PROBABILITY)
        ? random.chance(GET_DELETE_SHARE)
          ? 'get-delete'
          : 'get-set'
        : null;
    const f: OperationFunction = reading === 'get-delete' ? 'delete' : chosen;
    if (f === 'read' && random.chance(BOUNDED_READ_PROBABILITY)) {
      await this.boundedRead(state, key, kind, observe);
      return;
    }
    const durability: Durability =
      (f === 'write' || f === 'append') && reading === null && random.chance(ASYNC_WRITE_PROBABILITY)
        ? 'async'
        : (f === 'write' || f === 'append' || f === 'cas') && random.chance(REPLICATED_WRITE_PROBABILITY)
          ? 'replicated'
          : 'sync';
    const value = registerValue(
      process,
      sequence,
      (f === 'write' || f === 'cas') && random.chance(REGISTER_WORD_PROBABILITY),
    );
    const token = appendToken(process, sequence);
    const expected = lastRead.get(key) ?? null;
    const input: EventValue =
      f === 'read' || f === 'delete'
        ? null
        : f === 'write'
          ? value
          : f === 'append'
            ? token
            : f === 'cas'
              ? [expected, value]
              : 1;
    const invokedNs = clock();
    // A GETSET or GETDEL is invoked in the history only when its outcome is unknown or refused
    // (as the write or delete it is); answered, it is recorded as what it found (readingWriteAnswered).
    let invoked = reading === null ? recorder.invoke(process, f, key, input, invokedNs) : undefined;
    const handle = () => {
      invoked ??= recorder.invoke(process, f, key, input, invokedNs);
      return invoked;
    };
    const acknowledged = (metadata: WriteMetadata) => {
      this.writeAcknowledgements.push({ timeNs: clock(), view: metadata.view });
      if (metadata.durability === 'replicated') this.replicatedWritesAcknowledged += 1;
    };
    /** What the write made the key, for the staleness check. */
    const version = (made: string | number, index: number | null, acknowledgedNs: number | null) =>
      this.versions.push({
        key,
        kind,
        version: made,
        index,
        invokedNs,
        acknowledgedNs,
        ...(durability === 'replicated' ? { beforeCommit: true } : {}),
        client: state.clientIndex,
      });
    try {
      switch (f) {
        case 'read': {
          const read = await client.getText(key);
          recorder.ok(handle(), read, clock());
          if (kind === 'append') observe(read === null ? 0 : Buffer.byteLength(read));
          else lastRead.set(key, read);
          if (
            kind === 'register' &&
            read === null &&
            (this.registersWritten.get(key) ?? invokedNs) < invokedNs
          ) {
            this.expiriesSeen += 1;
          }
          return;
        }
        case 'write': {
          const ttlMs =
            expiring || random.chance(TTL_WRITE_PROBABILITY) ? random.integer(TTL_MS_MIN, TTL_MS_MAX) : null;
          if (ttlMs !== null) this.expectExpiry(key, invokedNs + ttlMs * 1e6, state.clientIndex);
          if (reading === 'get-set') {
            const reply = await client.getSet(key, value, { durability });
            acknowledged(reply);
            const doneNs = clock();
            this.readingWriteAnswered(process, key, reply.previous, value, invokedNs, doneNs);
            version(value, reply.index, doneNs);
            this.registerWritten(key, doneNs);
            return;
          }
          const reply =
            ttlMs === null
              ? await client.put(key, value, { durability })
              : await client.set(key, value, { durability, ttlMs });
          acknowledged(reply);
          if (durability === 'async') {
            this.asyncAcknowledged(handle());
            version(value, reply.index, null);
          } else {
            const doneNs = clock();
            recorder.ok(handle(), value, doneNs);
            version(value, reply.index, doneNs);
            this.registerWritten(key, doneNs);
            if (ttlMs !== null) this.expiringValues.set(value, { key, acknowledgedNs: doneNs, ttlMs });
          }
          return;
        }
        case 'append': {
          const reply = await client.append(key, token, { durability });
          acknowledged(reply);
          if (durability === 'async') {
            this.asyncAcknowledged(handle());
            this.asyncAppendsAcknowledged.push({ key, token });
          } else {
            const doneNs = clock();
            recorder.ok(handle(), reply.length, doneNs);
            version(reply.length, reply.index, doneNs);
          }
          observe(reply.length);
          return;
        }
        case 'cas': {
          const reply = await client.cas(key, expected, value, { durability });
          acknowledged(reply);
          if (reply.swapped) {
            const doneNs = clock();
            recorder.ok(handle(), [expected, value], doneNs);
            version(value, reply.index, doneNs);
            this.registerWritten(key, doneNs);
          } else {
            recorder.fail(handle(), clock());
            this.countCause('cas not swapped');
          }
          lastRead.set(key, reply.current === null ? null : new TextDecoder().decode(reply.current));
          return;
        }
        case 'delete': {
          const reply = await client.getDelete(key);
          acknowledged(reply);
          const doneNs = clock();
          this.readingWriteAnswered(process, key, reply.value, null, invokedNs, doneNs);
          this.versions.push({
            key,
            kind,
            version: null,
            index: reply.index,
            invokedNs,
            acknowledgedNs: doneNs,
            client: state.clientIndex,
          });
          this.getDeletes += 1;
          return;
        }
        case 'incr': {
          // Every other one an incrFloat (INCRBYFLOAT), the same increment on these values.
          let reply: WriteMetadata & { readonly value: number };
          if (sequence % 2 === 1) {
            const answer = await client.incrFloat(key, 1);
            reply = { ...answer, value: Number(new TextDecoder().decode(answer.value)) };
            this.incrFloats += 1;
          } else reply = await client.incr(key, 1);
          acknowledged(reply);
          const doneNs = clock();
          recorder.ok(handle(), reply.value, doneNs);
          version(String(reply.value), reply.index, doneNs);
          this.registerWritten(key, doneNs);
          return;
        }
      }
    } catch (error) {
      this.countCause(`${f} ${describeError(error)}`);
      if (error instanceof SessionExpiredError) this.sessionsExpired += 1;
      // A write of unknown outcome may have produced its value, at an unknown index.
      const unknownVersion = f === 'write' ? value : f === 'cas' ? value : null;
      if (error instanceof OutcomeUnknownError && random.chance(REQUEST_STATUS_PROBABILITY)) {
        const status = await this.askUntilAnswered(client, error.requestId);
        this.requestStatusAnswers.set(
          status?.state ?? 'unanswered',
          (this.requestStatusAnswers.get(status?.state ?? 'unanswered') ?? 0) + 1,
        );
        if (status !== null && this.settle(handle(), f, durability, expected, value, status, version)) return;
      }
      if (error instanceof OutcomeUnknownError || error instanceof SessionExpiredError) {
        if (unknownVersion !== null) version(unknownVersion, null, null);
        else if (f === 'delete') {
          this.versions.push({
            key,
            kind,
            version: null,
            index: null,
            invokedNs,
            acknowledgedNs: null,
            client: state.clientIndex,
          });
        }
      }
      const refusal = observingRefusal(f, durability, error);
      if (refusal !== undefined) recorder.fail(handle(), clock(), refusal);
      else recorder.info(handle(), clock());
    }
  }

  /**
   * A GETSET (`after` its value) or GETDEL (`after` null) of `process` answered that `key` held
   * `previous`: into the history as `answeredReadingWrite` says.
   */
  private readingWriteAnswered(
    process: number,
    key: string,
    previous: Uint8Array | null,
    after: string | null,
    invokedNs: number,
    doneNs: number,
  ): void {
    const { recorder } = this.options;
    const before = previous === null ? null : new TextDecoder().decode(previous);
    const { f, input, output } = answeredReadingWrite(before, after);
    recorder.ok(recorder.invoke(process, f, key, input, invokedNs), output, doneNs);
    this.readingWrites += 1;
  }

  /** An expiring register: `process`'s own to write, any library process's to read; noted as used. */
  private chooseExpiringKey(
    f: OperationFunction,
    process: number,
    random: Random,
  ): { key: string; kind: KeyKind; observe: (valueBytes: number) => void } {
    const owner =
      f === 'write' ? process : random.integer(0, this.clients.length * this.options.pipeline - 1);
    const key = expiringKey(owner, Math.floor(this.options.clock() / 1e9 / REGISTER_KEY_SECONDS));
    this.registerKeysUsed.add(key);
    return { key, kind: 'register', observe: () => undefined };
  }

  /**
   * The key of an operation `f` of a register or append slot (reads take either), noted as used, and
   * `observe`, which moves an append slot on once its value is long enough. Draws the slot, then for
   * a read the kind of key.
   */
  private chooseKey(
    f: OperationFunction,
    random: Random,
    generations: number[],
  ): { key: string; kind: KeyKind; observe: (valueBytes: number) => void } {
    const slot = random.integer(0, this.options.keys - 1);
    const onAppendKey = f === 'append' || (f === 'read' && random.chance(0.5));
    const registerGeneration = Math.floor(this.options.clock() / 1e9 / REGISTER_KEY_SECONDS);
    const key = onAppendKey ? appendKey(slot, generations[slot] ?? 0) : registerKey(slot, registerGeneration);
    if (onAppendKey) this.appendKeysUsed.add(key);
    else this.registerKeysUsed.add(key);
    const observe = (valueBytes: number) => {
      if (onAppendKey && valueBytes >= APPEND_VALUE_BYTES_MAX)
        generations[slot] = (generations[slot] ?? 0) + 1;
    };
    return { key, kind: onAppendKey ? 'append' : 'register', observe };
  }

  /**
   * A Redis-port process: connects to one port after another and runs commands until stopped. Its
   * history processes are `first` and the REDIS_PIPELINE_WIDTH_MAX - 1 after it: a pipeline's
   * commands are concurrent operations in the history, one per history process.
   */
  private async runRedisProcess(first: number, random: Random): Promise<void> {
    const generations = Array.from({ length: this.options.keys }, () => 0);
    let next = first;
    let session: RedisSession | null = null;
    for (let sequence = 1; !this.stopped && sequence <= OPERATIONS_PER_PROCESS_MAX; sequence++) {
      if (session === null) {
        const ports = this.options.redisPorts?.() ?? [];
        const named = random.chance(REDIS_SENTINEL_PROBABILITY) ? await this.askSentinel(random) : null;
        const address = named ?? ports[next++ % Math.max(1, ports.length)];
        const readOnly = random.chance(REDIS_READONLY_PROBABILITY);
        session = await this.openRedisSession(address, readOnly);
        if (session === null) {
          await sleep(REDIS_RECONNECT_PAUSE_MS);
          continue;
        }
      }
      if (!(await this.redisStep(first, session, random, generations, sequence))) {
        this.closeRedisSession(session);
        session = null;
      }
    }
    if (session !== null) this.closeRedisSession(session);
  }

  /**
   * The primary's Redis address as a running coordinator's Sentinel port names it, or null (none
   * runs, it names none, or it could not be asked). An answer that is not a Redis port some replica
   * of this run had is recorded as malformed: the run fails.
   */
  private async askSentinel(random: Random): Promise<string | null> {
    const sentinels = this.options.sentinelPorts?.() ?? [];
    if (sentinels.length === 0) return null;
    const sentinel = sentinels[random.integer(0, sentinels.length - 1)] as string;
    this.redisCommands.sentinelAsks += 1;
    let connection: RedisPortClient | null = null;
    let reply: RedisReply;
    try {
      connection = await RedisPortClient.connect(sentinel, REDIS_CONNECT_TIMEOUT_MS);
      reply = await connection.command(
        ['SENTINEL', 'get-master-addr-by-name', SENTINEL_MASTER_NAME],
        REDIS_COMMAND_TIMEOUT_MS,
      );
    } catch (error) {
      this.countCause(`sentinel ${describeError(error)}`);
      return null;
    } finally {
      connection?.close();
    }
    if (reply === null) {
      this.redisCommands.sentinelNil += 1;
      return null;
    }
    const [ip, port] = Array.isArray(reply) ? reply : [];
    const address = Buffer.isBuffer(ip) && Buffer.isBuffer(port) ? `${ip}:${port}` : null;
    if (address === null || this.options.wasRedisAddress?.(address) !== true) {
      this.malformedRedisReplies.push(
        `SENTINEL GET-MASTER-ADDR-BY-NAME was answered ${address ?? describeReply(reply)}, not a Redis port of the run`,
      );
      return null;
    }
    this.redisCommands.sentinelNamed += 1;
    return address;
  }

  /** A connection to the port at `address`, READONLY if asked; null if it could not be had. */
  private async openRedisSession(
    address: string | undefined,
    readOnly: boolean,
  ): Promise<RedisSession | null> {
    let connection: RedisPortClient;
    try {
      if (address === undefined) throw new RedisConnectionError('no replica runs');
      connection = await RedisPortClient.connect(address, REDIS_CONNECT_TIMEOUT_MS);
    } catch {
      return null;
    }
    this.redisConnections.add(connection);
    const session: RedisSession = {
      connection,
      address,
      readOnly,
      client: REDIS_CONNECTION_CLIENT_BASE + this.redisConnectionsMade++,
    };
    if (this.stopped) {
      this.closeRedisSession(session);
      return null;
    }
    if (!readOnly) return session;
    try {
      const reply = await connection.command(['READONLY'], REDIS_COMMAND_TIMEOUT_MS);
      if (reply === 'OK') return session;
      this.countCause(`redis readonly unexpected reply ${JSON.stringify(reply)}`);
    } catch (error) {
      this.countCause(`redis readonly ${describeError(error)}`);
    }
    this.closeRedisSession(session);
    return null;
  }

  private closeRedisSession(session: RedisSession): void {
    session.connection.close();
    this.redisConnections.delete(session.connection);
  }

  /**
   * One command through a Redis port, or sometimes (REDIS_PIPELINE_PROBABILITY) a pipeline of 2 to
   * REDIS_PIPELINE_WIDTH_MAX commands sent in one write, which the port runs as one sequence; false
   * when the connection is lost.
   */
  private async redisStep(
    first: number,
    session: RedisSession,
    random: Random,
    generations: number[],
    sequence: number,
  ): Promise<boolean> {
    if (this.clearDue(random)) return this.redisClear(first, session, random, generations, sequence);
    if (random.chance(REDIS_WATCHED_CAS_PROBABILITY)) {
      return this.redisWatchedCas(first, session, random, generations, sequence);
    }
    if (random.chance(REDIS_RANDOMKEY_PROBABILITY)) return this.redisRandomKey(session);
    const width = random.chance(REDIS_PIPELINE_PROBABILITY) ? random.integer(2, REDIS_PIPELINE_WIDTH_MAX) : 1;
    // On distinct keys: commands of one pipeline are concurrent in the history, and two on one key
    // would only widen the checker's search (a command that drew a key already taken is not sent).
    const keys = new Set<string>();
    const commands: RedisCommand[] = [];
    for (let at = 0; at < width; at++) {
      const command = this.redisCommand(first + at, session, random, generations, sequence, keys);
      if (command !== null) commands.push(command);
    }
    return this.sendRedisCommands(session, random, commands, true);
  }

  /**
   * RANDOMKEY, where this connection's reads go: nil, or a key of this run's (workloadKeyPattern).
   * Anything else is a reply meant for another command or a key no client wrote. False when the
   * connection is lost.
   */
  private async redisRandomKey(session: RedisSession): Promise<boolean> {
    this.redisCommands.sent += 1;
    this.redisCommands.randomKeys += 1;
    let reply: RedisReply;
    try {
      reply = await session.connection.command(['RANDOMKEY'], REDIS_COMMAND_TIMEOUT_MS);
    } catch (error) {
      this.countCause(`redis randomkey ${describeError(error)}`);
      return false;
    }
    if (reply instanceof RedisReplyError) {
      this.countCause(`redis randomkey ${reply.message.split(' ')[0] ?? ''}`);
    } else if (
      reply === null ||
      (Buffer.isBuffer(reply) && workloadKeyPattern.test(reply.toString('latin1')))
    ) {
      this.redisCommands.ok += 1;
      if (reply === null) this.redisCommands.randomKeysNil += 1;
    } else {
      this.malformedRedisReplies.push(
        `RANDOMKEY was answered ${describeReply(reply)}, not a key of this run`,
      );
    }
    return true;
  }

  /**
   * Sends `commands` in one pipeline, which the port runs as one sequence; half the pipelines of
   * more than one as a transaction (MULTI ... EXEC), and, if `mayWatch`, half of those behind a WATCH
   * of their keys. False when the connection is lost.
   */
  private async sendRedisCommands(
    session: RedisSession,
    random: Random,
    commands: readonly RedisCommand[],
    mayWatch: boolean,
  ): Promise<boolean> {
    this.redisCommands.sent += commands.length;
    if (commands.length > 1) this.redisCommands.pipelines += 1;
    // Half the pipelines are transactions: MULTI, the commands (each answered QUEUED), EXEC, whose
    // reply is the array of theirs, or one error for all (none ran, or it is not known), or after
    // WATCH nil (none ran).
    const transaction = commands.length > 1 && random.chance(REDIS_TRANSACTION_PROBABILITY);
    const args = commands.map((command) => command.args);
    let replies: RedisReply[];
    try {
      if (transaction && mayWatch && random.chance(REDIS_WATCH_PROBABILITY)) {
        this.redisCommands.watched += 1;
        const keys = args.map((one) => one[1] as string); // every command here names its key first
        const watched = await session.connection.command(['WATCH', ...keys], REDIS_COMMAND_TIMEOUT_MS);
        if (watched !== 'OK') this.countCause(`redis watch ${describeReply(watched)}`);
        await sleep(random.integer(0, REDIS_WATCH_PAUSE_MS_MAX));
      }
      replies = await session.connection.pipeline(
        transaction ? [['MULTI'], ...args, ['EXEC']] : args,
        REDIS_COMMAND_TIMEOUT_MS,
      );
    } catch (error) {
      for (const command of commands) command.lost(describeError(error));
      return false;
    }
    if (transaction) {
      this.redisCommands.transactions += 1;
      const executed = replies.at(-1);
      const queued = replies.slice(0, -1).every((one, at) => one === (at === 0 ? 'OK' : 'QUEUED'));
      if (!queued)
        this.countCause(`redis transaction unexpected replies ${JSON.stringify(replies.slice(0, -1))}`);
      if (executed === null) {
        this.redisCommands.watchAborts += 1;
        for (const command of commands) command.aborted();
        return true;
      }
      commands.forEach((command, at) => {
        command.settle(Array.isArray(executed) ? (executed[at] ?? null) : (executed ?? null));
      });
      return true;
    }
    commands.forEach((command, at) => {
      command.settle(replies[at] ?? null);
    });
    return true;
  }

  /**
   * A command of history process `process` on `session`: its arguments, and how its reply, or the
   * lack of one, is recorded. Invoked in the history now (a GET on a READONLY connection is a
   * bounded read instead, for the staleness check). Null if it drew a key in `taken`.
   */
  private redisCommand(
    process: number,
    session: RedisSession,
    random: Random,
    generations: number[],
    sequence: number,
    taken: Set<string>,
  ): RedisCommand | null {
    const { recorder, clock } = this.options;
    const roll = random.next();
    const f: OperationFunction = roll < 0.3 ? 'read' : roll < 0.55 ? 'write' : roll < 0.8 ? 'append' : 'incr';
    const { key, kind, observe } = this.chooseKey(f, random, generations);
    if (taken.has(key)) return null;
    taken.add(key);
    const value = registerValue(process, sequence, random.chance(REGISTER_WORD_PROBABILITY));
    const token = appendToken(process, sequence);
    if (f === 'read' && session.readOnly) return this.redisBoundedRead(process, session, key, kind, observe);
    const input: EventValue = f === 'write' ? value : f === 'append' ? token : f === 'incr' ? 1 : null;
    const invokedNs = clock();
    const handle = recorder.invoke(process, f, key, input, invokedNs);
    const args =
      f === 'read'
        ? ['GET', key]
        : f === 'write'
          ? ['SET', key, value]
          : f === 'append'
            ? ['APPEND', key, token]
            : sequence % 2 === 1
              ? ['INCRBYFLOAT', key, '1']
              : ['INCR', key];
    const version = (made: string | number, acknowledgedNs: number | null) =>
      this.redisVersion(session, key, kind, made, invokedNs, acknowledgedNs);
    const settle = (reply: RedisReply): void => {
      if (reply instanceof RedisReplyError) {
        if (f === 'incr' && (reply.message === notAnIntegerText || reply.message === notAFloatText)) {
          // Only the service's NOT_AN_INTEGER (NOT_A_FLOAT) gets this text for an INCR (INCRBYFLOAT)
          // by 1: the same observation of the value as the library's refusal (a sync write's; the
          // port writes only sync), and on these values the two refuse the same ones.
          recorder.fail(handle, clock(), ErrorCode.notAnInteger);
          this.countCause(`redis ${args[0]} ${reply.message}`);
          return;
        }
        this.countCause(`redis ${f} ${reply.message.split(' ')[0] ?? ''}`);
        if (f === 'write') version(value, null);
        recorder.info(handle, clock());
        return;
      }
      const doneNs = clock();
      const ok = (result: EventValue) => {
        this.redisCommands.ok += 1;
        recorder.ok(handle, result, doneNs);
      };
      if (f === 'read' && (reply === null || Buffer.isBuffer(reply))) {
        const read = reply === null ? null : reply.toString('utf8');
        ok(read);
        if (kind === 'append') observe(read === null ? 0 : Buffer.byteLength(read));
        return;
      }
      if (f === 'write' && reply === 'OK') {
        ok(value);
        version(value, doneNs);
        return;
      }
      // INCRBYFLOAT answers the new value as text: here always a whole number.
      const number = f === 'incr' && Buffer.isBuffer(reply) ? Number(reply.toString('latin1')) : reply;
      if ((f === 'append' || f === 'incr') && typeof number === 'number' && Number.isSafeInteger(number)) {
        ok(number);
        version(f === 'append' ? number : String(number), doneNs);
        observe(number);
        if (args[0] === 'INCRBYFLOAT') this.incrFloats += 1;
        return;
      }
      // A reply of the wrong shape is the port's bug: on record as unknown, named in the causes,
      // and a problem of the run.
      this.countCause(`redis ${f} unexpected reply`);
      this.malformedRedisReplies.push(`${args[0]} ${key} was answered ${describeReply(reply)}`);
      recorder.info(handle, clock());
    };
    const lost = (why: string): void => {
      this.countCause(`redis ${f} ${why}`);
      if (f === 'write') version(value, null);
      recorder.info(handle, clock());
    };
    // Refused whole with VALUE_CHANGED: a write never took effect; a read observed nothing.
    const aborted = (): void => {
      if (f === 'read') recorder.info(handle, clock());
      else recorder.fail(handle, clock(), ErrorCode.valueChanged);
    };
    return { args, settle, lost, aborted };
  }

  /**
   * WATCH key, GET key, MULTI, SET key value, EXEC on a register: a cas in the history from the value
   * the GET read (the port's guard expects what the connection last saw), invoked as MULTI is sent.
   * False when the connection is lost.
   */
  private async redisWatchedCas(
    process: number,
    session: RedisSession,
    random: Random,
    generations: number[],
    sequence: number,
  ): Promise<boolean> {
    const { recorder, clock } = this.options;
    const { key } = this.chooseKey('write', random, generations);
    const value = registerValue(process, sequence, random.chance(REGISTER_WORD_PROBABILITY));
    // Every other one by this process the same cas in one command: SET ... IFEQ what the GET read
    // (SET ... NX if it read nothing), with no WATCH.
    if (sequence % 2 === 1) return this.redisIfEqualCas(process, session, key, value);
    // And every fourth a write of the value built aside and moved over the register.
    if (sequence % 4 === 2) return this.redisStagedWrite(process, session, key, value, sequence);
    let seen: string | null;
    try {
      const watched = await session.connection.command(['WATCH', key], REDIS_COMMAND_TIMEOUT_MS);
      const read = await session.connection.command(['GET', key], REDIS_COMMAND_TIMEOUT_MS);
      if (watched !== 'OK' || (read !== null && !Buffer.isBuffer(read))) {
        this.countCause(`redis watched cas: WATCH ${describeReply(watched)}, GET ${describeReply(read)}`);
        await session.connection.command(['UNWATCH'], REDIS_COMMAND_TIMEOUT_MS);
        return true;
      }
      seen = read === null ? null : read.toString('utf8');
    } catch (error) {
      this.countCause(`redis watched cas ${describeError(error)}`);
      return false;
    }
    // Counted as one command, answered ok if it swapped, as the report's other commands are.
    this.redisCommands.sent += 1;
    this.redisCommands.watchedCas += 1;
    const invokedNs = clock();
    const handle = recorder.invoke(process, 'cas', key, [seen, value], invokedNs);
    const version = (acknowledgedNs: number | null) =>
      this.redisVersion(session, key, 'register', value, invokedNs, acknowledgedNs);
    let replies: RedisReply[];
    try {
      replies = await session.connection.pipeline(
        [['MULTI'], ['SET', key, value], ['EXEC']],
        REDIS_COMMAND_TIMEOUT_MS,
      );
    } catch (error) {
      this.countCause(`redis watched cas ${describeError(error)}`);
      version(null);
      recorder.info(handle, clock());
      return false;
    }
    const executed = replies.at(-1);
    if (executed === null) {
      // The guard did not hold: the register no longer held what the GET read. Not swapped.
      this.redisCommands.watchedCasNotSwapped += 1;
      recorder.fail(handle, clock());
      return true;
    }
    if (Array.isArray(executed) && executed.length === 1 && executed[0] === 'OK') {
      const doneNs = clock();
      this.redisCommands.ok += 1;
      recorder.ok(handle, [seen, value], doneNs);
      version(doneNs);
      return true;
    }
    if (!(executed instanceof RedisReplyError)) {
      this.malformedRedisReplies.push(
        `EXEC of a watched SET ${key} was answered ${describeReply(executed ?? null)}`,
      );
    }
    this.countCause(
      `redis watched cas ${executed instanceof RedisReplyError ? (executed.message.split(' ')[0] ?? '') : 'unexpected reply'}`,
    );
    version(null);
    recorder.info(handle, clock());
    return true;
  }

  /** A GET, then SET ... IFEQ the value it read (NX if none): a cas, swapped when answered OK. */
  private async redisIfEqualCas(
    process: number,
    session: RedisSession,
    key: string,
    value: string,
  ): Promise<boolean> {
    const { recorder, clock } = this.options;
    let seen: string | null;
    try {
      const read = await session.connection.command(['GET', key], REDIS_COMMAND_TIMEOUT_MS);
      if (read !== null && !Buffer.isBuffer(read)) {
        this.countCause(`redis SET IFEQ cas: GET ${describeReply(read)}`);
        return true;
      }
      seen = read === null ? null : read.toString('utf8');
    } catch (error) {
      this.countCause(`redis SET IFEQ cas ${describeError(error)}`);
      return false;
    }
    this.redisCommands.sent += 1;
    this.redisCommands.ifEqualCas += 1;
    const invokedNs = clock();
    const handle = recorder.invoke(process, 'cas', key, [seen, value], invokedNs);
    const version = (acknowledgedNs: number | null) =>
      this.redisVersion(session, key, 'register', value, invokedNs, acknowledgedNs);
    const command = seen === null ? ['SET', key, value, 'NX'] : ['SET', key, value, 'IFEQ', seen];
    let reply: RedisReply;
    try {
      reply = await session.connection.command(command, REDIS_COMMAND_TIMEOUT_MS);
    } catch (error) {
      this.countCause(`redis SET IFEQ cas ${describeError(error)}`);
      version(null);
      recorder.info(handle, clock());
      return false;
    }
    if (reply === null) {
      recorder.fail(handle, clock());
      this.countCause('redis SET IFEQ not written');
      return true;
    }
    if (reply === 'OK') {
      const doneNs = clock();
      this.redisCommands.ok += 1;
      recorder.ok(handle, [seen, value], doneNs);
      version(doneNs);
      return true;
    }
    if (!(reply instanceof RedisReplyError)) {
      this.malformedRedisReplies.push(`${command.join(' ')} was answered ${describeReply(reply)}`);
    }
    this.countCause(
      `redis SET IFEQ cas ${reply instanceof RedisReplyError ? (reply.message.split(' ')[0] ?? '') : 'unexpected reply'}`,
    );
    version(null);
    recorder.info(handle, clock());
    return true;
  }

  /**
   * Whether a FLUSHALL is due; if so, the next is set (`clearIntervalMs`). The first comes early, so
   * even a short run has one.
   */
  private clearDue(random: Random): boolean {
    const now = this.options.clock();
    const intervalMs = this.options.clearIntervalMs ?? REDIS_FLUSHALL_INTERVAL_MS;
    const next = (share: number) => now + intervalMs * 1e6 * share;
    if (this.nextClearNs === null) this.nextClearNs = next(0.1 + 0.3 * random.next());
    if (now < this.nextClearNs) return false;
    this.nextClearNs = next(0.5 + random.next());
    return true;
  }

  /**
   * FLUSHALL through a Redis port: a clear of every key, in the history once (history.ts, everyKey),
   * definite when answered OK. Half the time another command follows it in the same pipeline (so in
   * the port's sequence, where it runs on the emptied store), sometimes as a transaction; never behind
   * a WATCH, which needs keys. The run's ballast, which it takes too, is written again after it.
   */
  private async redisClear(
    first: number,
    session: RedisSession,
    random: Random,
    generations: number[],
    sequence: number,
  ): Promise<boolean> {
    const commands = [this.clearCommand(first)];
    if (random.chance(REDIS_CLEAR_PIPELINED_PROBABILITY)) {
      const after = this.redisCommand(first + 1, session, random, generations, sequence, new Set());
      if (after !== null) commands.push(after);
    }
    this.redisCommands.flushes += 1;
    const clearsBefore = this.redisCommands.flushesOk;
    const connected = await this.sendRedisCommands(session, random, commands, false);
    if (this.redisCommands.flushesOk > clearsBefore) {
      try {
        await this.options.rewriteBallast?.();
      } catch (error) {
        this.countCause(`ballast rewrite after FLUSHALL ${describeError(error)}`);
      }
    }
    return connected;
  }

  /** FLUSHALL as a command of history process `process`: invoked in the history now. */
  private clearCommand(process: number): RedisCommand {
    const { recorder, clock } = this.options;
    const clear = { invokedNs: clock(), acknowledgedNs: null as number | null };
    this.clears.push(clear);
    const handle = recorder.invoke(process, 'clear', everyKey, null, clear.invokedNs);
    return {
      args: ['FLUSHALL'],
      settle: (reply) => {
        if (reply !== 'OK') {
          if (!(reply instanceof RedisReplyError))
            this.malformedRedisReplies.push(`FLUSHALL was answered ${describeReply(reply)}`);
          this.countCause(
            `redis FLUSHALL ${reply instanceof RedisReplyError ? (reply.message.split(' ')[0] ?? '') : 'unexpected reply'}`,
          );
          recorder.info(handle, clock());
          return;
        }
        clear.acknowledgedNs = clock();
        recorder.ok(handle, null, clear.acknowledgedNs);
        this.redisCommands.ok += 1;
        this.redisCommands.flushesOk += 1;
      },
      lost: (why) => {
        this.countCause(`redis FLUSHALL ${why}`);
        recorder.info(handle, clock());
      },
      // Never behind a WATCH, so never aborted by one; unknown is all a history may say anyway.
      aborted: () => recorder.info(handle, clock()),
    };
  }

  /** Whether a FLUSHALL sent before now may have taken effect after `sinceNs` (not answered before it). */
  private clearedSince(sinceNs: number): boolean {
    return this.clears.some((clear) => (clear.acknowledgedNs ?? Number.POSITIVE_INFINITY) > sinceNs);
  }

  /**
   * A register written as a value is replaced whole in Redis: SET under a staging key, then moved over
   * the register by RENAME (a write of the value), COPY ... REPLACE (the same) or RENAMENX (a cas from
   * absent, answered 0 while the register holds a value). The staging key is this step's alone, so a
   * late copy of an earlier step's command can only ever move that step's value. A move answered
   * anything but done (or, for RENAMENX, 0) after the staging SET was acknowledged is the port's or
   * the cluster's bug: the staged value was there to move.
   */
  private async redisStagedWrite(
    process: number,
    session: RedisSession,
    key: string,
    value: string,
    sequence: number,
  ): Promise<boolean> {
    const { recorder, clock } = this.options;
    const staging = `staging-${process}-${sequence}`;
    const how = stagedMoves[Math.floor(sequence / 4) % stagedMoves.length] as StagedMove;
    const stagedNs = clock();
    this.stagingKeys.set(staging, stagedNs);
    try {
      const staged = await session.connection.command(['SET', staging, value], REDIS_COMMAND_TIMEOUT_MS);
      if (staged !== 'OK') {
        this.countCause(`redis staged write: SET ${describeReply(staged)}`);
        return true;
      }
    } catch (error) {
      this.countCause(`redis staged write ${describeError(error)}`);
      return false;
    }
    this.redisCommands.sent += 1;
    this.redisCommands.stagedWrites += 1;
    const cas = how === 'RENAMENX';
    const invokedNs = clock();
    const handle = cas
      ? recorder.invoke(process, 'cas', key, [null, value], invokedNs)
      : recorder.invoke(process, 'write', key, value, invokedNs);
    const version = (acknowledgedNs: number | null) =>
      this.redisVersion(session, key, 'register', value, invokedNs, acknowledgedNs);
    const command = how === 'COPY' ? ['COPY', staging, key, 'REPLACE'] : [how, staging, key];
    let reply: RedisReply;
    try {
      reply = await session.connection.command(command, REDIS_COMMAND_TIMEOUT_MS);
    } catch (error) {
      this.countCause(`redis ${how} ${describeError(error)}`);
      version(null);
      recorder.info(handle, clock());
      return false;
    }
    if (reply === (how === 'RENAME' ? 'OK' : 1)) {
      const doneNs = clock();
      this.redisCommands.ok += 1;
      recorder.ok(handle, cas ? [null, value] : value, doneNs);
      version(doneNs);
      return true;
    }
    if (cas && reply === 0) {
      recorder.fail(handle, clock());
      this.countCause('redis RENAMENX not renamed');
      return true;
    }
    const missing =
      how === 'COPY'
        ? reply === 0
        : reply instanceof RedisReplyError && reply.message.startsWith('ERR no such key');
    if (missing && this.clearedSince(stagedNs)) {
      // A FLUSHALL took the staging key: nothing moved. Unknown is sound (and all the history may say).
      this.countCause(`redis ${how} of a staging key a FLUSHALL took`);
      version(null);
      recorder.info(handle, clock());
      return true;
    }
    const unexpected = !(reply instanceof RedisReplyError) || reply.message.startsWith('ERR no such key');
    if (unexpected)
      this.malformedRedisReplies.push(`${command.join(' ')} was answered ${describeReply(reply)}`);
    this.countCause(
      `redis ${how} ${reply instanceof RedisReplyError ? (reply.message.split(' ')[0] ?? '') : 'unexpected reply'}`,
    );
    version(null);
    recorder.info(handle, clock());
    return true;
  }

  /**
   * What a write through a Redis port made `key`, for the staleness check: its index is not in a
   * Redis reply, so a version of unknown index, acknowledged to the connection when the port answered
   * it ok (null: not known to be acknowledged).
   */
  private redisVersion(
    session: RedisSession,
    key: string,
    kind: KeyKind,
    made: string | number,
    invokedNs: number,
    acknowledgedNs: number | null,
  ): void {
    this.versions.push({
      key,
      kind,
      version: made,
      index: null,
      invokedNs,
      acknowledgedNs,
      client: session.client,
    });
  }

  /** A GET on a READONLY connection: a bounded read with read-your-writes, for the staleness check. */
  private redisBoundedRead(
    process: number,
    session: RedisSession,
    key: string,
    kind: KeyKind,
    observe: (valueBytes: number) => void,
  ): RedisCommand {
    const invokedNs = this.options.clock();
    this.redisCommands.readOnlyReads += 1;
    const settle = (reply: RedisReply): void => {
      if (reply !== null && !Buffer.isBuffer(reply)) {
        const what = reply instanceof RedisReplyError ? reply.message.split(' ')[0] : 'unexpected reply';
        if (!(reply instanceof RedisReplyError))
          this.malformedRedisReplies.push(`GET ${key} (READONLY) was answered ${describeReply(reply)}`);
        this.countCause(`redis readonly get ${what}`);
        this.boundedReadCounts.failed += 1;
        return;
      }
      this.redisCommands.ok += 1;
      this.boundedReadCounts.answered += 1;
      const length = reply === null ? 0 : reply.length;
      this.boundedReads.push({
        process,
        client: session.client,
        key,
        kind,
        version: kind === 'append' ? length : reply === null ? null : reply.toString('utf8'),
        invokedNs,
        maxStalenessMs: REDIS_READ_STALENESS_MS,
        readYourWrites: true,
        member: `the Redis port at ${session.address}`,
        view: -1,
        index: -1,
        answeredNs: this.options.clock(),
      });
      if (kind === 'append') observe(length);
    };
    const lost = (why: string): void => {
      this.countCause(`redis readonly get ${why}`);
      this.boundedReadCounts.failed += 1;
    };
    const aborted = (): void => {
      this.boundedReadCounts.failed += 1;
    };
    return { args: ['GET', key], settle, lost, aborted };
  }

  /** One operation on a flag or a group key (see the file's header). */
  private async multiKeyStep(state: ProcessState, sequence: number): Promise<void> {
    const { recorder, clock } = this.options;
    const { process, client, random } = state;
    const slot = random.integer(0, this.options.keys - 1);
    const generation = Math.floor(clock() / 1e9 / REGISTER_KEY_SECONDS);
    const onGroup = random.chance(0.5);
    const key = onGroup ? chaosGroupKey(slot, generation) : chaosFlagKey(slot, generation);
    this.multiKeysUsed.add(key);
    const members = groupMembers(key);
    const word = `p${process}-m${sequence}`;
    const reading = random.chance(MULTI_KEY_READ_PROBABILITY);
    const write = reading ? null : onGroup ? chooseGroupWrite(random) : chooseFlagWrite(random);
    const durability: Durability = reading
      ? 'sync'
      : random.chance(ASYNC_WRITE_PROBABILITY)
        ? 'async'
        : random.chance(REPLICATED_WRITE_PROBABILITY)
          ? 'replicated'
          : 'sync';
    // Every fourth group write by this process only if the group is absent (MSETNX): a cas from
    // absent, since members written only together are absent only together.
    const allAbsent = write === 'put-many' && sequence % 4 === 3;
    const f: OperationFunction =
      write === null
        ? 'read'
        : write === 'put-if-absent' || allAbsent
          ? 'cas'
          : write === 'put-if-present'
            ? 'replace'
            : write === 'put-many'
              ? 'write'
              : 'delete';
    const input: EventValue = f === 'cas' ? [null, word] : f === 'replace' || f === 'write' ? word : null;
    const handle = recorder.invoke(process, f, key, input, clock());
    /** Records a write's outcome: written or not (a put-if); async ones are info, as any async write. */
    const finish = (written: boolean) => {
      if (durability === 'async') this.asyncAcknowledged(handle);
      else if (written) recorder.ok(handle, f === 'delete' ? null : input, clock());
      else {
        recorder.fail(handle, clock());
        this.countCause(`${f} not written`);
      }
    };
    try {
      if (write === null) {
        if (!onGroup) {
          recorder.ok(handle, await client.getText(key), clock());
          return;
        }
        const values = (await client.getMany(members)).map((value) =>
          value === null ? null : decoder.decode(value),
        );
        const seen = groupValue(key, values);
        if ('torn' in seen) {
          this.tornReads.push(seen.torn);
          recorder.info(handle, clock());
        } else recorder.ok(handle, seen.value, clock());
        return;
      }
      const options = { durability };
      let written = true;
      let reply: WriteMetadata;
      if (write === 'put-if-absent' || write === 'put-if-present') {
        const answer = await client.putIf(
          key,
          word,
          write === 'put-if-absent' ? 'absent' : 'present',
          options,
        );
        written = answer.written;
        reply = answer;
      } else if (allAbsent) {
        const answer = await client.putManyIfAbsent(
          members.map((member) => [member, word] as const),
          options,
        );
        written = answer.written;
        reply = answer;
        this.allAbsentWrites += 1;
      } else if (write === 'put-many') {
        reply = await client.putMany(
          members.map((member) => [member, word] as const),
          options,
        );
      } else {
        reply = await client.deleteMany(write === 'delete-many' ? members : [key], options);
      }
      this.writeAcknowledgements.push({ timeNs: clock(), view: reply.view });
      if (reply.durability === 'replicated') this.replicatedWritesAcknowledged += 1;
      finish(written);
    } catch (error) {
      this.countCause(`${f} ${describeError(error)}`);
      if (error instanceof SessionExpiredError) this.sessionsExpired += 1;
      if (
        write !== null &&
        error instanceof OutcomeUnknownError &&
        random.chance(REQUEST_STATUS_PROBABILITY)
      ) {
        const status = await this.askUntilAnswered(client, error.requestId);
        this.requestStatusAnswers.set(
          status?.state ?? 'unanswered',
          (this.requestStatusAnswers.get(status?.state ?? 'unanswered') ?? 0) + 1,
        );
        if (status?.state === 'cancelled') {
          recorder.fail(handle, clock(), ErrorCode.requestCancelled);
          return;
        }
        if (status?.state === 'executed' && status.result !== null) {
          // Answered once its entry committed, async ones too: it ran, and stays.
          const { result } = status;
          const conditional = result.kind === 'put-if' || result.kind === 'put-many-if-absent';
          if (conditional && !result.written) recorder.fail(handle, clock());
          else if (conditional || result.kind === 'put-many' || result.kind === 'delete-many') {
            recorder.ok(handle, f === 'delete' ? null : input, clock());
          } else recorder.info(handle, clock()); // a result of another kind: say nothing rather than guess
          return;
        }
      }
      recorder.info(handle, clock());
    }
  }

  /** A read at any member within the bound, recorded for the staleness check (not in the history). */
  private async boundedRead(
    state: ProcessState,
    key: string,
    kind: KeyKind,
    observe: (valueBytes: number) => void,
  ): Promise<void> {
    const { clock, memberName } = this.options;
    const readYourWrites = state.random.chance(READ_YOUR_WRITES_PROBABILITY);
    const invokedNs = clock();
    try {
      const reply = await state.client.replicated.read(
        encodeOperation(kvOperation.get(encoder.encode(key))),
        {
          read: 'any',
          maxStalenessMs: BOUNDED_READ_MAX_STALENESS_MS,
          readYourWrites,
        },
      );
      const value = decodeResult('get', reply.result).value;
      this.boundedReadCounts.answered += 1;
      this.boundedReadCounts.staleAnswers += reply.staleAnswers;
      this.boundedReads.push({
        process: state.process,
        client: state.clientIndex,
        key,
        kind,
        version: kind === 'append' ? (value?.length ?? 0) : value === null ? null : decoder.decode(value),
        invokedNs,
        maxStalenessMs: BOUNDED_READ_MAX_STALENESS_MS,
        readYourWrites,
        member: memberName?.(reply.member) ?? reply.member,
        view: reply.view,
        index: reply.index,
        answeredNs: clock(),
      });
      if (kind === 'append') observe(value?.length ?? 0);
    } catch {
      this.boundedReadCounts.failed += 1;
    }
  }

  /**
   * Asks what became of `requestId` until the cluster answers; after the workload was told to stop,
   * only REQUEST_STATUS_ATTEMPTS_AFTER_STOP more times. Null if it never answered.
   */
  private async askUntilAnswered(client: Client, requestId: string): Promise<KvRequestStatus | null> {
    let attemptsAfterStop = 0;
    for (;;) {
      if (this.stopped) attemptsAfterStop += 1;
      try {
        return await client.requestStatus(requestId);
      } catch (error) {
        if (error instanceof ConfigError) return null; // a malformed id: a bug here, not in the cluster
      }
      if (attemptsAfterStop >= REQUEST_STATUS_ATTEMPTS_AFTER_STOP) return null;
      await sleep(REQUEST_STATUS_RETRY_MS);
    }
  }

  /** A definite write of the register `key` was acknowledged at `doneNs`. */
  private registerWritten(key: string, doneNs: number): void {
    if (!this.registersWritten.has(key)) this.registersWritten.set(key, doneNs);
  }

  /** Whether a definite write of the register `key` was acknowledged. */
  registerWasWritten(key: string): boolean {
    return this.registersWritten.has(key);
  }

  /**
   * The cluster may delete `key` once `earliestNs` passed (a write gave it a time to live): into the
   * history as a delete that may take effect then or later, or never (another write may have removed
   * the time first), and into the staleness check as a way the key may have become absent.
   */
  private expectExpiry(key: string, earliestNs: number, client: number): void {
    const { recorder } = this.options;
    const invokedNs = earliestNs - EXPIRY_MARGIN_MS * 1e6;
    const handle = recorder.invoke(EXPIRY_PROCESS_BASE + this.expiringWrites, 'delete', key, null, invokedNs);
    recorder.info(handle, invokedNs);
    this.expiringWrites += 1;
    this.versions.push({
      key,
      kind: 'register',
      version: null,
      index: null,
      invokedNs,
      acknowledgedNs: null,
      client,
    });
  }

  /**
   * Records the operation as the cluster's answer about it says; false if the answer settles
   * nothing (forgotten, expired, or a refusal the model does not judge): the caller records info.
   */
  private settle(
    handle: OperationHandle,
    f: OperationFunction,
    durability: Durability,
    expected: string | null,
    value: string,
    status: KvRequestStatus,
    version: (made: string | number, index: number | null, acknowledgedNs: number | null) => void,
  ): boolean {
    const { recorder, clock } = this.options;
    switch (status.state) {
      case 'executed': {
        // Answered once its entry committed, async ones too: it ran, and stays.
        const { result, index } = status;
        if (f === 'write' && (result?.kind === 'put' || result?.kind === 'set')) {
          recorder.ok(handle, value, clock());
          version(value, index, null);
          return true;
        }
        if (f === 'append' && result?.kind === 'append') {
          recorder.ok(handle, result.length, clock());
          return true;
        }
        if (f === 'cas' && result?.kind === 'cas') {
          if (result.swapped) {
            recorder.ok(handle, [expected, value], clock());
            version(value, index, null);
          } else {
            recorder.fail(handle, clock());
            this.countCause('cas not swapped');
          }
          return true;
        }
        if (f === 'incr' && result?.kind === 'incr') {
          recorder.ok(handle, result.value, clock());
          version(String(result.value), index, null);
          return true;
        }
        return false; // a result of another kind: say nothing rather than guess
      }
      case 'cancelled':
        recorder.fail(handle, clock(), ErrorCode.requestCancelled);
        return true;
      case 'refused': {
        const refusal = observingRefusal(f, durability, new RequestRefusedError(status.code, status.message));
        if (refusal === undefined) return false;
        recorder.fail(handle, clock(), refusal);
        return true;
      }
      case 'forgotten':
      case 'expired':
        return false;
    }
  }

  private countCause(cause: string): void {
    this.unsuccessfulByCause.set(cause, (this.unsuccessfulByCause.get(cause) ?? 0) + 1);
  }

  private asyncAcknowledged(handle: OperationHandle): void {
    this.asyncWritesAcknowledged += 1;
    this.options.recorder.info(handle, this.options.clock());
  }
}

function describeError(error: unknown): string {
  if (error instanceof UnderstudyError) return error.code;
  return error instanceof Error ? error.name : 'unknown error';
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface ProcessState {
  readonly process: number;
  /** Which Client (connection) it shares. */
  readonly clientIndex: number;
  readonly client: Client;
  readonly random: Random;
  /** The value this process last saw per register: what its next cas expects. */
  readonly lastRead: Map<string, string | null>;
  /** Per append slot, the generation of the key this process appends to. */
  readonly generations: number[];
}

/** Refusals that observe the value, by the function they refuse: the checker judges these. */
const observingRefusals: Readonly<Partial<Record<OperationFunction, string>>> = {
  incr: ErrorCode.notAnInteger,
  append: ErrorCode.valueTooLarge,
};

/**
 * The code to record a fail with, or undefined to record info. Only a sync operation's refusal is
 * held against the value: an async one is answered before it replicates, like its acknowledgement.
 * An incrFloat's NOT_A_FLOAT goes on record as an incr's NOT_AN_INTEGER (`recordedRefusal`): of the
 * values this workload writes too (words like "p3-w17", and safe integers) the two refuse the same.
 */
function observingRefusal(f: OperationFunction, durability: Durability, error: unknown): string | undefined {
  if (!(error instanceof RequestRefusedError) || durability !== 'sync') return undefined;
  const code = recordedRefusal(error.code);
  return observingRefusals[f] === code ? code : undefined;
}

/** A Redis reply as a report names it: numbers as they are (NaN too), the rest as JSON, briefly. */
function describeReply(reply: RedisReply): string {
  if (typeof reply === 'number') return `the integer ${String(reply)}`;
  const text = Buffer.isBuffer(reply)
    ? `the bulk string ${JSON.stringify(reply.toString('utf8'))}`
    : JSON.stringify(reply);
  return text.length > 120 ? `${text.slice(0, 120)}...` : text;
}
