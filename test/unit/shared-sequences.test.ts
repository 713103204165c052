// The Redis port's shared sequences (src/resp/shared-sequences.ts): what several connections hand
// over in one turn of the event loop goes to the primary as one sequence, each connection answered
// its own outcomes, over a real key/value store behind a stand-in client that records each call.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SequenceResult } from '../../src/client/index.js';
import { ErrorCode, OutcomeUnknownError } from '../../src/errors.js';
import { pipelineSequenceBytesMax, pipelineSequenceCommandsMax } from '../../src/resp/limits.js';
import { SharedSequences } from '../../src/resp/shared-sequences.js';
import { type KvLimits, kvLimitsDefault, kvOperation } from '../../src/state-machine/index.js';
import { storeClient } from './store-client.js';

const put = (key: string, value: string) => kvOperation.put(Buffer.from(key), Buffer.from(value));
const get = (key: string) => kvOperation.get(Buffer.from(key));
const incr = (key: string) => kvOperation.incr(Buffer.from(key));

/** What each outcome says, briefly: a result's value or number, or the refusal's code. */
function brief(result: SequenceResult): string[] {
  return result.outcomes.map((outcome) => {
    if (!outcome.ok) return outcome.code;
    const answer = outcome.result;
    if (answer.kind === 'get') return answer.value === null ? 'null' : Buffer.from(answer.value).toString();
    if (answer.kind === 'incr') return String(answer.value);
    return answer.kind;
  });
}

