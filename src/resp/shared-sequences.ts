// The key/value commands that different connections hand over while others are under way go to the
// primary together at the end of the turn of the event loop, as one sequence of the store: one
// request and one log entry for all of them, where each took its own. An application behind a pool of connections, each sending one
// command at a time (a web server's usual shape), then costs the cluster what one connection's
// pipeline costs (pipeline.ts), without pipelining.
//
// Why it keeps every promise:
// - Commands of different connections are concurrent: each was sent before any of them is answered,
//   so one order of them is as right as another, and the sequence is one.
// - A connection's own order holds: it hands over its next commands only once the last were
//   answered (server.ts), so at most one of its submissions waits here.
// - Each command still gets its own outcome: a refusal of one (an INCR of a word) leaves the others
//   run. A failure of the sequence as a whole (UNAVAILABLE, OUTCOME_UNKNOWN) answers each of its
//   commands with that error: they all ran or none did, as for one connection's pipeline.
// - A sequence runs its first operation whatever its results' size, and the operations past its
//   bound answer NOT_RUN. A submission cut within answers what ran (the connection sends the rest
//   again, as its own pipeline's); one cut before its first operation is sent again in the next
//   sequence, at the front. The first submission of each sequence always makes progress.
//
// Reads and writes are shared apart: a sequence of reads only is a read (no log entry), and a write's
// sequence then begins with a write, as one connection's does (pipeline.ts, `joins`). Only commands
// answered at the primary are shared; a READONLY connection's reads, with their own bound, are not.
// A submission that finds nothing of its kind under way (no sequence sent and unanswered, none
// waiting) goes at once, as it came (one command alone as that operation): a lone connection waits
// for no one and sees no change. Those that come while something is under way wait for the end of
// the turn and go together; a turn with one of them sends it as it came too.

import type { Client, SequenceResult } from '../client/index.js';
import { ErrorCode, RequestRefusedError } from '../errors.js';
import { isReadOnlySequence, type KvOperation, type KvOutcome } from '../state-machine/index.js';
import { pipelineSequenceBytesMax, pipelineSequenceCommandsMax } from './limits.js';

/** What of the client the port's commands use. */
export type SequenceClient = Pick<Client, 'execute' | 'sequence'>;

interface Submission {
  readonly operations: readonly KvOperation[];
  /** The argument bytes of its commands, for the sequence's bound. */
  readonly bytes: number;
  readonly resolve: (result: SequenceResult) => void;
  readonly reject: (error: unknown) => void;
}

/** Submissions of one kind (reads, or writes) waiting for the end of the turn, and those sent. */
class Waiting {
  readonly submissions: Submission[] = [];
  /** Sequences (or commands alone) of this kind sent and not yet answered. */
  inFlight = 0;
}

/** One client's submissions, reads and writes apart. */
class ClientQueue {
  readonly reads = new Waiting();
  readonly writes = new Waiting();
  scheduled = false;

  constructor(readonly client: SequenceClient) {}
}

/** Shares sequences between the connections of one port; one per port, for every client of it. */
export class SharedSequences {
  readonly #queues = new WeakMap<SequenceClient, ClientQueue>();

  /** `onShared`: called for each sequence sent with the commands of more than one connection. */
  constructor(private readonly onShared: () => void = () => {}) {}

  /**
   * Runs `operations` (one connection's next commands, in order) at the primary, together with those
   * other connections hand over in this turn: their outcomes in order, and for a write where it
   * stands. Answers the outcomes up to and past a NOT_RUN as the sequence gave them.
   */
  run(client: SequenceClient, operations: readonly KvOperation[], bytes: number): Promise<SequenceResult> {
    let queue = this.#queues.get(client);
    if (queue === undefined) {
      queue = new ClientQueue(client);
      this.#queues.set(client, queue);
    }
    const waiting = isReadOnlySequence(operations) ? queue.reads : queue.writes;
    if (waiting.inFlight === 0 && waiting.submissions.length === 0) {
      // Nothing of its kind under way: no one to wait for, and waiting for the end of the turn would
      // cost a lone connection a turn of the event loop on every command. Those that come while it
      // is under way share the next sequences.
      waiting.inFlight += 1;
      return runAlone(queue.client, operations).finally(() => {
        waiting.inFlight -= 1;
      });
    }
    return new Promise<SequenceResult>((resolve, reject) => {
      waiting.submissions.push({ operations, bytes, resolve, reject });
      this.#schedule(queue);
    });
  }

