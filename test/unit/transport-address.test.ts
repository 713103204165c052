// parseAddress: host:port and [ipv6]:port are accepted, anything else is a ConfigError.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dialableAddress, formatAddress, hostAndPort, parseAddress } from '../../src/transport/address.js';

test('good addresses parse into host and port', () => {
  assert.deepEqual(parseAddress('127.0.0.1:7000'), { host: '127.0.0.1', port: 7000 });
  assert.deepEqual(parseAddress('replica-1.internal:0'), { host: 'replica-1.internal', port: 0 });
  assert.deepEqual(parseAddress('localhost:65535'), { host: 'localhost', port: 65535 });
  assert.deepEqual(parseAddress('[::1]:7000'), { host: '::1', port: 7000 });
  assert.deepEqual(parseAddress('[fe80::1%eth0]:1'), { host: 'fe80::1%eth0', port: 1 });
});

test('bad addresses are a ConfigError', () => {
  const bad = [
    '',
    'host',
    ':7000',
    'host:',
    'host:65536',
    'host:-1',
    'host:7000x',
    'host:123456',
    '::1:7000',
  ];
  for (const text of [...bad, '[::1]', '[::1:7000', '[host]:7000', 'a b:1', 'host:7000:1', '[]:1']) {
    assert.throws(() => parseAddress(text), { name: 'ConfigError', code: 'BAD_CONFIG' }, text);
  }
});

test('formatAddress brackets IPv6 hosts so that parseAddress reads them back', () => {
  assert.equal(formatAddress('::1', 7000), '[::1]:7000');
  assert.deepEqual(parseAddress(formatAddress('::1', 7000)), { host: '::1', port: 7000 });
  assert.equal(formatAddress('127.0.0.1', 1), '127.0.0.1:1');
});

test("a port on every interface is dialled at the process's advertised host; any other where it listens", () => {
  assert.equal(dialableAddress('127.0.0.1:6379', '10.0.0.5:7001'), '127.0.0.1:6379');
  assert.equal(dialableAddress('0.0.0.0:6379', '10.0.0.5:7001'), '10.0.0.5:6379');
  assert.equal(dialableAddress('[::]:6379', 'replica-1.internal:7001'), 'replica-1.internal:6379');
  assert.equal(dialableAddress('[::]:6379', '[fd00::5]:7001'), '[fd00::5]:6379');
  assert.equal(dialableAddress('0.0.0.0:6379', '0.0.0.0:7001'), '127.0.0.1:6379');
});

test('hostAndPort gives the host unbracketed and the port, as Redis replies name them', () => {
  assert.deepEqual(hostAndPort('127.0.0.1:6379'), ['127.0.0.1', '6379']);
  assert.deepEqual(hostAndPort('[::1]:6380'), ['::1', '6380']);
  assert.deepEqual(hostAndPort('redis-1.internal:26379'), ['redis-1.internal', '26379']);
});
