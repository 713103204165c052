// Length-prefixed frames: [u32 big-endian payload length][payload]. The reader checks the length
// against the limit as soon as the 4 header bytes are in, before it buffers or allocates the body,
// so a peer cannot make us hold more than one frame limit of its bytes.

import { BadFrameError } from '../errors.js';

export const FRAME_HEADER_BYTES = 4;
/** Default payload limit; must stay above the protocol's `prepareBytesMax` plus envelope. */
export const FRAME_SIZE_MAX_BYTES_DEFAULT = 16 * 1024 * 1024;

export function frame(payload: Uint8Array): Buffer {
  const output = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  output.writeUInt32BE(payload.length, 0);
  output.set(payload, FRAME_HEADER_BYTES);
  return output;
}

/**
 * Splits a byte stream into payloads. Chunks are kept in a list, read from an offset into the first
 * (a header is read where it lies, a payload within one chunk is a view of it), and joined only for a
 * frame that spans chunks, so many small chunks cost linear time and a frame in one chunk costs one
 * view. After it throws, the stream is out of step and the connection must be closed.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  /** Bytes of `chunks[0]` already taken. */
  private offset = 0;
  private bufferedBytes = 0;
  /** Payload length of the frame being read; -1 while its header is incomplete. */
  private payloadBytes = -1;

  constructor(private readonly frameSizeMaxBytes: number) {}

  /** Takes in `chunk` and appends the payloads it completes to `payloads` (a new array if none is given). */
  push(chunk: Buffer, payloads: Buffer[] = []): Buffer[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.bufferedBytes += chunk.length;
    }
    for (;;) {
      if (this.payloadBytes < 0) {
        if (this.bufferedBytes < FRAME_HEADER_BYTES) break;
        const length = this.readLength();
        if (length > this.frameSizeMaxBytes) {
          throw new BadFrameError(`frame of ${length} bytes exceeds the limit of ${this.frameSizeMaxBytes}`);
        }
        this.payloadBytes = length;
      }
      if (this.bufferedBytes < this.payloadBytes) break;
      payloads.push(this.take(this.payloadBytes));
      this.payloadBytes = -1;
    }
    return payloads;
  }

  private readLength(): number {
    const first = this.chunks[0] as Buffer;
    if (first.length - this.offset >= FRAME_HEADER_BYTES) {
      const length = first.readUInt32BE(this.offset);
      this.advance(first, FRAME_HEADER_BYTES);
      return length;
    }
    return this.take(FRAME_HEADER_BYTES).readUInt32BE(0);
  }

  /** Removes `count` buffered bytes from the front; the caller has checked they are there. */
  private take(count: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length - this.offset >= count) {
      const output = first.subarray(this.offset, this.offset + count);
      this.advance(first, count);
      return output;
    }
    this.bufferedBytes -= count;
    const output = Buffer.allocUnsafe(count);
    let copied = 0;
    let used = 0;
    for (const chunk of this.chunks) {
      const start = used === 0 ? this.offset : 0;
      const wanted = Math.min(chunk.length - start, count - copied);
      chunk.copy(output, copied, start, start + wanted);
      copied += wanted;
      if (start + wanted < chunk.length) {
        this.offset = start + wanted;
        break;
      }
      used += 1;
      this.offset = 0;
      if (copied === count) break;
    }
    this.chunks.splice(0, used);
    return output;
  }

  /** Moves past `count` bytes of the first chunk, dropping it once it is all taken. */
  private advance(first: Buffer, count: number): void {
    this.bufferedBytes -= count;
    this.offset += count;
    if (this.offset === first.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }
}
