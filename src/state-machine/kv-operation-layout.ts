// Key/value operations and results in a fixed binary layout. They were msgpack tuples, and packing
// and unpacking them (with a private copy of every field) was some 10 µs of a client's CPU per
// write and 4 µs of the primary's. Operations and results that older builds wrote as msgpack still
// decode (kv-operations.ts): a result is kept in the log and answered again to a retried request.
//
//   operation: 0xc1, kind (0x11 get, 0x12 put, 0x13 delete, 0x14 append, 0x15 cas, 0x16 incr), u32 (little endian) key length, key, then by kind:
//     get, delete   nothing
//     put, append   the value (or suffix) up to the end
//     cas           flags (1: expected present, 2: next present), u32 expected length, expected,
//                   next up to the end
//     incr          delta, f64
//   result: 0xc1, kind (0x21 to 0x26 in the same order), then by kind:
//     get           present (0 or 1), the value up to the end
//     put, delete   existed (0 or 1)
//     append        length, f64
//     cas           swapped (0 or 1), current present (0 or 1), current up to the end
//     incr          value, f64
//
// 0xc1 is the one byte msgpack never uses, so the first byte tells the two encodings apart. Numbers
// are f64 because they are safe integers, which f64 holds exactly; decoding checks they are.
// Decoding refuses anything malformed with a ServiceError naming what was wrong. Decoded byte fields
// are private copies (plain Uint8Array), safe to keep after the input is reused; a short one lives
// on V8's heap, so the copy costs little.

import { asBuffer } from '../buffers.js';
import { ServiceError } from '../protocol/state-machine.js';
import type { KvLayoutKind, KvLayoutOperation, KvLayoutResult } from './kv-operations.js';

export const binaryLayoutMarker = 0xc1;

const kinds: readonly KvLayoutKind[] = ['get', 'put', 'delete', 'append', 'cas', 'incr'];
// Operations, results and updates (kv-updates.ts) each have their own range of kind codes, so bytes
// of one handed to the decoder of another are refused rather than read as something else.
const operationCodeBase = 0x10;
const resultCodeBase = 0x20;
const kindCodes = new Map(kinds.map((kind, index) => [kind, index + 1]));

function kindCode(kind: KvLayoutKind): number {
  return kindCodes.get(kind) as number; // every kind is in the table
}

function kindOf(code: number | undefined, base: number): KvLayoutKind | undefined {
  return code === undefined ? undefined : kinds[code - base - 1];
}

const operationHeaderBytes = 6;
const casExpectedPresent = 1;
const casNextPresent = 2;

export function encodeBinaryOperation(operation: KvLayoutOperation): Uint8Array {
  const { key } = operation;
  let bodyBytes = 0;
  switch (operation.kind) {
    case 'put':
    case 'append':
      bodyBytes = operation.value.byteLength;
      break;
    case 'cas':
      bodyBytes = 5 + (operation.expected?.byteLength ?? 0) + (operation.next?.byteLength ?? 0);
      break;
    case 'incr':
      bodyBytes = 8;
      break;
  }
  const out = Buffer.allocUnsafe(operationHeaderBytes + key.byteLength + bodyBytes);
  out[0] = binaryLayoutMarker;
  out[1] = operationCodeBase + kindCode(operation.kind);
  out.writeUInt32LE(key.byteLength, 2);
  out.set(key, operationHeaderBytes);
  const body = operationHeaderBytes + key.byteLength;
  switch (operation.kind) {
    case 'put':
    case 'append':
      out.set(operation.value, body);
      break;
    case 'cas': {
      const { expected, next } = operation;
      out[body] = (expected === null ? 0 : casExpectedPresent) | (next === null ? 0 : casNextPresent);
      out.writeUInt32LE(expected?.byteLength ?? 0, body + 1);
      if (expected !== null) out.set(expected, body + 5);
      if (next !== null) out.set(next, body + 5 + (expected?.byteLength ?? 0));
      break;
    }
    case 'incr':
      out.writeDoubleLE(operation.delta, body);
      break;
  }
  return plain(out);
}

/** Decodes an operation in the binary layout (the caller has seen the marker). */
export function decodeBinaryOperation(
  bytes: Uint8Array,
  code: string,
  unknownCode: string,
): KvLayoutOperation {
  const input = asBuffer(bytes);
  if (input.length < operationHeaderBytes) refuse(code, `operation of ${input.length} bytes is too short`);
  const kind = kindOf(input[1], operationCodeBase);
  if (kind === undefined) refuse(unknownCode, `unknown operation code ${input[1]}`);
  const keyEnd = operationHeaderBytes + input.readUInt32LE(2);
  if (keyEnd > input.length) refuse(code, `${kind}: the key runs past the end`);
  const key = copy(input, operationHeaderBytes, keyEnd);
  switch (kind) {
    case 'get':
    case 'delete':
      if (keyEnd !== input.length) refuse(code, `${kind}: bytes follow the key`);
      return { kind, key };
    case 'put':
    case 'append':
      return { kind, key, value: copy(input, keyEnd, input.length) };
    case 'cas': {
      if (keyEnd + 5 > input.length) refuse(code, 'cas: the flags and expected length are missing');
      const flags = input[keyEnd] as number;
      if ((flags & ~(casExpectedPresent | casNextPresent)) !== 0) refuse(code, `cas: unknown flags ${flags}`);
      const expectedEnd = keyEnd + 5 + input.readUInt32LE(keyEnd + 1);
      if (expectedEnd > input.length) refuse(code, 'cas: the expected value runs past the end');
      const hasExpected = (flags & casExpectedPresent) !== 0;
      const hasNext = (flags & casNextPresent) !== 0;
      if (!hasExpected && expectedEnd !== keyEnd + 5) refuse(code, 'cas: an absent expected value has bytes');
      if (!hasNext && expectedEnd !== input.length) refuse(code, 'cas: an absent next value has bytes');
      return {
        kind,
        key,
        expected: hasExpected ? copy(input, keyEnd + 5, expectedEnd) : null,
        next: hasNext ? copy(input, expectedEnd, input.length) : null,
      };
    }
    case 'incr':
      if (keyEnd + 8 !== input.length) refuse(code, 'incr: the delta must be the last 8 bytes');
      return { kind, key, delta: safeInteger(input.readDoubleLE(keyEnd), 'incr: delta', code) };
  }
}

