// The port's slow log, as Redis keeps one: the last `slowLogEntriesMax` commands that took at least
// `slowLogMicrosMin` from the moment they started to run to their answer, with Redis's defaults
// (10 ms, 128 entries), read with SLOWLOG GET (redis_exporter's redis_slowlog_* metrics). A command's
// time here includes what it waited for in the cluster: a sync write is answered once every backup
// has it on disk, so a slow disk or a failover shows in this log, which is what an operator reading
// it looks for. Pipelined commands that ran as one sequence are one entry, named by the first, with
// how many followed it. Kept in memory by each port, reset by SLOWLOG RESET or a restart. Its entries
// hold other connections' arguments, so with tokens asked it takes an admin token (auth.ts); an AUTH's
// or a HELLO's are kept as `(redacted)`, as MONITOR shows them.

import { integerArgument, lowerName } from './arguments.js';
import { hidesArguments, notAdminRefusal } from './auth.js';
import { type CommandSpec, helpReply, unknownSubcommand } from './command-table.js';
import type { CommandContext, ConnectionState } from './context.js';
import { type RespReply, reply } from './replies.js';

/** Redis's slowlog-log-slower-than default. */
export const slowLogMicrosMin = 10_000;
/** Redis's slowlog-max-len default. */
export const slowLogEntriesMax = 128;
/** As Redis, at most this many arguments of a command are kept, each cut to argumentCharsMax. */
const argumentsKeptMax = 32;
const argumentCharsMax = 128;

interface SlowLogEntry {
  readonly id: number;
  readonly atUnixSeconds: number;
  readonly micros: number;
  readonly args: readonly string[];
  readonly client: string;
  readonly clientName: string;
}

function keptArguments(command: readonly Buffer[], pipelinedAfter: number): string[] {
  const kept = command.slice(0, command.length > argumentsKeptMax ? argumentsKeptMax - 1 : argumentsKeptMax);
  const hidden = hidesArguments(command);
  const args = kept.map((argument, at) => {
    if (at > 0 && hidden) return '(redacted)';
    const text = argument.toString('latin1', 0, Math.min(argument.length, argumentCharsMax));
    return argument.length > argumentCharsMax
      ? `${text}... (${argument.length - argumentCharsMax} more bytes)`
      : text;
  });
  if (command.length > argumentsKeptMax) args.push(`... (${command.length - kept.length} more arguments)`);
  if (pipelinedAfter > 0) args.push(`... (${pipelinedAfter} more pipelined commands)`);
  return args;
}

export class SlowLog {
  readonly #entries: SlowLogEntry[] = [];
  #nextId = 0;

  /** Notes `command` if it took at least the threshold; `pipelinedAfter`: commands of its sequence after it. */
  note(
    command: readonly Buffer[],
    micros: number,
    connection: Readonly<Pick<ConnectionState, 'remoteAddress' | 'name'>>,
    pipelinedAfter = 0,
  ): void {
    if (micros < slowLogMicrosMin) return;
    this.#entries.unshift({
      id: this.#nextId++,
      atUnixSeconds: Math.floor(Date.now() / 1000),
      micros: Math.round(micros),
      args: keptArguments(command, pipelinedAfter),
      client: connection.remoteAddress,
      clientName: connection.name ?? '',
    });
    if (this.#entries.length > slowLogEntriesMax) this.#entries.pop();
  }

  get length(): number {
    return this.#entries.length;
  }

  /** The newest `count` entries, newest first (all of them with a negative count, as Redis). */
  newest(count: number): readonly SlowLogEntry[] {
    return count < 0 ? this.#entries : this.#entries.slice(0, count);
  }

  reset(): void {
    this.#entries.length = 0;
  }
}

function entryReply(entry: SlowLogEntry): RespReply {
  return reply.array([
    reply.integer(entry.id),
    reply.integer(entry.atUnixSeconds),
    reply.integer(entry.micros),
    reply.array(entry.args.map((argument) => reply.bulk(argument))),
    reply.bulk(entry.client),
    reply.bulk(entry.clientName),
  ]);
}

const slowLogHelp = [
  'SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'GET [<count>]',
  '    Return top <count> entries from the slowlog (default: 10, -1 mean all).',
  '    Entries are made of:',
  '    id, timestamp, time in microseconds, arguments array, client IP and port,',
  '    client name',
  'LEN',
  '    Return the length of the slowlog.',
  'RESET',
  '    Reset the slowlog.',
  'HELP',
  '    Print this help.',
];

function slowLogCommand(args: readonly Buffer[], context: CommandContext): RespReply {
  const subcommand = lowerName(args[1] as Buffer);
  const { slowLog } = context;
  // Its entries hold other connections' arguments (values, too).
  if (subcommand !== 'help') {
    const refused = notAdminRefusal(`slowlog|${subcommand.slice(0, 64)}`, context);
    if (refused !== null) return refused;
  }
  switch (subcommand) {
    case 'get': {
      if (args.length > 3) return reply.error("ERR wrong number of arguments for 'slowlog|get' command");
      const count =
        args.length === 3
          ? integerArgument(args[2] as Buffer, 'ERR count should be greater than or equal to -1')
          : 10;
      if (count < -1) return reply.error('ERR count should be greater than or equal to -1');
      return reply.array(slowLog.newest(count).map(entryReply));
    }
    case 'len':
      return reply.integer(slowLog.length);
    case 'reset':
      slowLog.reset();
      return reply.ok;
    case 'help':
      return helpReply(slowLogHelp);
    default:
      return unknownSubcommand(args, 'SLOWLOG');
  }
}

export const slowLogSpec: CommandSpec = {
  name: 'slowlog',
  arity: -2,
  flags: ['admin', 'random', 'loading', 'stale'],
  keys: [0, 0, 0],
  handler: slowLogCommand,
};
