// Simulated clients: each client connection runs up to `pipelineDepth` key/value operations at a
// time, each in its own session slot (client id `sim-client-<connection>/<slot>`, as the real
// client pipelines writes on one connection), retrying the same request number on timeouts and
// NOT_PRIMARY like the real client, and records every operation in a Jepsen-style history for the
// checkers. A slot is one history process (process = connection · depth + slot), so each process
// has at most one operation pending, as Jepsen's model wants; replies are matched by request id.
// A slot's sequence (below) takes lanes besides: its unit l goes into the history as process
// p + l · clients · depth (lane 0 is the slot's own), so each lane has at most one pending too.
//
// Keys come in five kinds so each final value can be checked: registers (read, write, cas, incr),
// append lists (read, append of unique tokens), counters (read, incr), flags (read, put-if absent or
// present, delete) and groups of keys written, deleted and read only together (put-many,
// delete-many, get-many): multi-key-workload.ts says how the last two go into the history. Register values are
// unique per process, sometimes decimal numbers and sometimes words, so an incr on a register is
// refused NOT_AN_INTEGER or not depending on the state: a refusal is an observation of the value,
// and goes into the history as a fail with its code for the checker to hold against the model.
// Some operations are probes (`probeProbability`): an incr on a register another process is
// writing right now, answered at once, so refusals often meet writes that have not committed (and
// after a failover, may never commit): a rare path made common.
// In some seeds (`clears`) an operation now and then clears every key (Redis FLUSHALL): recorded
// once, under `everyKey`, and held against every key as a delete at one point (history.ts).
// Asynchronous writes are recorded as "info" (they may be lost in a failover by design); their
// append tokens are kept apart so the run can count how many a failover lost, and check that the
// cluster's record of lost async writes names them.
//
// Sequences (`sequenceProbability` of new operations, probes aside): one request, one log entry,
// carrying 2 or 3 units on distinct keys, each a read or a write as single operations mix them (a
// group's put-many spelled out as a put of each member, and so on), sometimes ending with a
// read-back of a key one of them wrote; all reads now and then, sent as a query. It goes out,
// retries, asks request-status and is refused whole like any write (or read), under one request
// number. Each unit is an operation of the history on its own lane, invoked and completed with the
// sequence, with its own outcome: ok with its result, fail for a cas not swapped or a refusal the
// checker models (its part's code: the store refuses a part and runs the others), info where the
// sequence's outcome is unknown (for every unit) or a part got a code the workload does not expect.
// The per-key checker judges each unit as it would the single operation (the units share one
// interval, which holds the sequence's one point of effect); a group read in a sequence is checked
// for tearing, and a read-back must see its writer's effect, which the answer tells
// (`readBackViolations`). sequence-workload.ts has the details and why that is sound.
//
// Bounded reads (`boundedReadProbability` of reads): sent with a staleness bound (50 ms to 2 s,
// sometimes with the index of the connection's last sync write as the minimum, for read-your-writes) to a random
// backup or any member; on STALE (or no answer) the client asks another member, then the primary.
// They may be stale by design, so they stay out of the history: `boundedReads` holds them for
// checkBoundedReads, with the bound widened by the answering replica's clock drift.
//
// Request status: a write whose deadline passes unanswered sometimes (`statusProbability`) asks
// `request-status` for it, under the same client id and request number, until answered: its result
// (it ran: ok, or the refusal it got) or REQUEST_CANCELLED (it never ran and never will: fail) makes
// the history definite where it would have said info. Both answers wait for commit at the primary.
//
// Replies and how they are recorded:
//   ok                                   → ok (sync) / info (async: may still be lost)
//   NOT_PRIMARY, OVERLOADED              → retry the same request number; nothing happened
//   REQUEST_TOO_OLD, deadline passed     → info: the first attempt may have run (or, after the
//                                          deadline, ask request-status)
//   SESSION_EXPIRED                      → info; the process goes on under a new client id
//   REQUEST_CANCELLED                    → fail (sync: answered once the cancellation committed);
//                                          info if async
//   NOT_AN_INTEGER (incr), VALUE_TOO_LARGE (append), cas not swapped
//                                        → fail with the code (sync); info if async, whose answers
//                                          may reflect writes a failover loses, as async oks do
//   any other code                       → info, counted in `unexpectedReplies`: the workload never
//                                          sends what the service should refuse, so such a code
//                                          is a finding for the run to report; "info" claims
//                                          nothing, so it cannot hide or invent a violation.
// For a sequence, the codes above are for the whole (REQUEST_CANCELLED: fail for each write unit,
// info for a read, which observed nothing); an ok carries one outcome per part, recorded per unit:
//   part done                            → ok with its result, for every unit (sync, replicated, a
//                                          request-status answer); info if async. A replicated
//                                          sequence acknowledges every unit, so that one lost by
//                                          every holder leaves them all unknown
//   part refused NOT_AN_INTEGER (incr),  → fail with the code (info if async)
//   VALUE_TOO_LARGE (append); cas not
//   swapped, put-if not written
//   part refused with any other code     → info, counted in `unexpectedReplies` as "sequence f CODE"

import type { BoundedRead } from '../check/bounded-reads.js';
import {
  type EventValue,
  everyKey,
  HistoryRecorder,
  type OperationFunction,
  type OperationHandle,
} from '../check/history.js';
import { assert } from '../protocol/assert.js';
import { ErrorCode } from '../protocol/error-codes.js';
import type { ClientReply, ClientSuccess, RequestKind } from '../protocol/messages.js';
import { ServiceError } from '../protocol/state-machine.js';
import { clientId, type Durability, logIndex, type ReplicaId, viewNumber } from '../protocol/types.js';
import {
  decodeResult,
  encodeOperation,
  isReadOnly,
  isValueCondition,
  type KvOperation,
  type KvOperationOf,
  kvOperation,
} from '../state-machine/kv-operations.js';
import {
  decodeSequenceResult,
  encodeSequence,
  isReadOnlySequence,
  type KvOutcome,
} from '../state-machine/kv-sequence.js';
import { type SimCluster, simMsPerTick } from './cluster.js';
import { SimExpiries } from './expiry-workload.js';
import {
  chooseFlagWrite,
  chooseGroupWrite,
  flagKey,
  groupKey,
  groupMembers,
  groupValue,
  isFlagKey,
  isGroupKey,
} from './multi-key-workload.js';
import { Random } from './random.js';
import { SimSaves } from './save-workload.js';
import { SimScans } from './scan-workload.js';
import {
  clearUnit,
  describeOutcome,
  guardUnit,
  observingRefusals,
  partsOf,
  readBackProblem,
  readBackUnit,
  readUnit,
  recordedRefusal,
  type SequenceUnit,
  sequenceLanes,
  sequenceUnitsMax,
  sequenceUnitsMin,
  unitVerdict,
  writesSomething,
} from './sequence-workload.js';

export interface WorkloadOptions {
  /** Client connections. */
  readonly clients: number;
  readonly registers: number;
  readonly appendLists: number;
  readonly counters: number;
  /** Keys written by put-if (absent or present) and delete. */
  readonly flags?: number;
  /** Groups of keys written, deleted and read only together (put-many, delete-many, get-many). */
  readonly groups?: number;
  readonly asyncProbability: number;
  /** Share of writes (of those not async) that ask for `replicated` durability. */
  readonly replicatedProbability?: number;
  /** Resend the same request when no reply came for this long. */
  readonly attemptTimeoutTicks: number;
  /** Give up (outcome unknown, or ask request-status) after this long. */
  readonly deadlineTicks: number;
  /** The deadline once faults are healed (default `deadlineTicks`): long enough for the cluster to recover. */
  readonly livenessDeadlineTicks?: number;
  /** Operations each client connection keeps in flight at once, each in its own session slot. */
  readonly pipelineDepth?: number;
  /** Share of register writes (and cas replacements) that write a word instead of a number. */
  readonly registerWordProbability?: number;
  /**
   * Chance that a new operation probes a register another process is writing: an incr sent while
   * that write may not have committed, whose refusal (or result) tells what the primary holds.
   */
  readonly probeProbability?: number;
  /**
   * A process waits up to this long before its next operation (0: never idle). An idle connection
   * keeps the primary it knew, so its next call may reach one that was deposed meanwhile.
   */
  readonly idleTicksMax?: number;
  /** Share of reads sent with a staleness bound, to a backup or any member. */
  readonly boundedReadProbability?: number;
  /** Share of bounded reads that ask for the connection's last write index (read-your-writes). */
  readonly readYourWritesProbability?: number;
  /** Share of writes whose deadline passed unanswered that ask request-status until answered. */
  readonly statusProbability?: number;
  /**
   * Share of new operations (probes aside) sent as a sequence of operations on several keys
   * (sequence-workload.ts); 0 draws nothing, so the other operations go exactly as without sequences.
   */
  readonly sequenceProbability?: number;
  /** Share of sequences with a write that end with a read-back of a key they wrote. */
  readonly readBackProbability?: number;
  /**
   * Share of sequences with a write sent whole behind a guard: an expect that another register holds
   * the value this connection last read of it (VALUE_CHANGED, and nothing ran, if it does not).
   */
  readonly guardProbability?: number;
  /**
   * Snapshot saves (save-workload.ts): the chance per tick that one is asked while none is under
   * way, and the seed of their own draws. None without it.
   */
  readonly saves?: { readonly probability: number; readonly seed: number };
  /**
   * Keys that expire (expiry-workload.ts): the share of register puts sent with a time to live (0: no
   * expiry, and no expire, persist or ttl either), the seed of their own draws, the simulated wall
   * clock (ms), and where the stores' deletions are checked. None without it.
   */
  readonly expiry?: {
    readonly probability: number;
    readonly seed: number;
    readonly nowMs: () => number;
    readonly violations: string[];
  };
  /** Whole scans (scan-workload.ts): the seed of their own draws. None without it. */
  readonly scans?: { readonly seed: number };
  /**
   * Some increments sent as incr-float, some group writes as put-many-if-absent, and (where no key
   * has a time to live) some register cas writes as a set with an IFEQ condition (Redis INCRBYFLOAT,
   * MSETNX and SET ... IFEQ), chosen by each process's count of operations, so no draw changes.
   */
  readonly newerStringWrites?: boolean;
  /** Every other register put in a sequence staged and renamed over the register (stagedParts). */
  readonly stagedRenames?: boolean;
  /**
   * Now and then (`clearProbability` of new operations) a clear of every key (Redis FLUSHALL),
   * recorded once under `everyKey` (history.ts: a delete of each key for the per-key checks). Only
   * where no key has a time to live: the expiry workload keeps its own account of each key.
   */
  readonly clears?: boolean;
}

