// The one-shot client commands (put, get, del, append, cas, incr), request-status and status. Each
// connects, runs one call, prints the answer (values as UTF-8, or one JSON object with --json) and
// closes. Exit status: 0 done, 1 the operation failed or did not hold (absent key, cas not swapped,
// a request that did not run). A write whose outcome is unknown also prints its request id and how
// to ask what became of it.

import { Argument, type Command, InvalidArgumentError, Option } from 'commander';
import { statusDocument } from '../admin/status-document.js';
import {
  ATTEMPT_TIMEOUT_MS_DEFAULT,
  CLUSTER_ID_DEFAULT,
  Client,
  type KvRequestStatus,
  parseRequestId,
  READ_MAX_STALENESS_MS_DEFAULT,
  type ReadOptions,
  type WriteMetadata,
} from '../client/index.js';
import { formatTransfer } from '../client/transfer-progress.js';
import { ConfigError, OutcomeUnknownError } from '../errors.js';
import { FORMAT_LEVEL } from '../protocol/format-level.js';
import type { ReplicaStatus, StatusReply } from '../protocol/messages.js';
import type { Durability } from '../protocol/types.js';
import type { KvResult } from '../state-machine/index.js';
import { clientToken } from './auth-files.js';
import {
  addClientOptions,
  type ClientFlags,
  COORDINATOR_ADDRESS_DEFAULT,
  exitCode,
  integerIn,
  MAX_STALENESS_MS_MAX,
  nonEmpty,
  type WriteFlags,
} from './options.js';
import { clientTlsMaterial } from './tls-files.js';

const decoder = new TextDecoder();
const textOrNull = (value: Uint8Array | null): string | null =>
  value === null ? null : decoder.decode(value);

function printLine(line: string): void {
  process.stdout.write(`${line}\n`);
}

function printJson(value: object): void {
  printLine(JSON.stringify(value));
}

/** A value read, or "key not found" on stderr and exit status 1. */
function printValue(key: string, value: string | null): void {
  if (value !== null) printLine(value);
  else {
    process.stderr.write(`key not found: ${key}\n`);
    process.exitCode = exitCode.failed;
  }
}

/** " (view 3, index 42, sync on r1, r2)" */
function describeWrite(metadata: WriteMetadata): string {
  const holders = metadata.replicas.length === 0 ? 'no replica yet' : metadata.replicas.join(', ');
  return `(view ${metadata.view}, index ${metadata.index}, ${metadata.durability} on ${holders})`;
}

export async function withClient(flags: ClientFlags, run: (client: Client) => Promise<void>): Promise<void> {
  const tls = clientTlsMaterial(flags);
  const token = clientToken(flags.tokenFile);
  const client = await Client.connect({
    coordinator: flags.coordinator,
    clusterId: flags.clusterId,
    ...(tls === undefined ? {} : { tls }),
    ...(token === undefined ? {} : { token }),
    deadlineMs: flags.timeout,
    attemptTimeoutMs: Math.min(ATTEMPT_TIMEOUT_MS_DEFAULT, flags.timeout),
  });
  try {
    await run(client);
  } catch (error) {
    if (!(error instanceof OutcomeUnknownError)) throw error;
    // The error as main reports it, then the id and the command that asks what became of it.
    process.stderr.write(`error: ${error.code}: ${error.message}\n`);
    process.stderr.write(`request id: ${error.requestId}\n`);
    process.stderr.write(
      `to ask whether it ran: understudy request-status ${error.requestId}${clusterFlags(flags)}\n`,
    );
    process.exitCode = exitCode.failed;
  } finally {
    await client.close();
  }
}

/** The flags that reach the same cluster again, where they differ from the defaults. */
function clusterFlags(flags: ClientFlags): string {
  const coordinator =
    flags.coordinator === COORDINATOR_ADDRESS_DEFAULT ? '' : ` --coordinator ${flags.coordinator}`;
  const clusterId = flags.clusterId === CLUSTER_ID_DEFAULT ? '' : ` --cluster-id ${flags.clusterId}`;
  return `${coordinator}${clusterId}`;
}

interface ReadFlags extends ClientFlags {
  readonly any?: boolean;
  readonly maxStaleness?: number;
  readonly minIndex?: number;
}

