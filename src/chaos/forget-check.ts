// What the coordinator's answer to forgetting the primary says of the member rule ("a member of the
// view is never forgotten"). The forget nemesis asks it right after forgetting a stopped backup, with
// the view it last saw; other faults may meanwhile have killed that primary and even restarted the
// coordinator, so an answer is judged against whether the primary has since left the view.

import type { ForgetOutcome } from '../protocol/effects.js';

export type PrimaryForgetVerdict =
  /** Refused as the primary of a view: the rule held. */
  | 'refused-as-primary'
  /** Refused as a backup or learner of a newer view, or while the coordinator is not acting. */
  | 'refused-as-member'
  /** Done, or refused as not heard since the coordinator started, after another fault took it out. */
  | 'after-it-left'
  | { readonly problem: string };

/**
 * Judges `answer` to forgetting `primary`. `leftTheView` asks the coordinator whether its view is newer
 * than the one seen and no longer names `primary` (a forget done then is right, and so is a refusal
 * as "not known" from a coordinator restarted since: chaos seeds 20262293 and 20262360).
 */
export async function judgePrimaryForget(
  primary: string,
  answer: ForgetOutcome,
  leftTheView: () => Promise<boolean>,
): Promise<PrimaryForgetVerdict> {
  if (answer.ok) {
    return (await leftTheView())
      ? 'after-it-left'
      : { problem: `the coordinator forgot ${primary}, the primary: ${answer.message}` };
  }
  if (/is the primary of view/.test(answer.message)) return 'refused-as-primary';
  if (/not known|was heard/.test(answer.message) && (await leftTheView())) return 'after-it-left';
  if (/is a (backup|learner) of view|not acting/.test(answer.message)) return 'refused-as-member';
  return { problem: `forgetting ${primary}, the primary, was refused for another reason: ${answer.message}` };
}
