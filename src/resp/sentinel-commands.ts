// What the coordinator's Sentinel port answers: Redis Sentinel's commands for finding the primary
// (SENTINEL GET-MASTER-ADDR-BY-NAME, MASTERS, MASTER, REPLICAS, SENTINELS, ...), ROLE and INFO, in
// Sentinel's shapes, read from the coordinator's status. Redis clients with Sentinel support (ioredis,
// redis-py, Jedis, Lettuce, go-redis) ask this to find the primary's Redis port, and again after a
// connection fails; the one master is the cluster, named by its cluster id.
//
// The coordinator is one Sentinel that decides alone (its state in its home, not a vote of
// Sentinels), so it lists no other Sentinels and reports a quorum of 1. A coordinator that stands by
// (the etcd home) knows no view: it names no master, and clients ask the next Sentinel in their list.
// SENTINEL FAILOVER is a switchover (sentinel-server.ts) to the backup failoverTarget picks. Commands
// that would change what Sentinel monitors (MONITOR, REMOVE, SET, RESET, CONFIG) are refused saying
// what to use instead: the cluster is changed with `understudy`.

import type { ReplicaStatus, StatusReply } from '../protocol/messages.js';
import { hostAndPort } from '../transport/address.js';
import { lowerName } from './arguments.js';
import { helpReply, unknownSubcommand, wrongArity } from './command-table.js';
import { type RespReply, reply } from './replies.js';

/** What a Sentinel port says of itself, fixed when it starts. */
export interface SentinelFacts {
  /** The master's name: the cluster id. */
  readonly masterName: string;
  /** SENTINEL MYID: 40 hex digits, new at each start (a Sentinel's run id). */
  readonly myId: string;
  /** Sentinel's down-after-milliseconds: the coordinator's failure timeout. */
  readonly failureTimeoutMs: number;
  readonly redisVersion: string;
  readonly understudyVersion: string;
  readonly port: number;
  readonly startedAtMs: number;
}

/** The primary of `status`'s view and where its Redis port is, or why there is none to name. */
export type MasterLookup =
  | { readonly known: true; readonly primary: ReplicaStatus; readonly ip: string; readonly port: number }
  | { readonly known: false; readonly reason: string };

export function lookUpMaster(status: StatusReply): MasterLookup {
  const view = status.view;
  if (view === null) {
    return { known: false, reason: status.problem ?? 'the coordinator has formed no view yet' };
  }
  const primary = status.replicas.find((replica) => replica.id === view.primary);
  if (primary?.redisAddress == null) {
    return {
      known: false,
      reason: `the primary ${view.primary} has reported no Redis port (start it with --resp)`,
    };
  }
  const [ip, port] = hostAndPort(primary.redisAddress);
  return { known: true, primary, ip, port: Number(port) };
}

const noSuchMaster = reply.error('ERR No such master with that name');

const sentinelHelp = [
  'SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'GET-MASTER-ADDR-BY-NAME <master-name>',
  "    Return the ip and port number of the master with that name (the cluster's primary Redis port).",
  'MASTERS',
  '    Show a list of monitored masters and their state (one: the cluster).',
  'MASTER <master-name>',
  '    Show the state and info of the specified master.',
  'REPLICAS <master-name>',
  '    Show a list of replicas for this master and their state (SLAVES too).',
  'SENTINELS <master-name>',
  "    Show a list of Sentinel instances for this master and their state (the cluster's other coordinators on etcd).",
  'FAILOVER <master-name>',
  '    Hand the primary role to the most caught-up live backup (a planned switchover: nothing committed is lost).',
  'CKQUORUM <master-name>',
  '    Check if the current Sentinel configuration is able to reach the quorum needed to failover.',
  'MYID',
  '    Return the ID of the Sentinel instance.',
  'HELP',
  '    Print this help.',
];

/** Subcommands Redis Sentinel has that change what it monitors: the cluster is changed with `understudy`. */
const refusedSubcommands: Readonly<Record<string, string>> = {
  monitor: 'the coordinator monitors the replicas that report to it',
  remove: 'understudy forget <replica> takes a replica out of service for good',
  set: "the cluster's settings are the coordinator's and replicas' flags",
  reset: 'the coordinator keeps no Sentinel state to reset',
  config: "the cluster's settings are the coordinator's and replicas' flags",
  flushconfig: 'the coordinator keeps no Sentinel configuration file',
  'is-master-down-by-addr': 'the coordinator decides failovers alone; it takes no votes from Sentinels',
  'simulate-failure': 'faults are for `understudy chaos`',
  debug: 'there is no Sentinel timing to change',
  'info-cache': 'the coordinator keeps no INFO cache',
  'pending-scripts': 'the coordinator runs no Sentinel scripts',
};

