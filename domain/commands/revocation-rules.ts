import type { z } from 'zod';
import type { FieldIssue } from '../errors.ts';
import { RevocationReason } from '../events/common.ts';
import type { CommandType } from './catalog.ts';

/**
 * RFC 5280 CRLReasons a new revocation may not give (section 5.3.1). A revocation in Credence is permanent, and every
 * one is published on the CRLs and by OCSP with its reason:
 * - `certificateHold` is a temporary hold, released by `removeFromCRL`: a relying party may keep a credential revoked
 *   that way as possibly coming back, which it never does;
 * - `aACompromise` is the compromise of an attribute authority, which issues attribute certificates, not the
 *   public-key certificates Credence's credentials are;
 * - `removeFromCRL` releases a hold on a delta CRL; it is never a revocation reason (and never in the enum).
 * Stored events keep every reason of the enum (RevocationReason): a log written before this rule still reads and
 * replays, and the cascade (the `system` actor) carries a stored reason on to the dependents of what it revoked
 * (endApplicationEnrolment must give the credential's own reason, its machine's guard), so its commands are not held
 * to this rule: it decides no reason of its own.
 */
export const REFUSED_REVOCATION_REASONS = {
  certificateHold: 'a revocation is permanent, and certificateHold (RFC 5280 5.3.1) is a temporary hold a relying party may expect to be released',
  aACompromise: 'aACompromise (RFC 5280 5.3.1) concerns attribute authorities, not the public-key certificates of credentials',
} as const satisfies Partial<Record<RevocationReason, string>>;

/** The reasons a new revocation may give, in the order of RFC 5280 5.3.1: the CLI's and the API's list. */
export const NEW_REVOCATION_REASONS = RevocationReason.options.filter((r) => !Object.hasOwn(REFUSED_REVOCATION_REASONS, r));

/** Commands whose data carries a RevocationReason in `reason` (revokeApplication's own enum holds none of the refused). */
export const REVOCATION_REASON_COMMANDS: ReadonlySet<CommandType> = new Set(['revokeNode', 'revokeCredential', 'endApplicationEnrolment', 'revokeAssociation']);

/** The rule a new revocation giving a reason of REFUSED_REVOCATION_REASONS breaks. */
export const NEW_REVOCATION_REASON_RULE = 'new_revocation_reason';

/**
 * The issue of a reason of REFUSED_REVOCATION_REASONS in a command not sent by the `system` actor, at `data.reason`,
 * naming the reasons it may give; undefined for any other. Judged from the two fields alone, whatever else the command
 * holds, so a command refused for another field is told of its reason at once (review 353: a rule on the whole command
 * is skipped by zod once a field of it fails).
 */
export const newRevocationReasonIssue = (role: unknown, reason: unknown): FieldIssue | undefined =>
  role === 'system' || typeof reason !== 'string' || !Object.hasOwn(REFUSED_REVOCATION_REASONS, reason)
    ? undefined
    : {
        path: 'data.reason',
        rule: NEW_REVOCATION_REASON_RULE,
        message: `${REFUSED_REVOCATION_REASONS[reason as keyof typeof REFUSED_REVOCATION_REASONS]}: give one of ${NEW_REVOCATION_REASONS.join(', ')}`,
      };

/** newRevocationReasonIssue as a refinement of a whole command (CommandSchema's). */
export const newRevocationReasonRules = (command: { readonly data: unknown; readonly metadata: { readonly actor: { readonly role: string } } }, context: z.RefinementCtx): void => {
  const issue = newRevocationReasonIssue(command.metadata.actor.role, (command.data as { reason?: unknown }).reason);
  if (issue === undefined) return;
  context.addIssue({ code: 'custom', path: ['data', 'reason'], params: { rule: issue.rule }, message: issue.message });
};
