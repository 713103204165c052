// The settings every process of a cluster must share (the coordinator and each replica), and the
// flags that carry them to the processes `start`, `bench --start` and `chaos` launch.

import { resolve } from 'node:path';
import type { LagPolicy } from '../protocol/config.js';

export interface ClusterSettings {
  readonly syncQuorum?: number;
  readonly lagPolicy?: LagPolicy;
  readonly backupLagMaxMs?: number;
  readonly failureTimeoutMs?: number;
  /** Files, never values: a token or secret in argv would show in `ps`. */
  readonly authFile?: string;
  readonly clusterSecretFile?: string;
}

/** The cluster settings as flags for `start`'s children (and the bench's clusters). */
export function clusterSettingArguments(flags: ClusterSettings): string[] {
  return [
    ...(flags.syncQuorum === undefined ? [] : ['--sync-quorum', String(flags.syncQuorum)]),
    ...(flags.lagPolicy === undefined ? [] : ['--lag-policy', flags.lagPolicy]),
    ...(flags.backupLagMaxMs === undefined ? [] : ['--backup-lag-max-ms', String(flags.backupLagMaxMs)]),
    ...(flags.failureTimeoutMs === undefined ? [] : ['--failure-timeout-ms', String(flags.failureTimeoutMs)]),
    ...(flags.authFile === undefined ? [] : ['--auth-file', resolve(flags.authFile)]),
    ...(flags.clusterSecretFile === undefined
      ? []
      : ['--cluster-secret-file', resolve(flags.clusterSecretFile)]),
  ];
}
