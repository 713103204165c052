// The admin HTTP port of a replica or the coordinator: a small table of read-only routes (status,
// metrics, health checks, the coordinator's dashboard), served with node:http. Every route answers
// GET (and HEAD, the same without a body); another method on a known path is 405, an unknown path
// 404. Nothing here changes the node: the routes only read what it reports. Most routes answer once;
// a stream route (the dashboard's server-sent events) takes the response over and keeps it open.
// With `tls` it is HTTPS with the process's certificate; the routes are the same.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import {
  ConnectionGate,
  countRefusal,
  formatAddress,
  parseAddress,
  serveWith,
  transportCounters,
} from '../transport/index.js';
import { listenOn } from '../transport/listen-on.js';

/**
 * How long a client may take to send a request's headers, and the whole request: a scraper sends
 * its GET at once, so this only cuts connections that trickle (slowloris). Node's defaults are 60 s
 * and 300 s.
 */
export const ADMIN_REQUEST_TIMEOUT_MS = 10_000;
/** An idle keep-alive connection is closed after this long (a scraper reconnects at its next scrape). */
export const ADMIN_KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Open connections the admin port holds at once, and from one address: scrapers and dashboards. */
export const ADMIN_CONNECTIONS_MAX = 1_000;
export const ADMIN_CONNECTIONS_PER_ADDRESS_MAX = 200;

export interface AdminResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  /** More headers (a page's Content-Security-Policy); Content-Type and Cache-Control are set anyway. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A route that answers each GET with one response. */
export interface AdminAnswerRoute {
  /** The exact path, query string aside ("/metrics"). */
  readonly path: string;
  get(): AdminResponse | Promise<AdminResponse>;
}

/**
 * A route that keeps its response open (server-sent events): `open` takes the response over, writes
 * its own head and ends it when it will. A HEAD is answered here, with `contentType` and no body.
 */
export interface AdminStreamRoute {
  readonly path: string;
  readonly contentType: string;
  open(response: ServerResponse): void;
}

export type AdminRoute = AdminAnswerRoute | AdminStreamRoute;

export interface AdminServerOptions {
  /** Run when the server closes, before its connections are cut (a route's timers, its streams). */
  readonly onClose?: () => void;
  /** Serve HTTPS with this certificate and key (PEM). */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
}

export const jsonType = 'application/json; charset=utf-8';
export const textType = 'text/plain; charset=utf-8';

export function jsonResponse(status: number, value: object): AdminResponse {
  return { status, contentType: jsonType, body: `${JSON.stringify(value)}\n` };
}

const allowedMethods = ['GET', 'HEAD'];

export class AdminServer {
  private constructor(
    private readonly server: Server | HttpsServer,
    readonly address: string,
    private readonly onClose: () => void,
  ) {}

  /** Listens on `listen` ("host:port"; port 0 picks a free one) and serves `routes`. */
  static async start(
    listen: string,
    routes: readonly AdminRoute[],
    options: AdminServerOptions = {},
  ): Promise<AdminServer> {
    const { host, port } = parseAddress(listen);
    const table = new Map(routes.map((route) => [route.path, route]));
    if (table.size !== routes.length) throw new Error('two admin routes share a path');
    const handle = (request: IncomingMessage, response: ServerResponse): void => {
      answer(table, request, response).catch((error: unknown) => {
        send(response, request, {
          status: 500,
          contentType: textType,
          body: `internal error: ${error instanceof Error ? error.message : String(error)}\n`,
        });
      });
    };
    let server: Server | HttpsServer;
    if (options.tls === undefined) {
      server = createServer(handle);
    } else {
      const https = createHttpsServer(options.tls, handle);
      serveWith(options.tls, https);
      server = https;
    }
    server.headersTimeout = ADMIN_REQUEST_TIMEOUT_MS;
    server.requestTimeout = ADMIN_REQUEST_TIMEOUT_MS;
    server.keepAliveTimeout = ADMIN_KEEP_ALIVE_TIMEOUT_MS;
    const gate = new ConnectionGate({
      connectionsMax: ADMIN_CONNECTIONS_MAX,
      connectionsPerAddressMax: ADMIN_CONNECTIONS_PER_ADDRESS_MAX,
    });
    server.on('connection', (socket: Socket) => gate.admit(socket));
    // Bytes that are not HTTP: counted, answered 400 when the socket can still take it, closed. A
    // request too slow to arrive (slowloris) is counted as a handshake timeout and answered 408.
    server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
      if (error.code === 'ECONNRESET') {
        socket.destroy(); // The peer left: not bad input.
        return;
      }
      const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      if (timedOut) countRefusal('handshake_timeout');
      else transportCounters.adminBadRequests += 1;
      if (!socket.writable) socket.destroy();
      else if (timedOut) socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
      else socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
    const boundPort = await listenOn(server, host, port);
    return new AdminServer(server, formatAddress(host, boundPort), options.onClose ?? (() => {}));
  }

  async close(): Promise<void> {
    this.onClose();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      // A scraper's keep-alive connection (or a dashboard's event stream) would hold the close open.
      this.server.closeAllConnections();
    });
  }
}

async function answer(
  table: ReadonlyMap<string, AdminRoute>,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const path = (request.url ?? '/').split('?')[0] ?? '/';
  const route = table.get(path);
  if (route === undefined) {
    send(response, request, { status: 404, contentType: textType, body: `no such path: ${path}\n` });
    return;
  }
  if (!allowedMethods.includes(request.method ?? '')) {
    response.setHeader('Allow', allowedMethods.join(', '));
    send(response, request, {
      status: 405,
      contentType: textType,
      body: `${request.method} is not allowed on ${path}: use GET\n`,
    });
    return;
  }
  if ('open' in route) {
    if (request.method === 'HEAD')
      send(response, request, { status: 200, contentType: route.contentType, body: '' });
    else route.open(response);
    return;
  }
  send(response, request, await route.get());
}

function send(response: ServerResponse, request: IncomingMessage, answer: AdminResponse): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  response.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers ?? {})) response.setHeader(name, value);
  response.setHeader('Content-Type', answer.contentType);
  response.setHeader('Cache-Control', 'no-store');
  response.setHeader('Content-Length', Buffer.byteLength(answer.body));
  response.end(request.method === 'HEAD' ? undefined : answer.body);
}