/** --any, --max-staleness and --min-index: where a read may be answered. */
function addReadOptions(command: Command): Command {
  return command
    .option(
      '--any',
      'let any member (a backup or the primary) answer, from a state at most --max-staleness old (default: the primary answers)',
    )
    .option(
      '--max-staleness <ms>',
      `with --any: how old the state read may be, in milliseconds (default ${READ_MAX_STALENESS_MS_DEFAULT})`,
      integerIn(0, MAX_STALENESS_MS_MAX),
    )
    .option(
      '--min-index <n>',
      'with --any: the log index the answering member must have applied (a write prints its index)',
      integerIn(0, Number.MAX_SAFE_INTEGER),
    );
}

/** The read options the flags ask for; a bound without --any is a usage error. */
function readOptionsOf(flags: ReadFlags, command: Command): ReadOptions {
  if (!flags.any) {
    const bound =
      flags.maxStaleness !== undefined
        ? '--max-staleness'
        : flags.minIndex !== undefined
          ? '--min-index'
          : null;
    if (bound !== null) {
      command.error(`error: ${bound} applies to reads at any member: add --any`, {
        exitCode: exitCode.usage,
        code: 'understudy.usage',
      });
    }
    return {};
  }
  return {
    read: 'any',
    ...(flags.maxStaleness === undefined ? {} : { maxStalenessMs: flags.maxStaleness }),
    ...(flags.minIndex === undefined ? {} : { minIndex: flags.minIndex }),
  };
}

/** A request id argument: `<clientId>#<requestNumber>`. */
function requestIdArgument(text: string): string {
  try {
    parseRequestId(text);
  } catch (error) {
    if (error instanceof ConfigError) throw new InvalidArgumentError(`${error.message}.`);
    throw error;
  }
  return text;
}

const durabilityOf = (flags: WriteFlags): { durability: Durability } => ({
  durability: flags.durability ?? (flags.async === true ? 'async' : 'sync'),
});

/** A write's `--ttl`: the key it writes expires that long after it. */
const writeTtlOption = (): Option =>
  new Option(
    '--ttl <ms>',
    "delete KEY this many milliseconds after the write (by the primary's clock; default: never)",
  ).argParser(integerIn(1, Number.MAX_SAFE_INTEGER));

