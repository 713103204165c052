// The chaos workload's saver (src/chaos/snapshot-saver.ts) against a client that writes real saved
// snapshot files: a completed save goes into the history as a read of every register key over the
// call's interval, with what the file holds; a failed one records nothing and is counted; old files
// go; and the checker then holds a save to the promise (every write acknowledged before it, nothing
// begun after it).

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { SAVE_FILES_KEPT, SnapshotSaver } from '../../src/chaos/snapshot-saver.js';
import { checkLinearizable, HistoryRecorder, pairOperations } from '../../src/check/index.js';
import type { SavedSnapshotSummary } from '../../src/client/index.js';
import { UnavailableError } from '../../src/errors.js';
import { AsyncLossRecord } from '../../src/protocol/async-loss.js';
import { SessionTable } from '../../src/protocol/sessions.js';
import { encodeSnapshotPayload } from '../../src/protocol/snapshot-payload.js';
import { logIndex, viewNumber } from '../../src/protocol/types.js';
import { Random } from '../../src/sim/random.js';
import { encodeOperation, KeyValueStore, kvOperation } from '../../src/state-machine/index.js';
import { SavedSnapshotWriter } from '../../src/storage/saved-snapshot.js';
import { encodeSnapshotFile, recordedChecksum } from '../../src/storage/snapshot-file.js';

const encoder = new TextEncoder();
const position = { view: viewNumber(2), index: logIndex(40) };
const service = { name: 'understudy-kv', version: 1 };

/** Writes `file` as a save does, holding a store with `values`. */
async function writeSaved(file: string, values: Readonly<Record<string, string>>): Promise<void> {
  const store = new KeyValueStore();
  for (const [key, value] of Object.entries(values)) {
    store.apply(
      store.execute(encodeOperation(kvOperation.put(encoder.encode(key), encoder.encode(value)))).update,
    );
  }
  const payload = encodeSnapshotPayload({
    state: store.snapshot(),
    sessions: new SessionTable(),
    loss: new AsyncLossRecord(),
    epochs: [],
  });
  const snapshotFile = encodeSnapshotFile(position, payload);
  const writer = new SavedSnapshotWriter(file);
  await writer.begin({ service, replica: 'r1', savedAt: '2026-12-05T00:00:00.000Z' });
  await writer.write(snapshotFile);
  await writer.finish({
    position,
    sizeBytes: snapshotFile.length,
    checksum: recordedChecksum(snapshotFile),
  });
}

/** What `saveSnapshot` answers for `file`, saved from `replica`. */
function summaryOf(file: string, replica: string): SavedSnapshotSummary {
  return {
    file,
    index: position.index,
    view: position.view,
    bytes: 0,
    service,
    replica,
    savedAt: '2026-12-05T00:00:00.000Z',
  };
}

interface Harness {
  readonly saver: SnapshotSaver;
  readonly recorder: HistoryRecorder;
  readonly directory: string;
  /** The time the saver's clock reads; each save moves it on (to `endAt` if given). */
  readonly clock: { now: number };
}

/**
 * A saver whose client runs `save(file)` for each save and then moves the clock on: the saver's
 * invoke is at the time before the call, its completion at the time after.
 */
function withSaver(
  options: {
    readonly keys: readonly string[];
    readonly save: (file: string) => Promise<void>;
    readonly endAt?: () => number;
    readonly keepFiles?: boolean;
    readonly recorder?: HistoryRecorder;
  },
  body: (harness: Harness) => Promise<void>,
): Promise<void> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'understudy-saver-'));
  const recorder = options.recorder ?? new HistoryRecorder();
  const clock = { now: 0 };
  const saver = new SnapshotSaver({
    client: {
      saveSnapshot: async (file: string): Promise<SavedSnapshotSummary> => {
        await options.save(file);
        clock.now = options.endAt?.() ?? clock.now + 100;
        return summaryOf(file, 'r1');
      },
    },
    directory,
    keepFiles: options.keepFiles === true,
    process: 7,
    random: new Random(1),
    recorder,
    clock: () => clock.now,
    registerKeys: () => options.keys,
  });
  return body({ saver, recorder, directory, clock }).finally(() =>
    fs.rmSync(directory, { recursive: true, force: true }),
  );
}

test('a completed save is a read of every register key over the call, with what the file holds (null if absent)', () =>
  withSaver(
    {
      keys: ['r0.0', 'r1.0', 'r0.1'],
      save: (file) => writeSaved(file, { 'r0.0': '1000001000', 'r0.1': 'p3-wé', 'a0.0': 'p1-1;' }),
      endAt: () => 250,
    },
    async (harness) => {
      harness.clock.now = 120;
      await harness.saver.saveOnce();
      const operations = pairOperations(harness.recorder.events());
      assert.deepEqual(
        operations.map(({ process, f, key, output, call, ret, status }) => ({
          process,
          f,
          key,
          output,
          call,
          ret,
          status,
        })),
        [
          { process: 7, f: 'read', key: 'r0.0', output: '1000001000', call: 120, ret: 250, status: 'ok' },
          { process: 7, f: 'read', key: 'r1.0', output: null, call: 120, ret: 250, status: 'ok' },
          { process: 7, f: 'read', key: 'r0.1', output: 'p3-wé', call: 120, ret: 250, status: 'ok' },
        ],
      );
      assert.deepEqual(harness.saver.counts, {
        asked: 1,
        completed: 1,
        failed: 0,
        reads: 3,
        firstFailure: null,
        healed: null,
      });
    },
  ));

