// Real processes for integration tests: a coordinator and replicas started from the built CLI,
// each on 127.0.0.1 with a port the OS picks, stopped by process id when the test ends.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { serverNodeFlags } from '../../src/cli/server-node-flags.js';
import { spawnServer } from '../../src/cli/server-spawn.js';
import { Client, type TlsMaterial } from '../../src/client/index.js';
import { NotLeaderError } from '../../src/errors.js';
import { commitRulesOf, defaultProtocolConfig } from '../../src/protocol/config.js';
import type { Hello } from '../../src/protocol/messages.js';
import type { ServiceIdentity } from '../../src/protocol/service-identity.js';
import { replicaId } from '../../src/protocol/types.js';
import { keyValueService } from '../../src/state-machine/kv-service.js';
import { bindDrawn, bindLoopback, closeAll, freePort } from '../../src/tools/free-port.js';
import { dial, PROTOCOL_VERSION } from '../../src/transport/index.js';

const cliPath = fileURLToPath(new URL('../../../bin/understudy.js', import.meta.url));
const readyTimeoutMs = 15_000;

export interface RunningProcess {
  readonly child: ChildProcess;
  readonly address: string;
  /** Everything the process wrote on stderr so far. */
  stderr(): string;
  /** Everything the process wrote on stdout so far (where it listens: its ready and admin lines). */
  stdout(): string;
}

/**
 * Starts the CLI with `args` and resolves once it prints where it listens. `launcher` is a command
 * prefix that must replace itself with the program (`ip netns exec NS`), so the child is the server.
 */
export function startProcess(
  args: string[],
  env: Readonly<Record<string, string>> = {},
  launcher: readonly string[] = [],
): Promise<RunningProcess> {
  // Servers run as `understudy` runs them: with the servers' V8 flags, and ended with the test's
  // process even if it is killed (a timeout), like the servers `understudy start` launches.
  const [command = process.execPath, ...prefix] = [...launcher, process.execPath];
  const child = spawnServer(command, [...prefix, ...serverNodeFlags, cliPath, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} did not become ready:\n${stderr}`));
    }, readyTimeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (\S+)/.exec(stdout);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve({ child, address: match[1], stderr: () => stderr, stdout: () => stdout });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code} before it was ready:\n${stderr}`));
    });
  });
}

/** What `startOnEtcd` starts: where, and the flags each process adds to its own. */
export interface OnEtcd {
  /** etcd's client URLs (comma-separated), as `--etcd` takes them. */
  readonly endpoints: string;
  readonly clusterId: string;
  readonly coordinatorCount: number;
  /** Replicas r1..r3 keep their data under it. */
  readonly directory: string;
  readonly coordinatorFlags?: (index: number) => readonly string[];
  readonly replicaFlags?: readonly string[];
}

/**
 * Starts coordinators of a new cluster on etcd (a 2-s lease), then replicas r1..r3 dialling them,
 * into `coordinators` and `replicas` (so that the caller stops what started, also when a start
 * fails). Returns the coordinator list replicas and clients are given.
 */
export async function startOnEtcd(
  on: OnEtcd,
  coordinators: RunningProcess[],
  replicas: Map<string, RunningProcess>,
): Promise<string> {
  for (let index = 0; index < on.coordinatorCount; index += 1) {
    coordinators.push(
      await startProcess([
        'coordinator',
        '--listen',
        '127.0.0.1:0',
        '--etcd',
        on.endpoints,
        '--etcd-lease-seconds',
        '2',
        '--cluster-id',
        on.clusterId,
        '--new-cluster',
        ...(on.coordinatorFlags?.(index) ?? []),
      ]),
    );
  }
  const coordinatorList = coordinators.map((running) => running.address).join(',');
  for (const id of ['r1', 'r2', 'r3']) {
    const args = ['--listen', '127.0.0.1:0', '--coordinator', coordinatorList, '--cluster-id', on.clusterId];
    replicas.set(
      id,
      await startProcess([
        'replica',
        '--id',
        id,
        ...args,
        '--dir',
        path.join(on.directory, id),
        ...(on.replicaFlags ?? []),
      ]),
    );
  }
  return coordinatorList;
}

/** What a client says first; a test dials with it to ask a coordinator whether it leads. */
export const clientHello = {
  type: 'hello',
  clusterId: 'understudy',
  protocolVersion: PROTOCOL_VERSION,
  peer: { kind: 'client' },
} as const;

/**
 * What a replica says first, as `id` running `service`, bringing `credential` as the cluster secret:
 * a test dials with it to pose as a replica.
 */
export function replicaHello(
  id: string,
  service: ServiceIdentity = keyValueService,
  credential?: string,
): Hello {
  return {
    type: 'hello',
    clusterId: 'understudy',
    protocolVersion: PROTOCOL_VERSION,
    peer: { kind: 'replica', id: replicaId(id), service, rules: commitRulesOf(defaultProtocolConfig) },
    ...(credential === undefined ? {} : { credential }),
  };
}