describe('shared sequences', () => {
  test('what connections hand over in one turn is one sequence, in order; each gets its own outcomes', async () => {
    const { client, calls } = storeClient();
    let shared = 0;
    const sharing = new SharedSequences(() => {
      shared += 1;
    });
    // The first goes at once: nothing was under way. The rest come while it is, in one turn.
    const lead = sharing.run(client, [put('lead', '0')], 9);
    const answers = await Promise.all([
      sharing.run(client, [put('n', 'word'), incr('n')], 10),
      sharing.run(client, [incr('c')], 5),
      sharing.run(client, [incr('c'), put('m', 'x'), get('m')], 12),
      sharing.run(client, [incr('c')], 5),
    ]);
    assert.deepEqual(answers.map(brief), [['put', ErrorCode.notAnInteger], ['1'], ['2', 'put', 'x'], ['3']]);
    assert.deepEqual(calls, [
      { method: 'execute', kinds: ['put'], read: null },
      { method: 'sequence', kinds: ['put', 'incr', 'incr', 'incr', 'put', 'get', 'incr'], read: null },
    ]);
    assert.equal(shared, 1);
    assert.equal((await lead).write?.index, 41);
    // One log entry for all: each write answered with where it stands.
    for (const answer of answers) assert.equal(answer.write?.index, 42);
  });

  test('a submission that finds nothing under way goes at once as it came: one command as itself, a pipeline as its own sequence', async () => {
    const { client, calls } = storeClient();
    const sharing = new SharedSequences();
    const alone = sharing.run(client, [put('k', 'v')], 3);
    assert.equal(calls.length, 1, 'sent at once, not at the end of the turn');
    assert.deepEqual(brief(await alone), ['put']);
    assert.deepEqual(brief(await sharing.run(client, [get('k'), get('j')], 3)), ['v', 'null']);
    // A refusal of a command alone is its outcome, as in a sequence.
    const refused = await sharing.run(client, [incr('k')], 3);
    assert.deepEqual(brief(refused), [ErrorCode.notAnInteger]);
    assert.equal(refused.write, null);
    assert.deepEqual(calls, [
      { method: 'execute', kinds: ['put'], read: null },
      { method: 'sequence', kinds: ['get', 'get'], read: undefined },
      { method: 'execute', kinds: ['incr'], read: null },
    ]);
  });

  test('reads and writes of one turn go apart: the reads as a read, the writes as a write', async () => {
    const { client, calls } = storeClient();
    const sharing = new SharedSequences();
    await sharing.run(client, [put('a', '1')], 3);
    // A read and a write go at once (nothing of their kind under way); the rest wait for the turn's end.
    const answers = await Promise.all([
      sharing.run(client, [get('a')], 3),
      sharing.run(client, [put('a', '2'), get('a')], 3),
      sharing.run(client, [get('a'), get('b')], 3),
      sharing.run(client, [put('b', '3'), get('b')], 3),
      sharing.run(client, [get('b')], 3),
      sharing.run(client, [incr('c')], 3),
    ]);
    assert.deepEqual(answers.map(brief), [['1'], ['put', '2'], ['2', 'null'], ['put', '3'], ['null'], ['1']]);
    assert.deepEqual(
      answers.map((answer) => answer.write === null),
      [true, false, true, false, true, false],
    );
    assert.deepEqual(calls.slice(1), [
      { method: 'execute', kinds: ['get'], read: undefined },
      { method: 'sequence', kinds: ['put', 'get'], read: null },
      { method: 'sequence', kinds: ['get', 'get', 'get'], read: undefined },
      { method: 'sequence', kinds: ['put', 'get', 'incr'], read: null },
    ]);
  });

  test('a submission the sequence cut before its first command goes again, first; one cut within answers what ran', async () => {
    // Results of at most 40 bytes a sequence: a GET of a 20-byte value answers 23.
    const limits: KvLimits = {
      ...kvLimitsDefault,
      valueSizeMaxBytes: 30,
      readBytesMax: 40,
      writeSequenceResultBytesMax: 40,
    };
    const { client, calls } = storeClient(limits);
    const sharing = new SharedSequences();
    const twenty = 'a'.repeat(20);
    await sharing.run(client, [put('x', twenty)], 23);
    const lead = sharing.run(client, [get('x')], 3);
    const answers = await Promise.all([
      sharing.run(client, [get('x')], 3),
      sharing.run(client, [get('x'), get('x')], 6),
      sharing.run(client, [get('x')], 3),
    ]);
    assert.deepEqual(brief(await lead), [twenty]);
    assert.deepEqual(answers.map(brief), [[twenty], [twenty, ErrorCode.notRun], [twenty]]);
    assert.deepEqual(
      calls.slice(2).map((call) => call.kinds.length),
      // Four gets: the first answered, the rest cut; the second submission, first now, runs its first
      // get (its second is NOT_RUN, for its connection to send again), and the third is cut again.
      [4, 3, 1],
    );
  });

  test("connections of different clients (the port's tokens) never share a sequence", async () => {
    const first = storeClient();
    const second = storeClient();
    const sharing = new SharedSequences();
    const leads = [
      sharing.run(first.client, [put('a', '1')], 3),
      sharing.run(second.client, [put('b', '1')], 3),
    ];
    await Promise.all([
      ...leads,
      sharing.run(first.client, [incr('a')], 3),
      sharing.run(second.client, [incr('b')], 3),
      sharing.run(first.client, [put('c', 'x')], 3),
      sharing.run(second.client, [put('d', 'y')], 3),
    ]);
    assert.deepEqual(
      first.calls.map((call) => call.kinds),
      [['put'], ['incr', 'put']],
    );
    assert.deepEqual(
      second.calls.map((call) => call.kinds),
      [['put'], ['incr', 'put']],
    );
    assert.equal(first.store.entryCount, 2, 'a and c only');
    assert.equal(second.store.entryCount, 2, 'b and d only');
  });

  test('a sequence that fails as a whole fails every submission in it with that error', async () => {
    const { client, failNextWith } = storeClient();
    const sharing = new SharedSequences();
    const lead = sharing.run(client, [put('lead', '0')], 3);
    failNextWith(new OutcomeUnknownError('port', 7, 'no answer in time'));
    const answers = await Promise.allSettled([
      sharing.run(client, [put('a', '1')], 3),
      sharing.run(client, [incr('b')], 3),
    ]);
    for (const answer of answers) {
      assert.equal(answer.status, 'rejected');
      assert.ok(answer.reason instanceof OutcomeUnknownError);
    }
    assert.deepEqual(brief(await lead), ['put']);
    // The next turn is not held by it.
    assert.deepEqual(brief(await sharing.run(client, [incr('b')], 3)), ['1']);
  });

  test('a submission that comes once nothing is in flight, while others wait for the end of the turn, goes after them', async () => {
    const { client, calls } = storeClient();
    const sharing = new SharedSequences();
    const lead = sharing.run(client, [put('lead', '0')], 3);
    const waiting = sharing.run(client, [incr('q')], 3);
    // The lead is answered within this turn; the one waiting is sent at its end.
    await lead;
    const later = sharing.run(client, [incr('q')], 3);
    assert.deepEqual([brief(await waiting), brief(await later)], [['1'], ['2']]);
    assert.deepEqual(
      calls.map((call) => call.kinds),
      [['put'], ['incr', 'incr']],
    );
  });

  test('a later submission whose first command is refused is answered its refusal, and sent once', async () => {
    const { client, calls } = storeClient();
    const sharing = new SharedSequences();
    const lead = sharing.run(client, [put('lead', '0')], 3);
    const answers = await Promise.all([
      sharing.run(client, [put('w', 'word')], 3),
      sharing.run(client, [incr('w')], 3),
    ]);
    assert.deepEqual(answers.map(brief), [['put'], [ErrorCode.notAnInteger]]);
    assert.deepEqual(brief(await lead), ['put']);
    assert.deepEqual(
      calls.map((call) => call.kinds),
      [['put'], ['put', 'incr']],
    );
  });

  test("submissions share a sequence up to exactly a pipeline's bound of bytes; one larger than it goes alone", async () => {
    const { client, calls } = storeClient();
    let shared = 0;
    const sharing = new SharedSequences(() => {
      shared += 1;
    });
    const lead = sharing.run(client, [put('lead', '0')], 3);
    await Promise.all([
      sharing.run(client, [incr('a')], pipelineSequenceBytesMax - 10),
      sharing.run(client, [incr('b')], 10),
      sharing.run(client, [incr('c')], 1),
    ]);
    await lead;
    assert.deepEqual(
      calls.map((call) => call.kinds),
      [['put'], ['incr', 'incr'], ['incr']],
    );
    assert.equal(shared, 1);
    // Larger than the bound alone, first in its turn: its own sequence, and no empty one before it.
    const again = sharing.run(client, [put('lead', '1')], 3);
    await Promise.all([
      sharing.run(client, [incr('huge')], pipelineSequenceBytesMax + 5),
      sharing.run(client, [incr('after')], 1),
    ]);
    await again;
    assert.deepEqual(
      calls.slice(3).map((call) => [call.method, call.kinds]),
      [
        ['execute', ['put']],
        ['execute', ['incr']],
        ['execute', ['incr']],
      ],
    );
    assert.equal(shared, 1);
  });

  test("a sequence stays within a pipeline's bound of commands: more in a turn go as several", async () => {
    const { client, calls } = storeClient();
    const sharing = new SharedSequences();
    // One more than the bound and ten: the first goes at once, the rest in the turn's sequences.
    const count = pipelineSequenceCommandsMax + 11;
    const answers = await Promise.all(
      Array.from({ length: count }, () => sharing.run(client, [incr('many')], 7)),
    );
    const values = answers.flatMap(brief).map(Number);
    assert.deepEqual(
      [...values].sort((a, b) => a - b),
      Array.from({ length: count }, (_, at) => at + 1),
      'every increment ran once',
    );
    assert.deepEqual(
      calls.map((call) => call.kinds.length),
      [1, pipelineSequenceCommandsMax, 10],
    );
  });
});
