// A snapshot is the store as it was when it began, however writes, other snapshots and restores
// interleave with its pieces. The store captures a reference to every entry when a snapshot begins;
// a capture that copies less (a shard at a time, docs/PERFORMANCE.md, "How big a store") must still
// pass this, where a later write leaking into an earlier snapshot would show.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isServiceError, type SnapshotEncoding } from '../../src/protocol/state-machine.js';
import { encodeOperation, KeyValueStore, kvOperation as op } from '../../src/state-machine/index.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function write(store: KeyValueStore, operation: Parameters<typeof encodeOperation>[0]): void {
  try {
    const { update } = store.execute(encodeOperation(operation));
    store.apply(update);
  } catch (error) {
    // A refused write (an append past a limit, say) changes nothing; anything else is a bug.
    if (!isServiceError(error)) throw error;
  }
}

type Step =
  | { readonly kind: 'put' | 'append'; readonly key: number; readonly value: string }
  | { readonly kind: 'delete'; readonly key: number }
  | { readonly kind: 'begin' }
  | { readonly kind: 'piece'; readonly snapshot: number }
  | { readonly kind: 'drop'; readonly snapshot: number }
  | { readonly kind: 'restore' };

const keyCount = 200;
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('put' as const),
      key: fc.nat(keyCount - 1),
      value: fc.string({ maxLength: 12, size: 'max' }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      key: fc.nat(keyCount - 1),
      value: fc.string({ maxLength: 6 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: fc.nat(keyCount - 1) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'begin' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('piece' as const), snapshot: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), snapshot: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restore' as const }) },
);

interface Pending {
  readonly encoding: SnapshotEncoding;
  readonly expected: string;
  readonly pieces: Buffer[];
}

/** Reads one piece; once the encoding ends, checks the snapshot restores the state it began at. */
function readPiece(pending: Pending): boolean {
  const piece = pending.encoding.next();
  if (piece !== null) {
    pending.pieces.push(Buffer.from(piece));
    return false;
  }
  const snapshot = Buffer.concat(pending.pieces);
  assert.equal(snapshot.length, pending.encoding.sizeBytes);
  const restored = new KeyValueStore();
  restored.restore(snapshot);
  assert.equal(restored.stateHash(), pending.expected);
  // A restored store lists its keys in the snapshot's order: its own snapshot is the same bytes.
  assert.deepEqual(Buffer.from(restored.snapshot()), snapshot);
  return true;
}

test('snapshots begun, read, dropped and overlapped among writes and restores each restore the state at their beginning', () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 400, size: 'max' }), (steps) => {
      const store = new KeyValueStore();
      // A state across every shard before the first step, so pieces and shards interleave.
      for (let key = 0; key < keyCount; key += 2) write(store, op.put(bytes(`k${key}`), bytes(`v${key}`)));
      const pending: Pending[] = [];
      for (const next of steps) {
        if (next.kind === 'put') write(store, op.put(bytes(`k${next.key}`), bytes(next.value)));
        else if (next.kind === 'append') write(store, op.append(bytes(`k${next.key}`), bytes(next.value)));
        else if (next.kind === 'delete') write(store, op.delete(bytes(`k${next.key}`)));
        else if (next.kind === 'begin') {
          pending.push({ encoding: store.beginSnapshot(), expected: store.stateHash(), pieces: [] });
        } else if (next.kind === 'piece' && pending.length > 0) {
          const at = next.snapshot % pending.length;
          if (readPiece(pending[at] as Pending)) pending.splice(at, 1);
        } else if (next.kind === 'drop' && pending.length > 0) {
          pending.splice(next.snapshot % pending.length, 1);
        } else if (next.kind === 'restore') {
          const other = new KeyValueStore();
          for (let key = 1; key < keyCount; key += 3) write(other, op.put(bytes(`k${key}`), bytes('r')));
          store.restore(other.snapshot());
        }
      }
      // Whatever is left is read to its end.
      for (const left of pending) while (!readPiece(left));
      // The store's own count of bytes survived it all.
      const recount = new KeyValueStore();
      recount.restore(store.snapshot());
      assert.equal(recount.storeBytes, store.storeBytes);
      assert.equal(recount.entryCount, store.entryCount);
    }),
    { numRuns: 300 },
  );
});
