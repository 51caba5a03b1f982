import { describeRefusal } from '../../domain/errors.ts';
import { ruleSince } from './machines-fingerprint.ts';
import { boundedRefusal } from './finding-reason.ts';

/** What a finding by a rule newer than its event ends with, for the person reading it (the count reads `ruleSince`). */
const newerRuleNote = (since: string): string => ` (rule since ${since}: an event stored by an earlier version may break it; see docs/service.md, Upgrading)`;

/**
 * A replay finding's reason for an event its machine refuses: the refusal as the engine words it, and, where the rule
 * came with a later version of the machines than the event may have been stored under (RULES_SINCE), that it did.
 * Review 167: after the upgrade to v2 a provisioning stored after its node's revocation, legal then, was flagged at
 * every run as "refused … by rule ownerIsLive", which read as an event written behind the engine. Cut at half a
 * finding's bound (finding-reason.ts), the same in both replays.
 */
export const replayRefusalReason = (
  eventType: string,
  verdict: { readonly state: string; readonly allowed: readonly string[]; readonly rule?: string; readonly because?: string },
): string => {
  const reason = describeRefusal(eventType, verdict);
  const since = ruleSince(eventType, verdict.rule);
  return boundedRefusal(since === undefined ? reason : `${reason}${newerRuleNote(since)}`);
};

/**
 * A fleet finding's refusal by its machine: the reason as replayRefusalReason words it, and the rule and the version
 * that added it as data (RULES_SINCE), which findingsByNewerRules counts by. Review 168 counted them by matching the
 * reason's words; a finding now carries what the machine said, so a reworded note or a `because` quoting another
 * finding cannot pass for it.
 */
export const replayRefusal = (
  eventType: string,
  verdict: Parameters<typeof replayRefusalReason>[1],
): { readonly reason: string; readonly rule?: string; readonly ruleSince?: string } => {
  const since = ruleSince(eventType, verdict.rule);
  return {
    reason: replayRefusalReason(eventType, verdict),
    ...(verdict.rule !== undefined ? { rule: verdict.rule } : {}),
    ...(since !== undefined ? { ruleSince: since } : {}),
  };
};