/**
 * What became of a workload's sequences, before it sent any (SimWorkload.sequenceCounts): sent
 * (read-only ones, ones with a read-back), their units and parts, answers, refused parts, and those
 * sent whole behind a guard and refused whole because it did not hold.
 */
export function noSequenceCounts() {
  return {
    sent: 0,
    readOnly: 0,
    readBacks: 0,
    units: 0,
    parts: 0,
    answered: 0,
    partsRefused: 0,
    guarded: 0,
    guardsFailed: 0,
  };
}

/** One operation at a time per connection; deeper pipelines make refusals of uncommitted state likelier. */
const pipelineDepthDefault = 1;
/** Half words, half numbers: the likeliest mix for a refusal to see a word written over a number. */
const registerWordProbabilityDefault = 0.5;
const probeProbabilityDefault = 0.3;
const boundedReadProbabilityDefault = 0.4;
const readYourWritesProbabilityDefault = 0.3;
const statusProbabilityDefault = 0.6;
const replicatedProbabilityDefault = 0.2;
/** Few enough that single operations keep their coverage; enough for every fault to meet sequences. */
const sequenceProbabilityDefault = 0.1;
const readBackProbabilityDefault = 0.5;
const guardProbabilityDefault = 0.3;
/** Rare, as FLUSHALL is: a few a seed, each of which empties every key the other checks follow. */
const clearProbability = 0.02;
/** Share of the sequences with a write that clear every key first, in seeds with clears. */
const sequenceClearProbability = 0.1;

export const workloadDefaults: WorkloadOptions = {
  clients: 4,
  registers: 2,
  appendLists: 2,
  counters: 1,
  flags: 1,
  groups: 1,
  asyncProbability: 0.1,
  attemptTimeoutTicks: 80,
  deadlineTicks: 1_500,
  pipelineDepth: pipelineDepthDefault,
  registerWordProbability: registerWordProbabilityDefault,
  probeProbability: probeProbabilityDefault,
  boundedReadProbability: boundedReadProbabilityDefault,
  readYourWritesProbability: readYourWritesProbabilityDefault,
  statusProbability: statusProbabilityDefault,
  sequenceProbability: sequenceProbabilityDefault,
  readBackProbability: readBackProbabilityDefault,
  guardProbability: guardProbabilityDefault,
};

export const nanosecondsPerTick = 1_000_000;
const retryBackoffTicks = 5;
/** Numbers written to registers: process p's n-th is (p + 1)·10⁹ + n·10³, so increments stay unique. */
const processNumberStride = 1_000_000_000;
const sequenceNumberStride = 1_000;
/** The operation mix on registers, cumulative: write 40%, cas 35%, incr 25%. */
const registerWriteShare = 0.4;
const registerCasShare = 0.75;
const readProbability = 0.3;
/** Staleness bounds a bounded read picks from, in ms: from a few follower heartbeats to seconds. */
const maxStalenessChoicesMs = [50, 100, 250, 500, 1000, 2000] as const;
/** Members a bounded read asks before it goes to the primary. */
const boundedReadMembersMax = 2;
/** Share of bounded reads that first ask a backup; the rest first ask any member, the primary included. */
const boundedReadBackupFirstProbability = 0.75;
/**
 * Ticks added to a bounded read's bound before the check: a replica reads its clock in whole ticks,
 * at the moment it acknowledged and at the moment it answers, and the write's acknowledgement may
 * share the tick of the first.
 */
const clockReadingSlackTicks = 2;

/** A bounded read in progress: its bound, and whom it asked. */
interface BoundedReadState {
  readonly maxStalenessMs: number;
  readonly minIndex: number;
  /** Members asked so far (the primary excluded); after `boundedReadMembersMax`, the primary. */
  readonly asked: ReplicaId[];
  /** Each attempt: where it went, when it left, and whether it was the fallback to the primary. */
  readonly attempts: Map<
    number,
    { readonly to: ReplicaId; readonly sentAt: number; readonly atPrimary: boolean }
  >;
  atPrimary: boolean;
}

/** request-status questions for a write whose deadline passed unanswered. */
interface StatusQuery {
  readonly attemptIds: Set<number>;
  readonly startedAt: number;
  nextAttemptAt: number;
}

/** A unit of a sequence in flight: its operation of the history, on its own history process. */
interface SentUnit extends SequenceUnit {
  readonly process: number;
  readonly handle: OperationHandle;
}

interface SentSequence {
  /** Every unit's parts, in order: what is sent. */
  readonly parts: readonly KvOperation[];
  readonly units: readonly SentUnit[];
  /** Sent whole (it has a guard): refused whole, nothing of it run, if the guard does not hold. */
  readonly whole: boolean;
}

/** One operation (`operation`), or a sequence (`sequence`), each answered by one reply. */
type Pending = PendingRequest &
  (
    | { readonly operation: KvOperation; readonly sequence: null }
    | { readonly operation: null; readonly sequence: SentSequence }
  );

/** What goes out of the history as it runs (expiry-workload.ts records what each showed, if anything). */
type UnrecordedKind = 'expire' | 'persist' | 'get-set' | 'get-delete' | 'get-expire';
const unrecordedKinds: ReadonlySet<string> = new Set<UnrecordedKind>([
  'expire',
  'persist',
  'get-set',
  'get-delete',
  'get-expire',
]);
const isUnrecorded = (kind: KvOperation['kind']): kind is UnrecordedKind => unrecordedKinds.has(kind);

interface PendingRequest {
  /** Null for a bounded read (it stays out of the history, see `boundedReads`) and for a sequence (its units have one each). */
  readonly handle: OperationHandle | null;
  readonly readOnly: boolean;
  /** For a sequence, 'sequence' and its units' keys: what messages name. A scan's page: 'scan'. */
  readonly f: OperationFunction | 'sequence' | UnrecordedKind | 'scan';
  readonly key: string;
  readonly written: string | null;
  readonly invokeValue: EventValue;
  readonly durability: Durability;
  readonly requestNumber: number;
  readonly startedAt: number;
  readonly attemptIds: Set<number>;
  nextAttemptAt: number;
  liveness: boolean;
  readonly bounded: BoundedReadState | null;
  status: StatusQuery | null;
}

/** A replicated write the cluster acknowledged, and which of the replicas that held it lost it. */
export interface ReplicatedAcknowledgement {
  /** The history's process, and the time it invoked the write: which operation it is. */
  readonly process: number;
  readonly call: number;
  readonly key: string;
  readonly view: number;
  readonly index: number;
  /** The primary that answered (it holds the write on disk). */
  readonly primary: ReplicaId | null;
  readonly holders: readonly ReplicaId[];
  readonly lostCopies: Set<ReplicaId>;
  /** Known committed before every holder failed: never excused. */
  settled: boolean;
  /** Not committed when the coordinator promoted a restarted replica for want of a holder. */
  overtaken: boolean;
}

/** One client connection: what its processes share. */
interface SimConnection {
  readonly index: number;
  readonly processes: readonly SimProcess[];
  /** The value this connection last saw per key: what its next cas expects. */
  readonly lastRead: Map<string, string | null>;
  /**
   * The primary this connection sends to. Like the real client it asks the coordinator again only
   * for a retry (after NOT_PRIMARY or a timeout), so a new call may reach a primary that was deposed
   * meanwhile — the way a stale read would reach a primary that stalled past its lease.
   */
  knownPrimary: ReplicaId | null;
  /** The highest index a definite (sync) write reply named: a read-your-writes read asks for it. */
  lastWriteIndex: number;
}

/** One session slot of a connection: a single-threaded process of the history. */
interface SimProcess {
  readonly connection: SimConnection;
  /** The history's process number: connection · depth + slot. */
  readonly process: number;
  /** The client id: a new one after a session expired (an expired id is never reopened). */
  id: string;
  generation: number;
  /** Its session: open, or being opened (the attempts sent so far). */
  session: { open: true } | { open: false; attemptIds: Set<number>; nextAttemptAt: number };
  requestNumber: number;
  operationsDone: number;
  pending: Pending | null;
  /** No new operation before this tick (think time). */
  idleUntil: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);
/** How a key is read whole: a group by its members at once. */
const readOf = (key: string): KvOperation =>
  isGroupKey(key) ? kvOperation.getMany(groupMembers(key).map(bytes)) : kvOperation.get(bytes(key));
