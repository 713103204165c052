// How planned key/value commands reach the cluster: one alone as its own operation, several read
// together from a connection (a pipeline) as one sequence (state-machine/kv-sequence.ts). Redis runs
// a connection's commands one after another; a sequence runs them in the same order, each seeing the
// ones before it, in one round trip to the primary and one log entry, where one at a time took a
// round trip and an entry each. Each sequence is atomic as well, which Redis's pipeline is not: a
// promise stronger than Redis's, never a weaker one. What a connection hands over for the primary
// may share its sequence with other connections' (shared-sequences.ts).
//
// A sequence of reads only is a read, answered where the connection's reads are (the primary, or on
// a READONLY connection this replica within the port's bound, after the connection's own writes).
// With a write in it, it is a write at the primary with sync durability, as each write command is.
// If the sequence fails as a whole (UNAVAILABLE, OUTCOME_UNKNOWN), every command in it is answered
// with that error: all of them ran or none did. The commands after one the sequence did not run
// (NOT_RUN) go back to the connection's queue, and run as the next sequence.

import type { ReadOptions, WriteMetadata } from '../client/index.js';
import { ErrorCode, RequestRefusedError } from '../errors.js';
import { isReadOnly, isReadOnlySequence, type KvOperation, type KvOutcome } from '../state-machine/index.js';
import { isPlan, type KvPlan, type Planned } from './command-table.js';
import type { CommandContext } from './context.js';
import { errorReply, refusalReply } from './errors.js';
import { type RespReply, reply } from './replies.js';
import { runAlone } from './shared-sequences.js';
import { noteWatchedReads } from './watch.js';

/**
 * Whether `next` may join the sequence of `run`. A run that begins with reads ends before its first
 * write: those reads go as one read, and a write's sequence starts with a write, so the results kept
 * in its log entry are a write's and what the reads after it answer, within the store's bound for
 * them (writeSequenceResultBytesMax), never a large first read's (an MGET answers up to 8 MiB, and
 * a log entry holds 4).
 */
export function joins(run: readonly Planned[], next: Planned): boolean {
  if (!isPlan(next) || isReadOnly(next.operation)) return true;
  const firstPlan = run.find(isPlan);
  return firstPlan === undefined || !isReadOnly(firstPlan.operation);
}

/** Runs one planned command; `bytes`, its arguments' size. */
export async function runPlanned(
  planned: Planned,
  context: CommandContext,
  bytes: number,
): Promise<RespReply> {
  if (!isPlan(planned)) return planned;
  const [outcome] = await outcomesOf([planned], context, bytes);
  if (outcome === undefined) throw new Error('a command was answered no outcome');
  return replyOf(planned, outcome);
}

/**
 * Runs one operation on its own, never in a sequence with other commands (SCAN and KEYS: they read
 * the store's keys, not what a sequence's parts before them changed), where this connection's reads go.
 */
export async function runOnItsOwn(operation: KvOperation, context: CommandContext): Promise<KvOutcome> {
  const client = await context.backend.client(context.connection.token);
  const { outcomes } = await runAlone(client, [operation], readOptions(context));
  const [outcome] = outcomes;
  if (outcome === undefined) throw new Error('an operation was answered no outcome');
  return outcome;
}

/**
 * Runs planned commands in order as one sequence (`bytes`: their arguments' size); answers the
 * replies of the commands it ran, from the first, in order (the ones planned as error replies keep
 * their place): all of them, or those before the first operation the sequence did not run (NOT_RUN:
 * its results reached their bound), which the caller runs again next, so a connection never holds
 * more than one sequence's answers. A failure of the sequence as a whole (UNAVAILABLE,
 * OUTCOME_UNKNOWN) answers each of its commands: all of them ran or none did.
 */
export async function runPipelined(
  planned: readonly Planned[],
  context: CommandContext,
  bytes: number,
): Promise<RespReply[]> {
  const plans = planned.filter(isPlan);
  let answers: RespReply[];
  try {
    answers = await answersOf(plans, context, bytes);
  } catch (error) {
    const mapped = errorReply(error);
    if (mapped === null) throw error;
    answers = plans.map(() => mapped);
  }
  const replies: RespReply[] = [];
  let answered = 0;
  for (const one of planned) {
    if (!isPlan(one)) replies.push(one);
    else if (answered < answers.length) replies.push(answers[answered++] as RespReply);
    else break;
  }
  return replies;
}

