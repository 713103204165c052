// The codec for messages: the four every write sends in a fixed binary layout (hot-messages.ts),
// every other one as msgpack via msgpackr. Records are off so every frame is self-describing (no
// shared structure table between peers that may restart independently). Binary fields
// (Uint8Array) come back as Buffer either way.

import { Packr } from 'msgpackr';
import { BadFrameError } from '../errors.js';
import { decodeHotMessage, encodeHotMessage, isHotMessage } from './hot-messages.js';

const packr = new Packr({ useRecords: false });

/** Returns a fresh Buffer: msgpackr reuses its output buffer, and callers keep ours across turns. */
export function encodeMessage(message: object): Buffer {
  return encodeHotMessage(message) ?? Buffer.from(packr.pack(message));
}

/** Decodes one whole payload; bytes from the network that are not one message are a BadFrameError. */
export function decodeMessage(bytes: Uint8Array): unknown {
  if (isHotMessage(bytes)) return decodeHotMessage(bytes);
  try {
    return packr.unpack(bytes);
  } catch (error) {
    throw new BadFrameError(
      `payload does not decode: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
