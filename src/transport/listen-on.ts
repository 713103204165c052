// Binding a server to its address: the one place that turns Node's listen callback and 'error' event
// into a promise, for the admin, Redis and Sentinel ports (the message ports bind in server.ts).

import type { Server } from 'node:net';

/** Listens on host:port and resolves with the port bound (port 0 picks one); rejects if it cannot. */
export async function listenOn(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  return typeof bound === 'object' && bound !== null ? bound.port : port;
}
