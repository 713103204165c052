// Every setting of the server commands (`coordinator`, `replica`, `start`), in one table: for each,
// its place in a config file (section and key), its flag, what it takes, its default and its help.
// The flags, their environment variables, the config file's schema, `understudy config --defaults`
// and the help text are all made from this table (command-settings.ts, config-file.ts), so a setting
// is named, typed and explained here once.
//
// Sections: `cluster` (what every process of a cluster must share), `log`, and one per command. A
// command reads the sections it takes (`commands` below) and leaves the others, so one file can
// describe a whole cluster: `start` takes its own section, and from `replica` what all its replicas
// share (the service, snapshots, sessions, transfers); the per-process settings it sets itself.

import { CLUSTER_ID_DEFAULT, READ_MAX_STALENESS_MS_DEFAULT } from '../../client/index.js';
import { defaultNodeConfig } from '../../node/config.js';
import { ETCD_LEASE_SECONDS_DEFAULT } from '../../node/etcd/etcd-leadership.js';
import { logLevelDefault, logLevels } from '../../node/logger.js';
import { defaultProtocolConfig, lagPolicies } from '../../protocol/config.js';
import { BASE_FORMAT_LEVEL, FORMAT_LEVEL } from '../../protocol/format-level.js';
import {
  address,
  addressList,
  adminAddress,
  coordinatorList,
  idList,
  PORT_MAX,
  respAddress,
  urlList,
} from '../options.js';
import { schedulingPolicies } from '../server-spawn.js';
import {
  choiceValue,
  integerValue,
  listValue,
  notBlank,
  portOrAddressValue,
  type SettingValue,
  switchValue,
  textValue,
} from './setting-value.js';

export const serverCommands = ['coordinator', 'replica', 'start'] as const;
export type ServerCommand = (typeof serverCommands)[number];

export const settingSections = ['cluster', 'log', 'coordinator', 'replica', 'start'] as const;
export type SettingSection = (typeof settingSections)[number];

export interface Setting<T = unknown> {
  readonly section: SettingSection;
  /** Its name in its section of a config file. */
  readonly key: string;
  /** Commander's flags: the long flag and, unless it is a switch, its value's name. */
  readonly flags: string;
  readonly help: string;
  readonly value: SettingValue<T>;
  /** Its value when none is given; without one it is unset, or `required`. */
  readonly defaultValue?: T;
  readonly required?: true;
  /** The key of a setting of the same command it cannot be given with (as a flag or a variable). */
  readonly conflicts?: string;
  readonly commands: readonly ServerCommand[];
}

export const CLUSTER_REPLICAS_DEFAULT = 3;
export const CLUSTER_REPLICAS_MAX = 9;
export const CLUSTER_PORT_DEFAULT = 7000;
export const CLUSTER_HOST_DEFAULT = '127.0.0.1';
export const CLUSTER_DIRECTORY_DEFAULT = './data';
/** `start` puts the admin ports this far above the cluster's: coordinator 8000, replica i 8000 + i. */
export const CLUSTER_ADMIN_PORT_OFFSET = 1000;
/** `start` gives replica i the Redis port RESP_PORT_BASE + i (r1: 6379, Redis's own port). */
export const RESP_PORT_BASE = 6378;
/** The Sentinel port `start` gives the coordinator: Redis Sentinel's own. */
export const SENTINEL_PORT_DEFAULT = 26379;

/** A lag limit must exceed two of the primary's empty Prepares, which an idle backup acknowledges. */
export const backupLagMaxMsMin =
  (2 * defaultProtocolConfig.followerHeartbeatTicks + 1) * defaultNodeConfig.tickMs;
const backupLagMaxMsMax = 600_000;
/** A failure timeout must exceed two heartbeats: a healthy replica misses none, and may be late once. */
export const failureTimeoutMsMin =
  (2 * defaultProtocolConfig.heartbeatIntervalTicks + 1) * defaultNodeConfig.tickMs;
