// Authentication without a cluster: tokens and their digests, the credentials file, the constant-time
// checks, a listener that asks for tokens and the cluster secret (each refusal counted, the principal
// handed to its owner), the client's token source, and AUTH on the Redis port as Redis answers it.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { clientToken, serverAccess } from '../../src/cli/auth-files.js';
import { ConfigError, ErrorCode, HandshakeError } from '../../src/errors.js';
import { createLogger } from '../../src/node/logger.js';
import { commitRulesOf, defaultProtocolConfig } from '../../src/protocol/config.js';
import type { Hello, PeerKind } from '../../src/protocol/messages.js';
import { logIndex, replicaId, viewNumber } from '../../src/protocol/types.js';
import type { LocalReplica, RespBackend } from '../../src/resp/index.js';
import { RespServer } from '../../src/resp/index.js';
import {
  ClusterSecret,
  makeToken,
  ownsClientId,
  type Principal,
  parseClusterSecret,
  parseCredentials,
  secretsEqual,
  tokenDigestText,
  tokenName,
} from '../../src/transport/auth.js';
import { transportCounters } from '../../src/transport/counters.js';
import { dial } from '../../src/transport/dial.js';
import { PROTOCOL_VERSION } from '../../src/transport/handshake.js';
import { listen } from '../../src/transport/server.js';

const app = makeToken('app1');
const other = makeToken('app2');
const admin = makeToken('ops');
const credentialsText = JSON.stringify({
  clients: { app1: app.digest, app2: other.digest },
  admins: { ops: admin.digest },
});
const credentials = parseCredentials(credentialsText, 'test file');
const clusterSecret = 'a-cluster-secret-of-some-length';
const nextClusterSecret = 'the-cluster-secret-that-comes-next';

