// A process that did not run (src/node/stall-watch.ts): a gap between two firings of the tick timer
// of at least the threshold is one stall, logged once as a warning with how long the process stood
// still, counted, and the longest kept; ordinary late firings are not. The clock is the test's.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/node/logger.js';
import { diskStallCause, STALL_MESSAGE, StallWatch } from '../../src/node/stall-watch.js';

function capturedLogger(): { logger: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), lines };
}

test('a timer that fires the threshold late or later is a stall: warned once, counted, the longest kept', () => {
  // Every 10 ms, a stall at 150 ms late: firings 149 ms apart are 139 ms late, 160 ms apart 150.
  const { logger, lines } = capturedLogger();
  let now = 1_000;
  const watch = new StallWatch(logger, 10, 150, () => now);
  for (const step of [10, 12, 40, 149]) {
    now += step;
    watch.tick();
  }
  assert.equal(watch.count, 0, 'firings up to 139 ms late are not stalls');
  assert.equal(lines.length, 0);

  now += 610; // 600 ms in which nothing ran, then the 10 ms tick
  watch.tick();
  now += 10;
  watch.tick();
  now += 160;
  watch.tick();
  assert.equal(watch.count, 2);
  assert.equal(watch.longestMs, 600);
  assert.deepEqual(
    lines.map((line) => [line.level, line.message, line.stalledMs, line.stalls]),
    [
      ['warn', STALL_MESSAGE, 600, 1],
      ['warn', STALL_MESSAGE, 150, 2],
    ],
  );
});

test('a stall its owner can explain names the cause; the owner is asked at every firing, stalled or not', () => {
  const { logger, lines } = capturedLogger();
  let now = 1_000;
  const asked: number[] = [];
  let diskWaitMs = 0;
  const watch = new StallWatch(
    logger,
    10,
    150,
    () => now,
    (stalledMs) => {
      asked.push(stalledMs);
      const waited = diskWaitMs;
      diskWaitMs = 0; // what it measured starts again at each firing
      return waited >= stalledMs / 2 ? { cause: `the disk held it ${waited} ms` } : null;
    },
  );
  diskWaitMs = 90; // a slow write before an ordinary firing: no stall, nothing to blame it on
  now += 100;
  watch.tick();
  now += 410; // 400 ms late, 380 of them in a disk call
  diskWaitMs = 380;
  watch.tick();
  now += 310; // 300 ms late, the disk not to blame
  diskWaitMs = 20;
  watch.tick();
  assert.deepEqual(asked, [90, 400, 300]);
  assert.deepEqual(
    lines.map((line) => [line.message, line.stalledMs, line.cause]),
    [
      [STALL_MESSAGE, 400, 'the disk held it 380 ms'],
      [STALL_MESSAGE, 300, undefined],
    ],
  );
});

test('a disk call that took half the stall or more is its cause; a shorter one is not', () => {
  assert.deepEqual(diskStallCause(380.4, 400, 'one write of the log'), {
    cause: 'the disk: one write of the log held the event loop 380 ms',
  });
  assert.deepEqual(diskStallCause(200, 400, 'a save'), {
    cause: 'the disk: a save held the event loop 200 ms',
  });
  assert.equal(diskStallCause(199, 400, 'a save'), null);
  assert.equal(diskStallCause(0, 0, 'a save'), null, 'no call, no cause');
});
