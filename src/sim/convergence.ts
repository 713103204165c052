// The end of every simulated run, whatever the service: with the faults healed, every replica must
// come back into the view with the whole log applied and every async write it discarded on the loss
// record, and their states must be equal.

import { snapshotRetryWaitMaxFactor } from '../protocol/replica.js';
import type { StateMachine } from '../protocol/state-machine.js';
import type { ReplicaId } from '../protocol/types.js';
import type { SimCluster } from './cluster.js';

/** How long the healed cluster may take to bring every replica into the view and up to date. */
export const convergenceTicksMax = 8_000;
/** How long past its retry wait a replica whose snapshot write failed may take to write one. */
const snapshotResumeTicksMax = 2_000;

/**
 * Checks that every replica ends in the view with the whole log applied and the same state, as
 * `fingerprint` sees it (equal fingerprints: equal states); failures go to `violations`.
 */
export function checkConvergence(
  cluster: SimCluster,
  violations: string[],
  fingerprint: (state: StateMachine | undefined) => string,
): void {
  const ids = [...cluster.nodes.keys()];
  const converged = cluster.runUntil(() => {
    const view = cluster.view();
    if (view === null || view.backups.length !== ids.length - 1) return false;
    const statuses = ids.map((id) => cluster.replica(id)?.status());
    const last = statuses[0]?.lastIndex;
    // A replica still reporting discarded async writes has not finished (sim seed 1303736 ended ten
    // ticks after a report that met a view change, and blamed the loss record).
    return statuses.every(
      (status) =>
        status !== undefined &&
        status.lastIndex === last &&
        status.commitIndex === last &&
        status.lostUnreported === 0,
    );
  }, convergenceTicksMax);
  if (!converged) {
    violations.push(`liveness: replicas did not converge (view ${JSON.stringify(cluster.view())})`);
    return;
  }
  const fingerprints = ids.map((id) => {
    const replica = cluster.replica(id);
    replica?.applyCommitted();
    return fingerprint(replica?.currentStateMachine());
  });
  if (new Set(fingerprints).size !== 1) {
    violations.push(`replicas diverged: ${ids.map((id, k) => `${id} ${fingerprints[k]}`).join(', ')}`);
  }
  // After the states are compared: the ticks it may run let the primary log more (expiries, say),
  // which the others have not applied yet.
  checkSnapshotsResume(cluster, violations);
}

/**
 * A snapshot that could not be written (snapshot-fail) is tried again once the retry wait is over:
 * with the disk healed, every replica whose running process failed to write a snapshot must write
 * one after it, unless its kept snapshot already holds all it applied. Otherwise its log would never
 * be compacted again.
 */
function checkSnapshotsResume(cluster: SimCluster, violations: string[]): void {
  const ids = [...cluster.nodes.keys()];
  const owed = (id: ReplicaId): boolean => {
    const status = cluster.replica(id)?.status();
    if (cluster.failedSnapshotIndex(id) === null || status === undefined) return false;
    return (status.snapshot?.position.index ?? 0) < status.appliedIndex;
  };
  const waitTicksMax = cluster.config.snapshotRetryTicks * snapshotRetryWaitMaxFactor;
  if (cluster.runUntil(() => !ids.some(owed), waitTicksMax + snapshotResumeTicksMax)) return;
  for (const id of ids.filter(owed)) {
    violations.push(
      `liveness: ${id} wrote no snapshot after the one it failed to write (index ${cluster.failedSnapshotIndex(id)}) once its disk was healed`,
    );
  }
}