export function encodeBinaryResult(result: KvLayoutResult): Uint8Array {
  switch (result.kind) {
    case 'get':
      return withBytes(result.kind, result.value === null ? 0 : 1, result.value);
    case 'put':
    case 'delete':
      return withFlags(result.kind, result.existed ? 1 : 0);
    case 'append':
      return withNumber(result.kind, result.length);
    case 'cas': {
      const { current } = result;
      const out = Buffer.allocUnsafe(4 + (current?.byteLength ?? 0));
      out[0] = binaryLayoutMarker;
      out[1] = resultCodeBase + kindCode('cas');
      out[2] = result.swapped ? 1 : 0;
      out[3] = current === null ? 0 : 1;
      if (current !== null) out.set(current, 4);
      return plain(out);
    }
    case 'incr':
      return withNumber(result.kind, result.value);
  }
}

/** The kind of a result in the binary layout, or null if the bytes are not one. */
export function binaryResultKind(bytes: Uint8Array): KvLayoutKind | null {
  if (bytes.byteLength < 2 || bytes[0] !== binaryLayoutMarker) return null;
  return kindOf(bytes[1], resultCodeBase) ?? null;
}

/** Decodes a result in the binary layout (the caller has seen the marker). */
export function decodeBinaryResult(bytes: Uint8Array, code: string): KvLayoutResult {
  const input = asBuffer(bytes);
  const kind = binaryResultKind(input);
  if (kind === null) refuse(code, `unknown result code ${input[1]}`);
  switch (kind) {
    case 'get': {
      const present = flag(input, 2, 'get: present', code);
      if (!present && input.length !== 3) refuse(code, 'get: an absent value has bytes');
      return { kind, value: present ? copy(input, 3, input.length) : null };
    }
    case 'put':
    case 'delete':
      if (input.length !== 3) refuse(code, `${kind}: the result must be 3 bytes, got ${input.length}`);
      return { kind, existed: flag(input, 2, `${kind}: existed`, code) };
    case 'append':
    case 'incr': {
      if (input.length !== 10) refuse(code, `${kind}: the result must be 10 bytes, got ${input.length}`);
      const value = safeInteger(input.readDoubleLE(2), `${kind}: the number`, code);
      if (kind === 'incr') return { kind, value };
      if (value < 0) refuse(code, `append: length ${value} is negative`);
      return { kind, length: value };
    }
    case 'cas': {
      const swapped = flag(input, 2, 'cas: swapped', code);
      const present = flag(input, 3, 'cas: current present', code);
      if (!present && input.length !== 4) refuse(code, 'cas: an absent current value has bytes');
      return { kind, swapped, current: present ? copy(input, 4, input.length) : null };
    }
  }
}

function withFlags(kind: KvLayoutKind, value: number): Uint8Array {
  const out = Buffer.allocUnsafe(3);
  out[0] = binaryLayoutMarker;
  out[1] = resultCodeBase + kindCode(kind);
  out[2] = value;
  return plain(out);
}

function withBytes(kind: KvLayoutKind, present: number, value: Uint8Array | null): Uint8Array {
  const out = Buffer.allocUnsafe(3 + (value?.byteLength ?? 0));
  out[0] = binaryLayoutMarker;
  out[1] = resultCodeBase + kindCode(kind);
  out[2] = present;
  if (value !== null) out.set(value, 3);
  return plain(out);
}

function withNumber(kind: KvLayoutKind, value: number): Uint8Array {
  const out = Buffer.allocUnsafe(10);
  out[0] = binaryLayoutMarker;
  out[1] = resultCodeBase + kindCode(kind);
  out.writeDoubleLE(value, 2);
  return plain(out);
}

/** The same bytes as a plain Uint8Array, as the other encoders hand out. */
function plain(out: Buffer): Uint8Array {
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** A private copy of part of `input`, as a plain Uint8Array. */
function copy(input: Buffer, start: number, end: number): Uint8Array {
  return new Uint8Array(input.subarray(start, end));
}

function flag(input: Buffer, offset: number, what: string, code: string): boolean {
  const value = input[offset];
  if (value !== 0 && value !== 1) refuse(code, `${what} must be 0 or 1, got ${value ?? 'nothing'}`);
  return value === 1;
}

function safeInteger(value: number, what: string, code: string): number {
  if (!Number.isSafeInteger(value)) refuse(code, `${what} must be a safe integer, got ${value}`);
  return value;
}

function refuse(code: string, message: string): never {
  throw new ServiceError(code, message);
}
