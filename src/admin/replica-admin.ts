// The admin port of a replica: its status (as `understudy status --json` shapes it), its metrics,
// and the load balancer's health checks.

import type { ReplicaServer } from '../node/replica-server.js';
import { type AdminRoute, AdminServer, type AdminServerOptions, jsonResponse } from './admin-server.js';
import { primaryHealth, replicaHealth } from './health.js';
import { ScrapeSource } from './metric-kinds.js';
import { metricsRoute } from './metrics-route.js';
import { createReplicaRegistry } from './replica-metrics.js';
import { replicaStatusDocument } from './status-document.js';

export function replicaAdminRoutes(server: ReplicaServer): AdminRoute[] {
  const source = new ScrapeSource(() => server.inspect());
  const registry = createReplicaRegistry(server, source);
  return [
    { path: '/status', get: () => jsonResponse(200, replicaStatusDocument(server.inspect())) },
    metricsRoute(registry, () => source.refresh()),
    { path: '/primary', get: () => primaryHealth(server.inspect()) },
    { path: '/replica', get: () => replicaHealth(server.inspect()) },
  ];
}

export function startReplicaAdmin(
  server: ReplicaServer,
  listen: string,
  options: AdminServerOptions = {},
): Promise<AdminServer> {
  return AdminServer.start(listen, replicaAdminRoutes(server), options);
}
