// The one-shot client commands (put, get, del, append, cas, incr) and status. Each connects, runs
// one call, prints the answer (values as UTF-8, or one JSON object with --json) and closes.
// Exit status: 0 done, 1 the operation failed or did not hold (absent key, cas not swapped).

import { Argument, type Command } from 'commander';
import { ATTEMPT_TIMEOUT_MS_DEFAULT, Client, type WriteMetadata } from '../client/index.js';
import type { StatusReply } from '../protocol/messages.js';
import { addClientOptions, type ClientFlags, exitCode, integerIn, type WriteFlags } from './options.js';

const decoder = new TextDecoder();
const textOrNull = (value: Uint8Array | null): string | null =>
  value === null ? null : decoder.decode(value);

function printLine(line: string): void {
  process.stdout.write(`${line}\n`);
}

function printJson(value: object): void {
  printLine(JSON.stringify(value));
}

/** " (view 3, index 42, sync on r1, r2)" */
function describeWrite(metadata: WriteMetadata): string {
  const holders = metadata.replicas.length === 0 ? 'no replica yet' : metadata.replicas.join(', ');
  return `(view ${metadata.view}, index ${metadata.index}, ${metadata.durability} on ${holders})`;
}

async function withClient(flags: ClientFlags, run: (client: Client) => Promise<void>): Promise<void> {
  const client = await Client.connect({
    coordinator: flags.coordinator,
    clusterId: flags.clusterId,
    deadlineMs: flags.timeout,
    attemptTimeoutMs: Math.min(ATTEMPT_TIMEOUT_MS_DEFAULT, flags.timeout),
  });
  try {
    await run(client);
  } finally {
    await client.close();
  }
}

const durabilityOf = (flags: WriteFlags) => ({
  durability: flags.async ? ('async' as const) : ('sync' as const),
});

