/**
 * Whether a scoped integrator's stream filter can match anything its scope publishes (SER-001, SER-025). A filter
 * that cannot is a stream that stays silent for ever while it holds one of the few pseudonymised places: a token
 * scoped to App-IDs only got 200 and then nothing for `kind=node` (found in review). A mistake to report, as
 * checkPublicFilter reports a kind or type the pseudonymised stream never publishes.
 *
 * What each part of a scope can publish is its kind's scope rule, the one scopeFilter decides by
 * (projections/pseudonyms/scope-rules.ts): stated once, so this check cannot drift from what the stream publishes.
 * A filter is refused only when none of its kinds or types is published by the scope as it is.
 */
import { validationError, type FieldIssue } from '../../../domain/errors.ts';
import { EVENT_KIND, EVENT_TYPES, type EventType } from '../../../domain/events/index.ts';
import type { EntityKind } from '../../../domain/streams.ts';
import { scopePartsPublishing, type PublicScope, type ScopePart } from '../../../projections/pseudonyms/index.ts';
import type { LifecycleFilterInput } from '../../../projections/streams/index.ts';

/** The rule a filter breaks when the token's scope publishes nothing it can match. */
export const NOT_IN_SCOPE_RULE = 'not_in_scope';

const PART_NAME: Readonly<Record<ScopePart, string>> = { subscriptions: 'M2M subscriptions', appIds: 'App-IDs' };

const PUBLISHED_BY = new Map<EventType, readonly ScopePart[]>(EVENT_TYPES.map((type) => [type, scopePartsPublishing(type)]));

const partsOf = (scope: PublicScope): ReadonlySet<ScopePart> =>
  new Set<ScopePart>([...(scope.subscriptions?.length ? ['subscriptions' as const] : []), ...(scope.appIds?.length ? ['appIds' as const] : [])]);

const publishes = (parts: ReadonlySet<ScopePart>, type: EventType): boolean => PUBLISHED_BY.get(type)!.some((part) => parts.has(part));

/**
 * Why a scope publishes none of `types` (all of one kind, or one type), for a message a person can act on: the parts
 * a scope would need, or, where no part admits any of them (a node's `NodeRegistered`, before any enrolment), that.
 */
const reason = (named: string, types: readonly EventType[]): string => {
  const parts = [...new Set(types.flatMap((type) => PUBLISHED_BY.get(type)!))].map((part) => PART_NAME[part]);
  return parts.length === 0
    ? `${named} events are sent to no scoped token: no part of a scope admits them`
    : `${named} events are published only for a scope's ${parts.join(' or ')}, and this token's names none`;
};

/**
 * Throws a `validation` CredenceError (rule `not_in_scope`) naming each value of the narrowest field given, `type`
 * else `kind` (a type is one of the kinds, LifecycleFilter checks), when the scope publishes none of what it names.
 */
export const checkFilterInScope = (filter: LifecycleFilterInput, scope: PublicScope): void => {
  const parts = partsOf(scope);
  const issues: FieldIssue[] = [];
  if (filter.types !== undefined) {
    if (filter.types.some((type) => publishes(parts, type))) return;
    filter.types.forEach((type, index) => {
      issues.push({ path: `query.type.${index}`, rule: NOT_IN_SCOPE_RULE, message: reason(type, [type]) });
    });
  } else if (filter.kinds !== undefined) {
    const typesOf = (kind: EntityKind): EventType[] => EVENT_TYPES.filter((type) => EVENT_KIND[type] === kind);
    if (filter.kinds.some((kind) => typesOf(kind).some((type) => publishes(parts, type)))) return;
    filter.kinds.forEach((kind, index) => {
      issues.push({ path: `query.kind.${index}`, rule: NOT_IN_SCOPE_RULE, message: reason(kind, typesOf(kind)) });
    });
  }
  if (issues.length > 0) throw validationError(issues, "event stream query of this token's scope");
};