  #schedule(queue: ClientQueue): void {
    if (queue.scheduled) return;
    queue.scheduled = true;
    // After the connections whose bytes came in this turn handed theirs over (each in its own
    // callback and microtasks), before the next turn reads more.
    setImmediate(() => {
      queue.scheduled = false;
      for (const waiting of [queue.reads, queue.writes]) {
        const taken = waiting.submissions.splice(0);
        for (const group of groups(taken)) this.#send(queue, waiting, group);
      }
    });
  }

  #send(queue: ClientQueue, waiting: Waiting, group: readonly Submission[]): void {
    waiting.inFlight += 1;
    const answered = (): void => {
      waiting.inFlight -= 1;
    };
    const [only] = group;
    if (only !== undefined && group.length === 1) {
      runAlone(queue.client, only.operations).finally(answered).then(only.resolve, only.reject);
      return;
    }
    this.onShared();
    const operations = group.flatMap((submission) => submission.operations);
    queue.client
      .sequence(operations)
      .finally(answered)
      .then(
        ({ outcomes, write }) => {
          let at = 0;
          const again: Submission[] = [];
          group.forEach((submission, position) => {
            const own = outcomes.slice(at, at + submission.operations.length);
            at += submission.operations.length;
            if (position > 0 && notRun(own[0])) again.push(submission);
            else
              submission.resolve({
                outcomes: own,
                write: isReadOnlySequence(submission.operations) ? null : write,
              });
          });
          if (again.length === 0) return;
          waiting.submissions.unshift(...again);
          this.#schedule(queue);
        },
        (error: unknown) => {
          for (const submission of group) submission.reject(error);
        },
      );
  }
}

/** `taken` in order, cut into groups within a sequence's bounds (a submission is never split). */
function groups(taken: readonly Submission[]): Submission[][] {
  const all: Submission[][] = [];
  let current: Submission[] = [];
  let commands = 0;
  let bytes = 0;
  for (const submission of taken) {
    const count = submission.operations.length;
    if (
      current.length > 0 &&
      (commands + count > pipelineSequenceCommandsMax || bytes + submission.bytes > pipelineSequenceBytesMax)
    ) {
      all.push(current);
      current = [];
      commands = 0;
      bytes = 0;
    }
    current.push(submission);
    commands += count;
    bytes += submission.bytes;
  }
  if (current.length > 0) all.push(current);
  return all;
}

const notRun = (outcome: KvOutcome | undefined): boolean =>
  outcome !== undefined && !outcome.ok && outcome.code === ErrorCode.notRun;

/**
 * One connection's commands as they came: one alone as its own operation (a refusal by the store
 * becomes its outcome), several as one sequence. With `read`, reads go where it says.
 */
export async function runAlone(
  client: SequenceClient,
  operations: readonly KvOperation[],
  read?: Parameters<Client['execute']>[1],
): Promise<SequenceResult> {
  const [operation] = operations;
  if (operation === undefined || operations.length > 1) return client.sequence(operations, read);
  try {
    const { result, write } = await client.execute(operation, read);
    return { outcomes: [{ ok: true, result }], write };
  } catch (error) {
    if (!(error instanceof RequestRefusedError)) throw error;
    return { outcomes: [{ ok: false, code: error.code, message: error.message }], write: null };
  }
}
