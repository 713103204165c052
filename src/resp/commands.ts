// Every command the port answers, in one table.

import { commandCommand } from './command-command.js';
import { CommandTable } from './command-table.js';
import { configCommand } from './config-command.js';
import { connectionCommands } from './connection-commands.js';
import { infoCommand } from './info-command.js';
import { keyFactsCommands } from './key-facts-commands.js';
import { keyspaceCommands } from './keyspace-commands.js';
import { kvCommands } from './kv-commands.js';
import { latencyCommand } from './latency-command.js';
import { monitorCommand } from './monitor.js';
import { replicationCommands } from './replication-commands.js';
import { slowLogSpec } from './slow-log.js';
import { transactionCommands } from './transaction.js';
import { watchCommands } from './watch.js';

export function createCommandTable(): CommandTable {
  const table: CommandTable = new CommandTable([
    ...kvCommands,
    ...keyspaceCommands,
    ...keyFactsCommands,
    ...connectionCommands,
    ...replicationCommands,
    ...transactionCommands,
    ...watchCommands,
    infoCommand,
    configCommand,
    slowLogSpec,
    latencyCommand,
    monitorCommand,
    commandCommand(() => table),
  ]);
  return table;
}