const text = (value: Uint8Array | null): string | null => (value === null ? null : decoder.decode(value));

/**
 * A register's put as Redis users replace a value whole: put under a staging key of this process's
 * operation alone, then renamed over the register, as two parts of the unit. The sequence runs them
 * in one step, so the staging key never outlives it, and the unit is the write of the value it was.
 */
function stagedParts(put: KvOperationOf<'put'>, process: SimProcess): KvOperation[] {
  const staging = bytes(`staging-${decoder.decode(put.key)}-p${process.process}-${process.operationsDone}`);
  return [kvOperation.put(staging, put.value), kvOperation.rename(staging, put.key)];
}

const invokeValueOf = (f: OperationFunction, written: string | null, expected: string | null): EventValue =>
  f === 'cas' ? ([expected, written ?? ''] as const) : f === 'incr' ? 1 : written;

/** A write as the workload chose it: the operation, and how it goes into the history. */
interface WriteChoice {
  readonly operation: KvOperation;
  readonly f: OperationFunction;
  readonly written: string | null;
  /** A cas's expected value. */
  readonly expected: string | null;
  /** An incr on a register: sent sync whatever was drawn (see chooseWrite). */
  readonly syncOnly: boolean;
}

/** Single incr-floats, put-many-if-absents and SET ... IFEQs, and staged renames, answered, before any was. */
export function noStringWriteCounts() {
  return {
    incrFloats: 0,
    incrFloatsRefused: 0,
    allAbsent: 0,
    allAbsentWritten: 0,
    ifEqualSets: 0,
    ifEqualSetsWritten: 0,
    /** Register puts in sequences staged under a key of their own and renamed over (stagedParts). */
    stagedRenames: 0,
  };
}

export class SimWorkload {
  readonly recorder = new HistoryRecorder();
  /** Acknowledged asynchronous append tokens per key. */
  readonly asyncAppendsAcknowledged = new Map<string, Set<string>>();
  /** Operations invoked after the heal that did not complete with a definite answer. */
  readonly livenessFailures: string[] = [];
  /** Error replies the workload does not expect, by "f CODE": recorded as info, to be reported. */
  readonly unexpectedReplies = new Map<string, number>();
  /** Refusals recorded, by "f CODE" (async ones included, though recorded as info). */
  readonly refusals = new Map<string, number>();
  /** Writes answered SESSION_EXPIRED (their outcome unknown). */
  sessionsExpired = 0;
  /** Group reads whose members disagreed: a multi-key write applied in part. */
  readonly tornReads: string[] = [];
  /** Read-backs that did not see the part before them in their sequence. */
  readonly readBackViolations: string[] = [];
  /** Sequences sent (read-only ones, ones with a read-back), their units and parts, answers, refused parts. */
  readonly sequenceCounts = noSequenceCounts();
  /** Single incr-floats, put-many-if-absents and SET ... IFEQs answered, and what they answered. */
  readonly stringWriteCounts = noStringWriteCounts();
  /**
   * Clears of every key sent alone, and answered (a sync or replicated reply, or a request-status
   * answer); and sequences sent that clear first.
   */
  readonly clearCounts = { sent: 0, answered: 0, inSequences: 0 };
  /** Bounded reads answered, for checkBoundedReads (they are not in the history). */
  readonly boundedReads: BoundedRead[] = [];
  /** What became of bounded reads: served by a member or by the primary, STALE replies, given up. */
  readonly boundedReadCounts = { servedByMember: 0, servedByPrimary: 0, staleReplies: 0, abandoned: 0 };
  /** request-status answers by kind: executed, refused, cancelled, or a code; and unanswered ones. */
  readonly statusAnswers = new Map<string, number>();
  /** Async write requests sent, as "clientId#requestNumber": the names a loss record may hold. */
  readonly asyncWritesSent = new Set<string>();
  /** Async writes sent more than once (a retry): one attempt may be lost while another ran. */
  readonly asyncWritesResent = new Set<string>();
  /** Async appends sent, by name: where each one's token would be. */
  readonly asyncAppendsSent = new Map<string, { readonly key: string; readonly token: string }>();
  /** Acknowledged async append tokens → "clientId#requestNumber" of their request. */
  readonly asyncAppendRequests = new Map<string, string>();
  /**
   * Acknowledged replicated writes, with the replicas the reply said held them (the primary on disk,
   * the others in memory) and those of them that failed since the write was sent (a crash, a lost
   * directory). A replicated write may be lost only once every holder failed (`replicatedExcused`).
   */
  readonly replicatedAcknowledged: ReplicatedAcknowledgement[] = [];
  /** Every loss of a process or directory so far, with the dying process (null: directory lost). */
  private readonly losses: { readonly id: ReplicaId; readonly tick: number }[] = [];
  /** When the coordinator promoted a restarted replica for want of one that held everything. */
  private readonly promotionsWithoutHolders: number[] = [];
  readonly keys: readonly string[];
  private readonly connections: SimConnection[] = [];
  private readonly pipelineDepth: number;
  private readonly registerWordProbability: number;
  private readonly probeProbability: number;
  private readonly boundedReadProbability: number;
  private readonly readYourWritesProbability: number;
  private readonly statusProbability: number;
  private readonly replicatedProbability: number;
  private readonly sequenceProbability: number;
  private readonly readBackProbability: number;
  private readonly guardProbability: number;
  /** Session slots in all: a sequence's unit in lane l goes into the history as process + l · this. */
  private readonly processCount: number;
  private nextRequestId = 1;
  private invoked = 0;
  private generating = true;
  private livenessPhase = false;
  private livenessOperationsLeft = 0;
  readonly saves: SimSaves | null;
  readonly expiries: SimExpiries | null;
  /** Whole scans, if this run draws them (scan-workload.ts). */
  readonly scans: SimScans | null;

  constructor(
    private readonly cluster: SimCluster,
    private readonly random: Random,
    private readonly options: WorkloadOptions,
  ) {
    this.pipelineDepth = options.pipelineDepth ?? pipelineDepthDefault;
    this.registerWordProbability = options.registerWordProbability ?? registerWordProbabilityDefault;
    this.probeProbability = options.probeProbability ?? probeProbabilityDefault;
    this.boundedReadProbability = options.boundedReadProbability ?? boundedReadProbabilityDefault;
    this.readYourWritesProbability = options.readYourWritesProbability ?? readYourWritesProbabilityDefault;
    this.statusProbability = options.statusProbability ?? statusProbabilityDefault;
    this.replicatedProbability = options.replicatedProbability ?? replicatedProbabilityDefault;
    this.sequenceProbability = options.sequenceProbability ?? sequenceProbabilityDefault;
    this.readBackProbability = options.readBackProbability ?? readBackProbabilityDefault;
    this.guardProbability = options.guardProbability ?? guardProbabilityDefault;
    this.processCount = options.clients * this.pipelineDepth;
    if (!Number.isSafeInteger(this.pipelineDepth) || this.pipelineDepth < 1) {
      throw new RangeError(`pipelineDepth must be a positive integer, got ${this.pipelineDepth}`);
    }
    const keys: string[] = [];
    for (let number = 0; number < options.registers; number++) keys.push(`register${number}`);
    for (let number = 0; number < options.appendLists; number++) keys.push(`list${number}`);
    for (let number = 0; number < options.counters; number++) keys.push(`counter${number}`);
    for (let number = 0; number < (options.flags ?? 0); number++) keys.push(flagKey(number));
    for (let number = 0; number < (options.groups ?? 0); number++) keys.push(groupKey(number));
    this.keys = keys;
    const saves = options.saves;
    this.saves =
      saves === undefined
        ? null
        : new SimSaves(
            cluster,
            new Random(saves.seed),
            this.recorder,
            keys,
            // Past every lane of every slot (sequence units included), one process per key.
            this.processCount * sequenceLanes,
            saves.probability,
            () => this.time(),
            this.tornReads,
          );
    const expiry = options.expiry;
    this.expiries =
      expiry === undefined
        ? null
        : new SimExpiries(
            this.recorder,
            keys,
            // Past the saves' processes, one per key.
            this.processCount * sequenceLanes + keys.length,
            new Random(expiry.seed),
            expiry.probability,
            () => this.time(),
            expiry.nowMs,
            expiry.violations,
          );
    this.scans =
      options.scans === undefined ? null : new SimScans(new Random(options.scans.seed), () => this.time());
    for (let index = 0; index < options.clients; index++) {
      const processes: SimProcess[] = [];
      const connection: SimConnection = {
        index,
        processes,
        lastRead: new Map(),
        knownPrimary: null,
        lastWriteIndex: 0,
      };
      for (let slot = 0; slot < this.pipelineDepth; slot++) {
        processes.push({
          connection,
          process: index * this.pipelineDepth + slot,
          id: `sim-client-${index}/${slot}`,
          generation: 0,
          session: { open: false, attemptIds: new Set(), nextAttemptAt: 0 },
          requestNumber: 0,
          operationsDone: 0,
          pending: null,
          idleUntil: 0,
        });
      }
      this.connections.push(connection);
    }
  }

  /** From now on, every new operation must complete: faults have been healed. */
  startLivenessPhase(operationsPerClient: number): void {
    this.livenessPhase = true;
    this.livenessOperationsLeft = operationsPerClient * this.connections.length * this.pipelineDepth;
  }

  get livenessDone(): boolean {
    return this.livenessOperationsLeft <= 0 && this.idle;
  }

  stopGenerating(): void {
    this.generating = false;
    this.saves?.stopGenerating();
  }

