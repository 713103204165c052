// The Redis-protocol (RESP2) port of a replica: a TCP listener whose connections each read commands
// (parser.ts) and answer them in order, as Redis does, so a pipelining client sees its replies in
// the order it sent the commands and each command sees the effects of the ones before it. Commands
// run through the command table against the shared backend; the key/value commands waiting on a
// connection when its turn comes run together as one sequence of the store (pipeline.ts).
//
// A connection that breaks the protocol is answered `-ERR Protocol error: ...` after the commands
// read before the fault, then closed; the other connections and the replica go on. A connection
// with `pipelinedCommandsMax` commands waiting is not read until it catches up, and a reply is not
// written past a full socket buffer, so a client that sends without reading holds a bounded amount
// of this process's memory.
//
// With `tls` the port speaks TLS with the replica's certificate (redis-cli --tls --cacert ca.crt);
// commands start once the TLS handshake is done, and the command path is the same as over TCP.
// With `credentials` a connection must AUTH first (auth.ts), and its commands reach the cluster with
// its token.

import { randomBytes } from 'node:crypto';
import type { Server, Socket } from 'node:net';
import type { Logger } from '../node/logger.js';
import {
  CONNECTIONS_PER_ADDRESS_MAX_DEFAULT,
  ConnectionGate,
  type Credentials,
  formatAddress,
  transportCounters,
} from '../transport/index.js';
import { lowerName } from './arguments.js';
import { commandName } from './client-command.js';
import { CommandStats } from './command-stats.js';
import { createCommandTable } from './commands.js';
import type { CommandContext, ConnectionState, RespBackend, RespCounters, ServerFacts } from './context.js';

export type { RespCounters } from './context.js';

import { bugDetail, errorReply, internalErrorReply } from './errors.js';
import {
  connectionsMax,
  pipelinedCommandsMax,
  pipelineSequenceBytesMax,
  pipelineSequenceCommandsMax,
} from './limits.js';
import { Monitors, monitorBufferBytesMax } from './monitor.js';
import { type RespCommand, RespParser } from './parser.js';
import { joins, runPipelined, runPlanned } from './pipeline.js';
import type { RespProtocolError } from './protocol-error.js';
import { encodeReply, type RespReply, reply } from './replies.js';
import { SharedSequences } from './shared-sequences.js';
import { SlowLog } from './slow-log.js';
import {
  boundAddress,
  closeListener,
  connectionEvent,
  listenForRespClients,
  type ServedTls,
} from './tcp-listener.js';
import { queueCommand } from './transaction.js';

/** The Redis version whose commands and replies the port follows (HELLO, INFO redis_version). */
export const REDIS_COMPATIBLE_VERSION = '7.0.0';

export interface RespServerOptions {
  /** host:port to listen on; port 0 picks a free one. */
  readonly listen: string;
  readonly backend: RespBackend;
  readonly understudyVersion: string;
  readonly logger: Logger;
  /** Serve TLS with this certificate and key (PEM); clients need not present one. */
  readonly tls?: ServedTls;
  /** Ask every connection to AUTH with one of these tokens before its commands run (auth.ts). */
  readonly credentials?: Credentials;
}

type Queued = { readonly command: RespCommand } | { readonly fault: RespProtocolError };