test('a save that throws records nothing and is counted, with the first failure named; the next save records', () => {
  let failures = ['the primary changed', 'no snapshot saved within the deadline'];
  return withSaver(
    {
      keys: ['r0.0'],
      save: async (file) => {
        const message = failures[0];
        if (message !== undefined) {
          failures = failures.slice(1);
          throw new UnavailableError(message);
        }
        await writeSaved(file, { 'r0.0': 'v' });
      },
    },
    async (harness) => {
      assert.equal(await harness.saver.saveOnce(), 'UNAVAILABLE: the primary changed');
      assert.equal(await harness.saver.saveOnce(), 'UNAVAILABLE: no snapshot saved within the deadline');
      assert.deepEqual(harness.recorder.events(), []);
      assert.equal(await harness.saver.saveOnce(), null);
      assert.deepEqual(
        pairOperations(harness.recorder.events()).map(({ key, output }) => [key, output]),
        [['r0.0', 'v']],
      );
      const { counts } = harness.saver;
      assert.deepEqual([counts.asked, counts.completed, counts.failed, counts.reads], [3, 1, 2, 1]);
      assert.match(counts.firstFailure ?? '', /^UNAVAILABLE: the primary changed$/);
      assert.deepEqual(harness.saver.unreadable, []);
    },
  );
});

test('a file saved but unreadable is a failed save that records nothing, and a problem of the run', () =>
  withSaver(
    { keys: ['r0.0'], save: async (file) => fs.writeFileSync(file, 'not a saved snapshot') },
    async (harness) => {
      await harness.saver.saveOnce();
      assert.deepEqual(harness.recorder.events(), []);
      assert.equal(harness.saver.counts.failed, 1);
      assert.equal(harness.saver.unreadable.length, 1);
      assert.match(harness.saver.unreadable[0] ?? '', /save-1\.snap was saved but does not read back/);
    },
  ));

test(`only the last ${SAVE_FILES_KEPT} save files stay on disk, unless the run keeps its directory`, async () => {
  for (const keepFiles of [false, true]) {
    await withSaver(
      { keys: ['r0.0'], save: (file) => writeSaved(file, { 'r0.0': 'v' }), keepFiles },
      async (harness) => {
        for (let save = 0; save < 4; save++) await harness.saver.saveOnce();
        assert.deepEqual(
          fs.readdirSync(harness.directory).sort(),
          keepFiles
            ? ['save-1.snap', 'save-2.snap', 'save-3.snap', 'save-4.snap']
            : ['save-3.snap', 'save-4.snap'],
        );
        assert.equal(harness.saver.counts.completed, 4);
      },
    );
  }
});

/**
 * A history of one write of "w" to r0.0 over [writeCall, writeReturn] by process 0, and a save over
 * [100, 200] whose file holds `saved` for r0.0: the checker's verdict on r0.0.
 */
async function verdict(
  write: { readonly call: number; readonly ret: number },
  saved: Readonly<Record<string, string>>,
): Promise<string> {
  const recorder = new HistoryRecorder();
  const handle = recorder.invoke(0, 'write', 'r0.0', 'w', write.call);
  recorder.ok(handle, 'w', write.ret);
  let result = '';
  await withSaver(
    { keys: ['r0.0'], save: (file) => writeSaved(file, saved), endAt: () => 200, recorder },
    async (harness) => {
      harness.clock.now = 100;
      await harness.saver.saveOnce();
      result = checkLinearizable(pairOperations(recorder.events())).result;
    },
  );
  return result;
}

test('the checker holds a save to its promise: every write acknowledged before it, none begun after it', async () => {
  assert.equal(await verdict({ call: 10, ret: 20 }, { 'r0.0': 'w' }), 'linearizable');
  assert.equal(await verdict({ call: 10, ret: 20 }, {}), 'not-linearizable', 'acknowledged before, missing');
  assert.equal(
    await verdict({ call: 300, ret: 310 }, { 'r0.0': 'w' }),
    'not-linearizable',
    'begun after, in it',
  );
  assert.equal(await verdict({ call: 150, ret: 310 }, { 'r0.0': 'w' }), 'linearizable', 'concurrent: in it');
  assert.equal(await verdict({ call: 150, ret: 310 }, {}), 'linearizable', 'concurrent: not in it');
});

test("a save through another client (the run's check once the cluster healed) records as the saver's own", () =>
  withSaver(
    {
      keys: ['r0.0'],
      save: async () => {
        throw new UnavailableError('the saver client is closed');
      },
    },
    async (harness) => {
      const other = {
        saveSnapshot: async (file: string): Promise<SavedSnapshotSummary> => {
          await writeSaved(file, { 'r0.0': 'healed' });
          return summaryOf(file, 'r2');
        },
      };
      assert.equal(await harness.saver.saveOnce(other), null);
      assert.deepEqual(
        pairOperations(harness.recorder.events()).map(({ key, output }) => [key, output]),
        [['r0.0', 'healed']],
      );
      assert.match((await harness.saver.saveOnce()) ?? '', /the saver client is closed/);
    },
  ));