  get idle(): boolean {
    return (
      (this.saves?.idle ?? true) &&
      this.connections.every((connection) =>
        connection.processes.every((process) => process.pending === null),
      )
    );
  }

  get operationsInvoked(): number {
    return this.invoked;
  }

  step(): void {
    this.saves?.step();
    for (const connection of this.connections) {
      for (const reply of this.cluster.takeReplies(connection.index)) this.onReply(connection, reply);
      for (const process of connection.processes) {
        const pending = process.pending;
        if (pending === null && !process.session.open) {
          if (this.generating && this.cluster.now >= process.session.nextAttemptAt) this.openSession(process);
          continue;
        }
        if (pending === null) {
          const thinking = !this.livenessPhase && this.cluster.now < process.idleUntil;
          if (this.generating && !thinking && (!this.livenessPhase || this.livenessOperationsLeft > 0))
            this.begin(process);
          continue;
        }
        const status = pending.status;
        if (status !== null) {
          if (this.cluster.now - status.startedAt >= this.deadlineTicks(pending)) {
            this.countStatus('unanswered');
            this.finish(process, 'info', null);
          } else if (this.cluster.now >= status.nextAttemptAt) {
            this.sendStatus(process, status);
          }
        } else if (this.cluster.now - pending.startedAt >= this.deadlineTicks(pending)) {
          this.onDeadline(process, pending);
        } else if (this.cluster.now >= pending.nextAttemptAt) {
          this.send(process, pending);
        }
      }
    }
  }

  private deadlineTicks(pending: Pending): number {
    return pending.liveness
      ? (this.options.livenessDeadlineTicks ?? this.options.deadlineTicks)
      : this.options.deadlineTicks;
  }

  /** Reads one key through the normal path, as one more operation of client 0 (used for final reads);
   * `lastReadOf` then tells its value, or undefined if it did not succeed. */
  beginRead(key: string): void {
    const connection = this.connections[0];
    const process = connection?.processes[0];
    if (connection === undefined || process === undefined || process.pending !== null) return;
    connection.lastRead.delete(key);
    this.invoke(process, readOf(key), 'read', key, null, 'sync');
  }

  lastReadOf(key: string): string | null | undefined {
    return this.connections[0]?.lastRead.get(key);
  }

  // ---- operations ------------------------------------------------------------------------------

  private begin(process: SimProcess): void {
    const page = this.scans?.pageFor(process.process) ?? null;
    if (page !== null) {
      if (this.livenessPhase) this.livenessOperationsLeft -= 1;
      this.invokeScanPage(process, page);
      return;
    }
    const probed = this.random.chance(this.probeProbability) ? this.registerBeingWritten() : undefined;
    if (probed !== undefined) {
      if (this.livenessPhase) this.livenessOperationsLeft -= 1;
      this.invoke(process, kvOperation.incr(bytes(probed), 1), 'incr', probed, null, 'sync');
      return;
    }
    if (this.sequenceProbability > 0 && this.random.chance(this.sequenceProbability)) {
      if (this.livenessPhase) this.livenessOperationsLeft -= 1;
      this.beginSequence(process);
      return;
    }
    if (this.options.clears === true && this.random.chance(clearProbability)) {
      if (this.livenessPhase) this.livenessOperationsLeft -= 1;
      this.clearCounts.sent += 1;
      this.invoke(process, kvOperation.clear(), 'clear', everyKey, null, this.chooseDurability());
      return;
    }
    const key = this.random.pick(this.keys);
    const durability = this.chooseDurability();
    const reading = this.random.chance(readProbability);
    if (this.livenessPhase) this.livenessOperationsLeft -= 1;
    if (reading && !isGroupKey(key) && this.random.chance(this.boundedReadProbability)) {
      this.invokeBoundedRead(process, key);
    } else if (reading) {
      // Now and then a ttl read of a register (expiry-workload.ts): a read of the absent value, or unknown.
      const ttl = key.startsWith('register')
        ? (this.expiries?.ttlReadFor(process.process, key) ?? null)
        : null;
      this.invoke(process, ttl ?? readOf(key), 'read', key, null, 'sync');
    } else {
      // Now and then an expire or a persist of a register (expiry-workload.ts), which changes no value,
      // or a write that answers the value before it: out of the history until answered.
      const change = key.startsWith('register')
        ? (this.expiries?.changeFor(process.process, key, `p${process.process}-${process.operationsDone}`) ??
          null)
        : null;
      if (change !== null) {
        this.invokeUnrecorded(process, change, key);
        return;
      }
      const { operation, f, written, expected, syncOnly } = this.chooseWrite(process, key);
      this.invoke(process, operation, f, key, written, syncOnly ? 'sync' : durability, expected);
    }
  }

  private chooseDurability(): Durability {
    return this.random.chance(this.options.asyncProbability)
      ? 'async'
      : this.random.chance(this.replicatedProbability)
        ? 'replicated'
        : 'sync';
  }

  /** A write of `key` as the workload mixes them, with how it goes into the history. */
  private chooseWrite(process: SimProcess, key: string): WriteChoice {
    const sequence = process.operationsDone;
    const word = `p${process.process}-${sequence}`;
    const plain = (operation: KvOperation, f: OperationFunction, written: string | null): WriteChoice => ({
      operation,
      f,
      written,
      expected: null,
      syncOnly: false,
    });
    if (isFlagKey(key)) {
      const write = chooseFlagWrite(this.random);
      if (write === 'delete') return plain(kvOperation.deleteMany([bytes(key)]), 'delete', null);
      const when = write === 'put-if-absent' ? 'absent' : 'present';
      // A put-if-absent is a cas from absent; a put-if-present writes whatever the key held.
      return plain(
        kvOperation.putIf(bytes(key), bytes(word), when),
        when === 'absent' ? 'cas' : 'replace',
        word,
      );
    }
    if (isGroupKey(key)) {
      const members = groupMembers(key).map(bytes);
      if (chooseGroupWrite(this.random) === 'delete-many') {
        return plain(kvOperation.deleteMany(members), 'delete', null);
      }
      const values = members.map(() => bytes(word));
      // Every fourth (by the process's count, no draw) only if the group is absent (Redis MSETNX): a
      // cas from absent, since members written only together are absent only together.
      if (this.options.newerStringWrites === true && sequence % 4 === 3) {
        return plain(kvOperation.putManyIfAbsent(members, values), 'cas', word);
      }
      return plain(kvOperation.putMany(members, values), 'write', word);
    }
    if (key.startsWith('register')) {
      const roll = this.random.next();
      // Unique per process either way: a word, or a number whose increments stay in its block.
      const value = this.random.chance(this.registerWordProbability)
        ? word
        : String((process.process + 1) * processNumberStride + sequence * sequenceNumberStride);
      if (roll < registerWriteShare) {
        const expiring = this.expiries?.setFor(key, value, bytes(value)) ?? null;
        return plain(expiring ?? kvOperation.put(bytes(key), bytes(value)), 'write', value);
      }
      if (roll < registerCasShare) {
        const expected = process.connection.lastRead.get(key) ?? null;
        if (expected !== null && this.sendsConditionalSets && sequence % 3 === 2) {
          // Every third cas from a value as SET ... IFEQ: where no key has a time to live, the same
          // compare-and-set (a set ends a time to live, a cas keeps it).
          const operation = kvOperation.set(bytes(key), bytes(value), { when: { equals: bytes(expected) } });
          return { operation, f: 'cas', written: value, expected, syncOnly: false };
        }
        const operation = kvOperation.cas(
          bytes(key),
          expected === null ? null : bytes(expected),
          bytes(value),
        );
        return { operation, f: 'cas', written: value, expected, syncOnly: false };
      }
      // Always sync: an incr here is mostly there to be refused, and an async one's refusal (or
      // acknowledgement) says nothing the checker can use, while it costs the search dearly.
      return { ...plain(this.increment(key, sequence), 'incr', null), syncOnly: true };
    }
    if (key.startsWith('list')) {
      const token = `${word};`;
      return plain(kvOperation.append(bytes(key), bytes(token)), 'append', token);
    }
    return plain(this.increment(key, sequence), 'incr', null);
  }

  /**
   * Whether a register's put in a sequence goes staged (stagedParts): in seeds with staged renames,
   * every other one by the process's count, so no draw changes.
   */
  private stages(process: SimProcess, operation: KvOperation): operation is KvOperationOf<'put'> {
    return (
      this.options.stagedRenames === true &&
      operation.kind === 'put' &&
      process.operationsDone % 2 === 1 &&
      decoder.decode(operation.key).startsWith('register')
    );
  }

  /** Whether register cas writes go as SET ... IFEQ now and then: only where no key has a time to live. */
  private get sendsConditionalSets(): boolean {
    return this.options.newerStringWrites === true && (this.options.expiry?.probability ?? 0) === 0;
  }

  /**
   * An increment by 1 of `key`: with `newerStringWrites`, every other one an incr-float, which on
   * the simulator's values (words, and safe integers) is the same increment and refuses the same
   * values (sequence-workload.ts, `recordedRefusal`).
   */
  private increment(key: string, sequence: number): KvOperation {
    return this.options.newerStringWrites === true && sequence % 2 === 1
      ? kvOperation.incrFloat(bytes(key), 1)
      : kvOperation.incr(bytes(key), 1);
  }

