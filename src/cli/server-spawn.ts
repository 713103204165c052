// How Understudy starts a server process: the servers of `understudy start`, `understudy chaos`,
// `understudy bench --start`, the peers' benchmark (Redis, etcd) and the tests. On Linux, through two
// util-linux programs that each set one thing and then replace themselves with the next (the process
// id stays the server's):
//
// - `setpriv --pdeathsig SIGKILL`: the server is killed if its launcher dies first. A launcher
//   stops its servers when it ends, but one killed outright (SIGKILL, the out-of-memory killer, a
//   test runner's timeout) runs no code of its own, and its servers went on holding their ports,
//   disks and CPU. Linux can signal a process when its parent dies (PR_SET_PDEATHSIG); Node cannot
//   ask for it. The servers are crash-safe, so SIGKILL costs them nothing a power cut would not.
// - `chrt --batch 0`: the scheduling policy SCHED_BATCH, same priority. A server woken by a message
//   then waits for the core it lands on rather than preempting what runs there (the kernel's wakeup
//   preemption), so each process runs longer and handles more per wake-up, and fewer task switches
//   happen. On a 2-core virtual machine a 3-replica cluster at 32 clients spent 10-24 % less CPU per
//   write in three pairs out of three, and served up to 26 % more (docs/PERFORMANCE.md,
//   "SCHED_BATCH"). Timeouts are hundreds of milliseconds; what waiting for a core can add is a
//   scheduler tick, a few milliseconds.
//
// Without them (not Linux, or util-linux missing) the server is spawned directly. A launcher may ask
// for the default policy instead (`understudy start --scheduling normal`): SCHED_BATCH saves CPU on
// saturated cores, but in 10-minute runs the primary stalled more often with it (PERFORMANCE.md).

import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

const utilLinux = (name: string): string | null =>
  process.platform === 'linux'
    ? ([`/usr/bin/${name}`, `/bin/${name}`].find((candidate) => existsSync(candidate)) ?? null)
    : null;

const setpriv = utilLinux('setpriv');
const chrt = utilLinux('chrt');

/** Whether servers are tied to their launcher's life here (Linux with util-linux's setpriv). */
export const canTieServers = setpriv !== null;
/** Whether servers run with SCHED_BATCH here (Linux with util-linux's chrt). */
export const canBatchServers = chrt !== null;

/** How a server is scheduled: SCHED_BATCH, or the kernel's default policy (SCHED_OTHER). */
export const schedulingPolicies = ['batch', 'normal'] as const;
export type SchedulingPolicy = (typeof schedulingPolicies)[number];

/** The command line that runs `command args` as a server: tied to its launcher, with `policy`. */
function serverCommand(
  command: string,
  args: readonly string[],
  policy: SchedulingPolicy,
): [string, string[]] {
  let line = [command, ...args];
  if (chrt !== null && policy === 'batch') line = [chrt, '--batch', '0', ...line];
  if (setpriv !== null) line = [setpriv, '--pdeathsig', 'SIGKILL', '--', ...line];
  const [program = command, ...programArgs] = line;
  return [program, programArgs];
}

/** `spawn` of a server process (`serverCommand`), SCHED_BATCH unless `policy` says otherwise. */
export function spawnServer(
  command: string,
  args: readonly string[],
  options: SpawnOptions,
  policy: SchedulingPolicy = 'batch',
): ChildProcess {
  const [program, programArgs] = serverCommand(command, args, policy);
  return spawn(program, programArgs, options);
}
