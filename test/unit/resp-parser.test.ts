// The Redis-protocol parser on its own: both command forms, any split of the stream into chunks,
// Redis's protocol errors for malformed input, and every size refused from its header, before the
// bytes it announces arrive (so nothing is allocated for them).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { argumentsMax, bulkBytesMax, commandBytesMax, inlineBytesMax } from '../../src/resp/limits.js';
import { RespParser, splitInline } from '../../src/resp/parser.js';

const texts = (commands: readonly Buffer[][]): string[][] =>
  commands.map((command) => command.map((argument) => argument.toString('latin1')));

function parseAll(...chunks: string[]) {
  const parser = new RespParser();
  const commands: Buffer[][] = [];
  let error: string | null = null;
  for (const chunk of chunks) {
    const result = parser.push(Buffer.from(chunk, 'latin1'));
    commands.push(...result.commands);
    error = result.error?.message ?? null;
  }
  return { commands: texts(commands), error };
}

function multibulk(...args: string[]): string {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg, 'latin1')}\r\n${arg}\r\n`).join('')}`;
}

test('multibulk and inline commands, pipelined in one chunk, come out in order', () => {
  const stream = `${multibulk('SET', 'k', 'a\r\nb')}PING\r\nget k\n${multibulk('ECHO', '')}`;
  assert.deepEqual(parseAll(stream), {
    commands: [['SET', 'k', 'a\r\nb'], ['PING'], ['get', 'k'], ['ECHO', '']],
    error: null,
  });
});

test('any split of the stream into chunks gives the same commands', () => {
  const stream = `${multibulk('MSET', 'a', '1', 'b', 'x'.repeat(300))}  set "a b" 'c d'\r\n*0\r\n\r\nPING\r\n${multibulk('ECHO', '', 'e')}`;
  const expected = parseAll(stream);
  assert.deepEqual(expected.commands, [
    ['MSET', 'a', '1', 'b', 'x'.repeat(300)],
    ['set', 'a b', 'c d'],
    ['PING'],
    ['ECHO', '', 'e'],
  ]);
  fc.assert(
    fc.property(fc.array(fc.nat(stream.length), { maxLength: 12, size: 'max' }), (cuts) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const chunks = [0, ...points].map((start, at) => stream.slice(start, points[at] ?? stream.length));
      assert.deepEqual(parseAll(...chunks), expected);
    }),
  );
});

test('inline arguments follow redis-server: quotes, escapes, and unbalanced quotes refused', () => {
  const split = (line: string) =>
    splitInline(Buffer.from(line, 'latin1')).map((arg) => arg.toString('latin1'));
  assert.deepEqual(split('  set  key\t"v\\x41\\n\\"q\\"" '), ['set', 'key', 'vA\n"q"']);
  assert.deepEqual(split("echo 'it\\'s' \"\""), ['echo', "it's", '']);
  assert.deepEqual(split(''), []);
  // Every byte C's isspace takes separates arguments, carriage return and vertical tab among them.
  assert.deepEqual(split('a\rb\vc\fd'), ['a', 'b', 'c', 'd']);
  // \x needs two hex digits; without them it is the letter x, as in redis-server.
  assert.deepEqual(split('"\\xZZ" "\\x4" "\\xZ4"'), ['xZZ', 'x4', 'xZ4']);
  // Only a backslash escapes, only \x takes hex, and single quotes know one escape alone: \'.
  assert.deepEqual(split('"ax41" "\\n41"'), ['ax41', '\n41']);
  assert.deepEqual(split("'\\x41' 'a\\nb' 'a\\bc' 'it\\'s'"), ['\\x41', 'a\\nb', 'a\\bc', "it's"]);
  for (const bad of ['set "open', 'set "closed"x', "echo 'a"]) {
    assert.throws(() => split(bad), /Protocol error: unbalanced quotes in request/, bad);
  }
});

