// The coordinator's Sentinel port, against a status the test sets: what Redis clients with Sentinel
// support read from it (the primary's Redis address, the master's and replicas' fields), the
// +switch-master message a new primary brings, AUTH, and bad input.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { createLogger } from '../../src/node/logger.js';
import type { SwitchoverOutcome } from '../../src/protocol/effects.js';
import type { ReplicaStatus, StatusReply } from '../../src/protocol/messages.js';
import { logIndex, type ReplicaId, replicaId, type View, viewNumber } from '../../src/protocol/types.js';
import { markDown } from '../../src/resp/sentinel-events.js';
import { SentinelServer, type SentinelSource } from '../../src/resp/sentinel-server.js';
import { type Credentials, makeToken, parseCredentials } from '../../src/transport/auth.js';

function row(id: string, redisPort: number | null, alive = true): ReplicaStatus {
  return {
    id: replicaId(id),
    address: `127.0.0.1:${7000 + Number(id.slice(1))}`,
    role: 'none',
    alive,
    durableIndex: logIndex(40),
    appliedIndex: logIndex(40),
    commitIndex: logIndex(40),
    problem: alive ? null : 'no heartbeat for 700 ms',
    transfer: null,
    snapshotIndex: logIndex(0),
    sessions: 0,
    formatLevel: 2,
    redisAddress: redisPort === null ? null : `127.0.0.1:${redisPort}`,
  };
}

function view(number: number, primary: string, backups: string[], learners: string[] = []): View {
  return {
    number: viewNumber(number),
    primary: replicaId(primary),
    backups: backups.map(replicaId),
    learners: learners.map(replicaId),
  };
}

/** A coordinator's status the test changes, and tells of as the coordinator tells of a stored view. */
class FakeCoordinator implements SentinelSource {
  current: StatusReply = {
    type: 'status_reply',
    id: 0,
    view: view(3, 'r1', ['r2', 'r3']),
    replicas: [row('r1', 6379), row('r2', 6380), row('r3', 6381)],
    problem: null,
    asyncLost: 0,
    promotionsWithoutHolders: 0,
    formatLevel: 2,
    service: null,
  };
  readonly #listeners = new Set<() => void>();
  /** Switchovers asked for, and what the next one is answered (null: under way). */
  readonly switchovers: { readonly to: string; readonly by: string | null }[] = [];
  switchoverAnswer: SwitchoverOutcome | null = null;

  /** Set: each switchover is answered later, when the test resolves the one it was handed (a standby's). */
  answerLater: ((outcome: SwitchoverOutcome | null) => void)[] | null = null;

  switchover(to: ReplicaId, by: string | null): SwitchoverOutcome | null | Promise<SwitchoverOutcome | null> {
    this.switchovers.push({ to, by });
    const later = this.answerLater;
    if (later === null) return this.switchoverAnswer;
    return new Promise((resolve) => later.push(resolve));
  }

  /** The other coordinators' Sentinel ports it answers (the etcd home lists them). */
  others: { readonly runId: string; readonly address: string }[] = [];

  otherSentinels(): readonly { readonly runId: string; readonly address: string }[] {
    return this.others;
  }

  status(): StatusReply {
    return this.current;
  }

  onViewChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  install(next: Partial<StatusReply>): void {
    this.current = { ...this.current, ...next };
    for (const listener of this.#listeners) listener();
  }
}

function startSentinel(source: SentinelSource, credentials?: Credentials): Promise<SentinelServer> {
  return SentinelServer.start({
    listen: '127.0.0.1:0',
    source,
    masterName: 'understudy',
    failureTimeoutMs: 600,
    understudyVersion: 'test',
    logger: createLogger({ level: 'silent' }),
    ...(credentials === undefined ? {} : { credentials }),
  });
}

function portOf(server: SentinelServer): number {
  return Number(server.address.split(':').at(-1));
}

/** The reply's flat field/value list as an object, as clients read Sentinel's maps. */
function fieldsOf(flat: unknown): Record<string, string> {
  assert(Array.isArray(flat));
  const out: Record<string, string> = {};
  for (let at = 0; at < flat.length; at += 2) out[String(flat[at])] = String(flat[at + 1]);
  return out;
}

function client(port: number, options: { password?: string; enableReadyCheck?: boolean } = {}): Redis {
  const redis = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    ...options,
  });
  redis.on('error', () => {}); // each test awaits what it expects; a reconnect is never wanted
  return redis;
}