const failureTimeoutMsMax = 600_000;
/** A snapshot retry wait: a tick at least, an hour at most (eight times that after failures in a row). */
const snapshotRetryMsMin = defaultNodeConfig.tickMs;
const snapshotRetryMsMax = 3_600_000;
/** Backups a commit may wait for at most (there are at most CLUSTER_REPLICAS_MAX − 1 in a local cluster). */
const syncQuorumMax = 1000;
const respReadStalenessMsMax = 3_600_000;
/** Where the Redis port answers reads by default (--resp-reads). */
export const respReadPlaces = ['primary', 'replica'] as const;
export type RespReadPlace = (typeof respReadPlaces)[number];
const retentionLimitMax = 2 ** 40;
const sessionsMaxMax = 100_000_000;
const sessionIdleSecondsMax = 10 * 365 * 24 * 3600;

const allServers = serverCommands;
const replicas: readonly ServerCommand[] = ['replica', 'start'];

function setting<T>(definition: Setting<T>): Setting<T> {
  return definition;
}

const listenValue = textValue('host:port (port 0 picks a free one)', address(0));
const addressValue = textValue('host:port', address(1));
const directoryValue = textValue('a directory', notBlank);
const adminValue = portOrAddressValue('[host:]port', adminAddress);
const fileValue = textValue('a file', notBlank);
const tlsCertHelp =
  "this process's TLS certificate (PEM), from the cluster's CA and naming this process (understudy certs); " +
  'give --tls-ca, --tls-cert and --tls-key together, or none for plain TCP';
const tlsKeyHelp = "this process's TLS private key (PEM), the pair of --tls-cert";
const adminHelp =
  'serve status (/status), Prometheus metrics (/metrics) and health checks (/primary, /replica) over ' +
  'HTTP here; a port alone listens on 127.0.0.1, port 0 picks a free one (default: no admin port)';

