// The `understudy` command. Exit status: 0 success, 1 the operation failed (`error: CODE: message`
// on stderr), 2 bad usage. Commander reports usage errors itself; exitOverride turns its exits into
// exceptions here, so that every usage error, whatever commander calls it, exits 2.

import { Command, CommanderError } from 'commander';
import { ConfigError, UnderstudyError } from '../errors.js';
import { applyTestClockRate, TEST_CLOCK_RATE_VARIABLE } from '../node/test-clock-rate.js';
import { groupsFor } from './command-groups.js';
import { exitCode } from './exit-code.js';
import { packageVersion } from './package-version.js';

const program = new Command('understudy')
  .description('Primary-backup replication: run a replicated key/value cluster and talk to it')
  .version(packageVersion)
  .exitOverride()
  .showHelpAfterError('(add --help for usage)')
  .showSuggestionAfterError(true);
// Only the group of the command named (command-groups.ts), in order.
for (const group of groupsFor(process.argv)) await group.add(program);

try {
  applyTestClockRate(process.env[TEST_CLOCK_RATE_VARIABLE]);
  await program.parseAsync(process.argv);
} catch (error) {
  // Exit now, not when the event loop drains: a server that failed part way through its start may
  // have left a timer or a listener behind, and would otherwise stay up, saying it failed, serving
  // nothing (stderr is synchronous on Linux, so the message is out first).
  process.exit(report(error));
}

/** Prints what went wrong, unless commander already did, and answers the exit status. */
function report(error: unknown): number {
  if (error instanceof CommanderError) {
    // Help and version exit 0; everything else commander throws is a usage error.
    return error.exitCode === exitCode.success ? exitCode.success : exitCode.usage;
  }
  if (error instanceof UnderstudyError) {
    process.stderr.write(`error: ${error.code}: ${error.message}\n`);
    return error instanceof ConfigError ? exitCode.usage : exitCode.failed;
  }
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  return exitCode.failed;
}
