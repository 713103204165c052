// INFO, ROLE and WAIT: what the port says about the replica it runs in, the cluster around it, and
// what the port itself has seen (INFO stats).
//
// ROLE answers in Redis 7's shape: on the primary ["master", offset, [[ip, port, offset], ...]] with
// a triple for each backup and learner whose address the coordinator reported; elsewhere ["slave",
// primary ip, primary port, state, offset], the state "connected" while the primary is alive as far
// as the coordinator says, "connect" otherwise (and an empty ip and port 0 if its address is not
// known). Addresses are the replicas' cluster addresses and offsets their durable log indexes, as
// in INFO.
//
// INFO speaks Redis's field names where the meaning carries over (role:master on the primary,
// role:slave elsewhere; slaveN lines on the primary; master_repl_offset) and adds understudy_* fields
// for what Redis has no word for. Offsets are log indexes (entries), not bytes of a stream. The
// other replicas' positions come from the coordinator, asked for at most infoStatusWaitMs: a
// cluster without one still answers INFO, without those lines.
//
// WAIT answers how many replicas besides the primary held the connection's last write when it was
// acknowledged. It never blocks: a write is acknowledged only once every backup of the view has it
// on disk (or, with a commit quorum, K of them), so the number is known when the write is answered.

import type { ReplicaStatus, StatusReply } from '../protocol/messages.js';
import type { StateSize } from '../protocol/state-machine.js';
import { integerArgument, lowerName } from './arguments.js';
import type { CommandSpec } from './command-table.js';
import type { CommandContext, LocalReplica } from './context.js';
import { type RespReply, reply } from './replies.js';

const arg = (args: readonly Buffer[], at: number): Buffer => args[at] as Buffer;

const allSections = ['server', 'memory', 'stats', 'replication', 'keyspace'] as const;
type Section = (typeof allSections)[number];

function section(title: string, fields: readonly (readonly [string, string | number])[]): string {
  return `# ${title}\r\n${fields.map(([name, value]) => `${name}:${value}\r\n`).join('')}`;
}

function serverSection(context: CommandContext): string {
  const { facts } = context;
  const uptimeSeconds = Math.floor((performance.now() - facts.startedAtMs) / 1000);
  return section('Server', [
    ['redis_version', facts.redisVersion],
    ['understudy_version', facts.understudyVersion],
    ['redis_mode', 'standalone'],
    ['os', `${process.platform} ${process.arch}`],
    ['arch_bits', process.arch.endsWith('64') ? 64 : 32],
    ['process_id', process.pid],
    ['run_id', facts.runId],
    ['tcp_port', facts.respPort],
    ['uptime_in_seconds', uptimeSeconds],
    ['uptime_in_days', Math.floor(uptimeSeconds / 86_400)],
    ['understudy_replica', context.backend.local().id],
  ]);
}

function statsSection(context: CommandContext): string {
  const { counters } = context;
  return section('Stats', [
    ['total_connections_received', counters.connections],
    ['total_commands_processed', counters.commands],
    ['understudy_pipelined_sequences', counters.pipelinedSequences],
    ['understudy_shared_sequences', counters.sharedSequences],
    ['understudy_protocol_errors', counters.protocolErrors],
  ]);
}

/** `ip` and `port` of a replica's address (host:port, or [v6]:port). */
function hostAndPort(address: string): [string, string] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at).replace(/^\[|\]$/g, ''), address.slice(at + 1)];
}

function followerLine(replica: ReplicaStatus, state: string, lastIndex: number): string {
  const [ip, port] = hostAndPort(replica.address);
  const behind = Math.max(0, lastIndex - replica.durableIndex);
  return `id=${replica.id},ip=${ip},port=${port},state=${replica.alive ? state : 'down'},offset=${replica.durableIndex},behind=${behind}`;
}

function replicationSection(local: LocalReplica, status: StatusReply | null): string {
  const primary = local.role === 'primary';
  const view = local.view;
  const fields: [string, string | number][] = [
    ['role', primary ? 'master' : 'slave'],
    ['understudy_role', local.role],
    ['understudy_view', view?.number ?? 0],
    ['understudy_primary', view?.primary ?? ''],
  ];
  const known = new Map((status?.replicas ?? []).map((replica) => [replica.id as string, replica]));
  if (primary && view !== null) {
    const followers = [
      ...view.backups.map((id) => [id, 'online'] as const),
      ...view.learners.map((id) => [id, 'learner'] as const),
    ];
    fields.push(['connected_slaves', followers.length]);
    followers.forEach(([id, state], index) => {
      const replica = known.get(id);
      if (replica !== undefined)
        fields.push([`slave${index}`, followerLine(replica, state, local.lastIndex)]);
    });
  } else {
    const primaryStatus = view === null ? undefined : known.get(view.primary);
    const linked = view !== null && (status === null || primaryStatus?.alive === true);
    fields.push(['master_link_status', linked ? 'up' : 'down']);
    if (primaryStatus !== undefined) fields.push(['understudy_primary_address', primaryStatus.address]);
    fields.push(['slave_repl_offset', local.durableIndex]);
  }
  fields.push(
    ['master_repl_offset', local.lastIndex],
    ['understudy_durable_index', local.durableIndex],
    ['understudy_commit_index', local.commitIndex],
    ['understudy_applied_index', local.appliedIndex],
  );
  return section('Replication', fields);
}