export function addClientCommands(program: Command): void {
  addClientOptions(
    program
      .command('put')
      .description('set KEY to VALUE')
      .argument('<key>', 'the key (UTF-8)')
      .argument('<value>', 'the value (UTF-8)')
      .addOption(writeTtlOption()),
    { write: true },
  ).action((key: string, value: string, flags: WriteFlags & { readonly ttl?: number }) =>
    withClient(flags, async (client) => {
      if (flags.ttl !== undefined) {
        const reply = await client.set(key, value, { ...durabilityOf(flags), ttlMs: flags.ttl });
        if (flags.json) printJson({ key, value, ttlMs: flags.ttl, ...reply });
        else printLine(`written, expires in ${flags.ttl} ms ${describeWrite(reply)}`);
        return;
      }
      const reply = await client.put(key, value, durabilityOf(flags));
      if (flags.json) printJson({ key, value, ...reply });
      else printLine(`${reply.existed ? 'replaced' : 'created'} ${describeWrite(reply)}`);
    }),
  );

  addClientOptions(
    program
      .command('expire')
      .description('delete KEY MS milliseconds from now (0: at once); exit 1 if it is absent')
      .argument('<key>', 'the key (UTF-8)')
      .addArgument(new Argument('<ms>', 'milliseconds').argParser(integerIn(0, Number.MAX_SAFE_INTEGER))),
    { write: true },
  ).action((key: string, ms: number, flags: WriteFlags) =>
    withClient(flags, async (client) => {
      const reply = await client.expire(key, ms, durabilityOf(flags));
      if (flags.json) printJson({ key, ttlMs: ms, ...reply });
      else printLine(`${reply.updated ? `expires in ${ms} ms` : 'not found'} ${describeWrite(reply)}`);
      if (!reply.updated) process.exitCode = exitCode.failed;
    }),
  );

  addClientOptions(
    program
      .command('persist')
      .description('remove the time to live of KEY')
      .argument('<key>', 'the key (UTF-8)'),
    { write: true },
  ).action((key: string, flags: WriteFlags) =>
    withClient(flags, async (client) => {
      const reply = await client.persist(key, durabilityOf(flags));
      if (flags.json) printJson({ key, ...reply });
      else printLine(`${reply.removed ? 'expiry removed' : 'no expiry to remove'} ${describeWrite(reply)}`);
    }),
  );

  addClientOptions(
    program
      .command('ttl')
      .description(
        'print how many milliseconds KEY has left, or "no expiry"; exit 1 if it is absent (with --json: exit 0)',
      )
      .argument('<key>', 'the key (UTF-8)'),
  ).action((key: string, flags: ClientFlags) =>
    withClient(flags, async (client) => {
      const ttl = await client.ttl(key);
      if (flags.json) printJson({ key, ...ttl });
      else if (!ttl.exists) {
        process.stderr.write(`key not found: ${key}\n`);
        process.exitCode = exitCode.failed;
      } else printLine(ttl.remainingMs === null ? 'no expiry' : String(ttl.remainingMs));
    }),
  );

  addClientOptions(
    addReadOptions(
      program
        .command('get')
        .description('print the value of KEY; exit 1 if it is absent (with --json: value null, exit 0)')
        .argument('<key>', 'the key (UTF-8)'),
    ),
  ).action((key: string, flags: ReadFlags, command: Command) => {
    const options = readOptionsOf(flags, command); // a usage error before anything connects
    return withClient(flags, async (client) => {
      const value = await client.getText(key, options);
      if (flags.json) printJson({ key, value });
      else printValue(key, value);
    });
  });

  addClientOptions(
    addReadOptions(
      program
        .command('keys')
        .description(
          'print every key that matches PATTERN (a glob: * ? [a-z] [^a] \\x; default *), one a line, walking them with SCAN a page at a time (keys added or deleted meanwhile may or may not show); with --any, a backup may answer each page',
        )
        .argument('[pattern]', 'the glob the keys must match', '*')
        .option('--count <n>', 'keys each SCAN call looks at', integerIn(1, 100_000), 1000),
    ),
  ).action((pattern: string, flags: ReadFlags & { readonly count: number }, command: Command) => {
    const options = readOptionsOf(flags, command); // a usage error before anything connects
    return withClient(flags, async (client) => {
      const keys: string[] = [];
      for await (const key of client.scanKeys({ ...options, match: pattern, count: flags.count })) {
        const text = Buffer.from(key).toString('utf8');
        if (flags.json) keys.push(text);
        else printLine(text);
      }
      if (flags.json) printJson({ pattern, keys });
    });
  });

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
      .command('rename')
      .description(
        'move the value of KEY, and its time to live, to NEWKEY, replacing what NEWKEY held, in one step; ' +
          'with --nx only if NEWKEY is absent (exit 1 if it is not)',
      )
      .argument('<key>', 'the key (UTF-8); absent: refused NO_SUCH_KEY')
      .argument('<newkey>', 'the key it moves to (UTF-8)')
      .option('--nx', 'only if NEWKEY is absent (Redis RENAMENX)'),
    { write: true },
  ).action((key: string, newKey: string, flags: WriteFlags & { readonly nx?: boolean }) =>
    withClient(flags, async (client) => {
      const reply = await client.rename(key, newKey, {
        ...durabilityOf(flags),
        onlyIfAbsent: flags.nx === true,
      });
      if (flags.json) printJson({ key, newKey, ...reply });
      else
        printLine(`${reply.renamed ? 'renamed' : 'not renamed: the new key exists'} ${describeWrite(reply)}`);
      if (!reply.renamed) process.exitCode = exitCode.failed;
    }),
  );

  addClientOptions(
    program
      .command('getdel')
      .description(
        'print the value of KEY and delete it, in one step; exit 1 if it is absent (with --json: value null, exit 0)',
      )
      .argument('<key>', 'the key (UTF-8)'),
    { write: true },
  ).action((key: string, flags: WriteFlags) =>
    withClient(flags, async (client) => {
      const reply = await client.getDelete(key, durabilityOf(flags));
      const value = textOrNull(reply.value);
      if (flags.json) printJson({ key, ...reply, value });
      else printValue(key, value);
    }),
  );

  addClientOptions(
    program
      .command('getset')
      .description(
        'set KEY to VALUE and print the value it held before, in one step; "(none)" on stderr if it held none',
      )
      .argument('<key>', 'the key (UTF-8)')
      .argument('<value>', 'the value (UTF-8)')
      .addOption(writeTtlOption()),
    { write: true },
  ).action((key: string, value: string, flags: WriteFlags & { readonly ttl?: number }) =>
    withClient(flags, async (client) => {
      const ttl = flags.ttl === undefined ? {} : { ttlMs: flags.ttl };
      const reply = await client.getSet(key, value, { ...durabilityOf(flags), ...ttl });
      const previous = textOrNull(reply.previous);
      if (flags.json) printJson({ key, value, ...ttl, ...reply, previous });
      else if (previous !== null) printLine(previous);
      else process.stderr.write('(none)\n');
    }),
  );

  addClientOptions(
    program
      .command('getex')
      .description(
        'print the value of KEY and, in the same step, give it a time to live (--ttl) or remove its own (--persist); exit 1 if it is absent',
      )
      .argument('<key>', 'the key (UTF-8)')
      .option(
        '--ttl <ms>',
        'KEY expires this many milliseconds from now',
        integerIn(0, Number.MAX_SAFE_INTEGER),
      )
      .option('--persist', 'KEY no longer expires'),
    { write: true },
  ).action(
    (
      key: string,
      flags: WriteFlags & { readonly ttl?: number; readonly persist?: boolean },
      command: Command,
    ) => {
      if ((flags.ttl === undefined) === (flags.persist !== true)) {
        command.error('error: getex needs exactly one of --ttl MS and --persist', {
          exitCode: exitCode.usage,
          code: 'understudy.usage',
        });
      }
      const expiry = flags.ttl === undefined ? { persist: true } : { ttlMs: flags.ttl };
      return withClient(flags, async (client) => {
        const reply = await client.getExpire(key, { ...durabilityOf(flags), ...expiry });
        const value = textOrNull(reply.value);
        if (flags.json) printJson({ key, ...expiry, ...reply, value });
        else printValue(key, value);
      });
    },
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
    program
      .command('request-status')
      .summary('tell whether a write ran (cancelling it if it has not)')
      .description(
        'Tell what became of the write ID (as a write whose outcome is unknown prints it: CLIENT#NUMBER): ' +
          '"executed" with its result (exit 0); or, exit 1: "refused" by the service, "cancelled" (it had ' +
          'not run; asking cancelled it, so it never will), "forgotten" (its session moved on: it will never ' +
          'run now, but whether it ran is not known) or "expired" (its session is gone: whether it ran can ' +
          'no longer be learned).',
      )
      .addArgument(new Argument('<id>', 'the request id, CLIENT#NUMBER').argParser(requestIdArgument)),
  ).action((requestId: string, flags: ClientFlags) =>
    withClient(flags, async (client) => {
      const status = await client.requestStatus(requestId);
      if (flags.json) printJson({ requestId, ...jsonOfStatus(status) });
      else printLine(describeStatus(status));
      if (status.state !== 'executed') process.exitCode = exitCode.failed;
    }),
  );

  addClientOptions(
    program
      .command('switchover')
      .summary('hand the primary role to a backup (planned, no write lost)')
      .description(
        "Hand the primary role to backup ID of the current view: the primary's lease is not renewed, and " +
          'once it ran out ID leads a new view and the old primary rejoins as a learner. Writes pause for ' +
          'about a lease (0.4-0.5 s at the defaults); clients resend them to the new primary, none runs ' +
          'twice. Exit 0 once ID leads a view it acknowledged; 1 if the coordinator refused (ID not a backup, ' +
          'not alive, a commit quorum below the backups, another switchover under way) or gave up, with why.',
      )
      .requiredOption('--to <id>', 'the backup to become the primary'),
  ).action((flags: ClientFlags & { readonly to: string }) =>
    withClient(flags, async (client) => {
      const reply = await client.switchover(flags.to);
      if (flags.json) printJson({ ok: reply.ok, message: reply.message, view: reply.view });
      else printLine(reply.ok ? `switchover done: ${reply.message}` : `switchover refused: ${reply.message}`);
      if (!reply.ok) process.exitCode = exitCode.failed;
    }),
  );

  addClientOptions(
    program
      .command('forget')
      .summary('have the coordinator forget a replica taken out of service for good')
      .description(
        'Drop what the coordinator knows of replica ID, stopped for good (its machine replaced, the ' +
          'cluster made smaller): it leaves `understudy status`, the dashboard and the metrics, and no ' +
          'longer holds the format level down. ID must be out of the view (the coordinator takes a replica ' +
          'it stops hearing out within the failure timeout) and silent for a failure timeout. If it runs ' +
          'again it is heard as new and rejoins as a learner. Exit 0 once forgotten; 1 if the coordinator ' +
          'refused (a member of the view, still heard, not known), with why.',
      )
      .argument('<id>', 'the replica to forget', nonEmpty('the replica id')),
  ).action((id: string, flags: ClientFlags) =>
    withClient(flags, async (client) => {
      const reply = await client.forget(id);
      if (flags.json) printJson({ ok: reply.ok, message: reply.message });
      else printLine(reply.ok ? reply.message : `forget refused: ${reply.message}`);
      if (!reply.ok) process.exitCode = exitCode.failed;
    }),
  );

  addClientOptions(
    program.command('status').description('print the view and the state of each replica'),
  ).action((flags: ClientFlags) =>
    withClient(flags, async (client) => {
      const status = await client.status();
      if (flags.json) printJson(statusDocument(status));
      else printLine(formatStatus(status));
    }),
  );
}