describe('tokens and the credentials file', () => {
  test('a token is <name>.<secret> and its digest is sha256 of the whole token', () => {
    assert.equal(tokenName(app.token), 'app1');
    assert.match(app.token, /^app1\.[A-Za-z0-9_-]{43}$/);
    assert.match(app.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(tokenDigestText(app.token), app.digest);
    assert.notEqual(makeToken('app1').token, app.token, 'every token is new');
    for (const bad of ['', 'noDot', '.secret', 'a b.secret', 'ü.secret', `${'x'.repeat(600)}.s`]) {
      assert.equal(tokenName(bad), null, JSON.stringify(bad));
    }
    assert.throws(() => makeToken('bad name'), ConfigError);
  });

  test('the credentials prove the principal of a right token only', () => {
    assert.deepEqual(credentials.authenticate(app.token), { role: 'client', name: 'app1' });
    assert.deepEqual(credentials.authenticate(admin.token), { role: 'admin', name: 'ops' });
    assert.equal(credentials.authenticate(null), null, 'no token');
    assert.equal(credentials.authenticate(`app1.${other.token.slice(5)}`), null, 'a wrong secret');
    assert.equal(credentials.authenticate(`nobody.${app.token.slice(5)}`), null, 'an unknown name');
    assert.equal(credentials.authenticate(app.token.slice(0, -1)), null, 'a truncated token');
    assert.equal(credentials.authenticate(`${app.token}x`), null, 'a longer token');
    assert.equal(credentials.authenticate('x'.repeat(10_000)), null, 'an overlong token');
    assert.deepEqual(credentials.counts, { clients: 2, admins: 1 });
  });

  test('a client token owns only the client ids of its name; an admin token any', () => {
    const client: Principal = { role: 'client', name: 'app1' };
    assert.equal(ownsClientId(client, 'app1/5d0e/3'), true);
    assert.equal(ownsClientId(client, 'app1'), false);
    assert.equal(ownsClientId(client, 'app10/5d0e/3'), false, 'a name that only starts the same');
    assert.equal(ownsClientId(client, 'app2/5d0e/3'), false);
    assert.equal(ownsClientId(client, '5d0e/3'), false, 'an id without a name');
    assert.equal(ownsClientId({ role: 'admin', name: 'ops' }, 'app2/5d0e/3'), true);
  });

  test('secrets are compared by digest, whatever their lengths', () => {
    assert.equal(secretsEqual(clusterSecret, clusterSecret), true);
    assert.equal(secretsEqual(clusterSecret, `${clusterSecret}x`), false);
    assert.equal(secretsEqual('', clusterSecret), false);
  });

  test('a cluster secret file holds one secret, or two while it changes: the first is brought, both let in', () => {
    const one = parseClusterSecret(`${clusterSecret}\n`, 'the file');
    assert.equal(one.presented, clusterSecret);
    assert.equal(one.count, 1);
    assert.equal(one.admits(clusterSecret), true);
    for (const wrong of [undefined, '', nextClusterSecret, `${clusterSecret}x`, clusterSecret.slice(1)]) {
      assert.equal(one.admits(wrong), false, String(wrong));
    }
    const two = parseClusterSecret(`\n  ${nextClusterSecret}\r\n\n${clusterSecret}\n`, 'the file');
    assert.equal(two.presented, nextClusterSecret, 'the first line is the one brought');
    assert.equal(two.count, 2);
    assert.equal(two.admits(clusterSecret), true);
    assert.equal(two.admits(nextClusterSecret), true);
    assert.equal(two.admits(`${nextClusterSecret}x`), false);
    one.replaceWith(two);
    assert.equal(one.presented, nextClusterSecret, 'a reload brings the new first line');
    assert.equal(one.admits(clusterSecret) && one.admits(nextClusterSecret), true);
    one.replaceWith(new ClusterSecret([nextClusterSecret]));
    assert.equal(one.admits(clusterSecret), false, 'the old secret dropped');
  });

  test('a bad cluster secret file is refused with its line and what to fix, never a secret', () => {
    const cases: [string, RegExp][] = [
      ['', /the file is empty/],
      ['\n \n', /the file is empty/],
      ['short\n', /^the file: a cluster secret has at least 16 characters/],
      [`${clusterSecret}\nshort`, /^the file line 2: a cluster secret has at least 16 characters/],
      [`${clusterSecret} ${nextClusterSecret}`, /one word, without spaces/],
      [`${clusterSecret}\n${nextClusterSecret}\n${clusterSecret}-3`, /3 secrets; it holds one, or two/],
      [`${'x'.repeat(600)}`, /longer than 512 characters/],
    ];
    for (const [text, expected] of cases) {
      assert.throws(
        () => parseClusterSecret(text, 'the file'),
        (error: unknown) =>
          error instanceof ConfigError &&
          expected.test(error.message) &&
          !error.message.includes(clusterSecret) &&
          !error.message.includes(nextClusterSecret) &&
          !error.message.includes('short'),
        JSON.stringify(text),
      );
    }
  });

  test('a bad credentials file is refused with what to fix, never a digest', () => {
    const cases: [string, RegExp][] = [
      ['not json', /not JSON/],
      ['[]', /must be a JSON object/],
      ['{}', /lists no client or admin/],
      ['{"users": {}}', /unknown key "users"/],
      ['{"clients": []}', /must map names/],
      [`{"clients": {"bad name": "${app.digest}"}}`, /name "bad name"/],
      [`{"clients": {"app1": "${app.digest.slice(0, -1)}"}}`, /clients\.app1 must be "sha256:"/],
      [
        `{"clients": {"app1": "${app.digest}"}, "admins": {"app1": "${admin.digest}"}}`,
        /app1 is listed twice/,
      ],
    ];
    for (const [text, expected] of cases) {
      assert.throws(
        () => parseCredentials(text, 'auth.json'),
        (error: unknown) => {
          assert(error instanceof ConfigError);
          assert.match(error.message, expected);
          assert.match(error.message, /^auth\.json/);
          assert.doesNotMatch(error.message, /[0-9a-f]{20}/, 'no digest in the error');
          return true;
        },
      );
    }
  });
});

describe('where tokens and secrets come from', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'understudy-auth-'));
  after(() => rmSync(directory, { recursive: true, force: true }));

  test('a client token comes from --token-file, else UNDERSTUDY_TOKEN; a malformed one is refused unseen', () => {
    const file = path.join(directory, 'app1.token');
    writeFileSync(file, `${app.token}\n`);
    assert.equal(clientToken(file, {}), app.token);
    assert.equal(clientToken(file, { UNDERSTUDY_TOKEN: other.token }), app.token, 'the file wins');
    assert.equal(clientToken(undefined, { UNDERSTUDY_TOKEN: other.token }), other.token);
    assert.equal(clientToken(undefined, {}), undefined);
    assert.throws(
      () => clientToken(undefined, { UNDERSTUDY_TOKEN: 'secretwithoutname' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        /UNDERSTUDY_TOKEN/.test(error.message) &&
        !error.message.includes('secretwithoutname'),
    );
    assert.throws(() => clientToken(path.join(directory, 'missing'), {}), /--token-file .*ENOENT/);
  });

  test('a server reads its credentials and its cluster secret from files', () => {
    const auth = path.join(directory, 'auth.json');
    const secret = path.join(directory, 'secret');
    writeFileSync(auth, credentialsText);
    writeFileSync(secret, `${clusterSecret}\n`);
    const access = serverAccess({ authFile: auth, clusterSecretFile: secret });
    assert.equal(access.clusterSecret?.presented, clusterSecret);
    assert.deepEqual(access.credentials?.authenticate(app.token), { role: 'client', name: 'app1' });
    assert.deepEqual(serverAccess({}), {});
    writeFileSync(secret, 'short\n');
    assert.throws(
      () => serverAccess({ clusterSecretFile: secret }),
      (error: unknown) => error instanceof ConfigError && !error.message.includes('short\n'),
    );
  });
});

