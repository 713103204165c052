// Made-up inspections of the coordinator for the dashboard's tests: a view, the coordinator's
// counters, and each replica's indexes as its heartbeats would have reported them.

import type { CoordinatorInspection } from '../../src/node/coordinator-server.js';
import { FORMAT_LEVEL } from '../../src/protocol/format-level.js';
import type { ReplicaStatus } from '../../src/protocol/messages.js';
import { logIndex, type Role, replicaId, viewNumber } from '../../src/protocol/types.js';

export interface ViewOf {
  readonly number: number;
  readonly primary: string;
  readonly backups: readonly string[];
  readonly learners?: readonly string[];
}

export interface InspectionOf {
  readonly view: ViewOf | null;
  readonly primariesReplaced?: number;
  readonly switchoversDone?: number;
  readonly viewsInstalled?: number;
  readonly commitIndex?: Readonly<Record<string, number>>;
  readonly durableIndex?: Readonly<Record<string, number>>;
  readonly appliedIndex?: Readonly<Record<string, number>>;
  /** Replicas the coordinator does not count as alive. */
  readonly dead?: readonly string[];
  /** Replicas to list besides the view's members. */
  readonly others?: readonly string[];
  /** Replicas' Redis ports, by id (none: no Redis port). */
  readonly redis?: Readonly<Record<string, string>>;
}

export function inspection(of: InspectionOf): CoordinatorInspection {
  const view =
    of.view === null
      ? null
      : {
          number: viewNumber(of.view.number),
          primary: replicaId(of.view.primary),
          backups: of.view.backups.map(replicaId),
          learners: (of.view.learners ?? []).map(replicaId),
        };
  const ids = new Set<string>([
    ...(view === null ? [] : [view.primary, ...view.backups, ...view.learners]),
    ...Object.keys(of.commitIndex ?? {}),
    ...(of.others ?? []),
  ]);
  const roleOf = (id: string): Role =>
    view === null
      ? 'none'
      : view.primary === id
        ? 'primary'
        : view.backups.includes(replicaId(id))
          ? 'backup'
          : view.learners.includes(replicaId(id))
            ? 'learner'
            : 'none';
  const replicas: ReplicaStatus[] = [...ids].sort().map((id, position) => {
    const commit = of.commitIndex?.[id] ?? 0;
    const dead = of.dead?.includes(id) ?? false;
    return {
      id: replicaId(id),
      address: `127.0.0.1:${7001 + position}`,
      role: roleOf(id),
      alive: !dead,
      durableIndex: logIndex(of.durableIndex?.[id] ?? commit),
      appliedIndex: logIndex(of.appliedIndex?.[id] ?? commit),
      commitIndex: logIndex(commit),
      problem: dead ? 'no heartbeat for 1700 ms' : null,
      transfer: null,
      snapshotIndex: logIndex(0),
      sessions: 0,
      formatLevel: FORMAT_LEVEL,
      redisAddress: of.redis?.[id] ?? null,
    };
  });
  return {
    status: {
      type: 'status_reply',
      id: 0,
      view,
      replicas,
      problem: null,
      asyncLost: 0,
      promotionsWithoutHolders: 0,
      formatLevel: FORMAT_LEVEL,
      service: null,
    },
    viewsInstalled: of.viewsInstalled ?? of.view?.number ?? 0,
    primariesReplaced: of.primariesReplaced ?? 0,
    switchoversDone: of.switchoversDone ?? 0,
    stalls: { count: 0, longestMs: 0 },
  };
}
