// The Redis-protocol port over real TCP on 127.0.0.1, with a stand-in for the cluster: the replies
// of the commands answered without the cluster, the errors of bad commands and of a cluster that
// cannot be reached, replies in command order, QUIT, and malformed input that closes only its own
// connection while the port goes on. (test/integration/resp.test.ts runs a real cluster.)

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  RedisConnectionError,
  RedisPortClient,
  type RedisReply,
  RedisReplyError,
} from '../../src/chaos/redis-port-client.js';
import type { Client, ReadOptions } from '../../src/client/index.js';
import { OutcomeUnknownError, SessionExpiredError, UnavailableError } from '../../src/errors.js';
import { createLogger } from '../../src/node/logger.js';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import type { ReplicaStatus, StatusReply } from '../../src/protocol/messages.js';
import { logIndex, replicaId, viewNumber } from '../../src/protocol/types.js';
import type { LocalReplica, RespBackend } from '../../src/resp/index.js';
import { clusterBackend, RespServer } from '../../src/resp/index.js';
import {
  bulkBytesMax,
  pipelinedCommandsMax,
  pipelineSequenceBytesMax,
  pipelineSequenceCommandsMax,
  watchedBytesMax,
  watchedKeysMax,
} from '../../src/resp/limits.js';
import { monitorBufferBytesMax } from '../../src/resp/monitor.js';
import type { SequenceClient } from '../../src/resp/shared-sequences.js';
import { SlowLog } from '../../src/resp/slow-log.js';
import { type KvLimits, kvLimitsDefault, SCAN_CURSOR_BUILDING } from '../../src/state-machine/index.js';
import { clusterId, fakeCoordinator } from './client-fake-cluster.js';
import { type StoreCall, storeClient } from './store-client.js';

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
  snapshot: null,
  transfer: null,
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
 * A cluster of one real key/value store, reached through a stand-in client that records each call
 * (store-client.ts): `execute` for one command, `sequence` for a pipeline.
 */
