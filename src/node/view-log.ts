// The coordinator's log lines about views: exactly one `view change` line per view it installs, and
// one line per event an operator alerts on or searches for — a `failover`, each `replica removed`
// from the view, each `replica rejoined` as a backup — each with the reason the core gave
// (src/protocol/view-change.ts). Replicas do not repeat them: the coordinator decides views, so its
// log is where each change is told once. Failovers and removals are warnings: something failed.

import type { ViewTransition } from '../protocol/view-change.js';
import type { Logger } from './logger.js';

/** The messages of these lines (the tests and the docs grep for them). */
export const viewLogMessages = {
  viewChange: 'view change',
  failover: 'failover',
  removed: 'replica removed',
  rejoined: 'replica rejoined',
} as const;

export function logViewTransition(logger: Logger, transition: ViewTransition): void {
  const { view, previous, cause, reason, members } = transition;
  logger.info(
    {
      view: view.number,
      previousView: previous?.number ?? null,
      cause,
      primary: view.primary,
      backups: view.backups,
      learners: view.learners,
      reason,
      changes: members,
    },
    viewLogMessages.viewChange,
  );
  if (cause === 'failover' && previous !== null) {
    logger.warn(
      { view: view.number, from: previous.primary, to: view.primary, reason },
      viewLogMessages.failover,
    );
  }
  // The first view has none before it to leave or come back to; a rebuilt one's is the state it lost.
  if (previous === null || cause === 'formed' || cause === 'rebuilt') return;
  for (const member of members) {
    const fields = { replica: member.id, view: view.number, was: member.from, reason: member.reason };
    if (member.to === 'none') logger.warn(fields, viewLogMessages.removed);
    else if (member.to === 'backup' && (member.from === 'learner' || member.from === 'none')) {
      logger.info(fields, viewLogMessages.rejoined);
    }
  }
}
