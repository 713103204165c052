// The Redis-protocol port over real TCP on 127.0.0.1, with a stand-in for the cluster: the replies
// of the commands answered without the cluster, the errors of bad commands and of a cluster that
// cannot be reached, replies in command order, QUIT, and malformed input that closes only its own
// connection while the port goes on. (test/integration/resp.test.ts runs a real cluster.)

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Client, ReadOptions } from '../../src/client/index.js';
import { UnavailableError } from '../../src/errors.js';
import { createLogger } from '../../src/node/logger.js';
import { logIndex, replicaId, viewNumber } from '../../src/protocol/types.js';
import type { LocalReplica, RespBackend } from '../../src/resp/index.js';
import { clusterBackend, RespServer } from '../../src/resp/index.js';
import { pipelinedCommandsMax } from '../../src/resp/limits.js';

const local: LocalReplica = {
  id: replicaId('r2'),
  role: 'backup',
  view: {
    number: viewNumber(4),
    primary: replicaId('r1'),
    backups: [replicaId('r2'), replicaId('r3')],
    learners: [],
  },
  lastIndex: logIndex(12),
  durableIndex: logIndex(12),
  commitIndex: logIndex(11),
  appliedIndex: logIndex(11),
};

/** A cluster nobody can reach: every command that needs it fails, after `delayMs`. */
function unreachableBackend(delayMs: number): RespBackend {
  return {
    client: () =>
      new Promise((_, reject) =>
        setTimeout(() => reject(new UnavailableError('no coordinator answered')), delayMs),
      ),
    local: () => local,
    clusterStatus: async () => null,
    replicaReadOptions: () => undefined,
    readOnlyByDefault: false,
    close: async () => {},
  };
}

/**
 * A cluster that answers GET, MGET, EXISTS and SET (each write at log index 40 + its number) and
 * records where each read was asked to go.
 */
function recordingBackend(readOnlyByDefault: boolean) {
  const readsAt: (ReadOptions | undefined)[] = [];
  let writes = 0;
  const metadata = () => ({
    view: 4,
    index: 40 + ++writes,
    durability: 'sync',
    replicas: ['r1', 'r2', 'r3'],
  });
  const client = {
    get: async (_key: Buffer, options?: ReadOptions) => {
      readsAt.push(options);
      return Buffer.from('v');
    },
    getMany: async (keys: readonly Buffer[], options?: ReadOptions) => {
      readsAt.push(options);
      return keys.map(() => null);
    },
    lengths: async (keys: readonly Buffer[], options?: ReadOptions) => {
      readsAt.push(options);
      return keys.map(() => 1);
    },
    put: async () => metadata(),
  };
  const backend: RespBackend = {
    client: async () => client as unknown as Client,
    local: () => local,
    clusterStatus: async () => null,
    replicaReadOptions: (minIndex) => ({
      read: 'any',
      maxStalenessMs: 250,
      minIndex,
      preferMember: 'r2:7002',
    }),
    readOnlyByDefault,
    close: async () => {},
  };
  return { backend, readsAt };
}

interface Exchange {
  readonly text: string;
  readonly closed: boolean;
}