export class RespServer {
  readonly counters: RespCounters = {
    connections: 0,
    rejectedConnections: 0,
    commands: 0,
    inputBytes: 0,
    outputBytes: 0,
    keyspaceHits: 0,
    keyspaceMisses: 0,
    pipelinedSequences: 0,
    sharedSequences: 0,
    protocolErrors: 0,
  };
  readonly #sharing = new SharedSequences(() => {
    this.counters.sharedSequences += 1;
    transportCounters.respSequences.shared += 1;
  });
  readonly #table = createCommandTable();
  readonly #sockets = new Set<Socket>();
  readonly #connections = new Map<number, ConnectionState>();
  readonly #slowLog = new SlowLog();
  readonly #commandStats = new CommandStats();
  readonly #monitors = new Monitors(
    (bytes) => {
      this.counters.outputBytes += bytes;
    },
    (connection) =>
      this.options.logger.info(
        { connection, bufferedBytesMax: monitorBufferBytesMax },
        'a MONITOR connection did not read what it was sent; closed',
      ),
  );
  // The port's caps: `connectionsMax` in total (as Redis's maxclients), the transport's per address.
  readonly #gate = new ConnectionGate({
    connectionsMax,
    connectionsPerAddressMax: Math.min(connectionsMax, CONNECTIONS_PER_ADDRESS_MAX_DEFAULT),
  });
  #nextConnectionId = 1;
  #closed = false;

  private constructor(
    private readonly server: Server,
    private readonly options: RespServerOptions,
    private readonly facts: ServerFacts,
  ) {}

  static async start(options: RespServerOptions): Promise<RespServer> {
    // The caps (in total and per address) are the gate's, checked as each connection is accepted.
    const { server, port } = await listenForRespClients(options.listen, options.tls, options.logger, 'Redis');
    const facts: ServerFacts = {
      redisVersion: REDIS_COMPATIBLE_VERSION,
      understudyVersion: options.understudyVersion,
      respPort: port,
      startedAtMs: performance.now(),
      runId: randomBytes(20).toString('hex'),
    };
    const resp = new RespServer(server, options, facts);
    server.on(connectionEvent(options.tls), (socket: Socket) => resp.#accept(socket));
    return resp;
  }

  get address(): string {
    return boundAddress(this.server, this.options.listen);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await closeListener(this.server, this.#sockets);
    await this.options.backend.close();
  }

  #accept(socket: Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    if (!this.#gate.admit(socket)) {
      this.counters.rejectedConnections += 1;
      return;
    }
    this.counters.connections += 1;
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    const connectedAtMs = performance.now();
    const connection: ConnectionState = {
      id: this.#nextConnectionId++,
      remoteAddress: formatAddress(socket.remoteAddress ?? '', socket.remotePort ?? 0),
      localAddress: formatAddress(socket.localAddress ?? '', socket.localPort ?? 0),
      connectedAtMs,
      lastCommandAtMs: connectedAtMs,
      lastCommand: null,
      name: null,
      libName: null,
      libVersion: null,
      lastWriteBackups: null,
      readOnly: this.options.backend.readOnlyByDefault,
      lastWriteIndex: 0,
      watched: new Map(),
      watchOverflowed: false,
      transaction: null,
      quitting: false,
      monitoring: false,
      token: null,
      close: () => {
        finish();
        socket.end();
      },
    };
    const context: CommandContext = {
      connection,
      backend: this.options.backend,
      facts: this.facts,
      credentials: this.options.credentials ?? null,
      sharing: this.#sharing,
      counters: this.counters,
      slowLog: this.#slowLog,
      commandStats: this.#commandStats,
      connections: this.#connections,
    };
    this.#connections.set(connection.id, connection);
    const parser = new RespParser();
    const queue: Queued[] = [];
    let running = false;
    let finished = false;

    const finish = (): void => {
      finished = true;
      queue.length = 0;
    };
    const run = async (): Promise<void> => {
      if (running) return;
      running = true;
      while (!finished) {
        const next = queue.shift();
        if (next === undefined) break;
        if ('fault' in next) {
          socket.end(encodeReply(reply.error(`ERR ${next.fault.message}`)));
          finish();
          break;
        }
        const answers = await this.#runNext(next.command, queue, context);
        if (finished) break;
        this.counters.outputBytes += answers.length;
        const flushed = socket.write(answers);
        if (connection.monitoring) this.#monitors.add(connection.id, socket);
        if (connection.quitting) {
          socket.end();
          finish();
          break;
        }
        if (socket.isPaused() && queue.length < pipelinedCommandsMax / 2) socket.resume();
        if (!flushed) await drained(socket);
      }
      running = false;
    };
    const start = (): void => {
      run().catch((error: unknown) => {
        this.options.logger.error({ error: String(error) }, 'a Redis connection failed');
        socket.destroy();
      });
    };

    socket.on('data', (chunk: Buffer) => {
      if (finished) return;
      this.counters.inputBytes += chunk.length;
      const { commands, error } = parser.push(chunk);
      for (const command of commands) queue.push({ command });
      if (this.#monitors.size > 0) this.#monitors.feed(commands, connection);
      if (error !== null) {
        this.counters.protocolErrors += 1;
        transportCounters.respProtocolErrors += 1;
        this.options.logger.info(
          { remote: `${socket.remoteAddress}:${socket.remotePort}`, error: error.message },
          'Redis protocol error; closing the connection',
        );
        queue.push({ fault: error });
        socket.pause();
      } else if (queue.length >= pipelinedCommandsMax) socket.pause();
      start();
    });
    socket.on('error', () => {}); // a reset by the client: 'close' follows
    socket.on('close', () => {
      finish();
      this.#sockets.delete(socket);
      this.#connections.delete(connection.id);
      this.#monitors.remove(connection.id);
    });
  }

  /**
   * Runs `command`, and with it the key/value commands queued right behind it when it is one too (a
   * pipeline: one sequence, pipeline.ts), taking those off the queue; answers their replies in order,
   * encoded as one buffer.
   */
  async #runNext(command: RespCommand, queue: Queued[], context: CommandContext): Promise<Buffer> {
    context.connection.lastCommand = commandName(command);
    context.connection.lastCommandAtMs = performance.now();
    if (context.connection.monitoring && lowerName(command[0] ?? Buffer.alloc(0)) !== 'quit') {
      return this.#answer([reply.error('ERR only QUIT is allowed in MONITOR mode')]);
    }
    if (context.connection.transaction !== null) {
      const queued = queueCommand(lowerName(command[0] ?? Buffer.alloc(0)), command, context, this.#table);
      // Queued, it is counted in commandstats as the EXEC that runs it.
      if (queued !== null) return this.#answer([queued]);
    }
    const first = this.#table.plan(command, context);
    if (first === null) {
      // A command refused before it runs (unknown, its arity, NOAUTH) is no call of it, as in Redis.
      const refusal = this.#table.refusal(command, context);
      if (refusal !== null) return this.#answer([refusal]);
      const answer = await this.#guard(command, () => this.#table.run(command, context));
      return this.#answer([answer], [command], context);
    }
    const commands = [command];
    const planned = [first];
    let bytes = argumentBytes(command);
    for (;;) {
      const queued = queue[0];
      if (queued === undefined || 'fault' in queued || planned.length >= pipelineSequenceCommandsMax) break;
      const more = argumentBytes(queued.command);
      if (bytes + more > pipelineSequenceBytesMax) break;
      const plan = this.#table.plan(queued.command, context);
      if (plan === null || !joins(planned, plan)) break;
      queue.shift();
      commands.push(queued.command);
      planned.push(plan);
      bytes += more;
    }
    if (commands.length > 1)
      context.connection.lastCommand = commandName(commands[commands.length - 1] as RespCommand);
    if (planned.length === 1) {
      const answer = await this.#guard(command, () => runPlanned(first, context, bytes));
      return this.#answer([answer], commands, context);
    }
    this.counters.pipelinedSequences += 1;
    transportCounters.respSequences.pipeline += 1;
    const replies = await this.#guard(command, () => runPipelined(planned, context, bytes));
    // An error here is a bug's, answered to every command.
    const answered = Array.isArray(replies) ? replies : planned.map(() => replies);
    // The commands the sequence did not run go first again (pipeline.ts).
    queue.unshift(...commands.slice(answered.length).map((again) => ({ command: again })));
    return this.#answer(answered, commands.slice(0, answered.length), context);
  }

  /**
   * Encodes `replies`, and counts them: answered (INFO stats, /metrics), their errors (errorstats)
   * and, for the `ran` commands that began at the connection's lastCommandAtMs, their time
   * (commandstats, shared evenly in a sequence; the slow log, one entry for them all).
   */
  #answer(replies: readonly RespReply[], ran: readonly RespCommand[] = [], context?: CommandContext): Buffer {
    this.counters.commands += replies.length;
    transportCounters.respCommands += replies.length;
    for (const answer of replies) if (answer.type === 'error') this.#commandStats.noteError(answer.text);
    const first = ran[0];
    if (first !== undefined && context !== undefined) {
      const micros = (performance.now() - context.connection.lastCommandAtMs) * 1000;
      this.#slowLog.note(first, micros, context.connection, ran.length - 1);
      ran.forEach((command, at) => {
        const name = lowerName(command[0] ?? Buffer.alloc(0));
        // Only names the port knows, so made-up ones cannot grow the table.
        if (this.#table.lookup(name) !== undefined) this.#commandStats.noteCall(name, micros / ran.length);
        const answer = replies[at];
        if (answer !== undefined) this.#noteLookups(name, answer);
      });
    }
    return replies.length === 1
      ? encodeReply(replies[0] as RespReply)
      : Buffer.concat(replies.map(encodeReply));
  }

  /**
   * INFO stats' keyspace_hits and keyspace_misses, for the reads whose answer tells: GET, GETEX and
   * GETDEL (nil: a miss), each key of MGET. (Redis counts every read's lookup; a cache's hit rate is
   * these.)
   */
  #noteLookups(name: string, answer: RespReply): void {
    if (name === 'get' || name === 'getex' || name === 'getdel') {
      if (answer.type === 'bulk') this.#countLookup(answer.bytes !== null);
    } else if (name === 'mget' && answer.type === 'array' && answer.items !== null) {
      for (const item of answer.items) if (item.type === 'bulk') this.#countLookup(item.bytes !== null);
    }
  }

  #countLookup(hit: boolean): void {
    if (hit) this.counters.keyspaceHits += 1;
    else this.counters.keyspaceMisses += 1;
  }

  /** What `run` answers; a failure becomes its error reply, and a bug is logged and answered as one. */
  async #guard<T>(command: RespCommand, run: () => T | Promise<T>): Promise<T | RespReply> {
    try {
      return await run();
    } catch (error) {
      const mapped = errorReply(error);
      if (mapped !== null) return mapped;
      this.options.logger.error(
        { command: (command[0] ?? Buffer.alloc(0)).toString('utf8').slice(0, 64), error: bugDetail(error) },
        'a Redis command failed unexpectedly',
      );
      return internalErrorReply(error);
    }
  }
}

function argumentBytes(command: RespCommand): number {
  let bytes = 0;
  for (const argument of command) bytes += argument.byteLength;
  return bytes;
}

/** Resolves once the socket can take more, or has closed. */
function drained(socket: Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}
