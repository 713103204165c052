// The admin HTTP port of a replica or the coordinator: a small table of read-only routes (status,
// metrics, health checks; the dashboard adds its own later), served with node:http. Every route
// answers GET (and HEAD, the same without a body); another method on a known path is 405, an unknown
// path 404. Nothing here changes the node: the routes only read what it reports.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { formatAddress, parseAddress } from '../transport/index.js';

export interface AdminResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

export interface AdminRoute {
  /** The exact path, query string aside ("/metrics"). */
  readonly path: string;
  get(): AdminResponse | Promise<AdminResponse>;
}

export const jsonType = 'application/json; charset=utf-8';
export const textType = 'text/plain; charset=utf-8';

export function jsonResponse(status: number, value: object): AdminResponse {
  return { status, contentType: jsonType, body: `${JSON.stringify(value)}\n` };
}

const allowedMethods = ['GET', 'HEAD'];

export class AdminServer {
  private constructor(
    private readonly server: Server,
    readonly address: string,
  ) {}

  /** Listens on `listen` ("host:port"; port 0 picks a free one) and serves `routes`. */
  static async start(listen: string, routes: readonly AdminRoute[]): Promise<AdminServer> {
    const { host, port } = parseAddress(listen);
    const table = new Map(routes.map((route) => [route.path, route]));
    if (table.size !== routes.length) throw new Error('two admin routes share a path');
    const server = createServer((request, response) => {
      answer(table, request, response).catch((error: unknown) => {
        send(response, request, {
          status: 500,
          contentType: textType,
          body: `internal error: ${error instanceof Error ? error.message : String(error)}\n`,
        });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address();
    return new AdminServer(
      server,
      formatAddress(host, typeof bound === 'object' && bound !== null ? bound.port : port),
    );
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      // A scraper's keep-alive connection would hold the close open.
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
  send(response, request, await route.get());
}

function send(response: ServerResponse, request: IncomingMessage, answer: AdminResponse): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  response.statusCode = answer.status;
  response.setHeader('Content-Type', answer.contentType);
  response.setHeader('Cache-Control', 'no-store');
  response.setHeader('Content-Length', Buffer.byteLength(answer.body));
  response.end(request.method === 'HEAD' ? undefined : answer.body);
}
