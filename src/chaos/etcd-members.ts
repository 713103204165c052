// A real etcd cluster on loopback, for the chaos runner's coordinators on etcd and the etcd tests:
// members on ports found free at run time, each with its own data directory, signalled only by their
// own process ids. A killed member restarts on the same ports from its directory and rejoins.

import { type ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnServer } from '../cli/server-spawn.js';
import { freePorts } from '../tools/free-port.js';

/** How long a member may take to answer /health after it starts. */
const MEMBER_READY_TIMEOUT_MS = 30_000;
const HEALTH_POLL_MS = 100;
/** The values that fill etcd past its space quota: large, so a few puts do it. */
const FILLER_VALUE_BYTES = 1_000_000;
/** Puts a fill makes at most before it gives up on reaching the quota. */
const FILLER_PUTS_MAX = 200;
/** What etcd answers a write past its space quota (its NOSPACE alarm). */
const SPACE_EXCEEDED = /database space exceeded/;
/** How soon the alarm etcd raises as it refuses a write must be listed, before a fill raises it. */
const ALARM_SEEN_WITHIN_MS = 1000;
/** One call of etcd's gateway: a defragmentation of a filled member takes a few seconds at most. */
const GATEWAY_TIMEOUT_MS = 30_000;

const base64 = (text: string): string => Buffer.from(text, 'latin1').toString('base64');

/** The end of the key range of every key beginning with `prefix` (its last byte plus one). */
function rangeEndOf(prefix: string): string {
  const last = prefix.charCodeAt(prefix.length - 1);
  return prefix.slice(0, -1) + String.fromCharCode(last + 1);
}

/** The etcd binary, or null when none is installed (Debian's package etcd-server has one). */
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

/** Why etcd cannot run here, or false (node:test's `skip` option). */
export function etcdSkipReason(): string | false {
  return findEtcd() === null
    ? 'no etcd binary (install the Debian package etcd-server; .ci/run does)'
    : false;
}

interface Member {
  readonly name: string;
  readonly clientUrl: string;
  readonly args: readonly string[];
  child: ChildProcess | null;
  /** The tail of its stderr, for a failure's message. */
  log: string;
}

/** The name of member `number` (from 1), as each member's --name and its data directory's. */
export const etcdMemberName = (number: number): string => `e${number}`;

export class EtcdMembers {
  private constructor(
    private readonly binary: string,
    private readonly members: readonly Member[],
  ) {}

