import type { Owner, RevocationReason } from '../../../domain/events/index.ts';
import { holderSourceOf } from '../../../machines/facts.ts';
import { credentialReasonOf } from '../../../projections/cascade/reaction.ts';
import type { Infrastructure } from './infrastructure.ts';

/**
 * Why a credential issued for a provisioning that was then refused is revoked: its holder's reason, as the cascade
 * would give it (`credentialReasonOf`), when the holder was revoked meanwhile (the refusal is then ownerIsLive), else
 * `cessationOfOperation` (RFC 5280 5.3.1: it will never be used). Review 176: always `cessationOfOperation`, a key
 * delivered to a node revoked for `keyCompromise` was listed on the CRL and OCSP as merely out of use, the cascade's
 * own revocation then refused as already done. A holder that cannot be read leaves the plain reason: the credential
 * is revoked all the same, which matters more than its reason.
 */
const revocationReasonFor = async (infra: Infrastructure, owner: Owner): Promise<RevocationReason> => {
  const holder = holderSourceOf(owner);
  if (holder === undefined) return 'cessationOfOperation';
  const read = await infra.o.engine.entity(holder.kind, holder.id).catch(() => undefined);
  const reason = (read?.snapshot.context as { revocationReason?: RevocationReason } | undefined)?.revocationReason;
  return read !== undefined && String(read.snapshot.value) === 'revoked' && reason !== undefined ? credentialReasonOf(reason) : 'cessationOfOperation';
};

/** Whether the credential is ended on record (revoked or expired): read after a revocation was refused. */
const isEnded = async (infra: Infrastructure, credentialId: string): Promise<boolean> => {
  const read = await infra.o.engine.entity('credential', credentialId).catch(() => undefined);
  const state = read === undefined ? undefined : String(read.snapshot.value);
  return state === 'revoked' || state === 'expired';
};

/**
 * Revokes the credential a refused provisioning issued, correlated with its issue (`issueCommandId`). A revocation
 * refused because the credential is already ended (the cascade of its node's revocation got there first, review 176)
 * has done what it was for: nothing of the run is left live, and the caller is told only the refusal. Any other
 * failure leaves an issued credential nobody provisions: an AggregateError, the refusal first.
 */
export const revokeUnprovisioned = async (
  infra: Infrastructure,
  args: { credentialId: string; owner: Owner; issueCommandId: string; refusal: unknown },
): Promise<void> => {
  const { credentialId, refusal } = args;
  const reason = await revocationReasonFor(infra, args.owner);
  try {
    await infra.run('revokeCredential', { credentialId, reason }, args.issueCommandId);
  } catch (failed) {
    if (await isEnded(infra, credentialId)) return;
    throw new AggregateError([refusal, failed], `${credentialId}: provisioning refused, and the credential issued for it could not be revoked`);
  }
};
