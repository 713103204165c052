// parseAddress: host:port and [ipv6]:port are accepted, anything else is a ConfigError.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatAddress, parseAddress } from '../../src/transport/address.js';

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
