// The peers' server binaries: found on PATH, or installed from Debian's packages (redis-server,
// etcd-server) with apt-get when missing. A machine where that cannot happen (not root, no apt-get,
// no network to the package mirror) is told why and the peer is skipped, never faked.

import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface PeerBinary {
  /** What the comparison calls it. */
  readonly peer: string;
  /** The executable to find on PATH. */
  readonly command: string;
  /** The Debian package that installs it. */
  readonly debianPackage: string;
}

export const REDIS_BINARY: PeerBinary = {
  peer: 'Redis',
  command: 'redis-server',
  debianPackage: 'redis-server',
};
export const ETCD_BINARY: PeerBinary = { peer: 'etcd', command: 'etcd', debianPackage: 'etcd-server' };

/** Where `command` is on PATH, or null. */
export function findOnPath(command: string): string | null {
  for (const directory of (process.env.PATH ?? '').split(delimiter)) {
    if (directory === '') continue;
    const candidate = join(directory, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** Where a binary is, or why it is missing. */
export type BinaryLookup = { readonly path: string } | { readonly missing: string };

/** Each binary's path, or why it is missing; `log` hears what is installed and why. */
export function ensureBinaries(
  binaries: readonly PeerBinary[],
  log: (line: string) => void,
): Map<PeerBinary, BinaryLookup> {
  const missing = binaries.filter((binary) => findOnPath(binary.command) === null);
  const why =
    missing.length === 0
      ? ''
      : installPackages(
          missing.map((binary) => binary.debianPackage),
          log,
        );
  const found = new Map<PeerBinary, BinaryLookup>();
  for (const binary of binaries) {
    const path = findOnPath(binary.command);
    found.set(
      binary,
      path !== null
        ? { path }
        : { missing: `${binary.command} is not installed (${why || 'the install did not provide it'})` },
    );
  }
  return found;
}

/** Installs Debian packages; answers '' on success, or why it could not. */
function installPackages(packages: readonly string[], log: (line: string) => void): string {
  if (findOnPath('apt-get') === null) return 'no apt-get on this machine';
  if (process.getuid?.() !== 0) return `installing needs root: apt-get install ${packages.join(' ')}`;
  log(`installing ${packages.join(', ')} with apt-get`);
  const install = () => aptGet(['install', '-y', '--no-install-recommends', ...packages]);
  if (install() === 0) return '';
  // The package lists may be missing or stale: refresh them once and try again.
  log('apt-get install failed; running apt-get update and trying again');
  if (aptGet(['update']) !== 0) return 'apt-get update failed';
  return install() === 0 ? '' : `apt-get install ${packages.join(' ')} failed`;
}

/** Runs apt-get with its output on stderr (stdout is the comparison's). */
function aptGet(args: readonly string[]): number | null {
  const result = spawnSync('apt-get', [...args], {
    stdio: ['ignore', process.stderr.fd, process.stderr.fd],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return result.error === undefined ? result.status : null;
}
