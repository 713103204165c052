// Framing: payloads come out whole however the byte stream is cut, and an oversize length is
// refused on its 4 header bytes alone.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameReader, frame } from '../../src/transport/framing.js';

const payloadOf = (length: number, seed: number): Buffer =>
  Buffer.from(Array.from({ length }, (_, index) => (index * 31 + seed) & 0xff));

function readAll(reader: FrameReader, chunks: Buffer[]): Buffer[] {
  return chunks.flatMap((chunk) => reader.push(chunk));
}

test('frame writes a big-endian length before the payload', () => {
  assert.deepEqual([...frame(Buffer.from([7, 8]))], [0, 0, 0, 2, 7, 8]);
});

test('several frames in one chunk come out in order', () => {
  const payloads = [payloadOf(0, 1), payloadOf(1, 2), payloadOf(300, 3), payloadOf(5, 4)];
  const reader = new FrameReader(1024);
  assert.deepEqual(reader.push(Buffer.concat(payloads.map(frame))), payloads);
});

test('a stream split in two at every byte boundary yields the same payloads', () => {
  const payloads = [payloadOf(0, 1), payloadOf(1, 2), payloadOf(300, 3), payloadOf(5, 4)];
  const stream = Buffer.concat(payloads.map(frame));
  for (let cut = 0; cut <= stream.length; cut += 1) {
    const reader = new FrameReader(1024);
    assert.deepEqual(
      readAll(reader, [stream.subarray(0, cut), stream.subarray(cut)]),
      payloads,
      `cut ${cut}`,
    );
  }
});

test('a stream fed one byte at a time yields the same payloads', () => {
  const payloads = [payloadOf(3, 1), payloadOf(70_000, 2), payloadOf(0, 3), payloadOf(4, 4)];
  const stream = Buffer.concat(payloads.map(frame));
  const chunks = Array.from({ length: stream.length }, (_, index) => stream.subarray(index, index + 1));
  assert.deepEqual(readAll(new FrameReader(100_000), chunks), payloads);
});

test('a header claiming 1 GiB is refused before any body arrives', () => {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(1024 * 1024 * 1024);
  assert.throws(() => new FrameReader(16 * 1024 * 1024).push(header), {
    name: 'BadFrameError',
    message: /1073741824 bytes exceeds the limit/,
  });
});

test('a frame exactly at the limit passes and one byte more is refused', () => {
  assert.equal(new FrameReader(10).push(frame(payloadOf(10, 0))).length, 1);
  assert.throws(() => new FrameReader(10).push(frame(payloadOf(11, 0))), { name: 'BadFrameError' });
});

test('a frame of no payload comes out as soon as its 4 header bytes are in', () => {
  const reader = new FrameReader(1024);
  assert.deepEqual(reader.push(frame(Buffer.alloc(0))), [Buffer.alloc(0)]);
  // Its header alone, after a frame whose payload came in two pieces.
  const [head, tail] = [frame(payloadOf(6, 1)).subarray(0, 7), frame(payloadOf(6, 1)).subarray(7)];
  assert.deepEqual(reader.push(head), []);
  assert.deepEqual(reader.push(tail), [payloadOf(6, 1)]);
  assert.deepEqual(reader.push(frame(Buffer.alloc(0))), [Buffer.alloc(0)]);
});

test('a payload within one chunk is a view of it, not a copy; one across chunks is joined', () => {
  const reader = new FrameReader(1024);
  const chunk = Buffer.concat([frame(payloadOf(5, 1)), frame(payloadOf(9, 2))]);
  const payloads = reader.push(chunk);
  assert.deepEqual(payloads, [payloadOf(5, 1), payloadOf(9, 2)]);
  chunk.fill(0);
  assert.deepEqual(payloads, [Buffer.alloc(5), Buffer.alloc(9)], 'views of the chunk');
  const spanning = frame(payloadOf(9, 3));
  const [joined] = readAll(reader, [spanning.subarray(0, 8), spanning.subarray(8)]);
  spanning.fill(0);
  assert.deepEqual(joined, payloadOf(9, 3), 'a copy');
});
