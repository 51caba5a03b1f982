import { describeRefusal } from '../../domain/errors.ts';
import { ruleSince } from './machines-fingerprint.ts';

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
  return since === undefined
    ? reason
    : `${reason} (rule since ${since}: an event stored by an earlier version may break it; see docs/service.md, Upgrading)`;
};
