// The coordinator's Sentinel port: Redis Sentinel's protocol, so that Redis clients built to follow a
// Redis primary through Sentinel (ioredis `sentinels`, redis-py `Sentinel`, Jedis
// `JedisSentinelPool`, Lettuce, go-redis `NewFailoverClient`) find the cluster's primary Redis port,
// and follow it through failovers, with no change but the addresses they are given.
//
// It answers what sentinel-commands.ts says, from the coordinator's status at that moment, and
// publishes Sentinel's `+switch-master <name> <old ip> <old port> <new ip> <new port>` to the
// connections that SUBSCRIBE (or PSUBSCRIBE a matching pattern) each time a new view names another
// primary, once the view is stored: Jedis moves its pool on that message alone (ioredis's
// `failoverDetector` reconnects on it, and docs/OPERATIONS.md says why to leave that off). A
// subscribed connection may only (P)SUBSCRIBE, (P)UNSUBSCRIBE, PING and QUIT, as on Redis.
//
// With credentials (--auth-file) a connection must AUTH (or HELLO ... AUTH) with a token first, as
// Sentinel's `requirepass` asks; any token will do, but SENTINEL FAILOVER (a switchover) takes an
// admin token, as `understudy switchover` does. Input is
// untrusted: the parser bounds every length, a protocol error is answered and the connection closed,
// and a connection that does not read its replies is not read until it does.

import { randomBytes } from 'node:crypto';
import type { Server, Socket } from 'node:net';
import type { Logger } from '../node/logger.js';
import type { SwitchoverOutcome } from '../protocol/effects.js';
import type { StatusReply } from '../protocol/messages.js';
import type { ReplicaId } from '../protocol/types.js';
import { globMatches } from '../state-machine/kv-glob.js';
import { hostAndPort } from '../transport/address.js';
import {
  CONNECTIONS_PER_ADDRESS_MAX_DEFAULT,
  ConnectionGate,
  type Credentials,
  countRequestRefusal,
  type Principal,
} from '../transport/index.js';
import { lowerName } from './arguments.js';
import { NO_PASSWORD, NOAUTH, NOAUTH_HELLO, provenToken, runsBeforeAuth, WRONGPASS } from './auth.js';
import { clientNameProblem } from './client-command.js';
import { unknownCommand, wrongArity } from './command-table.js';
import { helloReply, readHello } from './connection-commands.js';
import { bugDetail, internalErrorReply, RespArgumentError } from './errors.js';
import { latency } from './latency-command.js';
import { connectionsMax } from './limits.js';
import { RespParser } from './parser.js';
import { encodeReply, type RespReply, reply } from './replies.js';
import {
  failoverTarget,
  lookUpMaster,
  type OtherSentinel,
  type SentinelFacts,
  sentinel,
  sentinelInfo,
  sentinelRole,
} from './sentinel-commands.js';
import {
  failoverEvents,
  markDown,
  type ReplicasSeen,
  replicaEvents,
  replicasSeen,
} from './sentinel-events.js';
import { REDIS_COMPATIBLE_VERSION } from './server.js';
import {
  boundAddress,
  closeListener,
  connectionEvent,
  listenForRespClients,
  type ServedTls,
} from './tcp-listener.js';

/** What the port reads the cluster from: the coordinator. */
export interface SentinelSource {
  /** The cluster's status as the coordinator knows it now; no view while it stands by. */
  status(): StatusReply;
  /** Calls `listener` after each new view is stored and sent; returns what stops it. */
  onViewChange(listener: () => void): () => void;
  /**
   * Starts a switchover to `to` (`by`: the token's name); the refusal, or null once under way. A
   * standby hands it to the leader and answers once the leader does.
   */
  switchover(to: ReplicaId, by: string | null): SwitchoverOutcome | null | Promise<SwitchoverOutcome | null>;
  /** The cluster's other coordinators' Sentinel ports (none with the directory home). */
  otherSentinels(): readonly OtherSentinel[];
}

export interface SentinelServerOptions {
  /** host:port to listen on; port 0 picks a free one. */
  readonly listen: string;
  readonly source: SentinelSource;
  /** The one master's name: the cluster id. */
  readonly masterName: string;
  readonly failureTimeoutMs: number;
  readonly understudyVersion: string;
  readonly logger: Logger;
  readonly tls?: ServedTls;
  /** Ask every connection to AUTH with one of these tokens first. */
  readonly credentials?: Credentials;
}

