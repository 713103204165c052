// Model-based property test of the store's entries and their snapshots: random writes, snapshots begun
// at random moments, encoded a piece at a time in between the writes (with piece limits small enough
// for many pieces), some dropped half-way. Every finished snapshot must hold exactly the entries of the
// moment it began, in the store's order of that moment, and the live entries must always be a plain
// Map given the same writes: the same entries in the same order (the order later snapshots list).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { KvEntries } from '../../src/state-machine/kv-entries.js';
import { KvSnapshotEncoding, type PieceLimits } from '../../src/state-machine/kv-snapshot-encoding.js';

type Command =
  | { readonly kind: 'set'; readonly key: string; readonly value: string }
  | { readonly kind: 'delete'; readonly key: string }
  | { readonly kind: 'begin'; readonly limits: PieceLimits }
  | { readonly kind: 'piece'; readonly which: number }
  | { readonly kind: 'drop'; readonly which: number };

interface Open {
  readonly encoding: KvSnapshotEncoding;
  readonly limits: PieceLimits;
  /** The entries when it began, in the store's order. */
  readonly expected: readonly (readonly [string, string])[];
  readonly pieces: Buffer[];
}

const key = fc.string({
  unit: fc.constantFrom('a', 'b', 'c', '\u00e9', '\u00ff'),
  minLength: 1,
  maxLength: 3,
});
const value = fc.oneof(
  fc.string({ unit: fc.constantFrom('x', 'y', '\u0000', '\u00ff'), maxLength: 8 }),
  fc.nat({ max: 300 }).map((length) => 'v'.repeat(length)),
);
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('set' as const), key, value }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('begin' as const),
      limits: fc.record({ bytes: fc.integer({ min: 1, max: 600 }), entries: fc.integer({ min: 1, max: 6 }) }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('piece' as const), which: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), which: fc.nat() }) },
);

/** Reads the snapshot layout back: u8 version, u32 count, then per entry u32 length + key, u32 length + value. */
function decode(bytes: Buffer): [string, string][] {
  assert.equal(bytes.readUInt8(0), 3);
  const count = bytes.readUInt32LE(1);
  let offset = 5;
  const field = (): string => {
    const length = bytes.readUInt32LE(offset);
    const text = bytes.toString('latin1', offset + 4, offset + 4 + length);
    offset += 4 + length;
    return text;
  };
  const entries: [string, string][] = [];
  for (let index = 0; index < count; index++) entries.push([field(), field()]);
  assert.equal(offset, bytes.length, 'bytes follow the last entry');
  return entries;
}

function inOrder(entries: KvEntries): [string, string][] {
  const all: [string, string][] = [];
  entries.forEach((entryValue, entryKey) => {
    all.push([entryKey, entryValue]);
  });
  return all;
}

/** Takes the next piece of `open`; true once it has returned its last. */
function takePiece(open: Open): boolean {
  const piece = open.encoding.next();
  if (piece === null) return true;
  open.pieces.push(Buffer.from(piece)); // a piece is valid only until the next call
  return false;
}

function checkFinished(open: Open): void {
  const whole = Buffer.concat(open.pieces);
  assert.equal(
    whole.length,
    open.encoding.sizeBytes,
    'the pieces add up to the size stated at the beginning',
  );
  assert.deepEqual(decode(whole), open.expected);
}

test('every snapshot of the entries is the state and order of its beginning, whatever is written while it is encoded; the entries stay in the order of a plain Map', () => {
  fc.assert(
    fc.property(fc.array(command, { minLength: 20, maxLength: 300, size: 'max' }), (commands) => {
      const entries = new KvEntries();
      const model = new Map<string, string>();
      let open: Open[] = [];
      for (const step of commands) {
        if (step.kind === 'set') {
          entries.set(step.key, step.value);
          model.set(step.key, step.value);
        } else if (step.kind === 'delete') {
          entries.delete(step.key);
          model.delete(step.key);
        } else if (step.kind === 'begin') {
          const expected = inOrder(entries);
          assert.deepEqual(new Map(expected), model);
          const encoding = new KvSnapshotEncoding(entries.capture(), 3, step.limits);
          open.push({ encoding, limits: step.limits, expected, pieces: [] });
        } else if (open.length > 0) {
          const which = open[step.which % open.length] as Open;
          if (step.kind === 'drop' || takePiece(which)) {
            if (step.kind === 'piece') checkFinished(which);
            open = open.filter((other) => other !== which);
          }
        }
        assert.equal(entries.size, model.size);
        assert.deepEqual(inOrder(entries), [...model]);
      }
      for (const rest of open) {
        while (!takePiece(rest));
        checkFinished(rest);
      }
      for (const [modelKey, modelValue] of model) assert.equal(entries.get(modelKey), modelValue);
      assert.equal(inOrder(entries).length, model.size);
    }),
    { numRuns: 300 },
  );
});

test('a piece keeps to its limits unless a single entry is larger', () => {
  const entries = new KvEntries();
  for (let k = 0; k < 2000; k++) entries.set(`key-${k}`, 'v'.repeat(k % 50));
  entries.set('huge', 'h'.repeat(5000));
  const limits = { bytes: 1000, entries: 20 };
  const encoding = new KvSnapshotEncoding(entries.capture(), 3, limits);
  const pieces: Buffer[] = [];
  for (let piece = encoding.next(); piece !== null; piece = encoding.next()) pieces.push(Buffer.from(piece));
  const oversized = pieces.filter((piece) => piece.length > limits.bytes);
  assert.deepEqual(
    oversized.map((piece) => piece.length),
    [8 + 'huge'.length + 5000],
    'only the piece of the one entry larger than a piece is larger',
  );
  const decoded = decode(Buffer.concat(pieces));
  assert.equal(decoded.length, 2001);
  assert.deepEqual(decoded, inOrder(entries));
});

test('a snapshot never read to its end lets go of the store once the writes since its beginning pass a bound, and still reads as its beginning', () => {
  const entries = new KvEntries();
  const model = new Map<string, string>();
  const write = (key: string, value: string) => {
    entries.set(key, value);
    model.set(key, value);
  };
  for (let k = 0; k < 100; k++) write(`old-${k}`, `v${k}`);
  const expected = inOrder(entries);
  const encoding = new KvSnapshotEncoding(entries.capture(), 3, { bytes: 64, entries: 2 });
  const pieces = [Buffer.from(encoding.next() as Uint8Array)];
  // Its writer stops asking for pieces. Overwrites, deletes and new keys, past the overlay's bound.
  for (let k = 0; k < 100; k += 2) write(`old-${k}`, 'overwritten');
  for (let k = 1; k < 100; k += 4) {
    entries.delete(`old-${k}`);
    model.delete(`old-${k}`);
  }
  write('old-3', 'written again');
  for (let k = 0; k < 70_000; k++) write(`new-${k}`, 'n');
  assert.deepEqual(inOrder(entries), [...model]);
  assert.equal(entries.get('old-3'), 'written again');
  assert.equal(entries.get('old-5'), undefined);
  // Read to the end after all: still the state of its beginning.
  const open: Open = { encoding, limits: { bytes: 64, entries: 2 }, expected, pieces };
  while (!takePiece(open));
  checkFinished(open);
  // A snapshot begun now reads the store in place again, and sees all of it.
  const later = new KvSnapshotEncoding(entries.capture(), 3);
  const laterPieces: Buffer[] = [];
  for (let piece = later.next(); piece !== null; piece = later.next()) laterPieces.push(Buffer.from(piece));
  assert.deepEqual(decode(Buffer.concat(laterPieces)), [...model]);
});
