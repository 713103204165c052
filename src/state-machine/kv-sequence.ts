// A sequence: key/value operations run in order as one operation, so one log entry. Each part sees
// the effects of the parts before it, and a part that is refused (INCR of a word, a value too large)
// is answered with its refusal while the others run, as commands of a Redis pipeline are. It is
// what the Redis port sends for a pipeline (resp/pipeline.ts): one round trip to the primary, one
// request id, one entry, however many commands, instead of one of each per command. A sequence
// whose parts are all reads is a read itself, answered from the state without a log entry.
//
//   sequence: 0xc1, 0x30 (0x31: whole, never cut), then per part a u32 (little endian) length and
//             the part as encodeOperation writes it (never another sequence)
//   result:   0xc1, 0x40, then per part a status byte, a u32 length, and by status:
//             0 (done)     the part's result as encodeResult writes it
//             1 (refused)  a u8 code length, the code, the message up to the part's end (UTF-8)
//
// 0x30, 0x31 and 0x40 sit outside the ranges of the single operations' and results' kind codes
// (kv-operation-layout.ts), so a sequence handed to their decoders is refused, and the reverse.

import { asBuffer } from '../buffers.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { ServiceError } from '../protocol/state-machine.js';
import { binaryLayoutMarker } from './kv-operation-layout.js';
import {
  decodeOperation,
  decodeResult,
  encodeOperation,
  isReadOnly,
  type KvOperation,
  type KvOperationKind,
  type KvResult,
  resultKind,
} from './kv-operations.js';

const sequenceCode = 0x30;
/** A whole sequence: one the store refuses whole rather than cut (a Redis transaction, MULTI/EXEC). */
const wholeSequenceCode = 0x31;
const sequenceResultCode = 0x40;
const headerBytes = 2;
const lengthBytes = 4;
const done = 0;
const refused = 1;

/** What became of one part: its result, or why it was refused. */
export type KvOutcome =
  | { readonly ok: true; readonly result: KvResult }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** What the store answers for one part, before the client decodes it by the part's kind. */
export type KvEncodedOutcome =
  | { readonly ok: true; readonly result: Uint8Array }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** Whether every part only reads: then the sequence is a read (a query), else a write. */
export function isReadOnlySequence(parts: readonly KvOperation[]): boolean {
  return parts.every(isReadOnly);
}

export function isSequence(bytes: Uint8Array): boolean {
  return (
    bytes.byteLength >= headerBytes &&
    bytes[0] === binaryLayoutMarker &&
    (bytes[1] === sequenceCode || bytes[1] === wholeSequenceCode)
  );
}

/**
 * `parts` as one sequence. A `whole` one is never cut: where a plain one answers NOT_RUN for the
 * parts past its results' bound, a whole one is refused whole (VALUE_TOO_LARGE), and nothing runs.
 */
export function encodeSequence(parts: readonly KvOperation[], whole = false): Uint8Array {
  return framed(whole ? wholeSequenceCode : sequenceCode, parts.map(encodeOperation), 0);
}

/** A decoded sequence: its parts, and whether it is run whole or not at all. */
export interface KvSequence {
  readonly parts: KvOperation[];
  readonly whole: boolean;
}

/** A sequence (the caller has seen isSequence); anything malformed is refused with BAD_REQUEST. */
export function decodeSequence(bytes: Uint8Array): KvSequence {
  const code = ErrorCode.badRequest;
  const parts: KvOperation[] = [];
  forEachPart(asBuffer(bytes), 0, code, (part) => {
    if (isSequence(part)) throw new ServiceError(code, 'a sequence may not hold another sequence');
    parts.push(decodeOperation(part));
  });
  return { parts, whole: bytes[1] === wholeSequenceCode };
}

export function encodeSequenceResult(outcomes: readonly KvEncodedOutcome[]): Uint8Array {
  const bodies = outcomes.map((outcome) =>
    outcome.ok ? outcome.result : refusalBytes(outcome.code, outcome.message),
  );
  const out = asBuffer(framed(sequenceResultCode, bodies, 1));
  let offset = headerBytes;
  outcomes.forEach((outcome, at) => {
    out[offset] = outcome.ok ? done : refused;
    offset += 1 + lengthBytes + (bodies[at] as Uint8Array).byteLength;
  });
  return out;
}

/**
 * The outcomes of `parts`, decoded by each part's kind; a malformed answer, or one with another
 * number of outcomes, is refused with BAD_FRAME (the server's fault).
 */
