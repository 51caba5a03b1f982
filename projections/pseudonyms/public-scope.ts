import { z } from 'zod';
import { validationError } from '../../domain/errors.ts';
import { EVENT_KIND, type DomainEvent } from '../../domain/events/index.ts';
import { AppId, M2MSubId } from '../../domain/ids.ts';
import type { PublicIdentities } from './identities.ts';

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

/** Which events of the stream a scope publishes, decided on the fold as it stands once it observed the event. */
export interface ScopeFilter {
  admits(event: DomainEvent, identities: PublicIdentities): boolean;
}

/** The field of an event's data as a string, when it has one (`associationId` is in events of several kinds). */
const field = (event: DomainEvent, name: string): string | undefined => {
  const value = (event.data as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
};

/**
 * What a scope publishes (SER-025: one stakeholder's token does not observe another's nodes):
 * - the events of a scoped subscription's own stream, and of a scoped App-ID's application stream;
 * - the events of a node from its `NodeEnrolled` under a scoped subscription until it is enrolled under another: the
 *   end of its enrolment and what follows (the cascade ending what it owns) stay the subscription it was last enrolled
 *   under. A move to another subscription (a `NodeEnrolled` under it, RS-17) is the new subscription's: its frame
 *   names that subscription;
 * - in that time, the events of what the fold says the node owns at that event: its credentials (a credential named
 *   with an association as that association's node's, as its frame names it), its associations, and the instance
 *   associations and releases of an application on one of them (`ApplicationInstanceAssociated`, `...Released`);
 * - the events naming no association of an App-ID's own credential (`app:App-ID`) and of an AE's (`ae:AE-ID@app:App-ID`)
 *   are that App-ID's: issue, provisioning, rotation, revocation, expiry. They belong to the Application Service
 *   Provider, not to a node: an AE credential used to be published as the node's it was first configured on, so its
 *   revocation went to that node's subscription after its use there ended, and never to the one of another node whose
 *   live association used it (review 56). Those naming an association (`CredentialAssociated`,
 *   `CredentialAssociationReleased`) are that association's node's, as for any credential.
 * Everything else is left out: a node's events before its first enrolment, a credential of no node and no App-ID, the
 * events of App-IDs and subscriptions not in the scope.
 * Pseudonym events are never published. The sets are the scope's (at most 2 x MAX_SCOPE_ENTRIES entries) and the
 * membership is the fold's (`PublicIdentities.subscriptionOf`): a stream holds nothing more per node.
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
    admits(event, identities) {
      const enrolledInScope = (nodeId: string | undefined): boolean => {
        if (nodeId === undefined) return false;
        const subscription = identities.subscriptionOf(nodeId);
        return subscription !== undefined && subscriptions.has(subscription);
      };
      const associationId = field(event, 'associationId');
      const kind = EVENT_KIND[event.type];
      switch (kind) {
        case 'subscription':
          return subscriptions.has(field(event, 'subscriptionId')!);
        case 'application':
          return appIds.has(field(event, 'appId')!) || (associationId !== undefined && enrolledInScope(identities.nodeOf('association', associationId)));
        case 'node':
          return enrolledInScope(field(event, 'nodeId'));
        case 'credential': {
          const credentialId = field(event, 'credentialId')!;
          if (associationId !== undefined) return enrolledInScope(identities.nodeOf('credential', credentialId, { associationId }));
          const appId = identities.appOf(credentialId);
          return appId !== undefined ? appIds.has(appId) : enrolledInScope(identities.nodeOf('credential', credentialId));
        }
        case 'association':
          return enrolledInScope(identities.nodeOf('association', associationId!));
        case 'pseudonym':
          return false;
        default: {
          const never: never = kind;
          throw new Error(`scope: no rule for events of kind ${String(never)}`);
        }
      }
    },
  };
};
