// A stand-in for the key/value Client over one real store, for tests of code that calls the client
// (the Redis port): each call recorded, each write at log index 40 + its number, a refusal by the
// store answered as the real client's RequestRefusedError.

import type { ReadOptions, SequenceOptions } from '../../src/client/index.js';
import { RequestRefusedError } from '../../src/errors.js';
import { ServiceError } from '../../src/protocol/state-machine.js';
import type { SequenceClient } from '../../src/resp/shared-sequences.js';
import {
  decodeResult,
  decodeSequenceResult,
  encodeOperation,
  encodeSequence,
  isReadOnly,
  isReadOnlySequence,
  KeyValueStore,
  type KvLimits,
  type KvOperation,
  kvLimitsDefault,
} from '../../src/state-machine/index.js';

/** One call the stand-in client got: which, its operations' kinds, and where a read was asked to go (null: a write). */
export interface StoreCall {
  readonly method: 'execute' | 'sequence';
  readonly kinds: readonly string[];
  readonly read: ReadOptions | undefined | null;
  /** A sequence sent whole (a transaction). */
  readonly whole?: true;
}

export function storeClient(limits: KvLimits = kvLimitsDefault) {
  const store = new KeyValueStore(limits);
  const calls: StoreCall[] = [];
  let writes = 0;
  let failNext: Error | null = null;
  const metadata = () => ({
    view: 4,
    index: 40 + ++writes,
    durability: 'sync' as const,
    replicas: ['r1', 'r2', 'r3'],
  });
  const run = (bytes: Uint8Array, write: boolean): Uint8Array => {
    const error = failNext;
    failNext = null;
    if (error !== null) throw error;
    try {
      if (!write) return store.query(bytes);
      const { result, update } = store.execute(bytes);
      store.apply(update);
      return result;
    } catch (refusal) {
      if (refusal instanceof ServiceError) throw new RequestRefusedError(refusal.code, refusal.message);
      throw refusal;
    }
  };
  const client: SequenceClient = {
    execute: async (operation: KvOperation, options?: ReadOptions) => {
      const write = !isReadOnly(operation);
      calls.push({ method: 'execute', kinds: [operation.kind], read: write ? null : options });
      const result = decodeResult(operation.kind, run(encodeOperation(operation), write));
      return { result, write: write ? metadata() : null };
    },
    sequence: async (operations: readonly KvOperation[], options?: SequenceOptions) => {
      const write = !isReadOnlySequence(operations);
      const { whole, ...read } = options ?? {};
      calls.push({
        method: 'sequence',
        kinds: operations.map((operation) => operation.kind),
        read: write ? null : options === undefined ? undefined : read,
        ...(whole === true ? { whole } : {}),
      });
      const outcomes = decodeSequenceResult(operations, run(encodeSequence(operations, whole), write));
      return { outcomes, write: write ? metadata() : null };
    },
  };
  return {
    client,
    calls,
    store,
    /** The next call fails with `error`, as a client whose request failed as a whole. */
    failNextWith: (error: Error): void => {
      failNext = error;
    },
  };
}