/** What a key/value result says, as the write command that got it would print it. */
function describeResult(result: KvResult): string {
  switch (result.kind) {
    case 'get':
      return textOrNull(result.value) ?? 'absent';
    case 'put':
      return result.existed ? 'replaced' : 'created';
    case 'delete':
      return result.existed ? 'deleted' : 'not found';
    case 'append':
    case 'set-range':
      return `length ${result.length}`;
    case 'cas': {
      const current = textOrNull(result.current);
      if (result.swapped) return 'swapped';
      return `not swapped: ${current === null ? 'key is absent' : `current=${current}`}`;
    }
    case 'incr':
      return String(result.value);
    case 'incr-float':
      return textOrNull(result.value) ?? '';
    case 'get-many':
      return result.values.map((value) => textOrNull(value) ?? 'absent').join(', ');
    case 'lengths':
      return result.lengths.map((length) => (length === null ? 'absent' : `length ${length}`)).join(', ');
    case 'put-if':
    case 'put-many-if-absent':
      return result.written ? 'written' : 'not written';
    case 'put-many':
      return 'written';
    case 'delete-many':
    case 'clear':
      return `deleted ${result.count}`;
    case 'expect':
      return 'as expected';
    case 'set':
      return result.written ? 'written' : 'not written';
    case 'expire':
      return result.updated ? 'expiry set' : 'expiry not set';
    case 'persist':
      return result.removed ? 'expiry removed' : 'no expiry';
    case 'ttl':
      if (!result.exists) return 'absent';
      return result.remainingMs === null ? 'no expiry' : `expires in ${result.remainingMs} ms`;
    case 'get-delete':
    case 'get-expire':
      return `was ${textOrNull(result.value) ?? 'absent'}`;
    case 'get-set':
      return `${result.written ? 'written' : 'not written'}, was ${textOrNull(result.previous) ?? 'absent'}`;
    case 'rename':
      return result.renamed ? 'renamed' : 'not renamed';
    case 'copy':
      return result.copied ? 'copied' : 'not copied';
    case 'count':
      return `${result.count} keys`;
    case 'get-range':
      return textOrNull(result.value) ?? '';
    case 'scan':
      return `${result.keys.length} keys, cursor ${result.cursor}`;
  }
}

