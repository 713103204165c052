// The Redis port of real replicas on 127.0.0.1 (each on a port the OS picks), driven by the tools
// Redis users run: ioredis against the primary and against a backup (whose writes are forwarded),
// redis-cli, redis-benchmark, SCAN while keys come and go, malformed input, the primary's port reaching its replica in memory
// (through a switchover), READONLY reads at a backup, optimistic transactions (WATCH) by clients at
// every replica, and a kill -9 of the primary under a Redis client connected to a backup, after which
// no acknowledged SET is missing.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { parsePrometheusText, sampleValue } from '../prometheus-text.js';
import { adminAddressOf, LocalCluster, type RunningProcess, runCli, waitFor } from './harness.js';
import { startRedisExporter } from './redis-exporter.js';

const respArguments = ['--resp', '127.0.0.1:0', '--admin', '127.0.0.1:0'];

function respPortOf(running: RunningProcess | undefined): number {
  const match = /Redis protocol on \S+:(\d+)/.exec(running?.stdout() ?? '');
  assert(match?.[1] !== undefined, 'the replica printed its Redis address');
  return Number(match[1]);
}

interface ToolRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a Redis tool to completion (a generous time limit, not a timing assertion). */
function runTool(tool: string, args: readonly string[], timeoutMs = 120_000): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null && (error as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(
          new Error(`${tool} is not installed (Debian: apt-get install redis-tools; .ci/run installs it)`),
        );
        return;
      }
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Runs a tool that prints until stopped; answers the first `count` lines that `wanted` accepts, then
 * stops it by its process id (a generous time limit, not a timing assertion).
 */
