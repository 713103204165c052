// A port on 127.0.0.1 that was free a moment ago, for a server that must be named before it starts
// (an etcd member's peer URL, a replica's admin port in a test). Another process may take it first.

import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