/** The channel Sentinel announces a new primary on. */
export const SWITCH_MASTER_CHANNEL = '+switch-master';

interface SentinelConnection {
  readonly id: number;
  readonly socket: Socket;
  authenticated: boolean;
  /** Who its token proved (null: no tokens asked, or not yet authenticated). */
  principal: Principal | null;
  name: string | null;
  readonly channels: Set<string>;
  readonly patterns: Set<string>;
  /** Replies still being awaited (a forwarded SENTINEL FAILOVER): later ones are written after them. */
  pending: Promise<void> | null;
}

/** A reply now, or one awaited (SENTINEL FAILOVER at a standby). */
type Answer = RespReply | Promise<RespReply>;

/** Commands a subscribed connection may send (RESP2). */
const whileSubscribed: ReadonlySet<string> = new Set([
  'subscribe',
  'psubscribe',
  'unsubscribe',
  'punsubscribe',
  'ping',
  'quit',
]);
/** A connection's channels and patterns, together, and each one's length. */
const subscriptionsMax = 256;
const subscriptionNameBytesMax = 1024;

export class SentinelServer {
  readonly #connections = new Set<SentinelConnection>();
  readonly #gate = new ConnectionGate({
    connectionsMax,
    connectionsPerAddressMax: Math.min(connectionsMax, CONNECTIONS_PER_ADDRESS_MAX_DEFAULT),
  });
  readonly #stopWatching: () => void;
  #nextId = 1;
  #closed = false;
  /**
   * The primary the last view named, and its Redis address when known: a later view that names
   * another, or the same at another address, is announced. By id, since a coordinator that just
   * restarted knows its stored view before any replica has reported an address.
   */
  #announced: { readonly primary: ReplicaId; readonly address: string | null } | null;
  /** The replicas as the last view showed them, and those announced down since (sentinel-events.ts). */
  #seen: ReplicasSeen;
  readonly #down = new Set<string>();

  private constructor(
    private readonly server: Server,
    private readonly options: SentinelServerOptions,
    private readonly facts: SentinelFacts,
  ) {
    const status = options.source.status();
    this.#announced = primaryOf(status);
    this.#seen = replicasSeen(status);
    this.#stopWatching = options.source.onViewChange(() => this.#viewChanged());
  }

  static async start(options: SentinelServerOptions): Promise<SentinelServer> {
    const { server, port } = await listenForRespClients(
      options.listen,
      options.tls,
      options.logger,
      'Sentinel',
    );
    const facts: SentinelFacts = {
      masterName: options.masterName,
      myId: randomBytes(20).toString('hex'),
      failureTimeoutMs: options.failureTimeoutMs,
      redisVersion: REDIS_COMPATIBLE_VERSION,
      understudyVersion: options.understudyVersion,
      port,
      startedAtMs: performance.now(),
    };
    const sentinelServer = new SentinelServer(server, options, facts);
    server.on(connectionEvent(options.tls), (socket: Socket) => sentinelServer.#accept(socket));
    return sentinelServer;
  }

  get address(): string {
    return boundAddress(this.server, this.options.listen);
  }

  /** Its run id, as `SENTINEL MYID` answers it. */
  get myId(): string {
    return this.facts.myId;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopWatching();
    await closeListener(
      this.server,
      [...this.#connections].map((connection) => connection.socket),
    );
  }

  #accept(socket: Socket): void {
    if (this.#closed || !this.#gate.admit(socket)) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const connection: SentinelConnection = {
      id: this.#nextId++,
      socket,
      authenticated: this.options.credentials === undefined,
      principal: null,
      name: null,
      channels: new Set(),
      patterns: new Set(),
      pending: null,
    };
    this.#connections.add(connection);
    const parser = new RespParser();
    let ended = false;
    socket.on('data', (chunk: Buffer) => {
      if (ended) return; // after QUIT or a protocol error, what else comes is not read
      const { commands, error } = parser.push(chunk);
      const answers: Answer[] = [];
      let quitting = false;
      for (const command of commands) {
        const name = lowerName(command[0] as Buffer);
        answers.push(this.#answerOrRefuse(name, command, connection));
        if (name === 'quit') {
          quitting = true;
          break;
        }
      }
      if (error !== null && !quitting) {
        answers.push(reply.error(`ERR ${error.message}`));
        quitting = true;
      }
      if (quitting) ended = true;
      const send = (replies: readonly RespReply[]) => {
        const bytes = Buffer.concat(replies.map(encodeReply));
        if (quitting) {
          socket.end(bytes);
          return;
        }
        // A client that sends without reading is not read until its replies are taken.
        if (bytes.length > 0 && !socket.write(bytes)) {
          socket.pause();
          socket.once('drain', () => socket.resume());
        }
      };
      if (connection.pending === null && answers.every((answer) => !(answer instanceof Promise))) {
        send(answers as RespReply[]);
        return;
      }
      // In order: after what is still awaited, once each of these is answered.
      const sent = (connection.pending ?? Promise.resolve())
        .then(() => Promise.all(answers))
        .then(send, (failure: unknown) => {
          // A source's bug: the connection cannot be answered in order any more.
          this.options.logger.warn(
            { error: String(failure) },
            'a Sentinel reply failed; closing the connection',
          );
          socket.destroy();
        });
      connection.pending = sent;
      // Nothing more is read meanwhile: what a client sends behind it waits in the socket, not here.
      socket.pause();
      void sent.then(() => {
        if (connection.pending !== sent) return;
        connection.pending = null;
        if (!socket.writableNeedDrain) socket.resume(); // else the drain resumes it
      });
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#connections.delete(connection));
  }

  /** The answer to one command; a bad argument is its error, and a bug is logged and answered as one. */
  #answerOrRefuse(name: string, args: Buffer[], connection: SentinelConnection): Answer {
    try {
      return this.#answer(name, args, connection);
    } catch (error) {
      if (error instanceof RespArgumentError) return reply.error(error.text);
      // Thrown from a socket's data handler it would end the coordinator's process, this port's host.
      this.options.logger.error(
        { command: name.slice(0, 64), error: bugDetail(error) },
        'a Sentinel command failed unexpectedly',
      );
      return internalErrorReply(error);
    }
  }

  #answer(name: string, args: Buffer[], connection: SentinelConnection): Answer {
    if (!connection.authenticated && !runsBeforeAuth(name)) {
      countRequestRefusal('not_authenticated');
      return reply.error(NOAUTH);
    }
    const subscribed = subscriptionCount(connection) > 0;
    if (subscribed && !whileSubscribed.has(name)) {
      return reply.error(
        `ERR Can't execute '${name.slice(0, 128)}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`,
      );
    }
    const status = () => this.options.source.status();
    switch (name) {
      case 'ping':
        if (args.length > 2) return wrongArity('ping');
        if (subscribed) return reply.array([reply.bulk('pong'), reply.bulk(args[1] ?? '')]);
        return args.length === 2 ? reply.bulk(args[1] as Buffer) : reply.simple('PONG');
      case 'quit':
        return reply.ok;
      case 'auth':
        if (args.length < 2 || args.length > 3) return wrongArity('auth');
        return this.#authenticate(
          args.length === 3 ? (args[1] as Buffer) : null,
          args.at(-1) as Buffer,
          connection,
        );
      case 'hello':
        return this.#hello(args, connection);
      case 'client':
        return this.#client(args, connection);
      case 'sentinel':
        if (args.length >= 2 && lowerName(args[1] as Buffer) === 'failover')
          return this.#failover(args, connection);
        return sentinel(args, status(), this.facts, this.options.source.otherSentinels());
      case 'role':
        return args.length === 1 ? sentinelRole(status(), this.facts) : wrongArity('role');
      case 'latency':
        return latency(args);
      case 'info': {
        if (args.length > 2) return reply.error('ERR syntax error');
        const section = args.length === 2 ? lowerName(args[1] as Buffer) : null;
        return reply.bulk(
          sentinelInfo(
            section,
            status(),
            this.facts,
            this.#connections.size,
            this.options.source.otherSentinels(),
          ),
        );
      }
      case 'subscribe':
      case 'psubscribe':
        return this.#subscribe(name, args, connection);
      case 'unsubscribe':
      case 'punsubscribe':
        return this.#unsubscribe(name, args, connection);
      default:
        return unknownCommand(args);
    }
  }

  #authenticate(username: Buffer | null, password: Buffer, connection: SentinelConnection): RespReply {
    const credentials = this.options.credentials;
    if (credentials === undefined) return reply.error(NO_PASSWORD);
    const token = provenToken(username, password, credentials);
    if (token === null) return reply.error(WRONGPASS);
    connection.authenticated = true;
    connection.principal = credentials.authenticate(token);
    return reply.ok;
  }

  /**
   * SENTINEL FAILOVER name: a switchover to the most caught-up live backup, answered OK once under
   * way, as Sentinel answers before its failover ends (the new primary is published on
   * +switch-master); a standby answers once the leader it handed it to says it is done. With tokens
   * it takes an admin token, as `understudy switchover` does.
   */
  #failover(args: readonly Buffer[], connection: SentinelConnection): Answer {
    if (args.length !== 3) return wrongArity('sentinel|failover');
    if ((args[2] as Buffer).toString('utf8') !== this.facts.masterName) {
      return reply.error('ERR No such master with that name');
    }
    if (this.options.credentials !== undefined && connection.principal?.role !== 'admin') {
      countRequestRefusal('not_admin');
      return reply.error(
        `NOPERM User ${connection.principal?.name ?? 'default'} has no permissions to run the 'sentinel|failover' command: a switchover takes an admin token`,
      );
    }
    const target = failoverTarget(this.options.source.status());
    if (target === null)
      return reply.error('NOGOODSLAVE No suitable replica to promote: no backup of the view is alive');
    const outcome = this.options.source.switchover(target.id, connection.principal?.name ?? null);
    return outcome instanceof Promise ? outcome.then(failoverReply) : failoverReply(outcome);
  }

  /** HELLO [protover [AUTH username password] [SETNAME clientname]]: RESP2 only, as the Redis ports. */
  #hello(args: readonly Buffer[], connection: SentinelConnection): RespReply {
    const read = readHello(args, (username, password) => {
      const refused = this.#authenticate(username, password, connection);
      return refused.type === 'error' ? refused : null;
    });
    if ('refused' in read) return read.refused;
    if (!connection.authenticated) {
      countRequestRefusal('not_authenticated');
      return reply.error(NOAUTH_HELLO);
    }
    if (read.name !== undefined) connection.name = read.name;
    return helloReply(this.facts.redisVersion, connection.id, 'sentinel', 'sentinel');
  }

  /** CLIENT SETNAME / GETNAME / ID / SETINFO: what client libraries send on connecting. */
  #client(args: readonly Buffer[], connection: SentinelConnection): RespReply {
    if (args.length < 2) return wrongArity('client');
    switch (lowerName(args[1] as Buffer)) {
      case 'setname': {
        if (args.length !== 3) return wrongArity('client|setname');
        const problem = clientNameProblem(args[2] as Buffer);
        if (problem !== null) return reply.error(problem);
        connection.name = (args[2] as Buffer).length === 0 ? null : (args[2] as Buffer).toString('latin1');
        return reply.ok;
      }
      case 'getname':
        return reply.bulk(connection.name);
      case 'id':
        return reply.integer(connection.id);
      case 'setinfo':
        return args.length === 4 ? reply.ok : wrongArity('client|setinfo');
      default:
        return reply.error(
          `ERR unknown subcommand '${(args[1] as Buffer).toString('utf8').slice(0, 128)}'. Try CLIENT HELP.`,
        );
    }
  }

  #subscribe(
    kind: 'subscribe' | 'psubscribe',
    args: readonly Buffer[],
    connection: SentinelConnection,
  ): RespReply {
    if (args.length < 2) return wrongArity(kind);
    const into = kind === 'subscribe' ? connection.channels : connection.patterns;
    // Sentinel publishes on a handful of channels; the bounds keep a connection's memory small.
    if (args.some((argument, at) => at > 0 && argument.length > subscriptionNameBytesMax)) {
      return reply.error(`ERR a channel or pattern is at most ${subscriptionNameBytesMax} bytes here`);
    }
    if (subscriptionCount(connection) + args.length - 1 > subscriptionsMax) {
      return reply.error(
        `ERR a connection subscribes to at most ${subscriptionsMax} channels and patterns here`,
      );
    }
    const names = args.slice(1).map((argument) => argument.toString('utf8'));
    return confirmations(kind, names, connection, (name) => into.add(name));
  }

  #unsubscribe(
    kind: 'unsubscribe' | 'punsubscribe',
    args: readonly Buffer[],
    connection: SentinelConnection,
  ): RespReply {
    const from = kind === 'unsubscribe' ? connection.channels : connection.patterns;
    const names = args.length > 1 ? args.slice(1).map((argument) => argument.toString('utf8')) : [...from];
    if (names.length === 0) {
      return reply.array([reply.bulk(kind), reply.nullBulk, reply.integer(subscriptionCount(connection))]);
    }
    return confirmations(kind, names, connection, (name) => from.delete(name));
  }

  /**
   * After a view is stored: a primary other than the last, or at another address, is announced as
   * Sentinel does (a failed one down first, the failover's end, then `+switch-master`), and then what
   * changed among the replicas (`+slave`, `+sdown`, `-sdown`).
   */
  #viewChanged(): void {
    const status = this.options.source.status();
    const next = primaryOf(status);
    const master = lookUpMaster(status);
    // With no master to name, nothing is told, and the replicas seen stay as they were: what changed
    // meanwhile (a replica that joined, one that died) is told once a master is named.
    if (next === null || !master.known) return;
    const seenBefore = this.#seen;
    this.#seen = replicasSeen(status);
    const masterAt = { name: this.facts.masterName, ip: master.ip, port: String(master.port) };
    const before = this.#announced;
    const moved =
      before === null || before.primary !== next.primary || (before.address ?? next.address) !== next.address;
    this.#announced = next;
    if (moved) {
      // The old primary's address as it last reported it; a Sentinel always knows it, a coordinator that
      // restarted may not (then the new one stands in: the message still names where to go).
      const oldAddress =
        before?.address ?? status.replicas.find((replica) => replica.id === before?.primary)?.redisAddress;
      const [oldIp, oldPort] = oldAddress == null ? [master.ip, masterAt.port] : hostAndPort(oldAddress);
      if (before !== null && oldAddress != null && before.primary !== next.primary) {
        const failed = !this.#seen.alive.has(before.primary);
        if (failed) markDown(this.#down, oldAddress);
        const oldMaster = { name: masterAt.name, ip: oldIp, port: oldPort };
        for (const event of failoverEvents(oldMaster, failed)) this.#publish(event.channel, event.payload);
      }
      const payload = [masterAt.name, oldIp, oldPort, master.ip, masterAt.port].join(' ');
      this.options.logger.info(
        { from: before?.primary ?? null, to: next.primary, address: `${master.ip}:${master.port}` },
        'Sentinel port: +switch-master published',
      );
      this.#publish(SWITCH_MASTER_CHANNEL, payload);
    }
    for (const event of replicaEvents(seenBefore, this.#seen, masterAt, this.#down)) {
      this.#publish(event.channel, event.payload);
    }
  }

  #publish(channel: string, payload: string): void {
    for (const connection of this.#connections) {
      const messages: RespReply[] = [];
      if (connection.channels.has(channel)) {
        messages.push(reply.array([reply.bulk('message'), reply.bulk(channel), reply.bulk(payload)]));
      }
      for (const pattern of connection.patterns) {
        if (globMatches(pattern, channel)) {
          messages.push(
            reply.array([
              reply.bulk('pmessage'),
              reply.bulk(pattern),
              reply.bulk(channel),
              reply.bulk(payload),
            ]),
          );
        }
      }
      if (messages.length > 0) connection.socket.write(Buffer.concat(messages.map(encodeReply)));
    }
  }
}

