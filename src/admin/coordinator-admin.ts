// The admin port of the coordinator: the cluster's status (exactly what `understudy status --json`
// prints), its metrics, health checks that always say it serves no data, and the live dashboard
// (`/`, with its event stream at `/events`).

import type { CoordinatorServer } from '../node/coordinator-server.js';
import { type AdminRoute, AdminServer, type AdminServerOptions, jsonResponse } from './admin-server.js';
import { createCoordinatorRegistry } from './coordinator-metrics.js';
import { Dashboard, type DashboardOptions } from './dashboard/dashboard.js';
import { coordinatorHealth } from './health.js';
import { ScrapeSource } from './metric-kinds.js';
import { metricsRoute } from './metrics-route.js';
import { statusDocument } from './status-document.js';

export function coordinatorAdminRoutes(server: CoordinatorServer): AdminRoute[] {
  const source = new ScrapeSource(() => server.inspect());
  const registry = createCoordinatorRegistry(source, server.dataDirectory);
  return [
    { path: '/status', get: () => jsonResponse(200, statusDocument(server.inspect().status)) },
    metricsRoute(registry, () => source.refresh()),
    { path: '/primary', get: coordinatorHealth },
    { path: '/replica', get: coordinatorHealth },
  ];
}

export async function startCoordinatorAdmin(
  server: CoordinatorServer,
  listen: string,
  dashboardOptions: DashboardOptions = {},
  tls?: AdminServerOptions['tls'],
): Promise<AdminServer> {
  const dashboard = new Dashboard(server, dashboardOptions);
  try {
    return await AdminServer.start(listen, [...coordinatorAdminRoutes(server), ...dashboard.routes], {
      onClose: () => dashboard.close(),
      ...(tls === undefined ? {} : { tls }),
    });
  } catch (error) {
    dashboard.close();
    throw error;
  }
}
