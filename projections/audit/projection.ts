import type { DecodedEvent } from '../../domain/stored.ts';
import { BatchSlot, type Projection } from '../runtime/index.ts';
import { signaturePresence, type SignatureCheck } from './signature.ts';
import { AUDIT_QUERY_INDEXES, insertAuditRow, insertAuditRows, resetAuditTables, setupAuditTables } from './tables.ts';

export interface AuditTrailOptions {
  /** Signature status of each event; default: signed when the request carried a signature. */
  readonly signatureCheck?: SignatureCheck;
}

/**
 * The audit trail: every entity's timeline with actor, reason, causation and signature status. All event types.
 * In a batch the rows are held and written 32 to an INSERT when it ends.
 */
export const auditTrail = (options: AuditTrailOptions = {}): Projection => {
  const check = options.signatureCheck ?? signaturePresence;
  const batch = new BatchSlot<DecodedEvent[]>();
  return {
    name: 'audit',
    queryIndexes: AUDIT_QUERY_INDEXES,
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
