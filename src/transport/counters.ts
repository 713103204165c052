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
  /** Commands the Redis port answered. */
  respCommands: number;
  /**
   * Sequences the Redis port sent to the primary for more than one command: a connection's pipeline
   * (`pipeline`), or the commands of several connections (`shared`, resp/shared-sequences.ts).
   */
  respSequences: Record<'pipeline' | 'shared', number>;
  /** Connections whose socket has not closed yet, either direction, handshake or not. */
  connectionsOpen: number;
  /** In-process links (local-link.ts) not closed yet: each is a connection of this process to itself. */
  localLinksOpen: number;
  /** Connections refused at accept time or closed by a deadline, by reason (see RefusalReason). */
  connectionsRefused: Record<RefusalReason, number>;
  /** Requests refused on an authenticated port, by reason (see RequestRefusalReason). */
  requestsRefused: Record<RequestRefusalReason, number>;
}

/**
 * Why a connection was refused or cut: a port's total cap, its per-address cap, no handshake within
 * the deadline, a client that sent nothing for the idle deadline, a client without a valid token
 * (a Redis AUTH that failed too), or a member (replica, coordinator) without the cluster secret or
 * whose TLS certificate does not name the member its Hello names.
 */
export const refusalReasons = [
  'connections_max',
  'address_connections_max',
  'handshake_timeout',
  'idle_timeout',
  'unauthenticated',
  'forged_peer',
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
  localLinksOpen: 0,
  adminBadRequests: 0,
  respProtocolErrors: 0,
  respCommands: 0,
  respSequences: { pipeline: 0, shared: 0 },
  connectionsRefused: {
    connections_max: 0,
    address_connections_max: 0,
    handshake_timeout: 0,
    idle_timeout: 0,
    unauthenticated: 0,
    forged_peer: 0,
  },
  requestsRefused: {
    not_authenticated: 0,
    client_id_not_owned: 0,
    not_admin: 0,
  },
};

/**
 * Why a request was refused on a port that asks for tokens: a Redis command before AUTH, a client id
 * that is not the token's (`<name>/...`), or a mutating admin call (switchover) without an admin token.
 */
export const requestRefusalReasons = ['not_authenticated', 'client_id_not_owned', 'not_admin'] as const;
export type RequestRefusalReason = (typeof requestRefusalReasons)[number];

export function countRequestRefusal(reason: RequestRefusalReason): void {
  transportCounters.requestsRefused[reason] += 1;
}

export function countRefusal(reason: RefusalReason): void {
  transportCounters.connectionsRefused[reason] += 1;
}
