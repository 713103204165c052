// A fixed binary layout for the four messages every write sends (a client's request, the reply
// that succeeds, Prepare and PrepareOk); msgpack for every other message. In a profile of the
// primary at 32 clients, msgpack's encoding of these objects (field names as strings, every time)
// and the garbage it left were a large share of the CPU per write.
//
// A binary payload starts with 0xc1, the one byte msgpack never uses, so the two cannot be
// confused; the next byte names the message. Decoding yields the same object the msgpack form
// would, which the receiver then validates as before: a truncated or inconsistent payload is a
// BadFrameError here, a wrong value is the validator's. Little endian; numbers as f64 (the
// validators check they are integers); strings as UTF-8 after a u16 length; bytes after a u32.
//
//   request     kind u8, id, requestNumber, durability u8, has staleness u8, maxStalenessMs,
//               minIndex, clientId, operation
//   reply (ok)  id, view, index, durability u8, replica count u8, replicas, result
//   prepare     view, previous view, previous index, commitIndex, echo, entry count u32, entries
//               (view, index, requestNumber, durability u8, refused u8, clientId, update, result)
//   prepare_ok  view, index, received, time

import { asBuffer } from '../buffers.js';
import { BadFrameError } from '../errors.js';
import type { ClientRequest, ClientSuccess, Prepare, PrepareOk, RequestKind } from '../protocol/messages.js';
import type { Durability, Entry } from '../protocol/types.js';

export const HOT_MESSAGE_MARKER = 0xc1;

enum Tag {
  request = 1,
  reply = 2,
  prepare = 3,
  prepareOk = 4,
}

// Records over the unions: a new kind or durability does not compile until it has a code here.
const requestKindCodes: Readonly<Record<RequestKind, number>> = {
  'open-session': 1,
  write: 2,
  read: 3,
  'request-status': 4,
};
const durabilityCodes: Readonly<Record<Durability, number>> = { sync: 1, async: 2, replicated: 3 };
const requestKinds = invert(requestKindCodes);
const durabilities = invert(durabilityCodes);

/**
 * The binary form of `message` if it is one of the four and has their shape, else null (msgpack
 * it): the layout cannot express a malformed message, which tests send on purpose.
 */
export function encodeHotMessage(message: object): Buffer | null {
  const hot = message as Partial<Record<string, unknown>>;
  switch (hot.type) {
    case 'request':
      return isRequest(hot) ? encodeRequest(message as ClientRequest) : null;
    case 'reply':
      return isReply(hot) ? encodeReply(message as ClientSuccess) : null;
    case 'prepare':
      // Entries encoded a moment ago (for another backup) were checked then.
      return (hot.entries === encodedEntries && isPrepareHeader(hot)) || isPrepare(hot)
        ? encodePrepare(message as Prepare)
        : null;
    case 'prepare_ok':
      return isNumber(hot.view) && isNumber(hot.index) && isNumber(hot.received) && isNumber(hot.time)
        ? encodePrepareOk(message as PrepareOk)
        : null;
    default:
      return null;
  }
}

function isRequest(request: Partial<Record<string, unknown>>): boolean {
  const staleness = request.staleness as Partial<Record<string, unknown>> | null | undefined;
  return (
    Object.hasOwn(requestKindCodes, request.kind as string) &&
    Object.hasOwn(durabilityCodes, request.durability as string) &&
    isNumber(request.id) &&
    isNumber(request.requestNumber) &&
    typeof request.clientId === 'string' &&
    request.operation instanceof Uint8Array &&
    (staleness === null ||
      (typeof staleness === 'object' && isNumber(staleness.maxStalenessMs) && isNumber(staleness.minIndex)))
  );
}

function isReply(reply: Partial<Record<string, unknown>>): boolean {
  return (
    reply.ok === true &&
    isNumber(reply.id) &&
    isNumber(reply.view) &&
    isNumber(reply.index) &&
    Object.hasOwn(durabilityCodes, reply.durability as string) &&
    Array.isArray(reply.replicas) &&
    reply.replicas.every((id) => typeof id === 'string') &&
    reply.result instanceof Uint8Array
  );
}