/** A key/value result for JSON: byte values as UTF-8 text. */
function jsonOfResult(result: KvResult): object {
  switch (result.kind) {
    case 'get':
      return { ...result, value: textOrNull(result.value) };
    case 'cas':
      return { ...result, current: textOrNull(result.current) };
    case 'get-many':
      return { ...result, values: result.values.map(textOrNull) };
    case 'get-delete':
    case 'get-expire':
    case 'incr-float':
      return { ...result, value: textOrNull(result.value) };
    case 'get-set':
      return { ...result, previous: textOrNull(result.previous) };
    case 'scan':
      return { ...result, keys: result.keys.map(textOrNull) };
    default:
      return result;
  }
}

function describeStatus(status: KvRequestStatus): string {
  switch (status.state) {
    case 'executed': {
      const where = `executed at index ${status.index} (answered in view ${status.view})`;
      if (status.outcomes !== null) {
        const each = status.outcomes.map((outcome) =>
          outcome.ok
            ? `${outcome.result.kind} ${describeResult(outcome.result)}`
            : `${outcome.code}: ${outcome.message}`,
        );
        return `${where}: a sequence of ${status.outcomes.length}: ${each.join('; ')}`;
      }
      if (status.result === null) {
        const bytes = Buffer.from(status.resultBytes).toString('base64');
        return `${where}: a result of ${status.resultBytes.length} bytes that is not a key/value result (base64 ${bytes})`;
      }
      return `${where}: ${status.result.kind} ${describeResult(status.result)}`;
    }
    case 'refused':
      return `refused: ${status.code}: ${status.message}`;
    case 'cancelled':
      return 'cancelled: it had not run; asking cancelled it, so it never will';
    case 'forgotten':
      return 'forgotten: its session moved on; it will never run now, but whether it ran is not known';
    case 'expired':
      return 'expired: its session is gone; whether it ran can no longer be learned';
  }
}

