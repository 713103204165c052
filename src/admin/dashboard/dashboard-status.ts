// The cluster's status as the dashboard shows it, from one inspection of the coordinator: each
// replica with how far its disk and its state machine are behind the primary's commit index. The
// coordinator knows those indexes from the replicas' heartbeats (every 100 ms), so they are at most a
// heartbeat old; a replica that died keeps its last report, and its lag grows as the cluster goes on.

import type { CoordinatorInspection } from '../../node/coordinator-server.js';
import type { View } from '../../protocol/types.js';
import type { DashboardReplica, DashboardStatus, DashboardView, LatencySource } from './dashboard-state.js';

export function dashboardView(view: View): DashboardView {
  return {
    number: view.number,
    primary: view.primary,
    backups: [...view.backups],
    learners: [...view.learners],
  };
}

/** The primary's commit index as it last reported it, or null with no view or no report. */
export function primaryCommitIndex({ status }: CoordinatorInspection): number | null {
  const primary = status.view?.primary;
  const row = status.replicas.find((replica) => replica.id === primary);
  return row === undefined ? null : row.commitIndex;
}

export function dashboardStatus(
  atMs: number,
  inspection: CoordinatorInspection,
  latencySource: LatencySource | null,
): DashboardStatus {
  const { status } = inspection;
  const commitIndex = primaryCommitIndex(inspection);
  const behind = (index: number) => (commitIndex === null ? null : Math.max(0, commitIndex - index));
  const replicas: DashboardReplica[] = status.replicas.map((replica) => ({
    id: replica.id,
    address: replica.address,
    redisAddress: replica.redisAddress,
    role: replica.role,
    alive: replica.alive,
    problem: replica.problem,
    durableIndex: replica.durableIndex,
    appliedIndex: replica.appliedIndex,
    durableBehind: behind(replica.durableIndex),
    appliedBehind: behind(replica.appliedIndex),
    transfer:
      replica.transfer === null
        ? null
        : { receivedBytes: replica.transfer.receivedBytes, totalBytes: replica.transfer.snapshot.sizeBytes },
  }));
  return {
    at: atMs,
    view: status.view === null ? null : dashboardView(status.view),
    commitIndex,
    replicas,
    viewsInstalled: inspection.viewsInstalled,
    failovers: inspection.primariesReplaced,
    switchovers: inspection.switchoversDone,
    asyncLost: status.asyncLost,
    problem: status.problem,
    latencySource,
  };
}
