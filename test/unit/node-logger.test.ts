// The servers' log (src/node/logger.ts): pino, JSON lines on stderr with the level by name and the
// message under `message`, filtered by level, and written synchronously, so that a process killed
// right after a line (kill -9, process.exit after a fatal error) has written it.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createLogger } from '../../src/node/logger.js';

const loggerModule = fileURLToPath(new URL('../../src/node/logger.js', import.meta.url));

test('one JSON line per call: level by name, ISO time, component, fields, message', () => {
  const lines: string[] = [];
  const logger = createLogger({ destination: { write: (line) => lines.push(line) } }).child({
    component: 'replica r1',
  });
  logger.info({ from: 'r2', index: 7 }, 'receiving a snapshot');
  logger.debug('below the default level');
  assert.equal(lines.length, 1);
  assert.ok(lines[0]?.endsWith('\n'));
  const line: unknown = JSON.parse(lines[0] ?? '');
  assert.ok(typeof line === 'object' && line !== null);
  assert.deepEqual(
    { ...line, time: undefined, pid: undefined, hostname: undefined },
    {
      level: 'info',
      time: undefined,
      pid: undefined,
      hostname: undefined,
      component: 'replica r1',
      from: 'r2',
      index: 7,
      message: 'receiving a snapshot',
    },
  );
  assert.match(String((line as { time: unknown }).time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

test('a level shows its own lines and those more severe; silent shows none', () => {
  const written = (level: 'warn' | 'trace' | 'silent') => {
    const lines: string[] = [];
    const logger = createLogger({ level, destination: { write: (line) => lines.push(line) } });
    logger.trace('t');
    logger.info('i');
    logger.warn('w');
    logger.fatal('f');
    return lines.map((line) => (JSON.parse(line) as { message: string }).message);
  };
  assert.deepEqual(written('warn'), ['w', 'f']);
  assert.deepEqual(written('trace'), ['t', 'i', 'w', 'f']);
  assert.deepEqual(written('silent'), []);
});

test("the default destination is stderr, written synchronously by pino's own stream: no worker thread", () => {
  const logger = createLogger();
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym];
  assert.ok(typeof stream === 'object' && stream !== null);
  assert.deepEqual([(stream as { fd?: unknown }).fd, (stream as { sync?: unknown }).sync], [2, true]);
});

for (const [how, exit] of [
  ['process.exit', 'process.exit(1)'],
  ['SIGKILL', "process.kill(process.pid, 'SIGKILL')"],
] as const) {
  test(`a line written just before ${how} is on stderr`, async () => {
    const script =
      `const { createLogger } = await import(${JSON.stringify(loggerModule)});` +
      `createLogger().fatal({ error: 'disk gone' }, 'writing a snapshot failed; stopping'); ${exit};`;
    const stderr = await new Promise<string>((resolve) => {
      execFile(process.execPath, ['--input-type=module', '-e', script], (_error, _stdout, text) =>
        resolve(text),
      );
    });
    assert.match(
      stderr,
      /^\{"level":"fatal".*"error":"disk gone","message":"writing a snapshot failed; stopping"\}\n$/,
    );
  });
}
