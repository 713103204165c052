// The client of any replicated service. It asks the coordinator for the view, sends requests to the
// primary over one shared, pipelined connection, and retries until a deadline with the SAME client
// id and request number, so the cluster executes a write at most once, and exactly once when the
// caller gets an answer. A write that runs out of time is reported as OutcomeUnknownError, never as
// "failed": it may or may not have happened, and `requestStatus` can tell which later.
//
// Sessions: the server remembers one last request per client id, and runs a write only for a client
// id whose session is open. So each write in flight holds its own session slot (`<uuid>/<k>`),
// opened with a logged `open-session` before its first write and given back when the write settles.
// A slot is retired, never reused, when:
// - its write ended outcome-unknown: the session must stay at that request, so that a later
//   `requestStatus` answers what became of it instead of "forgotten";
// - the cluster said its session expired: reopening the same id could let a delayed old request
//   run, so the next write gets a fresh id. If that answer came to the only copy of the write ever
//   sent, the write surely never ran, and it is sent again under a fresh session within its deadline.
//
// Reads: at the primary by default (linearizable). With `read: 'any'` any backup or the primary may
// answer within a staleness bound; such reads go round-robin over the members the coordinator
// names, one connection per member, and move on to the next member when one is stale or silent.
//
// Every timer is cleared when its call settles or the client closes, so a closed client never keeps
// the process alive.

import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import {
  BadFrameError,
  ConfigError,
  ConnectionClosedError,
  ErrorCode,
  formatRequestId,
  HandshakeError,
  OutcomeUnknownError,
  RequestRefusedError,
  SessionExpiredError,
  UnavailableError,
  UnderstudyError,
} from '../errors.js';
import type {
  ClientReply,
  ClientRequest,
  ClientSuccess,
  ForgetReply,
  Hello,
  SaveReady,
  SaveReply,
  StalenessBound,
  StatusReply,
  SwitchoverReply,
} from '../protocol/messages.js';
import {
  type ClientId,
  clientId,
  type Durability,
  durabilities,
  logIndex,
  replicaId,
  type View,
} from '../protocol/types.js';
import {
  type DialOptions,
  dialFirst,
  ID_BYTES_MAX,
  type LocalLink,
  type MessageConnection,
  PROTOCOL_VERSION,
  parseAddressList,
  parseClientReply,
  parseForgetReply,
  parseSaveReply,
  parseStatusReply,
  parseSwitchoverReply,
  type TlsMaterial,
  tokenName,
} from '../transport/index.js';

export const CLUSTER_ID_DEFAULT = 'understudy';
export const DEADLINE_MS_DEFAULT = 10_000;
export const ATTEMPT_TIMEOUT_MS_DEFAULT = 1000;
/** Pause before a retry: doubles from the minimum up to the maximum. */
export const RETRY_BACKOFF_MIN_MS = 20;
export const RETRY_BACKOFF_MAX_MS = 200;
/** How old the state a `read: 'any'` is served from may be, unless the call says otherwise. */
export const READ_MAX_STALENESS_MS_DEFAULT = 1000;

/** Failure codes that say "ask the coordinator again and resend"; any other code is final. */
const retryableCodes: ReadonlySet<string> = new Set([ErrorCode.notPrimary, ErrorCode.overloaded]);
/** Failure codes after which a `read: 'any'` asks the next member. */
const nextMemberCodes: ReadonlySet<string> = new Set([...retryableCodes, ErrorCode.stale]);

const noOperation = new Uint8Array(0);

/** How long `saveSnapshot` may take, retries included, unless the call says otherwise. */
export const SAVE_DEADLINE_MS_DEFAULT = 10 * 60_000;
/**
 * How long one attempt waits for the primary to name its snapshot: past the 60 s a primary waits for
 * it to be kept before it refuses (node/snapshot-saves.ts), so silence this long means the answer or
 * the primary was lost, and the save asks the coordinator again.
 */
const saveReadyTimeoutMs = 65_000;
/** How often a save waiting for the primary to name its snapshot asks the coordinator who leads. */
const saveLeaderCheckMs = 1000;
/** How long one chunk of a saved snapshot may take to arrive. */
const saveChunkTimeoutMs = 30_000;
/** Bytes a save asks for at once, and reads it keeps in flight. */
const saveChunkBytes = 1024 * 1024;
const saveReadsInFlight = 4;
/** Passes over the rest of a file that may fail in a row, none writing a byte, before the attempt starts over. */
const saveReadRetries = 3;
const noAttemptFinished = 'no attempt finished';
/** Refusals of a save after which another attempt may succeed (the primary changed, the file was replaced). */
const saveRetryableCodes: ReadonlySet<string> = new Set([
  ErrorCode.notPrimary,
  ErrorCode.overloaded,
  ErrorCode.unavailable,
  ErrorCode.snapshotGone,
]);

/** Where `saveSnapshot` writes the file it reads, in order (storage/saved-snapshot.ts writes one). */
export interface SnapshotSaveSink {
  /** An attempt starts: the primary named this snapshot; what an earlier attempt wrote is dropped. */
  begin(ready: SaveReady): Promise<void>;
  /** The file's next bytes. */
  write(bytes: Uint8Array): Promise<void>;
}

export interface SaveSnapshotOptions {
  /** How long the save may take, retries included (default 10 minutes). */
  readonly deadlineMs?: number;
  /** Called after each chunk is written: the bytes written so far of `total`. */
  readonly onProgress?: (written: number, total: number) => void;
}

