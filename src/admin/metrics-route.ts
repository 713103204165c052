// `GET /metrics`: the registry as Prometheus text (format 0.0.4), after one fresh look at the node.

import type { Registry } from 'prom-client';
import type { AdminRoute } from './admin-server.js';

export function metricsRoute(registry: Registry, refresh: () => void): AdminRoute {
  return {
    path: '/metrics',
    get: async () => {
      refresh();
      return { status: 200, contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
