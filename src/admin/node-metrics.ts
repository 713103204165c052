// The metrics every admin port reports, replica or coordinator: the process (prom-client's defaults:
// CPU, memory, event-loop delay, GC), the transport's counters, the view as this node knows it, and
// the space on the disk that holds its data directory.

import type { StatsFs } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { StallCounts } from '../node/stall-watch.js';
import { transportCounters } from '../transport/index.js';
import { counterFrom, gaugeFrom, labelledCounterFrom } from './metric-kinds.js';

export interface ViewCounts {
  readonly viewNumber: number;
  /** Views this process installed (coordinator) or adopted (replica) since it started. */
  readonly viewChanges: number;
  /** Of those, the views that named another primary than the view before. */
  readonly failovers: number;
}

/** `dataDirectory`: where the node keeps its data, or null if it keeps none (a coordinator on etcd). */
export function createNodeRegistry(
  views: () => ViewCounts,
  stalls: () => StallCounts,
  dataDirectory: string | null,
): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  if (dataDirectory !== null) diskGauges(registry, dataDirectory);
  counterFrom(
    registry,
    'understudy_stalls_total',
    'Times nothing in this process ran for stallTicksMin ticks (150 ms by default) or more: a long garbage collection, a blocking call, the process descheduled or its machine paused. Each is also logged as a warning.',
    () => stalls().count,
  );
  gaugeFrom(
    registry,
    'understudy_stall_longest_seconds',
    'The longest of those stalls since the process started (0 if none).',
    () => stalls().longestMs / 1000,
  );
  gaugeFrom(
    registry,
    'understudy_view_number',
    'The number of the current view, as this node knows it (0: none yet).',
    () => views().viewNumber,
  );
  counterFrom(
    registry,
    'understudy_view_changes_total',
    'Views this process installed (coordinator) or adopted (replica) since it started.',
    () => views().viewChanges,
  );
  counterFrom(
    registry,
    'understudy_failovers_total',
    'Views since this process started whose primary differs from the view before: on the coordinator, primaries it replaced; on a replica, changes of primary it followed.',
    () => views().failovers,
  );
  counterFrom(
    registry,
    'understudy_bad_frames_total',
    'Frames received that were too large, did not decode or failed validation (each closed its connection).',
    () => transportCounters.badFrames,
  );
  counterFrom(
    registry,
    'understudy_handshakes_refused_total',
    'Hellos refused (another cluster or protocol version, another service, or a TLS identity that does not match).',
    () => transportCounters.handshakesRefused,
  );
  counterFrom(
    registry,
    'understudy_tls_identities_refused_total',
    "TLS peers refused because their certificate was not from the cluster's CA or did not name the member their Hello named.",
    () => transportCounters.tlsIdentitiesRefused,
  );
  counterFrom(
    registry,
    'understudy_tls_handshakes_failed_total',
    'TLS handshakes that failed before a Hello arrived (plain TCP on a TLS port, a timeout, a protocol error).',
    () => transportCounters.tlsHandshakesFailed,
  );
  labelledCounterFrom(
    registry,
    'understudy_connections_refused_total',
    'Connections refused at accept (connections_max, address_connections_max: a port cap was reached), cut by a deadline (handshake_timeout, idle_timeout), refused for a missing or wrong token (unauthenticated; a failed Redis AUTH too), or a member without the cluster secret or with a certificate that does not name it (forged_peer).',
    'reason',
    () => Object.entries(transportCounters.connectionsRefused),
  );
  labelledCounterFrom(
    registry,
    'understudy_requests_refused_total',
    "Requests refused on a port that asks for tokens: a Redis command before AUTH (not_authenticated), a client id that is not the token name's (client_id_not_owned), a switchover without an admin token (not_admin).",
    'reason',
    () => Object.entries(transportCounters.requestsRefused),
  );
  counterFrom(
    registry,
    'understudy_admin_bad_requests_total',
    'HTTP requests to the admin port that did not parse (answered 400, connection closed).',
    () => transportCounters.adminBadRequests,
  );
  counterFrom(
    registry,
    'understudy_resp_protocol_errors_total',
    'Redis-port connections closed for a protocol error (answered -ERR Protocol error).',
    () => transportCounters.respProtocolErrors,
  );
  counterFrom(
    registry,
    'understudy_resp_commands_total',
    'Commands the Redis port answered (its INFO stats total_commands_processed).',
    () => transportCounters.respCommands,
  );
  labelledCounterFrom(
    registry,
    'understudy_resp_sequences_total',
    "Sequences the Redis port sent to the primary for more than one command: a connection's pipeline (pipeline), or the commands of several connections handed over in one turn (shared).",
    'kind',
    () => Object.entries(transportCounters.respSequences),
  );
  gaugeFrom(
    registry,
    'understudy_connections',
    'Open TCP connections of this process (clients, peers, coordinator link), in either direction.',
    () => transportCounters.connectionsOpen,
  );
  gaugeFrom(
    registry,
    'understudy_local_links',
    "Connections of this process to its own replica held in memory, not over TCP: the Redis port's, while its replica is the primary or answers its READONLY reads.",
    () => transportCounters.localLinksOpen,
  );
  return registry;
}

/**
 * The file system that holds `directory`: the bytes free there as df shows them (an unprivileged
 * process's share; root may also use the blocks reserved for it), and its size. A full disk stops a
 * replica (docs/OPERATIONS.md, "A full disk"), so this is what to alert on. Read at each scrape with
 * an asynchronous statfs, so a hung disk holds up the scrape, never the event loop; a failed read
 * leaves the last value.
 */
function diskGauges(registry: Registry, directory: string): void {
  const gauge = (name: string, help: string, bytes: (stats: StatsFs) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        try {
          this.set(bytes(await statfs(directory)));
        } catch {
          // The directory is gone or unreadable: the process's own log says more.
        }
      },
    });
  gauge(
    'understudy_disk_free_bytes',
    "Bytes free on the file system that holds its data directory, as df shows them (statfs's available blocks; a process run as root may also use the blocks reserved for root). Once none is left, a replica's next log write fails ENOSPC and it stops.",
    (stats) => stats.bavail * stats.bsize,
  );
  gauge(
    'understudy_disk_size_bytes',
    'The size of the file system that holds its data directory.',
    (stats) => stats.blocks * stats.bsize,
  );
}
