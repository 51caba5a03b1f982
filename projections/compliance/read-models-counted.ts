import type { ComplianceQueryName } from './catalog.ts';

/**
 * The queries whose rows include the revocation cascade's work still to do: an association under a node just revoked
 * is `dangling` and its credential `expiring` until the cascade revokes them (review 272: 32 such rows answered with
 * `eventsBehind: 0`, read as findings), and the cascade's revocations are `revocations` rows still to come (review 305:
 * a window exported whole gained them), as a credential of a node just revoked is `dangling-credentials` (review 314).
 * Their answers count the cascade behind too, over HTTP and from the CLI alike.
 */
export const CASCADE_PENDING: ReadonlySet<ComplianceQueryName> = new Set(['dangling-associations', 'dangling-credentials', 'expiring', 'revocations']);

/** What every compliance query reads: its answer is whole only once these have handled the log. */
export const COMPLIANCE_READ_MODELS = ['audit', 'compliance'] as const;

/** The read models whose lag a query's `eventsBehind` counts: those it reads, and the cascade for CASCADE_PENDING's. */
export const readModelsCountedFor = (name: ComplianceQueryName): readonly ('audit' | 'compliance' | 'cascade')[] =>
  CASCADE_PENDING.has(name) ? [...COMPLIANCE_READ_MODELS, 'cascade'] : COMPLIANCE_READ_MODELS;
