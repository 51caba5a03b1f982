import type { CommandSink } from '../../domain/ports/index.ts';
import { storedSignatureJudgement, storedSignatureRules, type RequestSigningPolicyInput } from '../../domain/signing/index.ts';
import { auditTrail } from '../../projections/audit/index.ts';
import { cascadeProcessManager, type CascadeLog } from '../../projections/cascade/index.ts';
import { complianceProjection } from '../../projections/compliance/index.ts';
import { entitiesProjection } from '../../projections/entities/index.ts';
import { expiryScheduler, type ExpiryDeadLetter, type ExpiryScheduler } from '../../projections/expiry/index.ts';
import { pkiProjection, type PkiChanges } from '../../projections/pki/index.ts';
import type { Projection } from '../../projections/runtime/index.ts';

/**
 * The read models every interface shows (library, CLI, HTTP): the audit trail, whose signature status depends on
 * the deployment's request-signing policy, the compliance tables, and the entities by kind and state. Built here
 * only. The audit trail carries its policy's rules (fingerprint and description), recorded in `readmodels.db` with
 * it: a runner given another policy rebuilds it or refuses to extend it (RunnerOptions.onRulesChanged), so that two
 * interfaces on one folder never record one checkpoint's rows under different rules.
 */
export const readModelProjections = (signing?: RequestSigningPolicyInput, pki?: PkiChanges): Projection[] => [
  auditTrail(signing !== undefined ? { signatureCheck: storedSignatureJudgement(signing), signatureRules: storedSignatureRules(signing) } : {}),
  complianceProjection(),
  entitiesProjection(),
  // Revocation status of the issuing CAs' certificates (issue 13): what CRLs and OCSP serve; `pki` wakes them.
  pkiProjection(pki),
];

export interface SystemProjectionOptions {
  readonly engine: CommandSink;
  readonly signing?: RequestSigningPolicyInput;
  readonly cascadeLog?: CascadeLog;
  /**
   * How many of one event's cascade reactions are decided at once: reactionsAtOnceFor the store. Required, so that no
   * caller on EventStoreDB gets the embedded store's many at once by leaving it out (review 455).
   */
  readonly reactionsAtOnce: number;
  /** Told of each due deadline the expiry scheduler dead-letters (its command id taken): nothing retries it. */
  readonly expiryDeadLetter?: (letter: ExpiryDeadLetter) => void;
  /** Told of each revocation the PKI projection records (the CRL publisher and OCSP cache listen). */
  readonly pki?: PkiChanges;
  /** Projections that exist only where their keys are (pseudonym rotation, the key shredder). */
  readonly extra?: readonly Projection[];
}

/** Every system projection, in the order they run: the cascade, the expiry schedule, the read models, then the extras. */
export const systemProjections = (options: SystemProjectionOptions): { projections: Projection[]; scheduler: ExpiryScheduler } => {
  const scheduler = expiryScheduler(options.engine, options.expiryDeadLetter !== undefined ? { onDeadLetter: options.expiryDeadLetter } : {});
  return {
    scheduler,
    projections: [cascadeProcessManager(options.engine, options.cascadeLog, { reactionsAtOnce: options.reactionsAtOnce }), scheduler, ...readModelProjections(options.signing, options.pki), ...(options.extra ?? [])],
  };
};
