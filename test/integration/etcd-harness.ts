// A real etcd cluster for tests: three members on 127.0.0.1, on ports found free at run time, each
// with its own data directory in a temporary folder; stopped by process id. Tests that need it skip,
// saying why, where no etcd binary is installed (.ci/run installs the Debian package etcd-server).

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { waitFor } from './harness.js';

/** The etcd binary, or null when none is installed. */
export function findEtcd(): string | null {
  for (const candidate of ['/usr/bin/etcd', '/usr/local/bin/etcd'])
    if (existsSync(candidate)) return candidate;
  try {
    const found = execFileSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' }).trim();
    return found === '' ? null : found;
  } catch {
    return null;
  }
}

/** Why etcd tests cannot run here, or false (node:test's `skip` option). */
export function etcdSkipReason(): string | false {
  return findEtcd() === null
    ? 'no etcd binary (install the Debian package etcd-server; .ci/run does)'
    : false;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

interface Member {
  readonly name: string;
  readonly clientUrl: string;
  child: ChildProcess | null;
  log: string;
}

export class EtcdCluster {
  private readonly directory = mkdtempSync(path.join(tmpdir(), 'understudy-etcd-'));
  private readonly members: Member[] = [];

  /** Starts `size` members and resolves once each answers. */
  static async start(size = 3): Promise<EtcdCluster> {
    const binary = findEtcd();
    if (binary === null) throw new Error('no etcd binary');
    const cluster = new EtcdCluster();
    const ports: { name: string; client: number; peer: number }[] = [];
    for (let number = 1; number <= size; number += 1) {
      ports.push({ name: `e${number}`, client: await freePort(), peer: await freePort() });
    }
    const initialCluster = ports.map(({ name, peer }) => `${name}=http://127.0.0.1:${peer}`).join(',');
    for (const { name, client, peer } of ports) {
      const clientUrl = `http://127.0.0.1:${client}`;
      const member: Member = { name, clientUrl, child: null, log: '' };
      const child = spawn(
        binary,
        [
          '--name',
          name,
          '--data-dir',
          path.join(cluster.directory, name),
          '--listen-client-urls',
          clientUrl,
          '--advertise-client-urls',
          clientUrl,
          '--listen-peer-urls',
          `http://127.0.0.1:${peer}`,
          '--initial-advertise-peer-urls',
          `http://127.0.0.1:${peer}`,
          '--initial-cluster',
          initialCluster,
          '--initial-cluster-state',
          'new',
          '--initial-cluster-token',
          path.basename(cluster.directory),
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      child.stderr?.on('data', (chunk: Buffer) => {
        member.log = (member.log + chunk.toString()).slice(-20_000);
      });
      member.child = child;
      cluster.members.push(member);
    }
    try {
      for (const member of cluster.members) {
        await waitFor(
          `etcd member ${member.name}`,
          async () => {
            const response = await fetch(`${member.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
            const health = (await response.json()) as { health?: unknown };
            return health.health === 'true' ? true : undefined;
          },
          30_000,
        );
      }
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  /** Every member's client URL, comma-separated: what `--etcd` takes. */
  get endpoints(): string {
    return this.members.map((member) => member.clientUrl).join(',');
  }

  get urls(): string[] {
    return this.members.map((member) => member.clientUrl);
  }

  /** The name of the member that leads the etcd cluster now: the one whose own id is the leader's. */
  async leaderName(): Promise<string> {
    for (const member of this.members) {
      if (member.child === null) continue;
      try {
        const response = await fetch(`${member.clientUrl}/v3/maintenance/status`, {
          method: 'POST',
          body: '{}',
          signal: AbortSignal.timeout(1000),
        });
        const status = (await response.json()) as { header?: { member_id?: string }; leader?: string };
        if (status.leader !== undefined && status.header?.member_id === status.leader) return member.name;
      } catch {
        // ask the next member
      }
    }
    throw new Error('no etcd member says it leads');
  }

  /** kill -9 of one member, by process id. */
  async kill(name: string): Promise<void> {
    const member = this.members.find((candidate) => candidate.name === name);
    const child = member?.child ?? null;
    if (member === undefined || child === null) return;
    member.child = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    });
  }

  async close(): Promise<void> {
    for (const member of this.members) await this.kill(member.name);
    rmSync(this.directory, { recursive: true, force: true });
  }
}