export const serverSettings: readonly Setting[] = [
  // ---- coordinator ----
  setting({
    section: 'coordinator',
    key: 'listen',
    flags: '--listen <host:port>',
    help: 'address to listen on',
    value: listenValue,
    required: true,
    commands: ['coordinator'],
  }),
  setting({
    section: 'coordinator',
    key: 'dir',
    flags: '--dir <path>',
    help: 'data directory (its state lives here); give this or --etcd',
    value: directoryValue,
    commands: ['coordinator'],
  }),
  setting({
    section: 'coordinator',
    key: 'etcd',
    flags: '--etcd <urls>',
    help:
      "keep the coordinator's state in etcd (every member's client URL, http://host:port, comma-separated) " +
      'instead of --dir: run several coordinators, one leads (elected through an etcd lease), the others stand by',
    value: listValue('etcd client URLs (a list, or separated by commas)', urlList('--etcd')),
    commands: ['coordinator'],
  }),
  setting({
    section: 'coordinator',
    key: 'etcdCa',
    flags: '--etcd-ca <file>',
    help:
      "with https:// --etcd URLs: the CA (PEM) etcd's certificates must chain to, instead of the system's " +
      "(etcdctl's --cacert)",
    value: fileValue,
    commands: ['coordinator'],
  }),
  setting({
    section: 'coordinator',
    key: 'etcdCert',
    flags: '--etcd-cert <file>',
    help:
      'with https:// --etcd URLs: the client certificate (PEM) to present, for an etcd that runs with ' +
      "--client-cert-auth (etcdctl's --cert); give --etcd-key with it",
    value: fileValue,
    commands: ['coordinator'],
  }),
  setting({
    section: 'coordinator',
    key: 'etcdKey',
    flags: '--etcd-key <file>',
    help: "the private key (PEM) of --etcd-cert (etcdctl's --key)",
    value: fileValue,
    commands: ['coordinator'],
  }),
  setting({
    section: 'coordinator',
    key: 'etcdLeaseSeconds',
    flags: '--etcd-lease-seconds <s>',
    help:
      'with --etcd: the lease that holds the leadership; a standby takes over about this long after the ' +
      'leader dies (etcd raises it to its minimum, 2 s by default)',
    value: integerValue(1, 600),
    defaultValue: ETCD_LEASE_SECONDS_DEFAULT,
    commands: ['coordinator'],
  }),
  setting({
    section: 'coordinator',
    key: 'advertise',
    flags: '--advertise <host:port>',
    help: "with --etcd: the address standbys name as the leader's, when it differs from --listen",
    value: addressValue,
    commands: ['coordinator'],
  }),
  setting({
    section: 'coordinator',
    key: 'admin',
    flags: '--admin <[host:]port>',
    help: adminHelp,
    value: adminValue,
    commands: ['coordinator'],
  }),
  setting({
    section: 'coordinator',
    key: 'newCluster',
    flags: '--new-cluster',
    help:
      'an empty --dir means a new cluster: form the first view (without it, an empty --dir means the ' +
      'state was lost and the coordinator waits for --recover-from-replicas)',
    value: switchValue(),
    defaultValue: false,
    commands: ['coordinator'],
  }),
  setting({
    section: 'coordinator',
    key: 'recoverFromReplicas',
    flags: '--recover-from-replicas <ids>',
    help:
      'if the state directory is empty or older than the cluster, rebuild the view from the ' +
      'replicas, once every one of these (every replica of the cluster, comma-separated) has reported',
    value: listValue('replica ids (a list, or separated by commas)', idList('--recover-from-replicas')),
    commands: ['coordinator'],
  }),
  setting({
    section: 'coordinator',
    key: 'sentinel',
    flags: '--sentinel <[host:]port>',
    help:
      "answer Redis Sentinel's protocol on this address too, so Redis clients with Sentinel support find the " +
      "primary's Redis port through it (master name: the cluster id); a bare port listens on 127.0.0.1 " +
      '(default: no Sentinel port)',
    value: portOrAddressValue('[host:]port', respAddress),
    commands: ['coordinator'],
  }),
  setting({
    section: 'coordinator',
    key: 'sentinelTls',
    flags: '--sentinel-tls',
    help: 'serve the Sentinel port over TLS with --tls-cert and --tls-key (default: plain)',
    value: switchValue(),
    defaultValue: false,
    commands: ['coordinator'],
  }),
  setting({
    section: 'coordinator',
    key: 'replicaAdmins',
    flags: '--replica-admins <addresses>',
    help:
      "the replicas' admin ports (host:port, comma-separated): the dashboard at --admin reads their " +
      '/metrics once a second for its write-latency chart, over HTTPS with --admin-tls (default: none, ' +
      'and no latency chart)',
    value: listValue('host:port addresses (a list, or separated by commas)', addressList('--replica-admins')),
    commands: ['coordinator'],
  }),
  setting({
    section: 'coordinator',
    key: 'tlsCert',
    flags: '--tls-cert <file>',
    help: tlsCertHelp,
    value: fileValue,
    commands: ['coordinator'],
  }),
  setting({
    section: 'coordinator',
    key: 'tlsKey',
    flags: '--tls-key <file>',
    help: tlsKeyHelp,
    value: fileValue,
    commands: ['coordinator'],
  }),
  setting({
    section: 'coordinator',
    key: 'adminTls',
    flags: '--admin-tls',
    help: 'serve the admin port over HTTPS with --tls-cert and --tls-key (default: plain HTTP)',
    value: switchValue(),
    defaultValue: false,
    commands: ['coordinator'],
  }),
  // ---- replica ----
  setting({
    section: 'replica',
    key: 'id',
    flags: '--id <id>',
    help: 'replica id, unique in the cluster',
    value: textValue('an id', notBlank),
    required: true,
    commands: ['replica'],
  }),
  setting({
    section: 'replica',
    key: 'listen',
    flags: '--listen <host:port>',
    help: 'address to listen on',
    value: listenValue,
    required: true,
    commands: ['replica'],
  }),
  setting({
    section: 'replica',
    key: 'coordinator',
    flags: '--coordinator <host:port>',
    help: 'coordinator address; on etcd, every coordinator, comma-separated (the leader is found among them)',
    value: textValue('host:port, or several comma-separated', coordinatorList('--coordinator')),
    required: true,
    commands: ['replica'],
  }),
  setting({
    section: 'replica',
    key: 'dir',
    flags: '--dir <path>',
    help: 'data directory',
    value: directoryValue,
    required: true,
    commands: ['replica'],
  }),
  setting({
    section: 'replica',
    key: 'advertise',
    flags: '--advertise <host:port>',
    help: 'address peers and clients should dial, when it differs from --listen (a proxy, NAT)',
    value: addressValue,
    commands: ['replica'],
  }),
  setting({
    section: 'replica',
    key: 'admin',
    flags: '--admin <[host:]port>',
    help: adminHelp,
    value: adminValue,
    commands: ['replica'],
  }),
  setting({
    section: 'replica',
    key: 'resp',
    flags: '--resp <[host:]port>',
    help:
      'serve the key/value store over the Redis protocol (RESP2) on this address too; a bare port listens on ' +
      '127.0.0.1, 0 picks a free one (default: no Redis port; not with --service)',
    value: portOrAddressValue('[host:]port', respAddress),
    conflicts: 'service',
    commands: ['replica'],
  }),
  setting({
    section: 'replica',
    key: 'respAdvertise',
    flags: '--resp-advertise <host:port>',
    help:
      "address Redis clients should dial for this replica's Redis port, which the coordinator's Sentinel port " +
      'names (default: the --resp address; on a wildcard host, the host of --advertise or --listen)',
    value: addressValue,
    conflicts: 'service',
    commands: ['replica'],
  }),
  setting({
    section: 'replica',
    key: 'respReads',
    flags: '--resp-reads <where>',
    help:
      'where the Redis port answers reads: primary (linearizable; a connection may still send READONLY) or ' +
      'replica (every connection starts READONLY: this replica answers within --resp-read-staleness-ms, after ' +
      "the connection's own writes; READWRITE goes back)",
    value: choiceValue(respReadPlaces),
    defaultValue: 'primary',
    conflicts: 'service',
    commands: replicas,
  }),
  setting({
    section: 'replica',
    key: 'respReadStalenessMs',
    flags: '--resp-read-staleness-ms <ms>',
    help:
      'how old the state a READONLY connection reads may be; a replica further behind sends the read on to ' +
      'another member',
    value: integerValue(0, respReadStalenessMsMax),
    defaultValue: READ_MAX_STALENESS_MS_DEFAULT,
    conflicts: 'service',
    commands: replicas,
  }),
  setting({
    section: 'replica',
    key: 'formatLevel',
    flags: '--format-level <n>',
    help:
      'the highest format level this replica reports reading (what it writes down: log entries, store ' +
      "updates, snapshots); the cluster logs at the lowest level among its members' and raises it once " +
      'each reads more, never lowering it. Hold it at 1 through a rolling upgrade from a build of ' +
      "2026-12-05 (f571c9b and after) to keep a way back to it (default: this build's)",
    value: integerValue(BASE_FORMAT_LEVEL, FORMAT_LEVEL),
    defaultValue: FORMAT_LEVEL,
    commands: ['replica'],
  }),
  setting({
    section: 'replica',
    key: 'service',
    flags: '--service <module>',
    help:
      'the service to replicate: a module (a path, or a package name resolved from here) whose default export ' +
      'is a StateMachineFactory, and which may export service = { name, version }; every replica of a ' +
      'cluster must run the same one (default: the key/value store)',
    value: textValue('a module path or package name', notBlank),
    commands: replicas,
  }),
  setting({
    section: 'replica',
    key: 'snapshotLogBytes',
    flags: '--snapshot-log-bytes <n>',
    help: 'log bytes since the last snapshot before the next (at least a quarter of the last snapshot)',
    value: integerValue(1, retentionLimitMax),
    defaultValue: defaultProtocolConfig.snapshotLogBytes,
    commands: replicas,
  }),
  setting({
    section: 'replica',
    key: 'snapshotRetryMs',
    flags: '--snapshot-retry-ms <ms>',
    help:
      'after a snapshot write failed (a full or failing disk), the wait before the next try, doubled for ' +
      'each further failure in a row up to 8 times; the replica serves on meanwhile',
    value: integerValue(snapshotRetryMsMin, snapshotRetryMsMax),
    defaultValue: defaultProtocolConfig.snapshotRetryTicks * defaultNodeConfig.tickMs,
    commands: replicas,
  }),
  setting({
    section: 'replica',
    key: 'sessionsMax',
    flags: '--sessions-max <n>',
    help: 'client sessions kept; beyond it the least recently active expire',
    value: integerValue(1, sessionsMaxMax),
    defaultValue: defaultProtocolConfig.sessionsMax,
    commands: replicas,
  }),
  setting({
    section: 'replica',
    key: 'sessionIdleSeconds',
    flags: '--session-idle-seconds <n>',
    help: 'a client session idle this long expires',
    value: integerValue(1, sessionIdleSecondsMax),
    defaultValue: (defaultProtocolConfig.sessionIdleTicks * defaultNodeConfig.tickMs) / 1000,
    commands: replicas,
  }),
  setting({
    section: 'replica',
    key: 'transferRate',
    flags: '--transfer-rate <bytes-per-second>',
    help: 'pace at which this replica serves snapshots to learners (default: no limit)',
    value: integerValue(1, retentionLimitMax),
    commands: replicas,
  }),
  setting({
    section: 'replica',
    key: 'tlsCert',
    flags: '--tls-cert <file>',
    help: tlsCertHelp,
    value: fileValue,
    commands: ['replica'],
  }),
  setting({
    section: 'replica',
    key: 'tlsKey',
    flags: '--tls-key <file>',
    help: tlsKeyHelp,
    value: fileValue,
    commands: ['replica'],
  }),
  setting({
    section: 'replica',
    key: 'adminTls',
    flags: '--admin-tls',
    help: 'serve the admin port over HTTPS with --tls-cert and --tls-key (default: plain HTTP)',
    value: switchValue(),
    defaultValue: false,
    commands: ['replica'],
  }),
  setting({
    section: 'replica',
    key: 'respTls',
    flags: '--resp-tls',
    help: 'serve the Redis port over TLS with --tls-cert and --tls-key (redis-cli --tls --cacert ca.crt; default: plain)',
    value: switchValue(),
    defaultValue: false,
    commands: ['replica'],
  }),
  // ---- start ----
  setting({
    section: 'start',
    key: 'tlsDir',
    flags: '--tls-dir <dir>',
    help:
      'run the cluster on mutual TLS with the certificates `understudy certs --out DIR` wrote (ca.crt, ' +
      'coordinator.crt/.key, r1.crt/.key, ...); default: plain TCP',
    value: directoryValue,
    commands: ['start'],
  }),
  setting({
    section: 'start',
    key: 'replicas',
    flags: '--replicas <n>',
    help: 'number of replicas',
    value: integerValue(1, CLUSTER_REPLICAS_MAX),
    defaultValue: CLUSTER_REPLICAS_DEFAULT,
    commands: ['start'],
  }),
  setting({
    section: 'start',
    key: 'dir',
    flags: '--dir <path>',
    help: 'data directory (coordinator/, r1/, r2/ ... inside)',
    value: directoryValue,
    defaultValue: CLUSTER_DIRECTORY_DEFAULT,
    commands: ['start'],
  }),
  setting({
    section: 'start',
    key: 'port',
    flags: '--port <port>',
    help: 'coordinator port; replicas take the next ones',
    value: integerValue(1, PORT_MAX),
    defaultValue: CLUSTER_PORT_DEFAULT,
    commands: ['start'],
  }),
  setting({
    section: 'start',
    key: 'host',
    flags: '--host <host>',
    help: 'host to listen on',
    value: textValue('a host name or address'),
    defaultValue: CLUSTER_HOST_DEFAULT,
    commands: ['start'],
  }),
  setting({
    section: 'start',
    key: 'respPort',
    flags: '--resp-port <port>',
    help: `Redis protocol port of r1; replica i gets port + i − 1 (default ${RESP_PORT_BASE + 1}: r1 ${RESP_PORT_BASE + 1}, r2 ${RESP_PORT_BASE + 2}, ...; none with --service)`,
    value: integerValue(1, PORT_MAX),
    conflicts: 'service',
    commands: ['start'],
  }),
  setting({
    section: 'start',
    key: 'sentinelPort',
    flags: '--sentinel-port <port>',
    help: `the coordinator's Sentinel port, for Redis clients with Sentinel support (default ${SENTINEL_PORT_DEFAULT}, Sentinel's own; none with --service)`,
    value: integerValue(1, PORT_MAX),
    conflicts: 'service',
    commands: ['start'],
  }),
  setting({
    section: 'start',
    key: 'scheduling',
    flags: '--scheduling <policy>',
    help:
      "the servers' scheduling policy on Linux: batch (SCHED_BATCH: less CPU per write on saturated cores, " +
      'but more stalls of the primary under a large state) or normal (the kernel default)',
    value: choiceValue(schedulingPolicies),
    defaultValue: 'batch',
    commands: ['start'],
  }),
  setting({
    section: 'start',
    key: 'adminPort',
    flags: '--admin-port <port>',
    help: `admin HTTP port of the coordinator; replica i gets this + i (default --port + ${CLUSTER_ADMIN_PORT_OFFSET})`,
    value: integerValue(1, PORT_MAX),
    commands: ['start'],
  }),
  // ---- cluster: the same on every process ----
  setting({
    section: 'cluster',
    key: 'tlsCa',
    flags: '--tls-ca <file>',
    help:
      "the cluster's CA certificate (PEM): with it every peer and coordinator connection is mutual TLS, " +
      'each side checking the chain and that the certificate names the replica id or coordinator it speaks ' +
      'for; the client port is TLS too (default: plain TCP)',
    value: fileValue,
    commands: ['coordinator', 'replica'],
  }),
  setting({
    section: 'cluster',
    key: 'authFile',
    flags: '--auth-file <file>',
    help:
      'ask every client for a token: a JSON file of token digests, { "clients": { NAME: "sha256:..." }, ' +
      '"admins": { NAME: "sha256:..." } } (understudy token NAME makes a token and its line); a client may ' +
      'use only its own session ids, a switchover or a snapshot save needs an admin token, and the Redis port asks for AUTH ' +
      '(default: no tokens)',
    value: fileValue,
    commands: allServers,
  }),
  setting({
    section: 'cluster',
    key: 'clusterSecretFile',
    flags: '--cluster-secret-file <file>',
    help:
      "a file holding this cluster's shared secret (one line, at least 16 characters): every replica brings it " +
      'to its peers and the coordinator and asks it of them, so a process that reaches a peer port cannot pose ' +
      'as a replica (default: none; with --tls-ca the certificates prove members too)',
    value: fileValue,
    commands: allServers,
  }),
  setting({
    section: 'cluster',
    key: 'id',
    flags: '--cluster-id <id>',
    help: 'cluster id, must match the servers (a peer of another cluster is refused at the handshake)',
    value: textValue('an id', notBlank),
    defaultValue: CLUSTER_ID_DEFAULT,
    commands: allServers,
  }),
  setting({
    section: 'cluster',
    key: 'syncQuorum',
    flags: '--sync-quorum <k>',
    help:
      "commit once k backups have an entry on disk (PostgreSQL's ANY k) instead of every backup; a failover " +
      'then waits to hear from all but k − 1 of the backups. The coordinator and every replica must be given ' +
      'the same k (default: every backup)',
    value: integerValue(1, syncQuorumMax),
    commands: allServers,
  }),
  setting({
    section: 'cluster',
    key: 'lagPolicy',
    flags: '--lag-policy <policy>',
    help:
      'what becomes of a backup that lags by more than --backup-lag-max-ms: demote (a learner until it ' +
      'catches up), throttle (commits wait for it), eject (out of the view for a while); the same on ' +
      'the coordinator and every replica',
    value: choiceValue(lagPolicies),
    defaultValue: defaultProtocolConfig.lagPolicy,
    commands: allServers,
  }),
  setting({
    section: 'cluster',
    key: 'backupLagMaxMs',
    flags: '--backup-lag-max-ms <ms>',
    help: 'a backup whose oldest unacknowledged entry is older than this lags',
    value: integerValue(backupLagMaxMsMin, backupLagMaxMsMax),
    defaultValue: defaultProtocolConfig.backupAckTimeoutTicks * defaultNodeConfig.tickMs,
    commands: allServers,
  }),
  setting({
    section: 'cluster',
    key: 'failureTimeoutMs',
    flags: '--failure-timeout-ms <ms>',
    help:
      'a replica silent this long (no heartbeat) is judged dead: a backup leaves the view, a primary is ' +
      'replaced. Longer rides out pauses (a large store growing, a slow network) at the cost of a slower ' +
      'failover; the same on the coordinator and every replica',
    value: integerValue(failureTimeoutMsMin, failureTimeoutMsMax),
    defaultValue: defaultProtocolConfig.failureTimeoutTicks * defaultNodeConfig.tickMs,
    commands: allServers,
  }),
  // ---- log ----
  setting({
    section: 'log',
    key: 'level',
    flags: '--log-level <level>',
    help: 'the least severe log lines written (JSON lines on stderr); silent writes none',
    value: choiceValue(logLevels),
    defaultValue: logLevelDefault,
    commands: allServers,
  }),
];

/** Every setting with its default, by section (null: none), as `config --defaults` prints it. */
export function defaultSettings(): Record<SettingSection, Record<string, unknown>> {
  const document = Object.fromEntries(settingSections.map((section) => [section, {}])) as Record<
    SettingSection,
    Record<string, unknown>
  >;
  for (const setting of serverSettings) document[setting.section][setting.key] = setting.defaultValue ?? null;
  return document;
}
