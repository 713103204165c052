// Redis as the peers comparison runs it: a primary and two replicas, each with its own directory,
// on 127.0.0.1 ports chosen free, every one with `appendonly yes` and `appendfsync always` (each
// write reaches the AOF and is fsynced before the reply). Three loads, one ioredis connection per
// client: SET (replication is asynchronous: the reply leaves before any replica has the write),
// SET + WAIT 2 0 sent together (the reply to WAIT leaves once both replicas acknowledged the write:
// they received it, not necessarily fsynced it), and GET at the primary over the keys the SETs wrote.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePorts } from '../../tools/free-port.js';
import { MEASURE_HOST, waitFor } from '../../tools/measure-cluster.js';
import type { NamedProcess } from '../process-cpu.js';
import { ExternalProcess, runningProcesses } from './external-process.js';
import { KeyCycle, PEER_CALL_TIMEOUT_MS } from './peer-load.js';

export const REDIS_REPLICAS = 2;
/** How long the servers may take to answer and the replicas to be online at the primary. */
export const REDIS_READY_TIMEOUT_MS = 30_000;

export type RedisCall = 'set' | 'set-wait' | 'get';

/** An ioredis connection that fails fast instead of queueing and reconnecting behind the bench's back. */
export function redisConnection(port: number): Redis {
  const connection = new Redis({
    host: MEASURE_HOST,
    port,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    commandTimeout: PEER_CALL_TIMEOUT_MS,
  });
  // Every failure also rejects the call or the connect() that met it, where it is counted; without
  // a listener, ioredis would print each one as an unhandled error event.
  connection.on('error', () => {});
  return connection;
}

export class RedisGroup {
  private constructor(
    /** The primary's port first, then each replica's (replicas answer reads, as Redis's do by default). */
    readonly ports: readonly number[],
    private readonly servers: readonly ExternalProcess[],
  ) {}

  get primaryPort(): number {
    return this.ports[0] ?? 0;
  }

  /** Starts the primary and the replicas; resolves once both replicas are online at the primary. */
  static async start(binary: string, directory: string): Promise<RedisGroup> {
    const processes: ExternalProcess[] = [];
    const names = ['primary', ...Array.from({ length: REDIS_REPLICAS }, (_, k) => `replica${k + 1}`)];
    const ports = await freePorts(names.length);
    const group = new RedisGroup(ports, processes);
    try {
      for (const [index, name] of names.entries()) {
        const port = ports[index] ?? 0;
        const dir = join(directory, `redis-${name}`);
        mkdirSync(dir, { recursive: true });
        const args = [
          '--port',
          String(port),
          '--bind',
          MEASURE_HOST,
          '--dir',
          dir,
          '--appendonly',
          'yes',
          '--appendfsync',
          'always',
          '--save',
          '',
          '--daemonize',
          'no',
          '--logfile',
          '',
          ...(name === 'primary' ? [] : ['--replicaof', MEASURE_HOST, String(group.primaryPort)]),
        ];
        const server = ExternalProcess.start(
          `redis ${name}`,
          binary,
          args,
          join(directory, `redis-${name}.log`),
        );
        processes.push(server);
        await waitFor(
          `redis ${name} to answer PING`,
          async () => {
            server.assertRunning();
            const connection = redisConnection(port);
            try {
              await connection.connect();
              return (await connection.ping()) === 'PONG' ? true : undefined;
            } finally {
              connection.disconnect();
            }
          },
          REDIS_READY_TIMEOUT_MS,
        );
      }
      await waitFor(
        `${REDIS_REPLICAS} replicas online at the redis primary`,
        async () => {
          const connection = redisConnection(group.primaryPort);
          try {
            await connection.connect();
            const info = await connection.info('replication');
            const online = info.split('\n').filter((line) => /^slave\d+:.*state=online/.test(line)).length;
            return online === REDIS_REPLICAS ? true : undefined;
          } finally {
            connection.disconnect();
          }
        },
        REDIS_READY_TIMEOUT_MS,
      );
      return group;
    } catch (error) {
      await group.close();
      throw error;
    }
  }

  /** The servers still running, by name and process id (whose CPU time each run reads). */
  processes(): NamedProcess[] {
    return runningProcesses(this.servers);
  }

  /** Stops every server, each by its own process id. */
  async close(): Promise<void> {
    await Promise.all(this.servers.map((server) => server.stop()));
  }
}

/** One connection per client to the primary, and the call each client makes. */
export async function redisLoad(
  port: number,
  clients: number,
  kind: RedisCall,
  shape: { readonly keys: number; readonly valueBytes: number },
): Promise<{ readonly call: (caller: number) => Promise<void>; close(): void }> {
  const connections: Redis[] = [];
  const close = () => {
    for (const connection of connections) connection.disconnect();
  };
  try {
    for (let k = 0; k < clients; k++) {
      const connection = redisConnection(port);
      connections.push(connection);
      await connection.connect();
    }
  } catch (error) {
    close();
    throw error;
  }
  const cycles = connections.map((_, client) => new KeyCycle(client, shape.keys, shape.valueBytes));
  const call = async (caller: number): Promise<void> => {
    const connection = connections[caller];
    const cycle = cycles[caller];
    if (connection === undefined || cycle === undefined) throw new Error(`no redis client ${caller}`);
    if (kind === 'get') {
      const key = cycle.nextKey();
      cycle.checkRead(key, await connection.get(key));
      return;
    }
    const next = cycle.nextWrite();
    if (kind === 'set') {
      const reply = await connection.set(next.key, next.value);
      if (reply !== 'OK') throw new Error(`SET answered ${String(reply)}`);
      return;
    }
    // Both commands in one write, as a client that wants the acknowledgement sends them.
    const replies = await connection.pipeline().set(next.key, next.value).wait(REDIS_REPLICAS, 0).exec();
    for (const [error] of replies ?? []) if (error !== null) throw error;
    const acknowledged = replies?.[1]?.[1];
    if (typeof acknowledged !== 'number' || acknowledged < REDIS_REPLICAS) {
      throw new Error(`WAIT answered ${String(acknowledged)} replicas`);
    }
  };
  return { call, close };
}
