// Reads commands from a RESP2 byte stream, in both forms Redis accepts:
// - multibulk, what client libraries send: `*<count>\r\n` then `$<length>\r\n<bytes>\r\n` per argument;
// - inline, what telnet and redis-cli's piped input may send: one line of space-separated
//   arguments, with "double quotes" (escapes \n \r \t \b \a \\ \" \xHH) and 'single quotes'.
// Input is untrusted. Every count and length is checked against its limit (limits.ts) as soon as its
// header line is in, before anything is allocated for it; a line is searched only up to the inline
// limit. A malformed stream stops the parser with a RespProtocolError whose message is Redis's own
// for the same fault; the commands read before it are still answered, then the connection closes.
// Bytes are kept as a list of chunks and joined only once a line or a bulk string is complete, so a
// large argument arriving in many small chunks costs linear time.

import { argumentsMax, bulkBytesMax, commandBytesMax, inlineBytesMax } from './limits.js';
import { RespProtocolError } from './protocol-error.js';

/** A command: its name and arguments, as the client sent them (bytes). */
export type RespCommand = Buffer[];

export interface ParseResult {
  readonly commands: RespCommand[];
  /** Set once the stream broke the protocol: answer the commands, then this, then close. */
  readonly error: RespProtocolError | null;
}

const carriageReturn = 0x0d;
const newline = 0x0a;
const asterisk = 0x2a;
const dollar = 0x24;

/** A multibulk command being read: how many arguments it has, and those read so far. */
interface Multibulk {
  readonly count: number;
  readonly arguments: Buffer[];
  bytes: number;
  /** The length of the bulk string whose header was read, -1 while the next header is awaited. */
  bulkLength: number;
}

export class RespParser {
  #chunks: Buffer[] = [];
  #bufferedBytes = 0;
  #multibulk: Multibulk | null = null;
  #failed: RespProtocolError | null = null;

  push(chunk: Buffer): ParseResult {
    const commands: RespCommand[] = [];
    if (this.#failed !== null) return { commands, error: this.#failed };
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#bufferedBytes += chunk.length;
    }
    try {
      for (;;) {
        const command = this.#next();
        if (command === null) break;
        if (command.length > 0) commands.push(command);
      }
    } catch (error) {
      if (!(error instanceof RespProtocolError)) throw error;
      this.#failed = error;
      this.#chunks = [];
      this.#bufferedBytes = 0;
    }
    return { commands, error: this.#failed };
  }

  /** The next command, an empty one for input that holds none (a blank line, `*0`), or null for "more bytes". */
  #next(): RespCommand | null {
    if (this.#multibulk !== null) return this.#continueMultibulk(this.#multibulk);
    const first = this.#peekByte();
    if (first === undefined) return null;
    if (first !== asterisk) {
      const line = this.#line('inline request');
      return line === null ? null : splitInline(line);
    }
    const header = this.#line('mbulk count string');
    if (header === null) return null;
    const count = parseInteger(header.subarray(1));
    if (count === null || count > argumentsMax) {
      throw new RespProtocolError('Protocol error: invalid multibulk length');
    }
    if (count <= 0) return []; // Redis ignores `*0` and `*-1` as commands
    this.#multibulk = { count, arguments: [], bytes: 0, bulkLength: -1 };
    return this.#continueMultibulk(this.#multibulk);
  }

  #continueMultibulk(state: Multibulk): RespCommand | null {
    while (state.arguments.length < state.count) {
      if (state.bulkLength < 0) {
        const first = this.#peekByte();
        if (first === undefined) return null;
        if (first !== dollar) {
          throw new RespProtocolError(`Protocol error: expected '$', got '${printable(first)}'`);
        }
        const header = this.#line('bulk count string');
        if (header === null) return null;
        const length = parseInteger(header.subarray(1));
        if (length === null || length < 0 || length > bulkBytesMax) {
          throw new RespProtocolError('Protocol error: invalid bulk length');
        }
        if (state.bytes + length > commandBytesMax) {
          throw new RespProtocolError(`Protocol error: command larger than ${commandBytesMax} bytes`);
        }
        state.bulkLength = length;
      }
      if (this.#bufferedBytes < state.bulkLength + 2) return null;
      const bulk = this.#take(state.bulkLength + 2);
      if (bulk[state.bulkLength] !== carriageReturn || bulk[state.bulkLength + 1] !== newline) {
        throw new RespProtocolError('Protocol error: a bulk string does not end with CRLF');
      }
      state.arguments.push(bulk.subarray(0, state.bulkLength));
      state.bytes += state.bulkLength;
      state.bulkLength = -1;
    }
    this.#multibulk = null;
    return state.arguments;
  }

  #peekByte(): number | undefined {
    return this.#chunks[0]?.[0];
  }

