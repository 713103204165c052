// A replica's metrics. Everything but the two histograms is read from one inspection of the replica
// per scrape; the histograms are typed arrays the replica fills on its hot path (request-timing.ts,
// the log's fsync hook) and are read here only when scraped.

import type { Registry } from 'prom-client';
import type { ReplicaInspection, ReplicaServer } from '../node/replica-server.js';
import { requestSeriesLabels } from '../node/request-timing.js';
import {
  counterFrom,
  gaugeFrom,
  labelledGaugeFrom,
  roleGaugeFrom,
  type ScrapeSource,
} from './metric-kinds.js';
import { createNodeRegistry } from './node-metrics.js';
import { ScrapedHistogram } from './scraped-histogram.js';

const replicaRoles = ['primary', 'backup', 'learner', 'none'] as const;

export function createReplicaRegistry(
  server: ReplicaServer,
  source: ScrapeSource<ReplicaInspection>,
): Registry {
  const now = () => source.current;
  const registry = createNodeRegistry(
    () => ({
      viewNumber: now().status.view?.number ?? 0,
      viewChanges: now().viewsAdopted,
      failovers: now().primaryChanges,
    }),
    () => now().stalls,
    server.dataDirectory,
  );
  roleGaugeFrom(registry, replicaRoles, () => now().status.role);
  labelledGaugeFrom(
    registry,
    'understudy_replica_info',
    "1, labelled with this replica's id (--id): what its other series are about, where a scrape target names only an address.",
    'replica',
    () => [[now().status.id, 1]],
  );
  gaugeFrom(
    registry,
    'understudy_commit_index',
    'The highest log index this replica knows committed (on the primary and every backup it waits for).',
    () => now().status.commitIndex,
  );
  gaugeFrom(
    registry,
    'understudy_durable_index',
    "The highest log index on this replica's disk (fsynced).",
    () => now().status.durableIndex,
  );
  gaugeFrom(
    registry,
    'understudy_format_level',
    "The cluster's format level as the coordinator last told this replica (1 until it did).",
    () => now().status.clusterFormatLevel,
  );
  gaugeFrom(
    registry,
    'understudy_format_level_readable',
    "The highest format level this replica reads: its build's, or lower with --format-level.",
    () => now().status.formatLevel,
  );
  gaugeFrom(
    registry,
    'understudy_applied_index',
    "The highest log index this replica's state machine has applied.",
    () => now().status.appliedIndex,
  );
  labelledGaugeFrom(
    registry,
    'understudy_backup_lag_entries',
    "Primary only: entries of the primary's log each backup has not acknowledged as on its disk.",
    'backup',
    () => now().backups.map((backup) => [backup.id, backup.behindEntries] as const),
  );
  labelledGaugeFrom(
    registry,
    'understudy_backup_lag_seconds',
    'Primary only: seconds each backup has been behind without acknowledging more (0 when it holds the whole log); the lag policy acts on this.',
    'backup',
    () => now().backups.map((backup) => [backup.id, backup.behindSeconds] as const),
  );
  gaugeFrom(
    registry,
    'understudy_async_at_risk',
    'Primary only: async writes on its disk (acknowledged) that some backup of the view does not hold on disk yet; a failover now could lose them.',
    () => now().asyncAtRisk,
  );
  counterFrom(
    registry,
    'understudy_snapshot_write_failures_total',
    'Snapshots this process could not write (a full or failing disk). It serves on and tries again later; until one is kept, its log is not compacted and takes ever more disk.',
    () => now().snapshotWriteFailures,
  );
  // A replica runs one service for its life: a service that measures its state always does.
  if (source.current.stateSize !== null) {
    const size = () => now().stateSize;
    gaugeFrom(
      registry,
      'understudy_state_entries',
      "Entries in this replica's state (the key/value store: keys).",
      () => size()?.entries ?? 0,
    );
    gaugeFrom(
      registry,
      'understudy_state_bytes',
      "The state's size in its service's own measure (the key/value store: keys' and values' bytes plus 64 a key).",
      () => size()?.bytes ?? 0,
    );
    if (source.current.stateSize.expiring !== undefined) {
      gaugeFrom(
        registry,
        'understudy_state_entries_expiring',
        'Entries that will go by themselves (the key/value store: keys with a time to live).',
        () => size()?.expiring ?? 0,
      );
    }
    gaugeFrom(
      registry,
      'understudy_state_entries_max',
      'Entries past which the service refuses writes that add one (STORE_FULL); -1: no bound.',
      () => size()?.entriesMax ?? -1,
    );
    gaugeFrom(
      registry,
      'understudy_state_bytes_max',
      'understudy_state_bytes past which the service refuses writes that grow it (STORE_FULL); -1: no bound.',
      () => size()?.bytesMax ?? -1,
    );
  }
  new ScrapedHistogram(registry, {
    name: 'understudy_fsync_seconds',
    help: 'Time of each fdatasync of a batch of log entries (group commit: one per batch).',
    labelNames: [],
    source: server.timings.fsyncs,
    seriesLabels: [{}],
  });
  new ScrapedHistogram(registry, {
    name: 'understudy_request_duration_seconds',
    help: 'Client requests at this replica, from arrival to answer, by kind (op) and durability asked.',
    labelNames: ['op', 'durability'],
    source: server.timings.requests,
    seriesLabels: requestSeriesLabels,
  });
  return registry;
}