function jsonOfStatus(status: KvRequestStatus): object {
  if (status.state !== 'executed') return status;
  const { result, outcomes, resultBytes, ...where } = status;
  if (outcomes !== null) {
    return {
      ...where,
      outcomes: outcomes.map((outcome) =>
        outcome.ok ? { ok: true, result: jsonOfResult(outcome.result) } : outcome,
      ),
    };
  }
  return result === null
    ? { ...where, result: null, resultBase64: Buffer.from(resultBytes).toString('base64') }
    : { ...where, result: jsonOfResult(result) };
}

/**
 * The view, then one row per replica. BEHIND is how many entries a member's disk is behind the
 * primary's: every backup acknowledges every entry before it commits, so a slow but live backup
 * sets the commit pace, and this is where it shows. Problems (why a replica does not count as alive,
 * why the coordinator does not act) follow the table.
 */
function formatStatus({
  view,
  replicas,
  problem,
  asyncLost,
  promotionsWithoutHolders,
  formatLevel,
  service,
}: StatusReply): string {
  const list = (ids: readonly string[]) => (ids.length === 0 ? '-' : ids.join(','));
  const runs = service === null ? '' : `  service ${service.name} v${service.version}`;
  const heading =
    view === null
      ? `no view yet${runs}`
      : `view ${view.number}  primary ${view.primary}  backups ${list(view.backups)}  learners ${list(view.learners)}${runs}`;
  const primaryDurable = replicas.find((replica) => replica.id === view?.primary)?.durableIndex;
  const behind = (replica: StatusReply['replicas'][number]): string =>
    primaryDurable === undefined || replica.role === 'none'
      ? '-'
      : String(Math.max(0, primaryDurable - replica.durableIndex));
  // Where a Redis client dials each replica, once any serves a Redis port (`--resp`).
  const redis = replicas.some((replica) => replica.redisAddress !== null);
  const rows = [
    [
      'ID',
      'ADDRESS',
      ...(redis ? ['REDIS'] : []),
      'ROLE',
      'ALIVE',
      'DURABLE',
      'BEHIND',
      'APPLIED',
      'COMMIT',
      'SNAPSHOT',
      'SESSIONS',
    ],
    ...replicas.map((replica) => [
      replica.id,
      replica.address,
      ...(redis ? [replica.redisAddress ?? '-'] : []),
      replica.role,
      replica.alive ? 'yes' : 'no',
      String(replica.durableIndex),
      behind(replica),
      String(replica.appliedIndex),
      String(replica.commitIndex),
      replica.snapshotIndex === 0 ? '-' : String(replica.snapshotIndex),
      String(replica.sessions),
    ]),
  ];
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  const table = rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd(),
  );
  const transfers = replicas.flatMap((replica: ReplicaStatus) =>
    replica.transfer === null ? [] : [`${replica.id}  ${formatTransfer(replica.transfer)}`],
  );
  // Said only while it matters: half way through a rolling upgrade (OPERATIONS, "Upgrading").
  const upgrading =
    formatLevel < FORMAT_LEVEL || replicas.some((replica) => replica.formatLevel !== formatLevel)
      ? [
          `format level ${formatLevel} (${replicas.map((replica) => `${replica.id} reads ${replica.formatLevel}`).join(', ')})`,
        ]
      : [];
  const problems = [
    ...upgrading,
    ...(problem === null ? [] : [`coordinator: ${problem}`]),
    ...replicas.flatMap((replica) => (replica.problem === null ? [] : [`${replica.id}: ${replica.problem}`])),
  ];
  const losses = [
    ...(asyncLost > 0 ? [`async writes lost in failovers: ${asyncLost}`] : []),
    ...(promotionsWithoutHolders > 0
      ? [
          `primaries chosen among restarted replicas, none that held every replicated write being alive (replicated writes not yet committed may have been lost): ${promotionsWithoutHolders}`,
        ]
      : []),
  ];
  return [heading, ...table, ...transfers, ...problems, ...losses].join('\n');
}
