// The general codec for messages: msgpack via msgpackr. Records are off so every frame is
// self-describing (no shared structure table between peers that may restart independently).
// Binary fields (Uint8Array) travel as msgpack bin and come back as Buffer.

import { Packr } from 'msgpackr';
import { BadFrameError } from '../errors.js';

const packr = new Packr({ useRecords: false });

/** Returns a fresh Buffer: msgpackr reuses its output buffer, and callers keep ours across turns. */
export function encodeMessage(message: object): Buffer {
  return Buffer.from(packr.pack(message));
}

/** Decodes one whole payload; bytes from the network that are not one msgpack value are a BadFrameError. */
export function decodeMessage(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch (error) {
    throw new BadFrameError(
      `payload does not decode: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
