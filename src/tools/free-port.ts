// Ports on 127.0.0.1 that were free a moment ago, for servers that must be named before they start
// (an etcd member's peer URL, a replica's admin port in a test). Another process may take one first.

import { createServer, type Server } from 'node:net';

/**
 * `count` distinct free ports. Every listener stays open until all are bound: the OS may hand a
 * port it just released to the next bind, and two etcd members named on one port refuse to start
 * (`has duplicate url`).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let k = 0; k < count; k++) {
      const bound = await bindLoopback(0);
      if (bound === null) throw new Error('no port from the OS');
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
