import { describeRefusal } from '../../domain/errors.ts';
import { RULES_SINCE, ruleSince } from './machines-fingerprint.ts';

/** What a finding by a rule newer than its event ends with: said by replayRefusalReason, counted by isByNewerRule. */
const newerRuleNote = (since: string): string => ` (rule since ${since}: an event stored by an earlier version may break it; see docs/service.md, Upgrading)`;

/**
 * A replay finding's reason for an event its machine refuses: the refusal as the engine words it, and, where the rule
 * came with a later version of the machines than the event may have been stored under (RULES_SINCE), that it did.
 * Review 167: after the upgrade to v2 a provisioning stored after its node's revocation, legal then, was flagged at
 * every run as "refused … by rule ownerIsLive", which read as an event written behind the engine.
 */
export const replayRefusalReason = (
  eventType: string,
  verdict: { readonly state: string; readonly allowed: readonly string[]; readonly rule?: string; readonly because?: string },
): string => {
  const reason = describeRefusal(eventType, verdict);
  const since = ruleSince(eventType, verdict.rule);
  return since === undefined ? reason : `${reason}${newerRuleNote(since)}`;
};

/**
 * Whether a fleet finding is a refusal by a rule newer than its event (RULES_SINCE), as replayRefusalReason worded it.
 * Read back from the reason, the one thing a finding keeps (checkpoints and workers carry findings as they are), and
 * decided here beside the wording, so that the API's count and the words cannot drift apart (review 168: the console
 * showed such findings as broken histories). The refusal's own words come first and the note last, so neither a
 * `because` nor another finding's text can pass for it.
 */
export const isByNewerRule = (finding: { readonly type: string; readonly reason: string }): boolean =>
  RULES_SINCE.some(
    (r) =>
      r.eventType === finding.type &&
      finding.reason.startsWith(`${r.eventType} refused in state `) &&
      finding.reason.includes(` by rule ${r.rule}`) &&
      finding.reason.endsWith(newerRuleNote(r.since)),
  );

/** How many of `findings` are by rules newer than their events (isByNewerRule): the rest are broken histories. */
export const findingsByNewerRules = (findings: readonly { readonly type: string; readonly reason: string }[]): number =>
  findings.reduce((n, f) => (isByNewerRule(f) ? n + 1 : n), 0);