/** SENTINEL <subcommand> ...; `status` is read once per command. */
/** Another coordinator's Sentinel port (the etcd home lists them: node/etcd/sentinel-registry.ts). */
export interface OtherSentinel {
  readonly runId: string;
  /** host:port */
  readonly address: string;
}

export function sentinel(
  args: readonly Buffer[],
  status: StatusReply,
  facts: SentinelFacts,
  others: readonly OtherSentinel[],
): RespReply {
  if (args.length < 2) return wrongArity('sentinel');
  const subcommand = lowerName(args[1] as Buffer);
  const named = (at: number): boolean => (args[at] as Buffer).toString('utf8') === facts.masterName;
  const withName = (answer: () => RespReply, unknown: RespReply = noSuchMaster): RespReply => {
    if (args.length !== 3) return wrongArity(`sentinel|${subcommand}`);
    return named(2) ? answer() : unknown;
  };
  switch (subcommand) {
    case 'get-master-addr-by-name':
      return withName(() => {
        const master = lookUpMaster(status);
        return master.known
          ? reply.array([reply.bulk(master.ip), reply.bulk(String(master.port))])
          : reply.array(null);
      }, reply.array(null));
    case 'masters': {
      if (args.length !== 2) return wrongArity('sentinel|masters');
      const master = lookUpMaster(status);
      return reply.array(master.known ? [masterMap(master, status, facts, others.length)] : []);
    }
    case 'master':
      return withName(() => {
        const master = lookUpMaster(status);
        return master.known
          ? masterMap(master, status, facts, others.length)
          : reply.error(`ERR ${master.reason}`);
      });
    case 'replicas':
    case 'slaves':
      return withName(() => reply.array(replicaMaps(status, facts)));
    case 'sentinels':
      return withName(() => reply.array(others.map((other) => sentinelMap(other, facts))));
    case 'ckquorum':
      return withName(() => {
        const master = lookUpMaster(status);
        if (!master.known) return reply.error(`NOQUORUM ${master.reason}`);
        return reply.simple(
          `OK ${others.length + 1} usable Sentinels. Quorum and failover authorization can be reached`,
        );
      });
    case 'myid':
      return args.length === 2 ? reply.bulk(facts.myId) : wrongArity('sentinel|myid');
    case 'help':
      return helpReply(sentinelHelp);
    default: {
      const instead = refusedSubcommands[subcommand];
      if (instead === undefined) return unknownSubcommand(args, 'SENTINEL');
      return reply.error(
        `ERR SENTINEL ${subcommand.toUpperCase()} is not supported by Understudy: ${instead}`,
      );
    }
  }
}

/**
 * The backup SENTINEL FAILOVER hands the primary role to: of the view's live backups, the one with the
 * most on its disk (the first by id among equals), as Sentinel picks the replica with the largest
 * offset; null when none is alive.
 */
export function failoverTarget(status: StatusReply): ReplicaStatus | null {
  const backups = new Set<string>(status.view?.backups ?? []);
  const candidates = status.replicas.filter((replica) => backups.has(replica.id) && replica.alive);
  candidates.sort((a, b) => b.durableIndex - a.durableIndex || a.id.localeCompare(b.id));
  return candidates[0] ?? null;
}

/** ROLE on a Sentinel: ["sentinel", [master names]]. */
export function sentinelRole(status: StatusReply, facts: SentinelFacts): RespReply {
  const names = lookUpMaster(status).known ? [reply.bulk(facts.masterName)] : [];
  return reply.array([reply.bulk('sentinel'), reply.array(names)]);
}

/** INFO's sections on a Sentinel: server, clients and sentinel (`section` one of them, or all). */
export function sentinelInfo(
  section: string | null,
  status: StatusReply,
  facts: SentinelFacts,
  connectedClients: number,
  others: readonly OtherSentinel[],
): string {
  const sections: Record<string, () => string[]> = {
    server: () => [
      '# Server',
      `redis_version:${facts.redisVersion}`,
      `understudy_version:${facts.understudyVersion}`,
      'redis_mode:sentinel',
      `process_id:${process.pid}`,
      `run_id:${facts.myId}`,
      `tcp_port:${facts.port}`,
      `uptime_in_seconds:${Math.floor((performance.now() - facts.startedAtMs) / 1000)}`,
    ],
    clients: () => ['# Clients', `connected_clients:${connectedClients}`],
    sentinel: () => {
      const master = lookUpMaster(status);
      const lines = [
        '# Sentinel',
        `sentinel_masters:${master.known ? 1 : 0}`,
        'sentinel_tilt:0',
        'sentinel_running_scripts:0',
        'sentinel_scripts_queue_length:0',
        'sentinel_simulate_failure_flags:0',
      ];
      if (master.known) {
        const state = master.primary.alive ? 'ok' : 'odown';
        const backups = replicaMaps(status, facts).length;
        lines.push(
          `master0:name=${facts.masterName},status=${state},address=${master.ip}:${master.port},slaves=${backups},sentinels=${others.length + 1}`,
        );
      }
      return lines;
    },
  };
  const chosen =
    section === null || section === 'all' || section === 'everything' ? Object.keys(sections) : [section];
  const parts = chosen.flatMap((name) => {
    const lines = sections[name]?.();
    return lines === undefined ? [] : [`${lines.join('\r\n')}\r\n`];
  });
  return parts.join('\r\n');
}

