// The status of a cluster as one JSON document: what `understudy status --json` prints and what
// `GET /status` answers on every admin port, built here only, so the two never drift apart.
// The coordinator knows every replica; a replica knows itself, so its document lists itself only,
// with its own view, and has no coordinator problem or promotion count to report (null and 0).

import type { ReplicaInspection } from '../node/replica-server.js';
import type { ReplicaStatus, StatusReply } from '../protocol/messages.js';
import { logIndex } from '../protocol/types.js';

export type StatusDocument = Pick<
  StatusReply,
  'view' | 'replicas' | 'problem' | 'asyncLost' | 'promotionsWithoutHolders' | 'formatLevel' | 'service'
>;

export function statusDocument(reply: StatusReply): StatusDocument {
  const { view, replicas, problem, asyncLost, promotionsWithoutHolders, formatLevel, service } = reply;
  return { view, replicas, problem, asyncLost, promotionsWithoutHolders, formatLevel, service };
}

/** A replica's own row, with the fields the coordinator fills from its heartbeats. */
export function replicaStatusOf(inspection: ReplicaInspection): ReplicaStatus {
  const { status, address, redisAddress, problem } = inspection;
  return {
    id: status.id,
    address,
    role: status.role,
    alive: problem === null,
    durableIndex: status.durableIndex,
    appliedIndex: status.appliedIndex,
    commitIndex: status.commitIndex,
    problem,
    transfer: status.transfer,
    snapshotIndex: status.snapshot?.position.index ?? logIndex(0),
    sessions: status.sessions,
    formatLevel: status.formatLevel,
    redisAddress,
  };
}

export function replicaStatusDocument(inspection: ReplicaInspection): StatusDocument {
  return {
    view: inspection.status.view,
    replicas: [replicaStatusOf(inspection)],
    problem: null,
    asyncLost: inspection.status.asyncLost,
    promotionsWithoutHolders: 0,
    formatLevel: inspection.status.clusterFormatLevel,
    service: inspection.service,
  };
}
