// The client of any replicated service. It asks the coordinator for the view, sends requests to the
// primary over one shared, pipelined connection, and retries until a deadline with the SAME client
// id and request number, so the cluster executes a write at most once, and exactly once when the
// caller gets an answer. A write that runs out of time is reported as OutcomeUnknownError, never as
// "failed": it may or may not have happened.
//
// Sessions: the server remembers one last request per client id, so each write in flight holds its
// own session slot (`<uuid>/<k>`), given back when the write settles. Reads carry request number 0.
//
// Every timer is cleared when its call settles or the client closes, so a closed client never keeps
// the process alive.

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ConfigError,
  ConnectionClosedError,
  ErrorCode,
  HandshakeError,
  OutcomeUnknownError,
  RequestRefusedError,
  UnavailableError,
  UnderstudyError,
} from '../errors.js';
import type { ClientReply, ClientRequest, ClientSuccess, Hello, StatusReply } from '../protocol/messages.js';
import { type ClientId, clientId, type Durability, type View } from '../protocol/types.js';
import {
  dial,
  type MessageConnection,
  PROTOCOL_VERSION,
  parseAddress,
  parseClientReply,
  parseStatusReply,
} from '../transport/index.js';

export const CLUSTER_ID_DEFAULT = 'understudy';
export const DEADLINE_MS_DEFAULT = 10_000;
export const ATTEMPT_TIMEOUT_MS_DEFAULT = 1000;
/** Pause before a retry: doubles from the minimum up to the maximum. */
export const RETRY_BACKOFF_MIN_MS = 20;
export const RETRY_BACKOFF_MAX_MS = 200;

/** Failure codes that say "ask the coordinator again and resend"; any other code is final. */
const retryableCodes: ReadonlySet<string> = new Set([ErrorCode.notPrimary, ErrorCode.overloaded]);

export interface ClientOptions {
  /** The coordinator's "host:port". */
  readonly coordinator: string;
  readonly clusterId?: string;
  /** How long a call may take, retries included. */
  readonly deadlineMs?: number;
  /** How long one attempt (dial and reply) may take before the client asks for the view again. */
  readonly attemptTimeoutMs?: number;
}

export interface WriteOptions {
  readonly durability?: Durability;
}

export interface WriteReply {
  readonly result: Uint8Array;
  readonly view: number;
  /** The entry's log index. */
  readonly index: number;
  readonly durability: Durability;
  /** The replicas known to hold the entry on disk when the reply left. */
  readonly replicas: string[];
}

export interface ReadReply {
  readonly result: Uint8Array;
  readonly view: number;
  /** The log index the read observed. */
  readonly index: number;
}

interface Session {
  readonly clientId: ClientId;
  nextRequestNumber: number;
}

type RequestFields = Omit<ClientRequest, 'type' | 'id'>;

export class ReplicatedClient {
  private readonly hello: Hello;
  private readonly coordinator: SharedConnection<StatusReply>;
  private primary: SharedConnection<ClientReply> | null = null;
  private currentView: View | null = null;
  private refreshing: Promise<void> | null = null;
  private readonly sessionPrefix = randomUUID();
  private readonly freeSessions: Session[] = [];
  private sessionCount = 0;
  private readonly nextId = { value: 1 };
  private readonly closing = new AbortController();

