// CONFIG, as far as clients that look at the server before they use it need it: GET answers the few
// parameters that say how this server keeps data, in Redis's names and values (nothing for any other
// name, as Redis answers a name it does not know); SET, RESETSTAT and REWRITE are refused, saying why:
// a replica is configured by its command line, the same on every member (docs/OPERATIONS.md).
// redis-benchmark asks for save and appendonly at start, and warns when it gets nothing.

import { globMatches } from '../state-machine/index.js';
import { lowerName } from './arguments.js';
import { type CommandSpec, helpReply, unknownSubcommand, wrongArity } from './command-table.js';
import type { CommandContext } from './context.js';
import { connectionsMax } from './limits.js';
import { type RespReply, reply } from './replies.js';
import { slowLogEntriesMax, slowLogMicrosMin } from './slow-log.js';

const parameters: ReadonlyMap<string, string> = new Map([
  // Only database 0 (SELECT).
  ['databases', '1'],
  // A write past the store's limits is refused (STORE_FULL); no key is ever evicted.
  ['maxmemory-policy', 'noeviction'],
  // A write is in the log on disk before it is answered (a sync write on every replica's disk).
  ['appendonly', 'yes'],
  ['appendfsync', 'always'],
  // No RDB schedule: a replica's snapshots follow its log's growth (--snapshot-log-bytes), not a clock.
  ['save', ''],
  // The port's cap on connections at once (INFO clients).
  ['maxclients', String(connectionsMax)],
  // The slow log keeps Redis's defaults (slow-log.ts); the latency monitor is off (latency-command.ts).
  ['slowlog-log-slower-than', String(slowLogMicrosMin)],
  ['slowlog-max-len', String(slowLogEntriesMax)],
  ['latency-monitor-threshold', '0'],
]);

const configHelp = [
  'CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'GET <pattern> [<pattern> ...]',
  '    Return parameters matching the glob-like <pattern> and their values.',
  'HELP',
  '    Print this help.',
];

function config(args: readonly Buffer[], context: CommandContext): RespReply {
  const subcommand = lowerName(args[1] as Buffer);
  switch (subcommand) {
    case 'get': {
      if (args.length < 3) return wrongArity('config|get');
      const patterns = args.slice(2).map(lowerName);
      // The store's limit, as INFO memory's maxmemory; 0 (Redis's "no limit") for a service that counts none.
      const maxmemory = String(context.backend.stateSize?.()?.bytesMax ?? 0);
      const found = [...parameters, ['maxmemory', maxmemory] as const].filter(([name]) =>
        patterns.some((pattern) => globMatches(pattern, name)),
      );
      return reply.array(found.flatMap(([name, value]) => [reply.bulk(name), reply.bulk(value)]));
    }
    case 'set':
    case 'resetstat':
    case 'rewrite':
      return reply.error(
        `ERR CONFIG ${subcommand.toUpperCase()} is not supported: each replica is configured by its command line, the same on every member`,
      );
    case 'help':
      return helpReply(configHelp);
    default:
      return unknownSubcommand(args, 'CONFIG');
  }
}

export const configCommand: CommandSpec = {
  name: 'config',
  arity: -2,
  flags: ['admin', 'noscript', 'loading', 'stale'],
  keys: [0, 0, 0],
  handler: config,
};
