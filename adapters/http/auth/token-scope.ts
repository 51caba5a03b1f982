import type { FieldIssue } from '../../../domain/errors.ts';
import { PublicScope } from '../../../projections/pseudonyms/index.ts';
import type { Role } from './role.ts';

export { MAX_SCOPE_ENTRIES, PublicScope as TokenScope, recordedTokenScope } from '../../../projections/pseudonyms/index.ts';

/** The rule a scope on a token of another role than integrator breaks: only an integrator's stream is limited. */
export const SCOPE_ROLE_RULE = 'scope_integrator_only';
/** The rule a scope wider than the issuer's own breaks. */
export const SCOPE_ISSUER_RULE = 'within_issuer_scope';

const names = (scope: PublicScope, list: 'subscriptions' | 'appIds', id: string): boolean => (scope[list] as readonly string[] | undefined)?.includes(id) ?? false;

/**
 * What an issue with `scope` breaks beyond the scope's own shape (SER-025): a scope is an integrator's (the other
 * roles read canonical identifiers, or issue tokens, and a scope on them would limit nothing it claims to); a token
 * issued with a scoped token names no stakeholder its issuer's scope leaves out, and has a scope itself.
 */
export const scopeIssues = (role: Role, scope: PublicScope | undefined, issuerScope: PublicScope | undefined): FieldIssue[] => {
  const issues: FieldIssue[] = [];
  if (scope !== undefined && role !== 'integrator') {
    issues.push({ path: 'scope', rule: SCOPE_ROLE_RULE, message: `only an integrator token has a scope (this one is ${role}'s): leave scope out` });
  }
  if (issuerScope === undefined) return issues;
  if (scope === undefined) {
    issues.push({ path: 'scope', rule: SCOPE_ISSUER_RULE, message: 'the token that issues it has a scope: give one within it' });
    return issues;
  }
  for (const list of ['subscriptions', 'appIds'] as const) {
    scope[list]?.forEach((id, index) => {
      if (!names(issuerScope, list, id)) issues.push({ path: `scope.${list}.${index}`, rule: SCOPE_ISSUER_RULE, message: `${id} is not in the scope of the token that issues it` });
    });
  }
  return issues;
};
