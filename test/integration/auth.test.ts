// A cluster of real processes run with --auth-file and --cluster-secret-file: a client with its token
// writes and reads back; a client without one, or with a wrong one, is refused and counted; one
// client's token cannot open, spend or ask about another client's session; a switchover needs an
// admin token; a process that poses as replica r2 without the cluster secret is refused by the
// coordinator and by the replicas, and nothing it says is taken; the Redis port asks for AUTH
// (ioredis, redis-cli); SIGHUP reloads the tokens, and the cluster secret changes through three
// SIGHUPs with the cluster writing throughout; no token or secret appears in any log line or status
// output.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { Client } from '../../src/client/index.js';
import { ErrorCode, HandshakeError } from '../../src/errors.js';
import type { ClientRequest, Hello } from '../../src/protocol/messages.js';
import { clientId } from '../../src/protocol/types.js';
import { keyValueService } from '../../src/state-machine/kv-service.js';
import { dial, PROTOCOL_VERSION, parseClientReply } from '../../src/transport/index.js';
import {
  adminAddressOf,
  LocalCluster,
  type RunningProcess,
  replicaHello,
  runCli,
  waitFor,
} from './harness.js';

const directory = mkdtempSync(path.join(tmpdir(), 'understudy-auth-'));
const clusterSecret = 'the-shared-secret-of-this-test-cluster';
const nextClusterSecret = 'the-secret-this-test-cluster-changes-to';

/** Makes a token with `understudy token`, as an operator would; returns it and its --auth-file digest. */
async function makeToken(
  name: string,
  admin = false,
): Promise<{ token: string; digest: string; file: string }> {
  const file = path.join(directory, `${name}.token`);
  const made = await runCli(['token', name, '--out', file, ...(admin ? ['--admin'] : [])]);
  assert.equal(made.code, 0, made.stderr);
  const token = readFileSync(file, 'utf8').trim();
  assert(!made.stdout.includes(token), 'with --out the token is not printed');
  const digest = /"(sha256:[0-9a-f]{64})"/.exec(made.stdout)?.[1];
  assert(digest !== undefined, made.stdout);
  return { token, digest, file };
}

async function counter(adminAddress: string, name: string, reason: string): Promise<number> {
  const text = await (await fetch(`http://${adminAddress}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{reason="${reason}"} `));
  return Number(line?.split(' ')[1] ?? Number.NaN);
}

/** A Hello that claims to be replica r2, bringing `credential` as its cluster secret. */
const posingAsR2 = (credential?: string): Hello => replicaHello('r2', keyValueService, credential);

const refusedAsForged = (error: unknown) =>
  error instanceof HandshakeError && /did not bring this cluster's secret/.test(error.message);

function request(
  fields: Partial<ClientRequest> & Pick<ClientRequest, 'id' | 'kind' | 'clientId'>,
): ClientRequest {
  return {
    type: 'request',
    requestNumber: 0,
    durability: 'sync',
    operation: new Uint8Array(0),
    staleness: null,
    ...fields,
  };
}