/** Resolves once `condition` holds (checked every 5 ms, for at most 10 s: a deadline, not a timing). */
async function waitUntil(condition: () => boolean): Promise<void> {
  for (const endMs = performance.now() + 10_000; !condition(); ) {
    if (performance.now() > endMs) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Sends raw bytes and collects what comes back until the server closes or `untilBytes` arrived. */
async function exchange(port: number, bytes: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let received = '';
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  socket.write(bytes);
  await once(socket, 'close');
  return received;
}

describe('the Sentinel port', { concurrency: false }, () => {
  const coordinator = new FakeCoordinator();
  let server: SentinelServer;
  let port: number;
  const clients: Redis[] = [];
  const open = async (options: { password?: string } = {}, at = port): Promise<Redis> => {
    const redis = client(at, options);
    clients.push(redis);
    await redis.connect();
    return redis;
  };

  before(async () => {
    server = await startSentinel(coordinator);
    port = portOf(server);
  });

  after(async () => {
    for (const redis of clients) redis.disconnect();
    await server.close();
  });

  test("names the primary's Redis port, its replicas, and itself as Sentinel does", async () => {
    const redis = await open();
    assert.deepEqual(await redis.call('SENTINEL', 'get-master-addr-by-name', 'understudy'), [
      '127.0.0.1',
      '6379',
    ]);
    assert.equal(
      await redis.call('SENTINEL', 'get-master-addr-by-name', 'other'),
      null,
      'an unknown name: nil',
    );
    const masters = (await redis.call('SENTINEL', 'masters')) as unknown[];
    assert.equal(masters.length, 1);
    const master = fieldsOf(masters[0]);
    assert.equal(master.name, 'understudy');
    assert.equal(master.ip, '127.0.0.1');
    assert.equal(master.port, '6379');
    assert.equal(master.flags, 'master');
    assert.equal(master['num-slaves'], '2');
    assert.equal(master['num-other-sentinels'], '0');
    assert.equal(master['config-epoch'], '3', 'the view number');
    assert.equal(master['down-after-milliseconds'], '600');
    assert.deepEqual(fieldsOf(await redis.call('SENTINEL', 'master', 'understudy')), master);
    await assert.rejects(redis.call('SENTINEL', 'master', 'other'), /ERR No such master with that name/);

    const replicas = ((await redis.call('SENTINEL', 'replicas', 'understudy')) as unknown[]).map(fieldsOf);
    assert.deepEqual(
      replicas.map((replica) => [
        replica.name,
        replica.flags,
        replica['master-port'],
        replica['master-link-status'],
      ]),
      [
        ['127.0.0.1:6380', 'slave', '6379', 'ok'],
        ['127.0.0.1:6381', 'slave', '6379', 'ok'],
      ],
    );
    assert.deepEqual(
      await redis.call('SENTINEL', 'slaves', 'understudy'),
      await redis.call('SENTINEL', 'replicas', 'understudy'),
    );
    assert.deepEqual(await redis.call('SENTINEL', 'sentinels', 'understudy'), []);
    assert.match(String(await redis.call('SENTINEL', 'ckquorum', 'understudy')), /^OK 1 usable Sentinels/);
    assert.match(String(await redis.call('SENTINEL', 'myid')), /^[0-9a-f]{40}$/);
    assert.deepEqual(await redis.call('ROLE'), ['sentinel', ['understudy']]);
    const info = String(await redis.call('INFO'));
    assert.match(info, /redis_mode:sentinel/);
    assert.match(info, /master0:name=understudy,status=ok,address=127\.0\.0\.1:6379,slaves=2,sentinels=1/);
    assert.doesNotMatch(String(await redis.call('INFO', 'sentinel')), /# Server/);
    assert.equal(await redis.ping(), 'PONG');

    // On the etcd home the other coordinators' Sentinel ports are its peers, as Sentinels list theirs.
    const runId = 'ab'.repeat(20);
    coordinator.others = [{ runId, address: '127.0.0.1:26380' }];
    try {
      const [peer, ...more] = (await redis.call('SENTINEL', 'sentinels', 'understudy')) as unknown[];
      assert.equal(more.length, 0);
      const fields = fieldsOf(peer);
      assert.deepEqual(
        [fields.name, fields.ip, fields.port, fields.runid, fields.flags],
        [runId, '127.0.0.1', '26380', runId, 'sentinel'],
      );
      assert.equal(
        fieldsOf(await redis.call('SENTINEL', 'master', 'understudy'))['num-other-sentinels'],
        '1',
      );
      assert.match(String(await redis.call('SENTINEL', 'ckquorum', 'understudy')), /^OK 2 usable Sentinels/);
      assert.match(String(await redis.call('INFO', 'sentinel')), /slaves=2,sentinels=2/);
    } finally {
      coordinator.others = [];
    }
  });

  test('a dead primary is flagged down, a learner has priority 0, and a primary with no Redis port is named by none', async () => {
    const redis = await open();
    const saved = coordinator.current;
    try {
      coordinator.current = {
        ...saved,
        view: view(4, 'r1', ['r2'], ['r3']),
        replicas: [row('r1', 6379, false), row('r2', 6380), row('r3', 6381)],
      };
      const master = fieldsOf(await redis.call('SENTINEL', 'master', 'understudy'));
      assert.equal(master.flags, 'master,s_down,o_down');
      const replicas = ((await redis.call('SENTINEL', 'replicas', 'understudy')) as unknown[]).map(fieldsOf);
      assert.deepEqual(
        replicas.map((replica) => [replica.port, replica['slave-priority'], replica['master-link-status']]),
        [
          ['6380', '100', 'err'],
          ['6381', '0', 'err'],
        ],
      );
      assert.match(String(await redis.call('INFO', 'sentinel')), /status=odown/);

      coordinator.current = { ...saved, replicas: [row('r1', null), row('r2', 6380), row('r3', 6381)] };
      assert.equal(await redis.call('SENTINEL', 'get-master-addr-by-name', 'understudy'), null);
      assert.deepEqual(await redis.call('SENTINEL', 'masters'), []);
      await assert.rejects(
        redis.call('SENTINEL', 'master', 'understudy'),
        /ERR the primary r1 has reported no Redis port/,
      );
      await assert.rejects(redis.call('SENTINEL', 'ckquorum', 'understudy'), /NOQUORUM/);

      // A coordinator that stands by knows no view: clients go on to the next Sentinel.
      coordinator.current = { ...saved, view: null, replicas: [], problem: 'this coordinator stands by' };
      assert.equal(await redis.call('SENTINEL', 'get-master-addr-by-name', 'understudy'), null);
      assert.deepEqual(await redis.call('ROLE'), ['sentinel', []]);
      assert.match(String(await redis.call('INFO', 'sentinel')), /sentinel_masters:0/);
    } finally {
      coordinator.current = saved;
    }
  });

  test('a new primary is published on +switch-master, to channels and matching patterns', async () => {
    const subscriber = await open();
    const patterned = await open();
    const messages: string[] = [];
    const patternMessages: string[] = [];
    subscriber.on('message', (channel: string, message: string) => messages.push(`${channel} ${message}`));
    patterned.on('pmessage', (pattern: string, channel: string, message: string) =>
      patternMessages.push(`${pattern} ${channel} ${message}`),
    );
    await subscriber.subscribe('+switch-master', '+sdown');
    await patterned.psubscribe('*');
    // In subscribed mode only the subscription commands, PING and QUIT run (ioredis itself refuses
    // to send others, so raw bytes ask).
    assert.equal(
      await exchange(port, 'SUBSCRIBE +switch-master\r\nSENTINEL masters\r\nPING\r\nQUIT\r\n'),
      '*3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n' +
        "-ERR Can't execute 'sentinel': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n" +
        '*2\r\n$4\r\npong\r\n$0\r\n\r\n+OK\r\n',
    );

    // A view that keeps the primary announces nothing; one that names another primary does.
    coordinator.install({ view: view(4, 'r1', ['r2']) });
    coordinator.install({
      view: view(5, 'r2', ['r3']),
      replicas: [row('r1', 6379, false), row('r2', 6380), row('r3', 6381)],
    });
    // r1 failed: down, the failover's end, the switch; then r3, back in the view, a replica of r2.
    const expected = '+switch-master understudy 127.0.0.1 6379 127.0.0.1 6380';
    const failedMaster = '+sdown master understudy 127.0.0.1 6379';
    const all = [
      failedMaster,
      '+odown master understudy 127.0.0.1 6379 #quorum 1/1',
      '+failover-end master understudy 127.0.0.1 6379',
      expected,
      '+slave slave 127.0.0.1:6381 127.0.0.1 6381 @ understudy 127.0.0.1 6380',
    ];
    const deadline = Date.now() + 10_000;
    while ((messages.length < 2 || patternMessages.length < all.length) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(messages, [failedMaster, expected]);
    assert.deepEqual(
      patternMessages,
      all.map((message) => `* ${message}`),
    );
    assert.deepEqual(await (await open()).call('SENTINEL', 'get-master-addr-by-name', 'understudy'), [
      '127.0.0.1',
      '6380',
    ]);
    await subscriber.unsubscribe();
    assert.equal(await subscriber.ping(), 'PONG', 'after UNSUBSCRIBE every command runs again');
  });

  test('a replica that goes down, leaves and comes back is announced as Sentinel does', async () => {
    const saved = coordinator.current;
    const patterned = await open();
    const heard: string[] = [];
    patterned.on('pmessage', (_pattern: string, channel: string, message: string) =>
      heard.push(`${channel} ${message}`),
    );
    await patterned.psubscribe('*');
    const heardAfter = async (count: number): Promise<string[]> => {
      const deadline = Date.now() + 10_000;
      while (heard.length < count && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      return heard.splice(0);
    };
    const r3 = (suffix: string) =>
      `${suffix} slave 127.0.0.1:6381 127.0.0.1 6381 @ understudy 127.0.0.1 6380`;
    const r1 = (suffix: string) =>
      `${suffix} slave 127.0.0.1:6379 127.0.0.1 6379 @ understudy 127.0.0.1 6380`;
    try {
      // From the view above (r2 primary, r3 its backup, r1 failed and out): r3 stops answering.
      coordinator.install({
        view: view(6, 'r2', ['r3']),
        replicas: [row('r1', 6379, false), row('r2', 6380), row('r3', 6381, false)],
      });
      assert.deepEqual(await heardAfter(1), [r3('+sdown')]);
      // Taken out of the view while down: nothing more to say.
      coordinator.install({ view: view(7, 'r2', []) });
      // Back, as a learner: up again, and a replica again.
      coordinator.install({
        view: view(8, 'r2', [], ['r3']),
        replicas: [row('r1', 6379, false), row('r2', 6380), row('r3', 6381)],
      });
      assert.deepEqual(await heardAfter(2), [r3('-sdown'), r3('+slave')]);
      // The failed master comes back: it was down since the failover.
      coordinator.install({
        view: view(9, 'r2', ['r3', 'r1']),
        replicas: [row('r1', 6379), row('r2', 6380), row('r3', 6381)],
      });
      assert.deepEqual(await heardAfter(2), [r1('-sdown'), r1('+slave')]);
      // One that leaves the view alive (ejected for its lag) is not down; a view that changes no
      // replica says nothing.
      coordinator.install({ view: view(10, 'r2', ['r3']) });
      coordinator.install({ view: view(11, 'r2', ['r3']) });
      coordinator.install({
        view: view(12, 'r2', ['r3']),
        replicas: [row('r1', 6379, false), row('r2', 6380), row('r3', 6381)],
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(heard, []);
    } finally {
      coordinator.current = saved;
    }
  });

  test('SENTINEL FAILOVER is a switchover to the live backup with the most on its disk', async () => {
    const redis = await open();
    const saved = coordinator.current;
    const durable = (status: ReplicaStatus, index: number): ReplicaStatus => ({
      ...status,
      durableIndex: logIndex(index),
    });
    try {
      coordinator.current = {
        ...saved,
        view: view(6, 'r1', ['r2', 'r3', 'r4']),
        replicas: [
          row('r1', 6379),
          durable(row('r2', 6380), 90),
          durable(row('r3', 6381), 95),
          durable(row('r4', 6382, false), 99),
        ],
      };
      assert.equal(await redis.call('SENTINEL', 'failover', 'understudy'), 'OK');
      assert.deepEqual(
        coordinator.switchovers.at(-1),
        { to: 'r3', by: null },
        'r4 is further on but not alive',
      );

      coordinator.switchoverAnswer = {
        ok: false,
        to: replicaId('r3'),
        message: 'a switchover to r3 is under way',
        view: null,
      };
      await assert.rejects(
        redis.call('SENTINEL', 'failover', 'understudy'),
        /INPROG a switchover to r3 is under way/,
      );
      coordinator.switchoverAnswer = {
        ok: false,
        to: replicaId('r3'),
        message: 'r3 is not alive',
        view: null,
      };
      await assert.rejects(redis.call('SENTINEL', 'failover', 'understudy'), /ERR r3 is not alive/);
      coordinator.switchoverAnswer = null;

      coordinator.current = { ...coordinator.current, replicas: [row('r1', 6379), row('r2', 6380, false)] };
      const asked = coordinator.switchovers.length;
      await assert.rejects(
        redis.call('SENTINEL', 'failover', 'understudy'),
        /NOGOODSLAVE No suitable replica to promote/,
      );
      await assert.rejects(redis.call('SENTINEL', 'failover', 'other'), /No such master with that name/);
      await assert.rejects(redis.call('SENTINEL', 'failover'), /wrong number of arguments/);
      assert.equal(coordinator.switchovers.length, asked, 'none of these asked for a switchover');
    } finally {
      coordinator.current = saved;
    }
  });

  test("SENTINEL FAILOVER answered later (a standby waits for the leader's answer) keeps every reply in order", async () => {
    const answers: ((outcome: SwitchoverOutcome | null) => void)[] = [];
    coordinator.answerLater = answers;
    const socket = connect(port, '127.0.0.1');
    try {
      await once(socket, 'connect');
      let received = '';
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
      });
      socket.write('SENTINEL FAILOVER understudy\r\nPING\r\n');
      await waitUntil(() => answers.length === 1);
      // Sent while the first waits: read once it is answered (nothing piles up behind it meanwhile).
      socket.write('SENTINEL FAILOVER understudy\r\nPING\r\n');
      answers[0]?.(null);
      await waitUntil(() => answers.length === 2);
      answers[1]?.({ ok: false, to: replicaId('r2'), message: 'r2 is not alive', view: null });
      await waitUntil(() => received.split('\r\n').length > 4);
      assert.equal(received, '+OK\r\n+PONG\r\n-ERR r2 is not alive\r\n+PONG\r\n');
    } finally {
      coordinator.answerLater = null;
      socket.destroy();
    }
  });

  test('the arguments of PING, AUTH, HELLO, CLIENT, SUBSCRIBE and UNSUBSCRIBE are checked as Redis checks them; QUIT ends what follows', async () => {
    const commands = [
      'PING a b',
      'AUTH',
      'AUTH a b c',
      'HELLO 2 SETNAME worker',
      'CLIENT GETNAME',
      'CLIENT',
      'CLIENT SETNAME',
      'CLIENT SETNAME "bad name"',
      'CLIENT GETNAME',
      'SUBSCRIBE',
      'UNSUBSCRIBE',
      'PING',
      'QUIT',
    ];
    // A protocol error after QUIT, in the same read, is not answered: the connection ended at QUIT.
    const answered = await exchange(port, `${commands.join('\r\n')}\r\n*1\r\n$x\r\n`);
    const lines = answered.split('\r\n');
    assert.deepEqual(lines.slice(0, 6), [
      "-ERR wrong number of arguments for 'ping' command",
      "-ERR wrong number of arguments for 'auth' command",
      "-ERR wrong number of arguments for 'auth' command",
      '*14',
      '$6',
      'server',
    ]);
    assert.deepEqual(lines.slice(29), [
      '$6',
      'worker',
      "-ERR wrong number of arguments for 'client' command",
      "-ERR wrong number of arguments for 'client|setname' command",
      '-ERR Client names cannot contain spaces, newlines or special characters.',
      '$6',
      'worker',
      "-ERR wrong number of arguments for 'subscribe' command",
      '*3',
      '$11',
      'unsubscribe',
      '$-1',
      ':0',
      '+PONG',
      '+OK',
      '',
    ]);
  });

  test('a connection subscribes to exactly subscriptionsMax channels and patterns, each of at most 1024 bytes', async () => {
    const redis = await open();
    const channels = Array.from({ length: 255 }, (_, at) => `channel-${at}`);
    await redis.subscribe(...channels, 'x'.repeat(1024));
    await assert.rejects(
      redis.subscribe('one-more'),
      /ERR a connection subscribes to at most 256 channels and patterns here/,
    );
  });

  test('a bug in an answer (the source throws) is answered ERR internal error; the connection and the process go on', async () => {
    const redis = await open();
    const status = coordinator.status;
    coordinator.status = () => {
      throw new TypeError('a bug');
    };
    try {
      await assert.rejects(redis.call('SENTINEL', 'masters'), /^ReplyError: ERR internal error: a bug$/);
    } finally {
      coordinator.status = status;
    }
    assert.equal(await redis.ping(), 'PONG');
    assert.equal((await redis.call('SENTINEL', 'get-master-addr-by-name', 'understudy')) !== null, true);
  });

  test('bad input is answered, and a protocol error closes only that connection', async () => {
    const redis = await open();
    await assert.rejects(redis.call('SENTINEL'), /ERR wrong number of arguments for 'sentinel' command/);
    await assert.rejects(redis.call('SENTINEL', 'nope'), /ERR unknown subcommand 'nope'. Try SENTINEL HELP/);
    await assert.rejects(redis.call('SENTINEL', 'remove', 'understudy'), /understudy forget/);
    await assert.rejects(redis.call('SENTINEL', 'master'), /wrong number of arguments/);
    await assert.rejects(redis.call('GET', 'k'), /ERR unknown command 'GET'/);
    await assert.rejects(redis.call('HELLO', 'x'), /Protocol version is not an integer/);
    await assert.rejects(redis.call('HELLO', '3'), /NOPROTO/);
    await assert.rejects(redis.call('AUTH', 'secret'), /without any password configured/);
    const help = (await redis.call('SENTINEL', 'help')) as string[];
    assert(help.some((line) => line.startsWith('GET-MASTER-ADDR-BY-NAME')));

    await assert.rejects(
      redis.subscribe('x'.repeat(1025)),
      /ERR a channel or pattern is at most 1024 bytes here/,
    );
    const many = Array.from({ length: 257 }, (_, at) => `channel-${at}`);
    await assert.rejects(
      redis.subscribe(...many),
      /ERR a connection subscribes to at most 256 channels and patterns here/,
    );
    assert.equal(await redis.ping(), 'PONG', 'a refused SUBSCRIBE subscribed to nothing');

    const answered = await exchange(port, '*2\r\n$4\r\nPING\r\n$2\r\nhi\r\n*1\r\n$x\r\n');
    assert.equal(answered, '$2\r\nhi\r\n-ERR Protocol error: invalid bulk length\r\n');
    assert.equal(await redis.ping(), 'PONG', 'the other connections go on');
  });
});

describe("the Sentinel port of a coordinator that restarted (its view stored, no replica's address heard yet)", () => {
  test('a view that keeps the primary announces nothing; another primary, or the same at a new port, is announced', async () => {
    const coordinator = new FakeCoordinator();
    coordinator.current = { ...coordinator.current, view: view(7, 'r1', ['r2']), replicas: [] };
    const server = await startSentinel(coordinator);
    const subscriber = client(portOf(server));
    const messages: string[] = [];
    try {
      await subscriber.connect();
      subscriber.on('message', (_channel: string, message: string) => messages.push(message));
      await subscriber.subscribe('+switch-master');
      // The replicas report; a backup joins: the primary stays r1, which clients already use.
      coordinator.install({
        view: view(8, 'r1', ['r2', 'r3']),
        replicas: [row('r1', 6379), row('r2', 6380), row('r3', 6381)],
      });
      // r1 fails: r2 leads, and r1's last reported port is the old address.
      coordinator.install({
        view: view(9, 'r2', ['r3']),
        replicas: [row('r1', 6379, false), row('r2', 6380), row('r3', 6381)],
      });
      // r2 restarts on another port and leads again in a new view.
      coordinator.install({ view: view(10, 'r2', ['r3']), replicas: [row('r2', 7380), row('r3', 6381)] });
      const deadline = Date.now() + 10_000;
      while (messages.length < 2 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(messages, [
        'understudy 127.0.0.1 6379 127.0.0.1 6380',
        'understudy 127.0.0.1 6380 127.0.0.1 7380',
      ]);
    } finally {
      subscriber.disconnect();
      await server.close();
    }
  });
  test('with no view at first (a standby), the first primary with a Redis port is announced; a port that moves is no failover', async () => {
    const coordinator = new FakeCoordinator();
    coordinator.current = { ...coordinator.current, view: null, replicas: [] };
    const server = await startSentinel(coordinator);
    const patterned = client(portOf(server));
    const heard: string[] = [];
    const heardNext = async (count: number): Promise<string[]> => {
      await waitUntil(() => heard.length >= count);
      return heard.splice(0, count);
    };
    const slave = (port: number, masterPort: number) =>
      `slave 127.0.0.1:${port} 127.0.0.1 ${port} @ understudy 127.0.0.1 ${masterPort}`;
    try {
      await patterned.connect();
      patterned.on('pmessage', (_pattern: string, channel: string, message: string) =>
        heard.push(`${channel} ${message}`),
      );
      await patterned.psubscribe('*');
      // A primary that has reported no Redis port yet: nothing to name.
      coordinator.install({ view: view(3, 'r1', ['r2']), replicas: [row('r1', null), row('r2', 6380)] });
      coordinator.install({ view: view(4, 'r1', ['r2']), replicas: [row('r1', 6379), row('r2', 6380)] });
      assert.deepEqual(await heardNext(2), [
        '+switch-master understudy 127.0.0.1 6379 127.0.0.1 6379',
        `+slave ${slave(6380, 6379)}`,
      ]);
      // The same primary at another port: the switch alone, no failover of a master that did not fail.
      coordinator.install({ view: view(5, 'r1', ['r2']), replicas: [row('r1', 7379), row('r2', 6380)] });
      assert.deepEqual(await heardNext(1), ['+switch-master understudy 127.0.0.1 6379 127.0.0.1 7379']);
      // A replica at another port is a replica there; one that stays down in the view is down once.
      coordinator.install({ view: view(6, 'r1', ['r2']), replicas: [row('r1', 7379), row('r2', 6390)] });
      assert.deepEqual(await heardNext(1), [`+slave ${slave(6390, 7379)}`]);
      coordinator.install({
        view: view(7, 'r1', ['r2']),
        replicas: [row('r1', 7379), row('r2', 6390, false)],
      });
      // Still down as a replica joins: only the newcomer is told of, the down one once it is up.
      coordinator.install({
        view: view(8, 'r1', ['r2', 'r3']),
        replicas: [row('r1', 7379), row('r2', 6390, false), row('r3', 6391)],
      });
      coordinator.install({
        view: view(9, 'r1', ['r2', 'r3']),
        replicas: [row('r1', 7379), row('r2', 6390), row('r3', 6391)],
      });
      assert.deepEqual(await heardNext(3), [
        `+sdown ${slave(6390, 7379)}`,
        `+slave ${slave(6391, 7379)}`,
        `-sdown ${slave(6390, 7379)}`,
      ]);
    } finally {
      patterned.disconnect();
      await server.close();
    }
  });
});

describe('the Sentinel port with tokens (--auth-file)', () => {
  const token = makeToken('app1');
  const admin = makeToken('ops');
  const credentials = parseCredentials(
    JSON.stringify({ clients: { app1: token.digest }, admins: { ops: admin.digest } }),
    'test',
  );
  const coordinator = new FakeCoordinator();
  let server: SentinelServer;
  let port: number;

  before(async () => {
    server = await startSentinel(coordinator, credentials);
    port = portOf(server);
  });

  after(() => server.close());

  test('asks for AUTH with a token before it names the primary', async () => {
    // Its ready check (INFO) would be refused before AUTH, as on a Redis that asks for a password.
    const anonymous = client(port, { enableReadyCheck: false });
    const right = client(port, { password: token.token });
    try {
      await anonymous.connect();
      await assert.rejects(anonymous.call('SENTINEL', 'get-master-addr-by-name', 'understudy'), /NOAUTH/);
      await assert.rejects(anonymous.call('HELLO', '2'), /NOAUTH HELLO must be called/);
      await assert.rejects(anonymous.call('AUTH', `${token.token}x`), /WRONGPASS/);
      await assert.rejects(anonymous.call('AUTH', 'app2', token.token), /WRONGPASS/, "another user's name");
      await right.connect();
      assert.deepEqual(await right.call('SENTINEL', 'get-master-addr-by-name', 'understudy'), [
        '127.0.0.1',
        '6379',
      ]);
      assert.equal(await anonymous.call('AUTH', 'app1', token.token.slice('app1.'.length)), 'OK');
      assert.deepEqual(await anonymous.call('SENTINEL', 'get-master-addr-by-name', 'understudy'), [
        '127.0.0.1',
        '6379',
      ]);
      // A switchover takes an admin token, as `understudy switchover` does.
      await assert.rejects(
        right.call('SENTINEL', 'failover', 'understudy'),
        /NOPERM User app1 has no permissions to run the 'sentinel\|failover' command/,
      );
      assert.equal(coordinator.switchovers.length, 0);
      assert.equal(await right.call('AUTH', admin.token), 'OK');
      assert.equal(await right.call('SENTINEL', 'failover', 'understudy'), 'OK');
      assert.deepEqual(coordinator.switchovers, [{ to: 'r2', by: 'ops' }]);
    } finally {
      anonymous.disconnect();
      right.disconnect();
    }
  });
});

test('the replicas remembered as down are bounded: the oldest is forgotten first', () => {
  const down = new Set<string>();
  for (let port = 1; port <= 300; port += 1) markDown(down, `127.0.0.1:${port}`);
  assert.equal(down.size, 256);
  assert.ok(!down.has('127.0.0.1:44') && down.has('127.0.0.1:45') && down.has('127.0.0.1:300'));
});
