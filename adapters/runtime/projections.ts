import type { CommandSink } from '../../domain/ports/index.ts';
import { storedSignatureCheck, type RequestSigningPolicyInput } from '../../domain/signing/index.ts';
import { auditTrail } from '../../projections/audit/index.ts';
import { cascadeProcessManager, type CascadeLog } from '../../projections/cascade/index.ts';
import { complianceProjection } from '../../projections/compliance/index.ts';
import { entitiesProjection } from '../../projections/entities/index.ts';
import { expiryScheduler, type ExpiryScheduler } from '../../projections/expiry/index.ts';
import { pkiProjection, type PkiChanges } from '../../projections/pki/index.ts';
import type { Projection } from '../../projections/runtime/index.ts';

/**
 * The read models every interface shows (library, CLI, HTTP): the audit trail, whose signature status depends on
 * the deployment's request-signing policy, the compliance tables, and the entities by kind and state. Built here
 * only, so that two interfaces on one `readmodels.db` can never record the same checkpoint with different rules.
 */
export const readModelProjections = (signing?: RequestSigningPolicyInput, pki?: PkiChanges): Projection[] => [
  auditTrail(signing !== undefined ? { signatureCheck: storedSignatureCheck(signing) } : {}),
  complianceProjection(),
  entitiesProjection(),
  // Revocation status of the issuing CAs' certificates (issue 13): what CRLs and OCSP serve; `pki` wakes them.
  pkiProjection(pki),
];

export interface SystemProjectionOptions {
  readonly engine: CommandSink;
  readonly signing?: RequestSigningPolicyInput;
  readonly cascadeLog?: CascadeLog;
  /** Told of each revocation the PKI projection records (the CRL publisher and OCSP cache listen). */
  readonly pki?: PkiChanges;
  /** Projections that exist only where their keys are (pseudonym rotation, the key shredder). */
  readonly extra?: readonly Projection[];
}

/** Every system projection, in the order they run: the cascade, the expiry schedule, the read models, then the extras. */
export const systemProjections = (options: SystemProjectionOptions): { projections: Projection[]; scheduler: ExpiryScheduler } => {
  const scheduler = expiryScheduler(options.engine);
  return {
    scheduler,
    projections: [cascadeProcessManager(options.engine, options.cascadeLog), scheduler, ...readModelProjections(options.signing, options.pki), ...(options.extra ?? [])],
  };
};
