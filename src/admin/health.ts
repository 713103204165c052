// Health checks for a load balancer, as Patroni offers them: `GET /primary` is 200 only on the
// replica that may answer writes and reads now, `GET /replica` only on a backup that holds every
// committed entry; everything else (learners, the coordinator, a node cut off) gets 503, so a
// balancer sends traffic only where it will be served. Bodies are small JSON saying why.

import type { ReplicaInspection } from '../node/replica-server.js';
import { type AdminResponse, jsonResponse } from './admin-server.js';

const ok = 200;
const unavailable = 503;

/** The primary of its view, holding a lease: a primary without one answers nothing. */
export function primaryHealth({ status, problem }: ReplicaInspection): AdminResponse {
  const base = { role: status.role, view: status.view?.number ?? null };
  if (status.role !== 'primary') return jsonResponse(unavailable, { ...base, reason: 'not the primary' });
  if (!status.leaseValid) return jsonResponse(unavailable, { ...base, reason: 'the primary holds no lease' });
  if (problem !== null) return jsonResponse(unavailable, { ...base, reason: problem });
  return jsonResponse(ok, base);
}

/**
 * A backup of its view that holds (on disk) everything it knows committed, and that neither the
 * coordinator nor its disk has lost touch with. A learner is still catching up: 503.
 */
export function replicaHealth({ status, problem }: ReplicaInspection): AdminResponse {
  const base = {
    role: status.role,
    view: status.view?.number ?? null,
    primary: status.view?.primary ?? null,
  };
  if (status.role !== 'backup') return jsonResponse(unavailable, { ...base, reason: 'not a backup' });
  if (status.durableIndex < status.commitIndex) {
    return jsonResponse(unavailable, {
      ...base,
      reason: `holds ${status.durableIndex} of ${status.commitIndex} committed entries`,
    });
  }
  if (problem !== null) return jsonResponse(unavailable, { ...base, reason: problem });
  return jsonResponse(ok, base);
}

/** The coordinator is neither: it replicates nothing. */
export function coordinatorHealth(): AdminResponse {
  return jsonResponse(unavailable, { role: 'coordinator', reason: 'the coordinator serves no data' });
}