  /**
   * Starts `size` members with their data under `directory` (or each where `dataDirectoryOf` says: on
   * a disk of its own, say) and resolves once each answers; `extraArgs` go to every member (a small
   * `--quota-backend-bytes`, say).
   */
  static async start(
    directory: string,
    size = 3,
    extraArgs: readonly string[] = [],
    dataDirectoryOf: (name: string) => string = (name) => join(directory, name),
  ): Promise<EtcdMembers> {
    const binary = findEtcd();
    if (binary === null) throw new Error(etcdSkipReason() || 'no etcd binary');
    mkdirSync(directory, { recursive: true });
    const free = await freePorts(2 * size);
    const ports: { name: string; client: number; peer: number }[] = [];
    for (let number = 1; number <= size; number += 1) {
      ports.push({
        name: etcdMemberName(number),
        client: free[2 * number - 2] ?? 0,
        peer: free[2 * number - 1] ?? 0,
      });
    }
    const initialCluster = ports.map(({ name, peer }) => `${name}=http://127.0.0.1:${peer}`).join(',');
    // One token for the members of this cluster, and no other: a member of another run never joins it.
    const token = `understudy-${ports.map(({ peer }) => peer).join('-')}`;
    const members = ports.map(({ name, client, peer }): Member => {
      const clientUrl = `http://127.0.0.1:${client}`;
      const peerUrl = `http://127.0.0.1:${peer}`;
      const args = [
        '--name',
        name,
        '--data-dir',
        dataDirectoryOf(name),
        '--listen-client-urls',
        clientUrl,
        '--advertise-client-urls',
        clientUrl,
        '--listen-peer-urls',
        peerUrl,
        '--initial-advertise-peer-urls',
        peerUrl,
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-state',
        'new',
        '--initial-cluster-token',
        token,
        ...extraArgs,
      ];
      return { name, clientUrl, args, child: null, log: '' };
    });
    const cluster = new EtcdMembers(binary, members);
    try {
      for (const member of members) cluster.spawn(member);
      await Promise.all(members.map((member) => cluster.waitHealthy(member)));
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  get names(): readonly string[] {
    return this.members.map((member) => member.name);
  }

  /** Every member's client URL, comma-separated: what a coordinator's `--etcd` takes. */
  get endpoints(): string {
    return this.urls.join(',');
  }

  get urls(): string[] {
    return this.members.map((member) => member.clientUrl);
  }

  isRunning(name: string): boolean {
    return this.member(name).child !== null;
  }

  /** The member that leads the etcd cluster now (the one whose own id is the leader's), or null. */
  async leaderName(): Promise<string | null> {
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
    return null;
  }

  /**
   * Fills etcd past its space quota with large values under `prefix` until it refuses a write, then
   * makes sure its NOSPACE alarm stands: from then on it refuses every write, as when something else
   * filled it. etcd raises the alarm itself as it refuses, but does not look at whether the raise
   * took; without the alarm, a member whose database is a little smaller than the quota still takes a
   * small write (chaos seed 20262287: an election and a view stored mid-hold). So if none stands, the
   * fill raises it as etcd would (`raised`). Throws if etcd never refused.
   */
  async fill(prefix: string): Promise<{ values: number; raised: boolean }> {
    const value = Buffer.alloc(FILLER_VALUE_BYTES, 0x78).toString('base64');
    for (let at = 0; at < FILLER_PUTS_MAX; at++) {
      const answer = await this.gateway('kv/put', { key: base64(`${prefix}${at}`), value });
      if (typeof answer.error === 'string') {
        if (!SPACE_EXCEEDED.test(answer.error))
          throw new Error(`etcd refused a filler value for another reason: ${answer.error}`);
        return { values: at, raised: await this.raiseNoSpace() };
      }
    }
    throw new Error(`etcd took ${FILLER_PUTS_MAX} values of ${FILLER_VALUE_BYTES} bytes and still had room`);
  }

  /** Raises the NOSPACE alarm unless it stands within a moment; whether it had to. */
  async raiseNoSpace(): Promise<boolean> {
    const endMs = performance.now() + ALARM_SEEN_WITHIN_MS;
    do {
      if (await this.outOfSpace()) return false;
      await new Promise((resolve) => setTimeout(resolve, HEALTH_POLL_MS));
    } while (performance.now() < endMs);
    const { header } = (await this.gateway('maintenance/status', {})) as { header?: { member_id?: string } };
    if (header?.member_id === undefined) throw new Error('etcd answered no member id');
    const raised = await this.gateway('maintenance/alarm', {
      action: 'ACTIVATE',
      alarm: 'NOSPACE',
      memberID: header.member_id,
    });
    if (typeof raised.error === 'string') throw new Error(`etcd refused to raise NOSPACE: ${raised.error}`);
    if (!(await this.outOfSpace())) throw new Error('etcd took the NOSPACE alarm and does not list it');
    return true;
  }

  /** Whether a member has raised the NOSPACE alarm. */
  async outOfSpace(): Promise<boolean> {
    return (await this.alarms()).some((alarm) => alarm.alarm === 'NOSPACE');
  }

  /**
   * Frees what `fill(prefix)` took, as etcd's documentation says: delete, compact the history,
   * defragment every running member, disarm the alarms. Writes succeed again after it.
   */
  async free(prefix: string): Promise<void> {
    await this.gateway('kv/deleterange', { key: base64(prefix), range_end: base64(rangeEndOf(prefix)) });
    const { header } = (await this.gateway('kv/range', { key: base64(prefix) })) as {
      header?: { revision?: string };
    };
    if (header?.revision === undefined) throw new Error('etcd answered no revision');
    const compacted = await this.gateway('kv/compaction', { revision: header.revision, physical: true });
    // A compaction at a revision already compacted is refused, and changes nothing: go on.
    if (typeof compacted.error === 'string' && !/compacted/.test(compacted.error)) {
      throw new Error(`etcd refused the compaction: ${compacted.error}`);
    }
    for (const member of this.members) {
      if (member.child !== null) await this.gateway('maintenance/defragment', {}, member.clientUrl);
    }
    for (const alarm of await this.alarms()) {
      await this.gateway('maintenance/alarm', {
        action: 'DEACTIVATE',
        alarm: alarm.alarm,
        memberID: alarm.memberID,
      });
    }
  }

  /** kill -9 of one member, by its process id. */
  async kill(name: string): Promise<void> {
    const member = this.member(name);
    const child = member.child;
    if (child === null) return;
    member.child = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    });
  }

  /** Starts a killed member again from its data directory; resolves once it answers. */
  async restart(name: string): Promise<void> {
    const member = this.member(name);
    if (member.child !== null) return;
    this.spawn(member);
    await this.waitHealthy(member);
  }

  async close(): Promise<void> {
    for (const member of this.members) await this.kill(member.name);
  }

  private async alarms(): Promise<{ memberID: string; alarm: string }[]> {
    const answer = (await this.gateway('maintenance/alarm', { action: 'GET' })) as {
      alarms?: { memberID: string; alarm: string }[];
    };
    return answer.alarms ?? [];
  }

  /** POSTs `body` to etcd's v3 JSON gateway at `route`, at `url` or the first running member. */
  private async gateway(route: string, body: object, url?: string): Promise<Record<string, unknown>> {
    const target = url ?? this.members.find((member) => member.child !== null)?.clientUrl;
    if (target === undefined) throw new Error('no etcd member is running');
    const response = await fetch(`${target}/v3/${route}`, {
      method: 'POST',
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(GATEWAY_TIMEOUT_MS),
    });
    return (await response.json()) as Record<string, unknown>;
  }

  private member(name: string): Member {
    const member = this.members.find((candidate) => candidate.name === name);
    if (member === undefined) throw new Error(`no etcd member ${name}`);
    return member;
  }

  private spawn(member: Member): void {
    const child = spawnServer(this.binary, member.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (chunk: Buffer) => {
      member.log = (member.log + chunk.toString()).slice(-20_000);
    });
    child.once('exit', () => {
      if (member.child === child) member.child = null;
    });
    member.child = child;
  }

  private async waitHealthy(member: Member): Promise<void> {
    const endMs = performance.now() + MEMBER_READY_TIMEOUT_MS;
    while (performance.now() < endMs) {
      if (member.child === null)
        throw new Error(`etcd member ${member.name} exited: ${member.log.slice(-2000)}`);
      try {
        const response = await fetch(`${member.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
        const health = (await response.json()) as { health?: unknown };
        if (health.health === 'true') return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, HEALTH_POLL_MS));
    }
    throw new Error(
      `etcd member ${member.name} not healthy within ${MEMBER_READY_TIMEOUT_MS} ms: ${member.log.slice(-2000)}`,
    );
  }
}
