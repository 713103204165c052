// Prometheus's redis_exporter (Debian's prometheus-redis-exporter, which .ci/run installs), pointed
// at a port of ours as users point it at Redis or a Sentinel: started on a free loopback port,
// scraped, and stopped by the test.

import { spawn } from 'node:child_process';
import { parsePrometheusText } from '../prometheus-text.js';
import { freePort } from './harness.js';

export interface RunningExporter {
  /** One scrape of its /metrics, parsed; null while it does not answer. */
  scrape(): Promise<ReturnType<typeof parsePrometheusText> | null>;
  /** Everything it logged so far. */
  log(): string;
  stop(): void;
}

/** Starts the exporter against the Redis-protocol port at `address` (host:port). */
export async function startRedisExporter(address: string): Promise<RunningExporter> {
  const port = await freePort();
  const exporter = spawn(
    'prometheus-redis-exporter',
    ['-redis.addr', `redis://${address}`, '-web.listen-address', `127.0.0.1:${port}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  exporter.stderr.on('data', (chunk: Buffer) => {
    log += chunk.toString('utf8');
  });
  await new Promise<void>((resolve, reject) => {
    exporter.once('spawn', resolve);
    exporter.once('error', (error) =>
      reject(
        new Error(
          `prometheus-redis-exporter could not run (Debian: apt-get install prometheus-redis-exporter; .ci/run installs it): ${error.message}`,
        ),
      ),
    );
  });
  return {
    scrape: async () => {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => null);
      return response?.ok === true ? parsePrometheusText(await response.text()) : null;
    },
    log: () => log,
    stop: () => exporter.kill('SIGTERM'),
  };
}
