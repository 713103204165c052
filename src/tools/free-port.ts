// Ports on 127.0.0.1 that were free a moment ago, for servers that must be named before they start
// (an etcd member's peer URL, a replica's admin port in a test). Another process may take one first.

import { createServer, type Server } from 'node:net';

/**
 * Ports are drawn from this range rather than asked of the OS (port 0): the OS hands out ports for
 * port 0 and for every outgoing connection from its ephemeral range (32768–60999 on Linux), so a port
 * it gave, released for a server to bind a moment later, may be some connection's by then (a CI run
 * lost a test to it). This range is below that one, and apart from the defaults of Understudy (7000..,
 * 8000..), Redis (6379, 26379) and etcd (2379, 2380).
 */
const DRAWN_FIRST = 10_000;
const DRAWN_LAST = 25_999;
/** Draws before falling back to a port the OS picks. */
const DRAWS_MAX = 100;

/** A port from the drawn range, at random. */
function drawPort(): number {
  return DRAWN_FIRST + Math.floor(Math.random() * (DRAWN_LAST - DRAWN_FIRST + 1));
}

/** A listener on a free port of the drawn range (one the OS picks, if none drawn was free). */
export async function bindDrawn(): Promise<{ readonly server: Server; readonly port: number }> {
  for (let draw = 0; draw < DRAWS_MAX; draw++) {
    const bound = await bindLoopback(drawPort());
    if (bound !== null) return bound;
  }
  const any = await bindLoopback(0);
  if (any === null) throw new Error('no port from the OS');
  return any;
}

/**
 * `count` distinct free ports. Every listener stays open until all are bound: two etcd members named
 * on one port refuse to start (`has duplicate url`).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let k = 0; k < count; k++) {
      const bound = await bindDrawn();
      servers.push(bound.server);
      ports.push(bound.port);
    }
    return ports;
  } finally {
    await closeAll(servers);
  }
}

/** One free port. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no port from the OS');
  return port;
}

/** A listener on 127.0.0.1:port (0: any), held until closed; null if the port is taken. */
export function bindLoopback(
  port: number,
): Promise<{ readonly server: Server; readonly port: number } | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(null));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        resolve(null);
      } else {
        resolve({ server, port: address.port });
      }
    });
  });
}

export function closeAll(servers: readonly Server[]): Promise<void> {
  return Promise.all(
    servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
  ).then(() => undefined);
}
