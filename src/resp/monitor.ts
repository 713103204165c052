// MONITOR: a connection that asks for it is sent every command this port reads from its other
// connections, one line each, as Redis writes them: `+<unix seconds>.<microseconds> [0 <client
// address>] "name" "arg" ...`, arguments quoted with Redis's escapes. Each replica's port is its own
// server, so a monitor sees the commands sent to that port only (not those of other ports, nor of
// applications using the client library). A command is shown as the port reads it, before it runs.
// AUTH's and HELLO's arguments are never shown (they carry tokens). After MONITOR the connection may
// only QUIT. A monitor that does not read what it is sent is dropped before more than
// `monitorBufferBytesMax` would wait for it (or one batch of lines longer than that, alone), and a
// port takes at most `monitorsMax`, so connections that ask and never read hold
// a bounded amount of the replica's memory. With tokens asked it takes an admin token, as Redis's
// ACLs keep MONITOR to @admin users (auth.ts).

import type { Socket } from 'node:net';
import { hidesArguments, notAdminRefusal } from './auth.js';
import type { CommandSpec } from './command-table.js';
import type { ConnectionState } from './context.js';
import type { RespCommand } from './parser.js';
import { reply } from './replies.js';

/** Output waiting for a monitor, at most; past it the monitor is closed. */
export const monitorBufferBytesMax = 8 * 1024 * 1024;
/**
 * Monitors of one port at once: each is sent every command, so without a cap connections that ask
 * and never read would hold monitorBufferBytesMax each (64 MiB in all at this cap).
 */
export const monitorsMax = 8;

/** `argument` as Redis's sdscatrepr quotes it. */
function quoted(argument: Buffer): string {
  let text = '"';
  for (const byte of argument) {
    switch (byte) {
      case 0x5c:
        text += '\\\\';
        break;
      case 0x22:
        text += '\\"';
        break;
      case 0x0a:
        text += '\\n';
        break;
      case 0x0d:
        text += '\\r';
        break;
      case 0x09:
        text += '\\t';
        break;
      case 0x07:
        text += '\\a';
        break;
      case 0x08:
        text += '\\b';
        break;
      default:
        text +=
          byte >= 0x20 && byte < 0x7f
            ? String.fromCharCode(byte)
            : `\\x${byte.toString(16).padStart(2, '0')}`;
    }
  }
  return `${text}"`;
}

/** One MONITOR line for `command` from `client` at `nowMs` (Unix milliseconds, fractional). */
function monitorLine(command: RespCommand, client: string, nowMs: number): string {
  const seconds = Math.floor(nowMs / 1000);
  const micros = Math.floor((nowMs - seconds * 1000) * 1000);
  const hidden = hidesArguments(command);
  const args = command.map((argument, at) => (at > 0 && hidden ? '"(redacted)"' : quoted(argument)));
  return `+${seconds}.${String(micros).padStart(6, '0')} [0 ${client}] ${args.join(' ')}\r\n`;
}

/** The port's monitors: the sockets of the connections that sent MONITOR. */
export class Monitors {
  readonly #sockets = new Map<number, Socket>();

  /** `sent`: bytes written to monitors (INFO stats); `dropped`: a monitor closed for not reading. */
  constructor(
    private readonly sent: (bytes: number) => void,
    private readonly dropped: (connection: number) => void,
  ) {}

  get size(): number {
    return this.#sockets.size;
  }

  add(connection: number, socket: Socket): void {
    this.#sockets.set(connection, socket);
  }

  remove(connection: number): void {
    this.#sockets.delete(connection);
  }

  /** Sends the commands `from` sent to every monitor (a monitor's own are not shown). */
  feed(commands: readonly RespCommand[], from: Readonly<ConnectionState>): void {
    if (this.#sockets.size === 0 || from.monitoring || commands.length === 0) return;
    // Wall-clock time with sub-millisecond digits, as Redis's gettimeofday.
    const nowMs = performance.timeOrigin + performance.now();
    let lines = '';
    for (const command of commands) lines += monitorLine(command, from.remoteAddress, nowMs);
    const bytes = Buffer.byteLength(lines, 'latin1');
    for (const [connection, socket] of this.#sockets) {
      // What waits stays within the bound, or is these lines alone (a command longer than it).
      if (socket.writableLength > 0 && socket.writableLength + bytes > monitorBufferBytesMax) {
        this.#sockets.delete(connection);
        socket.destroy();
        this.dropped(connection);
        continue;
      }
      socket.write(lines);
      this.sent(bytes);
    }
  }
}

export const monitorCommand: CommandSpec = {
  name: 'monitor',
  arity: 1,
  flags: ['admin', 'noscript', 'loading', 'stale'],
  keys: [0, 0, 0],
  handler: (_args, context) => {
    const refused = notAdminRefusal('monitor', context);
    if (refused !== null) return refused;
    let monitors = 0;
    for (const connection of context.connections.values()) if (connection.monitoring) monitors += 1;
    if (monitors >= monitorsMax) {
      return reply.error(`ERR this port has ${monitorsMax} MONITOR connections, its most; close one first`);
    }
    // The server adds the connection to its monitors once this answer is written (server.ts).
    context.connection.monitoring = true;
    return reply.ok;
  },
};