test('malformed multibulk input gets the protocol error Redis gives, after the commands before it', () => {
  const cases: [string, string][] = [
    ['*x\r\n', 'Protocol error: invalid multibulk length'],
    ['*1\r\n:3\r\n', "Protocol error: expected '$', got ':'"],
    ['*1\r\n \r\n', "Protocol error: expected '$', got ' '"],
    ['*1\r\n~\r\n', "Protocol error: expected '$', got '~'"],
    ['*1\r\n\x7f\r\n', "Protocol error: expected '$', got '\\x7f'"],
    ['*1\r\n\x1f\r\n', "Protocol error: expected '$', got '\\x1f'"],
    ['*1\r\n$-5\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$3x\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$3\r\nabcde', 'Protocol error: a bulk string does not end with CRLF'],
    ['*1\r\n$3\r\nabc\rx', 'Protocol error: a bulk string does not end with CRLF'],
    ['*1\r\n$3\r\nabcx\n', 'Protocol error: a bulk string does not end with CRLF'],
  ];
  for (const [input, message] of cases) {
    assert.deepEqual(parseAll(`PING\r\n${input}PING\r\n`), { commands: [['PING']], error: message }, input);
  }
});

test('sizes beyond the limits are refused from the header alone', () => {
  // Nothing of the announced bytes follows: the refusal cannot have waited for them.
  assert.equal(parseAll('*99999999999\r\n').error, 'Protocol error: invalid multibulk length');
  assert.equal(parseAll(`*${argumentsMax + 1}\r\n`).error, 'Protocol error: invalid multibulk length');
  assert.equal(parseAll(`*1\r\n$${bulkBytesMax + 1}\r\n`).error, 'Protocol error: invalid bulk length');
  assert.equal(parseAll(`*1\r\n$${bulkBytesMax}\r\n`).error, null, 'the limit itself is allowed');
  const longLine = 'x'.repeat(inlineBytesMax + 10);
  assert.equal(parseAll(longLine).error, 'Protocol error: too big inline request');
  assert.equal(
    parseAll(`*${'1'.repeat(inlineBytesMax + 10)}`).error,
    'Protocol error: too big mbulk count string',
  );
});

test('after a protocol error the parser stays failed and reads nothing more', () => {
  const parser = new RespParser();
  assert.notEqual(parser.push(Buffer.from('*1\r\n$x\r\n')).error, null);
  const later = parser.push(Buffer.from('PING\r\n'));
  assert.deepEqual(later.commands, []);
  assert.match(later.error?.message ?? '', /invalid bulk length/);
});

test('regression (issue 10 fuzz test): a NUL after an inline argument ends the line instead of looping forever', () => {
  const words = (line: string) =>
    splitInline(Buffer.from(line, 'latin1')).map((arg) => arg.toString('latin1'));
  assert.deepEqual(words('get\u0000\u00f8\r\b'), ['get']);
  assert.deepEqual(words('\u0000anything'), []);
  assert.deepEqual(words('set k\u0000 v'), ['set', 'k']);
});

test('each limit itself is allowed: the arguments, a whole command, an inline line', () => {
  assert.equal(parseAll(`*${argumentsMax}\r\n`).error, null);
  // A command's arguments together: three of the largest bulk strings fill it, one byte more is refused
  // from its header alone.
  const largest = `$${bulkBytesMax}\r\n${'x'.repeat(bulkBytesMax)}\r\n`;
  assert.equal(3 * bulkBytesMax, commandBytesMax);
  const full = parseAll(`*4\r\n${largest}${largest}${largest}$0\r\n\r\n`);
  assert.deepEqual([full.error, full.commands.length, full.commands[0]?.length], [null, 1, 4]);
  assert.equal(
    parseAll(`*4\r\n${largest}${largest}${largest}$1\r\n`).error,
    `Protocol error: command larger than ${commandBytesMax} bytes`,
  );
  // An inline line of exactly the limit waits for its end, and is read once it comes.
  const parser = new RespParser();
  const line = `echo ${'y'.repeat(inlineBytesMax - 5)}`;
  assert.deepEqual(parser.push(Buffer.from(line, 'latin1')), { commands: [], error: null });
  const { commands, error } = parser.push(Buffer.from('\r\n'));
  assert.equal(error, null);
  assert.deepEqual(texts(commands), [['echo', 'y'.repeat(inlineBytesMax - 5)]]);
  assert.equal(parseAll(`${line}y\r\n`).error, 'Protocol error: too big inline request');
});