  /**
   * The next line without its line end (`\n`, or `\r\n`), or null if it is not all here yet. `what`
   * names it in the error for a line longer than the inline limit.
   */
  #line(what: string): Buffer | null {
    let searched = 0;
    for (const chunk of this.#chunks) {
      const at = chunk.indexOf(newline);
      if (at >= 0 && searched + at <= inlineBytesMax + 1) {
        const line = this.#take(searched + at + 1);
        const end = line.length >= 2 && line[line.length - 2] === carriageReturn ? 2 : 1;
        return line.subarray(0, line.length - end);
      }
      searched += at >= 0 ? at : chunk.length;
      if (searched > inlineBytesMax) throw new RespProtocolError(`Protocol error: too big ${what}`);
    }
    return null;
  }

  /** Removes `count` buffered bytes from the front; the caller checked they are there. */
  #take(count: number): Buffer {
    this.#bufferedBytes -= count;
    const first = this.#chunks[0];
    if (first !== undefined && first.length >= count) {
      if (first.length === count) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(count);
      return first.subarray(0, count);
    }
    const output = Buffer.allocUnsafe(count);
    let copied = 0;
    while (copied < count) {
      const chunk = this.#chunks[0] as Buffer;
      const wanted = Math.min(chunk.length, count - copied);
      chunk.copy(output, copied, 0, wanted);
      copied += wanted;
      if (wanted < chunk.length) this.#chunks[0] = chunk.subarray(wanted);
      else this.#chunks.shift();
    }
    return output;
  }
}

/** A decimal integer as Redis reads one (an optional '-', digits, nothing else), or null. */
function parseInteger(text: Buffer): number | null {
  const string = text.toString('latin1');
  if (!/^-?[0-9]{1,18}$/.test(string)) return null;
  return Number(string);
}

function printable(byte: number): string {
  return byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
}

const escapes: Readonly<Record<string, number>> = { n: 0x0a, r: 0x0d, t: 0x09, b: 0x08, a: 0x07 };

function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || (byte !== undefined && byte >= 0x09 && byte <= 0x0d);
}

function isHex(byte: number | undefined): boolean {
  return byte !== undefined && /^[0-9a-fA-F]$/.test(String.fromCharCode(byte));
}

/** Splits an inline command line into arguments, as redis-server's sdssplitargs does. */
export function splitInline(line: Buffer): RespCommand {
  const unbalanced = () => new RespProtocolError('Protocol error: unbalanced quotes in request');
  const args: Buffer[] = [];
  let at = 0;
  for (;;) {
    while (isSpace(line[at])) at++;
    // sdssplitargs reads a C string: a NUL ends the line. Without this, a NUL after an argument
    // ended each new argument at once, empty, forever (found by the issue-10 fuzz test).
    if (at >= line.length || line[at] === 0) return args;
    const bytes: number[] = [];
    const quote = line[at] === 0x22 || line[at] === 0x27 ? line[at] : undefined;
    if (quote !== undefined) at++;
    for (;;) {
      const byte = line[at];
      if (quote === undefined) {
        if (byte === undefined || isSpace(byte) || byte === 0) break;
        bytes.push(byte);
        at++;
        continue;
      }
      if (byte === undefined) throw unbalanced();
      const following = line[at + 1];
      if (byte === quote) {
        // A closing quote must end the argument.
        if (following !== undefined && !isSpace(following)) throw unbalanced();
        at++;
        break;
      }
      if (
        byte === 0x5c &&
        quote === 0x22 &&
        following === 0x78 &&
        isHex(line[at + 2]) &&
        isHex(line[at + 3])
      ) {
        bytes.push(Number.parseInt(line.toString('latin1', at + 2, at + 4), 16));
        at += 4;
      } else if (byte === 0x5c && quote === 0x22 && following !== undefined) {
        bytes.push(escapes[String.fromCharCode(following)] ?? following);
        at += 2;
      } else if (byte === 0x5c && quote === 0x27 && following === 0x27) {
        bytes.push(0x27);
        at += 2;
      } else {
        bytes.push(byte);
        at++;
      }
    }
    args.push(Buffer.from(bytes));
  }
}
