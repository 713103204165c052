// LATENCY: Redis's latency monitor, which this port does not run (as Redis does not until
// latency-monitor-threshold is set, and CONFIG GET says it is 0 here). So LATEST and HISTORY answer
// that no event was recorded, and RESET that none was reset, as Redis's would with the monitor off;
// tools that poll it (redis_exporter) get an answer instead of an unknown command. What a write waited
// for is in the slow log (slow-log.ts) and in the replica's /metrics histograms.

import { lowerName } from './arguments.js';
import { type CommandSpec, helpReply, unknownSubcommand, wrongArity } from './command-table.js';
import { type RespReply, reply } from './replies.js';

const latencyHelp = [
  'LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'LATEST',
  '    Return the latest latency samples for all events (none: the monitor is off).',
  'HISTORY <event>',
  '    Return time-latency samples for the <event> class (none: the monitor is off).',
  'RESET [<event> ...]',
  '    Reset latency data of one or more <event> classes (none was recorded).',
  'HELP',
  '    Print this help.',
];

/** LATENCY's answer, also on the Sentinel port (redis_exporter polls a Sentinel with it too). */
export function latency(args: readonly Buffer[]): RespReply {
  if (args.length < 2) return wrongArity('latency');
  const subcommand = lowerName(args[1] as Buffer);
  switch (subcommand) {
    case 'latest':
      return args.length === 2 ? reply.array([]) : wrongArity('latency|latest');
    case 'history':
      return args.length === 3 ? reply.array([]) : wrongArity('latency|history');
    case 'reset':
      return reply.integer(0);
    case 'help':
      return helpReply(latencyHelp);
    default:
      return unknownSubcommand(args, 'LATENCY');
  }
}

export const latencyCommand: CommandSpec = {
  name: 'latency',
  arity: -2,
  flags: ['admin', 'noscript', 'loading', 'stale'],
  keys: [0, 0, 0],
  handler: latency,
};