describe('a cluster that asks for tokens and a cluster secret', { concurrency: false }, () => {
  let cluster: LocalCluster;
  let app1: Awaited<ReturnType<typeof makeToken>>;
  let app2: Awaited<ReturnType<typeof makeToken>>;
  let ops: Awaited<ReturnType<typeof makeToken>>;
  let respPort = 0;
  const opened: Client[] = [];

  const connect = async (token?: string): Promise<Client> => {
    const client = await Client.connect({
      coordinator: cluster.coordinatorAddress,
      deadlineMs: 20_000,
      ...(token === undefined ? {} : { token }),
    });
    opened.push(client);
    return client;
  };

  /** Sends every server SIGHUP and waits until each logged `phrase` once more than before. */
  const hangUp = async (phrase: string): Promise<void> => {
    const servers = [cluster.coordinator, ...cluster.replicas.values()].filter(
      (running): running is RunningProcess => running !== null,
    );
    const count = (text: string) => text.split(phrase).length - 1;
    const before = servers.map((server) => count(server.stderr()));
    for (const server of servers) server.child.kill('SIGHUP');
    await waitFor(`every server logged "${phrase}"`, () =>
      servers.every((server, at) => count(server.stderr()) > (before[at] ?? 0)) ? true : undefined,
    );
    for (const server of servers) assert.equal(server.child.exitCode, null, 'SIGHUP ends no server');
  };

  before(async () => {
    app1 = await makeToken('app1');
    app2 = await makeToken('app2');
    ops = await makeToken('ops', true);
    const authFile = path.join(directory, 'auth.json');
    writeFileSync(
      authFile,
      JSON.stringify({ clients: { app1: app1.digest, app2: app2.digest }, admins: { ops: ops.digest } }),
    );
    const secretFile = path.join(directory, 'cluster.secret');
    writeFileSync(secretFile, `${clusterSecret}\n`, { mode: 0o600 });
    const access = ['--auth-file', authFile, '--cluster-secret-file', secretFile];
    cluster = await LocalCluster.start(
      3,
      (id) => [
        ...access,
        '--admin',
        '127.0.0.1:0',
        '--log-level',
        'debug',
        ...(id === 'r1' ? ['--resp', '127.0.0.1:0'] : []),
      ],
      [...access, '--admin', '127.0.0.1:0', '--log-level', 'debug'],
      undefined,
      app1.token,
    );
    const match = /Redis protocol on \S+:(\d+)/.exec(cluster.replicas.get('r1')?.stdout() ?? '');
    respPort = Number(match?.[1]);
  });

  after(async () => {
    for (const client of opened) await client.close();
    await cluster.close();
    rmSync(directory, { recursive: true, force: true });
  });

  test('a client with its token writes and reads back; one without a token, or with a wrong one, is refused and counted', async () => {
    const client = await connect(app1.token);
    await client.put('k', 'v1');
    assert.equal(await client.getText('k'), 'v1');

    const coordinatorAdmin = adminAddressOf(cluster.coordinator ?? undefined);
    const before = await counter(coordinatorAdmin, 'understudy_connections_refused_total', 'unauthenticated');
    const forged = `app1.${app2.token.slice('app2.'.length)}`;
    for (const token of [undefined, forged]) {
      await assert.rejects(
        connect(token),
        (error: unknown) => error instanceof HandshakeError && error.code === ErrorCode.unauthenticated,
      );
    }
    assert.equal(
      await counter(coordinatorAdmin, 'understudy_connections_refused_total', 'unauthenticated'),
      before + 2,
    );

    // The CLI: a token from --token-file or UNDERSTUDY_TOKEN, none refused with the code.
    const at = ['--coordinator', cluster.coordinatorAddress];
    const put = await runCli(['put', 'cli', 'yes', ...at, '--token-file', app1.file]);
    assert.equal(put.code, 0, put.stderr);
    const get = await runCli(['get', 'cli', ...at], { UNDERSTUDY_TOKEN: app2.token });
    assert.equal(get.stdout, 'yes\n', get.stderr);
    const refused = await runCli(['get', 'cli', ...at], { UNDERSTUDY_TOKEN: '' });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /UNAUTHENTICATED/);
  });

  test("client app1's token cannot open, write or ask about app2's session; app2 goes on as if nothing happened", async () => {
    const b = await connect(app2.token);
    await b.put('owned-by-b', 'one');
    const view = await cluster.waitForView(() => true);
    const primary = cluster.replicas.get(view.primary);
    const primaryAdmin = adminAddressOf(primary);
    const refusedBefore = await counter(
      primaryAdmin,
      'understudy_requests_refused_total',
      'client_id_not_owned',
    );
    const hello: Hello = {
      type: 'hello',
      clusterId: 'understudy',
      protocolVersion: PROTOCOL_VERSION,
      peer: { kind: 'client' },
      credential: app1.token,
    };
    const connection = await dial(primary?.address ?? '', hello);
    const replies: ReturnType<typeof parseClientReply>[] = [];
    connection.onMessage = (message) => replies.push(parseClientReply(message));
    // app2's session ids begin with app2/: app1 tries its first slot, with request numbers it may hold.
    const stolen = clientId('app2/stolen-session');
    const asB = [
      request({ id: 1, kind: 'open-session', clientId: stolen }),
      request({ id: 2, kind: 'write', clientId: stolen, requestNumber: 1 }),
      request({ id: 3, kind: 'request-status', clientId: clientId('app2/x'), requestNumber: 1 }),
      request({ id: 4, kind: 'read', clientId: stolen }),
    ];
    for (const message of asB) connection.send(message);
    await waitFor('four answers', () => (replies.length === 4 ? true : undefined));
    connection.close();
    for (const reply of replies) {
      assert.equal(reply.ok, false);
      assert.equal(!reply.ok && reply.code, ErrorCode.notAuthorized);
    }
    assert.equal(
      await counter(primaryAdmin, 'understudy_requests_refused_total', 'client_id_not_owned'),
      refusedBefore + 4,
    );
    // app2's own writes go on, each once.
    assert.equal((await b.incr('counter-of-b')).value, 1);
    assert.equal((await b.incr('counter-of-b')).value, 2);
    assert.equal(await b.getText('owned-by-b'), 'one');
  });

  test('a switchover with a client token is refused and counted; with an admin token it is done', async () => {
    const view = await cluster.waitForView((candidate) => candidate.backups.length === 2);
    const to = view.backups[0] as string;
    const coordinatorAdmin = adminAddressOf(cluster.coordinator ?? undefined);
    const before = await counter(coordinatorAdmin, 'understudy_requests_refused_total', 'not_admin');
    const asClient = await (await connect(app1.token)).switchover(to);
    assert.equal(asClient.ok, false);
    assert.match(asClient.message, /NOT_AUTHORIZED: a switchover needs an admin token/);
    assert.equal(
      await counter(coordinatorAdmin, 'understudy_requests_refused_total', 'not_admin'),
      before + 1,
    );
    assert.equal((await cluster.waitForView(() => true)).primary, view.primary, 'the view did not change');

    const cli = await runCli(['switchover', '--to', to, '--coordinator', cluster.coordinatorAddress], {
      UNDERSTUDY_TOKEN_FILE: ops.file,
    });
    assert.equal(cli.code, 0, cli.stdout + cli.stderr);
    assert.equal((await cluster.waitForView((candidate) => candidate.primary === to)).primary, to);
  });

  test('a forget with a client token is refused and counted; with an admin token it is answered', async () => {
    const coordinatorAdmin = adminAddressOf(cluster.coordinator ?? undefined);
    const before = await counter(coordinatorAdmin, 'understudy_requests_refused_total', 'not_admin');
    const asClient = await (await connect(app1.token)).forget('r9');
    assert.deepEqual(asClient, {
      type: 'forget_reply',
      id: asClient.id,
      ok: false,
      message: 'NOT_AUTHORIZED: forgetting a replica needs an admin token; app1 is a client',
    });
    assert.equal(
      await counter(coordinatorAdmin, 'understudy_requests_refused_total', 'not_admin'),
      before + 1,
    );
    const cli = await runCli(['forget', 'r9', '--coordinator', cluster.coordinatorAddress], {
      UNDERSTUDY_TOKEN_FILE: ops.file,
    });
    assert.equal(cli.code, 1, cli.stdout + cli.stderr);
    assert.match(cli.stdout, /forget refused: r9 is not known to this coordinator/);
  });

  test('a snapshot save with a client token is refused and counted; with an admin token it saves', async () => {
    const view = await cluster.waitForView((candidate) => candidate.backups.length === 2);
    const primaryAdmin = adminAddressOf(cluster.replicas.get(view.primary));
    const before = await counter(primaryAdmin, 'understudy_requests_refused_total', 'not_admin');
    const file = path.join(directory, 'saved.snap');
    const asClient = await runCli(['snapshot', 'save', file, '--coordinator', cluster.coordinatorAddress], {
      UNDERSTUDY_TOKEN_FILE: app1.file,
    });
    assert.equal(asClient.code, 1, asClient.stdout + asClient.stderr);
    assert.match(
      asClient.stderr,
      /NOT_AUTHORIZED: saving a snapshot needs an admin token \(app1's is a client's\)/,
    );
    assert.ok(!existsSync(file) && !existsSync(`${file}.part`), 'nothing was written');
    assert.equal(await counter(primaryAdmin, 'understudy_requests_refused_total', 'not_admin'), before + 1);

    const asAdmin = await runCli(
      ['snapshot', 'save', file, '--coordinator', cluster.coordinatorAddress, '--json'],
      {
        UNDERSTUDY_TOKEN_FILE: ops.file,
      },
    );
    assert.equal(asAdmin.code, 0, asAdmin.stdout + asAdmin.stderr);
    const saved = JSON.parse(asAdmin.stdout) as { readonly replica: string; readonly index: number };
    assert.equal(saved.replica, view.primary);
    assert.ok(existsSync(file) && saved.index > 0);
  });

  test('a process posing as replica r2 without the cluster secret is refused by the coordinator and a replica, and counted', async () => {
    const coordinatorAdmin = adminAddressOf(cluster.coordinator ?? undefined);
    const r1Admin = adminAddressOf(cluster.replicas.get('r1'));
    const coordinatorBefore = await counter(
      coordinatorAdmin,
      'understudy_connections_refused_total',
      'forged_peer',
    );
    const replicaBefore = await counter(r1Admin, 'understudy_connections_refused_total', 'forged_peer');
    // A steady view (the switchover's old primary back as a backup): one the impostor could only disturb.
    const viewBefore = await cluster.waitForView(
      (view) => view.backups.length === 2 && view.learners.length === 0,
    );
    for (const address of [cluster.coordinatorAddress, cluster.replicas.get('r1')?.address ?? '']) {
      for (const credential of [undefined, app1.token, `${clusterSecret}-guess`]) {
        await assert.rejects(dial(address, posingAsR2(credential)), refusedAsForged);
      }
    }
    assert.equal(
      await counter(coordinatorAdmin, 'understudy_connections_refused_total', 'forged_peer'),
      coordinatorBefore + 3,
    );
    assert.equal(
      await counter(r1Admin, 'understudy_connections_refused_total', 'forged_peer'),
      replicaBefore + 3,
    );
    const viewAfter = await cluster.waitForView(() => true);
    assert.deepEqual(viewAfter, viewBefore, 'nothing the impostor sent changed the view');
  });

  test('the Redis port asks for AUTH: ioredis and redis-cli with the token, NOAUTH and WRONGPASS without', async () => {
    // Without a password ioredis's ready check (INFO) fails as it would against Redis with requirepass.
    const without = new Redis({
      host: '127.0.0.1',
      port: respPort,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableReadyCheck: false,
      retryStrategy: () => null,
    });
    try {
      await without.connect();
      await assert.rejects(without.get('k'), /NOAUTH Authentication required/);
      await assert.rejects(without.auth(`app1.${app2.token.slice(5)}`), /WRONGPASS/);
    } finally {
      without.disconnect();
    }

    const secret = app1.token.slice('app1.'.length);
    const withToken = new Redis({
      host: '127.0.0.1',
      port: respPort,
      username: 'app1',
      password: secret,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    try {
      await withToken.connect();
      assert.equal(await withToken.set('redis-key', 'redis value'), 'OK');
      assert.equal(await withToken.get('redis-key'), 'redis value');
    } finally {
      withToken.disconnect();
    }

    // redis-cli reads the password from REDISCLI_AUTH, out of sight of `ps`.
    const cli = await new Promise<string>((resolve, reject) => {
      execFile(
        'redis-cli',
        ['-h', '127.0.0.1', '-p', String(respPort), 'GET', 'redis-key'],
        { env: { ...process.env, REDISCLI_AUTH: app1.token }, timeout: 60_000 },
        (error, stdout, stderr) =>
          error === null ? resolve(stdout) : reject(new Error(`${error.message}${stderr}`)),
      );
    });
    assert.equal(cli, 'redis value\n');
  });

  test('SIGHUP reloads --auth-file: a new token is let in, a removed one refused, connections made before go on; a broken file changes nothing', async () => {
    const app3 = await makeToken('app3');
    const authFile = path.join(directory, 'auth.json');
    const original = readFileSync(authFile, 'utf8');
    const refused = (error: unknown) =>
      error instanceof HandshakeError && error.code === ErrorCode.unauthenticated;

    const before = await connect(app2.token);
    await before.put('reload', 'app2');
    await assert.rejects(connect(app3.token), refused);

    writeFileSync(
      authFile,
      JSON.stringify({ clients: { app1: app1.digest, app3: app3.digest }, admins: { ops: ops.digest } }),
    );
    await hangUp('reloaded the tokens of --auth-file');
    const after = await connect(app3.token);
    await after.put('reload', 'app3');
    await assert.rejects(connect(app2.token), refused);
    assert.equal(await before.getText('reload'), 'app3', 'the connection app2 made before goes on');
    const redis = new Redis({
      host: '127.0.0.1',
      port: respPort,
      username: 'app3',
      password: app3.token.slice('app3.'.length),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    try {
      await redis.connect();
      assert.equal(await redis.get('reload'), 'app3', 'the Redis port takes the new token too');
    } finally {
      redis.disconnect();
    }

    writeFileSync(authFile, '{ "clients": ');
    await hangUp('--auth-file could not be read again');
    await (await connect(app3.token)).put('reload', 'still app3');

    writeFileSync(authFile, original);
    await hangUp('reloaded the tokens of --auth-file');
    await (await connect(app2.token)).put('reload', 'app2 again');
  });

  test('the cluster secret changes in three SIGHUPs with writes going on; a replica started after brings the new one and rejoins; the old one is refused; a broken file changes nothing', async () => {
    const secretFile = path.join(directory, 'cluster.secret');
    const reloaded = 'reloaded the cluster secret of --cluster-secret-file';
    const client = await connect(app1.token);
    const steps: [string, string[]][] = [
      ['accept the new secret beside the old', [clusterSecret, nextClusterSecret]],
      ['bring the new secret, still accept the old', [nextClusterSecret, clusterSecret]],
      ['drop the old secret', [nextClusterSecret]],
    ];
    for (const [step, secrets] of steps) {
      writeFileSync(secretFile, `${secrets.join('\n')}\n`, { mode: 0o600 });
      await hangUp(reloaded);
      await client.put('secret-step', step);
      assert.equal(await client.getText('secret-step'), step);
    }

    // Connections made from now on need the new secret, both ways: a backup restarted with the file
    // must be let in by the coordinator and the primary, and let the primary's Prepares in, to count
    // as a backup again and take part in the next sync write.
    const view = await cluster.waitForView((candidate) => candidate.backups.length === 2);
    const restarted = view.backups[view.backups.length - 1] ?? '';
    await cluster.kill(restarted);
    await cluster.waitForView((candidate) => !candidate.backups.includes(restarted));
    await cluster.startReplica(restarted);
    await cluster.waitForView(
      (candidate) => candidate.backups.includes(restarted) && candidate.learners.length === 0,
    );
    await client.put('secret-step', 'after the restart');
    assert.equal(await client.getText('secret-step'), 'after the restart');

    for (const address of [cluster.coordinatorAddress, cluster.replicas.get(view.primary)?.address ?? '']) {
      await assert.rejects(dial(address, posingAsR2(clusterSecret)), refusedAsForged);
    }

    writeFileSync(secretFile, `${nextClusterSecret}\nshort\n`);
    await hangUp('--cluster-secret-file could not be read again');
    await assert.rejects(dial(cluster.coordinatorAddress, posingAsR2(clusterSecret)), refusedAsForged);
    await client.put('secret-step', 'after a broken file');
    assert.equal(await client.getText('secret-step'), 'after a broken file');
  });

  test('no token, secret or digest appears in any log line or status output', async () => {
    const status = await runCli(['status', '--json', '--coordinator', cluster.coordinatorAddress], {
      UNDERSTUDY_TOKEN: ops.token,
    });
    assert.equal(status.code, 0, status.stderr);
    const adminStatus = await (
      await fetch(`http://${adminAddressOf(cluster.coordinator ?? undefined)}/status`)
    ).text();
    const replicaStatus = await (
      await fetch(`http://${adminAddressOf(cluster.replicas.get('r1'))}/status`)
    ).text();
    const processes = [cluster.coordinator, ...cluster.replicas.values()].filter(
      (running): running is RunningProcess => running !== null,
    );
    const logs = processes.map((running) => running.stderr() + running.stdout()).join('\n');
    assert.match(logs, /handshake/, 'the refusals were logged');
    const secrets = [
      clusterSecret,
      nextClusterSecret,
      ...[app1, app2, ops].flatMap(({ token, digest }) => [
        token.slice(token.indexOf('.') + 1),
        digest.slice(7),
      ]),
    ];
    for (const [what, text] of [
      ['logs', logs],
      ['understudy status', status.stdout + status.stderr],
      ['/status', adminStatus + replicaStatus],
    ] as const) {
      for (const secret of secrets) assert(!text.includes(secret), `a secret appears in ${what}`);
    }
  });
});
