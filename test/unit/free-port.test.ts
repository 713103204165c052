// Ports named before their servers start (etcd members, admin ports) must differ from each other:
// two etcd members given one port refuse to start, and the suite that needed them fails.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bindLoopback, closeAll, freePorts } from '../../src/tools/free-port.js';

test('freePorts hands out distinct ports, though the OS reuses a released port soon', async () => {
  // 200 ports taken one at a time and released at once repeated 4 to 6 times here when the OS chose.
  const ports = await freePorts(200);
  assert.equal(ports.length, 200);
  assert.equal(new Set(ports).size, 200);
  for (const port of ports) assert.ok(port > 0 && port < 65_536, `port ${port}`);
});

test('freePorts draws below the range the OS hands out for outgoing connections, and skips a taken port', async () => {
  // Ports drawn from 10000..25999, apart from Linux's ephemeral range (32768..60999).
  const ports = await freePorts(50);
  for (const port of ports) assert.ok(port >= 10_000 && port <= 25_999, `port ${port}`);
  // Ten of them taken by someone else: none of those is handed out.
  const taken = await Promise.all(ports.slice(0, 10).map((port) => bindLoopback(port)));
  try {
    const again = await freePorts(40);
    for (const port of again) assert.ok(!ports.slice(0, 10).includes(port), `${port} was taken`);
  } finally {
    await closeAll(taken.flatMap((bound) => (bound === null ? [] : [bound.server])));
  }
});
