import { streamIdOf } from '../../../domain/streams.ts';
import type { AssociationOutcome, ProvisioningOutcome } from '../../../domain/protocols/index.ts';
import { issuedFrom, receiptFrom } from './descriptors.ts';
import type { Infrastructure } from './infrastructure.ts';

/**
 * What the infrastructure records once its end of a protocol has succeeded, the same whether both ends run in this
 * process (SecurityProcedures) or the device is across a connection (the endpoints). Each either records its
 * events or leaves no key of the run behind.
 */

/**
 * Remote provisioning ended with a verified receipt: `CredentialIssued` then `CredentialProvisioned` with the receipt.
 * The Enrolment Function's copy of a PSK is registered pending first, so a crash before the append leaves a key the
 * next start sweeps; refused by the engine (the node was revoked meanwhile, say), the copy is destroyed.
 */
export const recordProvisioning = async (
  infra: Infrastructure,
  args: { outcome: ProvisioningOutcome; credentialId: string; purpose: 'service' | 'application'; predecessorId?: string | undefined },
) => {
  const { outcome, credentialId } = args;
  infra.keepPsk(credentialId, outcome.credentialKeyHandle);
  let provisioned;
  try {
    const bootstrapCredentialId = await infra.bootstrapIdOf(outcome.nodeId);
    await infra.run('issueCredential', issuedFrom(outcome, credentialId, args.purpose, args.predecessorId));
    provisioned = await infra.run('provisionCredential', {
      credentialId, method: 'remote-provisioning', bootstrapCredentialId, receipt: receiptFrom(outcome),
    });
  } catch (error) {
    if (outcome.credentialKeyHandle !== undefined) await infra.discardKey(streamIdOf('credential', credentialId), outcome.credentialKeyHandle);
    throw error;
  }
  infra.confirmPsk(credentialId, outcome.credentialKeyHandle);
  return provisioned;
};

/**
 * The Registrar's end of a handshake succeeded: `AssociationEstablished`. Its session keys are registered before
 * the append, so a crash in between leaves keys the shredder still knows about; refused (the association was revoked
 * or established meanwhile), they are destroyed.
 */
export const recordAssociation = async (infra: Infrastructure, associationId: string, outcome: AssociationOutcome) => {
  infra.keepSessionKeys(associationId, outcome);
  try {
    return await infra.run('establishAssociation', { associationId, expiresAt: outcome.expiresAt, transcriptHash: outcome.transcriptHash });
  } catch (error) {
    const stream = streamIdOf('association', associationId);
    for (const handle of [outcome.sessionKeys.send, outcome.sessionKeys.receive]) await infra.discardKey(stream, handle);
    throw error;
  }
};
