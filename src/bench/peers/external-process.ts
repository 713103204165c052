// A peer's server process (redis-server, etcd): spawned with its output appended to a log file,
// stopped by its own process id (SIGTERM, then SIGKILL after a grace period). Unlike the
// understudy processes (src/chaos/cluster-processes.ts), these print no ready line we can rely on:
// whoever starts one probes it until it answers.

import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { spawnServer } from '../../cli/server-spawn.js';
import type { NamedProcess } from '../process-cpu.js';

/** How long a peer process may take to exit after SIGTERM before it gets SIGKILL. */
export const PEER_STOP_GRACE_MS = 5000;

export class ExternalProcess {
  private exitDescription: string | null = null;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
    readonly logPath: string,
  ) {}

  static start(name: string, command: string, args: readonly string[], logPath: string): ExternalProcess {
    const log = openSync(logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawnServer(command, args, { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log); // the child holds its own copy
    }
    let started: ExternalProcess | null = null;
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        if (started !== null) started.exitDescription = signal === null ? `code ${code}` : signal;
        resolve();
      });
      child.once('error', (error) => {
        if (started !== null) started.exitDescription = error.message;
        resolve();
      });
    });
    started = new ExternalProcess(name, child, exited, logPath);
    return started;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Null while it runs; how it ended once it has. */
  get exit(): string | null {
    return this.exitDescription;
  }

  /** Throws if the process has ended: a probe that waits for it should give up. */
  assertRunning(): void {
    if (this.exitDescription !== null) {
      throw new Error(`${this.name} exited (${this.exitDescription}); see ${this.logPath}`);
    }
  }

  async stop(): Promise<void> {
    if (this.exitDescription !== null) return;
    this.child.kill('SIGTERM');
    const escalation = setTimeout(() => this.child.kill('SIGKILL'), PEER_STOP_GRACE_MS);
    await this.exited;
    clearTimeout(escalation);
  }
}

/** The ones still running, by name and process id (whose CPU time a run reads). */
export function runningProcesses(servers: readonly ExternalProcess[]): NamedProcess[] {
  return servers.flatMap((server) =>
    server.exit === null && server.pid !== undefined ? [{ name: server.name, pid: server.pid }] : [],
  );
}
