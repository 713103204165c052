// A client that broke the protocol: the connection is answered with `-ERR Protocol error: ...`
// and closed, as Redis does, because the stream can no longer be read in step.

export class RespProtocolError extends Error {
  override readonly name = 'RespProtocolError';
}