  /**
   * A sequence: 2 or 3 units on distinct keys, each a read or a write as single operations mix them
   * (all reads now and then: a read sequence, sent as a query), and sometimes a read-back of a key
   * one of them wrote.
   */
  private beginSequence(process: SimProcess): void {
    const count = Math.min(this.random.integer(sequenceUnitsMin, sequenceUnitsMax), this.keys.length);
    const keys = [...this.keys];
    const chosen: string[] = [];
    for (let at = 0; at < count; at++) {
      chosen.push(...keys.splice(this.random.integer(0, keys.length - 1), 1));
    }
    let durability = this.chooseDurability();
    const readOnly = this.random.chance(readProbability);
    // Now and then, where clears are drawn, the first unit clears every key: the parts after it see
    // an empty store (the store's pending state learns "cleared", kv-store.ts).
    const clearsFirst =
      !readOnly && this.options.clears === true && this.random.chance(sequenceClearProbability);
    if (clearsFirst) this.clearCounts.inSequences += 1;
    const units = chosen.map((key, at): SequenceUnit => {
      if (clearsFirst && at === 0) return clearUnit();
      // The first unit writes, unless every one reads: a sequence with a write is a write.
      if (readOnly || (at > 0 && this.random.chance(readProbability))) return readUnit(key);
      const { operation, f, written, expected, syncOnly } = this.chooseWrite(process, key);
      if (syncOnly) durability = 'sync';
      return {
        f,
        key,
        written,
        invokeValue: invokeValueOf(f, written, expected),
        parts: this.stages(process, operation) ? stagedParts(operation, process) : partsOf(operation),
        readsBack: null,
      };
    });
    if (!readOnly && this.random.chance(this.readBackProbability)) {
      // Not a group: its members' read is checked whole already (a torn read).
      const writers = units.flatMap((unit, at) =>
        writesSomething(unit) && !isGroupKey(unit.key) && unit.f !== 'clear' ? [at] : [],
      );
      const writer = writers.length === 0 ? undefined : this.random.pick(writers);
      const unit = writer === undefined ? undefined : units[writer];
      if (writer !== undefined && unit !== undefined) units.push(readBackUnit(unit, writer));
    }
    // Not behind a clear: the guarded register would be gone by the time the guard is checked.
    if (!readOnly && !clearsFirst && this.random.chance(this.guardProbability)) {
      // On a register the sequence leaves alone, that this connection has read: the value it read.
      const { lastRead } = process.connection;
      const guarded = this.keys.filter(
        (key) => key.startsWith('register') && !chosen.includes(key) && lastRead.has(key),
      );
      const key = guarded.length === 0 ? undefined : this.random.pick(guarded);
      if (key !== undefined) units.push(guardUnit(key, lastRead.get(key) ?? null));
    }
    this.invokeSequence(process, units, readOnly ? 'sync' : durability);
  }

  /**
   * A register with a write or cas in flight (alone or in a sequence), the one invoked last: a
   * refusal is answered at once, so an incr on it right away is the likeliest to meet that write
   * before it commits.
   */
  private registerBeingWritten(): string | undefined {
    let latest: { readonly key: string; readonly startedAt: number } | undefined;
    for (const connection of this.connections) {
      for (const { pending } of connection.processes) {
        if (pending === null) continue;
        for (const { f, key } of pending.sequence?.units ?? [pending]) {
          if (!key.startsWith('register') || (f !== 'write' && f !== 'cas')) continue;
          if (latest === undefined || pending.startedAt > latest.startedAt) {
            latest = { key, startedAt: pending.startedAt };
          }
        }
      }
    }
    return latest?.key;
  }

  private invoke(
    process: SimProcess,
    operation: KvOperation,
    f: OperationFunction,
    key: string,
    written: string | null,
    durability: Durability,
    expected: string | null = null,
  ): void {
    const value = invokeValueOf(f, written, expected);
    const handle = this.recorder.invoke(process.process, f, key, value, this.time());
    this.invoked += 1;
    const readOnly = isReadOnly(operation);
    process.pending = {
      handle,
      operation,
      sequence: null,
      readOnly,
      f,
      key,
      written,
      invokeValue: value,
      durability,
      requestNumber: this.requestNumberFor(process, readOnly),
      ...this.firstAttempt(),
      bounded: null,
      status: null,
    };
    this.send(process, process.pending);
  }

  /**
   * An expire, a persist, or a write that answers the value before it: sent sync and retried like
   * any write, but kept out of the history as it goes (expiry-workload.ts records what it showed).
   */
  private invokeUnrecorded(process: SimProcess, operation: KvOperation, key: string): void {
    const kind = operation.kind;
    assert(isUnrecorded(kind), `${kind} does not go unrecorded`);
    this.invoked += 1;
    process.pending = {
      handle: null,
      operation,
      sequence: null,
      readOnly: false,
      f: kind,
      key,
      written: null,
      invokeValue: null,
      durability: 'sync',
      requestNumber: this.requestNumberFor(process, false),
      ...this.firstAttempt(),
      bounded: null,
      status: null,
    };
    this.send(process, process.pending);
  }

  /** A write takes the slot's next request number; a read has none (0). */
  private requestNumberFor(process: SimProcess, readOnly: boolean): number {
    if (readOnly) return 0;
    process.requestNumber += 1;
    return process.requestNumber;
  }

  /** Where a request's first attempt stands as it is invoked. */
  private firstAttempt(): Pick<PendingRequest, 'startedAt' | 'attemptIds' | 'nextAttemptAt' | 'liveness'> {
    return {
      startedAt: this.cluster.now,
      attemptIds: new Set(),
      nextAttemptAt: this.cluster.now,
      liveness: this.livenessPhase,
    };
  }

  /**
   * Each unit goes into the history as an operation of its own, invoked now: the first on the
   * slot's process, the one in lane l on process + l · processCount (history.ts allows one pending
   * operation per process; see sequence-workload.ts for why the per-key check stays sound).
   */
  private invokeSequence(process: SimProcess, units: readonly SequenceUnit[], durability: Durability): void {
    assert(units.length <= sequenceLanes, 'a sequence has a lane for each unit');
    const time = this.time();
    const sent = units.map((unit, lane): SentUnit => {
      const history = process.process + lane * this.processCount;
      return {
        ...unit,
        process: history,
        handle: this.recorder.invoke(history, unit.f, unit.key, unit.invokeValue, time),
      };
    });
    this.invoked += sent.length;
    const parts = units.flatMap((unit) => unit.parts);
    const readOnly = isReadOnlySequence(parts);
    const whole = units.some((unit) => unit.guards !== undefined);
    const counts = this.sequenceCounts;
    counts.sent += 1;
    if (whole) counts.guarded += 1;
    counts.units += units.length;
    counts.parts += parts.length;
    if (readOnly) counts.readOnly += 1;
    if (units.some((unit) => unit.readsBack !== null)) counts.readBacks += 1;
    process.pending = {
      handle: null,
      operation: null,
      sequence: { parts, units: sent, whole },
      readOnly,
      f: 'sequence',
      key: units.map((unit) => unit.key).join('+'),
      written: null,
      invokeValue: null,
      durability,
      requestNumber: this.requestNumberFor(process, readOnly),
      ...this.firstAttempt(),
      bounded: null,
      status: null,
    };
    this.send(process, process.pending);
  }

  /** A page of a whole scan (scan-workload.ts): a read at the primary, kept out of the history. */
  private invokeScanPage(process: SimProcess, operation: KvOperation): void {
    this.invoked += 1;
    process.pending = {
      handle: null,
      operation,
      sequence: null,
      readOnly: true,
      f: 'scan',
      key: 'scan',
      written: null,
      invokeValue: null,
      durability: 'sync',
      requestNumber: 0,
      ...this.firstAttempt(),
      bounded: null,
      status: null,
    };
    this.send(process, process.pending);
  }

  /** A read any member may answer within a staleness bound: kept out of the history. */
  private invokeBoundedRead(process: SimProcess, key: string): void {
    this.invoked += 1;
    const readYourWrites = this.random.chance(this.readYourWritesProbability);
    process.pending = {
      handle: null,
      operation: kvOperation.get(bytes(key)),
      sequence: null,
      readOnly: true,
      f: 'read',
      key,
      written: null,
      invokeValue: null,
      durability: 'sync',
      requestNumber: 0,
      ...this.firstAttempt(),
      bounded: {
        maxStalenessMs: this.random.pick(maxStalenessChoicesMs),
        minIndex: readYourWrites ? process.connection.lastWriteIndex : 0,
        asked: [],
        attempts: new Map(),
        atPrimary: false,
      },
      status: null,
    };
    this.send(process, process.pending);
  }

  /** The deadline passed with no answer: give up (info), or ask whether the write ran. */
  private onDeadline(process: SimProcess, pending: Pending): void {
    const write = !pending.readOnly;
    if (!write || !this.random.chance(this.statusProbability)) {
      if (pending.bounded !== null) this.boundedReadCounts.abandoned += 1;
      this.finish(process, 'info', null);
      return;
    }
    pending.status = { attemptIds: new Set(), startedAt: this.cluster.now, nextAttemptAt: this.cluster.now };
    this.sendStatus(process, pending.status);
  }

  /** A client opens its session before its first write, and again (with a new id) after it expired. */
  private openSession(process: SimProcess): void {
    const session = process.session;
    if (session.open) return;
    session.nextAttemptAt = this.cluster.now + this.options.attemptTimeoutTicks;
    const primary = this.cluster.view()?.primary ?? null;
    if (primary === null) return;
    const id = this.nextRequestId++;
    session.attemptIds.add(id);
    this.cluster.submit(process.connection.index, primary, {
      type: 'request',
      id,
      kind: 'open-session',
      clientId: clientId(process.id),
      requestNumber: 0,
      durability: 'sync',
      operation: new Uint8Array(0),
      staleness: null,
    });
  }