export interface ClientOptions {
  /** The coordinator's "host:port"; on etcd, every coordinator's, comma-separated (the leader is found among them). */
  readonly coordinator: string;
  readonly clusterId?: string;
  /** How long a call may take, retries included. */
  readonly deadlineMs?: number;
  /** How long one attempt (dial and reply) may take before the client asks for the view again. */
  readonly attemptTimeoutMs?: number;
  /**
   * Speak TLS to a cluster run with --tls-*: servers must present certificates from `ca`; `cert` and
   * `key` (say, `understudy certs`' client.crt and client.key) are shown to them when given.
   */
  readonly tls?: TlsMaterial;
  /**
   * The token (`<name>.<secret>`, from `understudy token`) of a cluster whose servers ask for one
   * (--auth-file). Its session ids then begin with `<name>/`, the only ones the servers let it use.
   * An admin token may also ask for a switchover. Never logged or put in an error.
   */
  readonly token?: string;
  /**
   * For code that runs inside a replica's process (its Redis port): while that replica is the
   * primary, requests reach it over this in-process link (`Listener.connectLocal`) instead of a
   * socket to its own port. The same handshake, token check and retries; only the bytes stay in memory.
   */
  readonly localLink?: LocalLink;
}

/** ClientOptions with every default filled in; `tls`, `token` and `localLink` stay absent when not given. */
type ResolvedClientOptions = Required<Omit<ClientOptions, 'tls' | 'token' | 'localLink'>> &
  Pick<ClientOptions, 'tls' | 'token' | 'localLink'>;

export interface WriteOptions {
  readonly durability?: Durability;
}

/** Where a read may be answered: at the primary (linearizable), or at any member within a bound. */
export type ReadFrom = 'primary' | 'any';

export interface ReadOptions {
  /**
   * 'primary' (the default): the primary answers, linearizably. 'any': a backup or the primary
   * answers, from a state at most `maxStalenessMs` old that has applied `minIndex`.
   */
  readonly read?: ReadFrom;
  /** `read: 'any'` only: how old the served state may be; READ_MAX_STALENESS_MS_DEFAULT if absent. */
  readonly maxStalenessMs?: number;
  /** `read: 'any'` only: the log index the answering member must have applied; 0 if absent. */
  readonly minIndex?: number;
  /** `read: 'any'` only: also require the highest index this client got in a write reply. */
  readonly readYourWrites?: boolean;
  /**
   * `read: 'any'` only: the member to ask first, by its address as `status()` lists it (say, the
   * replica this code runs beside); the others follow round-robin if it is stale, silent or not a
   * backup. Absent: every read starts one member further round.
   */
  readonly preferMember?: string;
}

export interface WriteReply {
  readonly result: Uint8Array;
  readonly view: number;
  /** The entry's log index. */
  readonly index: number;
  readonly durability: Durability;
  /**
   * The replicas known to hold the entry when the reply left: on disk, or, for a `replicated`
   * write, on the primary's disk and in the others' memory.
   */
  readonly replicas: string[];
}

export interface ReadReply {
  readonly result: Uint8Array;
  readonly view: number;
  /** The log index the read observed. */
  readonly index: number;
  /** The address of the member that answered (the primary's, for a read at the primary). */
  readonly member: string;
  /** `read: 'any'` only: how many members answered STALE during this call before one answered (0 otherwise). */
  readonly staleAnswers: number;
}

/**
 * What became of a write, as `requestStatus` learns it. Every state but `executed` and `refused`
 * is final in the sense that the write will never run from now on:
 * - `executed`: it ran; `result` is what it answered, `index` its log entry, `view` the view that
 *   answered the question;
 * - `refused`: the service refused it (`code` and `message` as the write would have got them);
 * - `cancelled`: it had not run; the question cancelled it, so it never will;
 * - `forgotten`: its session moved past it: it will never run now, but whether it ran is not known;
 * - `expired`: its session is gone: whether it ran can no longer be learned.
 */
export type RequestStatus =
  | {
      readonly state: 'executed';
      readonly result: Uint8Array;
      readonly index: number;
      readonly view: number;
    }
  | { readonly state: 'refused'; readonly code: string; readonly message: string }
  | { readonly state: 'cancelled' }
  | { readonly state: 'forgotten' }
  | { readonly state: 'expired' };

/** One session of this client: a client id whose session is open, and its next request number. */
interface SessionSlot {
  readonly clientId: ClientId;
  nextRequestNumber: number;
}

type RequestFields = Omit<ClientRequest, 'type' | 'id'>;

/** Who answered a read, and how many members said STALE first. */
interface Answer {
  member: string;
  staleAnswers: number;
}

export class ReplicatedClient {
  private readonly hello: Hello;
  /** How every connection is dialled: TLS, and the in-process link to the replica we run in. */
  private readonly dialing: SharedDialOptions;
  private readonly coordinator: SharedConnection<StatusReply>;
  /** One connection per member address, for the primary and for reads at backups alike. */
  private readonly members = new Map<string, SharedConnection<ClientReply>>();
  private primaryAddress: string | null = null;
  /** The addresses of the primary and backups, in the coordinator's order: where `read: 'any'` goes. */
  private readAddresses: readonly string[] = [];
  /** Where the next `read: 'any'` starts, so that reads spread round-robin. */
  private readCursor = 0;
  private currentView: View | null = null;
  private refreshing: Promise<void> | null = null;
  /** `<uuid>`, or `<name>/<uuid>` with a token: the servers let a token use only its own name's ids. */
  private readonly sessionPrefix: string;
  /** Slots whose session is open and that no write holds; the most recently used last. */
  private readonly freeSlots: SessionSlot[] = [];
  private slotCount = 0;
  /** The highest log index a write reply named: what `readYourWrites` asks a member to have. */
  private highestWriteIndex = 0;
  private readonly nextId = { value: 1 };
  /** Aborted by close(). Every call waiting in its retry back-off listens to it, so it has no listener cap. */
  private readonly closing = unlimitedAbortController();