/** Sends `input` on a new connection; resolves once `until` holds for what came back, or the peer closed. */
function exchange(port: number, input: string | Buffer, until: (text: string) => boolean): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no full answer; got ${JSON.stringify(text)}`));
    }, 10_000);
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      if (until(text)) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ text, closed: false });
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    socket.on('error', reject);
    socket.write(input);
  });
}

const lines = (count: number) => (text: string) => text.split('\r\n').length > count;

describe('the Redis port without a cluster', () => {
  let server: RespServer;
  let port: number;

  before(async () => {
    server = await RespServer.start({
      listen: '127.0.0.1:0',
      backend: unreachableBackend(30),
      understudyVersion: 'test',
      logger: createLogger({ level: 'silent' }),
    });
    port = Number(server.address.split(':').pop());
  });

  after(async () => {
    await server.close();
  });

  test('commands about the connection answer as Redis does', async () => {
    const commands = [
      'PING',
      'PING hi',
      'ECHO "a b"',
      'ping a b',
      'frobnicate x "y z"',
      'GET',
      'CLIENT GETNAME',
      'CLIENT SETNAME "bad name"',
      'CLIENT SETNAME worker-1',
      'CLIENT GETNAME',
      'CLIENT ID',
      'CLIENT KILL x',
      'HELLO 3',
      'HELLO two',
      'WAIT 1 0',
      'WAIT 1 -1',
      'WAIT x 0',
      'COMMAND COUNT',
      'COMMAND DOCS',
    ];
    const { text } = await exchange(port, `${commands.join('\r\n')}\r\n`, lines(21));
    assert.deepEqual(text.split('\r\n').slice(0, 21), [
      '+PONG',
      '$2',
      'hi',
      '$3',
      'a b',
      "-ERR wrong number of arguments for 'ping' command",
      "-ERR unknown command 'frobnicate', with args beginning with: 'x' 'y z' ",
      "-ERR wrong number of arguments for 'get' command",
      '$-1',
      '-ERR Client names cannot contain spaces, newlines or special characters.',
      '+OK',
      '$8',
      'worker-1',
      ':1',
      "-ERR unknown subcommand 'KILL'. Try CLIENT HELP.",
      '-NOPROTO unsupported protocol version',
      '-ERR Protocol version is not an integer or out of range',
      ':2', // no write yet: every backup of the view holds everything this connection wrote
      '-ERR timeout is negative',
      '-ERR value is not an integer or out of range',
      ':23',
    ]);
    assert.match(text, /-ERR unknown subcommand 'DOCS'\. Try COMMAND HELP\.\r\n$/);
  });

  test('HELLO 2 answers the RESP2 map as a flat array, and SETNAME names the connection', async () => {
    const { text } = await exchange(port, 'HELLO 2 SETNAME app\r\nCLIENT GETNAME\r\n', (got) =>
      got.endsWith('$3\r\napp\r\n'),
    );
    assert.match(
      text,
      /^\*14\r\n\$6\r\nserver\r\n\$10\r\nunderstudy\r\n\$7\r\nversion\r\n\$5\r\n7\.0\.0\r\n\$5\r\nproto\r\n:2\r\n/,
    );
    assert.match(text, /\$4\r\nrole\r\n\$7\r\nreplica\r\n\$7\r\nmodules\r\n\*0\r\n/);
  });

  test('SET refuses expiry and unknown options, INCRBY a non-integer, before anything is sent', async () => {
    const commands = [
      'SET k v EX 10',
      'SET k v PX 5',
      'SET k v NX XX',
      'SET k v GET',
      'INCRBY k 1.5',
      'DECRBY k 9007199254740993',
      'MSET a 1 b',
    ];
    const { text } = await exchange(port, `${commands.join('\r\n')}\r\n`, lines(7));
    assert.deepEqual(text.split('\r\n').slice(0, 7), [
      '-ERR SET EX is not supported: keys never expire in Understudy',
      '-ERR SET PX is not supported: keys never expire in Understudy',
      '-ERR syntax error',
      '-ERR SET GET is not supported: use GET, then SET',
      '-ERR value is not an integer or out of range',
      '-ERR value is not an integer or out of range',
      "-ERR wrong number of arguments for 'mset' command",
    ]);
  });

  test('INFO reports this replica with Redis field names; an unknown section is empty', async () => {
    const { text } = await exchange(port, 'INFO\r\nINFO nosuch\r\n', (got) => got.endsWith('$0\r\n\r\n'));
    assert.match(text, /# Server\r\nredis_version:7\.0\.0\r\nunderstudy_version:test\r\n/);
    assert.match(text, new RegExp(`tcp_port:${port}\r\n`));
    assert.match(
      text,
      /\r\n\r\n# Replication\r\nrole:slave\r\nunderstudy_role:backup\r\nunderstudy_view:4\r\n/,
    );
    assert.match(text, /slave_repl_offset:12\r\nmaster_repl_offset:12\r\n.*understudy_commit_index:11\r\n/s);
  });

  test('a command the cluster must answer, with no cluster, is UNAVAILABLE, and replies keep command order', async () => {
    const { text, closed } = await exchange(port, 'GET k\r\nPING\r\nSET k v\r\nPING\r\n', lines(4));
    const [get, ping, set, pingAgain] = text.split('\r\n');
    assert.match(get ?? '', /^-UNAVAILABLE no coordinator answered$/);
    assert.equal(ping, '+PONG');
    assert.match(set ?? '', /^-UNAVAILABLE /);
    assert.equal(pingAgain, '+PONG');
    assert.equal(closed, false);
  });

  test('a pipeline longer than the port reads ahead is answered whole, in order', async () => {
    // Three times pipelinedCommandsMax: reading pauses and resumes along the way.
    const count = 3 * pipelinedCommandsMax;
    const input = Array.from({ length: count }, (_, at) => `ECHO ${at}\r\n`).join('');
    const { text } = await exchange(port, input, (got) => got.endsWith(`${count - 1}\r\n`));
    const echoed = text.split('\r\n').filter((_, at) => at % 2 === 1);
    assert.deepEqual(
      echoed.map(Number),
      Array.from({ length: count }, (_, at) => at),
    );
  });

  test('QUIT is answered, then the connection closes and what followed is not run', async () => {
    const { text, closed } = await exchange(port, 'QUIT\r\nPING\r\n', () => false);
    assert.deepEqual([text, closed], ['+OK\r\n', true]);
  });

  test('malformed input gets an error and closes only its own connection', async () => {
    const before = server.counters.protocolErrors;
    const bad: [string | Buffer, RegExp][] = [
      ['*1\r\n$999999999999\r\n', /^-ERR Protocol error: invalid bulk length\r\n$/],
      ['*3000000000\r\n', /^-ERR Protocol error: invalid multibulk length\r\n$/],
      ['PING\r\n*1\r\n+PING\r\n', /^\+PONG\r\n-ERR Protocol error: expected '\$', got '\+'\r\n$/],
      ['set "unbalanced\r\n', /^-ERR Protocol error: unbalanced quotes in request\r\n$/],
      [Buffer.alloc(70_000, 0x61), /^-ERR Protocol error: too big inline request\r\n$/],
      [
        Buffer.from([0x2a, 0x32, 0x0d, 0x0a, 0x24, 0xff, 0x0d, 0x0a]),
        /^-ERR Protocol error: invalid bulk length\r\n$/,
      ],
    ];
    const idle = connect(port, '127.0.0.1'); // a bystander: it must stay connected throughout
    await new Promise((resolve) => idle.once('connect', resolve));
    for (const [input, expected] of bad) {
      const { text, closed } = await exchange(port, input, () => false);
      assert.match(text, expected);
      assert.equal(closed, true);
    }
    assert.equal(server.counters.protocolErrors - before, bad.length);
    const answer = new Promise<string>((resolve) => idle.once('data', (chunk) => resolve(chunk.toString())));
    idle.write('PING\r\n');
    assert.equal(await answer, '+PONG\r\n');
    idle.destroy();
  });
});

describe('READONLY and READWRITE', () => {
  const servers: RespServer[] = [];
  const start = async (readOnlyByDefault: boolean) => {
    const { backend, readsAt } = recordingBackend(readOnlyByDefault);
    const server = await RespServer.start({
      listen: '127.0.0.1:0',
      backend,
      understudyVersion: 'test',
      logger: createLogger({ level: 'silent' }),
    });
    servers.push(server);
    return { port: Number(server.address.split(':').pop()), readsAt };
  };

  after(async () => {
    for (const server of servers) await server.close();
  });

  test("a READONLY connection's reads go to the replica, after its own last write; READWRITE sends them to the primary again", async () => {
    const { port, readsAt } = await start(false);
    const commands = [
      'GET k',
      'READONLY',
      'GET k',
      'SET k v',
      'MGET a b',
      'SET k w',
      'EXISTS k',
      'READWRITE',
      'STRLEN k',
    ];
    const { text } = await exchange(port, `${commands.join('\r\n')}\r\n`, lines(11));
    assert.equal(text, '$1\r\nv\r\n+OK\r\n$1\r\nv\r\n+OK\r\n*2\r\n$-1\r\n$-1\r\n+OK\r\n:1\r\n+OK\r\n:1\r\n');
    const bounded = (minIndex: number): ReadOptions => ({
      read: 'any',
      maxStalenessMs: 250,
      minIndex,
      preferMember: 'r2:7002',
    });
    assert.deepEqual(readsAt, [undefined, bounded(0), bounded(41), bounded(42), undefined]);
  });

  test('READONLY belongs to its connection; with --resp-reads replica every connection starts READONLY', async () => {
    const primaryFirst = await start(false);
    await exchange(primaryFirst.port, 'READONLY\r\n', lines(1));
    await exchange(primaryFirst.port, 'GET k\r\n', lines(2));
    assert.deepEqual(primaryFirst.readsAt, [undefined], 'a new connection reads at the primary');

    const replicaFirst = await start(true);
    await exchange(replicaFirst.port, 'GET k\r\n', lines(2));
    await exchange(replicaFirst.port, 'READWRITE\r\nGET k\r\n', lines(3));
    assert.deepEqual(replicaFirst.readsAt, [
      { read: 'any', maxStalenessMs: 250, minIndex: 0, preferMember: 'r2:7002' },
      undefined,
    ]);
  });

  test('READONLY and READWRITE take no arguments', async () => {
    const { port } = await start(false);
    const { text } = await exchange(port, 'READONLY now\r\nREADWRITE x\r\n', lines(2));
    assert.equal(
      text,
      "-ERR wrong number of arguments for 'readonly' command\r\n-ERR wrong number of arguments for 'readwrite' command\r\n",
    );
  });
});

test('the cluster backend sends a READONLY read to its own replica first, unless that replica is the primary', async () => {
  let primary = false;
  const backend = clusterBackend({
    coordinator: '127.0.0.1:1', // never dialled: placing a read connects nothing
    clusterId: 'test',
    local: () => local,
    isPrimary: () => primary,
    localLink: {
      address: '127.0.0.1:7002',
      connect: () => {
        throw new Error('not dialled here');
      },
    },
    readStalenessMs: 250,
    readOnlyByDefault: true,
  });
  assert.equal(backend.readOnlyByDefault, true);
  assert.deepEqual(backend.replicaReadOptions(17), {
    read: 'any',
    maxStalenessMs: 250,
    minIndex: 17,
    preferMember: '127.0.0.1:7002',
  });
  primary = true;
  assert.equal(backend.replicaReadOptions(17), undefined, 'at the primary a read is linearizable as it is');
  // Without a link (a port outside a replica's process) the read still goes to any member within the bound.
  const detached = clusterBackend({ coordinator: '127.0.0.1:1', clusterId: 'test', local: () => local });
  assert.equal(detached.readOnlyByDefault, false);
  assert.deepEqual(detached.replicaReadOptions(0), { read: 'any', maxStalenessMs: 1000, minIndex: 0 });
  await backend.close();
  await detached.close();
});