  private constructor(private readonly options: Required<ClientOptions>) {
    this.hello = {
      type: 'hello',
      clusterId: options.clusterId,
      protocolVersion: PROTOCOL_VERSION,
      peer: { kind: 'client' },
    };
    this.coordinator = new SharedConnection(options.coordinator, this.hello, parseStatusReply, this.nextId);
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

  async write(operation: Uint8Array, options: WriteOptions = {}): Promise<WriteReply> {
    const session = this.freeSessions.pop() ?? {
      clientId: clientId(`${this.sessionPrefix}/${this.sessionCount++}`),
      nextRequestNumber: 1,
    };
    const requestNumber = session.nextRequestNumber++;
    const durability = options.durability ?? 'sync';
    try {
      const reply = await this.request(
        { clientId: session.clientId, requestNumber, readOnly: false, durability, operation },
        (reason) =>
          new OutcomeUnknownError(
            session.clientId,
            requestNumber,
            `write ${session.clientId} #${requestNumber} ${reason}`,
          ),
      );
      const { result, view, index, replicas } = reply;
      return { result, view, index, durability: reply.durability, replicas: [...replicas] };
    } finally {
      this.freeSessions.push(session);
    }
  }

  async read(operation: Uint8Array): Promise<ReadReply> {
    const reply = await this.request(
      {
        clientId: clientId(`${this.sessionPrefix}/read`),
        requestNumber: 0,
        readOnly: true,
        durability: 'sync',
        operation,
      },
      (reason) => new UnavailableError(`read ${reason}`),
    );
    return { result: reply.result, view: reply.view, index: reply.index };
  }

  /** The coordinator's view and what it knows of each replica. */
  async status(): Promise<StatusReply> {
    return this.retry(
      (budgetMs) => this.fetchStatus(budgetMs),
      (reason) => new UnavailableError(`status from coordinator ${this.options.coordinator} ${reason}`),
    );
  }

  async close(): Promise<void> {
    if (this.closing.signal.aborted) return;
    this.closing.abort();
    this.coordinator.close();
    this.primary?.close();
  }

  // ---- retries -----------------------------------------------------------------------------------

  private request(fields: RequestFields, giveUp: (reason: string) => Error): Promise<ClientSuccess> {
    let viewStale = false;
    return this.retry(
      async (budgetMs) => {
        const attemptEndMs = performance.now() + budgetMs;
        if (viewStale || this.primary === null) await this.refresh(budgetMs);
        viewStale = true; // whatever goes wrong below, the next attempt asks for the view first
        const primary = this.primary;
        if (primary === null) throw new UnavailableError('the coordinator knows no primary yet');
        const reply = await primary.call((id) => ({ type: 'request', id, ...fields }), attemptEndMs);
        if (reply.ok) return reply;
        if (retryableCodes.has(reply.code)) throw new UnderstudyError(reply.code, reply.message);
        throw new RequestRefusedError(reply.code, reply.message);
      },
      giveUp,
      (error) => error instanceof RequestRefusedError,
    );
  }

  /** Runs `attempt` until it succeeds, fails for good, the deadline passes or the client closes. */
  private async retry<T>(
    attempt: (budgetMs: number) => Promise<T>,
    giveUp: (reason: string) => Error,
    isFinal: (error: unknown) => boolean = () => false,
  ): Promise<T> {
    const deadlineMs = performance.now() + this.options.deadlineMs;
    let backoffMs = RETRY_BACKOFF_MIN_MS;
    let lastProblem = 'none';
    for (;;) {
      if (this.closing.signal.aborted)
        throw giveUp(`stopped: the client was closed (last problem: ${lastProblem})`);
      const remainingMs = deadlineMs - performance.now();
      if (remainingMs <= 0) {
        throw giveUp(`got no answer within ${this.options.deadlineMs} ms (last problem: ${lastProblem})`);
      }
      try {
        return await attempt(Math.min(this.options.attemptTimeoutMs, remainingMs));
      } catch (error) {
        if (isFinal(error)) throw error;
        lastProblem = describe(error);
      }
      await sleep(Math.min(backoffMs, Math.max(0, deadlineMs - performance.now())), undefined, {
        signal: this.closing.signal,
      }).catch(() => {}); // aborted by close(): the loop notices on its next turn
      backoffMs = Math.min(backoffMs * 2, RETRY_BACKOFF_MAX_MS);
    }
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
    this.currentView = status.view;
    const primaryId = status.view?.primary;
    const address = status.replicas.find((replica) => replica.id === primaryId)?.address;
    if (address !== undefined && address !== this.primary?.address && !this.closing.signal.aborted) {
      // Calls in flight to the old primary fail with ConnectionClosedError and are resent.
      this.primary?.close();
      this.primary = new SharedConnection(address, this.hello, parseClientReply, this.nextId);
    }
    return status;
  }
}

/**
 * One connection to one address, dialled on first use and again after it closes; concurrent callers
 * share one dial. Replies are matched to calls by the per-connection `id`.
 */
class SharedConnection<Reply extends { readonly id: number }> {
  private dialling: Promise<MessageConnection> | null = null;
  private live: MessageConnection | null = null;
  private closed = false;
  private readonly calls = new Map<number, PendingCall<Reply>>();

  constructor(
    readonly address: string,
    private readonly hello: Hello,
    private readonly parse: (message: unknown) => Reply,
    private readonly nextId: { value: number },
  ) {}

  /** Sends the message built for a fresh id and waits for its reply until `endMs` (performance.now). */
  async call(build: (id: number) => object, endMs: number): Promise<Reply> {
    const connection = await this.connection(endMs - performance.now());
    const id = this.nextId.value++;
    return new Promise<Reply>((resolve, reject) => {
      if (connection.isClosed) {
        reject(new ConnectionClosedError(`connection to ${this.address} closed`));
        return;
      }
      const waitMs = Math.max(0, endMs - performance.now());
      const timer = setTimeout(() => {
        this.calls.delete(id);
        reject(new UnavailableError(`no reply from ${this.address} within ${Math.round(waitMs)} ms`));
      }, waitMs);
      this.calls.set(id, { connection, timer, resolve, reject });
      connection.send(build(id));
    });
  }

  close(): void {
    this.closed = true;
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
    const connection = await dial(this.address, this.hello, { timeoutMs });
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
      clearTimeout(call.timer);
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
      clearTimeout(call.timer);
      call.reject(error);
    }
  }
}

interface PendingCall<Reply> {
  readonly connection: MessageConnection;
  readonly timer: NodeJS.Timeout;
  readonly resolve: (reply: Reply) => void;
  readonly reject: (error: Error) => void;
}

function resolveOptions(options: ClientOptions): Required<ClientOptions> {
  parseAddress(options.coordinator); // throws ConfigError
  const resolved = {
    coordinator: options.coordinator,
    clusterId: options.clusterId ?? CLUSTER_ID_DEFAULT,
    deadlineMs: options.deadlineMs ?? DEADLINE_MS_DEFAULT,
    attemptTimeoutMs: options.attemptTimeoutMs ?? ATTEMPT_TIMEOUT_MS_DEFAULT,
  };
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
