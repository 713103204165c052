// The admin port of the coordinator: the cluster's status (exactly what `understudy status --json`
// prints), its metrics, and health checks that always say it serves no data. The dashboard (issue 9,
// item 3) adds its routes here.

import type { CoordinatorServer } from '../node/coordinator-server.js';
import { type AdminRoute, AdminServer, jsonResponse } from './admin-server.js';
import { createCoordinatorRegistry } from './coordinator-metrics.js';
import { coordinatorHealth } from './health.js';
import { ScrapeSource } from './metric-kinds.js';
import { metricsRoute } from './metrics-route.js';
import { statusDocument } from './status-document.js';

export function coordinatorAdminRoutes(server: CoordinatorServer): AdminRoute[] {
  const source = new ScrapeSource(() => server.inspect());
  const registry = createCoordinatorRegistry(source);
  return [
    { path: '/status', get: () => jsonResponse(200, statusDocument(server.inspect().status)) },
    metricsRoute(registry, () => source.refresh()),
    { path: '/primary', get: coordinatorHealth },
    { path: '/replica', get: coordinatorHealth },
  ];
}

export function startCoordinatorAdmin(server: CoordinatorServer, listen: string): Promise<AdminServer> {
  return AdminServer.start(listen, coordinatorAdminRoutes(server));
}
