// Ports named before their servers start (etcd members, admin ports) must differ from each other:
// two etcd members given one port refuse to start, and the suite that needed them fails.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePorts } from '../../src/tools/free-port.js';

test('freePorts hands out distinct ports, though the OS reuses a released port soon', async () => {
  // 200 ports taken one at a time and released at once repeat 4 to 6 times here.
  const ports = await freePorts(200);
  assert.equal(ports.length, 200);
  assert.equal(new Set(ports).size, 200);
  for (const port of ports) assert.ok(port > 0 && port < 65_536, `port ${port}`);
});