function isPrepareHeader(prepare: Partial<Record<string, unknown>>): boolean {
  const previous = prepare.previous as Partial<Record<string, unknown>> | undefined;
  return (
    isNumber(prepare.view) &&
    isNumber(prepare.commitIndex) &&
    isNumber(prepare.echo) &&
    isNumber(previous?.view) &&
    isNumber(previous?.index)
  );
}

function isPrepare(prepare: Partial<Record<string, unknown>>): boolean {
  return (
    isPrepareHeader(prepare) &&
    Array.isArray(prepare.entries) &&
    prepare.entries.every((entry: Partial<Record<string, unknown>>) => {
      return (
        isNumber(entry.view) &&
        isNumber(entry.index) &&
        isNumber(entry.requestNumber) &&
        Object.hasOwn(durabilityCodes, entry.durability as string) &&
        typeof entry.refused === 'boolean' &&
        typeof entry.clientId === 'string' &&
        entry.update instanceof Uint8Array &&
        entry.result instanceof Uint8Array
      );
    })
  );
}

/** One check per field, not an array of them: this runs for every message a write sends. */
function isNumber(value: unknown): boolean {
  return typeof value === 'number';
}

export function isHotMessage(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] === HOT_MESSAGE_MARKER;
}

/** Decodes a payload that starts with the marker; the receiver validates the object, as any other. */
export function decodeHotMessage(bytes: Uint8Array): object {
  const reader = new Reader(asBuffer(bytes));
  reader.u8(); // the marker
  const tag = reader.u8();
  let message: object;
  switch (tag) {
    case Tag.request:
      message = decodeRequest(reader);
      break;
    case Tag.reply:
      message = decodeReply(reader);
      break;
    case Tag.prepare:
      message = decodePrepare(reader);
      break;
    case Tag.prepareOk:
      message = {
        type: 'prepare_ok',
        view: reader.number(),
        index: reader.number(),
        received: reader.number(),
        time: reader.number(),
      };
      break;
    default:
      throw new BadFrameError(`binary message of unknown kind ${tag}`);
  }
  reader.end();
  return message;
}

// ---- encoding ------------------------------------------------------------------------------------

function encodeRequest(request: ClientRequest): Buffer {
  const clientIdBytes = Buffer.byteLength(request.clientId);
  const writer = new Writer(2 + 1 + 8 + 8 + 1 + 1 + 16 + 2 + clientIdBytes + 4 + request.operation.length);
  writer.u8(HOT_MESSAGE_MARKER);
  writer.u8(Tag.request);
  writer.u8(requestKindCodes[request.kind]);
  writer.number(request.id);
  writer.number(request.requestNumber);
  writer.u8(durabilityCodes[request.durability]);
  writer.u8(request.staleness === null ? 0 : 1);
  writer.number(request.staleness?.maxStalenessMs ?? 0);
  writer.number(request.staleness?.minIndex ?? 0);
  writer.text(request.clientId, clientIdBytes);
  writer.bytes(request.operation);
  return writer.done();
}

function encodeReply(reply: ClientSuccess): Buffer {
  let size = 2 + 8 * 3 + 1 + 1 + 4 + reply.result.length;
  const replicaBytes = reply.replicas.map((id) => Buffer.byteLength(id));
  for (const bytes of replicaBytes) size += 2 + bytes;
  if (reply.replicas.length > 255) throw new Error('a reply names at most 255 replicas');
  const writer = new Writer(size);
  writer.u8(HOT_MESSAGE_MARKER);
  writer.u8(Tag.reply);
  writer.number(reply.id);
  writer.number(reply.view);
  writer.number(reply.index);
  writer.u8(durabilityCodes[reply.durability]);
  writer.u8(reply.replicas.length);
  reply.replicas.forEach((id, at) => {
    writer.text(id, replicaBytes[at] as number);
  });
  writer.bytes(reply.result);
  return writer.done();
}

