// The coordinator's metrics: the view it decided, the changes it made, and which replicas it counts
// as alive; read from one inspection per scrape.

import type { Registry } from 'prom-client';
import type { CoordinatorInspection } from '../node/coordinator-server.js';
import {
  counterFrom,
  gaugeFrom,
  labelledGaugeFrom,
  roleGaugeFrom,
  type ScrapeSource,
} from './metric-kinds.js';
import { createNodeRegistry } from './node-metrics.js';

/** `dataDirectory`: the directory home's, or null on etcd. */
export function createCoordinatorRegistry(
  source: ScrapeSource<CoordinatorInspection>,
  dataDirectory: string | null,
): Registry {
  const now = () => source.current;
  const registry = createNodeRegistry(
    () => ({
      viewNumber: now().status.view?.number ?? 0,
      viewChanges: now().viewsInstalled,
      failovers: now().primariesReplaced,
    }),
    () => now().stalls,
    dataDirectory,
  );
  roleGaugeFrom(registry, ['coordinator'], () => 'coordinator');
  counterFrom(
    registry,
    'understudy_switchovers_total',
    'Coordinator only: planned switchovers (understudy switchover) that installed their view; not counted as failovers.',
    () => now().switchoversDone,
  );
  labelledGaugeFrom(
    registry,
    'understudy_replica_alive',
    'Coordinator only: 1 for each replica it counts as alive (heartbeating, hearing it, its disk not stalled), 0 otherwise.',
    'replica',
    () => now().status.replicas.map((replica) => [replica.id, replica.alive ? 1 : 0] as const),
  );
  gaugeFrom(
    registry,
    'understudy_format_level',
    'The cluster\'s format level: what the primary may write down (docs/OPERATIONS.md, "Upgrading").',
    () => now().status.formatLevel,
  );
  return registry;
}