export function addClientCommands(program: Command): void {
  addClientOptions(
    program
      .command('put')
      .description('set KEY to VALUE')
      .argument('<key>', 'the key (UTF-8)')
      .argument('<value>', 'the value (UTF-8)'),
    { write: true },
  ).action((key: string, value: string, flags: WriteFlags) =>
    withClient(flags, async (client) => {
      const reply = await client.put(key, value, durabilityOf(flags));
      if (flags.json) printJson({ key, value, ...reply });
      else printLine(`${reply.existed ? 'replaced' : 'created'} ${describeWrite(reply)}`);
    }),
  );

  addClientOptions(
    program
      .command('get')
      .description('print the value of KEY; exit 1 if it is absent (with --json: value null, exit 0)')
      .argument('<key>', 'the key (UTF-8)'),
  ).action((key: string, flags: ClientFlags) =>
    withClient(flags, async (client) => {
      const value = await client.getText(key);
      if (flags.json) printJson({ key, value });
      else if (value !== null) printLine(value);
      else {
        process.stderr.write(`key not found: ${key}\n`);
        process.exitCode = exitCode.failed;
      }
    }),
  );

  addClientOptions(program.command('del').description('delete KEY').argument('<key>', 'the key (UTF-8)'), {
    write: true,
  }).action((key: string, flags: WriteFlags) =>
    withClient(flags, async (client) => {
      const reply = await client.delete(key, durabilityOf(flags));
      if (flags.json) printJson({ key, ...reply });
      else printLine(`${reply.existed ? 'deleted' : 'not found'} ${describeWrite(reply)}`);
    }),
  );

  addClientOptions(
    program
      .command('append')
      .description("append VALUE to KEY and print the value's new length in bytes")
      .argument('<key>', 'the key (UTF-8)')
      .argument('<value>', 'the value (UTF-8)'),
    { write: true },
  ).action((key: string, value: string, flags: WriteFlags) =>
    withClient(flags, async (client) => {
      const reply = await client.append(key, value, durabilityOf(flags));
      if (flags.json) printJson({ key, ...reply });
      else printLine(String(reply.length));
    }),
  );

  addClientOptions(
    program
      .command('cas')
      .summary('compare-and-swap: set KEY to NEW if it holds EXPECTED')
      .description(
        'Set KEY to NEW if its value is EXPECTED. Prints "swapped" (exit 0) or "not swapped: current=..." (exit 1).',
      )
      .argument('<key>', 'the key (UTF-8)')
      .argument('[expected]', 'the value KEY must hold')
      .argument('[new]', 'the value to set')
      .option('--expect-absent', 'swap only if KEY is absent (takes the place of EXPECTED)')
      .option('--delete', 'delete KEY instead of setting it (takes the place of NEW)'),
    { write: true },
  ).action(
    (
      key: string,
      first: string | undefined,
      second: string | undefined,
      flags: WriteFlags & { readonly expectAbsent?: boolean; readonly delete?: boolean },
      command: Command,
    ) => {
      const values = [first, second].filter((value) => value !== undefined);
      const wanted = (flags.expectAbsent ? 0 : 1) + (flags.delete ? 0 : 1);
      if (values.length !== wanted) {
        const usage = `${flags.expectAbsent ? '' : ' EXPECTED'}${flags.delete ? '' : ' NEW'}`;
        command.error(`error: cas takes KEY${usage} with these flags; got ${values.length + 1} argument(s)`, {
          exitCode: exitCode.usage,
          code: 'understudy.usage',
        });
      }
      const expected = flags.expectAbsent ? null : (values.shift() ?? null);
      const next = flags.delete ? null : (values.shift() ?? null);
      return withClient(flags, async (client) => {
        const reply = await client.cas(key, expected, next, durabilityOf(flags));
        const current = textOrNull(reply.current);
        if (flags.json) printJson({ key, ...reply, current });
        else if (reply.swapped) printLine('swapped');
        else printLine(`not swapped: ${current === null ? 'key is absent' : `current=${current}`}`);
        if (!reply.swapped) process.exitCode = exitCode.failed;
      });
    },
  );

  addClientOptions(
    program
      .command('incr')
      .description('add DELTA (default 1) to the integer at KEY and print the new number')
      .argument('<key>', 'the key (UTF-8)')
      .addArgument(
        new Argument('[delta]', 'an integer, may be negative')
          .argParser(integerIn(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER))
          .default(1),
      ),
    { write: true },
  ).action((key: string, delta: number, flags: WriteFlags) =>
    withClient(flags, async (client) => {
      const reply = await client.incr(key, delta, durabilityOf(flags));
      if (flags.json) printJson({ key, ...reply });
      else printLine(String(reply.value));
    }),
  );

  addClientOptions(
    program.command('status').description('print the view and the state of each replica'),
  ).action((flags: ClientFlags) =>
    withClient(flags, async (client) => {
      const status = await client.status();
      if (flags.json) printJson({ view: status.view, replicas: status.replicas, problem: status.problem });
      else printLine(formatStatus(status));
    }),
  );
}

/**
 * The view, then one row per replica. BEHIND is how many entries a member's disk is behind the
 * primary's: every backup acknowledges every entry before it commits, so a slow but live backup
 * sets the commit pace, and this is where it shows. Problems (why a replica does not count as alive,
 * why the coordinator does not act) follow the table.
 */
function formatStatus({ view, replicas, problem }: StatusReply): string {
  const list = (ids: readonly string[]) => (ids.length === 0 ? '-' : ids.join(','));
  const heading =
    view === null
      ? 'no view yet'
      : `view ${view.number}  primary ${view.primary}  backups ${list(view.backups)}  learners ${list(view.learners)}`;
  const primaryDurable = replicas.find((replica) => replica.id === view?.primary)?.durableIndex;
  const behind = (replica: StatusReply['replicas'][number]): string =>
    primaryDurable === undefined || replica.role === 'none'
      ? '-'
      : String(Math.max(0, primaryDurable - replica.durableIndex));
  const rows = [
    ['ID', 'ADDRESS', 'ROLE', 'ALIVE', 'DURABLE', 'BEHIND', 'APPLIED', 'COMMIT'],
    ...replicas.map((replica) => [
      replica.id,
      replica.address,
      replica.role,
      replica.alive ? 'yes' : 'no',
      String(replica.durableIndex),
      behind(replica),
      String(replica.appliedIndex),
      String(replica.commitIndex),
    ]),
  ];
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  const table = rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd(),
  );
  const problems = [
    ...(problem === null ? [] : [`coordinator: ${problem}`]),
    ...replicas.flatMap((replica) => (replica.problem === null ? [] : [`${replica.id}: ${replica.problem}`])),
  ];
  return [heading, ...table, ...problems].join('\n');
}
