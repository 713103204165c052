// etcd as the peers comparison runs it: three members on 127.0.0.1 (client and peer ports chosen
// free), each with its own data directory. A put is acknowledged once a majority has it in its
// fsynced log. The load goes to the leader (a follower would forward it, an extra hop) through the
// v3 JSON gateway (POST /v3/kv/put and /v3/kv/range, keys and values in base64) with Node's built-in fetch, whose
// keep-alive pool gives each client in flight a connection of its own.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts } from '../../tools/free-port.js';
import { MEASURE_HOST, waitFor } from '../../tools/measure-cluster.js';
import type { NamedProcess } from '../process-cpu.js';
import { ExternalProcess, runningProcesses } from './external-process.js';
import { KeyCycle, PEER_CALL_TIMEOUT_MS } from './peer-load.js';

export const ETCD_MEMBERS = 3;
/** How long the members may take to elect a leader and answer. */
export const ETCD_READY_TIMEOUT_MS = 60_000;

interface Member {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
}

/** POSTs JSON to the gateway and answers the JSON reply; a status other than 200 throws. */
async function gateway(url: string, path: string, body: object): Promise<unknown> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(PEER_CALL_TIMEOUT_MS),
  });
  const text = await response.text();
  if (!response.ok) {
    throw Object.assign(new Error(`etcd ${path} answered ${response.status}: ${text.slice(0, 200)}`), {
      code: `HTTP_${response.status}`,
    });
  }
  return JSON.parse(text);
}

const base64 = (text: string) => Buffer.from(text).toString('base64');

export class EtcdGroup {
  private constructor(
    private readonly members: readonly Member[],
    private readonly servers: readonly ExternalProcess[],
  ) {}

  static async start(binary: string, directory: string): Promise<EtcdGroup> {
    const ports = await freePorts(2 * ETCD_MEMBERS);
    const members: Member[] = [];
    for (let k = 1; k <= ETCD_MEMBERS; k++) {
      members.push({
        name: `member${k}`,
        clientUrl: `http://${MEASURE_HOST}:${ports[2 * k - 2]}`,
        peerUrl: `http://${MEASURE_HOST}:${ports[2 * k - 1]}`,
      });
    }
    const initialCluster = members.map((member) => `${member.name}=${member.peerUrl}`).join(',');
    const processes: ExternalProcess[] = [];
    const group = new EtcdGroup(members, processes);
    try {
      for (const member of members) {
        const dataDirectory = join(directory, `etcd-${member.name}`);
        mkdirSync(dataDirectory, { recursive: true });
        processes.push(
          ExternalProcess.start(
            `etcd ${member.name}`,
            binary,
            [
              '--name',
              member.name,
              '--data-dir',
              dataDirectory,
              '--listen-client-urls',
              member.clientUrl,
              '--advertise-client-urls',
              member.clientUrl,
              '--listen-peer-urls',
              member.peerUrl,
              '--initial-advertise-peer-urls',
              member.peerUrl,
              '--initial-cluster',
              initialCluster,
              '--initial-cluster-state',
              'new',
              '--initial-cluster-token',
              `bench-${process.pid}`,
              '--logger',
              'zap',
            ],
            join(directory, `etcd-${member.name}.log`),
          ),
        );
      }
      await waitFor(
        'an etcd leader that takes a put',
        async () => {
          for (const server of processes) server.assertRunning();
          const url = await group.leaderUrl();
          await gateway(url, '/v3/kv/put', { key: base64('bench/ready'), value: base64('yes') });
          return true;
        },
        ETCD_READY_TIMEOUT_MS,
      );
      return group;
    } catch (error) {
      await group.close();
      throw error;
    }
  }

  /** The client URL of the member that is leader now (each member's status names the leader). */
  async leaderUrl(): Promise<string> {
    for (const member of this.members) {
      const status = (await gateway(member.clientUrl, '/v3/maintenance/status', {})) as {
        readonly header?: { readonly member_id?: string };
        readonly leader?: string;
      };
      if (status.leader !== undefined && status.leader === status.header?.member_id) return member.clientUrl;
    }
    throw new Error('no etcd member is leader');
  }

  /** The members still running, by name and process id (whose CPU time each run reads). */
  processes(): NamedProcess[] {
    return runningProcesses(this.servers);
  }

  /** Stops every member, each by its own process id. */
  async close(): Promise<void> {
    await Promise.all(this.servers.map((server) => server.stop()));
  }
}

export type EtcdCall = 'put' | 'get';

/**
 * The call each client makes at the leader: a put of its next key, or a get of it (a range of one
 * key, linearizable, as etcd's default read is: the leader confirms it still leads first).
 */
export function etcdLoad(
  leaderUrl: string,
  clients: number,
  kind: EtcdCall,
  shape: { readonly keys: number; readonly valueBytes: number },
): (caller: number) => Promise<void> {
  const cycles = Array.from(
    { length: clients },
    (_, client) => new KeyCycle(client, shape.keys, shape.valueBytes),
  );
  return async (caller) => {
    const cycle = cycles[caller];
    if (cycle === undefined) throw new Error(`no etcd client ${caller}`);
    if (kind === 'get') {
      const key = cycle.nextKey();
      const reply = (await gateway(leaderUrl, '/v3/kv/range', { key: base64(key) })) as {
        readonly kvs?: readonly { readonly value?: string }[];
      };
      const value = reply.kvs?.[0]?.value;
      cycle.checkRead(key, value === undefined ? null : Buffer.from(value, 'base64').toString());
      return;
    }
    const next = cycle.nextWrite();
    await gateway(leaderUrl, '/v3/kv/put', { key: base64(next.key), value: base64(next.value) });
  };
}
