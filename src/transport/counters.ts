// Process-wide transport counters: bad input is dropped, never asserted, so it is counted here
// for the admin endpoint and for tests to observe.

export interface TransportCounters {
  /** Frames that were too large, did not decode, or failed validation. */
  badFrames: number;
  /** Connections we closed because the peer misbehaved or stopped reading. */
  connectionsClosedForErrors: number;
  /** Connections closed because the peer left more than the send buffer limit unread. */
  sendBufferOverflows: number;
  /** Hellos answered with HANDSHAKE_REFUSED (wrong cluster or protocol version). */
  handshakesRefused: number;
  /** TLS peers whose certificate did not chain to the CA or did not name the member their Hello named. */
  tlsIdentitiesRefused: number;
  /** TLS handshakes that failed before any Hello (no TLS at all, a bad protocol version, a timeout). */
  tlsHandshakesFailed: number;
  /** HTTP requests the admin port could not parse (answered 400 and closed by node:http). */
  adminBadRequests: number;
  /** Redis-port connections closed for a protocol error (answered `-ERR Protocol error`). */
  respProtocolErrors: number;
  /** Connections whose socket has not closed yet, either direction, handshake or not. */
  connectionsOpen: number;
  /** Connections refused at accept time or closed by a deadline, by reason (see RefusalReason). */
  connectionsRefused: Record<RefusalReason, number>;
}

/**
 * Why a connection was refused or cut: a port's total cap, its per-address cap, no handshake within
 * the deadline, or a client that sent nothing for the idle deadline.
 */
export const refusalReasons = [
  'connections_max',
  'address_connections_max',
  'handshake_timeout',
  'idle_timeout',
] as const;
export type RefusalReason = (typeof refusalReasons)[number];

export const transportCounters: TransportCounters = {
  badFrames: 0,
  connectionsClosedForErrors: 0,
  sendBufferOverflows: 0,
  handshakesRefused: 0,
  tlsIdentitiesRefused: 0,
  tlsHandshakesFailed: 0,
  connectionsOpen: 0,
  adminBadRequests: 0,
  respProtocolErrors: 0,
  connectionsRefused: {
    connections_max: 0,
    address_connections_max: 0,
    handshake_timeout: 0,
    idle_timeout: 0,
  },
};

export function countRefusal(reason: RefusalReason): void {
  transportCounters.connectionsRefused[reason] += 1;
}
