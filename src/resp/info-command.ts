// INFO: what the port says about the replica it runs in, the cluster around it, and what the port
// itself has seen, in Redis's sections and field names where the meaning carries over (role:master
// on the primary, role:slave elsewhere; slaveN lines on the primary; master_repl_offset;
// connected_clients; rdb_bgsave_in_progress), with understudy_* fields for what Redis has no word
// for. Tools that read INFO (redis-cli --stat, Prometheus's redis_exporter) find the fields they
// read; a field this port would have to make up (a fragmentation ratio, a fork's copy-on-write
// size) is left out rather than filled with a number.
//
// Offsets are log indexes (entries), not bytes of a stream. The other replicas' positions come from
// the coordinator, asked for at most infoStatusWaitMs: a cluster without one still answers INFO,
// without those lines. Persistence: this replica's log is an append-only file synced before a sync
// write is answered (aof_enabled:1), and its snapshots are Redis's RDB saves: rdb_bgsave_in_progress
// while it writes one, rdb_changes_since_last_save the log entries after the newest, loading while
// it receives a snapshot from another replica (a learner catching up), as a Redis replica loads
// its primary's RDB.

import type { ReplicaStatus, StatusReply } from '../protocol/messages.js';
import type { StateSize } from '../protocol/state-machine.js';
import { hostAndPort } from '../transport/address.js';
import { lowerName } from './arguments.js';
import type { CommandSpec } from './command-table.js';
import type { CommandContext, LocalPersistence, LocalReplica } from './context.js';
import { connectionsMax } from './limits.js';
import { type RespReply, reply } from './replies.js';

// In Redis's order, which INFO with no section (or `all`, `everything`, `default`) follows. (Redis
// leaves commandstats out of `default`; here every section is small enough to come with it.)
const allSections = [
  'server',
  'clients',
  'memory',
  'persistence',
  'stats',
  'replication',
  'cpu',
  'commandstats',
  'errorstats',
  'keyspace',
] as const;
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
    ['total_net_input_bytes', counters.inputBytes],
    ['total_net_output_bytes', counters.outputBytes],
    ['rejected_connections', counters.rejectedConnections],
    // At the memory limit a write is refused (maxmemory_policy noeviction): no key is ever evicted.
    ['evicted_keys', 0],
    ['keyspace_hits', counters.keyspaceHits],
    ['keyspace_misses', counters.keyspaceMisses],
    ['understudy_pipelined_sequences', counters.pipelinedSequences],
    ['understudy_shared_sequences', counters.sharedSequences],
    ['understudy_protocol_errors', counters.protocolErrors],
  ]);
}

/**
 * Connections of this port: none block (no blocking commands here) and none track keys (no CLIENT
 * TRACKING); `maxclients` is the port's cap on connections at once.
 */
function clientsSection(context: CommandContext): string {
  let readOnly = 0;
  for (const connection of context.connections.values()) if (connection.readOnly) readOnly += 1;
  return section('Clients', [
    ['connected_clients', context.connections.size],
    ['maxclients', connectionsMax],
    ['blocked_clients', 0],
    ['tracking_clients', 0],
    ['understudy_readonly_clients', readOnly],
  ]);
}

function persistenceSection(local: LocalReplica, disk: LocalPersistence | null): string {
  const snapshotIndex = local.snapshot?.position.index ?? 0;
  const fields: [string, string | number][] = [
    ['loading', local.transfer === null ? 0 : 1],
    ['async_loading', 0],
    ['rdb_changes_since_last_save', Math.max(0, local.lastIndex - snapshotIndex)],
  ];
  if (disk !== null) {
    fields.push(['rdb_bgsave_in_progress', disk.writingSnapshot ? 1 : 0]);
    if (disk.lastSnapshotWriteFailed !== null) {
      fields.push(['rdb_last_bgsave_status', disk.lastSnapshotWriteFailed ? 'err' : 'ok']);
    }
  }
  fields.push(
    ['aof_enabled', 1],
    ['aof_rewrite_in_progress', 0],
    // A log write that fails stops the replica, so one that answers has written every entry.
    ['aof_last_write_status', 'ok'],
    ['understudy_snapshot_index', snapshotIndex],
  );
  return section('Persistence', fields);
}

/** This process's CPU time since it started, in seconds, as Redis reports its own. */
function cpuSection(): string {
  const { user, system } = process.cpuUsage();
  return section('CPU', [
    ['used_cpu_sys', (system / 1e6).toFixed(6)],
    ['used_cpu_user', (user / 1e6).toFixed(6)],
  ]);
}

/** A follower's `slaveN` line, at its Redis port (where Redis tools would dial it). */
function followerLine(
  replica: ReplicaStatus,
  redisAddress: string,
  state: string,
  lastIndex: number,
): string {
  const [ip, port] = hostAndPort(redisAddress);
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
      // One with no Redis port has no line: there is nothing a Redis tool could dial.
      if (replica?.redisAddress != null)
        fields.push([`slave${index}`, followerLine(replica, replica.redisAddress, state, local.lastIndex)]);
    });
  } else {
    const primaryStatus = view === null ? undefined : known.get(view.primary);
    const linked = view !== null && (status === null || primaryStatus?.alive === true);
    if (primaryStatus?.redisAddress != null) {
      const [host, port] = hostAndPort(primaryStatus.redisAddress);
      fields.push(['master_host', host], ['master_port', port]);
    }
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
  for (const name of sections) parts.push(await sectionText(name, context));
  // An unknown section is answered with nothing, as Redis does.
  return reply.bulk(parts.join('\r\n'));
}

async function sectionText(name: Section, context: CommandContext): Promise<string> {
  const { backend } = context;
  switch (name) {
    case 'server':
      return serverSection(context);
    case 'clients':
      return clientsSection(context);
    case 'memory':
      return memorySection(backend.stateSize?.() ?? null);
    case 'persistence':
      return persistenceSection(backend.local(), backend.persistence?.() ?? null);
    case 'stats':
      return statsSection(context);
    case 'replication':
      return replicationSection(backend.local(), await backend.clusterStatus(context.connection.token));
    case 'cpu':
      return cpuSection();
    case 'commandstats':
      return section('Commandstats', context.commandStats.commandFields());
    case 'errorstats':
      return section('Errorstats', context.commandStats.errorFields());
    case 'keyspace':
      return keyspaceSection(backend.stateSize?.() ?? null);
  }
}

export const infoCommand: CommandSpec = {
  name: 'info',
  arity: -1,
  flags: [],
  keys: [0, 0, 0],
  handler: info,
};