function linesOf(
  tool: string,
  args: readonly string[],
  wanted: (line: string) => boolean,
  count: number,
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const found: string[] = [];
    let pending = '';
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${tool} printed no ${count} lines in time: ${JSON.stringify(output.slice(-2000))}`));
    }, 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (wanted(line) && found.length < count) found.push(line.trim());
      if (found.length === count) {
        clearTimeout(timer);
        child.kill('SIGTERM');
        resolve(found);
      }
    });
  });
}

/** Bytes as redis-cli --stat prints them: 717B, 1.50K, 12.00M. */
function humanBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes}B`;
  const units = ['K', 'M', 'G', 'T'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(2)}${units[unit]}`;
}

function redisClient(port: number): Redis {
  // No reconnection attempts or offline queue: a lost connection must show, not be papered over.
  return new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
}

describe('the Redis port of a real cluster', { concurrency: false }, () => {
  let cluster: LocalCluster;
  const clients: Redis[] = [];
  const ports = new Map<string, number>();

  const connectTo = async (id: string): Promise<Redis> => {
    const port = ports.get(id);
    assert(port !== undefined, `${id} has a Redis port`);
    const client = redisClient(port);
    clients.push(client);
    await client.connect();
    return client;
  };

  /** What the replica's /metrics counts of its Redis port: commands, and sequences shared by connections. */
  const respMetrics = async (id: string): Promise<{ commands: number; shared: number }> => {
    const response = await fetch(`http://${adminAddressOf(cluster.replicas.get(id))}/metrics`);
    const samples = parsePrometheusText(await response.text());
    return {
      commands: sampleValue(samples, 'understudy_resp_commands_total'),
      shared: sampleValue(samples, 'understudy_resp_sequences_total', { kind: 'shared' }),
    };
  };

  before(async () => {
    cluster = await LocalCluster.start(3, respArguments);
    for (const [id, running] of cluster.replicas) ports.set(id, respPortOf(running));
  });

  after(async () => {
    for (const client of clients) if (client.status !== 'end') client.disconnect();
    await cluster.close();
  });

  test('ioredis at the primary and at a backup: a backup forwards writes, every replica reads them back', async () => {
    const view = await cluster.waitForView((candidate) => candidate.backups.length === 2);
    const primary = await connectTo(view.primary);
    const backupId = view.backups[0] as string;
    const backup = await connectTo(backupId);

    assert.equal(await primary.set('greeting', 'hello'), 'OK');
    assert.equal(await backup.get('greeting'), 'hello');
    assert.equal(await backup.set('from-backup', 'forwarded'), 'OK');
    assert.equal(await primary.get('from-backup'), 'forwarded');
    const native = await cluster.client();
    assert.equal(await native.getText('from-backup'), 'forwarded');
    assert.equal(
      Number(await backup.call('WAIT', '2', '0')),
      2,
      'both backups held the write when it was answered',
    );

    assert.equal(await backup.set('greeting', 'again', 'NX'), null);
    assert.equal(await backup.set('absent', 'x', 'XX'), null);
    assert.equal(await backup.set('greeting', 'replaced', 'XX'), 'OK');
    assert.equal(await backup.append('greeting', '!'), 'replaced!'.length);
    assert.equal(await backup.strlen('greeting'), 9);
    assert.equal(await backup.incr('visits'), 1);
    assert.equal(await backup.incrby('visits', 41), 42);
    assert.equal(await backup.decr('visits'), 41);
    assert.equal(await backup.mset('a', '1', 'b', '2'), 'OK');
    assert.deepEqual(await primary.mget('a', 'b', 'nope'), ['1', '2', null]);
    assert.equal(await primary.exists('a', 'b', 'nope', 'a'), 3);
    assert.equal(await backup.del('a', 'b', 'nope'), 2);
    assert.deepEqual(await primary.mget('a', 'b'), [null, null]);
    await assert.rejects(backup.incr('greeting'), /ERR value is not an integer or out of range/);
    // The store's limits differ from Redis's, and say so.
    await assert.rejects(backup.set('', 'v'), /ERR put: the key is empty/);
    await backup.incrby('big', '9007199254740991'); // ioredis parses so large an integer reply inexactly
    assert.equal(await backup.get('big'), '9007199254740991');
    await assert.rejects(backup.incr('big'), /ERR incr by 1 would leave the safe integer range/);
    await assert.rejects(
      backup.incrby('big', '9007199254740992'),
      /ERR value is not an integer or out of range/,
    );
    await assert.rejects(backup.set('k', 'v', 'EX', '0'), /ERR invalid expire time in 'set' command/);

    const pipeline = backup.pipeline().set('p', '1').incr('p').get('p').del('p');
    assert.deepEqual(await pipeline.exec(), [
      [null, 'OK'],
      [null, 2],
      [null, '2'],
      [null, 1],
    ]);
    const third = await connectTo(view.backups[1] as string);
    assert.equal(await third.get('greeting'), 'replaced!');
    // Closed here: ioredis redials a connection that was open when its server died (a later test
    // kills this primary), retryStrategy or not, and prints each refusal as an unhandled error.
    for (const client of [primary, backup, third]) client.disconnect();
  });

  test('keys that expire: SET PX lives its time then goes, a lock by SET NX PX, EXPIRE, PERSIST, TTL, KEEPTTL, in MULTI too', async () => {
    const view = await cluster.waitForView((candidate) => candidate.backups.length === 2);
    const primary = await connectTo(view.primary);
    const backup = await connectTo(view.backups[0] as string);

    const askedAtMs = Date.now();
    assert.equal(await backup.set('brief', 'v', 'PX', 400), 'OK');
    const pttl = await primary.pttl('brief');
    assert.ok(pttl > 0 && pttl <= 400, `PTTL ${pttl}`);
    // Present at every read answered before 400 ms passed since the SET was sent; gone after.
    for (;;) {
      const value = await backup.get('brief');
      const answeredAtMs = Date.now();
      if (value === null) {
        assert.ok(answeredAtMs >= askedAtMs + 400, `gone ${answeredAtMs - askedAtMs} ms after the SET`);
        break;
      }
      assert.ok(answeredAtMs - askedAtMs < 15_000, 'the key was never deleted');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(await primary.ttl('brief'), -2);

    // A lock: the second taker fails until the first one's time ran out.
    assert.equal(await primary.set('lock', 'a', 'PX', 300, 'NX'), 'OK');
    assert.equal(await backup.set('lock', 'b', 'PX', 300, 'NX'), null);
    const taken = await waitFor('the lock to free', async () =>
      (await backup.set('lock', 'b', 'PX', 60_000, 'NX')) === 'OK' ? true : undefined,
    );
    assert.equal(taken, true);
    assert.equal(await primary.get('lock'), 'b');

    assert.equal(await primary.set('counter', '1', 'EX', 100), 'OK');
    assert.equal(await primary.incr('counter'), 2);
    const kept = await primary.ttl('counter');
    assert.ok(kept > 90 && kept <= 100, `INCR keeps the time to live: TTL ${kept}`);
    assert.equal(await primary.set('counter', '5', 'KEEPTTL'), 'OK');
    assert.ok((await primary.ttl('counter')) > 90, 'KEEPTTL keeps it');
    const expiresAt = await primary.expiretime('counter');
    assert.ok(Math.abs(expiresAt - Math.floor(Date.now() / 1000) - 100) <= 2, `EXPIRETIME ${expiresAt}`);
    assert.equal(await primary.set('counter', '6'), 'OK');
    assert.equal(await primary.ttl('counter'), -1, 'a plain SET removes it');
    assert.equal(await primary.expire('counter', 50, 'XX'), 0, 'XX: it has none');
    assert.equal(await primary.expire('counter', 50, 'NX'), 1);
    assert.equal(await primary.expire('counter', 40, 'GT'), 0);
    assert.equal(await primary.expire('counter', 60, 'GT'), 1);
    assert.equal(await primary.persist('counter'), 1);
    assert.equal(await primary.persist('counter'), 0);
    assert.equal(await primary.setex('session', 30, 'x'), 'OK');
    assert.ok((await primary.pttl('session')) > 25_000);
    assert.equal(await primary.pexpire('session', -1), 1, 'a time already past deletes the key');
    assert.equal(await primary.exists('session'), 0);
    assert.equal(await primary.expire('nothing-here', 10), 0);

    const answers = (
      (await primary.multi().set('in-multi', 'v').expire('in-multi', 30).ttl('in-multi').exec()) ?? []
    ).map(([error, value]) => error ?? value);
    assert.deepEqual(answers, ['OK', 1, 30]);
    const cli = await runTool('redis-cli', [
      '-h',
      '127.0.0.1',
      '-p',
      String(ports.get(view.primary)),
      'TTL',
      'in-multi',
    ]);
    assert.match(cli.stdout, /^(29|30)\n$/);
  });

  test('GETDEL, GETSET, SET ... GET and GETEX answer the value before in one step; racing GETDELs hand out each item once', async () => {
    const view = await cluster.waitForView((candidate) => candidate.backups.length === 2);
    const primary = await connectTo(view.primary);
    const backup = await connectTo(view.backups[0] as string);

    assert.equal(await backup.set('job', 'first'), 'OK');
    assert.equal(await backup.getset('job', 'second'), 'first');
    assert.equal(await primary.set('job', 'third', 'GET'), 'second');
    assert.equal(
      await primary.call('SET', 'job', 'fourth', 'NX', 'GET'),
      'third',
      'NX did not hold: nothing written',
    );
    assert.equal(await primary.get('job'), 'third');
    assert.equal(await primary.call('SET', 'fresh', 'v', 'NX', 'GET'), null);
    assert.equal(await primary.get('fresh'), 'v');
    assert.equal(await backup.getdel('job'), 'third');
    assert.equal(await backup.getdel('job'), null);
    assert.equal(await primary.exists('job'), 0);

    assert.equal(await primary.set('session', 's', 'EX', 100), 'OK');
    assert.equal(await primary.getset('session', 't'), 's');
    assert.equal(await primary.ttl('session'), -1, 'GETSET ends the time to live, as SET does');
    assert.equal(await primary.call('GETEX', 'session', 'PX', 60_000), 't');
    const pttl = await primary.pttl('session');
    assert.ok(pttl > 50_000 && pttl <= 60_000, `PTTL ${pttl}`);
    assert.equal(await backup.call('GETEX', 'session', 'PERSIST'), 't');
    assert.equal(await primary.ttl('session'), -1);
    assert.equal(await primary.call('GETEX', 'session'), 't');
    assert.equal(await primary.call('GETEX', 'session', 'PXAT', 1), 't', 'a time already past deletes it');
    assert.equal(await primary.exists('session'), 0);
    assert.equal(await primary.call('GETEX', 'nothing-here', 'EX', 10), null);

    // A work queue: 60 items, taken by GETDEL from two connections at each replica at once. Each item
    // goes to exactly one taker, and every one is taken.
    const items = Array.from({ length: 60 }, (_, at) => `item-${at}`);
    await primary.mset(...items.flatMap((item) => [item, `payload-${item}`]));
    const takers = await Promise.all([...ports.keys()].flatMap((id) => [connectTo(id), connectTo(id)]));
    const taken = await Promise.all(
      takers.map(async (taker, at) => {
        const mine: string[] = [];
        for (let step = 0; step < items.length; step++) {
          const item = items[(step + at * 7) % items.length] as string;
          const payload = await taker.getdel(item);
          if (payload !== null) mine.push(payload);
        }
        return mine;
      }),
    );
    const all = taken.flat().sort();
    assert.deepEqual(all, items.map((item) => `payload-${item}`).sort(), 'each item taken exactly once');
  });

  test('INCRBYFLOAT from every replica counts each increment once; racing MSETNX has one winner; GETRANGE cuts; a lock released by DELIFEQ', async () => {
    const callers = await Promise.all([...ports.keys()].flatMap((id) => [connectTo(id), connectTo(id)]));
    const answers = await Promise.all(
      callers.map(async (caller) => {
        const mine: string[] = [];
        for (let step = 0; step < 20; step++) mine.push(await caller.incrbyfloat('float-counter', '0.5'));
        return mine;
      }),
    );
    // 240 increments of 0.5: each answer a distinct step of the sum, and the last one 60.
    const steps = Array.from({ length: callers.length * 20 }, (_, at) => String((at + 1) / 2)).sort();
    assert.deepEqual(answers.flat().sort(), steps, 'every increment applied exactly once');
    // Reads are linearizable at every port: each sees the last increment.
    for (const caller of callers) assert.equal(await caller.get('float-counter'), '60');
    const client = await cluster.client();
    const { value } = await client.incrFloat('float-counter', -0.25);
    assert.equal(Buffer.from(value).toString(), '59.75');

    const wins = await Promise.all(
      callers.map((caller, at) => caller.msetnx('lock:a', `owner-${at}`, 'lock:b', `owner-${at}`)),
    );
    assert.equal(wins.filter((won) => won === 1).length, 1, `one winner: ${wins.join(',')}`);
    const winner = wins.indexOf(1);
    assert.deepEqual(await callers[0]?.mget('lock:a', 'lock:b'), [`owner-${winner}`, `owner-${winner}`]);
    const { written } = await client.putManyIfAbsent([
      ['lock:c', 'x'],
      ['lock:a', 'y'],
    ]);
    assert.equal(written, false);
    assert.equal(await callers[0]?.exists('lock:c'), 0, 'nothing of a refused MSETNX was written');
    await client.put('config', 'v1');
    assert.equal((await client.set('config', 'v2', { when: { equals: 'v0' } })).written, false);
    assert.equal((await client.set('config', 'v2', { when: { equals: 'v1' } })).written, true);
    assert.equal(await client.getText('config'), 'v2');

    const port = String(ports.get('r3'));
    const cli = (...args: string[]) => runTool('redis-cli', ['-h', '127.0.0.1', '-p', port, ...args]);
    assert.equal((await cli('SET', 'range-key', 'This is a string')).stdout, 'OK\n');
    assert.equal((await cli('GETRANGE', 'range-key', '0', '3')).stdout, 'This\n');
    assert.equal((await cli('GETRANGE', 'range-key', '-3', '-1')).stdout, 'ing\n');
    assert.equal((await cli('GETRANGE', 'range-key', '10', '100')).stdout, 'string\n');
    assert.match((await cli('INCRBYFLOAT', 'range-key', '1')).stdout, /^ERR value is not a valid float\n/);

    // A lock taken with SET NX PX, handed over with SET ... IFEQ, released only by its holder.
    const [first, second] = callers as [Redis, Redis];
    assert.equal(await first.set('job-lock', 'worker-1', 'PX', 30_000, 'NX'), 'OK');
    assert.equal(await second.set('job-lock', 'worker-2', 'PX', 30_000, 'NX'), null);
    assert.equal(await second.call('DELIFEQ', 'job-lock', 'worker-2'), 0, 'not the holder');
    assert.equal(await second.call('SET', 'job-lock', 'worker-2', 'IFEQ', 'worker-9'), null);
    assert.equal(await first.call('SET', 'job-lock', 'worker-2', 'IFEQ', 'worker-1', 'KEEPTTL'), 'OK');
    assert.ok((await second.pttl('job-lock')) > 0, 'the handover kept its time to live');
    assert.equal(await first.call('DELEX', 'job-lock', 'IFEQ', 'worker-1'), 0, 'no longer the holder');
    assert.equal(await second.call('DELIFEQ', 'job-lock', 'worker-2'), 1);
    assert.equal(await first.exists('job-lock'), 0);
    assert.equal((await cli('SET', 'job-lock', 'x', 'IFEQ', 'y')).stdout, '\n', 'IFEQ never creates the key');
  });

  test('a value built aside and renamed over the live key from every replica: each rename runs once, one wins RENAMENX; COPY and SETRANGE', async () => {
    const callers = await Promise.all([...ports.keys()].flatMap((id) => [connectTo(id), connectTo(id)]));
    // Each caller builds its version under a key of its own with a time to live, then renames it
    // over the one key readers use: the old version goes in the same step, the new one never shows half-built.
    const renamed = await Promise.all(
      callers.map(async (caller, at) => {
        await caller.set(`report:building:${at}`, `version-${at}`, 'PX', 600_000);
        return caller.rename(`report:building:${at}`, 'report');
      }),
    );
    assert.deepEqual(
      renamed,
      callers.map(() => 'OK'),
    );
    const [first, second] = callers as [Redis, Redis];
    const report = await first.get('report');
    assert.match(report ?? '', /^version-\d+$/);
    assert.ok((await first.pttl('report')) > 0, 'the time to live came with the value');
    for (const at of callers.keys()) assert.equal(await second.exists(`report:building:${at}`), 0);
    await assert.rejects(first.rename('report:building:0', 'report'), /ERR no such key/);

    await Promise.all(callers.map((caller, at) => caller.set(`claim:${at}`, `claimed-by-${at}`)));
    const wins = await Promise.all(callers.map((caller, at) => caller.renamenx(`claim:${at}`, 'claim')));
    assert.equal(wins.filter((won) => won === 1).length, 1, `one winner: ${wins.join(',')}`);
    const winner = wins.indexOf(1);
    assert.equal(await second.get('claim'), `claimed-by-${winner}`);
    const losers = [...callers.keys()].filter((at) => at !== winner);
    for (const at of losers)
      assert.equal(await first.get(`claim:${at}`), `claimed-by-${at}`, 'a loser keeps its key');

    assert.equal(await first.copy('report', 'report:backup'), 1);
    assert.equal(await second.copy('report', 'report:backup'), 0, 'no REPLACE: the copy stays');
    assert.equal(await second.get('report:backup'), report);
    assert.equal(await first.setrange('banner', 6, 'World'), 11);
    assert.equal(await second.setrange('banner', 0, 'Hello!'), 11);
    assert.equal(await first.get('banner'), 'Hello!World');

    const client = await cluster.client();
    assert.equal((await client.copy('banner', 'report:backup', { replace: true })).copied, true);
    assert.equal((await client.rename('report:backup', 'banner-2')).renamed, true);
    assert.equal((await client.setRange('banner-2', 5, ' ')).length, 11);
    assert.equal(await client.getText('banner-2'), 'Hello World');
    assert.equal((await client.rename('banner-2', 'banner', { onlyIfAbsent: true })).renamed, false);
    assert.equal(Buffer.from(await client.getRange('banner', 6, -1)).toString(), 'World');
    assert.equal((await client.getRange('no-such-banner', 0, -1)).byteLength, 0);
  });

  test('redis-cli: PING, SET, GET, INFO and an unknown command', async () => {
    const port = String(ports.get('r2'));
    const cli = (...args: string[]) => runTool('redis-cli', ['-h', '127.0.0.1', '-p', port, ...args]);
    assert.equal((await cli('PING')).stdout, 'PONG\n');
    assert.equal((await cli('SET', 'cli-key', 'cli value')).stdout, 'OK\n');
    assert.equal((await cli('GET', 'cli-key')).stdout, 'cli value\n');
    assert.equal((await cli('TYPE', 'cli-key')).stdout, 'string\n');
    assert.equal((await cli('SETNX', 'cli-key', 'other')).stdout, '0\n');
    assert.match((await cli('DBSIZE')).stdout, /^[1-9]\d*\n$/);
    const other = await runTool('redis-cli', ['-h', '127.0.0.1', '-p', port, '-n', '1', 'PING']);
    assert.match(other.stdout + other.stderr, /DB index is out of range/);
    const info = await cli('INFO', 'replication');
    assert.match(info.stdout, /^# Replication\r?\nrole:(master|slave)\r?\n/);
    assert.match(info.stdout, /master_repl_offset:\d+/);
    const unknown = await cli('LPUSH', 'queue', 'job-1');
    assert.match(
      unknown.stdout + unknown.stderr,
      /ERR unknown command 'LPUSH', with args beginning with: 'queue' 'job-1'/,
    );
    const piped = await runTool('sh', [
      '-c',
      `printf 'SET piped 1\\nINCR piped\\n' | redis-cli -h 127.0.0.1 -p ${port}`,
    ]);
    assert.equal(piped.stdout, 'OK\n2\n');
  });

  test("Redis's own tools read true figures: redis-cli --stat and --memkeys, and Prometheus's redis_exporter", async () => {
    const view = await cluster.waitForView((candidate) => candidate.backups.length === 2);
    const port = String(ports.get(view.primary));
    const cli = (...args: string[]) => runTool('redis-cli', ['-h', '127.0.0.1', '-p', port, ...args]);
    const sizes = new Map([
      ['tools:small', 10],
      ['tools:medium', 1_000],
      ['tools:large', 20_000],
    ]);
    for (const [key, bytes] of sizes) assert.equal((await cli('SET', key, 'x'.repeat(bytes))).stdout, 'OK\n');
    // What each costs against the store's limit: its key, its value, and 64 bytes a key.
    const usage = (key: string) => key.length + (sizes.get(key) ?? 0) + 64;
    assert.equal((await cli('MEMORY', 'USAGE', 'tools:large')).stdout, `${usage('tools:large')}\n`);
    const memkeys = await cli('--memkeys', '--pattern', 'tools:*');
    assert.equal(memkeys.code, 0, memkeys.stderr);
    assert.match(
      memkeys.stdout,
      new RegExp(`Biggest string found '?"tools:large"'? has ${usage('tools:large')} bytes`),
    );
    const total = [...sizes.keys()].reduce((sum, key) => sum + usage(key), 0);
    assert.match(memkeys.stdout, new RegExp(`3 strings with ${total} bytes`));

    // --stat prints a row a second (here every 0.1 s) until stopped: keys, memory, clients, blocked.
    // Keys an earlier test gave a time to live may go meanwhile: each check is made in a window
    // where the port's own count and memory did not change from before it to after it.
    // The port's own figures, from one INFO, as --stat and the exporter read them.
    const facts = async () => {
      const info = (await cli('INFO', 'keyspace', 'memory')).stdout;
      return {
        keys: Number(/db0:keys=(\d+)/.exec(info)?.[1] ?? 0),
        usedMemory: Number(/used_memory:(\d+)/.exec(info)?.[1]),
      };
    };
    let rows: string[] = [];
    let stable = await facts();
    let steady = false;
    for (let attempt = 0; attempt < 10 && !steady; attempt++) {
      rows = await linesOf(
        'stdbuf',
        ['-oL', 'redis-cli', '-h', '127.0.0.1', '-p', port, '--stat', '-i', '0.1'],
        (line) => /^\d+ /.test(line),
        2,
      );
      const after = await facts();
      steady = after.keys === stable.keys && after.usedMemory === stable.usedMemory;
      stable = after;
    }
    assert.ok(steady, 'the key count and memory held still through one --stat window in ten');
    for (const row of rows) {
      const [rowKeys, memory, clients, blocked, requests] = row.split(/\s+/);
      assert.equal(Number(rowKeys), stable.keys, row);
      assert.equal(memory, humanBytes(stable.usedMemory), row);
      assert.ok(Number(clients) >= 1, row);
      assert.equal(blocked, '0', row);
      assert.match(requests ?? '', /^\d+$/, row);
    }

    assert.equal((await cli('GET', 'tools:small')).stdout, `${'x'.repeat(10)}\n`);
    assert.equal((await cli('GET', 'tools:none')).stdout, '\n');

    // The exporter Prometheus users point at Redis, pointed at the primary's port.
    const exporter = await startRedisExporter(`127.0.0.1:${port}`);
    try {
      // A scrape made in a window where the port's key count and memory held still (as above).
      let portFacts = await facts();
      const samples = await waitFor(
        'a scrape of the exporter between two equal readings of the port',
        async () => {
          const scraped = await exporter.scrape();
          if (scraped === null) return undefined;
          const after = await facts();
          const steady = after.keys === portFacts.keys && after.usedMemory === portFacts.usedMemory;
          portFacts = after;
          return steady ? scraped : undefined;
        },
      );
      assert.equal(sampleValue(samples, 'redis_up'), 1);
      assert.equal(sampleValue(samples, 'redis_exporter_last_scrape_error'), 0);
      assert.equal(sampleValue(samples, 'redis_db_keys', { db: 'db0' }), portFacts.keys);
      assert.equal(sampleValue(samples, 'redis_memory_used_bytes'), portFacts.usedMemory);
      assert.equal(
        sampleValue(samples, 'redis_instance_info', { role: 'master', redis_mode: 'standalone' }),
        1,
      );
      assert.equal(sampleValue(samples, 'redis_connected_slaves'), 2);
      assert.ok(sampleValue(samples, 'redis_connected_clients') >= 1);
      assert.equal(sampleValue(samples, 'redis_aof_enabled'), 1);
      // The log only grows here (nothing resets it), and a command the scrape waited on may join it.
      assert.ok(sampleValue(samples, 'redis_slowlog_length') <= Number((await cli('SLOWLOG', 'LEN')).stdout));
      assert.ok(sampleValue(samples, 'redis_config_maxclients') > 0);
      // The three SETs above went to this port (INFO commandstats); other tests' commands too, perhaps.
      assert.ok(sampleValue(samples, 'redis_commands_total', { cmd: 'set' }) >= sizes.size);
      assert.ok(sampleValue(samples, 'redis_commands_duration_seconds_total', { cmd: 'set' }) > 0);
      // The 21,010 bytes of values SET above came in through this port.
      assert.ok(sampleValue(samples, 'redis_net_input_bytes_total') > 21_010);
      assert.equal(sampleValue(samples, 'redis_evicted_keys_total'), 0);
      // Counters only grow: what the exporter read is at most what the port says after it.
      const stats = (await cli('INFO', 'stats')).stdout;
      const [hits, misses] = ['keyspace_hits', 'keyspace_misses'].map((field) =>
        Number(new RegExp(`${field}:(\\d+)`).exec(stats)?.[1]),
      );
      assert.ok(sampleValue(samples, 'redis_keyspace_hits_total') >= 1, 'the GET of tools:small');
      assert.ok(sampleValue(samples, 'redis_keyspace_misses_total') >= 1, 'the GET of tools:none');
      assert.ok(sampleValue(samples, 'redis_keyspace_hits_total') <= (hits ?? 0));
      assert.ok(sampleValue(samples, 'redis_keyspace_misses_total') <= (misses ?? 0));
      assert.doesNotMatch(exporter.log(), /unknown command|unknown subcommand/);
    } finally {
      exporter.stop();
    }
  });

  test('SCAN and KEYS: ioredis scans at a backup while keys come and go, redis-cli --scan, KEYS with a pattern', async () => {
    const view = await cluster.waitForView((candidate) => candidate.backups.length === 2);
    const writer = await connectTo(view.primary);
    const scanner = await connectTo(view.backups[0] as string);
    const stable = Array.from({ length: 300 }, (_, at) => `scan:${at}`);
    await writer.mset(...stable.flatMap((key) => [key, 'v']));
    // Keys added and deleted by another client all through the scan.
    let churning = true;
    const churn = (async () => {
      for (let round = 0; churning; round++) {
        await writer.set(`churn:${round % 50}`, 'x');
        await writer.del(`churn:${(round + 25) % 50}`);
      }
    })();
    const seen: string[] = [];
    try {
      for await (const keys of scanner.scanStream({ match: 'scan:*', count: 20 }))
        seen.push(...(keys as string[]));
    } finally {
      churning = false;
      await churn;
    }
    assert.deepEqual(
      [...new Set(seen)].sort(),
      [...stable].sort(),
      'every key present throughout, and no other',
    );
    assert.equal(seen.length, stable.length, 'none twice: none of them moved');

    const port = String(ports.get(view.backups[1] as string));
    const cli = await runTool('redis-cli', ['-h', '127.0.0.1', '-p', port, '--scan', '--pattern', 'scan:1?']);
    assert.deepEqual(
      cli.stdout.trim().split('\n').sort(),
      Array.from({ length: 10 }, (_, at) => `scan:1${at}`).sort(),
    );
    assert.deepEqual((await scanner.keys('scan:2[0-4]')).sort(), [
      'scan:20',
      'scan:21',
      'scan:22',
      'scan:23',
      'scan:24',
    ]);
    const [cursor, page] = (await scanner.call('SCAN', '0', 'COUNT', '1000', 'TYPE', 'hash')) as [
      string,
      string[],
    ];
    assert.deepEqual([cursor, page], ['0', []], 'every key is a string');
    await assert.rejects(scanner.call('SCAN', 'x'), /ERR invalid cursor/);
    await assert.rejects(scanner.call('SCAN', '65537'), /ERR invalid cursor/);
    await assert.rejects(scanner.call('SCAN', '0', 'COUNT', '0'), /ERR syntax error/);
    await assert.rejects(scanner.call('SCAN', '0', 'LIMIT', '5'), /ERR syntax error/);
    for (const client of [writer, scanner]) client.disconnect();

    // The same keys through the library and the command line.
    const native = await cluster.client();
    const walked: string[] = [];
    for await (const key of native.scanKeys({ match: 'scan:2*', count: 7 }))
      walked.push(Buffer.from(key).toString());
    assert.equal(walked.length, 111, 'scan:2, scan:20..29, scan:200..299');
    assert.deepEqual(
      (await native.keys('scan:29?')).map((key) => Buffer.from(key).toString()).sort(),
      Array.from({ length: 10 }, (_, at) => `scan:29${at}`),
    );
    const coordinator = ['--coordinator', cluster.coordinatorAddress];
    const listed = await runCli(['keys', 'scan:1?', ...coordinator]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      listed.stdout.trim().split('\n').sort(),
      Array.from({ length: 10 }, (_, at) => `scan:1${at}`),
    );
    const json = await runCli(['keys', 'scan:5', '--json', ...coordinator]);
    assert.deepEqual(JSON.parse(json.stdout), { pattern: 'scan:5', keys: ['scan:5'] });
    const bad = await runCli(['keys', '--count', '0', ...coordinator]);
    assert.equal(bad.code, 2, bad.stderr);
    // Every page at any member within a minute's staleness: these keys were written long before.
    const anywhere = await runCli(['keys', 'scan:7?', '--any', '--max-staleness', '60000', ...coordinator]);
    assert.deepEqual(
      anywhere.stdout.trim().split('\n').sort(),
      Array.from({ length: 10 }, (_, at) => `scan:7${at}`),
    );
    const unbounded = await runCli(['keys', '--max-staleness', '5', ...coordinator]);
    assert.equal(unbounded.code, 2);
    assert.match(unbounded.stderr, /--max-staleness applies to reads at any member: add --any/);
  });

  test('redis-benchmark -t set,get,incr completes against a backup, and its increments ran exactly once, pipelined, shared or neither', async () => {
    const view = await cluster.waitForView((candidate) => candidate.backups.length === 2);
    const backupId = view.backups[0] as string;
    const port = String(ports.get(backupId));
    const benchmark = async (...args: string[]) => {
      const run = await runTool('redis-benchmark', ['-h', '127.0.0.1', '-p', port, ...args, '-q']);
      assert.equal(run.code, 0, run.stderr);
      return run.stdout;
    };
    const all = await benchmark('-t', 'set,get,incr', '-n', '2000', '-c', '4');
    for (const name of ['SET', 'GET', 'INCR']) {
      assert.match(all, new RegExp(`${name}: [0-9.]+ requests per second`), all.slice(-2000));
    }
    // Without -r every INCR hits one key: 2,000 of them, each run once.
    const client = await connectTo(backupId);
    assert.equal(await client.get('counter:__rand_int__'), '2000');
    // Pipelined 16 at a time, each pipeline one sequence at the port: 1,600 more, each run once.
    await benchmark('-t', 'incr', '-n', '1600', '-c', '2', '-P', '16');
    assert.equal(await client.get('counter:__rand_int__'), '3600');
    // Sixteen connections, one command each at a time: the commands that reach the port in one turn
    // go as one shared sequence. 1,600 more, each run once.
    const shared = async () =>
      Number(/understudy_shared_sequences:(\d+)/.exec(await client.info('stats'))?.[1]);
    const sharedBefore = await shared();
    const metricsBefore = await respMetrics(backupId);
    await benchmark('-t', 'incr', '-n', '1600', '-c', '16');
    assert.equal(await client.get('counter:__rand_int__'), '5200');
    assert.ok((await shared()) > sharedBefore, 'connections shared sequences');
    // /metrics counts the same: every command, and the shared sequences.
    const metricsAfter = await respMetrics(backupId);
    assert.ok(metricsAfter.commands - metricsBefore.commands >= 1600, 'every INCR counted');
    assert.ok(metricsAfter.shared > metricsBefore.shared, 'shared sequences counted');
  });

  test('an ioredis pipeline runs as one log entry, its commands in order, each answered; so does a transaction', async () => {
    const view = await cluster.waitForView((candidate) => candidate.backups.length === 2);
    const primary = await connectTo(view.primary);
    const backup = await connectTo(view.backups[0] as string);
    const offset = async () =>
      Number(/master_repl_offset:(\d+)/.exec(await primary.info('replication'))?.[1]);
    await backup.set('warm', '1'); // the port's client has its session before the count starts
    const before = await offset();
    const pipeline = backup.pipeline();
    for (let k = 0; k < 10; k++) pipeline.set(`piped:${k}`, String(k));
    pipeline
      .incr('piped:3')
      .incr('piped:nope')
      .append('piped:3', 'x')
      .incr('piped:3')
      .mget('piped:0', 'piped:3');
    const replies = await pipeline.exec();
    assert.deepEqual(
      replies?.map(([error, value]) => (error === null ? value : error.message)),
      [
        ...Array.from({ length: 10 }, () => 'OK'),
        4,
        1,
        2,
        'ERR value is not an integer or out of range',
        ['0', '4x'],
      ],
    );
    // One entry for 15 commands, and room for a few the cluster may log meanwhile (a session, the
    // deletion of a key whose time ran out, from the tests before).
    assert.ok((await offset()) - before <= 5, 'the pipeline took one log entry, not one per command');
    // A transaction (ioredis's multi: MULTI, the commands, EXEC) is one whole sequence.
    const transaction = await backup.multi().set('tx', '1').incr('tx').incr('piped:3').get('tx').exec();
    assert.deepEqual(
      transaction?.map(([error, value]) => (error === null ? value : error.message)),
      ['OK', 2, 'ERR value is not an integer or out of range', '2'],
    );

    for (const client of [primary, backup]) client.disconnect();
  });

  test('a transaction whose answers would pass 1 MiB is refused whole: nothing of it ran', async () => {
    const client = await connectTo('r1');
    const big = 'b'.repeat(700 * 1024);
    assert.equal(await client.set('tx:big', big), 'OK');
    // Two reads of 700 KiB behind a write: a write sequence's answers are kept in its log entry, so
    // the store answers at most 1 MiB of them, and a transaction is all of it or nothing.
    await assert.rejects(client.multi().set('tx:marker', 'ran').get('tx:big').get('tx:big').exec(), {
      message: /^ERR the results of the whole sequence would pass 1048576 bytes.*nothing ran$/,
    });
    assert.equal(await client.get('tx:marker'), null, 'a part of the refused transaction ran');
    client.disconnect();
  });

  test('WATCH: ioredis clients at every replica increment one counter optimistically; none is lost or applied twice', async () => {
    const workers = await Promise.all(['r1', 'r2', 'r3', 'r1'].map((id) => connectTo(id)));
    const [first, second] = workers as [Redis, Redis];
    // A write by another client between WATCH and EXEC: EXEC answers nil, and nothing of it ran.
    assert.equal(await first.watch('watched:counter'), 'OK');
    assert.equal(await second.set('watched:counter', '0'), 'OK');
    assert.equal(await first.multi().set('watched:counter', 'lost').set('watched:other', 'x').exec(), null);
    assert.deepEqual(await first.mget('watched:counter', 'watched:other'), ['0', null]);
    const each = 15;
    let aborted = 0;
    const increment = async (client: Redis): Promise<void> => {
      for (;;) {
        await client.watch('watched:counter');
        const seen = Number((await client.get('watched:counter')) ?? '0');
        const replies = await client
          .multi()
          .set('watched:counter', String(seen + 1))
          .exec();
        if (replies !== null) {
          assert.deepEqual(replies, [[null, 'OK']]);
          return;
        }
        aborted += 1; // another client wrote it between our WATCH and EXEC: read again
      }
    };
    await Promise.all(
      workers.map(async (client) => {
        for (let done = 0; done < each; done++) await increment(client);
      }),
    );
    // Every EXEC that ran added exactly one to what its client saw, and no aborted one ran.
    assert.equal(
      await first.get('watched:counter'),
      String(workers.length * each),
      `after ${aborted} transactions aborted by a write of another client`,
    );
    for (const client of workers) client.disconnect();
  });

  test("ROLE and INFO name the replicas' Redis ports (where Redis tools dial them) and durable offsets", async () => {
    const status = await cluster.status();
    const view = status.view;
    assert.ok(view !== null && view.backups.length === 2, 'a whole view');
    const [first, second] = view.backups;
    assert.ok(first !== undefined && second !== undefined);
    const primary = await connectTo(view.primary);
    const backup = await connectTo(first);
    await primary.set('role:probe', '1');
    const addressOf = (id: string): [string, string] => ['127.0.0.1', String(ports.get(id))];
    await waitFor('ROLE to name both backups at the primary', async () => {
      const [kind, offset, followers] = (await primary.role()) as [string, number, string[][]];
      assert.equal(kind, 'master');
      assert.ok(offset > 0);
      assert.deepEqual(
        followers.map(([ip, port]) => [ip, port]).sort(),
        [addressOf(first), addressOf(second)].sort(),
      );
      return true;
    });
    const [kind, ip, port, state, offset] = (await backup.role()) as [string, string, number, string, number];
    assert.deepEqual([kind, ip, String(port), state], ['slave', ...addressOf(view.primary), 'connected']);
    assert.ok(offset > 0);
    const backupInfo = await backup.info('replication');
    assert.match(
      backupInfo,
      new RegExp(`master_host:127\\.0\\.0\\.1\r\nmaster_port:${ports.get(view.primary)}\r\n`),
    );
    const primaryInfo = await primary.info('replication');
    for (const id of [first, second]) {
      assert.match(
        primaryInfo,
        new RegExp(`slave\\d:id=${id},ip=127\\.0\\.0\\.1,port=${ports.get(id)},state=online,`),
      );
    }
    primary.disconnect();
    backup.disconnect();
  });

  test('malformed input gets an error and closes that connection only; the replica goes on', async () => {
    const port = ports.get('r3') as number;
    const send = (bytes: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        let text = '';
        socket.on('data', (chunk) => {
          text += chunk.toString();
        });
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
        socket.write(bytes);
      });
    assert.equal(await send('*1\r\n$99999999999\r\n'), '-ERR Protocol error: invalid bulk length\r\n');
    assert.equal(await send('*2\r\n$3\r\nGET\r\n:1\r\n'), "-ERR Protocol error: expected '$', got ':'\r\n");
    assert.equal(await send('PING\r\nQUIT\r\n'), '+PONG\r\n+OK\r\n');
    const client = await connectTo('r3');
    assert.equal(await client.ping(), 'PONG');
    assert.equal(await client.get('greeting'), 'replaced!');
  });

  /** The replica's `understudy_local_links`: its Redis port's connections to it held in memory. */
  const localLinks = async (id: string): Promise<number> => {
    const response = await fetch(`http://${adminAddressOf(cluster.replicas.get(id))}/metrics`);
    return sampleValue(parsePrometheusText(await response.text()), 'understudy_local_links');
  };

  test("the primary's port reaches its replica in memory, a backup's over TCP, and they trade places in a switchover", async () => {
    const before = await cluster.waitForView((candidate) => candidate.backups.length === 2);
    const next = before.backups[0] as string;
    const first = await connectTo(before.primary);
    const second = await connectTo(next);
    for (let n = 0; n < 20; n += 1) {
      assert.equal(await first.set(`link:${n}`, `first-${n}`), 'OK');
      assert.equal(await second.incr('link:count'), n + 1);
    }
    assert.equal(await localLinks(before.primary), 1, "the primary's port took the in-process link");
    assert.equal(await localLinks(next), 0, "a backup's port dialled the primary over TCP");

    const answer = await (await cluster.client()).switchover(next);
    assert.equal(answer.ok, true, answer.message);
    await cluster.waitForView((view) => view.primary === next && view.backups.length === 2);
    // The old primary's port finds the new one (NOT_PRIMARY, a new view) and goes on over TCP.
    for (let n = 0; n < 20; n += 1) {
      assert.equal(await second.set(`link:${n}`, `second-${n}`), 'OK');
      assert.equal(await first.incr('link:count'), 21 + n);
    }
    assert.equal(await localLinks(next), 1, "the new primary's port took its in-process link");
    assert.deepEqual(
      await first.mget('link:0', 'link:19', 'link:count'),
      ['second-0', 'second-19', '40'],
      'every write ran once, in order, whichever way it travelled',
    );
    first.disconnect();
    second.disconnect();
  });

  /** Requests of `op` (read, read-any, ...) a replica has answered, from its own metrics. */
  const requestsAnswered = async (id: string, op: string): Promise<number> => {
    const response = await fetch(`http://${adminAddressOf(cluster.replicas.get(id))}/metrics`);
    return sampleValue(
      parsePrometheusText(await response.text()),
      'understudy_request_duration_seconds_count',
      {
        op,
        durability: 'none',
      },
    );
  };

  test("READONLY: a backup's port answers reads from its own replica, in memory, and each connection reads its own writes", async () => {
    const view = await cluster.waitForView((candidate) => candidate.backups.length === 2);
    const backupId = view.backups[0] as string;
    const backup = await connectTo(backupId);
    assert.equal(await backup.set('readonly:old', 'settled'), 'OK');
    const servedBefore = await requestsAnswered(backupId, 'read-any');
    assert.equal(await backup.call('READONLY'), 'OK');
    // Once the backup has applied the write, its own replica answers (the bound is the default 1 s).
    await waitFor(
      'a read answered by the backup itself',
      async () => {
        assert.equal(await backup.get('readonly:old'), 'settled');
        return (await requestsAnswered(backupId, 'read-any')) > servedBefore ? true : undefined;
      },
      60_000,
    );
    assert.equal(await localLinks(backupId), 1, "the backup's port reached its own replica over the link");
    // Every read goes to this replica first, not round-robin over the members.
    const askedFirst = await requestsAnswered(backupId, 'read-any');
    for (let n = 0; n < 20; n += 1) assert.equal(await backup.get('readonly:old'), 'settled');
    assert(
      (await requestsAnswered(backupId, 'read-any')) >= askedFirst + 20,
      'each read asked the backup first',
    );
    // Read-your-writes: each read follows the connection's own write, wherever it is answered.
    for (let n = 0; n < 50; n += 1) {
      assert.equal(await backup.set('readonly:mine', `v${n}`), 'OK');
      assert.equal(await backup.get('readonly:mine'), `v${n}`);
      assert.equal(await backup.incr('readonly:count'), n + 1);
      assert.deepEqual(await backup.mget('readonly:mine', 'readonly:count'), [`v${n}`, String(n + 1)]);
    }
    assert.equal(await backup.call('READWRITE'), 'OK');
    const readsBefore = await requestsAnswered(view.primary, 'read');
    assert.equal(await backup.get('readonly:mine'), 'v49');
    assert((await requestsAnswered(view.primary, 'read')) > readsBefore, 'READWRITE reads at the primary');

    // READONLY on the primary's own port reads at the primary, as it always would: no detour.
    const primary = await connectTo(view.primary);
    assert.equal(await primary.call('READONLY'), 'OK');
    const askedBefore = await requestsAnswered(view.primary, 'read-any');
    for (let n = 0; n < 10; n += 1) assert.equal(await primary.get('readonly:mine'), 'v49');
    assert.equal(await requestsAnswered(view.primary, 'read-any'), askedBefore);
    backup.disconnect();
    primary.disconnect();
  });

  test('kill -9 of the primary: a Redis client on a surviving replica keeps working, and no acknowledged SET is lost', async () => {
    const before = await cluster.waitForView((candidate) => candidate.backups.length === 2);
    const survivor = before.backups[0] as string;
    const reader = before.backups[1] as string;
    const client = await connectTo(survivor);
    const acknowledged = new Map<string, string>();
    let failed = 0;
    let stopWriting = false;
    let afterFailover = 0;
    let newPrimary = false;
    const writer = (async () => {
      for (let number = 0; !stopWriting && number < 100_000; number++) {
        const key = `failover:${number}`;
        const value = `value-${number}`;
        try {
          assert.equal(await client.set(key, value), 'OK');
          acknowledged.set(key, value);
          if (newPrimary) afterFailover += 1;
        } catch {
          failed += 1; // unavailable or outcome unknown: not acknowledged, so not checked
        }
      }
    })();
    await waitFor('writes before the kill', () => (acknowledged.size >= 50 ? true : undefined), 60_000);
    await cluster.kill(before.primary);
    await cluster.waitForView(
      (view) => view.primary !== before.primary && view.number > before.number,
      60_000,
    );
    newPrimary = true;
    await waitFor(
      'writes acknowledged after the failover',
      () => (afterFailover >= 50 ? true : undefined),
      60_000,
    );
    stopWriting = true;
    await writer;

    const check = await connectTo(reader);
    const keys = [...acknowledged.keys()];
    for (let start = 0; start < keys.length; start += 500) {
      const slice = keys.slice(start, start + 500);
      const values = await check.mget(...slice);
      slice.forEach((key, at) => {
        assert.equal(values[at], acknowledged.get(key), `acknowledged ${key} is missing or wrong`);
      });
    }
    assert.ok(acknowledged.size >= 100, `only ${acknowledged.size} writes acknowledged (${failed} failed)`);
    assert.equal(await client.ping(), 'PONG');
  });
});
