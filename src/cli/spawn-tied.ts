// Child processes that do not outlive the process that started them. The servers that `understudy
// start`, `understudy chaos`, `understudy bench --start` and the peers' benchmark launch are stopped
// by their parent when it ends; but a parent killed outright (SIGKILL, the kernel's out-of-memory
// killer, a test runner's timeout) runs no code of its own, and its servers went on holding their
// ports, disks and CPU. Linux can signal a process when its parent dies (prctl PR_SET_PDEATHSIG); Node
// cannot ask for it, so the child is started through util-linux's `setpriv --pdeathsig SIGKILL`,
// which asks for it and then replaces itself with the command (the same process id). The servers
// are crash-safe, so SIGKILL costs them nothing a power cut would not. Without setpriv (not Linux,
// or util-linux missing) the child is spawned directly, as before.

import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

const setpriv =
  process.platform === 'linux'
    ? (['/usr/bin/setpriv', '/bin/setpriv'].find((candidate) => existsSync(candidate)) ?? null)
    : null;

/** Whether children are tied to this process's life here (Linux with util-linux's setpriv). */
export const canTieChildren = setpriv !== null;

/** The command line that runs `command args` tied to the life of the process that spawns it. */
export function tiedCommand(command: string, args: readonly string[]): [string, string[]] {
  if (setpriv === null) return [command, [...args]];
  return [setpriv, ['--pdeathsig', 'SIGKILL', '--', command, ...args]];
}

/** `spawn`, with the child killed (SIGKILL) if this process dies first. */
export function spawnTied(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const [program, programArgs] = tiedCommand(command, args);
  return spawn(program, programArgs, options);
}