  private send(process: SimProcess, pending: Pending): void {
    pending.nextAttemptAt = this.cluster.now + this.options.attemptTimeoutTicks;
    const bounded = pending.bounded;
    const member = bounded === null ? null : this.nextMember(bounded);
    const to = member ?? this.primaryFor(process.connection, pending.attemptIds.size > 0);
    if (to === null) return;
    const id = this.nextRequestId++;
    pending.attemptIds.add(id);
    if (bounded !== null) {
      bounded.attempts.set(id, { to, sentAt: this.cluster.now, atPrimary: member === null });
    } else if (pending.durability === 'async' && !pending.readOnly) {
      const name = `${process.id}#${pending.requestNumber}`;
      if (this.asyncWritesSent.has(name)) this.asyncWritesResent.add(name);
      this.asyncWritesSent.add(name);
      // A sequence is one entry, lost or kept whole: any one of its tokens tells which.
      const append = pending.sequence?.units.find((unit) => unit.f === 'append') ?? pending;
      if (append.f === 'append' && append.written !== null) {
        this.asyncAppendsSent.set(name, { key: append.key, token: append.written });
      }
    }
    this.cluster.submit(process.connection.index, to, {
      type: 'request',
      id,
      kind: pending.readOnly ? 'read' : 'write',
      clientId: clientId(process.id),
      requestNumber: pending.requestNumber,
      durability: pending.durability,
      operation:
        pending.sequence === null
          ? encodeOperation(pending.operation)
          : encodeSequence(pending.sequence.parts, pending.sequence.whole),
      staleness:
        bounded === null
          ? null
          : { maxStalenessMs: bounded.maxStalenessMs, minIndex: logIndex(bounded.minIndex) },
    });
  }

  /**
   * Where a bounded read goes next: first a random backup (or, a quarter of the time, any member),
   * then another member; null once it is the primary's turn.
   */
  private nextMember(bounded: BoundedReadState): ReplicaId | null {
    if (bounded.atPrimary) return null;
    const view = this.cluster.view();
    const members = view === null ? [] : [view.primary, ...view.backups, ...view.learners];
    const backups = view?.backups.filter((id) => !bounded.asked.includes(id)) ?? [];
    const others = members.filter((id) => !bounded.asked.includes(id) && id !== view?.primary);
    let choice: ReplicaId | undefined;
    if (bounded.asked.length === 0) {
      choice =
        backups.length > 0 && this.random.chance(boundedReadBackupFirstProbability)
          ? this.random.pick(backups)
          : members.length > 0
            ? this.random.pick(members)
            : undefined;
    } else if (bounded.asked.length < boundedReadMembersMax && others.length > 0) {
      choice = this.random.pick(others);
    }
    if (choice === undefined || choice === view?.primary) {
      bounded.atPrimary = true;
      return null;
    }
    bounded.asked.push(choice);
    return choice;
  }

  /**
   * The primary this connection sends to. Like the real client it asks the coordinator again only
   * for a retry, so a new call may reach a primary that was deposed meanwhile.
   */
  private primaryFor(connection: SimConnection, retry: boolean): ReplicaId | null {
    if (connection.knownPrimary === null || retry) {
      connection.knownPrimary = this.cluster.view()?.primary ?? null;
    }
    return connection.knownPrimary;
  }

  /** Asks whether the process's pending write ran: same client id and request number. */
  private sendStatus(process: SimProcess, status: StatusQuery): void {
    const pending = process.pending;
    if (pending === null) return;
    status.nextAttemptAt = this.cluster.now + this.options.attemptTimeoutTicks;
    const primary = this.primaryFor(process.connection, true);
    if (primary === null) return;
    const id = this.nextRequestId++;
    status.attemptIds.add(id);
    const kind: RequestKind = 'request-status';
    this.cluster.submit(process.connection.index, primary, {
      type: 'request',
      id,
      kind,
      clientId: clientId(process.id),
      requestNumber: pending.requestNumber,
      durability: 'sync',
      operation: new Uint8Array(0),
      staleness: null,
    });
  }

  private onReply(connection: SimConnection, reply: ClientReply): void {
    const opening = connection.processes.find(
      (candidate) => !candidate.session.open && candidate.session.attemptIds.has(reply.id),
    );
    if (opening !== undefined) {
      this.onSessionReply(opening, reply);
      return;
    }
    const process = connection.processes.find(
      (candidate) =>
        candidate.pending?.attemptIds.has(reply.id) === true ||
        candidate.pending?.status?.attemptIds.has(reply.id) === true,
    );
    const pending = process?.pending;
    if (process === undefined || pending === null || pending === undefined) return;
    if (pending.status?.attemptIds.has(reply.id) === true) {
      this.onStatusReply(process, pending, reply);
      return;
    }
    if (pending.bounded !== null) {
      this.onBoundedReadReply(process, pending, pending.bounded, reply);
      return;
    }
    if (!reply.ok) {
      this.onRefusal(process, pending, reply.code);
      return;
    }
    if (pending.durability === 'async' && !pending.readOnly) {
      if (pending.sequence !== null) {
        // Acknowledged, but a failover may still lose it: every unit unknown, as for one operation.
        this.settleSequence(process, pending.sequence, reply, false);
        return;
      }
      if (pending.operation.kind === 'append' && pending.written !== null) {
        this.acknowledgeAsyncAppend(pending.key, pending.written, `${process.id}#${pending.requestNumber}`);
      }
      // Not a read-your-writes index: a failover may lose the entry, and the log may never reach it again.
      // Acknowledged, but a failover may still lose it: unknown as far as linearizability goes.
      this.finish(process, 'info', null, true);
      return;
    }
    this.recordSuccess(process, pending, reply);
  }

  /**
   * A replica's process died, or its directory was lost while it was down (see
   * SimCluster.lossListeners): each replicated write it held and that has not committed yet counts as
   * failed there. Even a copy on its disk: a restarted replica is no longer counted on for what it held
   * (only for what committed), so once every holder failed another restarted one may lead without it,
   * as the promise allows. A committed write is settled: it must survive from then on, as sync writes.
   */
  noteLoss(id: ReplicaId): void {
    this.losses.push({ id, tick: this.cluster.now });
    for (const acknowledged of this.replicatedAcknowledged) {
      if (acknowledged.settled || !acknowledged.holders.includes(id)) continue;
      if (this.committed(acknowledged)) acknowledged.settled = true;
      else acknowledged.lostCopies.add(id);
    }
  }

  /**
   * The coordinator chose a primary among restarted replicas, every replica that held everything being
   * crashed or out of its reach (failed, as far as the promise goes): a replicated write not committed
   * yet may be lost by it.
   */
  notePromotionWithoutHolders(): void {
    this.promotionsWithoutHolders.push(this.cluster.now);
    for (const acknowledged of this.replicatedAcknowledged) {
      if (acknowledged.settled || acknowledged.overtaken) continue;
      if (this.committed(acknowledged)) acknowledged.settled = true;
      else acknowledged.overtaken = true;
    }
  }

  /** Some running replica knows the write committed (it holds the entry, at or below its commit index). */
  private committed(acknowledged: ReplicatedAcknowledgement): boolean {
    const position = { view: viewNumber(acknowledged.view), index: logIndex(acknowledged.index) };
    for (const id of this.cluster.nodes.keys()) {
      if (this.cluster.replica(id)?.knowsCommitted(position) === true) return true;
    }
    return false;
  }

  /** Replicated writes every holder of which failed before they committed: these alone may be missing. */
  replicatedExcused(): ReplicatedAcknowledgement[] {
    return this.replicatedAcknowledged.filter(
      (acknowledged) =>
        !acknowledged.settled &&
        (acknowledged.overtaken || acknowledged.holders.every((id) => acknowledged.lostCopies.has(id))),
    );
  }