  private constructor(private readonly options: ResolvedClientOptions) {
    this.hello = {
      type: 'hello',
      clusterId: options.clusterId,
      protocolVersion: PROTOCOL_VERSION,
      peer: { kind: 'client' },
      ...(options.token === undefined ? {} : { credential: options.token }),
    };
    const name = options.token === undefined ? null : tokenName(options.token);
    this.sessionPrefix = name === null ? randomUUID() : `${name}/${randomUUID()}`;
    this.dialing = {
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      ...(options.localLink === undefined ? {} : { local: options.localLink }),
    };
    this.coordinator = new SharedConnection(
      options.coordinator,
      this.hello,
      parseStatusReply,
      this.nextId,
      this.dialing,
    );
  }

  /**
   * Resolves once the coordinator answered (a primary need not exist yet: writes wait for one).
   * Rejects with ConfigError (bad options), HandshakeError (another cluster) or UnavailableError.
   */
  static async connect(options: ClientOptions): Promise<ReplicatedClient> {
    const client = new ReplicatedClient(resolveOptions(options));
    try {
      await client.retry(
        (budgetMs) => client.refresh(budgetMs),
        client.deadline(),
        (reason) => new UnavailableError(`coordinator ${options.coordinator} ${reason}`),
        (error) => error instanceof HandshakeError,
      );
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  /** The view as last seen from the coordinator. */
  get view(): View | null {
    return this.currentView;
  }

  /**
   * Executes `operation` once. Rejects with RequestRefusedError (the service refused it: it never
   * ran), OutcomeUnknownError (no answer in time: it may have run; ask `requestStatus`),
   * SessionExpiredError (its session expired meanwhile: it may have run, and that cannot be learned)
   * or UnavailableError (no primary took it: it never ran).
   */
  async write(operation: Uint8Array, options: WriteOptions = {}): Promise<WriteReply> {
    const durability = options.durability ?? 'sync';
    if (!(durabilities as readonly unknown[]).includes(durability)) {
      throw new ConfigError(
        `durability must be one of ${durabilities.map((name) => `'${name}'`).join(', ')}, got ${String(durability)}`,
      );
    }
    const endMs = this.deadline();
    for (;;) {
      // A free slot needs no await: each await on the write path is a promise and a microtask.
      const slot = this.freeSlots.pop() ?? (await this.openSlot(endMs));
      const requestNumber = slot.nextRequestNumber++;
      let sends = 0;
      let reply: ClientSuccess;
      try {
        reply = await this.request(
          { kind: 'write', clientId: slot.clientId, requestNumber, durability, operation, staleness: null },
          endMs,
          (reason) => {
            // Formatted only when the write fails, not for every write.
            const requestId = formatRequestId(slot.clientId, requestNumber);
            return sends === 0
              ? new UnavailableError(`write ${requestId} was never sent, so it never ran: ${reason}`)
              : new OutcomeUnknownError(
                  slot.clientId,
                  requestNumber,
                  `write ${requestId} ${reason}; it may or may not have run: ask with \`understudy request-status ${requestId}\` (or client.requestStatus)`,
                );
          },
          () => {
            sends += 1;
          },
        );
      } catch (error) {
        if (error instanceof RequestRefusedError && error.code === ErrorCode.sessionExpired) {
          // The slot is retired (not given back): its id is never opened again.
          if (sends === 1) continue; // the only copy sent found no session: it never ran, and never will
          throw new SessionExpiredError(
            slot.clientId,
            requestNumber,
            `write ${formatRequestId(slot.clientId, requestNumber)}: ${error.message}; whether an earlier attempt ran cannot be learned any more. That session is retired; later writes use others.`,
          );
        }
        // Outcome unknown: retired, so the session stays at this request for `requestStatus`.
        if (!(error instanceof OutcomeUnknownError)) this.freeSlots.push(slot);
        throw error;
      }
      this.freeSlots.push(slot);
      this.highestWriteIndex = Math.max(this.highestWriteIndex, reply.index);
      const { result, view, index, replicas } = reply;
      return { result, view, index, durability: reply.durability, replicas: [...replicas] };
    }
  }

  /**
   * Answers `operation` from the state: at the primary by default, or with `read: 'any'` at a member
   * within the bound (see ReadOptions). Rejects with ConfigError (bad options), RequestRefusedError
   * (the service refused it) or UnavailableError (no member answered in time).
   */
  async read(operation: Uint8Array, options: ReadOptions = {}): Promise<ReadReply> {
    const staleness = stalenessOf(options, this.highestWriteIndex);
    const fields: RequestFields = {
      kind: 'read',
      clientId: clientId(`${this.sessionPrefix}/read`),
      requestNumber: 0,
      durability: 'sync',
      operation,
      staleness,
    };
    const giveUp = (reason: string) => new UnavailableError(`read ${reason}`);
    const endMs = this.deadline();
    const answer = { member: '', staleAnswers: 0 };
    const reply =
      staleness === null
        ? await this.request(fields, endMs, giveUp, undefined, answer)
        : await this.readAtAnyMember(fields, endMs, giveUp, answer, options.preferMember);
    return { result: reply.result, view: reply.view, index: reply.index, ...answer };
  }

  /**
   * What became of write `requestId` (`<clientId>#<requestNumber>`, as OutcomeUnknownError names it).
   * Any client may ask about any write. A write that has not run is cancelled by the question, so the
   * answer stays true. Rejects with ConfigError (a malformed id) or UnavailableError (no answer in
   * time; asking again is safe).
   */
  async requestStatus(requestId: string): Promise<RequestStatus> {
    const { clientId: asked, requestNumber } = parseRequestId(requestId);
    try {
      const reply = await this.request(
        {
          kind: 'request-status',
          clientId: asked,
          requestNumber,
          durability: 'sync',
          operation: noOperation,
          staleness: null,
        },
        this.deadline(),
        (reason) => new UnavailableError(`request-status ${requestId} ${reason}`),
      );
      return { state: 'executed', result: reply.result, index: reply.index, view: reply.view };
    } catch (error) {
      if (!(error instanceof RequestRefusedError)) throw error;
      switch (error.code) {
        case ErrorCode.requestCancelled:
          return { state: 'cancelled' };
        case ErrorCode.resultForgotten:
          return { state: 'forgotten' };
        case ErrorCode.sessionExpired:
          return { state: 'expired' };
        default:
          return { state: 'refused', code: error.code, message: error.message };
      }
    }
  }

  /** The coordinator's view and what it knows of each replica. */
  async status(): Promise<StatusReply> {
    return this.retry(
      (budgetMs) => this.fetchStatus(budgetMs),
      this.deadline(),
      (reason) => new UnavailableError(`status from coordinator ${this.options.coordinator} ${reason}`),
    );
  }

  /**
   * Hands the primary role to `to`, a backup of the current view, and resolves once it leads a view
   * its primary acknowledged (`ok`), or the coordinator refused or gave up (`ok: false`, with why).
   * Asked once, never resent: a second ask while one is under way is refused.
   */
  async switchover(to: string): Promise<SwitchoverReply> {
    return this.askCoordinatorOnce(
      parseSwitchoverReply,
      (id) => ({ type: 'switchover_request', id, to: replicaId(to) }),
      `switchover to ${to}`,
      'whether it happened',
    );
  }

  /**
   * Asks the coordinator to forget replica `id`, taken out of service for good: it leaves the status,
   * the metrics and the count of the format level (a replica of an older build no longer holds it
   * down). Resolves with `ok`, or `ok: false` and why it was refused: a member of the view, still
   * heard (stop it first), or not known. A cluster that asks for tokens wants an admin token.
   */
  async forget(id: string): Promise<ForgetReply> {
    return this.askCoordinatorOnce(
      parseForgetReply,
      (callId) => ({ type: 'forget_request', id: callId, replica: replicaId(id) }),
      `forget ${id}`,
      'whether it was forgotten',
    );
  }

  /**
   * An operator's call to the coordinator, on a connection of its own, sent once and never resent.
   * Without an answer the coordinator may still have carried it out: only its status can tell, and
   * the UnavailableError says so (`what`, `whether`).
   */
  private async askCoordinatorOnce<Reply extends { readonly id: number }>(
    parse: (message: unknown) => Reply,
    build: (id: number) => object,
    what: string,
    whether: string,
  ): Promise<Reply> {
    const connection = new SharedConnection(
      this.options.coordinator,
      this.hello,
      parse,
      this.nextId,
      this.dialing,
    );
    try {
      return await connection.call(build, this.deadline());
    } catch (error) {
      if (error instanceof HandshakeError) throw error;
      const why = error instanceof Error ? error.message : String(error);
      throw new UnavailableError(`${what}: ${why}; ${whether}: see understudy status`);
    } finally {
      connection.close();
    }
  }

  /**
   * Saves a snapshot of the service's state holding every write acknowledged before this call
   * (`understudy snapshot save`): the primary names a kept, so committed, snapshot at or past its
   * log's end, and its file is read chunk by chunk, each checked against its CRC, into `sink`.
   * An attempt whose primary changed, or whose snapshot was replaced while it was read, starts over
   * until the deadline. A cluster that asks for tokens wants an admin token.
   */
  async saveSnapshot(sink: SnapshotSaveSink, options: SaveSnapshotOptions = {}): Promise<SaveReady> {
    const endMs = performance.now() + (options.deadlineMs ?? SAVE_DEADLINE_MS_DEFAULT);
    let backoffMs = RETRY_BACKOFF_MIN_MS;
    let lastFailure = noAttemptFinished;
    while (performance.now() < endMs && !this.closing.signal.aborted) {
      let primary: SharedConnection<SaveReply> | null = null;
      try {
        const remainingMs = endMs - performance.now();
        const status = await this.fetchStatus(Math.min(this.options.attemptTimeoutMs, remainingMs));
        const primaryId = status.view?.primary;
        const address = status.replicas.find((replica) => replica.id === primaryId)?.address;
        if (address === undefined) throw new UnavailableError('the coordinator names no primary');
        primary = new SharedConnection(address, this.hello, parseSaveReply, this.nextId, this.dialing);
        const leading = <T>(answer: Promise<T>, what: string) =>
          this.whileLeading(answer, primaryId, endMs, what);
        const ready = await this.awaitSaveReady(primary, leading, endMs);
        if (ready.type !== 'save_ready') throw saveFailure(ready, 'a save');
        await sink.begin(ready);
        await fetchSnapshotFile(primary, ready, sink, endMs, leading, options.onProgress);
        return ready;
      } catch (error) {
        if (!(error instanceof UnderstudyError) || error instanceof HandshakeError) throw error;
        if (error instanceof RequestRefusedError && !saveRetryableCodes.has(error.code)) throw error;
        // An attempt the deadline itself cut short says less than the failure before it.
        if (performance.now() < endMs || lastFailure === noAttemptFinished) lastFailure = error.message;
      } finally {
        primary?.close();
      }
      await sleep(Math.min(backoffMs, Math.max(0, endMs - performance.now())));
      backoffMs = Math.min(backoffMs * 2, RETRY_BACKOFF_MAX_MS);
    }
    throw new UnavailableError(`no snapshot saved within the deadline: ${lastFailure}`);
  }

  /** Asks `primary` for a save and waits for its answer, as long as it leads. */
  private awaitSaveReady(
    primary: SharedConnection<SaveReply>,
    leading: WhileLeading,
    endMs: number,
  ): Promise<SaveReply> {
    const answer = primary.call(
      (id) => ({ type: 'save_request', id }),
      Math.min(endMs, performance.now() + saveReadyTimeoutMs),
    );
    return leading(answer, 'named its snapshot');
  }

  /**
   * `answer`, while asking the coordinator every second whether `primaryId` still leads: a primary
   * cut off from the coordinator, stopped, or whose disk hangs may never learn it was replaced, and
   * would keep the save waiting, for a snapshot it cannot keep or a chunk it cannot send, until a
   * timeout of tens of seconds. Once another leads, NOT_PRIMARY: the save starts over there.
   */
  private async whileLeading<T>(
    answer: Promise<T>,
    primaryId: string | undefined,
    endMs: number,
    what: string,
  ): Promise<T> {
    const answered = answer.then(
      () => true,
      () => true,
    );
    const checks = new AbortController();
    try {
      for (;;) {
        const pause = sleep(saveLeaderCheckMs, false, { signal: checks.signal }).catch(() => false);
        if (await Promise.race([answered, pause])) return await answer;
        const remainingMs = endMs - performance.now();
        const status = await this.fetchStatus(Math.min(this.options.attemptTimeoutMs, remainingMs)).catch(
          () => null,
        );
        const leader = status?.view?.primary;
        if (leader !== undefined && leader !== primaryId) {
          throw new RequestRefusedError(
            ErrorCode.notPrimary,
            `${primaryId} stopped leading (${leader} leads) before it ${what}`,
          );
        }
      }
    } finally {
      checks.abort();
    }
  }

  async close(): Promise<void> {
    if (this.closing.signal.aborted) return;
    this.closing.abort();
    this.coordinator.close();
    for (const member of this.members.values()) member.close();
    this.members.clear();
  }

  // ---- sessions ----------------------------------------------------------------------------------

  /** A new slot whose session is opened first (within `endMs`; nothing is written). */
  private async openSlot(endMs: number): Promise<SessionSlot> {
    const slot: SessionSlot = {
      clientId: clientId(`${this.sessionPrefix}/${this.slotCount++}`),
      nextRequestNumber: 1,
    };
    await this.request(
      {
        kind: 'open-session',
        clientId: slot.clientId,
        requestNumber: 0,
        durability: 'sync',
        operation: noOperation,
        staleness: null,
      },
      endMs,
      (reason) =>
        new UnavailableError(
          `opening session ${slot.clientId} ${reason}; the write was never sent, so it never ran`,
        ),
    );
    return slot;
  }

  // ---- retries -----------------------------------------------------------------------------------

  /**
   * Sends to the primary until an answer, a refusal or `endMs`; `onSend` counts copies sent, and
   * `answer.member` learns who answered.
   */
  private request(
    fields: RequestFields,
    endMs: number,
    giveUp: (reason: string) => Error,
    onSend: () => void = () => {},
    answer: Answer = { member: '', staleAnswers: 0 },
  ): Promise<ClientSuccess> {
    let viewStale = false;
    return this.retry(
      async (budgetMs) => {
        const attemptEndMs = performance.now() + budgetMs;
        if (viewStale || this.primaryAddress === null) await this.refresh(budgetMs);
        viewStale = true; // whatever goes wrong below, the next attempt asks for the view first
        const address = this.primaryAddress;
        if (address === null) throw new UnavailableError('the coordinator knows no primary yet');
        const reply = await this.member(address).call((id) => {
          onSend();
          return requestMessage(id, fields);
        }, attemptEndMs);
        answer.member = address;
        if (reply.ok) return reply;
        if (retryableCodes.has(reply.code)) throw new UnderstudyError(reply.code, reply.message);
        throw new RequestRefusedError(reply.code, reply.message);
      },
      endMs,
      giveUp,
      (error) => error instanceof RequestRefusedError,
    );
  }

  /**
   * A bounded read: each attempt is one round over the members, starting where the last read's
   * round started plus one; a stale, silent or deposed member sends it on to the next. After a round
   * with no answer, the client asks the coordinator for the members again and, after a backoff,
   * starts another. The primary always meets the bound, so a round that reaches it ends.
   */
  private readAtAnyMember(
    fields: RequestFields,
    endMs: number,
    giveUp: (reason: string) => Error,
    answer: Answer,
    preferMember: string | undefined,
  ): Promise<ClientSuccess> {
    let rounds = 0;
    return this.retry(
      async (budgetMs) => {
        if (rounds > 0 || this.readAddresses.length === 0) await this.refresh(budgetMs);
        rounds += 1;
        const addresses = this.readAddresses;
        if (addresses.length === 0) throw new UnavailableError('the coordinator names no primary or backup');
        const preferred = preferMember === undefined ? -1 : addresses.indexOf(preferMember);
        const start = preferred >= 0 ? preferred : this.readCursor++;
        const problems: string[] = [];
        for (let turn = 0; turn < addresses.length; turn += 1) {
          const address = addresses[(start + turn) % addresses.length];
          const remainingMs = endMs - performance.now();
          if (address === undefined || remainingMs <= 0 || this.closing.signal.aborted) break;
          try {
            const reply = await this.member(address).call(
              (id) => requestMessage(id, fields),
              performance.now() + Math.min(this.options.attemptTimeoutMs, remainingMs),
            );
            answer.member = address;
            if (reply.ok) return reply;
            if (reply.code === ErrorCode.stale) answer.staleAnswers += 1;
            if (!nextMemberCodes.has(reply.code)) throw new RequestRefusedError(reply.code, reply.message);
            problems.push(`${address}: ${reply.code}: ${reply.message}`);
          } catch (error) {
            if (error instanceof RequestRefusedError) throw error;
            problems.push(`${address}: ${describe(error)}`);
          }
        }
        throw new UnavailableError(`no member answered within the bound (${problems.join('; ')})`);
      },
      endMs,
      giveUp,
      (error) => error instanceof RequestRefusedError,
    );
  }

  /** Runs `attempt` until it succeeds, fails for good, `endMs` passes or the client closes. */
  private async retry<T>(
    attempt: (budgetMs: number) => Promise<T>,
    endMs: number,
    giveUp: (reason: string) => Error,
    isFinal: (error: unknown) => boolean = () => false,
  ): Promise<T> {
    let backoffMs = RETRY_BACKOFF_MIN_MS;
    let lastProblem = 'none';
    for (;;) {
      if (this.closing.signal.aborted)
        throw giveUp(`stopped: the client was closed (last problem: ${lastProblem})`);
      const remainingMs = endMs - performance.now();
      if (remainingMs <= 0) {
        throw giveUp(`got no answer within ${this.options.deadlineMs} ms (last problem: ${lastProblem})`);
      }
      try {
        return await attempt(Math.min(this.options.attemptTimeoutMs, remainingMs));
      } catch (error) {
        if (isFinal(error)) throw error;
        lastProblem = describe(error);
      }
      await sleep(Math.min(backoffMs, Math.max(0, endMs - performance.now())), undefined, {
        signal: this.closing.signal,
      }).catch(() => {}); // aborted by close(): the loop notices on its next turn
      backoffMs = Math.min(backoffMs * 2, RETRY_BACKOFF_MAX_MS);
    }
  }

  /** The end of a call that starts now (performance.now). */
  private deadline(): number {
    return performance.now() + this.options.deadlineMs;
  }

  // ---- the view ----------------------------------------------------------------------------------

  /** Asks the coordinator for the view and follows its primary; concurrent callers share one ask. */
  private refresh(budgetMs: number): Promise<void> {
    this.refreshing ??= this.fetchStatus(budgetMs)
      .then(() => undefined)
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  private async fetchStatus(budgetMs: number): Promise<StatusReply> {
    const status = await this.coordinator.call(
      (id) => ({ type: 'status_request', id }),
      performance.now() + budgetMs,
    );
    if (this.closing.signal.aborted) return status;
    this.currentView = status.view;
    const primaryId = status.view?.primary;
    const address = status.replicas.find((replica) => replica.id === primaryId)?.address;
    if (address !== undefined && address !== this.primaryAddress) {
      // Calls in flight to the old primary fail with ConnectionClosedError and are resent.
      if (this.primaryAddress !== null) this.dropMember(this.primaryAddress);
      this.primaryAddress = address;
    }
    this.readAddresses = status.replicas
      .filter((replica) => replica.alive && (replica.role === 'primary' || replica.role === 'backup'))
      .map((replica) => replica.address);
    for (const known of [...this.members.keys()]) {
      if (known !== this.primaryAddress && !this.readAddresses.includes(known)) this.dropMember(known);
    }
    return status;
  }

  /** The connection to a member, made on first use. */
  private member(address: string): SharedConnection<ClientReply> {
    let connection = this.members.get(address);
    if (connection === undefined) {
      connection = new SharedConnection(address, this.hello, parseClientReply, this.nextId, this.dialing);
      if (!this.closing.signal.aborted) this.members.set(address, connection);
      else connection.close();
    }
    return connection;
  }

  private dropMember(address: string): void {
    this.members.get(address)?.close();
    this.members.delete(address);
  }
}

/** The request as sent; fields by name, as an object spread costs microseconds a call. */
function requestMessage(id: number, fields: RequestFields): ClientRequest {
  return {
    type: 'request',
    id,
    kind: fields.kind,
    clientId: fields.clientId,
    requestNumber: fields.requestNumber,
    durability: fields.durability,
    operation: fields.operation,
    staleness: fields.staleness,
  };
}

/**
 * Splits `<clientId>#<requestNumber>` (as OutcomeUnknownError's `requestId` reads). The client id
 * is everything before the last `#`; the number is a decimal integer from 1.
 */
export function parseRequestId(requestId: string): { clientId: ClientId; requestNumber: number } {
  const separator = requestId.lastIndexOf('#');
  const id = requestId.slice(0, Math.max(0, separator));
  const number = requestId.slice(separator + 1);
  const requestNumber = Number(number);
  const problem =
    separator < 0
      ? 'it has no "#"'
      : id === ''
        ? 'the client id before "#" is empty'
        : Buffer.byteLength(id) > ID_BYTES_MAX
          ? `the client id is longer than ${ID_BYTES_MAX} bytes`
          : !/^\d+$/.test(number) || !Number.isSafeInteger(requestNumber) || requestNumber < 1
            ? `the request number after "#" must be an integer from 1, got "${number}"`
            : null;
  if (problem !== null) {
    throw new ConfigError(`bad request id "${requestId}": ${problem} (expected <clientId>#<requestNumber>)`);
  }
  return { clientId: clientId(id), requestNumber };
}

/** The staleness bound a read asks for (null: at the primary); ConfigError for bad options. */
function stalenessOf(options: ReadOptions, highestWriteIndex: number): StalenessBound | null {
  const from = options.read ?? 'primary';
  if (from !== 'primary' && from !== 'any') {
    throw new ConfigError(`read must be 'primary' or 'any', got ${JSON.stringify(from)}`);
  }
  if (from === 'primary') {
    for (const name of ['maxStalenessMs', 'minIndex', 'readYourWrites', 'preferMember'] as const) {
      if (options[name] !== undefined) {
        throw new ConfigError(
          `${name} applies to read: 'any' only (a read at the primary is always current)`,
        );
      }
    }
    return null;
  }
  const maxStalenessMs = options.maxStalenessMs ?? READ_MAX_STALENESS_MS_DEFAULT;
  const minIndex = options.minIndex ?? 0;
  for (const [name, value] of [
    ['maxStalenessMs', maxStalenessMs],
    ['minIndex', minIndex],
  ] as const) {
    if (!(Number.isSafeInteger(value) && value >= 0)) {
      throw new ConfigError(`${name} must be a non-negative integer, got ${value}`);
    }
  }
  if (options.preferMember !== undefined && typeof options.preferMember !== 'string') {
    throw new ConfigError(
      `preferMember must be a member's address, got ${JSON.stringify(options.preferMember)}`,
    );
  }
  const readYourWrites = options.readYourWrites ?? false;
  if (typeof readYourWrites !== 'boolean') {
    throw new ConfigError(`readYourWrites must be a boolean, got ${JSON.stringify(readYourWrites)}`);
  }
  return {
    maxStalenessMs,
    minIndex: logIndex(readYourWrites ? Math.max(minIndex, highestWriteIndex) : minIndex),
  };
}

/**
 * Reads the file `ready` names into `sink`, a few chunks in flight, each checked before it is written.
 * A chunk lost, late or damaged, or the connection cut, is asked for again from where the file
 * stands, over a new connection if need be: the snapshot named stays good while its primary keeps it
 * (SNAPSHOT_GONE says when it does not), so only a primary that stays unreachable ends the attempt.
 */
async function fetchSnapshotFile(
  primary: SharedConnection<SaveReply>,
  ready: SaveReady,
  sink: SnapshotSaveSink,
  endMs: number,
  leading: WhileLeading,
  onProgress: ((written: number, total: number) => void) | undefined,
): Promise<void> {
  const progress = { written: 0 };
  let failures = 0;
  while (progress.written < ready.snapshot.sizeBytes) {
    const before = progress.written;
    try {
      await fetchChunksFrom(primary, ready, sink, endMs, leading, progress, onProgress);
    } catch (error) {
      const lost = error instanceof ConnectionClosedError || error instanceof UnavailableError;
      failures = progress.written > before ? 1 : failures + 1;
      if (!lost || failures > saveReadRetries || performance.now() >= endMs) throw error;
    }
  }
}

/** Reads from `progress.written` to the file's end, moving `progress` on with each chunk written. */
async function fetchChunksFrom(
  primary: SharedConnection<SaveReply>,
  ready: SaveReady,
  sink: SnapshotSaveSink,
  endMs: number,
  leading: WhileLeading,
  progress: { written: number },
  onProgress: ((written: number, total: number) => void) | undefined,
): Promise<void> {
  const { snapshot } = ready;
  const total = snapshot.sizeBytes;
  const reads: { readonly offset: number; readonly reply: Promise<SaveReply> }[] = [];
  let asked = progress.written;
  while (progress.written < total) {
    while (reads.length < saveReadsInFlight && asked < total) {
      const offset = asked;
      const reply = primary.call(
        (id) => ({ type: 'save_read', id, snapshot, offset, length: saveChunkBytes }),
        Math.min(endMs, performance.now() + saveChunkTimeoutMs),
      );
      reply.catch(() => undefined); // awaited in order below; one failure ends this pass
      reads.push({ offset, reply });
      asked += Math.min(saveChunkBytes, total - offset);
    }
    const next = reads.shift();
    if (next === undefined) break;
    const chunk = await leading(next.reply, `sent the chunk at offset ${next.offset}`);
    if (chunk.type !== 'save_chunk') throw saveFailure(chunk, 'a read of the snapshot');
    const expected = Math.min(saveChunkBytes, total - next.offset);
    if (
      chunk.offset !== next.offset ||
      chunk.bytes.length !== expected ||
      crc32(chunk.bytes) !== chunk.checksum
    ) {
      throw new UnavailableError(
        `the chunk of the snapshot at offset ${next.offset} arrived damaged or misplaced`,
      );
    }
    await sink.write(chunk.bytes);
    progress.written += chunk.bytes.length;
    onProgress?.(progress.written, total);
  }
}

/** An answer of the primary a save reads from, awaited as long as it leads (`whileLeading`). */
type WhileLeading = <T>(answer: Promise<T>, what: string) => Promise<T>;

/** A save's refusal, or an answer of the wrong kind, as the error the caller sees. */
function saveFailure(reply: SaveReply, what: string): UnderstudyError {
  if (reply.type === 'save_refused') return new RequestRefusedError(reply.code, reply.message);
  return new BadFrameError(`${what} was answered ${reply.type}`);
}

/** The dial options every connection of a client shares. */
type SharedDialOptions = Pick<DialOptions, 'tls' | 'local'>;

/**
 * One connection to one address, dialled on first use and again after it closes; concurrent callers
 * share one dial. Replies are matched to calls by the per-connection `id`.
 */
class SharedConnection<Reply extends { readonly id: number }> {
  private dialling: Promise<MessageConnection> | null = null;
  private live: MessageConnection | null = null;
  private closed = false;
  private readonly calls = new Map<number, PendingCall<Reply>>();
  private expiry: NodeJS.Timeout | null = null;
  private expiryAtMs = Number.POSITIVE_INFINITY;
  private readonly addresses: readonly string[];
  private addressIndex = 0;

  constructor(
    /** One host:port, or several comma-separated, dialled in turn until one welcomes us. */
    readonly address: string,
    private readonly hello: Hello,
    private readonly parse: (message: unknown) => Reply,
    private readonly nextId: { value: number },
    /** Chosen per connection, so the per-message path is the same with TLS and without. */
    private readonly dialing: SharedDialOptions,
  ) {
    this.addresses = parseAddressList(address);
  }

  /** Sends the message built for a fresh id and waits for its reply until `endMs` (performance.now). */
  call(build: (id: number) => object, endMs: number): Promise<Reply> {
    // Over a live connection the message leaves now, without waiting for a resolved dial.
    const live = this.live;
    if (live !== null && !live.isClosed && !this.closed) return this.send(live, build, endMs);
    return this.connection(endMs - performance.now()).then((connection) =>
      this.send(connection, build, endMs),
    );
  }

  private send(connection: MessageConnection, build: (id: number) => object, endMs: number): Promise<Reply> {
    const id = this.nextId.value++;
    return new Promise<Reply>((resolve, reject) => {
      if (connection.isClosed) {
        reject(new ConnectionClosedError(`connection to ${this.address} closed`));
        return;
      }
      const waitMs = Math.max(0, endMs - performance.now());
      this.calls.set(id, { connection, endMs, waitMs, resolve, reject });
      this.expireAt(endMs);
      connection.send(build(id));
    });
  }

  /**
   * One timer for the earliest deadline of the calls waiting, rather than one per call: a timer
   * per call (each of a slightly different length) cost more than the rest of the call's
   * bookkeeping. The timer does not keep the process alive: a call waits on a socket, which does.
   */
  private expireAt(endMs: number): void {
    if (this.expiry !== null && this.expiryAtMs <= endMs) return;
    if (this.expiry !== null) clearTimeout(this.expiry);
    this.expiryAtMs = endMs;
    this.expiry = setTimeout(() => this.expireCalls(), Math.max(0, endMs - performance.now()));
    this.expiry.unref();
  }

  private expireCalls(): void {
    this.expiry = null;
    this.expiryAtMs = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let nextMs = Number.POSITIVE_INFINITY;
    for (const [id, call] of this.calls) {
      if (call.endMs > now) {
        nextMs = Math.min(nextMs, call.endMs);
        continue;
      }
      this.calls.delete(id);
      call.reject(new UnavailableError(`no reply from ${this.address} within ${Math.round(call.waitMs)} ms`));
    }
    if (nextMs !== Number.POSITIVE_INFINITY) this.expireAt(nextMs);
  }

  close(): void {
    this.closed = true;
    if (this.expiry !== null) clearTimeout(this.expiry);
    this.expiry = null;
    this.live?.destroy();
    this.failCalls(null, new ConnectionClosedError('the client was closed'));
  }

  private connection(timeoutMs: number): Promise<MessageConnection> {
    if (this.closed) return Promise.reject(new ConnectionClosedError('the client was closed'));
    if (this.dialling === null) {
      const dialling = this.open(Math.max(1, timeoutMs));
      this.dialling = dialling;
      dialling.catch(() => {
        if (this.dialling === dialling) this.dialling = null;
      });
    }
    return this.dialling;
  }

  private async open(timeoutMs: number): Promise<MessageConnection> {
    // The coordinator may be a list (on etcd): the one that answered last is tried first.
    const { connection, index } = await dialFirst(this.addresses, this.addressIndex, this.hello, {
      timeoutMs,
      ...this.dialing,
    });
    this.addressIndex = index;
    if (this.closed) {
      connection.destroy();
      throw new ConnectionClosedError('the client was closed');
    }
    this.live = connection;
    connection.onMessage = (message) => {
      let reply: Reply;
      try {
        reply = this.parse(message);
      } catch (error) {
        connection.fail(ErrorCode.badFrame, describe(error));
        return;
      }
      const call = this.calls.get(reply.id);
      if (call === undefined || call.connection !== connection) return; // an attempt that timed out
      this.calls.delete(reply.id);
      call.resolve(reply);
    };
    connection.onClose = (error) => {
      if (this.live === connection) {
        this.live = null;
        this.dialling = null;
      }
      const reason = error === undefined ? '' : `: ${error.message}`;
      this.failCalls(connection, new ConnectionClosedError(`connection to ${this.address} closed${reason}`));
    };
    return connection;
  }

  /** Fails the calls waiting on `connection`, or all of them when it is null. */
  private failCalls(connection: MessageConnection | null, error: Error): void {
    for (const [id, call] of this.calls) {
      if (connection !== null && call.connection !== connection) continue;
      this.calls.delete(id);
      call.reject(error);
    }
  }
}

interface PendingCall<Reply> {
  readonly connection: MessageConnection;
  /** When it gives up (performance.now), and the wait that was (for the message). */
  readonly endMs: number;
  readonly waitMs: number;
  readonly resolve: (reply: Reply) => void;
  readonly reject: (error: Error) => void;
}

function resolveOptions(options: ClientOptions): ResolvedClientOptions {
  parseAddressList(options.coordinator); // throws ConfigError
  const resolved = {
    coordinator: options.coordinator,
    clusterId: options.clusterId ?? CLUSTER_ID_DEFAULT,
    deadlineMs: options.deadlineMs ?? DEADLINE_MS_DEFAULT,
    attemptTimeoutMs: options.attemptTimeoutMs ?? ATTEMPT_TIMEOUT_MS_DEFAULT,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(options.localLink === undefined ? {} : { localLink: options.localLink }),
  };
  if (
    options.token !== undefined &&
    (typeof options.token !== 'string' || tokenName(options.token) === null)
  ) {
    // The value itself is not shown: it may be a real secret pasted in the wrong place.
    throw new ConfigError('token must be `<name>.<secret>` as `understudy token NAME` makes it');
  }
  for (const name of ['deadlineMs', 'attemptTimeoutMs'] as const) {
    if (!(Number.isFinite(resolved[name]) && resolved[name] > 0)) {
      throw new ConfigError(`${name} must be a positive number of milliseconds, got ${resolved[name]}`);
    }
  }
  return resolved;
}

function describe(error: unknown): string {
  if (error instanceof UnderstudyError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function unlimitedAbortController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
