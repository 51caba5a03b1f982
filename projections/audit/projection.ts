import type { DecodedEvent } from '../../domain/stored.ts';
import { BatchSlot, type Projection, type ReadModelRules } from '../runtime/index.ts';
import { judgementOf, SIGNATURE_PRESENCE_RULES, signaturePresence, type SignatureCheck } from './signature.ts';
import { AUDIT_QUERY_INDEXES, insertAuditRow, insertAuditRows, resetAuditTables, setupAuditTables } from './tables.ts';

/**
 * Signature status of each event; default: signed when the request carried a signature. A check comes with its rules
 * (what decides its statuses: the signing policy's fingerprint and description, never a secret), recorded with the
 * read model so that rows judged under one policy are never extended under another (ProjectionRunner.checkRules).
 */
export type AuditTrailOptions =
  | { readonly signatureCheck?: undefined; readonly signatureRules?: undefined }
  | { readonly signatureCheck: SignatureCheck; readonly signatureRules: ReadModelRules };

/**
 * The audit trail: every entity's timeline with actor, reason, causation and signature status. All event types.
 * In a batch the rows are held and written 32 to an INSERT when it ends.
 */
export const auditTrail = (options: AuditTrailOptions = {}): Projection => {
  const given = options.signatureCheck ?? signaturePresence;
  const check = (e: DecodedEvent) => judgementOf(given(e));
  const batch = new BatchSlot<DecodedEvent[]>();
  return {
    name: 'audit',
    queryIndexes: AUDIT_QUERY_INDEXES,
    rules: options.signatureRules ?? SIGNATURE_PRESENCE_RULES,
    setup: setupAuditTables,
    reset: resetAuditTables,
    apply(db, e) {
      const held = batch.held(db);
      if (held !== undefined) held.push(e);
      else insertAuditRow(db, e, check(e));
    },
    beginBatch: (db) => batch.open(db, [], (d, events) => insertAuditRows(d, events, check)),
  };
};
