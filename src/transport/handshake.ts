// The handshake: the dialling side sends Hello first, the listening side answers Welcome, and only
// then does either side see other messages. It keeps processes of another cluster or protocol
// version from exchanging a single protocol message with us.

import { ConnectionClosedError, UnavailableError } from '../errors.js';
import type { Hello } from '../protocol/messages.js';
import type { MessageConnection } from './connection.js';

export const PROTOCOL_VERSION = 4;
/** How long either side waits for the other's first frame (and the dialler for the connect). */
export const HANDSHAKE_TIMEOUT_MS = 5000;

/** Why a Hello is refused, or null when it is acceptable. */
export function refusalReason(hello: Hello, clusterId: string): string | null {
  if (hello.protocolVersion !== PROTOCOL_VERSION) {
    return `protocol version ${hello.protocolVersion} is not ${PROTOCOL_VERSION}`;
  }
  if (hello.clusterId !== clusterId) return `cluster ${hello.clusterId} is not ${clusterId}`;
  return null;
}

/**
 * Waits for the first message and parses it. Afterwards the connection has no message handler, so
 * anything the peer sent behind the first message waits for the owner's handler. Rejects with the
 * parser's BadFrameError, a ConnectionClosedError, or an UnavailableError on timeout.
 */
export function receiveFirst<T>(
  connection: MessageConnection,
  parse: (value: unknown) => T,
  timeoutMs: number,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      connection.onMessage = null;
      reject(new UnavailableError(`no handshake answer within ${timeoutMs} ms`));
    }, timeoutMs);
    connection.onClose = (error) => {
      clearTimeout(timer);
      reject(new ConnectionClosedError(`closed during the handshake${error ? `: ${error.message}` : ''}`));
    };
    connection.onMessage = (message) => {
      clearTimeout(timer);
      connection.onMessage = null;
      connection.onClose = () => {};
      try {
        resolve(parse(message));
      } catch (error) {
        reject(error);
      }
    };
  });
}
