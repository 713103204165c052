// The chaos tooling: the fault-injecting proxy between a real listener and dialler, and short chaos
// runs against real processes (short-chaos.ts) for the faults that depose or stop the primary: kills,
// partitions, frozen disks, pause-partitions. Lost and damaged directories, total crashes and the
// coordinators' faults are in chaos-directories.test.ts.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FaultProxy } from '../../src/chaos/proxy.js';
import { STALL_MESSAGE } from '../../src/node/stall-watch.js';
import type { Hello } from '../../src/protocol/messages.js';
import { Random } from '../../src/sim/random.js';
import {
  dial,
  encodeMessage,
  FRAME_SIZE_MAX_BYTES_DEFAULT,
  frame,
  type Listener,
  listen,
  type MessageConnection,
  PROTOCOL_VERSION,
} from '../../src/transport/index.js';
import { waitFor } from './harness.js';
import { describeShortChaosRuns } from './short-chaos.js';

const clusterId = 'chaos-test';
const clientHello: Hello = {
  type: 'hello',
  clusterId,
  protocolVersion: PROTOCOL_VERSION,
  peer: { kind: 'client' },
};
/** The first fault of this seed's disk-hang run freezes the primary's disk. */
const SEED_DISK_HANG = 2;
/** The first fault of this seed's disk-hang run freezes the coordinator's disk and kills the primary. */
const SEED_COORDINATOR_DISK_HANG = 1;

interface Echo {
  readonly type: 'echo';
  readonly sequence: number;
}

describe('the fault-injecting proxy', { concurrency: false }, () => {
  let listener: Listener;
  let proxy: FaultProxy;
  /** What the server received, per accepted connection, in order. */
  let received: number[];
  let serverConnections: MessageConnection[];
  const clients: MessageConnection[] = [];

  before(async () => {
    listener = await listen({
      host: '127.0.0.1',
      port: 0,
      clusterId,
      frameSizeMaxBytes: FRAME_SIZE_MAX_BYTES_DEFAULT,
      onConnection: (_peer, connection) => {
        serverConnections.push(connection);
        connection.onMessage = (message) => {
          const { sequence } = message as Echo;
          received.push(sequence);
          connection.send({ type: 'echo', sequence } satisfies Echo);
        };
      },
    });
    proxy = await FaultProxy.start({ name: 'r1', random: new Random(7), target: listener.address });
  });

  after(async () => {
    for (const client of clients) client.destroy();
    await proxy.close();
    await listener.close();
  });

  const reset = () => {
    proxy.heal();
    received = [];
    serverConnections = [];
  };

  const dialThroughProxy = async (): Promise<MessageConnection> => {
    const connection = await dial(proxy.address, clientHello);
    clients.push(connection);
    return connection;
  };

  test('forwards whole frames both ways between a dialler and a listener', async () => {
    reset();
    const connection = await dialThroughProxy();
    const echoes: number[] = [];
    connection.onMessage = (message) => echoes.push((message as Echo).sequence);
    for (let sequence = 1; sequence <= 20; sequence++) connection.send({ type: 'echo', sequence });
    await waitFor('every echo', () => (echoes.length === 20 ? true : undefined), 5000);
    assert.deepEqual(
      received,
      [...Array(20).keys()].map((index) => index + 1),
    );
    assert.deepEqual(echoes, received);
  });

  test('a blocked source is cut off, and its new connections close right after the Hello', async () => {
    reset();
    const open = await dialThroughProxy();
    const closed = new Promise<void>((resolve) => {
      open.onClose = () => resolve();
    });
    const refusedBefore = proxy.counters.connectionsRefused;
    proxy.block(['client']);
    await closed;
    await assert.rejects(dial(proxy.address, clientHello), /closed/);
    assert.equal(proxy.counters.connectionsRefused, refusedBefore + 1);
    proxy.block(['r2']); // another source: clients pass again
    const again = await dialThroughProxy();
    assert.equal(again.isClosed, false);
  });

  test('with loss 1.0 only the Hello (and the Welcome) get through', async () => {
    reset();
    proxy.setLoss(1);
    const connection = await dialThroughProxy(); // the handshake completed through the proxy
    const droppedBefore = proxy.counters.framesDropped;
    for (let sequence = 1; sequence <= 10; sequence++) connection.send({ type: 'echo', sequence });
    await waitFor(
      'the ten frames dropped',
      () => (proxy.counters.framesDropped >= droppedBefore + 10 ? true : undefined),
      5000,
    );
    assert.equal(serverConnections.length, 1, 'the Hello reached the server');
    assert.deepEqual(received, []);
    assert.equal(proxy.counters.framesDropped, droppedBefore + 10);
  });

  test('delay holds frames but keeps their order per connection', async () => {
    reset();
    proxy.setDelay(0, 40);
    const connection = await dialThroughProxy();
    const startMs = performance.now();
    for (let sequence = 1; sequence <= 50; sequence++) connection.send({ type: 'echo', sequence });
    await waitFor('every frame', () => (received.length === 50 ? true : undefined), 5000);
    assert.deepEqual(
      received,
      [...Array(50).keys()].map((index) => index + 1),
    );
    assert.ok(performance.now() - startMs >= 20, 'frames were held');
  });

  test('a one-way cut drops frames one way only and keeps the connection open', async () => {
    reset();
    const connection = await dialThroughProxy();
    const echoes: number[] = [];
    connection.onMessage = (message) => echoes.push((message as Echo).sequence);
    const cutBefore = proxy.counters.framesCutOneWay;

    // The server's answers to clients are dropped: its requests still arrive.
    proxy.setOneWayCuts({ toTarget: [], toSource: ['client'] });
    for (let sequence = 1; sequence <= 5; sequence++) connection.send({ type: 'echo', sequence });
    await waitFor('the requests', () => (received.length === 5 ? true : undefined), 5000);
    await waitFor(
      'the five answers cut',
      () => (proxy.counters.framesCutOneWay >= cutBefore + 5 ? true : undefined),
      5000,
    );
    assert.deepEqual(echoes, []);

    // The clients' frames to the server are dropped: nothing arrives, nothing comes back.
    proxy.setOneWayCuts({ toTarget: ['client'], toSource: [] });
    for (let sequence = 6; sequence <= 10; sequence++) connection.send({ type: 'echo', sequence });
    await waitFor(
      'the five requests cut',
      () => (proxy.counters.framesCutOneWay >= cutBefore + 10 ? true : undefined),
      5000,
    );
    assert.deepEqual(received, [1, 2, 3, 4, 5]);
    assert.equal(proxy.counters.framesCutOneWay, cutBefore + 10);

    // Another source's cut leaves clients alone; the same connection carries both ways again.
    proxy.setOneWayCuts({ toTarget: ['r2'], toSource: ['r2'] });
    connection.send({ type: 'echo', sequence: 11 });
    await waitFor('the echo', () => (echoes.length === 1 ? true : undefined), 5000);
    assert.deepEqual(echoes, [11]);
    assert.equal(connection.isClosed, false);
  });

  test('a frame over the size limit closes the connection', async () => {
    reset();
    const badFramesBefore = proxy.counters.badFrames;
    const socket = connect(Number(proxy.address.split(':')[1]), '127.0.0.1');
    const header = Buffer.alloc(4);
    header.writeUInt32BE(FRAME_SIZE_MAX_BYTES_DEFAULT + 1, 0);
    socket.write(Buffer.concat([frame(encodeMessage(clientHello)), header]));
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    assert.equal(proxy.counters.badFrames, badFramesBefore + 1);
  });
});

