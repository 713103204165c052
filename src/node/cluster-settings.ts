// The settings every process of a cluster must share (the coordinator and each replica), and the
// flags that carry them to the processes `start`, `bench --start` and `chaos` launch.

import type { LagPolicy } from '../protocol/config.js';

export interface ClusterSettings {
  readonly syncQuorum?: number;
  readonly lagPolicy?: LagPolicy;
  readonly backupLagMaxMs?: number;
}

/** The cluster settings as flags for `start`'s children (and the bench's clusters). */
export function clusterSettingArguments(flags: ClusterSettings): string[] {
  return [
    ...(flags.syncQuorum === undefined ? [] : ['--sync-quorum', String(flags.syncQuorum)]),
    ...(flags.lagPolicy === undefined ? [] : ['--lag-policy', flags.lagPolicy]),
    ...(flags.backupLagMaxMs === undefined ? [] : ['--backup-lag-max-ms', String(flags.backupLagMaxMs)]),
  ];
}