/**
 * Memory as Redis names it: `used_memory` what the store counts against its limit (keys, values and
 * 64 bytes a key; `maxmemory`, none without a store that counts), `used_memory_rss` the process's
 * resident memory, and the policy at the limit, which is to refuse the write (STORE_FULL), never to
 * evict a key.
 */
function memorySection(size: StateSize | null): string {
  const rss = process.memoryUsage.rss();
  const fields: [string, string | number][] = [];
  if (size !== null) fields.push(['used_memory', size.bytes], ['used_memory_human', humanBytes(size.bytes)]);
  fields.push(['used_memory_rss', rss], ['used_memory_rss_human', humanBytes(rss)]);
  if (size?.bytesMax != null) {
    fields.push(['maxmemory', size.bytesMax], ['maxmemory_human', humanBytes(size.bytesMax)]);
  }
  fields.push(['maxmemory_policy', 'noeviction']);
  return section('Memory', fields);
}

/** Bytes as Redis's `_human` fields write them: 1.50K, 12.00M, 1.00G (B below 1 KiB). */
function humanBytes(bytes: number): string {
  const units = ['K', 'M', 'G', 'T'];
  let value = bytes;
  let unit = 'B';
  for (const next of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  return unit === 'B' ? `${bytes}B` : `${value.toFixed(2)}${unit}`;
}

/**
 * Redis's one database, as this replica's state holds it: keys, and keys with a time to live (no line
 * while it holds none, as Redis). Redis's `avg_ttl` is left out: it would take a pass over every key.
 */
function keyspaceSection(size: StateSize | null): string {
  const keys = size?.entries ?? 0;
  return section('Keyspace', keys === 0 ? [] : [['db0', `keys=${keys},expires=${size?.expiring ?? 0}`]]);
}

async function info(args: readonly Buffer[], context: CommandContext): Promise<RespReply> {
  const asked = args.slice(1).map(lowerName);
  const everything =
    asked.length === 0 || asked.some((name) => ['default', 'all', 'everything'].includes(name));
  const sections = allSections.filter((name: Section) => everything || asked.includes(name));
  const parts: string[] = [];
  for (const name of sections) {
    if (name === 'server') parts.push(serverSection(context));
    else if (name === 'memory') parts.push(memorySection(context.backend.stateSize?.() ?? null));
    else if (name === 'stats') parts.push(statsSection(context));
    else if (name === 'keyspace') parts.push(keyspaceSection(context.backend.stateSize?.() ?? null));
    else
      parts.push(
        replicationSection(
          context.backend.local(),
          await context.backend.clusterStatus(context.connection.token),
        ),
      );
  }
  // An unknown section is answered with nothing, as Redis does.
  return reply.bulk(parts.join('\r\n'));
}

async function role(_args: readonly Buffer[], context: CommandContext): Promise<RespReply> {
  const local = context.backend.local();
  const status = await context.backend.clusterStatus(context.connection.token);
  const known = new Map((status?.replicas ?? []).map((replica) => [replica.id as string, replica]));
  const view = local.view;
  if (local.role === 'primary' && view !== null) {
    const followers = [...view.backups, ...view.learners].flatMap((id) => {
      const replica = known.get(id);
      if (replica === undefined) return [];
      const [ip, port] = hostAndPort(replica.address);
      return [reply.array([reply.bulk(ip), reply.bulk(port), reply.bulk(String(replica.durableIndex))])];
    });
    return reply.array([reply.bulk('master'), reply.integer(local.lastIndex), reply.array(followers)]);
  }
  const primary = view === null ? undefined : known.get(view.primary);
  const [ip, port] = primary === undefined ? ['', '0'] : hostAndPort(primary.address);
  return reply.array([
    reply.bulk('slave'),
    reply.bulk(ip),
    reply.integer(Number(port)),
    reply.bulk(primary?.alive === true ? 'connected' : 'connect'),
    reply.integer(local.durableIndex),
  ]);
}

function wait(args: readonly Buffer[], context: CommandContext): RespReply {
  integerArgument(arg(args, 1));
  const timeout = integerArgument(arg(args, 2), 'ERR timeout is not an integer or out of range');
  if (timeout < 0) return reply.error('ERR timeout is negative');
  const held = context.connection.lastWriteBackups;
  // Before its first write a connection has nothing to wait for: every backup holds "it".
  return reply.integer(held ?? context.backend.local().view?.backups.length ?? 0);
}

export const replicationCommands: readonly CommandSpec[] = [
  { name: 'info', arity: -1, flags: [], keys: [0, 0, 0], handler: info },
  { name: 'wait', arity: 3, flags: [], keys: [0, 0, 0], handler: wait },
  { name: 'role', arity: 1, flags: ['noscript', 'loading', 'stale', 'fast'], keys: [0, 0, 0], handler: role },
];