function storeBackend(readOnlyByDefault: boolean, limits: KvLimits = kvLimitsDefault) {
  const { client, calls, store, failNextWith } = storeClient(limits);
  const backend: RespBackend = {
    client: async () => client as unknown as Client,
    local: () => local,
    stateSize: () => store.size(),
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
  return { backend, calls, store, failNextWith };
}

/** A port on 127.0.0.1 (a free port) in front of `backend`, added to `servers` for the suite to close. */
async function startPort(
  backend: RespBackend,
  servers: RespServer[],
): Promise<{ server: RespServer; port: number }> {
  const server = await RespServer.start({
    listen: '127.0.0.1:0',
    backend,
    understudyVersion: 'test',
    logger: createLogger({ level: 'silent' }),
  });
  servers.push(server);
  return { server, port: Number(server.address.split(':').pop()) };
}

/** Ports in front of stores of their own (`start`), each closed after the suite that made them. */
function storePorts() {
  const servers: RespServer[] = [];
  after(async () => {
    for (const server of servers) await server.close();
  });
  const start = async (limits?: KvLimits) => {
    const { backend, calls, store, failNextWith } = storeBackend(false, limits);
    return { ...(await startPort(backend, servers)), calls, store, failNextWith };
  };
  return { servers, start };
}

/** Where each read call was asked to go, in order (writes left out). */
const readsOf = (calls: readonly StoreCall[]) =>
  calls.filter((call) => call.read !== null).map((call) => call.read);

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

/** A new connection to `port` that keeps what it is sent, as text, for tests that write to it as they go. */
function collecting(port: number): { readonly socket: Socket; readonly text: () => string } {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  return { socket, text: () => text };
}

/** Sends `commands` at once on a new connection; answers the first `count` lines that came back. */
async function replyLines(port: number, commands: readonly string[], count: number): Promise<string[]> {
  const { text } = await exchange(port, `${commands.join('\r\n')}\r\n`, lines(count));
  return text.split('\r\n').slice(0, count);
}

/** Sends each command (words split on spaces) on one connection once the reply before it came. */
async function oneByOne(port: number, commands: readonly string[]): Promise<RedisReply[]> {
  const client = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
  try {
    const replies: RedisReply[] = [];
    for (const command of commands) replies.push(await client.command(command.split(' '), 5_000));
    return replies;
  } finally {
    client.close();
  }
}

/** Resolves once `probe` answers a value (checked every 20 ms, for at most 10 s: a deadline, not a timing). */
async function waitFor<T>(what: string, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A reply with an error reply as its message, for comparing replies in one array. */
const messageOf = (reply: RedisReply): Exclude<RedisReply, RedisReplyError> | string =>
  reply instanceof RedisReplyError ? reply.message : reply;

/** The read options of a READONLY connection whose last write was at `minIndex`. */
const bounded = (minIndex: number): ReadOptions => ({
  read: 'any',
  maxStalenessMs: 250,
  minIndex,
  preferMember: 'r2:7002',
});

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
      '-ERR No such client',
      '-NOPROTO unsupported protocol version',
      '-ERR Protocol version is not an integer or out of range',
      ':2', // no write yet: every backup of the view holds everything this connection wrote
      '-ERR timeout is negative',
      '-ERR value is not an integer or out of range',
      ':69',
    ]);
    assert.match(text, /-ERR unknown subcommand 'DOCS'\. Try COMMAND HELP\.\r\n$/);
  });

  test("HELLO's SETNAME and AUTH need their values, a bad name and an unknown option are refused; AUTH with no password configured is refused as Redis", async () => {
    const commands = [
      'HELLO 2 SETNAME',
      'HELLO 2 SETNAME "bad name"',
      'HELLO 2 AUTH user',
      'HELLO 2 FOO a b',
      'AUTH secret',
      'CLIENT GETNAME',
    ];
    assert.deepEqual(await replyLines(port, commands, 6), [
      "-ERR Syntax error in HELLO option 'SETNAME'",
      '-ERR Client names cannot contain spaces, newlines or special characters.',
      "-ERR Syntax error in HELLO option 'AUTH'",
      "-ERR Syntax error in HELLO option 'FOO'",
      '-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
      '$-1',
    ]);
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

  test('SET, EXPIRE and GETEX refuse bad times and options, INCRBY a non-integer, before anything is sent', async () => {
    const commands = [
      'SET k v EX 0',
      'SET k v PX -5',
      'SET k v EX 10 PX 5',
      'SET k v KEEPTTL EX 5',
      'SET k v EX',
      'SET k v EX ten',
      'SET k v EXAT 9000000000000000',
      'SET k v NX XX',
      'SET k v GET GET',
      'SETEX k 0 v',
      'PSETEX k -1 v',
      'EXPIRE k 10 NX XX',
      'EXPIRE k 10 GT LT',
      'EXPIRE k 10 SOON',
      'PEXPIRE k 1.5',
      'EXPIRE k 9000000000000000',
      'TTL k extra',
      'INCRBY k 1.5',
      'DECRBY k 9007199254740993',
      'MSET a 1 b',
      'GETEX k EX 0',
      'GETEX k PX 10 PERSIST',
      'GETEX k SOON',
      'GETEX k PERSIST 5',
      'GETDEL k extra',
      'GETSET k',
    ];
    assert.deepEqual(await replyLines(port, commands, 26), [
      "-ERR invalid expire time in 'set' command",
      "-ERR invalid expire time in 'set' command",
      '-ERR syntax error',
      '-ERR syntax error',
      '-ERR syntax error',
      '-ERR value is not an integer or out of range',
      "-ERR invalid expire time in 'set' command",
      '-ERR syntax error',
      '-ERR syntax error',
      "-ERR invalid expire time in 'setex' command",
      "-ERR invalid expire time in 'psetex' command",
      '-ERR NX and XX, GT or LT options at the same time are not compatible',
      '-ERR GT and LT options at the same time are not compatible',
      '-ERR Unsupported option SOON',
      '-ERR value is not an integer or out of range',
      "-ERR invalid expire time in 'expire' command",
      "-ERR wrong number of arguments for 'ttl' command",
      '-ERR value is not an integer or out of range',
      '-ERR value is not an integer or out of range',
      "-ERR wrong number of arguments for 'mset' command",
      "-ERR invalid expire time in 'getex' command",
      '-ERR syntax error',
      '-ERR syntax error',
      '-ERR syntax error',
      "-ERR wrong number of arguments for 'getdel' command",
      "-ERR wrong number of arguments for 'getset' command",
    ]);
  });

  test('INFO reports this replica with Redis field names; an unknown section is empty', async () => {
    const { text } = await exchange(port, 'INFO\r\nINFO nosuch\r\n', (got) => got.endsWith('$0\r\n\r\n'));
    assert.match(text, /# Server\r\nredis_version:7\.0\.0\r\nunderstudy_version:test\r\n/);
    assert.match(text, new RegExp(`tcp_port:${port}\r\n`));
    assert.match(
      text,
      /\r\n\r\n# Stats\r\ntotal_connections_received:\d+\r\ntotal_commands_processed:\d+\r\ntotal_net_input_bytes:\d+\r\ntotal_net_output_bytes:\d+\r\nrejected_connections:0\r\nevicted_keys:0\r\nkeyspace_hits:\d+\r\nkeyspace_misses:\d+\r\nunderstudy_pipelined_sequences:\d+\r\nunderstudy_shared_sequences:0\r\n/,
    );
    assert.match(
      text,
      /\r\n\r\n# Replication\r\nrole:slave\r\nunderstudy_role:backup\r\nunderstudy_view:4\r\n/,
    );
    assert.match(text, /slave_repl_offset:12\r\nmaster_repl_offset:12\r\n.*understudy_commit_index:11\r\n/s);
  });

  test("ROLE answers Redis 7's shape for a backup; with no coordinator to ask, the primary's address is unknown", async () => {
    const { text } = await exchange(port, 'ROLE\r\nROLE x\r\n', lines(8));
    assert.equal(
      text,
      "*5\r\n$5\r\nslave\r\n$0\r\n\r\n:0\r\n$7\r\nconnect\r\n:12\r\n-ERR wrong number of arguments for 'role' command\r\n",
    );
  });

  test('a command the cluster must answer, with no cluster, is UNAVAILABLE, and replies keep command order', async () => {
    const { text, closed } = await exchange(
      port,
      'GET k\r\nPING\r\nSET k v\r\nPING\r\nMGET a b\r\nPING\r\n',
      lines(6),
    );
    const [get, ping, set, pingAgain, mget, pingLast] = text.split('\r\n');
    assert.match(get ?? '', /^-UNAVAILABLE no coordinator answered$/);
    assert.equal(ping, '+PONG');
    assert.match(set ?? '', /^-UNAVAILABLE /);
    assert.equal(pingAgain, '+PONG');
    assert.match(mget ?? '', /^-UNAVAILABLE /);
    assert.equal(pingLast, '+PONG');
    assert.equal(closed, false);
  });

  test('a pipeline that fails as a whole answers every command with the error, the others in their place', async () => {
    const { text } = await exchange(port, 'SET a 1\r\nSET b 2 EX 0\r\nGET c\r\n', lines(3));
    const [first, second, third] = text.split('\r\n');
    assert.match(first ?? '', /^-UNAVAILABLE no coordinator answered$/);
    assert.equal(second, "-ERR invalid expire time in 'set' command");
    assert.match(third ?? '', /^-UNAVAILABLE no coordinator answered$/);
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

test("ROLE answers Redis 7's shape for a primary (its followers with a Redis port, by their durable index) and for a backup that knows its primary", async () => {
  const replica = (id: string, redisPort: number | null, durable: number, alive = true): ReplicaStatus => ({
    id: replicaId(id),
    address: `127.0.0.1:${7000 + Number(id.slice(1))}`,
    role: 'none',
    alive,
    durableIndex: logIndex(durable),
    appliedIndex: logIndex(durable),
    commitIndex: logIndex(durable),
    problem: null,
    transfer: null,
    snapshotIndex: logIndex(0),
    sessions: 0,
    formatLevel: 2,
    redisAddress: redisPort === null ? null : `127.0.0.1:${redisPort}`,
  });
  const view = {
    number: viewNumber(4),
    primary: replicaId('r1'),
    backups: [replicaId('r2'), replicaId('r3')],
    learners: [replicaId('r4')],
  };
  const status: StatusReply = {
    type: 'status_reply',
    id: 0,
    view,
    replicas: [
      replica('r1', 7101, 12),
      replica('r2', 7102, 11),
      replica('r3', null, 12),
      replica('r4', 7104, 5),
    ],
    problem: null,
    asyncLost: 0,
    promotionsWithoutHolders: 0,
    formatLevel: 2,
    service: null,
  };
  const servers: RespServer[] = [];
  try {
    const answers: RedisReply[] = [];
    for (const role of ['primary', 'backup'] as const) {
      const backend: RespBackend = {
        ...unreachableBackend(0),
        local: () => ({ ...local, id: replicaId(role === 'primary' ? 'r1' : 'r2'), role, view }),
        clusterStatus: async () => status,
      };
      const { port } = await startPort(backend, servers);
      answers.push(...(await oneByOne(port, ['ROLE'])));
    }
    const bulks = (...words: string[]) => words.map((word) => Buffer.from(word));
    assert.deepEqual(answers, [
      [Buffer.from('master'), 12, [bulks('127.0.0.1', '7102', '11'), bulks('127.0.0.1', '7104', '5')]],
      [...bulks('slave', '127.0.0.1'), 7101, ...bulks('connected'), 12],
    ]);
  } finally {
    for (const server of servers) await server.close();
  }
});

describe('READONLY and READWRITE', () => {
  const servers: RespServer[] = [];
  const start = async (readOnlyByDefault: boolean) => {
    const { backend, calls } = storeBackend(readOnlyByDefault);
    const { port } = await startPort(backend, servers);
    return { port, calls };
  };

  after(async () => {
    for (const server of servers) await server.close();
  });

  test("a READONLY connection's reads go to the replica, after its own last write; READWRITE sends them to the primary again", async () => {
    const { port, calls } = await start(false);
    // One command at a time: a pipeline would run them as one sequence (below).
    const replies = await oneByOne(port, [
      'GET k',
      'READONLY',
      'GET k',
      'SET k v',
      'MGET a k',
      'SET k w',
      'EXISTS k',
      'READWRITE',
      'STRLEN k',
    ]);
    assert.deepEqual(replies, [null, 'OK', null, 'OK', [null, Buffer.from('v')], 'OK', 1, 'OK', 1]);
    assert.deepEqual(readsOf(calls), [undefined, bounded(0), bounded(41), bounded(42), undefined]);
  });

  test('READONLY belongs to its connection; with --resp-reads replica every connection starts READONLY', async () => {
    const primaryFirst = await start(false);
    await oneByOne(primaryFirst.port, ['READONLY']);
    await oneByOne(primaryFirst.port, ['GET k']);
    assert.deepEqual(readsOf(primaryFirst.calls), [undefined], 'a new connection reads at the primary');

    const replicaFirst = await start(true);
    await oneByOne(replicaFirst.port, ['GET k']);
    await oneByOne(replicaFirst.port, ['READWRITE', 'GET k']);
    assert.deepEqual(readsOf(replicaFirst.calls), [bounded(0), undefined]);
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

describe('pipelines', () => {
  const servers: RespServer[] = [];
  const start = async (limits?: KvLimits) => {
    const { backend, calls, store, failNextWith } = storeBackend(false, limits);
    // INFO replication waits for the coordinator's status: a pipeline sent behind it is all read first.
    backend.clusterStatus = () => new Promise((resolve) => setTimeout(() => resolve(null), 150));
    return { ...(await startPort(backend, servers)), calls, store, failNextWith };
  };
  /** Sends INFO replication and then `commands` at once; answers the replies after INFO's. */
  const pipeline = async (port: number, commands: readonly string[], replyLines: number) => {
    const { text } = await exchange(port, `INFO replication\r\n${commands.join('\r\n')}\r\n`, (got) => {
      const afterInfo = got.indexOf('\r\n\r\n');
      return afterInfo >= 0 && got.slice(afterInfo + 4).split('\r\n').length > replyLines;
    });
    return text.slice(text.indexOf('\r\n\r\n') + 4);
  };

  after(async () => {
    for (const server of servers) await server.close();
  });

  test("INFO keyspace counts this replica's keys and those with a time to live, as Redis's db0 line", async () => {
    const { port } = await start();
    const empty = await exchange(port, 'INFO keyspace\r\n', (got) => got.endsWith('\r\n\r\n'));
    assert.equal(empty.text, '$12\r\n# Keyspace\r\n\r\n');
    await exchange(port, 'SET a 1\r\nSET b 2 EX 100\r\nSET c 3 PX 100000\r\n', lines(3));
    const { text } = await exchange(port, 'INFO keyspace\r\n', (got) => got.endsWith('\r\n\r\n'));
    assert.match(text, /# Keyspace\r\ndb0:keys=3,expires=2\r\n/);
  });

  test('INFO memory: what the store counts against its limit, the process, and no eviction at the limit', async () => {
    const { port, store } = await start();
    await exchange(port, 'SET a 1\r\nSET bb 22\r\n', lines(2));
    const { text } = await exchange(port, 'INFO memory\r\n', (got) => got.endsWith('\r\n\r\n'));
    const bytes = store.size().bytes;
    assert.ok(bytes > 0);
    assert.match(text, new RegExp(`# Memory\r\nused_memory:${bytes}\r\nused_memory_human:${bytes}B\r\n`));
    assert.match(text, /used_memory_rss:\d+\r\nused_memory_rss_human:\d+\.\d\d[KMG]\r\n/);
    assert.match(text, /maxmemory:\d+\r\nmaxmemory_human:\d+\.\d\d[MG]\r\nmaxmemory_policy:noeviction\r\n/);
  });

  test("SCAN and KEYS run on their own, never in a pipeline's sequence, and see the writes before them; in MULTI they are refused", async () => {
    const { port, calls } = await start();
    const text = await pipeline(
      port,
      ['SET k:1 a', 'SET k:2 b', 'SCAN 0 MATCH k:* COUNT 100', 'KEYS k:[2]', 'GET k:1'],
      12,
    );
    assert.deepEqual(text.split('\r\n').slice(0, 3), ['+OK', '+OK', '*2']);
    assert.match(
      text,
      /^\+OK\r\n\+OK\r\n\*2\r\n\$1\r\n0\r\n\*2\r\n\$3\r\nk:[12]\r\n\$3\r\nk:[12]\r\n\*1\r\n\$3\r\nk:2\r\n\$1\r\na\r\n/,
    );
    assert.deepEqual(
      calls.map((call) => [call.method, call.kinds]),
      [
        ['sequence', ['put', 'put']],
        ['execute', ['scan']],
        ['execute', ['scan']],
        ['execute', ['get']],
      ],
    );
    const { text: multi } = await exchange(port, 'MULTI\r\nSCAN 0\r\nEXEC\r\n', lines(3));
    assert.match(
      multi,
      /^\+OK\r\n-ERR SCAN inside MULTI is not supported: it walks the keys in reads of its own, never in a transaction\r\n-EXECABORT/,
    );
  });

  test("SCAN's cursor and options are checked as Redis checks them; a pattern the store refuses is its error, in SCAN and KEYS", async () => {
    // Keys of at most 10 bytes: a pattern of more than 20 is refused by the store.
    const { port } = await start({ ...kvLimitsDefault, keySizeMaxBytes: 10 });
    const replies = await oneByOne(port, [
      'SET k:1 a',
      'SCAN -1',
      `SCAN ${SCAN_CURSOR_BUILDING + 1}`,
      `SCAN ${SCAN_CURSOR_BUILDING} COUNT 100000`,
      'SCAN 0 COUNT 100000 MATCH',
      'SCAN 0 COUNT 0',
      'SCAN 0 COUNT 100000 TYPE hash',
      'SCAN 0 COUNT 100000 TYPE STRING',
      'SCAN 0 SOON 1',
      `SCAN 0 MATCH ${'k'.repeat(21)}`,
      `KEYS ${'k'.repeat(21)}`,
    ]);
    const refused = 'ERR scan: a pattern of 21 bytes; at most 20 (twice the longest key)';
    assert.deepEqual(replies.map(messageOf), [
      'OK',
      'ERR invalid cursor',
      'ERR invalid cursor',
      // The cursor of a walk that waited for the store's buckets starts it from the first.
      [Buffer.from('0'), [Buffer.from('k:1')]],
      'ERR syntax error',
      'ERR syntax error',
      [Buffer.from('0'), []],
      [Buffer.from('0'), [Buffer.from('k:1')]],
      'ERR syntax error',
      refused,
      refused,
    ]);
    // COUNT 1, the least, is allowed: a page, whatever it found.
    const [page] = await oneByOne(port, ['SCAN 0 COUNT 1']);
    assert.ok(Array.isArray(page) && page.length === 2, `SCAN 0 COUNT 1 answered ${String(page)}`);
  });

  test('KEYS walks the keys a page of scan at a time, and is refused past 8 MiB of keys', async () => {
    const { port, calls } = await start();
    const client = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
    try {
      // 9,000 keys of 1,000 bytes: 9 MB of keys, in MSETs of 500.
      const name = (n: number) => `${String(n).padStart(4, '0')}${'k'.repeat(996)}`;
      for (let batch = 0; batch < 18; batch++) {
        const keys = Array.from({ length: 500 }, (_, at) => name(batch * 500 + at));
        assert.equal(await client.command(['MSET', ...keys.flatMap((key) => [key, 'v'])], 5_000), 'OK');
      }
      const before = calls.length;
      const some = await client.command(['KEYS', '00[0-4]*'], 5_000);
      assert.ok(Array.isArray(some) && some.length === 50, 'keys 0000 to 0049');
      const reads = calls.slice(before);
      assert.ok(
        reads.length >= 9 && reads.every((call) => call.kinds[0] === 'scan'),
        `${reads.length} scans`,
      );
      const all = await client.command(['KEYS', '*'], 5_000);
      assert.ok(all instanceof RedisReplyError);
      assert.equal(
        all.message,
        'ERR KEYS would answer more than 8388608 bytes of keys; SCAN through them instead',
      );
    } finally {
      client.close();
    }
  });

  test('SETNX, TYPE, DBSIZE, SELECT and UNLINK answer as Redis does; only database 0 exists', async () => {
    const { port } = await start();
    const commands = [
      'SETNX a 1',
      'SETNX a 2',
      'GET a',
      'TYPE a',
      'TYPE nothing',
      'DBSIZE',
      'SELECT 0',
      'SELECT 1',
      'SELECT one',
      'UNLINK a nothing',
      'TYPE a',
    ];
    assert.deepEqual(await replyLines(port, commands, 12), [
      ':1',
      ':0',
      '$1',
      '1',
      '+string',
      '+none',
      ':1',
      '+OK',
      '-ERR DB index is out of range',
      '-ERR value is not an integer or out of range',
      ':1',
      '+none',
    ]);
  });

  test('INCRBYFLOAT, MSETNX and GETRANGE answer as Redis does', async () => {
    const { port, calls } = await start();
    const replies = await oneByOne(port, [
      'SET f 10.50',
      'INCRBYFLOAT f 0.1',
      'INCRBYFLOAT f -5',
      'SET e 5.0e3',
      'INCRBYFLOAT e 2.0e2',
      'INCRBYFLOAT new 3',
      'INCRBYFLOAT f abc',
      'INCRBYFLOAT f 0x10',
      'SET w word',
      'INCRBYFLOAT w 1',
      'SET big 1e308',
      'INCRBYFLOAT big 1e308',
      'GET big',
      'MSETNX m1 a m2 b',
      'MSETNX m2 c m3 d',
      'MGET m1 m2 m3',
      'MSETNX m3',
      'SET s Hello_World',
      'GETRANGE s 0 4',
      'GETRANGE s -5 -1',
      'GETRANGE s 6 100',
      'GETRANGE s -100 2',
      'GETRANGE s 5 2',
      'GETRANGE s -1 -5',
      'GETRANGE nothing 0 -1',
      'SUBSTR s 0 -1',
      'GETRANGE s one 2',
    ]);
    assert.deepEqual(replies.map(messageOf), [
      'OK',
      Buffer.from('10.6'),
      Buffer.from('5.6'),
      'OK',
      Buffer.from('5200'),
      Buffer.from('3'),
      'ERR value is not a valid float',
      'ERR value is not a valid float',
      'OK',
      'ERR value is not a valid float',
      'OK',
      'ERR increment would produce NaN or Infinity',
      Buffer.from('1e308'),
      1,
      0,
      [Buffer.from('a'), Buffer.from('b'), null],
      "ERR wrong number of arguments for 'msetnx' command",
      'OK',
      Buffer.from('Hello'),
      Buffer.from('World'),
      Buffer.from('World'),
      Buffer.from('Hel'),
      Buffer.from(''),
      Buffer.from(''),
      Buffer.from(''),
      Buffer.from('Hello_World'),
      'ERR value is not an integer or out of range',
    ]);
    const kinds = calls.map((call) => call.kinds[0]);
    assert.equal(
      kinds.filter((kind) => kind === 'incr-float').length,
      6,
      'increments that are not numbers never reach the store',
    );
    assert.equal(kinds.filter((kind) => kind === 'put-many-if-absent').length, 2);
  });

  // Each expected reply is what Redis 7.0.15 answered to the same commands (redis-cli, 2026-12-05), but
  // COPY ... DB 1, which Redis runs in its database 1 and this server, which has only 0, refuses.
  test('RENAME, RENAMENX, COPY, SETRANGE and FLUSHALL answer as Redis does, a time to live going with the value', async () => {
    const { port, calls } = await start();
    const replies = await oneByOne(port, [
      'SET a 1',
      'RENAME a b',
      'GET a',
      'GET b',
      'RENAME a c',
      'RENAME b b',
      'RENAMENX b b',
      'SET c 3',
      'RENAMENX b c',
      'RENAMENX b d',
      'GET d',
      'SET t v EX 100',
      'SET u old EX 500',
      'RENAME t u',
      'TTL u',
      'SET p plain',
      'RENAME p u',
      'TTL u',
      'GET u',
      'COPY u u',
      'COPY nothing x',
      'COPY u x',
      'GET x',
      'SET y yval',
      'COPY u y',
      'COPY u y REPLACE',
      'GET y',
      'SET z zz EX 50',
      'COPY z w DB 0',
      'TTL w',
      'TTL z',
      'COPY z w2 DB 1',
      'COPY z w BOGUS',
      'SETRANGE s 0 Hello',
      'SETRANGE s 6 World',
      'GET s',
      'SETRANGE s 5 _',
      'SETRANGE s 11 !',
      'GET s',
      'SETRANGE nothing 2 ab',
      'GET nothing',
      'SETRANGE s -1 x',
      'SETRANGE s one x',
      'RENAME',
      'COPY a',
      'FLUSHDB ASYNC',
      'EXISTS s u d',
      'SET b 2',
      'FLUSHALL',
      'GET b',
      'FLUSHALL NOW',
      'FLUSHDB a b',
      'FLUSHALL SYNC',
    ]);
    assert.deepEqual(replies.map(messageOf), [
      'OK',
      'OK',
      null,
      Buffer.from('1'),
      'ERR no such key',
      'OK',
      0,
      'OK',
      0,
      1,
      Buffer.from('1'),
      'OK',
      'OK',
      'OK',
      100,
      'OK',
      'OK',
      -1,
      Buffer.from('plain'),
      'ERR source and destination objects are the same',
      0,
      1,
      Buffer.from('plain'),
      'OK',
      0,
      1,
      Buffer.from('plain'),
      'OK',
      1,
      50,
      50,
      'ERR DB index is out of range',
      'ERR syntax error',
      5,
      11,
      Buffer.from('Hello\0World'),
      11,
      12,
      Buffer.from('Hello_World!'),
      4,
      Buffer.from('\0\0ab'),
      'ERR offset is out of range',
      'ERR value is not an integer or out of range',
      "ERR wrong number of arguments for 'rename' command",
      "ERR wrong number of arguments for 'copy' command",
      'OK',
      0,
      'OK',
      'OK',
      null,
      'ERR syntax error',
      'ERR syntax error',
      'OK',
    ]);
    const client = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
    try {
      // Writing nothing pads nothing, nor creates the key.
      assert.equal(await client.command(['SETRANGE', 'empty', '3', ''], 5_000), 0);
      assert.equal(await client.command(['EXISTS', 'empty'], 5_000), 0);
      assert.equal(await client.command(['SET', 's', 'Hello_World!'], 5_000), 'OK');
      assert.equal(await client.command(['SETRANGE', 's', '0', ''], 5_000), 12);
    } finally {
      client.close();
    }
    const kinds = calls.map((call) => call.kinds[0]);
    assert.equal(
      kinds.filter((kind) => kind === 'rename').length,
      8,
      'every RENAME and RENAMENX is one operation',
    );
    assert.equal(
      kinds.filter((kind) => kind === 'copy').length,
      5,
      'a COPY the port refuses never reaches the store',
    );
  });

  test("EXPIRE's NX, XX, GT and LT, GETEX PERSIST and TTL's -1 and -2 answer as Redis does; options missing their values are refused", async () => {
    const { port, calls } = await start();
    const before = calls.length;
    const replies = await oneByOne(port, [
      'SET p plain',
      'TTL p',
      'PTTL p',
      'EXPIRETIME p',
      'TTL nothing',
      'PEXPIRETIME nothing',
      'EXPIRE nothing 100',
      // A key without a time to live: XX needs one, GT counts none as forever, LT takes any.
      'EXPIRE p 100 XX',
      'EXPIRE p 100 GT',
      'EXPIRE p 300 XX LT',
      'EXPIRE p 300 LT',
      'TTL p',
      'EXPIRE p 100 NX',
      'EXPIRE p 400 LT',
      'EXPIRE p 200 GT',
      'EXPIRE p 500 GT',
      'EXPIRE p 400 XX LT',
      'TTL p',
      'EXPIRE p 450 XX',
      'TTL p',
      'SET n v',
      'EXPIRE n 100 NX',
      'TTL n',
      'GETEX n PERSIST',
      'TTL n',
      // The latest time a key may expire at is allowed, a millisecond more is not.
      'SET m v PXAT 8640000000000000',
      'PEXPIRETIME m',
      'SET m v PXAT 8640000000000001',
      'EXPIREAT m 8640000000000',
      'EXPIREAT m 8640000000001',
      'SET k v IFEQ',
      'SET k v EX 5 KEEPTTL',
      'COPY p q BOGUS 0',
      'COPY p q DB',
      'MSETNX a 1 b',
      'EXISTS k q a',
    ]);
    assert.deepEqual(replies.map(messageOf), [
      'OK',
      -1,
      -1,
      -1,
      -2,
      -2,
      0,
      0,
      0,
      0,
      1,
      300,
      0,
      0,
      0,
      1,
      1,
      400,
      1,
      450,
      'OK',
      1,
      100,
      Buffer.from('v'),
      -1,
      'OK',
      8_640_000_000_000_000,
      "ERR invalid expire time in 'set' command",
      1,
      "ERR invalid expire time in 'expireat' command",
      'ERR syntax error',
      'ERR syntax error',
      'ERR syntax error',
      'ERR syntax error',
      "ERR wrong number of arguments for 'msetnx' command",
      0,
    ]);
    const kinds = calls.slice(before).map((call) => call.kinds[0]);
    assert.equal(
      kinds.filter((kind) => kind === 'copy' || kind === 'put-many-if-absent').length,
      0,
      'a command the port refuses never reaches the store',
    );
  });

  test('CONFIG GET answers how this server keeps data, in Redis names; CONFIG SET is refused, saying why', async () => {
    const { port, calls, store } = await start();
    const replies = await oneByOne(port, [
      'CONFIG GET maxmemory-policy',
      'CONFIG GET APPEND*',
      'CONFIG GET save maxmemory',
      'CONFIG GET slowlog* latency* maxclients',
      'CONFIG GET databases maxmemory-*',
      'CONFIG SET maxmemory-policy allkeys-lru',
      'CONFIG GET',
      'CONFIG',
      'CONFIG NOPE',
    ]);
    assert.deepEqual(replies.map(messageOf), [
      [Buffer.from('maxmemory-policy'), Buffer.from('noeviction')],
      [Buffer.from('appendonly'), Buffer.from('yes'), Buffer.from('appendfsync'), Buffer.from('always')],
      [
        Buffer.from('save'),
        Buffer.from(''),
        Buffer.from('maxmemory'),
        Buffer.from(String(store.size().bytesMax)),
      ],
      [
        'maxclients',
        '10000',
        'slowlog-log-slower-than',
        '10000',
        'slowlog-max-len',
        '128',
        'latency-monitor-threshold',
        '0',
      ].map((text) => Buffer.from(text)),
      [
        Buffer.from('databases'),
        Buffer.from('1'),
        Buffer.from('maxmemory-policy'),
        Buffer.from('noeviction'),
      ],
      'ERR CONFIG SET is not supported: each replica is configured by its command line, the same on every member',
      "ERR wrong number of arguments for 'config|get' command",
      "ERR wrong number of arguments for 'config' command",
      "ERR unknown subcommand 'NOPE'. Try CONFIG HELP.",
    ]);
    assert.equal(calls.length, 0, 'answered by the port, not the cluster');
  });

  test('SET ... IFEQ, DELIFEQ and DELEX: writes and deletes only over the value named', async () => {
    const { port } = await start();
    const replies = await oneByOne(port, [
      'SET lock owner-1 PX 60000',
      'SET lock owner-2 IFEQ owner-9',
      'SET lock owner-2 IFEQ owner-1',
      'PTTL lock',
      'SET lock owner-3 IFEQ owner-2 GET KEEPTTL',
      'SET absent v IFEQ v',
      'EXISTS absent',
      'SET lock v NX IFEQ owner-3',
      'DELIFEQ lock owner-9',
      'DELIFEQ lock owner-3',
      'DELIFEQ lock owner-3',
      'SET other 1',
      'DELEX other IFEQ 2',
      'DELEX other IFEQ 1',
      'SET other 1',
      'DELEX other',
      'DELEX other',
      'DELEX other IFNE 1',
      'DELEX other IFEQ',
      'DELEX other WHEN 1',
    ]);
    assert.deepEqual(replies.map(messageOf), [
      'OK',
      null,
      'OK',
      -1,
      Buffer.from('owner-2'),
      null,
      0,
      'ERR syntax error',
      0,
      1,
      0,
      'OK',
      0,
      1,
      'OK',
      1,
      0,
      'ERR DELEX IFNE is not supported here; IFEQ is',
      'ERR syntax error',
      'ERR syntax error',
    ]);
  });

  test('pipelined commands run as one sequence, in order, each seeing the ones before it', async () => {
    const { port, calls, store, server } = await start();
    const commands = [
      'SET x 5',
      'INCR x',
      'INCR w',
      'SET w hello',
      'INCR w',
      'APPEND w !',
      'MGET x w zz',
      'SET x 1 EX 0',
      'DEL x w',
      'EXISTS x w',
      'SET y 1 NX',
      'SET y 2 NX',
      'GET y',
    ];
    const text = await pipeline(port, commands, 19);
    assert.equal(
      text,
      [
        '+OK',
        ':6',
        ':1',
        '+OK',
        '-ERR value is not an integer or out of range',
        ':6',
        '*3',
        '$1',
        '6',
        '$6',
        'hello!',
        '$-1',
        "-ERR invalid expire time in 'set' command",
        ':2',
        ':0',
        '+OK',
        '$-1',
        '$1',
        '1',
        '',
      ].join('\r\n'),
    );
    // The command with bad arguments was answered in its place, without reaching the cluster.
    assert.deepEqual(calls, [
      {
        method: 'sequence',
        kinds: [
          'put',
          'incr',
          'incr',
          'put',
          'incr',
          'append',
          'get-many',
          'delete-many',
          'lengths',
          'put-if',
          'put-if',
          'get',
        ],
        read: null,
      },
    ]);
    assert.equal(server.counters.pipelinedSequences, 1);
    assert.equal(server.counters.commands, commands.length + 1);
    assert.equal(store.entryCount, 1, 'only y is left');
  });

  test('a pipeline that begins with a command refused before it runs runs the commands after it', async () => {
    const { port } = await start();
    const text = await pipeline(port, ['SET k v EX 0', 'SET a 1', 'GET a', 'GET k'], 5);
    assert.deepEqual(text.split('\r\n').slice(0, 5), [
      "-ERR invalid expire time in 'set' command",
      '+OK',
      '$1',
      '1',
      '$-1',
    ]);
  });

  test('a pipeline is cut into sequences of at most pipelineSequenceCommandsMax commands and pipelineSequenceBytesMax bytes, each allowed exactly; INFO counts them', async () => {
    const { server, port, calls } = await start();
    const counted = () => server.counters.pipelinedSequences;
    const increments = Array.from({ length: pipelineSequenceCommandsMax + 1 }, () => 'INCR n');
    const text = await pipeline(port, increments, increments.length);
    assert.equal(text.split('\r\n')[pipelineSequenceCommandsMax], `:${pipelineSequenceCommandsMax + 1}`);
    assert.deepEqual(
      calls.map((call) => [call.method, call.kinds.length]),
      [
        ['sequence', pipelineSequenceCommandsMax],
        ['execute', 1],
      ],
    );
    assert.equal(counted(), 1, 'one pipelined sequence; the one left over went alone');
    // Two SETs whose arguments come to exactly the bytes' bound share a sequence; a byte more, not.
    const bulk = (...words: string[]) =>
      `*${words.length}\r\n${words.map((word) => `$${word.length}\r\n${word}\r\n`).join('')}`;
    const half = (pipelineSequenceBytesMax - 10) / 2;
    for (const extra of [0, 1]) {
      const sets = bulk('SET', 'k1', 'v'.repeat(half)) + bulk('SET', 'k2', 'v'.repeat(half + extra));
      const { text: answered } = await exchange(port, `INFO replication\r\n${sets}`, (got) =>
        got.endsWith('+OK\r\n+OK\r\n'),
      );
      assert.ok(answered.endsWith('+OK\r\n+OK\r\n'));
    }
    assert.deepEqual(
      calls.slice(2).map((call) => [call.method, call.kinds.length]),
      [
        ['sequence', 2],
        ['execute', 1],
        ['execute', 1],
      ],
    );
    assert.equal(counted(), 2);
  });

  test('pipelined commands before a malformed frame are answered, then its error, and the connection closes', async () => {
    const { port, store } = await start();
    const text = await pipeline(port, ['SET a 1', 'SET b 2', '*x'], 3);
    assert.match(text, /^\+OK\r\n\+OK\r\n-ERR Protocol error: invalid multibulk length\r\n$/);
    assert.equal(store.entryCount, 2);
  });

  test('a pipeline of commands all refused before they run is answered without asking the cluster', async () => {
    const { port, calls } = await start();
    const text = await pipeline(port, ['SET k v EX 0', 'SET k v PX -1', 'GETEX k EX 0'], 3);
    assert.deepEqual(text.split('\r\n').slice(0, 3), [
      "-ERR invalid expire time in 'set' command",
      "-ERR invalid expire time in 'set' command",
      "-ERR invalid expire time in 'getex' command",
    ]);
    assert.deepEqual(calls, []);
  });

  test('a server that runs not even the first operation of a sequence has its NOT_RUN answered, not asked again for ever', async () => {
    const { backend, store } = storeBackend(false);
    const client = (await backend.client(null)) as unknown as SequenceClient;
    const runsNothing: SequenceClient = {
      ...client,
      sequence: async (operations, options) => {
        const answer = await client.sequence(operations, options);
        const notRun = {
          ok: false as const,
          code: ErrorCode.notRun,
          message: 'not run: this server runs no first one',
        };
        return { ...answer, outcomes: [notRun, ...answer.outcomes.slice(1)] };
      },
    };
    backend.client = async () => runsNothing as unknown as Client;
    backend.clusterStatus = () => new Promise((resolve) => setTimeout(() => resolve(null), 150));
    const { port } = await startPort(backend, servers);
    const text = await pipeline(port, ['SET a 1', 'SET b 2'], 2);
    assert.deepEqual(text.split('\r\n').slice(0, 2), ['-ERR not run: this server runs no first one', '+OK']);
    assert.equal(store.entryCount, 2);
  });

  test("a write whose outcome is unknown, or whose session expired, is answered with the project's code first", async () => {
    const { port, failNextWith } = await start();
    const client = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
    try {
      failNextWith(new OutcomeUnknownError('port', 7, 'no answer in time; request port:7'));
      assert.equal(
        messageOf(await client.command(['SET', 'a', '1'], 5_000)),
        'OUTCOME_UNKNOWN no answer in time; request port:7',
      );
      failNextWith(new SessionExpiredError('port', 8, 'the session expired'));
      assert.equal(
        messageOf(await client.command(['INCR', 'a'], 5_000)),
        'SESSION_EXPIRED the session expired',
      );
      assert.equal(await client.command(['PING'], 5_000), 'PONG');
    } finally {
      client.close();
    }
  });

  test('a command or a pipeline that fails unexpectedly (a bug) is answered ERR internal error, each command of it; the connection goes on', async () => {
    const { port, calls, failNextWith } = await start();
    failNextWith(new TypeError('a bug'));
    const text = await pipeline(port, ['SET a 1', 'SET b 2', 'GET a'], 3);
    assert.deepEqual(text.split('\r\n').slice(0, 3), [
      '-ERR internal error: a bug',
      '-ERR internal error: a bug',
      '-ERR internal error: a bug',
    ]);
    assert.equal(calls.length, 1, 'the three went as one sequence');
    const client = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
    try {
      failNextWith(new TypeError('another bug'));
      assert.equal(messageOf(await client.command(['GET', 'a'], 5_000)), 'ERR internal error: another bug');
      assert.equal(await client.command(['GET', 'a'], 5_000), null, 'nothing of the failed pipeline ran');
      assert.equal(await client.command(['PING'], 5_000), 'PONG');
    } finally {
      client.close();
    }
  });

  test("a READONLY connection's pipeline of reads is one read at its replica; from a write on, a sequence at the primary", async () => {
    const { port, calls } = await start();
    await pipeline(port, ['SET k v', 'READONLY', 'GET k', 'MGET k j', 'STRLEN k'], 7);
    assert.deepEqual(calls.slice(1), [
      { method: 'sequence', kinds: ['get', 'get-many', 'lengths'], read: bounded(41) },
    ]);
    // Reads before a write go as one read (a new connection: none of its own writes to wait for);
    // the write's sequence begins with it.
    await pipeline(port, ['READONLY', 'GET k', 'MGET k', 'SET k w', 'GET k'], 6);
    assert.deepEqual(calls.slice(2), [
      { method: 'sequence', kinds: ['get', 'get-many'], read: bounded(0) },
      { method: 'sequence', kinds: ['put', 'get'], read: null },
    ]);
  });

  test('what a sequence did not run (its results reached their limit) is sent again, and every reply keeps its place', async () => {
    // Results of at most 40 bytes a sequence: a GET of a 20-byte value answers 23.
    const limits: KvLimits = {
      ...kvLimitsDefault,
      valueSizeMaxBytes: 30,
      readBytesMax: 40,
      writeSequenceResultBytesMax: 40,
    };
    const { port, calls } = await start(limits);
    const twenty = 'a'.repeat(20);
    const text = await pipeline(
      port,
      [`SET a ${twenty}`, `SET b ${twenty}`, 'GET a', 'GET b', 'GET a', 'SET c x', 'GET c'],
      10,
    );
    assert.equal(
      text,
      `+OK\r\n+OK\r\n$20\r\n${twenty}\r\n$20\r\n${twenty}\r\n$20\r\n${twenty}\r\n+OK\r\n$1\r\nx\r\n`,
    );
    assert.deepEqual(
      calls.map((call) => call.kinds),
      [
        ['put', 'put', 'get', 'get', 'get', 'put', 'get'],
        // What did not run went back to the queue: its leading reads as one read, cut again...
        ['get', 'get'],
        ['get'],
        // ...and the write with what follows it.
        ['put', 'get'],
      ],
    );
  });
});

describe('what tools ask of the port: CLIENT LIST, INFO clients and persistence, MEMORY, OBJECT, RANDOMKEY', () => {
  const { servers, start } = storePorts();

  /** The fields of CLIENT LIST's lines, one record per connection. */
  const clientLines = (text: string): Record<string, string>[] =>
    text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) =>
        Object.fromEntries(line.split(' ').map((field) => field.split('=', 2) as [string, string])),
      );

  test('CLIENT LIST names every connection with its address, name, library, flags and last command; ID and TYPE filter it', async () => {
    const { port } = await start();
    const other = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
    const caller = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
    try {
      assert.equal(await other.command(['CLIENT', 'SETNAME', 'worker-7'], 5_000), 'OK');
      assert.equal(await other.command(['READONLY'], 5_000), 'OK');
      assert.equal(await other.command(['MULTI'], 5_000), 'OK');
      assert.equal(await other.command(['SET', 'k', 'v'], 5_000), 'QUEUED');
      assert.equal(await caller.command(['CLIENT', 'SETINFO', 'LIB-NAME', 'tool'], 5_000), 'OK');
      assert.equal(await caller.command(['CLIENT', 'SETINFO', 'lib-ver', '1.2.3'], 5_000), 'OK');
      const listed = await caller.command(['CLIENT', 'LIST'], 5_000);
      assert(Buffer.isBuffer(listed), 'CLIENT LIST answers a bulk string');
      const records = clientLines(listed.toString('utf8'));
      assert.equal(records.length, 2);
      const [otherRecord, callerRecord] = records;
      assert.equal(otherRecord?.name, 'worker-7');
      assert.equal(otherRecord?.flags, 'xr');
      assert.equal(otherRecord?.multi, '1');
      assert.equal(otherRecord?.cmd, 'set');
      assert.match(otherRecord?.addr ?? '', /^127\.0\.0\.1:\d+$/);
      assert.equal(otherRecord?.laddr, `127.0.0.1:${port}`);
      assert.equal(callerRecord?.['lib-name'], 'tool');
      assert.equal(callerRecord?.['lib-ver'], '1.2.3');
      assert.equal(callerRecord?.cmd, 'client|list');
      assert.equal(callerRecord?.flags, 'N');
      assert.equal(callerRecord?.multi, '-1');
      assert.equal(callerRecord?.user, 'default');
      const callerId = await caller.command(['CLIENT', 'ID'], 5_000);
      assert.equal(Number(callerRecord?.id), callerId);
      const mine = await caller.command(['CLIENT', 'INFO'], 5_000);
      assert(Buffer.isBuffer(mine));
      assert.equal(clientLines(mine.toString('utf8'))[0]?.cmd, 'client|info');
      const byId = await caller.command(['CLIENT', 'LIST', 'ID', String(otherRecord?.id)], 5_000);
      assert(Buffer.isBuffer(byId));
      assert.deepEqual(
        clientLines(byId.toString('utf8')).map((record) => record.name),
        ['worker-7'],
      );
      assert.equal(String(await caller.command(['CLIENT', 'LIST', 'TYPE', 'replica'], 5_000)), '');
      assert.equal(
        clientLines(String(await caller.command(['CLIENT', 'LIST', 'TYPE', 'normal'], 5_000))).length,
        2,
      );
      const refusals: (string | RedisReply)[] = [];
      for (const command of [
        ['CLIENT', 'LIST', 'TYPE', 'nosuch'],
        ['CLIENT', 'LIST', 'ID', '0'],
        ['CLIENT', 'LIST', 'bogus'],
        ['CLIENT', 'SETINFO', 'LIB-NAME', 'has space'],
        ['CLIENT', 'SETINFO', 'colour', 'x'],
        ['CLIENT', 'SETINFO', 'LIB-VER'],
      ]) {
        refusals.push(messageOf(await caller.command(command, 5_000)));
      }
      assert.deepEqual(refusals, [
        "ERR Unknown client type 'nosuch'",
        'ERR Invalid client ID',
        'ERR syntax error',
        'ERR lib-name cannot contain spaces, newlines or special characters.',
        "ERR Unrecognized option 'colour'",
        "ERR wrong number of arguments for 'client|setinfo' command",
      ]);
    } finally {
      other.close();
      caller.close();
    }
  });

  test("CLIENT LIST's last command of a connection whose commands were pipelined is the last of them", async () => {
    const { port } = await start();
    const { socket: pipelined, text: answered } = collecting(port);
    const caller = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
    try {
      pipelined.write('SET a 1\r\nGET a\r\n');
      await waitFor('both replies', () => (answered() === '+OK\r\n$1\r\n1\r\n' ? true : undefined));
      const records = clientLines(String(await caller.command(['CLIENT', 'LIST'], 5_000)));
      assert.deepEqual(
        records.map((record) => record.cmd),
        ['get', 'client|list'],
      );
    } finally {
      pipelined.destroy();
      caller.close();
    }
  });

  test('CLIENT KILL closes the connections its address or filters name, the caller after its answer', async () => {
    const { port } = await start();
    const victims = await Promise.all(
      [1, 2, 3].map(() => RedisPortClient.connect(`127.0.0.1:${port}`, 5_000)),
    );
    const caller = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
    try {
      const ids = await Promise.all(victims.map((victim) => victim.command(['CLIENT', 'ID'], 5_000)));
      const [first, second] = victims;
      assert.equal(await caller.command(['CLIENT', 'KILL', 'ID', String(ids[0])], 5_000), 1);
      await assert.rejects(first?.command(['PING'], 5_000) ?? Promise.resolve(), RedisConnectionError);
      const listed = String(await caller.command(['CLIENT', 'LIST', 'ID', String(ids[1])], 5_000));
      const address = /addr=(\S+)/.exec(listed)?.[1] ?? '';
      assert.equal(await caller.command(['CLIENT', 'KILL', address], 5_000), 'OK');
      await assert.rejects(second?.command(['PING'], 5_000) ?? Promise.resolve(), RedisConnectionError);
      assert.deepEqual(
        [
          messageOf(await caller.command(['CLIENT', 'KILL', '127.0.0.1:1'], 5_000)),
          messageOf(await caller.command(['CLIENT', 'KILL', 'ID', '0'], 5_000)),
          messageOf(await caller.command(['CLIENT', 'KILL', 'SKIPME', 'maybe'], 5_000)),
          messageOf(await caller.command(['CLIENT', 'KILL', 'NOPE', 'x'], 5_000)),
          // Everyone else: the third victim (the caller is skipped).
          await caller.command(['CLIENT', 'KILL', 'USER', 'default'], 5_000),
          await caller.command(['CLIENT', 'KILL', 'TYPE', 'pubsub'], 5_000),
        ],
        [
          'ERR No such client',
          'ERR client-id should be greater than 0',
          'ERR syntax error',
          'ERR syntax error',
          1,
          0,
        ],
      );
      assert.equal(await caller.command(['CLIENT', 'KILL', 'USER', 'default', 'SKIPME', 'no'], 5_000), 1);
      await assert.rejects(caller.command(['PING'], 5_000), RedisConnectionError);
    } finally {
      for (const client of [...victims, caller]) client.close();
    }
  });

  test('INFO clients counts the open connections; INFO persistence the log entries since the newest snapshot; INFO cpu this process', async () => {
    const { port } = await start();
    const idle = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
    try {
      assert.equal(await idle.command(['READONLY'], 5_000), 'OK');
      const [clients, persistence, cpu, all] = await oneByOne(port, [
        'INFO clients',
        'INFO persistence',
        'INFO cpu',
        'INFO',
      ]);
      assert.match(
        String(clients),
        /^# Clients\r\nconnected_clients:2\r\nmaxclients:10000\r\nblocked_clients:0\r\ntracking_clients:0\r\nunderstudy_readonly_clients:1\r\n$/,
      );
      // The stand-in replica: log index 12, no snapshot, no transfer, no disk facts of its own.
      assert.match(
        String(persistence),
        /^# Persistence\r\nloading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:12\r\n/,
      );
      assert.doesNotMatch(String(persistence), /rdb_bgsave_in_progress/);
      assert.match(String(persistence), /aof_enabled:1\r\naof_rewrite_in_progress:0\r\n/);
      assert.match(String(cpu), /^# CPU\r\nused_cpu_sys:\d+\.\d{6}\r\nused_cpu_user:\d+\.\d{6}\r\n$/);
      const titles = [...String(all).matchAll(/^# (\w+)\r$/gm)].map((match) => match[1]);
      assert.deepEqual(titles, [
        'Server',
        'Clients',
        'Memory',
        'Persistence',
        'Stats',
        'Replication',
        'CPU',
        'Commandstats',
        'Errorstats',
        'Keyspace',
      ]);
    } finally {
      idle.close();
    }
  });

  test('INFO stats counts the bytes the port read and wrote, to the byte, and no key evicted', async () => {
    const { port } = await start();
    assert.equal((await exchange(port, 'PING\r\n', lines(1))).text, '+PONG\r\n');
    const { text } = await exchange(port, 'INFO stats\r\n', (got) => got.endsWith('\r\n\r\n'));
    // In: PING's 6 bytes and this INFO's 12; out: +PONG's 7 (this answer is counted once written).
    assert.match(
      text,
      /total_net_input_bytes:18\r\ntotal_net_output_bytes:7\r\nrejected_connections:0\r\nevicted_keys:0\r\n/,
    );
  });

  test('INFO stats counts keyspace hits and misses of GET, GETEX, GETDEL and each key of MGET, pipelined too', async () => {
    const { port } = await start();
    await oneByOne(port, ['SET a 1', 'GET a', 'GET b', 'MGET a b c', 'STRLEN a', 'GETDEL a', 'GETEX a']);
    await exchange(port, 'GET x\r\nGET y\r\n', lines(2));
    // Answers of other commands, arrays of bulk strings among them, are no lookups.
    await oneByOne(port, ['SET s 1', 'SCAN 0 COUNT 100000', 'KEYS *', 'MULTI', 'GET s', 'EXEC', 'ECHO e']);
    const [stats] = await oneByOne(port, ['INFO stats']);
    assert.match(String(stats), /\r\nkeyspace_hits:3\r\nkeyspace_misses:6\r\n/);
  });

  test('INFO commandstats counts the calls of each command the port knows and their time, a pipeline shared; errorstats each error by its first word', async () => {
    const { port } = await start();
    await oneByOne(port, [
      'SET a 1',
      'GET a',
      'GET a',
      'GET',
      'FROBNICATE x',
      'INCR nosuch-number-here',
      'SET a notanumber',
    ]);
    await exchange(port, 'GET a\r\nGET a\r\nMGET a b\r\n', lines(6));
    await oneByOne(port, ['INCR a']);
    const [commandstats, errorstats] = await oneByOne(port, ['INFO commandstats', 'INFO errorstats']);
    const fields = new Map(
      [
        ...String(commandstats).matchAll(
          /^cmdstat_([a-z|]+):calls=(\d+),usec=(\d+),usec_per_call=(\d+\.\d\d)\r$/gm,
        ),
      ].map((match) => [match[1], Number(match[2])]),
    );
    // GET's arity refusal and the unknown command are no calls, as in Redis; INFO counts itself once answered.
    assert.deepEqual(Object.fromEntries(fields), { get: 4, incr: 2, mget: 1, set: 2 });
    assert.match(String(errorstats), /^# Errorstats\r\nerrorstat_ERR:count=3\r\n$/);
  });

  test('MEMORY USAGE counts key, value and the per-key overhead as used_memory does; OBJECT names the encoding; both nil for a missing key', async () => {
    const { port, store } = await start();
    const big = 'v'.repeat(45);
    const replies = await oneByOne(port, [
      'SET small abc',
      'SET number -9223372036854775808',
      'SET toolarge 9223372036854775808',
      `SET big ${big}`,
      'MEMORY USAGE small',
      'MEMORY USAGE big SAMPLES 0',
      'MEMORY USAGE missing',
      'OBJECT ENCODING small',
      'OBJECT ENCODING number',
      'OBJECT ENCODING toolarge',
      'OBJECT ENCODING big',
      'OBJECT ENCODING missing',
      'OBJECT REFCOUNT small',
      'OBJECT REFCOUNT missing',
      'OBJECT FREQ missing',
      'OBJECT FREQ small',
      'OBJECT IDLETIME small',
      'MEMORY USAGE small SAMPLES',
      'MEMORY USAGE small SAMPLES -1',
      'MEMORY STATS',
      'OBJECT ENCODING',
      'OBJECT nosuch k',
    ]);
    const smallBytes = 5 + 3 + 64;
    const bigBytes = 3 + 45 + 64;
    assert.deepEqual(replies.slice(4, 15).map(messageOf).map(String), [
      String(smallBytes),
      String(bigBytes),
      'null',
      'embstr',
      'int',
      'embstr',
      'raw',
      'null',
      '1',
      'null',
      'null',
    ]);
    const keysBytes = 5 + 3 + (6 + 20) + (8 + 19) + (3 + 45) + 4 * 64;
    assert.equal(store.size().bytes, keysBytes, 'MEMORY USAGE adds up to what used_memory counts');
    assert.match(
      String(messageOf(replies[15] as RedisReply)),
      /^ERR An LFU maxmemory policy is not selected/,
    );
    assert.match(
      String(messageOf(replies[16] as RedisReply)),
      /^ERR Understudy does not keep when a key was last used/,
    );
    assert.deepEqual(replies.slice(17).map(messageOf), [
      'ERR syntax error',
      'ERR syntax error',
      "ERR unknown subcommand 'STATS'. Try MEMORY HELP.",
      "ERR wrong number of arguments for 'object|encoding' command",
      "ERR unknown subcommand 'nosuch'. Try OBJECT HELP.",
    ]);
  });

  test("OBJECT ENCODING's edges, MEMORY USAGE's arguments, both HELPs, and an unknown command's arguments cut at 128 characters, as Redis", async () => {
    const { port } = await start();
    const replies = await oneByOne(port, [
      'SET least -9223372036854775808',
      'SET under -9223372036854775809',
      `SET e44 ${'v'.repeat(44)}`,
      'OBJECT ENCODING least',
      'OBJECT ENCODING under',
      'OBJECT ENCODING e44',
      'MEMORY USAGE',
      'MEMORY USAGE e44 COUNT 5',
      `NOSUCH ${'a'.repeat(125)} b`,
      `NOSUCH ${'a'.repeat(124)} b c`,
    ]);
    assert.deepEqual(replies.slice(3).map(messageOf), [
      Buffer.from('int'),
      Buffer.from('embstr'),
      Buffer.from('embstr'),
      "ERR wrong number of arguments for 'memory|usage' command",
      'ERR syntax error',
      `ERR unknown command 'NOSUCH', with args beginning with: '${'a'.repeat(125)}' `,
      `ERR unknown command 'NOSUCH', with args beginning with: '${'a'.repeat(124)}' 'b' `,
    ]);
    const [memoryHelp, objectHelp] = await oneByOne(port, ['MEMORY HELP', 'OBJECT HELP']);
    assert.equal(
      (memoryHelp as RedisReply[])[0],
      'MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
    );
    assert.ok((memoryHelp as RedisReply[]).includes('USAGE <key> [SAMPLES <count>]'));
    assert.equal(
      (objectHelp as RedisReply[])[0],
      'OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
    );
    assert.ok((objectHelp as RedisReply[]).includes('ENCODING <key>'));
  });

  test('MEMORY and OBJECT pipeline as reads of one sequence, after the writes before them', async () => {
    const { port, calls } = await start();
    const { text } = await exchange(port, 'SET a 12\r\nMEMORY USAGE a\r\nOBJECT ENCODING a\r\n', lines(4));
    assert.equal(text, '+OK\r\n:67\r\n$3\r\nint\r\n');
    assert.equal(calls.length, 1, 'one sequence');
  });

  test('SLOWLOG keeps the commands that took 10 ms or more, newest first, a pipeline as one entry; LATENCY reports no events', async () => {
    // Every command that needs the cluster fails after 30 ms here: slow, and logged whatever its answer.
    const { port } = await startPort(unreachableBackend(30), servers);
    // A busy machine may hold up any command past 10 ms: an entry may name one. What must hold is
    // that every entry took at least the threshold, and that each slow command is there.
    const fast = await oneByOne(port, ['CLIENT SETNAME probe', 'PING', 'SLOWLOG GET -1']);
    assert.deepEqual(fast.slice(0, 2), ['OK', 'PONG']);
    for (const entry of fast[2] as RedisReply[][]) {
      assert.ok((entry[2] as number) >= 10_000, `${String((entry[3] as Buffer[])[0])} took less than 10 ms`);
    }
    await oneByOne(port, ['GET first']);
    await exchange(port, 'GET a\r\nGET b\r\nGET c\r\n', lines(3));
    const replies = await oneByOne(port, ['SLOWLOG LEN', 'SLOWLOG GET', 'SLOWLOG GET 1', 'SLOWLOG GET -1']);
    const everyEntry = replies[3] as RedisReply[][];
    assert.equal(everyEntry.length, replies[0], 'GET -1: every entry');
    const gets = everyEntry.filter((entry) => String((entry[3] as Buffer[])[0]) === 'GET');
    assert.equal(gets.length, 2);
    const [newest, oldest] = gets as [RedisReply[], RedisReply[]];
    assert.deepEqual((newest[3] as Buffer[]).map(String), ['GET', 'a', '... (2 more pipelined commands)']);
    assert.deepEqual((oldest[3] as Buffer[]).map(String), ['GET', 'first']);
    assert.ok((newest[0] as number) > (oldest[0] as number), 'ids count up');
    assert.ok((oldest[2] as number) >= 10_000, 'microseconds, at least the threshold');
    assert.ok(Math.abs((oldest[1] as number) - Date.now() / 1000) < 60, 'a Unix time in seconds');
    assert.match(String(oldest[4]), /^127\.0\.0\.1:\d+$/);
    assert.equal(String(oldest[5]), '', 'the connection that sent it had no name');
    assert.deepEqual(replies[1], everyEntry.slice(0, 10), 'GET: the newest ten');
    assert.deepEqual(replies[2], everyEntry.slice(0, 1), 'GET 1: the newest');
    const more = await oneByOne(port, [
      'SLOWLOG GET -5',
      'SLOWLOG RESET',
      'SLOWLOG GET -1',
      'SLOWLOG NOPE',
      'LATENCY LATEST',
      'LATENCY HISTORY command',
      'LATENCY RESET',
      'LATENCY DOCTOR',
    ]);
    // Emptied: whatever is there now (the RESET itself, on a busy machine) came after it.
    const afterReset = more[2] as RedisReply[][];
    assert.ok(afterReset.every((entry) => String((entry[3] as Buffer[])[0]) === 'SLOWLOG'));
    assert.deepEqual([...more.slice(0, 2), ...more.slice(3)].map(messageOf), [
      'ERR count should be greater than or equal to -1',
      'OK',
      "ERR unknown subcommand 'NOPE'. Try SLOWLOG HELP.",
      [],
      [],
      0,
      "ERR unknown subcommand 'DOCTOR'. Try LATENCY HELP.",
    ]);
  });

  test("the slow log keeps an AUTH's or a HELLO's arguments as (redacted), as MONITOR shows them", () => {
    const slowLog = new SlowLog();
    const from = { remoteAddress: '127.0.0.1:50000', name: null };
    const command = (...words: string[]) => words.map((word) => Buffer.from(word));
    slowLog.note(command('AUTH', 'app1', 'app1.secret'), 20_000, from);
    slowLog.note(command('HELLO', '2', 'AUTH', 'app1', 'app1.secret'), 20_000, from);
    slowLog.note(command('GET', 'greeting'), 20_000, from);
    assert.deepEqual(
      slowLog.newest(-1).map((entry) => entry.args),
      [
        ['GET', 'greeting'],
        ['HELLO', '(redacted)', '(redacted)', '(redacted)', '(redacted)'],
        ['AUTH', '(redacted)', '(redacted)'],
      ],
    );
  });

  test("MONITOR streams the other connections' commands as Redis writes them, AUTH's arguments hidden; then only QUIT", async () => {
    const { port } = await start();
    const { socket: monitor, text: streamed } = collecting(port);
    const until = (done: (text: string) => boolean): Promise<boolean> =>
      waitFor('the monitor to be sent its lines', () => (done(streamed()) ? true : undefined));
    try {
      monitor.write('MONITOR\r\n');
      await until((text) => text === '+OK\r\n');
      const answers = await oneByOne(port, ['SET greeting say"hi\\', 'AUTH not-a-token', 'GET greeting']);
      assert.equal(answers[0], 'OK');
      await until((text) => text.split('\r\n').length > 4);
      const lines = streamed().split('\r\n').slice(1, 4);
      assert.match(
        lines[0] ?? '',
        /^\+\d{10}\.\d{6} \[0 127\.0\.0\.1:\d+\] "SET" "greeting" "say\\"hi\\\\"$/,
      );
      assert.match(lines[1] ?? '', /\] "AUTH" "\(redacted\)"$/);
      assert.doesNotMatch(streamed(), /not-a-token/);
      assert.match(lines[2] ?? '', /\] "GET" "greeting"$/);
      // Printable bytes (space to ~) as they are, the others in hex, as Redis's sdscatrepr.
      const sender = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
      try {
        await sender.command(['ECHO', 'a b~\x7f\x1f'], 5_000);
      } finally {
        sender.close();
      }
      await until((text) => text.split('\r\n').length > 5);
      assert.match(streamed().split('\r\n')[4] ?? '', /\] "ECHO" "a b~\\x7f\\x1f"$/);
      const before = streamed().length;
      monitor.write('PING\r\nQUIT\r\n');
      await until((text) => text.length > before && text.endsWith('+OK\r\n'));
      assert.equal(streamed().slice(before), '-ERR only QUIT is allowed in MONITOR mode\r\n+OK\r\n');
    } finally {
      monitor.destroy();
    }
  });

  test('a port takes at most 8 MONITOR connections at once; one more is refused until one closes', async () => {
    const { port } = await start();
    // Raw sockets: a monitor is sent lines it did not ask for, which a request-reply client refuses.
    const monitors = Array.from({ length: 8 }, () => connect(port, '127.0.0.1'));
    const ninth = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
    try {
      await Promise.all(
        monitors.map(
          (monitor) =>
            new Promise<void>((resolve) => {
              monitor.once('data', (chunk: Buffer) => {
                assert.equal(chunk.toString('latin1', 0, 5), '+OK\r\n');
                resolve();
              });
              monitor.write('MONITOR\r\n');
            }),
        ),
      );
      assert.equal(
        messageOf(await ninth.command(['MONITOR'], 5_000)),
        'ERR this port has 8 MONITOR connections, its most; close one first',
      );
      monitors[0]?.destroy();
      let again: RedisReply = null;
      for (let attempt = 0; attempt < 500 && again !== 'OK'; attempt++) {
        again = await ninth.command(['MONITOR'], 5_000);
        if (again !== 'OK') await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(again, 'OK', 'a place is free once a monitor closed');
    } finally {
      for (const monitor of monitors) monitor.destroy();
      ninth.close();
    }
  });

  test('a MONITOR connection that does not read what it is sent is closed once 8 MiB wait for it; the port goes on', async () => {
    const { port } = await start();
    const monitor = connect(port, '127.0.0.1');
    let answered = '';
    await new Promise<void>((resolve) => {
      monitor.on('data', (chunk: Buffer) => {
        answered += chunk.toString('latin1');
        if (answered.startsWith('+OK\r\n')) {
          monitor.pause(); // from here on it reads nothing
          resolve();
        }
      });
      monitor.write('MONITOR\r\n');
    });
    const clients = async (): Promise<number> => {
      const [info] = await oneByOne(port, ['INFO clients']);
      return Number(/connected_clients:(\d+)/.exec(String(info))?.[1]);
    };
    assert.equal(await clients(), 2, 'the monitor and the asking connection');
    const sender = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
    try {
      const big = 'm'.repeat(1024 * 1024);
      let echoed = 0;
      while (echoed < 64) {
        assert.equal(String(await sender.command(['ECHO', big], 5_000)).length, big.length);
        echoed += 1;
        if ((await clients()) === 2) break; // the sender and the asker: the monitor was closed
      }
      assert.equal(await clients(), 2, 'the monitor was closed, the sender still served');
      // Not before its lines of 1 MiB and more came to 8 MiB (what the kernel took besides, it waited past).
      assert.ok(echoed >= 8, `closed after ${echoed} lines of 1 MiB`);
      assert.equal(await sender.command(['PING'], 5_000), 'PONG');
    } finally {
      sender.close();
      monitor.destroy();
    }
  });

  test('a command whose MONITOR line alone is longer than the 8 MiB bound is sent whole to a monitor that reads', async () => {
    const { port } = await start();
    const monitor = connect(port, '127.0.0.1');
    let streamed = 0;
    let tail = '';
    monitor.on('data', (chunk: Buffer) => {
      streamed += chunk.length;
      tail = (tail + chunk.toString('latin1')).slice(-64);
    });
    const sender = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
    try {
      monitor.write('MONITOR\r\n');
      await waitFor('MONITOR to be answered', () => (streamed >= '+OK\r\n'.length ? true : undefined));
      const half = 'm'.repeat(bulkBytesMax);
      // Two arguments of the largest bulk size: a line past monitorBufferBytesMax (the store refuses the values).
      assert.ok(2 * bulkBytesMax >= monitorBufferBytesMax);
      await sender.command(['MSET', 'a', half, 'b', half], 10_000);
      await waitFor('the whole line', () =>
        tail.endsWith(`m"\r\n`) && streamed > 2 * bulkBytesMax ? true : undefined,
      );
      assert.equal(await sender.command(['PING'], 5_000), 'PONG');
      const before = streamed;
      await sender.command(['PING'], 5_000);
      await waitFor('the next line', () => (streamed > before ? true : undefined));
      assert.match(tail, /\] "PING"\r\n$/);
    } finally {
      sender.close();
      monitor.destroy();
    }
  });

  test('RANDOMKEY answers nil for an empty store, and each key of a small one about as often, nothing else', async () => {
    const { port } = await start();
    const [empty] = await oneByOne(port, ['RANDOMKEY']);
    assert.equal(empty, null);
    const keys = ['alpha', 'beta', 'gamma', 'delta'];
    await oneByOne(
      port,
      keys.map((key) => `SET ${key} 1`),
    );
    // Each of 4 keys is drawn a quarter of the time: fewer than 40 of 400 would happen about once in
    // 10^15 runs. (The first key after a random bucket alone, as before, drew a key that followed
    // another closely almost never: CI once saw 'delta' in none of 400 draws.)
    const drawn = new Map<string, number>();
    for (let draw = 0; draw < 400; draw++) {
      const [key] = await oneByOne(port, ['RANDOMKEY']);
      assert(Buffer.isBuffer(key), 'a key');
      assert(keys.includes(key.toString('utf8')), `${key.toString('utf8')} is a key of the store`);
      drawn.set(key.toString('utf8'), (drawn.get(key.toString('utf8')) ?? 0) + 1);
    }
    assert.deepEqual([...drawn.keys()].sort(), [...keys].sort());
    for (const [key, times] of drawn) assert(times >= 40, `${key} drawn ${times} times of 400`);
    await oneByOne(port, ['FLUSHALL']);
    const [none, multi, refused] = await oneByOne(port, ['RANDOMKEY', 'MULTI', 'RANDOMKEY']);
    assert.deepEqual([none, multi], [null, 'OK']);
    assert.equal(
      messageOf(refused as RedisReply),
      'ERR RANDOMKEY inside MULTI is not supported: it walks the keys in reads of its own, never in a transaction',
    );
  });
});

describe('reading a connection', () => {
  const servers: RespServer[] = [];
  after(async () => {
    for (const server of servers) await server.close();
  });

  /** A port whose cluster answers only once `release` is called: until then its first command waits. */
  const heldPort = async () => {
    const { backend } = storeBackend(false);
    const client = await backend.client(null);
    let asked = false;
    let release = (): void => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    backend.client = async () => {
      asked = true;
      await released;
      return client;
    };
    const { server, port } = await startPort(backend, servers);
    return { server, port, release, asked: () => asked };
  };

  test('a command that comes while the one before it waits is answered after it, in order', async () => {
    const { server, port, release, asked } = await heldPort();
    const { socket, text } = collecting(port);
    try {
      socket.write('GET a\r\n');
      await waitFor('the GET to reach the cluster', () => (asked() ? true : undefined));
      socket.write('PING\r\n');
      await waitFor('the PING to be read', () => (server.counters.inputBytes >= 13 ? true : undefined));
      release();
      await waitFor('both replies', () => (text().length >= '$-1\r\n+PONG\r\n'.length ? true : undefined));
      assert.equal(text(), '$-1\r\n+PONG\r\n');
    } finally {
      socket.destroy();
    }
  });

  test('a connection with pipelinedCommandsMax commands waiting is not read on until they are answered', async () => {
    const { server, port, release } = await heldPort();
    const count = 20 * pipelinedCommandsMax;
    const input = 'GET a\r\n'.repeat(count);
    const { socket, text: answer } = collecting(port);
    try {
      socket.write(input);
      await waitFor('the first commands to be read', () =>
        server.counters.inputBytes >= pipelinedCommandsMax * 'GET a\r\n'.length ? true : undefined,
      );
      // Held, the port reads no more (a wait that can only let a port that reads on show itself).
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.ok(
        server.counters.inputBytes < input.length,
        `read ${server.counters.inputBytes} of ${input.length} bytes while the commands waited`,
      );
      release();
      await waitFor('every reply', () => (answer().length >= count * '$-1\r\n'.length ? true : undefined));
      assert.equal(answer(), '$-1\r\n'.repeat(count));
      assert.equal(server.counters.inputBytes, input.length);
    } finally {
      socket.destroy();
    }
  });

  test('a connection that does not read its replies is not run on past what its socket holds; once it reads, the rest are run', async () => {
    const { backend } = storeBackend(false);
    const { server, port } = await startPort(backend, servers);
    const value = 'v'.repeat(1024 * 1024);
    await oneByOne(port, [`SET big ${value}`]);
    const count = 100;
    const socket = connect(port, '127.0.0.1');
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    socket.pause(); // reads nothing until resumed
    try {
      const before = server.counters.commands;
      socket.write('GET big\r\n'.repeat(count));
      await waitFor('the first GET to be answered', () =>
        server.counters.commands > before ? true : undefined,
      );
      // Unread, the replies fill the socket's buffers and the port waits (a wait that can only let a port
      // that runs on show itself).
      await new Promise((resolve) => setTimeout(resolve, 300));
      const ran = server.counters.commands - before;
      assert.ok(
        ran < count / 2,
        `${ran} of ${count} GETs of 1 MiB ran for a connection that read none of them`,
      );
      socket.resume();
      const replyBytes = `$${value.length}\r\n${value}\r\n`.length;
      await waitFor('every reply', () => (received >= count * replyBytes ? true : undefined));
      assert.equal(received, count * replyBytes);
      assert.equal(server.counters.commands - before, count);
    } finally {
      socket.destroy();
    }
  });
});

describe('MULTI, EXEC and DISCARD', () => {
  const servers: RespServer[] = [];
  const start = async (limits?: KvLimits) => {
    const { backend, calls, store, failNextWith } = storeBackend(false, limits);
    return { ...(await startPort(backend, servers)), calls, store, failNextWith };
  };
  after(async () => {
    for (const server of servers) await server.close();
  });

  test('EXEC runs the queued commands as one whole sequence and answers their replies as an array', async () => {
    const { port, calls } = await start();
    const replies = await oneByOne(port, [
      'MULTI',
      'SET a 1',
      'INCR a',
      'SET b 2 EX 0',
      'APPEND a x',
      'INCR a',
      'GET a',
      'EXEC',
      'GET a',
    ]);
    assert.deepEqual(replies.slice(0, 7), ['OK', 'QUEUED', 'QUEUED', 'QUEUED', 'QUEUED', 'QUEUED', 'QUEUED']);
    const [ok, two, expiry, length, notInteger, value] = replies[7] as RedisReply[];
    assert.deepEqual([ok, two, length, value], ['OK', 2, 2, Buffer.from('2x')]);
    assert.equal(String((expiry as { message: string }).message), "ERR invalid expire time in 'set' command");
    assert.equal((notInteger as { message: string }).message, 'ERR value is not an integer or out of range');
    assert.deepEqual(replies[8], Buffer.from('2x'));
    assert.deepEqual(calls[0], {
      method: 'sequence',
      kinds: ['put', 'incr', 'append', 'incr', 'get'],
      read: null,
      whole: true,
    });
  });

  test('a command refused before it is queued discards the transaction at EXEC; nothing reaches the cluster', async () => {
    const { port, calls } = await start();
    const replies = await oneByOne(port, ['MULTI', 'SET a 1', 'NOSUCH x', 'GET', 'PING', 'EXEC', 'EXEC']);
    assert.deepEqual(replies.map(messageOf), [
      'OK',
      'QUEUED',
      "ERR unknown command 'NOSUCH', with args beginning with: 'x' ",
      "ERR wrong number of arguments for 'get' command",
      'ERR PING inside MULTI is not supported: Understudy queues only key/value commands',
      'EXECABORT Transaction discarded because of previous errors.',
      'ERR EXEC without MULTI',
    ]);
    assert.deepEqual(calls, []);
  });

  test('MULTI does not nest, DISCARD drops the queue, and an empty transaction answers an empty array', async () => {
    const { port, calls } = await start();
    const replies = await oneByOne(port, [
      'MULTI',
      'MULTI',
      'SET a 1',
      'DISCARD',
      'DISCARD',
      'MULTI',
      'EXEC',
      'GET a',
    ]);
    assert.deepEqual(replies.map(messageOf), [
      'OK',
      'ERR MULTI calls can not be nested',
      'QUEUED',
      'OK',
      'ERR DISCARD without MULTI',
      'OK',
      [],
      null,
    ]);
    assert.deepEqual(calls, [{ method: 'execute', kinds: ['get'], read: undefined }]);
  });

  test('a transaction whose results would pass their bound is refused whole: nothing of it runs', async () => {
    const limits: KvLimits = { ...kvLimitsDefault, valueSizeMaxBytes: 30, writeSequenceResultBytesMax: 40 };
    const { port, store } = await start(limits);
    const twenty = 'v'.repeat(20);
    await oneByOne(port, [`SET big ${twenty}`]);
    const replies = await oneByOne(port, ['MULTI', 'SET a 1', 'GET big', 'GET big', 'EXEC']);
    assert.match(
      String((replies[4] as { message: string }).message),
      /^ERR the results of the whole sequence would pass 40 bytes/,
    );
    assert.equal(store.entryCount, 1, 'a was not written');
    // Behind a WATCH whose key did not change, the refusal is still answered, not the nil of a change.
    const watched = await oneByOne(port, ['WATCH big', 'MULTI', 'SET a 1', 'GET big', 'GET big', 'EXEC']);
    assert.match(
      String((watched[5] as { message: string }).message),
      /^ERR the results of the whole sequence would pass 40 bytes/,
    );
    assert.equal(store.entryCount, 1, 'a was not written');
  });

  test('a transaction that fails unexpectedly (a bug) is answered ERR internal error at EXEC; the connection goes on', async () => {
    const { port, failNextWith } = await start();
    const client = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
    try {
      for (const command of [['MULTI'], ['SET', 'a', '1'], ['INCR', 'a']])
        await client.command(command, 5_000);
      failNextWith(new TypeError('a bug'));
      assert.equal(messageOf(await client.command(['EXEC'], 5_000)), 'ERR internal error: a bug');
      assert.equal(await client.command(['GET', 'a'], 5_000), null, 'nothing of it ran');
      assert.equal(await client.command(['PING'], 5_000), 'PONG');
    } finally {
      client.close();
    }
  });
});

describe('WATCH and UNWATCH', () => {
  const { servers, start } = storePorts();

  /** Two connections to `port`, each sending its commands one by one, in the order given. */
  const twoConnections = async (port: number, steps: readonly (readonly ['a' | 'b', string])[]) => {
    const a = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
    const b = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
    try {
      const replies: (ReturnType<typeof messageOf> | null)[] = [];
      for (const [who, command] of steps) {
        replies.push(messageOf(await (who === 'a' ? a : b).command(command.split(' '), 5_000)));
      }
      return replies;
    } finally {
      a.close();
      b.close();
    }
  };

  test('EXEC after WATCH runs behind an expect of the watched values; if one changed it answers nil and nothing ran', async () => {
    const { port, calls } = await start();
    const replies = await twoConnections(port, [
      ['a', 'SET w 1'],
      ['a', 'WATCH w absent'],
      ['b', 'SET w 2'],
      ['a', 'MULTI'],
      ['a', 'SET out changed'],
      ['a', 'EXEC'],
      ['a', 'GET out'],
      // The watch ended with EXEC: the next transaction runs, behind a fresh WATCH of its own.
      ['a', 'WATCH w'],
      ['a', 'MULTI'],
      ['a', 'INCR w'],
      ['a', 'EXEC'],
      // A watched key that was absent and is written counts as changed.
      ['a', 'WATCH absent'],
      ['b', 'SET absent now'],
      ['a', 'MULTI'],
      ['a', 'GET w'],
      ['a', 'EXEC'],
    ]);
    assert.deepEqual(replies, [
      'OK',
      'OK',
      'OK',
      'OK',
      'QUEUED',
      null,
      null,
      'OK',
      'OK',
      'QUEUED',
      [3],
      'OK',
      'OK',
      'OK',
      'QUEUED',
      null,
    ]);
    const expectKinds = calls.filter((call) => call.kinds[0] === 'expect');
    assert.deepEqual(
      expectKinds.map((call) => ({ kinds: call.kinds, whole: call.whole })),
      [
        { kinds: ['expect', 'put'], whole: true },
        { kinds: ['expect', 'incr'], whole: true },
        { kinds: ['expect', 'get'], whole: true },
      ],
    );
    // Each WATCH read its keys at the primary, once each.
    assert.deepEqual(
      calls.filter((call) => call.kinds[0] === 'get-many').map((call) => call.read),
      [undefined, undefined, undefined],
    );
  });

  test('UNWATCH and DISCARD end the watch; WATCH inside MULTI discards the transaction, as in Redis 7', async () => {
    const { port } = await start();
    const replies = await twoConnections(port, [
      ['a', 'WATCH k'],
      ['a', 'UNWATCH'],
      ['b', 'SET k 1'],
      ['a', 'MULTI'],
      ['a', 'SET seen 1'],
      ['a', 'EXEC'],
      ['a', 'WATCH k'],
      ['a', 'MULTI'],
      ['a', 'DISCARD'],
      ['b', 'SET k 2'],
      ['a', 'MULTI'],
      ['a', 'SET seen 2'],
      ['a', 'EXEC'],
      ['a', 'MULTI'],
      ['a', 'WATCH k'],
      ['a', 'EXEC'],
      ['a', 'WATCH'],
      ['a', 'GET seen'],
    ]);
    assert.deepEqual(replies, [
      'OK',
      'OK',
      'OK',
      'OK',
      'QUEUED',
      ['OK'],
      'OK',
      'OK',
      'OK',
      'OK',
      'OK',
      'QUEUED',
      ['OK'],
      'OK',
      'ERR Command not allowed inside a transaction',
      'EXECABORT Transaction discarded because of previous errors.',
      "ERR wrong number of arguments for 'watch' command",
      Buffer.from('2'),
    ]);
  });

  test('an empty transaction, or one of UNWATCH alone, still checks the watch; UNWATCH with an argument discards it', async () => {
    const { port, calls } = await start();
    const replies = await twoConnections(port, [
      ['a', 'WATCH k'],
      ['b', 'SET k 1'],
      ['a', 'MULTI'],
      ['a', 'EXEC'],
      ['a', 'WATCH k'],
      ['a', 'MULTI'],
      ['a', 'EXEC'],
      ['a', 'WATCH k'],
      ['b', 'SET k 2'],
      ['a', 'MULTI'],
      ['a', 'UNWATCH'],
      ['a', 'EXEC'],
      ['a', 'MULTI'],
      ['a', 'UNWATCH k'],
      ['a', 'EXEC'],
    ]);
    assert.deepEqual(replies, [
      'OK',
      'OK',
      'OK',
      null,
      'OK',
      'OK',
      [],
      'OK',
      'OK',
      'OK',
      'QUEUED',
      null,
      'OK',
      "ERR wrong number of arguments for 'unwatch' command",
      'EXECABORT Transaction discarded because of previous errors.',
    ]);
    assert.equal(
      calls.filter((call) => call.kinds[0] === 'expect').length,
      3,
      'each EXEC behind a watch asked',
    );
  });

  test('UNWATCH inside MULTI is queued and answered OK in EXEC, which still checks the watch, as in Redis', async () => {
    const { port } = await start();
    const replies = await twoConnections(port, [
      ['a', 'WATCH k'],
      ['a', 'MULTI'],
      ['a', 'UNWATCH'],
      ['a', 'SET out 1'],
      ['b', 'SET k changed'],
      ['a', 'EXEC'],
      ['a', 'MULTI'],
      ['a', 'UNWATCH'],
      ['a', 'SET out 2'],
      ['a', 'EXEC'],
      ['a', 'GET out'],
    ]);
    assert.deepEqual(replies, [
      'OK',
      'OK',
      'QUEUED',
      'QUEUED',
      'OK',
      null,
      'OK',
      'QUEUED',
      'QUEUED',
      ['OK', 'OK'],
      Buffer.from('2'),
    ]);
  });

  test('the guard expects the value the connection last saw: a GET after WATCH replaces it, so a value given back still aborts', async () => {
    const { port } = await start();
    const replies = await twoConnections(port, [
      ['a', 'SET w 1'],
      ['a', 'WATCH w'],
      ['b', 'SET w 2'],
      ['a', 'GET w'],
      ['b', 'SET w 1'],
      // The transaction was computed from 2; w holds 1 again (its value at WATCH): it must not run.
      ['a', 'MULTI'],
      ['a', 'SET w 3'],
      ['a', 'EXEC'],
      // Read after a change: the transaction runs on the value the connection saw.
      ['a', 'WATCH x'],
      ['b', 'SET x 5'],
      ['a', 'MGET x w'],
      ['a', 'MULTI'],
      ['a', 'SET x 6'],
      ['a', 'EXEC'],
      ['a', 'MGET x w'],
    ]);
    assert.deepEqual(replies, [
      'OK',
      'OK',
      'OK',
      Buffer.from('2'),
      'OK',
      'OK',
      'QUEUED',
      null,
      'OK',
      'OK',
      [Buffer.from('5'), Buffer.from('1')],
      'OK',
      'QUEUED',
      ['OK'],
      [Buffer.from('6'), Buffer.from('1')],
    ]);
  });

  test("a READONLY connection's reads go to the primary while it watches, and to its replica again after", async () => {
    const { backend, calls } = storeBackend(true);
    const { port } = await startPort(backend, servers);
    await oneByOne(port, ['GET k', 'WATCH k', 'GET k', 'MULTI', 'SET k 1', 'EXEC', 'GET k']);
    assert.deepEqual(
      calls.filter((call) => call.kinds[0] === 'get').map((call) => call.read),
      [bounded(0), undefined, bounded(41)],
    );
  });

  test('a value read past the watch byte bound makes EXEC answer nil, and nothing of it runs', async () => {
    const { port, store } = await start();
    const a = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
    const b = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
    try {
      const big = 'v'.repeat(watchedBytesMax);
      assert.equal(await a.command(['WATCH', 'big'], 5_000), 'OK');
      assert.equal(await b.command(['SET', 'big', big], 5_000), 'OK');
      assert.equal(((await a.command(['GET', 'big'], 5_000)) as Buffer).length, watchedBytesMax);
      assert.equal(await a.command(['MULTI'], 5_000), 'OK');
      assert.equal(await a.command(['SET', 'out', 'x'], 5_000), 'QUEUED');
      assert.equal(await a.command(['EXEC'], 5_000), null);
      assert.equal(store.entryCount, 1, 'out was not written');
    } finally {
      a.close();
      b.close();
    }
  });

  test('WATCH of a key already watched reads nothing again: a change since the first WATCH still aborts EXEC, as in Redis', async () => {
    const { port, calls } = await start();
    const replies = await twoConnections(port, [
      ['a', 'WATCH k'],
      ['b', 'SET k 1'],
      ['a', 'WATCH k'],
      ['a', 'MULTI'],
      ['a', 'SET out 1'],
      ['a', 'EXEC'],
      ['a', 'GET out'],
    ]);
    assert.deepEqual(replies, ['OK', 'OK', 'OK', 'OK', 'QUEUED', null, null]);
    assert.equal(
      calls.filter((call) => call.kinds[0] === 'get-many').length,
      1,
      'one read of k, at the first WATCH',
    );
  });

  test('a failed operation while watching answers its own error; a bug in WATCH is answered ERR internal error', async () => {
    const { port, failNextWith } = await start();
    const replies = await oneByOne(port, ['SET s word', 'WATCH s', 'INCR s', 'GET s', 'MULTI', 'EXEC']);
    assert.deepEqual(replies.map(messageOf), [
      'OK',
      'OK',
      'ERR value is not an integer or out of range',
      Buffer.from('word'),
      'OK',
      [],
    ]);
    // Pipelined, the INCR fails inside a sequence whose GET after it is noted as seen.
    const { text } = await exchange(port, 'WATCH s\r\nINCR s\r\nGET s\r\n', lines(4));
    assert.deepEqual(text.split('\r\n').slice(0, 4), [
      '+OK',
      '-ERR value is not an integer or out of range',
      '$4',
      'word',
    ]);
    failNextWith(new TypeError('a bug'));
    assert.deepEqual((await oneByOne(port, ['WATCH s', 'PING'])).map(messageOf), [
      'ERR internal error: a bug',
      'PONG',
    ]);
  });

  test('reads a sequence did not run, while watching, are run again and answered; the watch holds what they read', async () => {
    // Results of at most 40 bytes a sequence: a GET of a 20-byte value answers 23.
    const limits: KvLimits = {
      ...kvLimitsDefault,
      valueSizeMaxBytes: 30,
      readBytesMax: 40,
      writeSequenceResultBytesMax: 40,
    };
    const { port } = await start(limits);
    const twenty = 'a'.repeat(20);
    await oneByOne(port, [`SET a ${twenty}`]);
    const { text } = await exchange(
      port,
      'WATCH a\r\nGET a\r\nGET a\r\nGET a\r\nMULTI\r\nEXEC\r\n',
      lines(9),
    );
    assert.deepEqual(text.split('\r\n').slice(0, 9), [
      '+OK',
      ...[1, 2, 3].flatMap(() => ['$20', twenty]),
      '+OK',
      '*0',
    ]);
  });

  test('WATCH holds at most watchedBytesMax bytes of keys and values: exactly that is watched, a byte more refused', async () => {
    const { port } = await start();
    const a = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
    const b = await RedisPortClient.connect(`127.0.0.1:${port}`, 5_000);
    try {
      // Keys of two bytes: a value of watchedBytesMax - 2 fills the bound exactly.
      assert.equal(await b.command(['SET', 'k1', 'v'.repeat(watchedBytesMax - 2)], 5_000), 'OK');
      assert.equal(await b.command(['SET', 'k2', 'v'.repeat(watchedBytesMax - 1)], 5_000), 'OK');
      assert.equal(
        messageOf(await a.command(['WATCH', 'k2'], 5_000)),
        `ERR WATCH would hold ${watchedBytesMax + 1} bytes of keys and their values: one connection watches at most ${watchedBytesMax} in Understudy, which compares values`,
      );
      assert.equal(await a.command(['WATCH', 'k1'], 5_000), 'OK');
      assert.equal(await b.command(['SET', 'k1', 'w'.repeat(watchedBytesMax - 2)], 5_000), 'OK');
      // Read after the change, exactly at the bound: the guard expects what was read, and EXEC runs.
      assert.equal(((await a.command(['GET', 'k1'], 5_000)) as Buffer).length, watchedBytesMax - 2);
      assert.equal(await a.command(['MULTI'], 5_000), 'OK');
      assert.equal(await a.command(['SET', 'out', 'x'], 5_000), 'QUEUED');
      assert.deepEqual(await a.command(['EXEC'], 5_000), ['OK']);
    } finally {
      a.close();
      b.close();
    }
  });

  test('a connection watches exactly watchedKeysMax keys; one more key is refused', async () => {
    const { port } = await start();
    const keys = Array.from({ length: watchedKeysMax }, (_, at) => `k${at}`);
    const replies = await oneByOne(port, [
      `WATCH ${keys.join(' ')}`,
      `WATCH ${keys.join(' ')}`,
      'WATCH more',
    ]);
    assert.deepEqual(replies.map(messageOf), [
      'OK',
      'OK',
      `ERR WATCH of ${watchedKeysMax + 1} keys: one connection watches at most ${watchedKeysMax} in Understudy`,
    ]);
  });

  test('a connection watches at most watchedKeysMax keys; WATCH past it is refused and watches none of them', async () => {
    const { port, calls } = await start();
    const keys = Array.from({ length: watchedKeysMax + 1 }, (_, at) => `k${at}`);
    const replies = await oneByOne(port, [`WATCH ${keys.join(' ')}`, 'MULTI', 'SET k0 x', 'EXEC']);
    assert.deepEqual(replies.map(messageOf), [
      `ERR WATCH of ${watchedKeysMax + 1} keys: one connection watches at most ${watchedKeysMax} in Understudy`,
      'OK',
      'QUEUED',
      ['OK'],
    ]);
    assert.deepEqual(
      calls.map((call) => call.kinds),
      [['put']],
    );
  });
});

test('the cluster backend connects at first use, shares the client, connects again after a failed connect, and refuses once closed', async () => {
  // A coordinator's address, and then nobody there: the first connect gives up at its deadline.
  const first = await fakeCoordinator([]);
  const address = first.listener.address;
  await first.listener.close();
  const backend = clusterBackend({ coordinator: address, clusterId, deadlineMs: 300, local: () => local });
  let coordinator: Awaited<ReturnType<typeof fakeCoordinator>> | null = null;
  try {
    await assert.rejects(backend.client(null), UnavailableError);
    coordinator = await fakeCoordinator([], Number(address.split(':').pop()));
    const client = await backend.client(null);
    assert.equal(await backend.client(null), client, 'one client per token, shared by its connections');
    await backend.close();
    await assert.rejects(backend.client(null), /the Redis port is closed/);
  } finally {
    await backend.close();
    await coordinator?.listener.close();
  }
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