  /** A definite success: a sync reply, or a request-status answer (given once the entry committed). */
  private recordSuccess(process: SimProcess, pending: Pending, reply: ClientSuccess): void {
    if (pending.sequence !== null) {
      this.settleSequence(process, pending.sequence, reply, true);
      return;
    }
    const connection = process.connection;
    if (reply.durability === 'replicated' && !isReadOnly(pending.operation)) {
      this.acknowledgeReplicated(process.process, pending.startedAt, pending.key, reply);
    }
    const { index } = reply;
    // Not a read-your-writes index for a replicated write: lost with every replica that held it, its
    // index may never be reached again (or be another entry's), as for an async write.
    if (!isReadOnly(pending.operation) && reply.durability !== 'replicated') {
      this.noteWriteIndex(connection, index);
    }
    if (pending.operation.kind === 'set' && isValueCondition(pending.operation.when)) {
      // SET ... IFEQ: the cas it is, over a key with no time to live.
      this.stringWriteCounts.ifEqualSets += 1;
      if (decodeResult('set', reply.result).written) {
        this.stringWriteCounts.ifEqualSetsWritten += 1;
        connection.lastRead.set(pending.key, pending.written);
        this.finish(process, 'ok', pending.invokeValue, false, undefined, index);
      } else this.finish(process, 'fail', pending.invokeValue);
      return;
    }
    switch (pending.operation.kind) {
      case 'get': {
        const value = text(decodeResult('get', reply.result).value);
        connection.lastRead.set(pending.key, value);
        this.finish(process, 'ok', value, false, undefined, index);
        return;
      }
      case 'put':
      case 'set': // a register's put with a time to live (expiry-workload.ts): unconditional
        this.expiries?.written(pending.key, pending.written);
        this.finish(process, 'ok', pending.written, false, undefined, index);
        return;
      case 'append':
        this.finish(process, 'ok', decodeResult('append', reply.result).length, false, undefined, index);
        return;
      case 'cas': {
        const result = decodeResult('cas', reply.result);
        connection.lastRead.set(pending.key, text(result.current));
        if (result.swapped) this.finish(process, 'ok', pending.invokeValue, false, undefined, index);
        else this.finish(process, 'fail', pending.invokeValue);
        return;
      }
      case 'incr': {
        const { value } = decodeResult('incr', reply.result);
        connection.lastRead.set(pending.key, String(value));
        this.finish(process, 'ok', value, false, undefined, index);
        return;
      }
      case 'incr-float': {
        // Recorded as the incr it is on these values: a whole delta on a safe integer.
        this.stringWriteCounts.incrFloats += 1;
        const written = text(decodeResult('incr-float', reply.result).value) ?? '';
        connection.lastRead.set(pending.key, written);
        this.finish(process, 'ok', Number(written), false, undefined, index);
        return;
      }
      case 'delete':
      case 'delete-many':
        this.finish(process, 'ok', null, false, undefined, index);
        return;
      case 'clear':
        this.clearCounts.answered += 1;
        this.finish(process, 'ok', null, false, undefined, index);
        return;
      case 'put-many':
        this.finish(process, 'ok', pending.written, false, undefined, index);
        return;
      case 'put-many-if-absent':
        this.stringWriteCounts.allAbsent += 1;
        if (decodeResult('put-many-if-absent', reply.result).written) {
          this.stringWriteCounts.allAbsentWritten += 1;
          this.finish(process, 'ok', pending.invokeValue, false, undefined, index);
        } else this.finish(process, 'fail', pending.invokeValue);
        return;
      case 'put-if': {
        // Not written is an observation: the key was present (absent, for a put-if-present).
        if (decodeResult('put-if', reply.result).written) {
          this.finish(process, 'ok', pending.invokeValue, false, undefined, index);
        } else this.finish(process, 'fail', pending.invokeValue);
        return;
      }
      case 'get-many': {
        const values = decodeResult('get-many', reply.result).values.map(text);
        const seen = groupValue(pending.key, values);
        if ('torn' in seen) {
          this.tornReads.push(`${seen.torn} (index ${index})`);
          this.finish(process, 'info', null, true);
          return;
        }
        connection.lastRead.set(pending.key, seen.value);
        this.finish(process, 'ok', seen.value, false, undefined, index);
        return;
      }
      case 'expire':
      case 'persist':
        // Out of the history (handle null): expiry-workload.ts notes that it ran.
        this.expiries?.changed(process.process);
        this.finish(process, 'ok', null, false, undefined, index);
        return;
      case 'get-expire':
        this.expiries?.changed(process.process, decodeResult('get-expire', reply.result).value, index);
        this.finish(process, 'ok', null, false, undefined, index);
        return;
      case 'get-set':
      case 'get-delete': {
        const result = decodeResult(pending.operation.kind, reply.result);
        const previous = result.kind === 'get-set' ? result.previous : result.value;
        this.expiries?.readingWriteAnswered(process.process, previous, index ?? 0);
        this.finish(process, 'ok', null, false, undefined, index);
        return;
      }
      case 'ttl': {
        // Absent: a read of the absent value. Present: nothing of the value, so unknown.
        const result = decodeResult('ttl', reply.result);
        this.expiries?.ttlAnswered(process.process, pending.key, result);
        if (result.exists) this.finish(process, 'info', null, true);
        else this.finish(process, 'ok', null, false, undefined, index);
        return;
      }
      case 'scan':
        this.scans?.pageAnswered(process.process, decodeResult('scan', reply.result));
        this.finish(process, 'ok', null, false, undefined, index);
        return;
      case 'lengths':
        throw new Error(`the workload sends no ${pending.operation.kind}`);
    }
  }

  /** A replicated write acknowledged: the operation of `process` invoked at `startedAt` on `key`. */
  private acknowledgeReplicated(process: number, startedAt: number, key: string, reply: ClientSuccess): void {
    const acknowledged: ReplicatedAcknowledgement = {
      process,
      call: startedAt * nanosecondsPerTick,
      key,
      view: reply.view,
      index: reply.index,
      primary: reply.replicas[0] ?? null,
      holders: [...reply.replicas],
      lostCopies: new Set(),
      settled: false,
      overtaken: false,
    };
    // A holder may have lost it before the reply arrived: its receipt, or the reply, was on its way.
    for (const loss of this.losses) {
      if (loss.tick >= startedAt && acknowledged.holders.includes(loss.id)) {
        acknowledged.lostCopies.add(loss.id);
      }
    }
    if (this.promotionsWithoutHolders.some((tick) => tick >= startedAt)) {
      acknowledged.overtaken = true;
    }
    this.replicatedAcknowledged.push(acknowledged);
  }

  /**
   * A sequence answered: each unit goes into the history with its own outcome (`definite`: a sync
   * or replicated reply, or a request-status answer), or as info (an async acknowledgement). The
   * torn-read and read-back checks hold either way: the store answered every part from one state.
   */
  private settleSequence(
    process: SimProcess,
    sequence: SentSequence,
    reply: ClientSuccess,
    definite: boolean,
  ): void {
    const pending = process.pending;
    if (pending === null) return;
    let outcomes: KvOutcome[];
    try {
      outcomes = decodeSequenceResult(sequence.parts, reply.result);
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error;
      this.countUnexpected(`sequence ${error.code}`);
      this.finish(process, 'info', null, true);
      return;
    }
    this.sequenceCounts.answered += 1;
    const { index } = reply;
    const written = !pending.readOnly;
    // Not a read-your-writes index for a replicated write (nor an async one): see recordSuccess.
    if (definite && written && reply.durability !== 'replicated')
      this.noteWriteIndex(process.connection, index);
    const time = this.time();
    const outcomesOf = new Map<number, readonly KvOutcome[]>();
    let first = 0;
    sequence.units.forEach((unit, position) => {
      outcomesOf.set(position, outcomes.slice(first, first + unit.parts.length));
      first += unit.parts.length;
    });
    sequence.units.forEach((unit, position) => {
      const own = outcomesOf.get(position) ?? [];
      for (const outcome of own) {
        if (outcome.ok) continue;
        this.sequenceCounts.partsRefused += 1;
        if (observingRefusals[unit.parts[0]?.kind ?? 'get'] === outcome.code) {
          const cause = `${unit.f} ${outcome.code}`;
          this.refusals.set(cause, (this.refusals.get(cause) ?? 0) + 1);
        }
      }
      const verdict = unitVerdict(unit, own);
      if (unit.readsBack !== null) this.checkReadBack(process, sequence, outcomesOf, unit, verdict, index);
      if (verdict.status === 'info') {
        if (verdict.unexpected !== undefined) this.countUnexpected(`sequence ${verdict.unexpected}`);
        if (verdict.torn !== undefined) this.tornReads.push(`${verdict.torn} (a sequence, index ${index})`);
        this.recorder.info(unit.handle, time);
        return;
      }
      if (!definite) {
        if (unit.f === 'append' && verdict.status === 'ok' && unit.written !== null) {
          this.acknowledgeAsyncAppend(unit.key, unit.written, `${process.id}#${pending.requestNumber}`);
        }
        this.recorder.info(unit.handle, time);
        return;
      }
      if (verdict.seen !== undefined) process.connection.lastRead.set(unit.key, verdict.seen);
      // Every unit of a replicated write, its reads and refusals too: if every holder lost the
      // entry, what each observed may be lost with it, and run-seed makes them all unknown.
      if (written && reply.durability === 'replicated') {
        this.acknowledgeReplicated(unit.process, pending.startedAt, unit.key, reply);
      }
      if (verdict.status === 'ok' && unit.parts.some((part) => part.kind === 'rename')) {
        this.stringWriteCounts.stagedRenames += 1;
      }
      if (verdict.status === 'ok') this.recorder.ok(unit.handle, verdict.value, time, index);
      else this.recorder.fail(unit.handle, time, verdict.error);
    });
    this.endPending(process);
  }

  /** A read-back must see what the unit it reads back did, earlier in the same sequence. */
  private checkReadBack(
    process: SimProcess,
    sequence: SentSequence,
    outcomesOf: ReadonlyMap<number, readonly KvOutcome[]>,
    unit: SentUnit,
    verdict: ReturnType<typeof unitVerdict>,
    index: number,
  ): void {
    if (unit.readsBack === null || verdict.status !== 'ok' || typeof verdict.value === 'number') return;
    const read = verdict.value;
    if (read !== null && typeof read !== 'string') return;
    const writer = sequence.units[unit.readsBack];
    const [part] = writer?.parts ?? [];
    const [outcome] = outcomesOf.get(unit.readsBack) ?? [];
    if (writer === undefined || part === undefined || outcome === undefined) return;
    const problem = readBackProblem(part, outcome, read);
    if (problem === null) return;
    const answered = describeOutcome(outcome);
    this.readBackViolations.push(
      `a sequence of ${process.id} (index ${index}, ${sequence.units.map((each) => `${each.f} ${each.key}`).join(', ')}): ` +
        `the read-back of ${unit.key} returned ${JSON.stringify(read)} after its ${part.kind} (${answered}), ${problem}`,
    );
  }

