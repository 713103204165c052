// A replica's outbound links to its peers (node/peer-links.ts), against a listener on loopback: after
// a failed dial it waits its reconnect delay and dials again, by the monotonic clock. A wall clock
// stepped back (an NTP step, a VM resumed, `date -s`) must not hold the link down until the wall
// clock has caught up again.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultNodeConfig } from '../../src/node/config.js';
import { PeerLinks } from '../../src/node/peer-links.js';
import { FORMAT_LEVEL } from '../../src/protocol/format-level.js';
import type { PeerMessage } from '../../src/protocol/messages.js';
import { logIndex, positionZero, replicaId, viewNumber } from '../../src/protocol/types.js';
import { keyValueService } from '../../src/state-machine/kv-service.js';
import { listen } from '../../src/transport/index.js';

const clusterId = 'peer-links-test';
const hourMs = 3_600_000;

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  // performance.now(): the test moves Date.now.
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('a wall clock stepped back an hour after a refused dial does not hold off the next dial', async () => {
  let refuse = true;
  const received: PeerMessage[] = [];
  const listener = await listen({
    host: '127.0.0.1',
    port: 0,
    clusterId,
    frameSizeMaxBytes: 1 << 20,
    admit: () => (refuse ? 'not yet' : null),
    onConnection: (_peer, connection) => {
      connection.onMessage = (message) => received.push(message as PeerMessage);
    },
  });
  const refusals: string[] = [];
  const links = new PeerLinks(replicaId('r1'), clusterId, keyValueService, defaultNodeConfig, (_to, reason) =>
    refusals.push(reason),
  );
  const message: PeerMessage = {
    type: 'sync',
    view: viewNumber(3),
    base: positionZero,
    epochs: [],
    lastIndex: logIndex(0),
    formatLevel: FORMAT_LEVEL,
  };
  const wallNow = Date.now;
  try {
    links.send(replicaId('r2'), listener.address, message);
    await until('the refusal', () => refusals.at(0));
    assert.match(refusals[0] ?? '', /not yet/);
    refuse = false;
    Date.now = () => wallNow() - hourMs;
    const got = await until('the message on a second dial, a reconnect delay later', () => {
      links.send(replicaId('r2'), listener.address, message);
      return received.at(0);
    });
    assert.deepEqual(got, message);
  } finally {
    Date.now = wallNow;
    links.close();
    await listener.close();
  }
});
