// The handshake: the dialling side sends Hello first, the listening side answers Welcome, and only
// then does either side see other messages. It keeps processes of another cluster or protocol
// version from exchanging a single protocol message with us; the listener's owner may refuse a peer
// too (a replica that runs another service: see ListenOptions.admit).
//
// Compatibility: peers must speak exactly the same protocol version, and every change to a message
// bumps it, except a new field an older build ignores (validators drop fields they do not know): the
// heartbeat's and its reply's `formatLevel` kept version 7, so a cluster can be upgraded one process
// at a time (format-level.ts). A Hello is read version first (HelloHeader), so a peer of another
// version is told "protocol version N is not M" even when the rest of its Hello is shaped otherwise.
//
// The build that brings version 8 can still be rolled in, because builds of version 7 ignore what
// they do not know in a Hello and a Welcome: its Hello keeps `protocolVersion: 7` (the oldest it
// speaks, which a build of 7 compares) and adds the newest it speaks in a new field; its listener
// answers a Hello that names a newer one with the version chosen in a new Welcome field, and one that
// names none (a build of 7) with 7; its dialler takes a Welcome without that field as 7. Each
// connection then encodes by the version chosen, until a later build drops 7.

import { ConnectionClosedError, UnavailableError } from '../errors.js';
import type { Hello } from '../protocol/messages.js';
import type { MessageConnection } from './connection.js';

/**
 * 5: a replica's Hello names the service it runs. 6: a Hello may carry a credential (auth.ts). 7: a
 * replica's Hello names its commit rules (the sync quorum and the lag policy), and the coordinator's
 * status names the cluster's service.
 */
export const PROTOCOL_VERSION = 7;
/** How long either side waits for the other's first frame (and the dialler for the connect). */
export const HANDSHAKE_TIMEOUT_MS = 5000;
/**
 * A client connection that sends and receives nothing this long is closed. Clients keep their
 * connections open between calls, so this is generous: it only reclaims connections left behind.
 */
export const CLIENT_IDLE_TIMEOUT_MS = 15 * 60 * 1000;

/** The fields every version's Hello begins with: what a refusal of another version needs. */
export type HelloHeader = Pick<Hello, 'clusterId' | 'protocolVersion'>;

/** Why a Hello is refused, or null when it is acceptable. */
export function refusalReason(hello: HelloHeader, clusterId: string): string | null {
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
