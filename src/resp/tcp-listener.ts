// The listening socket of a port that speaks RESP (a replica's Redis port, the coordinator's Sentinel
// port): plain TCP, or TLS with the process's own certificate, bound to `listen`.

import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from '../node/logger.js';
import { formatAddress, parseAddress, serveWith } from '../transport/index.js';
import { listenOn } from '../transport/listen-on.js';

export interface ServedTls {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

/**
 * A server listening on `listen`, TLS with `tls`, and the port it bound. A client's failed TLS
 * handshake is logged as a `clients`' (its name in the warning). Connections come on 'connection'
 * over TCP and on 'secureConnection' over TLS (where 'connection' is the raw socket): see `connectionEvent`.
 */
export async function listenForRespClients(
  listen: string,
  tls: ServedTls | undefined,
  logger: Logger,
  clients: string,
): Promise<{ readonly server: Server; readonly port: number }> {
  const { host, port } = parseAddress(listen);
  let server: Server;
  if (tls === undefined) {
    server = createServer();
  } else {
    const tlsServer = createTlsServer(tls);
    serveWith(tls, tlsServer);
    server = tlsServer;
  }
  server.on('tlsClientError', (error: Error) => {
    logger.warn({ reason: error.message }, `a ${clients} client failed the TLS handshake`);
  });
  return { server, port: await listenOn(server, host, port) };
}

/** The event a server of `listenForRespClients` hands over each connection's socket on. */
export function connectionEvent(tls: ServedTls | undefined): 'connection' | 'secureConnection' {
  return tls === undefined ? 'connection' : 'secureConnection';
}

/** Where `server` listens (host:port), or `listen` as it was asked while it is not listening. */
export function boundAddress(server: Server, listen: string): string {
  const bound = server.address();
  if (typeof bound !== 'object' || bound === null) return listen;
  return formatAddress(bound.address, bound.port);
}

/** Stops listening and ends every open connection; resolves once the server has closed. */
export async function closeListener(server: Server, sockets: Iterable<Socket>): Promise<void> {
  const closing = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const socket of sockets) socket.destroy();
  await closing;
}
