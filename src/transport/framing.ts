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
 * Splits a byte stream into payloads. Chunks are kept in a list and joined once per frame (or
 * sliced without copying when one chunk holds the whole frame), so many small chunks cost linear time.
 * After it throws, the stream is out of step and the connection must be closed.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  /** Payload length of the frame being read; -1 while its header is incomplete. */
  private payloadBytes = -1;

  constructor(private readonly frameSizeMaxBytes: number) {}

  push(chunk: Buffer): Buffer[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.bufferedBytes += chunk.length;
    }
    const payloads: Buffer[] = [];
    for (;;) {
      if (this.payloadBytes < 0) {
        if (this.bufferedBytes < FRAME_HEADER_BYTES) break;
        const length = this.take(FRAME_HEADER_BYTES).readUInt32BE(0);
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

  /** Removes `count` buffered bytes from the front; the caller has checked they are there. */
  private take(count: number): Buffer {
    this.bufferedBytes -= count;
    const first = this.chunks[0];
    if (first !== undefined && first.length >= count) {
      if (first.length === count) this.chunks.shift();
      else this.chunks[0] = first.subarray(count);
      return first.subarray(0, count);
    }
    const output = Buffer.allocUnsafe(count);
    let copied = 0;
    let used = 0;
    for (const chunk of this.chunks) {
      const wanted = Math.min(chunk.length, count - copied);
      chunk.copy(output, copied, 0, wanted);
      copied += wanted;
      if (wanted < chunk.length) {
        this.chunks[used] = chunk.subarray(wanted);
        break;
      }
      used += 1;
      if (copied === count) break;
    }
    this.chunks.splice(0, used);
    return output;
  }
}
