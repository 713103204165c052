// Bytes as a Buffer without a copy: the payloads and updates on the write path mostly are Buffers
// already (views of a socket's chunk), and wrapping one again is an object per message for nothing.

/** `bytes` itself if it is a Buffer, else a Buffer over the same memory. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
