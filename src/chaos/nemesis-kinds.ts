// The faults `understudy chaos` can inject, by name. A file of its own, importing nothing, so the
// CLI can check `--nemesis` without loading the chaos code.

export const nemesisKinds = [
  'kill',
  'pause',
  'disk-hang',
  'partition',
  'loss',
  'pause-partition',
  'wipe',
  'coordinator',
  'coordinator-link',
  'corrupt',
  'transfer-kill',
  'switchover',
  'total-crash',
  'etcd',
] as const;
export type NemesisKind = (typeof nemesisKinds)[number];
