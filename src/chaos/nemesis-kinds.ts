// The faults `understudy chaos` can inject, by name. A file of its own, importing nothing, so the
// CLI can check `--nemesis` without loading the chaos code.

export const nemesisKinds = [
  'kill',
  'pause',
  'disk-hang',
  'disk-full',
  'disk-slow',
  'power-loss',
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
  'upgrade',
  'forget',
] as const;
export type NemesisKind = (typeof nemesisKinds)[number];

/**
 * The nemeses a run without `--nemesis` injects: every kind but `upgrade`, which starts the whole
 * cluster at the older build's format level (format-upgrade.ts) and so would keep the others' faults
 * away from what only level 2 writes (scan seeds, snapshot format 5) for most of a run.
 */
export const defaultNemesisKinds: readonly NemesisKind[] = nemesisKinds.filter((kind) => kind !== 'upgrade');

/** The nemeses that act on the etcd that `--etcd` starts. */
export const etcdNemesisKinds: readonly NemesisKind[] = ['etcd', 'etcd-full'];

/** The nemeses that need each server's data directory on a file system of its own (root, a loop device). */
export const diskNemesisKinds: readonly NemesisKind[] = ['disk-hang', 'disk-full', 'disk-slow', 'power-loss'];