/** Whether the coordinator at `address` leads: it welcomes a client; a standby refuses with NOT_LEADER. */
export async function coordinatorLeads(
  address: string,
  clusterId: string = clientHello.clusterId,
): Promise<boolean> {
  try {
    const connection = await dial(address, { ...clientHello, clusterId }, { timeoutMs: 2_000 });
    connection.destroy();
    return true;
  } catch (error) {
    if (error instanceof NotLeaderError) return false;
    throw error;
  }
}

/** Where a process serves its admin port (`--admin`), as it printed at start. */
export function adminAddressOf(running: RunningProcess | null | undefined): string {
  const match = /admin on http:\/\/(\S+?)\//.exec(running?.stdout() ?? '');
  if (match?.[1] === undefined) throw new Error('the process printed no admin address');
  return match[1];
}

/** Runs the CLI to completion and returns its exit code and output. */
export function runCli(
  args: string[],
  env: Readonly<Record<string, string>> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cliPath, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

export function stop(running: RunningProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  const { child } = running;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
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

/** The same flags for every replica, or the flags of replica `id` (its own admin port, say). */
export type ReplicaArguments = readonly string[] | ((id: string) => readonly string[]);

export class LocalCluster {
  readonly directory = mkdtempSync(path.join(tmpdir(), 'understudy-it-'));
  coordinator: RunningProcess | null = null;
  coordinatorAddress = '';
  readonly replicas = new Map<string, RunningProcess>();
  private readonly clients: Client[] = [];

  /** Flags every replica of this cluster starts with (snapshot and session limits, say), or each its own. */
  private replicaArguments: ReplicaArguments = [];
  /** Flags the coordinator starts with (an admin port, say). */
  private coordinatorArguments: readonly string[] = [];
  /** Data directories placed outside the cluster's folder (on a disk of its own, say), by replica id. */
  private placedDirectories: ReadonlyMap<string, string> = new Map();
  /** What the test's clients dial with when the cluster runs on TLS. */
  private clientTls: TlsMaterial | undefined;
  /** The token the test's clients bring when the cluster runs with --auth-file. */
  private clientToken: string | undefined;

  static async start(
    replicaCount = 3,
    replicaArguments: ReplicaArguments = [],
    coordinatorArguments: readonly string[] = [],
    clientTls?: TlsMaterial,
    clientToken?: string,
    placedDirectories: ReadonlyMap<string, string> = new Map(),
  ): Promise<LocalCluster> {
    const cluster = new LocalCluster();
    cluster.clientTls = clientTls;
    cluster.clientToken = clientToken;
    cluster.placedDirectories = placedDirectories;
    cluster.replicaArguments = replicaArguments;
    cluster.coordinatorArguments = coordinatorArguments;
    await cluster.startCoordinator();
    for (let number = 1; number <= replicaCount; number++) await cluster.startReplica(`r${number}`);
    await cluster.waitForView((view) => view.backups.length === replicaCount - 1);
    return cluster;
  }

  async startCoordinator(): Promise<void> {
    // A port drawn apart from the OS's ephemeral range: a test may restart the coordinator on it while
    // replicas keep dialling it, and the OS could hand an ephemeral one to an outgoing connection.
    const listen = this.coordinatorAddress === '' ? `127.0.0.1:${await freePort()}` : this.coordinatorAddress;
    this.coordinator = await startProcess([
      'coordinator',
      '--listen',
      listen,
      '--dir',
      path.join(this.directory, 'coordinator'),
      // Each test makes its own folder: a new cluster (ignored once the coordinator has state).
      '--new-cluster',
      ...this.coordinatorArguments,
    ]);
    this.coordinatorAddress = this.coordinator.address;
  }

  async startReplica(
    id: string,
    options: { readonly env?: Readonly<Record<string, string>>; readonly listen?: string } = {},
  ): Promise<RunningProcess> {
    const running = await startProcess(
      [
        'replica',
        '--id',
        id,
        '--listen',
        options.listen ?? '127.0.0.1:0',
        '--coordinator',
        this.coordinatorAddress,
        '--dir',
        this.replicaDirectory(id),
        ...(typeof this.replicaArguments === 'function' ? this.replicaArguments(id) : this.replicaArguments),
      ],
      options.env,
    );
    this.replicas.set(id, running);
    return running;
  }

  replicaDirectory(id: string): string {
    return this.placedDirectories.get(id) ?? path.join(this.directory, id);
  }

  async kill(id: string): Promise<void> {
    const running = this.replicas.get(id);
    if (running !== undefined) await stop(running);
    this.replicas.delete(id);
  }

  async client(): Promise<Client> {
    const client = await Client.connect({
      coordinator: this.coordinatorAddress,
      deadlineMs: 20_000,
      ...(this.clientTls === undefined ? {} : { tls: this.clientTls }),
      ...(this.clientToken === undefined ? {} : { token: this.clientToken }),
    });
    this.clients.push(client);
    return client;
  }

  async status() {
    const client = await this.client();
    return client.status();
  }

  async waitForView(
    condition: (view: {
      number: number;
      primary: string;
      backups: readonly string[];
      learners: readonly string[];
    }) => boolean,
    timeoutMs = 30_000,
  ) {
    const client = await this.client();
    return waitFor(
      'a view',
      async () => {
        const status = await client.status();
        return status.view !== null && condition(status.view) ? status.view : undefined;
      },
      timeoutMs,
    );
  }

  async close(): Promise<void> {
    for (const client of this.clients) await client.close();
    for (const running of this.replicas.values()) await stop(running);
    if (this.coordinator !== null) await stop(this.coordinator);
    rmSync(this.directory, { recursive: true, force: true });
  }
}

export { freePort, freePorts } from '../../src/tools/free-port.js';

/**
 * `understudy start ARGS` as a user runs it (in the foreground; it launches its own servers), with
 * the lines it prints on stdout, and on stderr, as they come. The caller stops it, by its process id.
 */
function launchStart(args: readonly string[]): {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly errorLines: string[];
} {
  const child = spawn(process.execPath, [cliPath, 'start', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const errorLines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  createInterface({ input: child.stderr }).on('line', (line) => errorLines.push(line));
  return { child, lines, errorLines };
}

/** `understudy start` once it said it is ready with every server it launched listening. */
export interface StartedCluster {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly errorLines: string[];
  /** Its coordinator's port; replica k listens on port + k. */
  readonly port: number;
  /** The data directory of the attempt that started. */
  readonly directory: string;
  readonly exited: Promise<number | null>;
}

/**
 * `understudy start` with `replicas` replicas on ports free a moment before (its own, its admin,
 * Redis and Sentinel ports alike), once it printed its hint with every server running. Another
 * process may take a port between the choice and the bind (a port the OS just handed out is handed to
 * the next outgoing connection too): that is the test's set-up racing, not what it tests, so on
 * `EADDRINUSE` it stops that start and starts again on new ports, in `directory-2`, then `-3`.
 * Anything else that stops a server fails at once, with what start printed.
 */
export async function startOnFreePorts(
  replicas: number,
  directory: string,
  args: readonly string[] = [],
): Promise<StartedCluster> {
  const attempts = 3;
  let said = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const [port, adminPort, respPort, sentinelPort] = await freePortRuns([
      replicas + 1,
      replicas + 1,
      replicas,
      1,
    ]);
    if (port === undefined) throw new Error('no free ports');
    const attemptDirectory = attempt === 1 ? directory : `${directory}-${attempt}`;
    const launched = launchStart([
      '--replicas',
      String(replicas),
      '--port',
      String(port),
      '--admin-port',
      String(adminPort),
      // A cluster of the user's own service serves no Redis port, and start refuses one.
      ...(args.includes('--service')
        ? []
        : ['--resp-port', String(respPort), '--sentinel-port', String(sentinelPort)]),
      '--dir',
      attemptDirectory,
      ...args,
    ]);
    const { child, lines, errorLines } = launched;
    let code: number | null | undefined;
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (exitCode) => {
        code = exitCode;
        resolve(exitCode);
      }),
    );
    const outcome = await waitFor(
      'understudy start to be ready or stop',
      () =>
        lines.some((line) => line.startsWith('try:')) ? 'ready' : code !== undefined ? 'exited' : undefined,
      60_000,
    ).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    });
    const serverStopped = errorLines.some((line) => / exited (with code|on )/.test(line));
    if (outcome === 'ready' && !serverStopped)
      return { ...launched, port, directory: attemptDirectory, exited };
    said = [...lines, ...errorLines].slice(-40).join('\n');
    if (code === undefined) {
      child.kill('SIGTERM');
      await exited;
    }
    if (!errorLines.some((line) => line.includes('EADDRINUSE'))) break;
  }
  throw new Error(`understudy start did not run every server; it said:\n${said}`);
}

/**
 * For each count, a first port from which that many ports in a row are free now (start takes
 * consecutive ports). Every port stays bound until all runs are found, so no two runs overlap.
 */
async function freePortRuns(counts: readonly number[]): Promise<number[]> {
  const held: Server[] = [];
  try {
    const firsts: number[] = [];
    for (const count of counts) firsts.push(await holdPortRun(count, held));
    return firsts;
  } finally {
    await closeAll(held);
  }
}

async function holdPortRun(count: number, held: Server[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await bindDrawn();
    const run = [first.server];
    for (let port = first.port + 1; port < first.port + count && port <= 65_535; port++) {
      const next = await bindLoopback(port);
      if (next === null) break;
      run.push(next.server);
    }
    if (run.length === count) {
      held.push(...run);
      return first.port;
    }
    await closeAll(run);
  }
  throw new Error(`no ${count} free ports in a row`);
}
