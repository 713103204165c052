// The chaos workload's Redis client against a scripted server on 127.0.0.1: every RESP2 reply type,
// replies split anywhere across TCP chunks, an error reply as a value (not a rejection), and every
// way a reply may fail to come (a closed connection, a timeout) as a RedisConnectionError.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { RedisConnectionError, RedisPortClient, RedisReplyError } from '../../src/chaos/redis-port-client.js';

/** Each command's reply, as the bytes the server writes, one byte at a time when `dribble`. */
type Script = (command: string, socket: Socket) => void;

let server: Server;
let address = '';
let script: Script = () => {};
const commandsSeen: string[] = [];

before(async () => {
  server = createServer((socket) => {
    socket.on('data', (chunk: Buffer) => {
      const command = chunk.toString('utf8');
      commandsSeen.push(command);
      script(command, socket);
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const bound = server.address();
  assert.ok(typeof bound === 'object' && bound !== null);
  address = `127.0.0.1:${bound.port}`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Writes `bytes` one byte per TCP write, each on a later turn. */
async function dribble(socket: Socket, bytes: string): Promise<void> {
  for (const byte of Buffer.from(bytes)) {
    socket.write(Buffer.from([byte]));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test('each reply type, whole or split byte by byte, and the command sent as a RESP array', async () => {
  const replies: Record<string, string> = {
    PING: '+PONG\r\n',
    INCR: ':42\r\n',
    GET: '$5\r\nhello\r\n',
    MISSING: '$-1\r\n',
    EMPTY: '$0\r\n\r\n',
    MGET: '*3\r\n$1\r\na\r\n$-1\r\n*1\r\n:7\r\n',
    BAD: '-ERR value is not an integer or out of range\r\n',
  };
  const client = await RedisPortClient.connect(address, 2000);
  for (const split of [false, true]) {
    script = (command, socket) => {
      const name = command.split('\r\n')[2] ?? '';
      const reply = replies[name] ?? '-ERR unknown\r\n';
      if (split) void dribble(socket, reply);
      else socket.write(reply);
    };
    assert.equal(await client.command(['PING'], 2000), 'PONG');
    assert.equal(await client.command(['INCR', 'k'], 2000), 42);
    assert.deepEqual(await client.command(['GET', 'k'], 2000), Buffer.from('hello'));
    assert.equal(await client.command(['MISSING'], 2000), null);
    assert.deepEqual(await client.command(['EMPTY'], 2000), Buffer.alloc(0));
    assert.deepEqual(await client.command(['MGET', 'a', 'b', 'c'], 2000), [Buffer.from('a'), null, [7]]);
    const error = await client.command(['BAD'], 2000);
    assert.ok(error instanceof RedisReplyError);
    assert.equal(error.message, 'ERR value is not an integer or out of range');
  }
  commandsSeen.length = 0;
  await client.command(['SET', 'key', Buffer.from('v\r\nw')], 2000);
  assert.equal(
    commandsSeen[0],
    '*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$4\r\nv\r\nw\r\n',
    'binary-safe bulk strings',
  );
  client.close();
});

test('no reply: a closed connection or a timeout rejects, and the client stays failed', async () => {
  script = (_command, socket) => socket.destroy();
  const closing = await RedisPortClient.connect(address, 2000);
  await assert.rejects(closing.command(['GET', 'k'], 2000), RedisConnectionError);
  await assert.rejects(
    closing.command(['GET', 'k'], 2000),
    RedisConnectionError,
    'a failed client sends nothing more',
  );

  script = () => {};
  const silent = await RedisPortClient.connect(address, 2000);
  await assert.rejects(silent.command(['GET', 'k'], 100), /no reply within 100 ms/);
  await assert.rejects(silent.command(['GET', 'k'], 2000), RedisConnectionError);
});

test('one call at a time, and a reply nobody asked for ends the connection', async () => {
  script = () => {};
  const client = await RedisPortClient.connect(address, 2000);
  const first = client.command(['GET', 'k'], 500);
  await assert.rejects(client.command(['GET', 'j'], 500), /one call at a time/);
  await assert.rejects(first, RedisConnectionError);

  script = (_command, socket) => socket.write('+OK\r\n+EXTRA\r\n');
  const chatty = await RedisPortClient.connect(address, 2000);
  assert.equal(await chatty.command(['SET', 'k', 'v'], 2000), 'OK');
  await assert.rejects(chatty.command(['GET', 'k'], 2000), /a reply nobody asked for/);
});

test("with onPush, replies nobody asked for (a subscriber's messages) go to it, and a close is told once", async () => {
  script = (_command, socket) =>
    void dribble(
      socket,
      '*3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:1\r\n*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$6\r\n+sdown\r\n$4\r\nbody\r\n',
    ).then(() => socket.end());
  const subscriber = await RedisPortClient.connect(address, 2000);
  const pushed: unknown[] = [];
  let closed = 0;
  subscriber.onPush = (message) => pushed.push(message);
  subscriber.onClosed = () => {
    closed += 1;
  };
  const confirmation = await subscriber.command(['PSUBSCRIBE', '*'], 2000);
  assert.deepEqual(confirmation, [Buffer.from('psubscribe'), Buffer.from('*'), 1]);
  const deadline = Date.now() + 5_000;
  while (closed === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(pushed, [
    [Buffer.from('pmessage'), Buffer.from('*'), Buffer.from('+sdown'), Buffer.from('body')],
  ]);
  assert.equal(closed, 1);
  subscriber.close();
  assert.equal(closed, 1, 'told once');
});

test('a port that does not listen is a connection error', async () => {
  const closed = createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const bound = closed.address();
  assert.ok(typeof bound === 'object' && bound !== null);
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  await assert.rejects(RedisPortClient.connect(`127.0.0.1:${bound.port}`, 2000), RedisConnectionError);
});

test('a pipeline is one write of its commands; its replies come in order, split anywhere, and one missing fails it', async () => {
  script = (_command, socket) => void dribble(socket, ':1\r\n$2\r\nhi\r\n-ERR no\r\n');
  const client = await RedisPortClient.connect(address, 2000);
  commandsSeen.length = 0;
  const replies = await client.pipeline(
    [
      ['INCR', 'n'],
      ['GET', 'k'],
      ['INCR', 'w'],
    ],
    2000,
  );
  assert.deepEqual(replies.slice(0, 2), [1, Buffer.from('hi')]);
  assert.ok(replies[2] instanceof RedisReplyError && replies[2].message === 'ERR no');
  assert.deepEqual(commandsSeen, [
    '*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$4\r\nINCR\r\n$1\r\nw\r\n',
  ]);
  client.close();

  script = (_command, socket) => {
    socket.write('+OK\r\n');
    socket.destroy();
  };
  const cut = await RedisPortClient.connect(address, 2000);
  await assert.rejects(
    cut.pipeline(
      [
        ['SET', 'a', '1'],
        ['SET', 'b', '2'],
      ],
      2000,
    ),
    RedisConnectionError,
  );
});
