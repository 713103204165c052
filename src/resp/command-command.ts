// COMMAND: the command table as Redis 7 describes it (name, arity, flags, key positions, and empty
// ACL categories, tips, key specs and subcommands), with COUNT, INFO, LIST and HELP. COMMAND DOCS
// is refused, so redis-cli falls back to the help built into it rather than show none.

import { lowerName } from './arguments.js';
import { type CommandSpec, type CommandTable, helpReply, unknownSubcommand } from './command-table.js';
import { type RespReply, reply } from './replies.js';

function describe(spec: CommandSpec): RespReply {
  const [first, last, step] = spec.keys;
  return reply.array([
    reply.bulk(spec.name),
    reply.integer(spec.arity),
    reply.array(spec.flags.map((flag) => reply.simple(flag))),
    reply.integer(first),
    reply.integer(last),
    reply.integer(step),
    reply.array([]),
    reply.array([]),
    reply.array([]),
    reply.array([]),
  ]);
}

const help = [
  'COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  '(no subcommand)',
  '    Return details about all commands.',
  'COUNT',
  '    Return the total number of commands.',
  'INFO [<command-name> ...]',
  '    Return details about the given commands, or all of them.',
  'LIST',
  '    Return the names of all commands.',
  'HELP',
  '    Print this help.',
];

export function commandCommand(table: () => CommandTable): CommandSpec {
  return {
    name: 'command',
    arity: -1,
    flags: [],
    keys: [0, 0, 0],
    handler: (args) => {
      const specs = table().specs;
      if (args.length === 1) return reply.array(specs.map(describe));
      const subcommand = lowerName(args[1] as Buffer);
      switch (subcommand) {
        case 'count':
          return reply.integer(specs.length);
        case 'list':
          return reply.array(specs.map((spec) => reply.bulk(spec.name)));
        case 'info': {
          const named = args.slice(2);
          if (named.length === 0) return reply.array(specs.map(describe));
          return reply.array(
            named.map((name) => {
              const spec = table().lookup(lowerName(name));
              return spec === undefined ? reply.array(null) : describe(spec);
            }),
          );
        }
        case 'help':
          return helpReply(help);
        default:
          return unknownSubcommand(args, 'COMMAND');
      }
    },
  };
}
