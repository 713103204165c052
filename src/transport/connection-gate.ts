// The accept-time gate of one listening port: caps on open connections per remote address and in
// total. It runs once per accepted socket, never per message, and a refused socket is destroyed
// before a byte of it is read, so a flood of connections costs a file descriptor for an instant
// and nothing more. Each refusal is counted (transportCounters.connectionsRefused) for /metrics.
//
// Why both caps: the total bounds what one port can hold (with the send buffer limit, its memory);
// the per-address cap keeps one remote host from taking all of the total, so honest clients on
// other hosts still get in. On one machine every client shares 127.0.0.1, so the per-address
// default is generous.

import type { Socket } from 'node:net';
import { assert } from '../protocol/assert.js';
import { countRefusal } from './counters.js';

/** Open connections one listening port holds at once; the Redis port's own limit is the same. */
export const CONNECTIONS_MAX_DEFAULT = 10_000;
/** Open connections from one remote address on one port: a whole machine's clients, not a flood. */
export const CONNECTIONS_PER_ADDRESS_MAX_DEFAULT = 2_000;

assert(
  CONNECTIONS_PER_ADDRESS_MAX_DEFAULT <= CONNECTIONS_MAX_DEFAULT,
  'one address cannot be allowed more than the whole port',
);

export interface ConnectionLimits {
  readonly connectionsMax: number;
  readonly connectionsPerAddressMax: number;
}

export const connectionLimitsDefault: ConnectionLimits = {
  connectionsMax: CONNECTIONS_MAX_DEFAULT,
  connectionsPerAddressMax: CONNECTIONS_PER_ADDRESS_MAX_DEFAULT,
};

export class ConnectionGate {
  private open = 0;
  private readonly openByAddress = new Map<string, number>();

  constructor(private readonly limits: ConnectionLimits = connectionLimitsDefault) {
    assert(limits.connectionsMax > 0 && limits.connectionsPerAddressMax > 0, 'connection caps are positive');
  }

  /** Admits `socket` and tracks it until it closes, or destroys it and counts why; true if admitted. */
  admit(socket: Socket): boolean {
    // A socket reset before we saw it has no address: it is closing anyway, and counts under ''.
    const address = socket.remoteAddress ?? '';
    const fromAddress = this.openByAddress.get(address) ?? 0;
    if (this.open >= this.limits.connectionsMax) {
      countRefusal('connections_max');
      socket.destroy();
      return false;
    }
    if (fromAddress >= this.limits.connectionsPerAddressMax) {
      countRefusal('address_connections_max');
      socket.destroy();
      return false;
    }
    this.open += 1;
    this.openByAddress.set(address, fromAddress + 1);
    socket.once('close', () => {
      this.open -= 1;
      const left = (this.openByAddress.get(address) ?? 1) - 1;
      if (left === 0) this.openByAddress.delete(address);
      else this.openByAddress.set(address, left);
    });
    return true;
  }

  /** Open connections this gate admitted (for tests). */
  get openConnections(): number {
    return this.open;
  }
}
