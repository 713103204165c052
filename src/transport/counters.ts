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
  /** Connections whose socket has not closed yet, either direction, handshake or not. */
  connectionsOpen: number;
}

export const transportCounters: TransportCounters = {
  badFrames: 0,
  connectionsClosedForErrors: 0,
  sendBufferOverflows: 0,
  handshakesRefused: 0,
  tlsIdentitiesRefused: 0,
  tlsHandshakesFailed: 0,
  connectionsOpen: 0,
};