describeShortChaosRuns('short chaos runs against real processes: faults that depose the primary', [
  { nemesis: 'kill', seed: 20_240_607, first: 'kills the primary' },
  {
    nemesis: 'kill',
    seed: 20_240_607,
    first: 'kills the primary of a cluster with --sync-quorum 1',
    syncQuorum: 1,
    check: (report, printed) => {
      assert.ok(
        (report.replicatedWritesAcknowledged ?? 0) > 0,
        `replicated writes were acknowledged:\n${printed}`,
      );
    },
  },
  {
    nemesis: 'kill',
    seed: 20_240_607,
    first: 'kills the primary, with a FLUSHALL through a Redis port about every 2 s',
    durationSeconds: 10,
    flushallIntervalMs: 2000,
    check: (report, printed) => {
      // Each a clear of every key in the history: the checks above held every key to it.
      assert.ok((report.redisCommands.flushesOk ?? 0) >= 2, `FLUSHALLs were answered OK:\n${printed}`);
      assert.ok(report.linearizability.keys >= 4, printed);
    },
  },
  { nemesis: 'partition', seed: 20_240_608, first: 'isolates the primary' },
  {
    nemesis: 'disk-hang',
    seed: SEED_DISK_HANG,
    first: "freezes the primary's disk past the failure timeout, then thaws it",
    check: (report, printed) => {
      assert.ok(report.faultVariants.get('disk-hang')?.get('primary'), printed);
    },
  },
  {
    nemesis: 'disk-hang',
    seed: SEED_COORDINATOR_DISK_HANG,
    first:
      "freezes the coordinator's disk and kills the primary: the failover's view waits in the coordinator's state write until the thaw",
    keep: true,
    check: (report, printed) => {
      // The freeze stopped the coordinator itself, and it went on to fail the primary over.
      const log = readFileSync(join(report.directory, 'logs', 'coordinator.log'), 'utf8');
      assert.ok(log.includes(STALL_MESSAGE), `the coordinator warned that it stalled:\n${printed}`);
      assert.match(
        log,
        /"cause":"the disk: a save of the coordinator state held the event loop \d+ ms"/,
        `its stall warning named its disk:\n${printed}`,
      );
      assert.match(log, /"cause":"failover"/, printed);
      assert.ok(report.faultVariants.get('disk-hang')?.get('coordinator, as the primary is killed'), printed);
    },
  },
  {
    nemesis: 'pause-partition',
    seed: 20_261_298,
    first: 'pauses the primary and cuts coordinator -> primary, resuming it still cut off',
    check: (report, printed) => {
      assert.ok(report.faultVariants.get('pause-partition')?.get('primary, coordinator -> replica'), printed);
    },
  },
]);
