// Why the coordinator installed a view, in words an operator can act on: the cause of the change
// (a failover, a switchover, a backup that caught up or fell behind...) and, for each replica whose
// role or process changed, why. The coordinator decides; this file only describes the decision, from
// facts the coordinator hands it, so the wording lives in one place and the decision code stays lean.
// Pure, like the rest of the core: the shell turns each description into log lines.

import { type ReplicaId, type Role, roleIn, type View } from './types.js';

/**
 * - `formed`: the first view of a new cluster;
 * - `rebuilt`: a view rebuilt from the replicas after the coordinator lost its state;
 * - `failover`: the primary failed (or restarted), another replica leads;
 * - `switchover`: the primary role handed to a backup on request;
 * - `fence`: with a commit quorum, the failed primary's view again under a new number, so that its
 *   backups stop taking its entries before one of them is chosen;
 * - `membership`: same primary; backups and learners added, removed, promoted or demoted.
 */
export const viewChangeCauses = [
  'formed',
  'rebuilt',
  'failover',
  'switchover',
  'fence',
  'membership',
] as const;
export type ViewChangeCause = (typeof viewChangeCauses)[number];

/** One replica whose role changed with the view (or whose process did, its role the same). */
export interface MemberChange {
  readonly id: ReplicaId;
  /** Its role in the view before ('none': not a member). */
  readonly from: Role;
  readonly to: Role;
  readonly reason: string;
}

export interface ViewTransition {
  readonly view: View;
  readonly previous: View | null;
  readonly cause: ViewChangeCause;
  /** The whole change in a sentence: for a failover, why the old primary was replaced. */
  readonly reason: string;
  readonly members: readonly MemberChange[];
}

/** What the coordinator knows of each replica when it installs a view. */
export interface MemberFacts {
  /** Why it does not count as alive (silent, deaf, disk stalled), or null when it does. */
  problem(id: ReplicaId): string | null;
  /** How its identity differs from the one the view before recorded for it. */
  identityChange(id: ReplicaId): 'process' | 'directory' | null;
  /** The primary reported it as lagging in the view before. */
  lagging(id: ReplicaId): boolean;
  /** Ejected for lagging (lag policy `eject`), and for how long, in words; null if not. */
  ejectedFor(id: ReplicaId): string | null;
}

export function describeViewChange(
  previous: View | null,
  view: View,
  cause: ViewChangeCause,
  facts: MemberFacts,
): ViewTransition {
  const ids = new Set<ReplicaId>([...membersOf(previous), ...membersOf(view)]);
  const members: MemberChange[] = [];
  for (const id of [...ids].sort()) {
    const from = roleIn(previous, id);
    const to = roleIn(view, id);
    const identity = from === 'none' ? null : facts.identityChange(id);
    if (from === to && identity === null) continue;
    members.push({ id, from, to, reason: memberReason(id, from, to, cause, facts) });
  }
  return { view, previous, cause, reason: changeReason(previous, view, cause, members, facts), members };
}

function membersOf(view: View | null): ReplicaId[] {
  return view === null ? [] : [view.primary, ...view.backups, ...view.learners];
}

const identityText = { process: 'its process restarted', directory: 'its data directory changed' } as const;

/** Why a replica that was in the view before is replaced, removed or demoted. */
function whyNotKept(id: ReplicaId, facts: MemberFacts): string | null {
  const problem = facts.problem(id);
  if (problem !== null) return problem;
  const identity = facts.identityChange(id);
  return identity === null ? null : identityText[identity];
}

function memberReason(
  id: ReplicaId,
  from: Role,
  to: Role,
  cause: ViewChangeCause,
  facts: MemberFacts,
): string {
  if (to === 'primary') {
    if (cause === 'switchover') return 'the switchover asked for it';
    if (cause === 'formed' || cause === 'rebuilt') return 'the longest log of the replicas that reported';
    return 'the longest log among the replicas that hold every commit';
  }
  if (to === 'none') {
    return facts.ejectedFor(id) ?? whyNotKept(id, facts) ?? 'no longer known to hold every entry';
  }
  if (to === 'learner') {
    if (from === 'none') return 'alive and not a member: it catches up as a learner';
    if (from === 'primary' && cause === 'switchover') return 'handed the primary role over; it catches up';
    if (from === 'backup' && facts.lagging(id)) {
      return 'the primary reported it lagging by more than the backup lag limit (lag policy demote)';
    }
    const why = whyNotKept(id, facts);
    if (why !== null) return `${why}: a learner until it holds every entry again`;
    return from === 'learner' ? 'still catching up' : 'not known to hold every entry';
  }
  // A backup.
  if (from === 'learner') return 'the primary reported that it holds every entry: caught up';
  if (from === 'none' && (cause === 'formed' || cause === 'rebuilt'))
    return "its log is the same as the primary's";
  if (from === 'none') return 'a member of the last view a primary acknowledged: it holds every commit';
  if (from === 'primary') return 'holds every commit; another replica holds more';
  const why = whyNotKept(id, facts);
  return why === null ? 'stays a backup' : `${why}; it keeps every commit on disk`;
}

function changeReason(
  previous: View | null,
  view: View,
  cause: ViewChangeCause,
  members: readonly MemberChange[],
  facts: MemberFacts,
): string {
  const old = previous?.primary;
  switch (cause) {
    case 'formed':
      return `the first view, of the ${membersOf(view).length} replicas that reported`;
    case 'rebuilt':
      return 'rebuilt from the replicas named by --recover-from-replicas (the coordinator lost its state)';
    case 'failover':
      return `primary ${old} failed: ${old === undefined ? 'none' : (whyNotKept(old, facts) ?? 'replaced')}; ${view.primary} leads`;
    case 'switchover':
      return `switchover from ${old} to ${view.primary}`;
    case 'fence':
      return (
        `primary ${view.primary} failed: ${whyNotKept(view.primary, facts) ?? 'replaced'}; its view again under ` +
        'a new number, so that its backups stop taking its entries before one of them leads'
      );
    case 'membership':
      return members.length === 0
        ? 'the same members'
        : members.map((member) => `${member.id} ${member.from} → ${member.to}: ${member.reason}`).join('; ');
  }
}