describe('a listener that asks for tokens and the cluster secret', () => {
  const accepted: { peer: PeerKind; principal: Principal | null }[] = [];
  let address = '';
  let close: () => Promise<void> = async () => {};
  const rejections: string[] = [];

  before(async () => {
    const listener = await listen({
      host: '127.0.0.1',
      port: 0,
      clusterId: 'auth-test',
      frameSizeMaxBytes: 1024 * 1024,
      access: { credentials, clusterSecret: new ClusterSecret([clusterSecret, nextClusterSecret]) },
      onRejected: (reason) => rejections.push(reason),
      onConnection: (peer, connection, principal) => {
        accepted.push({ peer, principal });
        connection.close();
      },
    });
    address = listener.address;
    close = () => listener.close();
  });
  after(() => close());

  const hello = (peer: PeerKind, credential?: string): Hello => ({
    type: 'hello',
    clusterId: 'auth-test',
    protocolVersion: PROTOCOL_VERSION,
    peer,
    ...(credential === undefined ? {} : { credential }),
  });
  const client: PeerKind = { kind: 'client' };
  const replica: PeerKind = {
    kind: 'replica',
    id: replicaId('r2'),
    service: { name: 'understudy-kv', version: 1 },
    rules: commitRulesOf(defaultProtocolConfig),
  };

  async function refusedWith(sent: Hello): Promise<HandshakeError> {
    const error = await dial(address, sent).then(
      () => assert.fail('accepted'),
      (caught: unknown) => caught,
    );
    assert(error instanceof HandshakeError, String(error));
    return error;
  }

  test('a client without a token, or with a wrong one, is refused as UNAUTHENTICATED and counted', async () => {
    const before = transportCounters.connectionsRefused.unauthenticated;
    const missing = await refusedWith(hello(client));
    assert.equal(missing.code, ErrorCode.unauthenticated);
    assert.match(missing.message, /asks for a token/);
    const wrong = await refusedWith(hello(client, `app1.${other.token.slice(5)}`));
    assert.equal(wrong.code, ErrorCode.unauthenticated);
    assert.equal(transportCounters.connectionsRefused.unauthenticated, before + 2);
    for (const line of rejections) assert(!line.includes(other.token.slice(5)), 'no secret in the reason');
  });

  test('a client with its token is accepted, and its owner is told who it is', async () => {
    accepted.length = 0;
    (await dial(address, hello(client, app.token))).close();
    (await dial(address, hello(client, admin.token))).close();
    assert.deepEqual(
      accepted.map(({ principal }) => principal),
      [
        { role: 'client', name: 'app1' },
        { role: 'admin', name: 'ops' },
      ],
    );
  });

  test('a replica without the cluster secret, or with a client token instead, is refused as a forged peer', async () => {
    const before = transportCounters.connectionsRefused.forged_peer;
    accepted.length = 0;
    for (const credential of [undefined, app.token, `${clusterSecret}x`]) {
      const error = await refusedWith(hello(replica, credential));
      assert.equal(error.code, ErrorCode.unauthenticated);
      assert.match(error.message, /replica r2 did not bring this cluster's secret/);
    }
    assert.equal(transportCounters.connectionsRefused.forged_peer, before + 3);
    assert.equal(accepted.length, 0, 'none accepted');
    (await dial(address, hello(replica, clusterSecret))).close();
    (await dial(address, hello(replica, nextClusterSecret))).close();
    assert.equal(accepted.length, 2, 'either secret of a file of two lets a member in');
    assert.equal(accepted[0]?.principal, null, 'a member has no client principal');
  });
});

describe('AUTH on the Redis port', () => {
  let server: RespServer;
  let port = 0;
  /** The token each command reached the cluster with. */
  const usedTokens: (string | null)[] = [];
  const local: LocalReplica = {
    id: replicaId('r1'),
    role: 'primary',
    view: { number: viewNumber(1), primary: replicaId('r1'), backups: [], learners: [] },
    lastIndex: logIndex(0),
    durableIndex: logIndex(0),
    commitIndex: logIndex(0),
    appliedIndex: logIndex(0),
    snapshot: null,
    transfer: null,
  };
  const backend: RespBackend = {
    client: (token) => {
      usedTokens.push(token);
      return Promise.resolve({
        execute: async () => ({ result: { kind: 'get', value: Buffer.from('v') }, write: null }),
      } as never);
    },
    local: () => local,
    clusterStatus: async () => null,
    replicaReadOptions: () => undefined,
    readOnlyByDefault: false,
    close: async () => {},
  };

  before(async () => {
    server = await RespServer.start({
      listen: '127.0.0.1:0',
      backend,
      understudyVersion: 'test',
      logger: createLogger({ level: 'silent' }),
      credentials,
    });
    port = Number(server.address.split(':').at(-1));
  });
  after(() => server.close());

  /** Sends commands (inline) on a new connection and resolves with `count` reply lines. */
  function exchange(commands: readonly string[], count: number): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no full answer: ${JSON.stringify(text)}`));
      }, 10_000);
      socket.on('data', (chunk) => {
        text += chunk.toString('latin1');
        const lines = text.split('\r\n');
        if (lines.length > count) {
          clearTimeout(timer);
          socket.destroy();
          resolve(lines.slice(0, count));
        }
      });
      socket.on('error', reject);
      socket.write(`${commands.join('\r\n')}\r\n`);
    });
  }

  test('commands before AUTH get NOAUTH; a wrong token WRONGPASS; each is counted', async () => {
    const notAuthenticated = transportCounters.requestsRefused.not_authenticated;
    const unauthenticated = transportCounters.connectionsRefused.unauthenticated;
    const answers = await exchange(
      [
        'PING',
        'GET k',
        'HELLO 3',
        'HELLO 2',
        `AUTH app1.${other.token.slice(5)}`,
        `AUTH app2 ${app.token}`,
        'AUTH a b c',
        `HELLO 2 AUTH app1 ${other.token}`,
        'GET k',
      ],
      9,
    );
    assert.deepEqual(answers, [
      '-NOAUTH Authentication required.',
      '-NOAUTH Authentication required.',
      // The version first, as Redis: a RESP3 client (ioredis) falls back to RESP2 and AUTH.
      '-NOPROTO unsupported protocol version',
      '-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
      '-WRONGPASS invalid username-password pair or user is disabled.',
      '-WRONGPASS invalid username-password pair or user is disabled.',
      '-ERR syntax error',
      '-WRONGPASS invalid username-password pair or user is disabled.',
      '-NOAUTH Authentication required.',
    ]);
    assert.equal(transportCounters.requestsRefused.not_authenticated, notAuthenticated + 4);
    assert.equal(transportCounters.connectionsRefused.unauthenticated, unauthenticated + 3);
    assert.deepEqual(usedTokens, [], 'nothing reached the cluster');
  });

  test('after AUTH (token, name and token, name and secret, or HELLO AUTH) commands run with that token', async () => {
    const secret = app.token.slice('app1.'.length);
    for (const auth of [`AUTH ${app.token}`, `AUTH app1 ${app.token}`, `AUTH app1 ${secret}`]) {
      usedTokens.length = 0;
      assert.deepEqual(await exchange([auth, 'GET k'], 3), ['+OK', '$1', 'v']);
      assert.deepEqual(usedTokens, [app.token]);
    }
    const hello = await exchange([`HELLO 2 AUTH ops ${admin.token}`, 'PING'], 2);
    assert.equal(hello[0], '*14');
  });

  test("MONITOR, CLIENT LIST, CLIENT KILL and SLOWLOG reach other connections, so a client token is refused NOPERM and counted; an admin's runs them", async () => {
    const notAdmin = transportCounters.requestsRefused.not_admin;
    const asClient = await exchange(
      [
        `AUTH ${app.token}`,
        'MONITOR',
        'CLIENT LIST',
        'SLOWLOG GET',
        'SLOWLOG RESET',
        'CLIENT KILL ID 1',
        'CLIENT INFO',
      ],
      7,
    );
    assert.deepEqual(asClient.slice(0, 6), [
      '+OK',
      "-NOPERM User app1 has no permissions to run the 'monitor' command: it reaches other connections' commands, so it takes an admin token",
      "-NOPERM User app1 has no permissions to run the 'client|list' command: it reaches other connections' commands, so it takes an admin token",
      "-NOPERM User app1 has no permissions to run the 'slowlog|get' command: it reaches other connections' commands, so it takes an admin token",
      "-NOPERM User app1 has no permissions to run the 'slowlog|reset' command: it reaches other connections' commands, so it takes an admin token",
      "-NOPERM User app1 has no permissions to run the 'client|kill' command: it reaches other connections' commands, so it takes an admin token",
    ]);
    assert.match(asClient[6] ?? '', /^\$\d+$/, "its own connection's line is its own to see");
    assert.equal(transportCounters.requestsRefused.not_admin, notAdmin + 5);
    const asAdmin = await exchange([`AUTH ${admin.token}`, 'SLOWLOG LEN', 'CLIENT LIST'], 4);
    assert.equal(asAdmin[0], '+OK');
    // Its length, whatever it is: on a busy machine any command here may have been slow enough.
    assert.match(asAdmin[1] ?? '', /^:\d+$/);
    assert.match(asAdmin[3] ?? '', /user=ops /);
    assert.equal(transportCounters.requestsRefused.not_admin, notAdmin + 5);
  });
});
