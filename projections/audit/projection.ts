import type { Projection } from '../runtime/index.ts';
import { signaturePresence, type SignatureCheck } from './signature.ts';
import { insertAuditRow, resetAuditTables, setupAuditTables } from './tables.ts';

export interface AuditTrailOptions {
  /** Signature status of each event; default: signed when the request carried a signature. */
  readonly signatureCheck?: SignatureCheck;
}

/** The audit trail: every entity's timeline with actor, reason, causation and signature status. All event types. */
export const auditTrail = (options: AuditTrailOptions = {}): Projection => {
  const check = options.signatureCheck ?? signaturePresence;
  return {
    name: 'audit',
    setup: setupAuditTables,
    reset: resetAuditTables,
    apply: (db, e) => insertAuditRow(db, e, check(e)),
  };
};
