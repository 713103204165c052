// A minimal Redis (RESP2) client for the chaos workload's Redis-port processes: one connection, one
// command at a time or one pipeline (several commands in one write, their replies in order), no
// retries and no reconnection of its own. A real Redis client resends a
// command after a reconnect (as a new request, which may run twice); this one never does, so a
// command that ran twice through the port would be the port's fault, and the history shows it.
// Replies: simple strings, errors, integers, bulk strings and arrays; an error reply resolves as a
// RedisReplyError value, never a rejection, so the caller tells "the port said no" from "no answer".

import { connect, type Socket } from 'node:net';
import { encodeReply, reply } from '../resp/replies.js';
import { parseAddress } from '../transport/index.js';

export class RedisReplyError {
  constructor(readonly message: string) {}
}

export type RedisReply = string | number | Buffer | null | RedisReplyError | RedisReply[];

/** A reply that did not come: the connection closed, failed or timed out (the command may have run). */
export class RedisConnectionError extends Error {
  override readonly name = 'RedisConnectionError';
}

/** Where a reply ends in `data` from `at`, and what it is; null while it is incomplete. */
function parseReply(data: Buffer, at: number): { reply: RedisReply; end: number } | null {
  const lineEnd = data.indexOf('\r\n', at);
  if (lineEnd < 0) return null;
  const type = String.fromCharCode(data[at] ?? 0);
  const line = data.toString('utf8', at + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { reply: line, end: next };
    case '-':
      return { reply: new RedisReplyError(line), end: next };
    case ':':
      return { reply: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { reply: null, end: next };
      if (data.length < next + length + 2) return null;
      return { reply: data.subarray(next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { reply: null, end: next };
      const items: RedisReply[] = [];
      let position = next;
      for (let item = 0; item < count; item += 1) {
        const parsed = parseReply(data, position);
        if (parsed === null) return null;
        items.push(parsed.reply);
        position = parsed.end;
      }
      return { reply: items, end: position };
    }
    default:
      throw new RedisConnectionError(
        `not a RESP reply: ${JSON.stringify(data.toString('utf8', at, lineEnd))}`,
      );
  }
}

export class RedisPortClient {
  private buffered: Buffer = Buffer.alloc(0);
  /** The call waiting for replies: how many it still needs, and those that came. */
  private waiting: {
    readonly replies: RedisReply[];
    readonly count: number;
    readonly resolve: (replies: RedisReply[]) => void;
    readonly reject: (error: Error) => void;
  } | null = null;
  private failure: RedisConnectionError | null = null;
  /**
   * Where replies nobody asked for go, once set: a subscribed connection's messages. Without it
   * such a reply fails the connection.
   */
  onPush: ((reply: RedisReply) => void) | null = null;
  /** Called once when the connection fails or closes. */
  onClosed: (() => void) | null = null;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.fail(`connection failed: ${error.message}`));
    socket.on('close', () => this.fail('connection closed'));
  }

  static connect(address: string, timeoutMs: number): Promise<RedisPortClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(parseAddress(address));
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new RedisConnectionError(`no connection to ${address} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new RedisConnectionError(`connecting to ${address}: ${error.message}`));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new RedisPortClient(socket));
      });
    });
  }

  /** Sends one command and waits for its reply; rejects with RedisConnectionError when none came. */
  async command(args: readonly (string | Buffer)[], timeoutMs: number): Promise<RedisReply> {
    const [only] = await this.pipeline([args], timeoutMs);
    return only as RedisReply;
  }

  /**
   * Sends `commands` in one write and waits for all their replies, in order; rejects with
   * RedisConnectionError when any did not come (those before it may have run, and later ones too).
   */
  pipeline(commands: readonly (readonly (string | Buffer)[])[], timeoutMs: number): Promise<RedisReply[]> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.waiting !== null) return Promise.reject(new RedisConnectionError('one call at a time'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(`no reply within ${timeoutMs} ms`), timeoutMs);
      this.waiting = {
        replies: [],
        count: commands.length,
        resolve: (replies) => {
          clearTimeout(timer);
          resolve(replies);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      // A command is an array of bulk strings, as the port's own replies encode one.
      const encoded = commands.map((args) => encodeReply(reply.array(args.map((arg) => reply.bulk(arg)))));
      this.socket.write(Buffer.concat(encoded));
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    for (;;) {
      let parsed: { reply: RedisReply; end: number } | null;
      try {
        parsed = parseReply(this.buffered, 0);
      } catch (error) {
        this.fail(error instanceof Error ? error.message : String(error));
        return;
      }
      if (parsed === null) return;
      this.buffered = this.buffered.subarray(parsed.end);
      const waiting = this.waiting;
      if (waiting === null) {
        if (this.onPush === null) {
          this.fail('a reply nobody asked for');
          return;
        }
        this.onPush(parsed.reply);
        continue;
      }
      waiting.replies.push(parsed.reply);
      if (waiting.replies.length === waiting.count) {
        this.waiting = null;
        waiting.resolve(waiting.replies);
        if (this.onPush !== null) continue;
        if (this.buffered.length > 0) this.fail('a reply nobody asked for');
        return;
      }
    }
  }

  private fail(reason: string): void {
    if (this.failure === null) this.onClosed?.();
    this.failure ??= new RedisConnectionError(reason);
    this.socket.destroy();
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.reject(this.failure);
  }
}