function subscriptionCount(connection: SentinelConnection): number {
  return connection.channels.size + connection.patterns.size;
}

/**
 * One confirmation per channel or pattern, each after its `change`, as Redis sends them: an array
 * each, [kind, name, subscriptions left], written back to back.
 */
function confirmations(
  kind: string,
  names: readonly string[],
  connection: SentinelConnection,
  change: (name: string) => void,
): RespReply {
  const encoded = names.map((name) => {
    change(name);
    return encodeReply(
      reply.array([reply.bulk(kind), reply.bulk(name), reply.integer(subscriptionCount(connection))]),
    );
  });
  return reply.encoded(Buffer.concat(encoded));
}

/** The view's primary and its Redis address as the status has it, or null with no view. */
function primaryOf(
  status: StatusReply,
): { readonly primary: ReplicaId; readonly address: string | null } | null {
  const view = status.view;
  if (view === null) return null;
  const address = status.replicas.find((replica) => replica.id === view.primary)?.redisAddress ?? null;
  return { primary: view.primary, address };
}

/** SENTINEL FAILOVER's answer: OK once under way (or done), else why not. */
function failoverReply(refused: SwitchoverOutcome | null): RespReply {
  if (refused === null) return reply.ok;
  const inProgress = refused.message.includes('under way');
  return reply.error(`${inProgress ? 'INPROG' : 'ERR'} ${refused.message}`);
}