type Field = readonly [string, string | number];

/**
 * The fields of Sentinel's link to an instance, which a client may read but no decision here rests on:
 * the coordinator's heartbeats stand for Sentinel's pings, so their times are 0.
 */
/**
 * Another coordinator's Sentinel port as Sentinel lists a peer: it votes on nothing (the leading
 * coordinator decides alone), so no leader it voted for.
 */
function sentinelMap(other: OtherSentinel, facts: SentinelFacts): RespReply {
  const [ip, port] = hostAndPort(other.address);
  return pairs([
    ['name', other.runId],
    ['ip', ip],
    ['port', port],
    ['runid', other.runId],
    ['flags', 'sentinel'],
    ...pingFields(facts),
    ['last-hello-message', 0],
    ['voted-leader', '?'],
    ['voted-leader-epoch', 0],
  ]);
}

/** The link and ping fields Sentinel gives every instance it watches (no pings here: all 0). */
function pingFields(facts: SentinelFacts): Field[] {
  return [
    ['link-pending-commands', 0],
    ['link-refcount', 1],
    ['last-ping-sent', 0],
    ['last-ok-ping-reply', 0],
    ['last-ping-reply', 0],
    ['down-after-milliseconds', facts.failureTimeoutMs],
  ];
}

function linkFields(facts: SentinelFacts, role: 'master' | 'slave'): Field[] {
  return [...pingFields(facts), ['info-refresh', 0], ['role-reported', role], ['role-reported-time', 0]];
}

function pairs(fields: readonly Field[]): RespReply {
  return reply.array(fields.flatMap(([name, value]) => [reply.bulk(name), reply.bulk(String(value))]));
}

function masterMap(
  master: Extract<MasterLookup, { known: true }>,
  status: StatusReply,
  facts: SentinelFacts,
  otherSentinels: number,
): RespReply {
  const down = master.primary.alive ? '' : ',s_down,o_down';
  return pairs([
    ['name', facts.masterName],
    ['ip', master.ip],
    ['port', master.port],
    ['runid', ''],
    ['flags', `master${down}`],
    ...linkFields(facts, 'master'),
    // Sentinel's epoch grows at each failover, as the view number does at each view change.
    ['config-epoch', status.view?.number ?? 0],
    ['num-slaves', replicaMaps(status, facts).length],
    ['num-other-sentinels', otherSentinels],
    ['quorum', 1],
    ['failover-timeout', facts.failureTimeoutMs],
    ['parallel-syncs', 1],
  ]);
}

/** The view's backups and learners that reported a Redis port, as Sentinel lists replicas. */
function replicaMaps(status: StatusReply, facts: SentinelFacts): RespReply[] {
  const view = status.view;
  const master = lookUpMaster(status);
  if (view === null) return [];
  const [masterHost, masterPort] = master.known ? [master.ip, String(master.port)] : ['', '0'];
  const inView = new Set<string>([...view.backups, ...view.learners]);
  return status.replicas.flatMap((replica) => {
    if (!inView.has(replica.id) || replica.redisAddress === null) return [];
    const [ip, port] = hostAndPort(replica.redisAddress);
    const linked = replica.alive && master.known && master.primary.alive;
    return [
      pairs([
        ['name', replica.redisAddress],
        ['ip', ip],
        ['port', port],
        ['runid', ''],
        ['flags', replica.alive ? 'slave' : 'slave,s_down'],
        ...linkFields(facts, 'slave'),
        ['master-link-down-time', 0],
        ['master-link-status', linked ? 'ok' : 'err'],
        ['master-host', masterHost],
        ['master-port', masterPort],
        // Sentinel never promotes a replica of priority 0: a learner is not a candidate either.
        ['slave-priority', view.backups.includes(replica.id) ? 100 : 0],
        ['slave-repl-offset', replica.durableIndex],
        ['replica-announced', 1],
      ]),
    ];
  });
}
