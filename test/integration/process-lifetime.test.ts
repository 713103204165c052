// How `understudy start` runs its servers (src/cli/server-spawn.ts): with the scheduling policy
// SCHED_BATCH, and tied to its life, so that they do not outlive it even when it is killed outright
// (SIGKILL runs none of its code): a cluster never keeps its ports, data directory and CPU after the
// process that owned it is gone. `--scheduling normal` leaves the default policy. A hang-up (SIGHUP,
// its terminal closed) stops start's cluster, though each server alone takes SIGHUP as a reload.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { canBatchServers, canTieServers } from '../../src/cli/server-spawn.js';
import { startOnFreePorts, waitFor } from './harness.js';

/** SCHED_OTHER's and SCHED_BATCH's numbers in /proc/PID/stat's policy field (linux/sched.h). */
const schedOther = 0;
const schedBatch = 3;

/** `understudy start` with two replicas on free ports, once it is ready, and its servers' pids. */
async function startCluster(
  directory: string,
  extraArgs: readonly string[] = [],
): Promise<{ start: ChildProcess; lines: string[]; servers: number[] }> {
  const { child: start, lines } = await startOnFreePorts(2, path.join(directory, 'cluster'), extraArgs);
  assert.ok(start.pid !== undefined);
  return { start, lines, servers: childrenOf(start.pid) };
}

/** Kills what a test left running (only if it failed) and removes its folder, if named. */
function cleanUp(
  start: ChildProcess | undefined,
  servers: readonly number[],
  directory: string | null,
): void {
  if (start !== undefined && start.exitCode === null && start.signalCode === null) start.kill('SIGKILL');
  for (const pid of servers.filter(isAlive)) process.kill(pid, 'SIGKILL');
  if (directory !== null) rmSync(directory, { recursive: true, force: true });
}

test('the servers of `understudy start` run SCHED_BATCH and end when start is killed with SIGKILL', {
  skip: canTieServers && canBatchServers ? false : 'needs Linux and util-linux setpriv and chrt',
}, async () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'understudy-lifetime-'));
  let start: ChildProcess | undefined;
  let servers: number[] = [];
  try {
    ({ start, servers } = await startCluster(directory));
    assert.equal(servers.length, 3, `a coordinator and 2 replicas, found pids ${servers.join(', ')}`);
    for (const pid of servers) assert.equal(statOf(pid)?.policy, schedBatch, `the policy of ${pid}`);
    start.kill('SIGKILL');
    await waitFor('every server to end', () => (servers.some(isAlive) ? undefined : true), 20_000);
  } finally {
    cleanUp(start, servers, directory);
  }
});

test('with --scheduling normal the servers keep the default policy; a hang-up stops `understudy start` and its cluster, though the servers themselves take SIGHUP as a reload', {
  skip: process.platform === 'linux' ? false : 'reads the servers from Linux /proc',
}, async () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'understudy-hangup-'));
  let start: ChildProcess | undefined;
  let servers: number[] = [];
  try {
    let lines: string[];
    ({ start, lines, servers } = await startCluster(directory, ['--scheduling', 'normal']));
    assert.equal(servers.length, 3, `a coordinator and 2 replicas, found pids ${servers.join(', ')}`);
    for (const pid of servers) assert.equal(statOf(pid)?.policy, schedOther, `the policy of ${pid}`);
    const exited = once(start, 'exit');
    start.kill('SIGHUP');
    const [code] = await exited;
    assert.equal(code, 0);
    assert.ok(lines.includes('understudy: cluster stopped'), lines.join('\n'));
    await waitFor('every server to end', () => (servers.some(isAlive) ? undefined : true), 20_000);
  } finally {
    cleanUp(start, servers, directory);
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