/**
 * The last entries encoded, and their bytes. A primary sends the same batch to every backup (the
 * core hands them one array), so the entries are encoded once and only the header per backup; an
 * array is never changed once sent.
 */
let encodedEntries: readonly Entry[] | null = null;
let encodedEntriesBytes: Buffer = Buffer.alloc(0);

const prepareHeaderBytes = 2 + 8 * 5 + 4;

function encodePrepare(prepare: Prepare): Buffer {
  if (prepare.entries !== encodedEntries) {
    encodedEntriesBytes = encodeEntries(prepare.entries);
    encodedEntries = prepare.entries;
  }
  const writer = new Writer(prepareHeaderBytes + encodedEntriesBytes.length);
  writer.u8(HOT_MESSAGE_MARKER);
  writer.u8(Tag.prepare);
  writer.number(prepare.view);
  writer.number(prepare.previous.view);
  writer.number(prepare.previous.index);
  writer.number(prepare.commitIndex);
  writer.number(prepare.echo);
  writer.u32(prepare.entries.length);
  writer.raw(encodedEntriesBytes);
  return writer.done();
}

function encodeEntries(entries: readonly Entry[]): Buffer {
  let size = 0;
  const clientIdBytes = entries.map((entry) => Buffer.byteLength(entry.clientId));
  entries.forEach((entry, at) => {
    size += 8 * 3 + 2 + 2 + (clientIdBytes[at] as number) + 8 + entry.update.length + entry.result.length;
  });
  const writer = new Writer(size);
  entries.forEach((entry, at) => {
    writer.number(entry.view);
    writer.number(entry.index);
    writer.number(entry.requestNumber);
    writer.u8(durabilityCodes[entry.durability]);
    writer.u8(entry.refused ? 1 : 0);
    writer.text(entry.clientId, clientIdBytes[at] as number);
    writer.bytes(entry.update);
    writer.bytes(entry.result);
  });
  return writer.done();
}

function encodePrepareOk(ok: PrepareOk): Buffer {
  const writer = new Writer(2 + 8 * 4);
  writer.u8(HOT_MESSAGE_MARKER);
  writer.u8(Tag.prepareOk);
  writer.number(ok.view);
  writer.number(ok.index);
  writer.number(ok.received);
  writer.number(ok.time);
  return writer.done();
}

class Writer {
  private readonly out: Buffer;
  private offset = 0;

  constructor(size: number) {
    this.out = Buffer.allocUnsafe(size);
  }

  u8(value: number): void {
    this.out[this.offset] = value;
    this.offset += 1;
  }

  u32(value: number): void {
    this.out.writeUInt32LE(value, this.offset);
    this.offset += 4;
  }

  number(value: number): void {
    this.out.writeDoubleLE(value, this.offset);
    this.offset += 8;
  }

  /** `text` as UTF-8 after its length, which the caller measured (Buffer.byteLength). */
  text(text: string, byteLength: number): void {
    if (byteLength > 0xffff) throw new Error(`a name of ${byteLength} bytes does not fit a binary message`);
    this.out.writeUInt16LE(byteLength, this.offset);
    this.out.write(text, this.offset + 2, byteLength, 'utf8');
    this.offset += 2 + byteLength;
  }

  /** Bytes already in the layout, as they are. */
  raw(bytes: Uint8Array): void {
    this.out.set(bytes, this.offset);
    this.offset += bytes.length;
  }

  bytes(bytes: Uint8Array): void {
    this.out.writeUInt32LE(bytes.length, this.offset);
    this.out.set(bytes, this.offset + 4);
    this.offset += 4 + bytes.length;
  }

  done(): Buffer {
    if (this.offset !== this.out.length) throw new Error('binary message size miscounted');
    return this.out;
  }
}

// ---- decoding ------------------------------------------------------------------------------------

