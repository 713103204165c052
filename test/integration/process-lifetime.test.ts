// How `understudy start` runs its servers (src/cli/server-spawn.ts): with the scheduling policy
// SCHED_BATCH, and tied to its life, so that they do not outlive it even when it is killed outright
// (SIGKILL runs none of its code): a cluster never keeps its ports, data directory and CPU after the
// process that owned it is gone.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { canBatchServers, canTieServers } from '../../src/cli/server-spawn.js';
import { freePortRun, waitFor } from './harness.js';

const cliPath = fileURLToPath(new URL('../../../bin/understudy.js', import.meta.url));

/** SCHED_BATCH's number in /proc/PID/stat's policy field (linux/sched.h). */
const schedBatch = 3;

test('the servers of `understudy start` run SCHED_BATCH and end when start is killed with SIGKILL', {
  skip: canTieServers && canBatchServers ? false : 'needs Linux and util-linux setpriv and chrt',
}, async () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'understudy-lifetime-'));
  const port = await freePortRun(3);
  const adminPort = await freePortRun(3);
  const respPort = await freePortRun(2);
  const start = spawn(
    process.execPath,
    [
      cliPath,
      'start',
      '--replicas',
      '2',
      '--port',
      String(port),
      '--admin-port',
      String(adminPort),
      '--resp-port',
      String(respPort),
      '--dir',
      path.join(directory, 'cluster'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  createInterface({ input: start.stdout }).on('line', (line) => lines.push(line));
  start.stderr.resume();
  let servers: number[] = [];
  try {
    await waitFor('the cluster to be ready', () => lines.find((line) => line.startsWith('try:')));
    const startPid = start.pid;
    assert.ok(startPid !== undefined);
    servers = childrenOf(startPid);
    assert.equal(servers.length, 3, `a coordinator and 2 replicas, found pids ${servers.join(', ')}`);
    for (const pid of servers) assert.equal(statOf(pid)?.policy, schedBatch, `the policy of ${pid}`);
    process.kill(startPid, 'SIGKILL');
    await waitFor('every server to end', () => (servers.some(isAlive) ? undefined : true), 20_000);
  } finally {
    if (start.exitCode === null && start.signalCode === null) start.kill('SIGKILL');
    // Left running only if the test failed: never leave them behind.
    for (const pid of servers.filter(isAlive)) process.kill(pid, 'SIGKILL');
    rmSync(directory, { recursive: true, force: true });
  }
});

/** The processes whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((candidate) => statOf(candidate)?.parent === pid);
}

/** Running, or stopped, but not gone and not a zombie waiting to be reaped. */
function isAlive(pid: number): boolean {
  const stat = statOf(pid);
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X';
}

function statOf(pid: number): { state: string; parent: number; policy: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
  // The fields from the third (state) on; the policy is the 41st.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', parent: Number(fields[1]), policy: Number(fields[41 - 3]) };
}
