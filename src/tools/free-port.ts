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
      const server = createServer();
      servers.push(server);
      ports.push(await listenOnAnyPort(server));
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

/** One free port. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no port from the OS');
  return port;
}

function listenOnAnyPort(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('no port from the OS'));
      else resolve(address.port);
    });
  });
}