function decodeRequest(reader: Reader): object {
  const kind = reader.code(requestKinds, 'request kind');
  const id = reader.number();
  const requestNumber = reader.number();
  const durability = reader.code(durabilities, 'durability');
  const hasStaleness = reader.u8();
  const maxStalenessMs = reader.number();
  const minIndex = reader.number();
  const clientId = reader.text();
  const operation = reader.bytes();
  return {
    type: 'request',
    id,
    kind,
    clientId,
    requestNumber,
    durability,
    operation,
    staleness: hasStaleness === 0 ? null : { maxStalenessMs, minIndex },
  };
}

function decodeReply(reader: Reader): object {
  const id = reader.number();
  const view = reader.number();
  const index = reader.number();
  const durability = reader.code(durabilities, 'durability');
  const count = reader.u8();
  const replicas: string[] = [];
  for (let at = 0; at < count; at++) replicas.push(reader.text());
  const result = reader.bytes();
  return { type: 'reply', id, ok: true, result, view, index, durability, replicas };
}

function decodePrepare(reader: Reader): object {
  const view = reader.number();
  const previous = { view: reader.number(), index: reader.number() };
  const commitIndex = reader.number();
  const echo = reader.number();
  const count = reader.u32();
  // Each entry takes at least 36 bytes: a count beyond what is left is a lie, not an allocation.
  if (count > reader.left / 36)
    throw new BadFrameError(`a prepare claims ${count} entries in ${reader.left} bytes`);
  const entries: object[] = [];
  for (let at = 0; at < count; at++) {
    const entryView = reader.number();
    const index = reader.number();
    const requestNumber = reader.number();
    const durability = reader.code(durabilities, 'durability');
    const refused = reader.u8();
    const clientId = reader.text();
    const update = reader.bytes();
    const result = reader.bytes();
    // refused is checked by the validator: 0 and 1 come out as booleans, anything else stays a number.
    const refusedValue = refused === 0 ? false : refused === 1 ? true : refused;
    entries.push({
      view: entryView,
      index,
      clientId,
      requestNumber,
      durability,
      refused: refusedValue,
      update,
      result,
    });
  }
  return { type: 'prepare', view, previous, entries, commitIndex, echo };
}

class Reader {
  private offset = 0;

  constructor(private readonly input: Buffer) {}

  get left(): number {
    return this.input.length - this.offset;
  }

  u8(): number {
    this.need(1);
    const value = this.input[this.offset] as number;
    this.offset += 1;
    return value;
  }

  u32(): number {
    this.need(4);
    const value = this.input.readUInt32LE(this.offset);
    this.offset += 4;
    return value;
  }

  number(): number {
    this.need(8);
    const value = this.input.readDoubleLE(this.offset);
    this.offset += 8;
    return value;
  }

  code<T extends string>(names: ReadonlyMap<number, T>, what: string): T {
    const code = this.u8();
    const name = names.get(code);
    if (name === undefined) throw new BadFrameError(`binary message: unknown ${what} code ${code}`);
    return name;
  }

  text(): string {
    this.need(2);
    const length = this.input.readUInt16LE(this.offset);
    this.need(2 + length);
    const value = this.input.toString('utf8', this.offset + 2, this.offset + 2 + length);
    this.offset += 2 + length;
    return value;
  }

  /** A view into the payload, as msgpack's decoding gives (no copy). */
  bytes(): Buffer {
    const length = this.u32();
    this.need(length);
    const value = this.input.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  end(): void {
    if (this.offset !== this.input.length) {
      throw new BadFrameError(`binary message: ${this.input.length - this.offset} bytes after its end`);
    }
  }

  private need(bytes: number): void {
    if (this.offset + bytes > this.input.length) throw new BadFrameError('binary message: truncated');
  }
}

function invert<T extends string>(codes: Readonly<Record<T, number>>): ReadonlyMap<number, T> {
  return new Map(Object.entries<number>(codes).map(([name, code]) => [code, name as T]));
}
