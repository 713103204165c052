// What the Sentinel port publishes besides `+switch-master`, worked out from two statuses the
// coordinator gave at successive views: Sentinel's events for the replicas (`+slave` when one joins,
// `+sdown` when one that was up is down, `-sdown` when one announced down is up again) and for a
// failover (`+sdown` and `+odown` of a master that died, `+failover-end`). Lettuce refreshes its
// master/replica topology on `+slave`, `+sdown` and `-sdown` naming its master (`@ <name> ...`), so a
// client reading from replicas stops asking a dead one and starts asking a new one.
//
// A replica is named as Sentinel names it, `<ip>:<port>` ([v6]:port), with its details: `slave <ip>:<port> <ip>
// <port> @ <master name> <master ip> <master port>`; a master: `master <name> <ip> <port>`. The
// coordinator alone decides, so an `+odown` says a quorum of `1/1`.

import type { StatusReply } from '../protocol/messages.js';
import type { ReplicaId } from '../protocol/types.js';
import { hostAndPort } from '../transport/address.js';

export interface SentinelEvent {
  readonly channel: string;
  readonly payload: string;
}

/** One status as the events read it. */
export interface ReplicasSeen {
  /** The view's replicas other than its primary that reported a Redis address. */
  readonly members: ReadonlyMap<ReplicaId, { readonly address: string; readonly alive: boolean }>;
  /** Every replica the coordinator counts alive, members or not (the primary too). */
  readonly alive: ReadonlySet<ReplicaId>;
}

export function replicasSeen(status: StatusReply): ReplicasSeen {
  const view = status.view;
  const members = new Map<ReplicaId, { readonly address: string; readonly alive: boolean }>();
  for (const row of status.replicas) {
    const member = view !== null && (view.backups.includes(row.id) || view.learners.includes(row.id));
    if (member && row.redisAddress !== null)
      members.set(row.id, { address: row.redisAddress, alive: row.alive });
  }
  return { members, alive: new Set(status.replicas.filter((row) => row.alive).map((row) => row.id)) };
}

/** Where the master is, as Sentinel's messages give it. */
export interface MasterAt {
  readonly name: string;
  readonly ip: string;
  readonly port: string;
}

/** A replica's details; its name is its address (`<ip>:<port>`, IPv6 bracketed, as Redis formats one). */
function replicaDetails(address: string, master: MasterAt): string {
  const [ip, port] = hostAndPort(address);
  return `slave ${address} ${ip} ${port} @ ${master.name} ${master.ip} ${master.port}`;
}

/** Replicas announced down that are remembered, to announce them up again (the oldest forgotten first). */
const downRememberedMax = 256;

/** Notes `address` as announced down, forgetting the oldest beyond `downRememberedMax`. */
export function markDown(down: Set<string>, address: string): void {
  down.add(address);
  if (down.size > downRememberedMax) down.delete(down.values().next().value as string);
}

/**
 * The replicas' events from `before` to `after` under `master`; `down` holds the replicas announced
 * down and not yet up again (by address), and is updated. A replica that reported no Redis port
 * before is new to a Sentinel's eyes (`+slave`), as one a Sentinel discovers at its start.
 */
export function replicaEvents(
  before: ReplicasSeen,
  after: ReplicasSeen,
  master: MasterAt,
  down: Set<string>,
): SentinelEvent[] {
  const events: SentinelEvent[] = [];
  const publish = (channel: string, address: string) =>
    events.push({ channel, payload: replicaDetails(address, master) });
  for (const [id, now] of after.members) {
    const was = before.members.get(id);
    if (now.alive && down.delete(now.address)) publish('-sdown', now.address);
    if (was === undefined || was.address !== now.address) publish('+slave', now.address);
    else if (was.alive && !now.alive && !down.has(now.address)) {
      markDown(down, now.address);
      publish('+sdown', now.address);
    }
  }
  // One that left the view and is not alive is down as Sentinel sees it (one that left alive was
  // promoted, or ejected for its lag, and is not down).
  for (const [id, was] of before.members) {
    if (after.members.has(id) || after.alive.has(id) || down.has(was.address)) continue;
    markDown(down, was.address);
    publish('+sdown', was.address);
  }
  return events;
}

/**
 * A failover's events before `+switch-master`: the old master down (subjectively, then objectively)
 * when it failed rather than handed over, then the failover's end, each naming the old master.
 */
export function failoverEvents(oldMaster: MasterAt, oldMasterFailed: boolean): SentinelEvent[] {
  const details = `master ${oldMaster.name} ${oldMaster.ip} ${oldMaster.port}`;
  return [
    ...(oldMasterFailed
      ? [
          { channel: '+sdown', payload: details },
          { channel: '+odown', payload: `${details} #quorum 1/1` },
        ]
      : []),
    { channel: '+failover-end', payload: details },
  ];
}
