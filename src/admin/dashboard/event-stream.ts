// Server-sent events to the dashboard pages: each page holds one response open and receives every
// message as one `data:` line of JSON. Bounded both ways: at most `clientsMax` pages at once (one
// more is answered 503), and a page that stops reading is dropped once its unsent messages pass
// `bufferedBytesMax`, so a stuck browser tab cannot make the coordinator hold memory without end.
// The browser's EventSource reconnects by itself (after `retry` ms) and gets a full state again.

import type { ServerResponse } from 'node:http';
import type { AdminStreamRoute } from '../admin-server.js';
import { streamReconnectDelayMs } from './dashboard-limits.js';

export const eventStreamType = 'text/event-stream; charset=utf-8';

export interface EventStreamLimits {
  readonly clientsMax: number;
  readonly bufferedBytesMax: number;
}

export class EventStream {
  private readonly clients = new Set<ServerResponse>();
  /** Pages dropped because they did not read. */
  dropped = 0;

  /** `greeting`: the first message a page gets (the full state), made when it connects. */
  constructor(
    private readonly limits: EventStreamLimits,
    private readonly greeting: () => string,
  ) {}

  get clientCount(): number {
    return this.clients.size;
  }

  route(path: string): AdminStreamRoute {
    return { path, contentType: eventStreamType, open: (response) => this.open(response) };
  }

  /** Sends `data` (one line: JSON has no raw newline) to every page. */
  broadcast(data: string): void {
    for (const client of this.clients) this.send(client, data);
  }

  /** Ends every page's stream (the server is closing). */
  close(): void {
    for (const client of this.clients) client.end();
    this.clients.clear();
  }

  private open(response: ServerResponse): void {
    if (this.clients.size >= this.limits.clientsMax) {
      response.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
      response.end(`too many dashboard pages are open (at most ${this.limits.clientsMax})\n`);
      return;
    }
    response.writeHead(200, { 'Content-Type': eventStreamType, 'Cache-Control': 'no-store' });
    response.write(`retry: ${streamReconnectDelayMs}\n\n`);
    this.clients.add(response);
    response.on('close', () => this.clients.delete(response));
    this.send(response, this.greeting());
  }

  private send(client: ServerResponse, data: string): void {
    // writableLength: what Node holds because the socket would not take it (the page is not reading).
    if (client.writableLength > this.limits.bufferedBytesMax) {
      this.clients.delete(client);
      this.dropped += 1;
      client.destroy();
      return;
    }
    client.write(`data: ${data}\n\n`);
  }
}
