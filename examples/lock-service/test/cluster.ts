// A real cluster of the lock service for tests: the `understudy` command of the installed package,
// a coordinator and replicas as separate processes on 127.0.0.1 on ports the OS picks, each replica
// loading this package's service with --service. Processes are stopped by their process id only.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { View } from 'understudy';
import { LockClient } from '../src/lock-client.js';

/** The `understudy` command, as the package declares it. */
const cliPath = (() => {
  const packageFile = createRequire(import.meta.url).resolve('understudy/package.json');
  const { bin } = JSON.parse(readFileSync(packageFile, 'utf8')) as { bin: { understudy: string } };
  return path.resolve(path.dirname(packageFile), bin.understudy);
})();
/** This package's service, built beside the tests. */
export const serviceModule = fileURLToPath(new URL('../src/lock-service.js', import.meta.url));

const readyTimeoutMs = 20_000;
const conditionTimeoutMs = 60_000;

interface Running {
  readonly child: ChildProcess;
  readonly address: string;
}

export class LockCluster {
  readonly directory = mkdtempSync(path.join(tmpdir(), 'lock-service-'));
  private readonly processes = new Map<string, Running>();
  private readonly clients: LockClient[] = [];
  coordinatorAddress = '';

  static async start(replicaCount: number): Promise<LockCluster> {
    const cluster = new LockCluster();
    const coordinator = await cluster.launch('coordinator', [
      'coordinator',
      '--listen',
      '127.0.0.1:0',
      '--dir',
      path.join(cluster.directory, 'coordinator'),
      '--new-cluster',
    ]);
    cluster.coordinatorAddress = coordinator.address;
    for (let number = 1; number <= replicaCount; number++) await cluster.startReplica(`r${number}`);
    await cluster.waitForView((view) => view.backups.length === replicaCount - 1);
    return cluster;
  }

  /** Starts replica `id` (again, after a kill: same data directory, a new port). */
  async startReplica(id: string): Promise<void> {
    await this.launch(id, [
      'replica',
      '--id',
      id,
      '--listen',
      '127.0.0.1:0',
      '--coordinator',
      this.coordinatorAddress,
      '--dir',
      path.join(this.directory, id),
      '--service',
      serviceModule,
    ]);
  }

  /** `kill -9` of replica `id`, by its process id; resolves once it is gone. */
  async kill(id: string): Promise<void> {
    const running = this.processes.get(id);
    if (running === undefined) throw new Error(`${id} is not running`);
    this.processes.delete(id);
    await stopProcess(running.child, 'SIGKILL');
  }

  async client(options: { readonly now?: () => number } = {}): Promise<LockClient> {
    const client = await LockClient.connect({
      coordinator: this.coordinatorAddress,
      deadlineMs: 20_000,
      ...options,
    });
    this.clients.push(client);
    return client;
  }

  /** The view, once it satisfies `condition`. */
  async waitForView(condition: (view: View) => boolean): Promise<View> {
    const client = this.clients[0] ?? (await this.client());
    return waitFor('a view', async () => {
      const { view } = await client.status();
      return view !== null && condition(view) ? view : undefined;
    });
  }

  async close(): Promise<void> {
    for (const client of this.clients) await client.close();
    for (const running of this.processes.values()) await stopProcess(running.child, 'SIGKILL');
    this.processes.clear();
    rmSync(this.directory, { recursive: true, force: true });
  }

  private launch(name: string, args: readonly string[]): Promise<Running> {
    const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${name} did not start:\n${stderr}`));
      }, readyTimeoutMs);
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const address = / listening on (\S+)/.exec(stdout)?.[1];
        if (address === undefined) return;
        clearTimeout(timer);
        const running = { child, address };
        this.processes.set(name, running);
        resolve(running);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} before it was ready:\n${stderr}`));
      });
    });
  }
}

function stopProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined)
    return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid, signal);
  return exited;
}

/** Polls `probe` until it answers (not undefined), for up to a minute. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const deadline = Date.now() + conditionTimeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}${lastError === undefined ? '' : `: ${String(lastError)}`}`);
}
