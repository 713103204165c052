// What travels between the lock client and the lock service: operations, their results, and the
// updates a primary ships to its backups, each as JSON in UTF-8. JSON keeps the example readable;
// a service that cares about bytes per request would use a binary layout.
//
// Every operation carries `nowMs`, the client's clock when it made the request: the service's only
// source of time (see lock-service.ts for why).

import { ErrorCode, ServiceError } from 'understudy';

/** A lock held: by whom, under which fencing token, until when (in the service's clock). */
export interface Lease {
  readonly owner: string;
  /** Grows with every grant of any lock: hand it to the resource, which refuses older tokens. */
  readonly token: number;
  readonly expiresAtMs: number;
}

export type LockOperation =
  | {
      readonly op: 'acquire';
      readonly lock: string;
      readonly owner: string;
      readonly leaseMs: number;
      readonly nowMs: number;
    }
  | {
      readonly op: 'release';
      readonly lock: string;
      readonly owner: string;
      readonly token: number;
      readonly nowMs: number;
    }
  | { readonly op: 'inspect'; readonly lock: string; readonly nowMs: number };

/**
 * `atMs` is the service's clock when it decided. An acquire by the holder renews its lease: same
 * token, an expiry `leaseMs` from now unless it already ran longer. Refused: `holder` is who holds it.
 */
export type AcquireResult =
  | { readonly granted: true; readonly lease: Lease; readonly atMs: number }
  | { readonly granted: false; readonly holder: Lease; readonly atMs: number };

/** Not released: the lease had expired or been released (`holder` null), or is another grant's. */
export type ReleaseResult =
  | { readonly released: true; readonly atMs: number }
  | { readonly released: false; readonly holder: Lease | null; readonly atMs: number };

export interface LockState {
  readonly lock: string;
  /** Null when nobody holds it at `atMs`. */
  readonly holder: Lease | null;
  readonly atMs: number;
}

/** The side effect of a write: the clock moves to `atMs`, and `lock` gets `lease` (null frees it). */
export interface LockUpdate {
  readonly atMs: number;
  readonly change: { readonly lock: string; readonly lease: Lease | null } | null;
}

/** Limits of what a request may ask; beyond them the service refuses it with BAD_REQUEST. */
export const lockNameBytesMax = 256;
export const ownerBytesMax = 256;
export const leaseMsMax = 3_600_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encode(
  value: LockOperation | AcquireResult | ReleaseResult | LockState | LockUpdate,
): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Parses what the service's own code encoded (results, updates): trusted, so only its JSON is checked. */
export function decodeTrusted<T>(bytes: Uint8Array): T {
  return JSON.parse(decoder.decode(bytes)) as T;
}

/** Parses and checks an operation from a client; anything malformed is refused with a ServiceError. */
export function decodeOperation(bytes: Uint8Array): LockOperation {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new ServiceError(ErrorCode.badRequest, 'a lock operation is JSON');
  }
  if (typeof value !== 'object' || value === null)
    throw new ServiceError(ErrorCode.badRequest, 'not an object');
  const fields = value as Record<string, unknown>;
  const lock = text(fields.lock, 'lock', lockNameBytesMax);
  const nowMs = integer(fields.nowMs, 'nowMs', 0, Number.MAX_SAFE_INTEGER);
  switch (fields.op) {
    case 'acquire':
      return {
        op: 'acquire',
        lock,
        owner: text(fields.owner, 'owner', ownerBytesMax),
        leaseMs: integer(fields.leaseMs, 'leaseMs', 1, leaseMsMax),
        nowMs,
      };
    case 'release':
      return {
        op: 'release',
        lock,
        owner: text(fields.owner, 'owner', ownerBytesMax),
        token: integer(fields.token, 'token', 1, Number.MAX_SAFE_INTEGER),
        nowMs,
      };
    case 'inspect':
      return { op: 'inspect', lock, nowMs };
    default:
      throw new ServiceError(ErrorCode.unknownOperation, `unknown op ${JSON.stringify(fields.op)}`);
  }
}

function text(value: unknown, name: string, bytesMax: number): string {
  if (typeof value !== 'string' || value === '' || encoder.encode(value).length > bytesMax) {
    throw new ServiceError(ErrorCode.badRequest, `${name} must be a string of 1 to ${bytesMax} bytes`);
  }
  return value;
}

function integer(value: unknown, name: string, low: number, high: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < low || value > high) {
    throw new ServiceError(ErrorCode.badRequest, `${name} must be an integer from ${low} to ${high}`);
  }
  return value;
}