export function decodeSequenceResult(parts: readonly KvOperation[], bytes: Uint8Array): KvOutcome[] {
  const outcomes = decodeOutcomes(bytes, (at) => parts[at]?.kind ?? null, parts.length);
  if (outcomes.length !== parts.length) {
    throw new ServiceError(ErrorCode.badFrame, `${outcomes.length} outcomes for ${parts.length} parts`);
  }
  return outcomes;
}

export function isSequenceResult(bytes: Uint8Array): boolean {
  return (
    bytes.byteLength >= headerBytes && bytes[0] === binaryLayoutMarker && bytes[1] === sequenceResultCode
  );
}

/**
 * The outcomes of a sequence result whose operations are not at hand (`request-status` learns only
 * the result): each result names its own kind. Refused with BAD_FRAME if malformed.
 */
export function decodeSequenceResultAlone(bytes: Uint8Array): KvOutcome[] {
  return decodeOutcomes(bytes, (_at, body) => resultKind(body), Number.POSITIVE_INFINITY);
}

/** Decodes the outcomes, each done one by the kind `kindOf` names (null: not a result); at most `count`. */
function decodeOutcomes(
  bytes: Uint8Array,
  kindOf: (at: number, body: Uint8Array) => KvOperationKind | null,
  count: number,
): KvOutcome[] {
  const code = ErrorCode.badFrame;
  const input = asBuffer(bytes);
  if (!isSequenceResult(input)) throw new ServiceError(code, 'the answer is not a sequence result');
  const outcomes: KvOutcome[] = [];
  forEachPart(input, 1, code, (body, status) => {
    if (outcomes.length >= count) throw new ServiceError(code, `more outcomes than the ${count} parts`);
    if (status === done) {
      const kind = kindOf(outcomes.length, body);
      if (kind === null)
        throw new ServiceError(code, `outcome ${outcomes.length + 1} is not a key/value result`);
      outcomes.push({ ok: true, result: decodeResult(kind, body) });
    } else if (status === refused) {
      const codeLength = body[0] ?? 0;
      if (body.byteLength < 1 + codeLength) throw new ServiceError(code, 'a refusal runs past its part');
      const text = asBuffer(body);
      outcomes.push({
        ok: false,
        code: text.toString('utf8', 1, 1 + codeLength),
        message: text.toString('utf8', 1 + codeLength),
      });
    } else {
      throw new ServiceError(code, `unknown outcome status ${status}`);
    }
  });
  return outcomes;
}

/** The marker, `kind`, then each body after `statusBytes` (left zero) and its u32 length. */
function framed(kind: number, bodies: readonly Uint8Array[], statusBytes: number): Uint8Array {
  let size = headerBytes;
  for (const body of bodies) size += statusBytes + lengthBytes + body.byteLength;
  const out = Buffer.allocUnsafe(size);
  out[0] = binaryLayoutMarker;
  out[1] = kind;
  let offset = headerBytes;
  for (const body of bodies) {
    if (statusBytes > 0) out.fill(0, offset, offset + statusBytes);
    offset += statusBytes;
    out.writeUInt32LE(body.byteLength, offset);
    out.set(body, offset + lengthBytes);
    offset += lengthBytes + body.byteLength;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Calls `each` with every body (a view) and its status byte, checking the lengths add up. */
function forEachPart(
  input: Buffer,
  statusBytes: number,
  code: string,
  each: (body: Uint8Array, status: number) => void,
): void {
  let offset = headerBytes;
  while (offset < input.length) {
    const status = statusBytes > 0 ? (input[offset] as number) : done;
    const lengthAt = offset + statusBytes;
    if (lengthAt + lengthBytes > input.length)
      throw new ServiceError(code, 'a part length runs past the end');
    const start = lengthAt + lengthBytes;
    const end = start + input.readUInt32LE(lengthAt);
    if (end > input.length) throw new ServiceError(code, 'a part runs past the end');
    each(input.subarray(start, end), status);
    offset = end;
  }
}

const textEncoder = new TextEncoder();

function refusalBytes(code: string, message: string): Uint8Array {
  const codeBytes = textEncoder.encode(code).subarray(0, 255);
  const messageBytes = textEncoder.encode(message);
  const out = new Uint8Array(1 + codeBytes.byteLength + messageBytes.byteLength);
  out[0] = codeBytes.byteLength;
  out.set(codeBytes, 1);
  out.set(messageBytes, 1 + codeBytes.byteLength);
  return out;
}