  private acknowledgeAsyncAppend(key: string, token: string, name: string): void {
    const tokens = this.asyncAppendsAcknowledged.get(key) ?? new Set<string>();
    tokens.add(token);
    this.asyncAppendsAcknowledged.set(key, tokens);
    this.asyncAppendRequests.set(token, name);
  }

  private countUnexpected(cause: string): void {
    this.unexpectedReplies.set(cause, (this.unexpectedReplies.get(cause) ?? 0) + 1);
  }

  private noteWriteIndex(connection: SimConnection, index: number): void {
    connection.lastWriteIndex = Math.max(connection.lastWriteIndex, index);
  }

  /** A bounded read's answer: served (kept for the check), STALE (ask the next), or a retry. */
  private onBoundedReadReply(
    process: SimProcess,
    pending: Pending,
    bounded: BoundedReadState,
    reply: ClientReply,
  ): void {
    const attempt = bounded.attempts.get(reply.id);
    if (attempt === undefined) return;
    if (reply.ok) {
      if (attempt.atPrimary) this.boundedReadCounts.servedByPrimary += 1;
      else this.boundedReadCounts.servedByMember += 1;
      // The replica measures the bound with its own clock: as real time it is longer where that
      // clock runs slow.
      const boundTicks =
        (bounded.maxStalenessMs / simMsPerTick + clockReadingSlackTicks) /
        this.cluster.clockRateOf(attempt.to);
      this.boundedReads.push({
        process: process.process,
        key: pending.key,
        value: text(decodeResult('get', reply.result).value),
        sent: attempt.sentAt * nanosecondsPerTick,
        bound: Math.ceil(boundTicks * nanosecondsPerTick),
        maxStalenessMs: bounded.maxStalenessMs,
        minIndex: bounded.minIndex,
        index: reply.index,
        replica: attempt.to,
      });
      this.finish(process, 'ok', null);
      return;
    }
    const retrySoon = () => {
      pending.nextAttemptAt = Math.min(pending.nextAttemptAt, this.cluster.now + retryBackoffTicks);
    };
    if (reply.code === ErrorCode.stale) {
      this.boundedReadCounts.staleReplies += 1;
      retrySoon();
      return;
    }
    if (reply.code === ErrorCode.notPrimary || reply.code === ErrorCode.overloaded) {
      retrySoon();
      return;
    }
    const cause = `bounded read ${reply.code}`;
    this.unexpectedReplies.set(cause, (this.unexpectedReplies.get(cause) ?? 0) + 1);
    this.finish(process, 'info', null, true);
  }

  /** The answer to request-status: the write's result or refusal, its cancellation, or a retry. */
  private onStatusReply(process: SimProcess, pending: Pending, reply: ClientReply): void {
    const status = pending.status;
    if (status === null) return;
    if (reply.ok) {
      this.countStatus('executed');
      this.recordSuccess(process, pending, reply);
      return;
    }
    const code = reply.code;
    if (code === ErrorCode.notPrimary || code === ErrorCode.overloaded) {
      status.nextAttemptAt = Math.min(status.nextAttemptAt, this.cluster.now + retryBackoffTicks);
      return;
    }
    if (code === ErrorCode.requestCancelled) {
      // Logged and committed before the answer left: it never ran, and never will.
      this.countStatus('cancelled');
      this.finish(process, 'fail', null, false, code);
      return;
    }
    if (code === ErrorCode.valueChanged && pending.sequence?.whole === true) {
      // Refused whole, its guard not holding, in an entry that committed before this answer: none ran.
      this.countStatus('refused');
      this.sequenceCounts.guardsFailed += 1;
      this.finish(process, 'fail', null, false, code);
      return;
    }
    if (pending.operation !== null && observingRefusals[pending.operation.kind] === code) {
      // It ran and was refused; the answer waited for that entry to commit, so it is an observation.
      this.countStatus('refused');
      this.refusals.set(`${pending.f} ${code}`, (this.refusals.get(`${pending.f} ${code}`) ?? 0) + 1);
      this.finish(process, 'fail', null, false, recordedRefusal(code));
      return;
    }
    this.countStatus(code);
    if (code === ErrorCode.sessionExpired) {
      this.expireSession(process);
      return;
    }
    if (code !== ErrorCode.resultForgotten) {
      const cause = `request-status ${code}`;
      this.unexpectedReplies.set(cause, (this.unexpectedReplies.get(cause) ?? 0) + 1);
    }
    this.finish(process, 'info', null, true);
  }

  private countStatus(answer: string): void {
    this.statusAnswers.set(answer, (this.statusAnswers.get(answer) ?? 0) + 1);
  }

  /** Whether the pending write ran is unknown; the process goes on under a new id, never reopening the old one. */
  private expireSession(process: SimProcess): void {
    this.sessionsExpired += 1;
    this.finish(process, 'info', null, true);
    process.generation += 1;
    process.id = `sim-client-${process.connection.index}/${process.process % this.pipelineDepth}.${process.generation}`;
    process.requestNumber = 0;
    process.session = { open: false, attemptIds: new Set(), nextAttemptAt: this.cluster.now };
  }

  private onSessionReply(process: SimProcess, reply: ClientReply): void {
    const session = process.session;
    if (session.open) return;
    if (reply.ok) {
      process.session = { open: true };
      return;
    }
    if (reply.code === ErrorCode.notPrimary || reply.code === ErrorCode.overloaded) {
      session.nextAttemptAt = Math.min(session.nextAttemptAt, this.cluster.now + retryBackoffTicks);
      return;
    }
    const cause = `open-session ${reply.code}`;
    this.unexpectedReplies.set(cause, (this.unexpectedReplies.get(cause) ?? 0) + 1);
  }

  private onRefusal(process: SimProcess, pending: Pending, code: string): void {
    if (code === ErrorCode.sessionExpired) {
      this.expireSession(process);
      return;
    }
    if (code === ErrorCode.valueChanged && pending.sequence?.whole === true) {
      // The guard did not hold, so nothing of the sequence ran. Answered once what it observed
      // committed (sync); an async or replicated one's refusal may be lost with its entry, after
      // which a late copy of the request may still run: unknown.
      this.sequenceCounts.guardsFailed += 1;
      if (pending.durability === 'sync') this.finish(process, 'fail', null, false, code);
      else this.finish(process, 'info', null, true);
      return;
    }
    if (code === ErrorCode.requestCancelled) {
      // A retry that reached the primary after request-status cancelled it. A sync one is answered
      // once the cancellation committed; an async one at the primary's fsync, which a failover may undo.
      if (pending.durability === 'sync') this.finish(process, 'fail', null, false, code);
      else this.finish(process, 'info', null, true);
      return;
    }
    if (code === ErrorCode.notPrimary || code === ErrorCode.overloaded) {
      // Nothing happened: retry the same request number soon.
      pending.nextAttemptAt = Math.min(pending.nextAttemptAt, this.cluster.now + retryBackoffTicks);
      return;
    }
    if (code === ErrorCode.requestTooOld) {
      this.finish(process, 'info', null);
      return;
    }
    const cause = `${pending.f} ${code}`;
    if (pending.operation !== null && observingRefusals[pending.operation.kind] === code) {
      this.refusals.set(cause, (this.refusals.get(cause) ?? 0) + 1);
      if (code === ErrorCode.notAFloat) this.stringWriteCounts.incrFloatsRefused += 1;
      if (pending.durability === 'sync') this.finish(process, 'fail', null, false, recordedRefusal(code));
      else this.finish(process, 'info', null, true);
      return;
    }
    this.unexpectedReplies.set(cause, (this.unexpectedReplies.get(cause) ?? 0) + 1);
    this.finish(process, 'info', null, true);
  }

  private finish(
    process: SimProcess,
    status: 'ok' | 'fail' | 'info',
    value: EventValue,
    answered = false,
    error?: string,
    index?: number,
  ): void {
    const pending = process.pending;
    if (pending === null) return;
    if (pending.liveness && status === 'info' && !answered) {
      const what = pending.bounded === null ? pending.f : 'bounded read';
      this.livenessFailures.push(`${what} ${pending.key} by process ${process.process} did not complete`);
    }
    const handle = pending.handle;
    if (pending.sequence !== null) {
      // The whole sequence's outcome (its units' own are recorded by settleSequence): unknown, or
      // cancelled, which a read, having observed nothing, records as unknown.
      assert(status !== 'ok', 'a sequence answered is settled unit by unit');
      for (const unit of pending.sequence.units) {
        if (status === 'fail' && unit.f !== 'read') this.recorder.fail(unit.handle, this.time(), error);
        else this.recorder.info(unit.handle, this.time());
      }
    } else if (handle === null) {
      // A bounded read: recorded in `boundedReads` if it was answered, never in the history.
    } else if (status === 'ok') {
      this.recorder.ok(handle, value, this.time(), index);
    } else if (status === 'fail') {
      this.recorder.fail(handle, this.time(), error);
    } else {
      this.recorder.info(handle, this.time());
    }
    this.endPending(process);
  }

  /** The process is free for its next operation, after some think time. */
  private endPending(process: SimProcess): void {
    this.expiries?.abandoned(process.process);
    this.scans?.ended(process.process);
    process.pending = null;
    process.operationsDone += 1;
    const idleTicksMax = this.options.idleTicksMax ?? 0;
    if (idleTicksMax > 0) process.idleUntil = this.cluster.now + this.random.integer(0, idleTicksMax);
  }

  private time(): number {
    return this.cluster.now * nanosecondsPerTick;
  }
}
