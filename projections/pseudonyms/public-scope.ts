import { z } from 'zod';
import { validationError } from '../../domain/errors.ts';
import { EVENT_KIND, type DomainEvent } from '../../domain/events/index.ts';
import { AppId, M2MSubId } from '../../domain/ids.ts';
import type { EntityKind } from '../../domain/streams.ts';
import type { PublicIdentities } from './identities.ts';
import { scopeRuleOf } from './scope-rules.ts';

/** The most M2M subscriptions, and the most App-IDs, one scope names: a scope is one stakeholder's, not a fleet's. */
export const MAX_SCOPE_ENTRIES = 32;

/** The rule a scope naming nothing breaks: it would be a stream that never publishes anything. */
export const EMPTY_SCOPE_RULE = 'empty_scope';

/**
 * The stakeholders a pseudonymised stream is for (SER-025, SER-018): M2M Service Subscriptions (the subscriber's
 * nodes) and App-IDs (the Application Service Provider's applications). A list given names at least one; the scope
 * names at least one entry in all.
 */
export const PublicScope = z
  .strictObject({
    subscriptions: z.array(M2MSubId).min(1).max(MAX_SCOPE_ENTRIES).optional(),
    appIds: z.array(AppId).min(1).max(MAX_SCOPE_ENTRIES).optional(),
  })
  .refine((s) => s.subscriptions !== undefined || s.appIds !== undefined, {
    message: 'names no subscription and no App-ID: give subscriptions, appIds or both (or no scope, for the whole fleet)',
    params: { rule: EMPTY_SCOPE_RULE },
  });
export type PublicScope = z.infer<typeof PublicScope>;

/**
 * The one reading of a token's recorded scope (access.db `tokens.scope`, already decoded from its JSON), given the
 * role recorded with it: the scope an integrator's token is limited to, or `damaged` for anything else (not a scope,
 * or a scope on another role, which would limit nothing it claims to). Both the row's reader (listed `refused`, no
 * scope) and the bearer token's verifier (401) decide with it, so a token listed `active` is one that is accepted
 * (review 146: a scope of loose shape, or on an operator's token, was listed active and refused on every request).
 */
export const recordedTokenScope = (scope: unknown, role: string): PublicScope | 'damaged' => {
  if (role !== 'integrator') return 'damaged';
  const parsed = PublicScope.safeParse(scope);
  return parsed.success ? parsed.data : 'damaged';
};

/** Which events of the stream a scope publishes, decided on the fold as it stands once it observed the event. */
export interface ScopeFilter {
  admits(event: DomainEvent, identities: PublicIdentities): boolean;
  /**
   * Whether `admits` would say no to a stored event of `type` in the stream of entity `id` of `kind`, told before it is
   * decoded (scope-rules.ts, `leavesOut`): asked only of a type the fold does not read, with the fold as it stands before it.
   */
  leavesOut(kind: EntityKind, id: string, type: string, identities: PublicIdentities): boolean;
}

/**
 * What a scope publishes (SER-025: one stakeholder's token does not observe another's nodes), decided per event by its
 * kind's rule (scope-rules.ts, which states the rules). The sets are the scope's (at most 2 x MAX_SCOPE_ENTRIES entries)
 * and the membership is the fold's (`PublicIdentities.subscriptionOf`): a stream holds nothing more per node.
 */
export const scopeFilter = (scope: PublicScope): ScopeFilter => {
  const parsed = PublicScope.safeParse(scope);
  if (!parsed.success) {
    throw validationError(
      parsed.error.issues.map((i) => ({
        path: ['scope', ...i.path].join('.'),
        rule: i.code === 'custom' && typeof i.params?.['rule'] === 'string' ? (i.params['rule'] as string) : i.code,
        message: i.message,
      })),
      'stream scope',
    );
  }
  const subscriptions = new Set<string>(parsed.data.subscriptions ?? []);
  const appIds = new Set<string>(parsed.data.appIds ?? []);
  return {
    admits: (event, identities) => scopeRuleOf(EVENT_KIND[event.type]).admits(event, { subscriptions, appIds, identities }),
    leavesOut: (kind, id, type, identities) => scopeRuleOf(kind).leavesOut(id, type, { subscriptions, appIds, identities }),
  };
};
