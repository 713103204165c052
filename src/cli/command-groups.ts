// The CLI's commands in groups, each with the names it adds, so that `understudy get` loads only the
// client's commands and `understudy replica` only the servers': every group's module graph costs a
// start its share (a server's, and each CLI command's). `--version` alone loads none; a command line
// that names no command of the table (help, a typo commander suggests a name for) loads every group,
// in this order, which is the order of the help. cli-commands.test checks the names against what each group adds.

import type { Command } from 'commander';

export interface CommandGroup {
  /** The commands the group adds, as typed on the command line. */
  readonly names: readonly string[];
  /** Adds them to the program (loading their module). */
  readonly add: (program: Command) => Promise<void>;
}

export const commandGroups: readonly CommandGroup[] = [
  {
    names: [
      'put',
      'expire',
      'persist',
      'ttl',
      'get',
      'keys',
      'del',
      'rename',
      'getdel',
      'getset',
      'getex',
      'append',
      'cas',
      'incr',
      'request-status',
      'switchover',
      'forget',
      'status',
    ],
    add: async (program) => (await import('./kv-commands.js')).addClientCommands(program),
  },
  {
    names: ['coordinator', 'replica', 'start'],
    add: async (program) => (await import('./server-commands.js')).addServerCommands(program),
  },
  {
    names: ['snapshot'],
    add: async (program) => (await import('./snapshot-commands.js')).addSnapshotCommands(program),
  },
  {
    names: ['config'],
    add: async (program) => (await import('./config-command.js')).addConfigCommand(program),
  },
  { names: ['chaos'], add: async (program) => (await import('./chaos-command.js')).addChaosCommand(program) },
  { names: ['bench'], add: async (program) => (await import('./bench-command.js')).addBenchCommand(program) },
  { names: ['certs'], add: async (program) => (await import('./certs-command.js')).addCertsCommand(program) },
  { names: ['token'], add: async (program) => (await import('./token-command.js')).addTokenCommand(program) },
];

/** The groups a command line needs: none for the version, the one that adds its command, or all of them. */
export function groupsFor(argv: readonly string[]): readonly CommandGroup[] {
  const name = argv[2];
  if (argv.length === 3 && (name === '--version' || name === '-V')) return [];
  const group = commandGroups.find((candidate) => name !== undefined && candidate.names.includes(name));
  return group === undefined ? commandGroups : [group];
}
