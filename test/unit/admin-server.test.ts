// The admin HTTP server's contract, whatever routes it serves: GET and HEAD on a known path, 405
// (with Allow) for another method, 404 for an unknown path, 500 if a route fails; it listens on
// 127.0.0.1 with a port the OS picks, and closes even while a client keeps a connection open.

import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { AdminServer, jsonResponse } from '../../src/admin/admin-server.js';
import { addressList, adminAddress } from '../../src/cli/options.js';
import { transportCounters } from '../../src/transport/index.js';

let server: AdminServer;

before(async () => {
  server = await AdminServer.start('127.0.0.1:0', [
    { path: '/hello', get: () => jsonResponse(200, { hello: 'world' }) },
    { path: '/unwell', get: () => jsonResponse(503, { reason: 'testing' }) },
    {
      path: '/broken',
      get: () => {
        throw new Error('route failed');
      },
    },
  ]);
});

after(() => server.close());

interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

function ask(method: string, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(`http://${server.address}${path}`, { method }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
      );
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

test('a known path answers GET with its route, and HEAD with the same status and no body', async () => {
  assert.match(server.address, /^127\.0\.0\.1:\d+$/);
  const got = await ask('GET', '/hello?verbose=1');
  assert.equal(got.status, 200);
  assert.match(String(got.headers['content-type']), /^application\/json/);
  assert.deepEqual(JSON.parse(got.body), { hello: 'world' });
  const head = await ask('HEAD', '/unwell');
  assert.equal(head.status, 503);
  assert.equal(head.body, '');
});

test('another method on a known path is 405 naming the allowed ones; an unknown path is 404', async () => {
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const got = await ask(method, '/hello');
    assert.equal(got.status, 405);
    assert.equal(got.headers.allow, 'GET, HEAD');
  }
  const missing = await ask('GET', '/nothing-here');
  assert.equal(missing.status, 404);
  assert.match(missing.body, /no such path: \/nothing-here/);
});

test('a route that fails answers 500 and the server goes on', async () => {
  const got = await ask('GET', '/broken');
  assert.equal(got.status, 500);
  assert.match(got.body, /route failed/);
  assert.equal((await ask('GET', '/hello')).status, 200);
});

test('--admin takes host:port, or a port alone on loopback, and refuses anything else', () => {
  assert.equal(adminAddress('8001'), '127.0.0.1:8001');
  assert.equal(adminAddress('0'), '127.0.0.1:0');
  assert.equal(adminAddress('0.0.0.0:9100'), '0.0.0.0:9100');
  assert.equal(adminAddress('[::1]:9100'), '[::1]:9100');
  for (const bad of ['', 'http://x:1', 'host:', ':80', '70000', 'host:70000', 'a b:1']) {
    assert.throws(() => adminAddress(bad), /expected \[host:\]port/, bad);
  }
});

test('--replica-admins takes distinct host:port addresses separated by commas', () => {
  const parse = addressList('--replica-admins');
  assert.deepEqual(parse('127.0.0.1:8001, 127.0.0.1:8002'), ['127.0.0.1:8001', '127.0.0.1:8002']);
  assert.throws(() => parse('127.0.0.1:8001,,x:1'), /host:port addresses separated by commas/);
  assert.throws(() => parse('a:1,a:1'), /names an address twice/);
  assert.throws(() => parse('a:0'), /below 1/);
  assert.throws(() => parse('8001'), /./);
});

test('bytes that are not HTTP are answered 400, counted, and the server keeps answering', async () => {
  const before = transportCounters.adminBadRequests;
  const [host, port] = server.address.split(':');
  const answer = await new Promise<string>((resolve) => {
    let text = '';
    const socket = connect({ host: host ?? '127.0.0.1', port: Number(port) }, () =>
      socket.write('\u0000\u00ff garbage\r\n\r\n'),
    );
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
    });
    socket.on('error', () => resolve(text));
    socket.on('close', () => resolve(text));
  });
  assert.match(answer, /^HTTP\/1\.1 400 Bad Request/);
  assert.equal(transportCounters.adminBadRequests, before + 1);
  assert.equal((await ask('GET', '/hello')).status, 200);
});