/** The replies to `plans` run as one sequence, up to the first it did not run. */
async function answersOf(
  plans: readonly KvPlan[],
  context: CommandContext,
  bytes: number,
): Promise<RespReply[]> {
  if (plans.length === 0) return [];
  const ran = await outcomesOf(plans, context, bytes);
  const notRun = ran.findIndex((outcome) => !outcome.ok && outcome.code === ErrorCode.notRun);
  // The store runs a sequence's first operation whatever its result's size; a server that did not
  // would be asked the same again and again, so its NOT_RUN is then the answer.
  const count = notRun <= 0 ? ran.length : notRun;
  return ran.slice(0, count).map((outcome, at) => replyOf(plans[at] as KvPlan, outcome));
}

/**
 * Runs a transaction's commands (MULTI ... EXEC) as one whole sequence at the primary, behind `guard`
 * (WATCH's expect) if there is one: its replies in order (the ones planned as error replies in their
 * place); nil if the guard did not hold (nothing ran); or, if it failed or was refused as a whole
 * (nothing ran), that error alone, for EXEC to answer.
 */
export async function runTransaction(
  planned: readonly Planned[],
  context: CommandContext,
  guard: KvOperation | null,
): Promise<RespReply[] | RespReply> {
  const plans = planned.filter(isPlan);
  const operations = plans.map((plan) => plan.operation);
  try {
    const client = await context.backend.client(context.connection.token);
    const { outcomes, write } = await client.sequence(guard === null ? operations : [guard, ...operations], {
      whole: true,
    });
    if (write !== null) noteWrite(context, write);
    let at = guard === null ? 0 : 1;
    return planned.map((one) => (isPlan(one) ? replyOf(one, outcomes[at++] as KvOutcome) : one));
  } catch (error) {
    if (guard !== null && error instanceof RequestRefusedError && error.code === ErrorCode.valueChanged) {
      return reply.array(null);
    }
    const mapped = errorReply(error);
    if (mapped === null) throw error;
    return mapped;
  }
}

/**
 * The outcomes of `plans` run in order as one operation (one alone) or sequence: at the primary
 * shared with other connections' commands of this turn (shared-sequences.ts), or, for a READONLY
 * connection's reads, at its replica on their own.
 */
async function outcomesOf(
  plans: readonly KvPlan[],
  context: CommandContext,
  bytes: number,
): Promise<readonly KvOutcome[]> {
  const client = await context.backend.client(context.connection.token);
  const operations = plans.map((plan) => plan.operation);
  const read = isReadOnlySequence(operations) ? readOptions(context) : undefined;
  const { outcomes, write } =
    read === undefined
      ? await context.sharing.run(client, operations, bytes)
      : await runAlone(client, operations, read);
  if (write !== null) noteWrite(context, write);
  noteWatchedReads(context.connection, operations, outcomes);
  return outcomes;
}

function replyOf(plan: KvPlan, outcome: KvOutcome): RespReply {
  return outcome.ok ? plan.reply(outcome.result) : refusalReply(outcome.code, outcome.message);
}

/**
 * Where this connection's reads go: the primary, or this replica when it is READONLY and watches no
 * key (watch.ts: a watched value must never be read staler than the one WATCH saw).
 */
function readOptions(context: CommandContext): ReadOptions | undefined {
  const { connection, backend } = context;
  return connection.readOnly && connection.watched.size === 0
    ? backend.replicaReadOptions(connection.lastWriteIndex)
    : undefined;
}

/** Notes, for WAIT and the connection's later reads, where its last write stands. */
function noteWrite(context: CommandContext, write: WriteMetadata): void {
  const { connection } = context;
  connection.lastWriteBackups = Math.max(0, write.replicas.length - 1);
  connection.lastWriteIndex = Math.max(connection.lastWriteIndex, write.index);
}
