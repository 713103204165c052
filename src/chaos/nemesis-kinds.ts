// The faults `understudy chaos` can inject, by name. A file of its own, importing nothing, so the
// CLI can check `--nemesis` without loading the chaos code.

export const nemesisKinds = [
  'kill',
  'pause',
  'disk-hang',
  'disk-full',
  'partition',
  'loss',
  'pause-partition',
  'wipe',
  'coordinator',
  'coordinator-link',
  'corrupt',
  'snapshot-fail',
  'transfer-kill',
  'switchover',
  'total-crash',
  'etcd',
  'etcd-full',
] as const;
export type NemesisKind = (typeof nemesisKinds)[number];

/** The nemeses that act on the etcd that `--etcd` starts. */
export const etcdNemesisKinds: readonly NemesisKind[] = ['etcd', 'etcd-full'];

/** The nemeses that need each server's data directory on a file system of its own (root, a loop device). */
export const diskNemesisKinds: readonly NemesisKind[] = ['disk-hang', 'disk-full'];
