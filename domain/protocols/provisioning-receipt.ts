import { fromBase64url } from '../crypto/base64url.ts';
import type { CredentialDescriptor } from '../crypto/credential.ts';
import { verifySignature } from '../crypto/signatures.ts';
import { proofFor } from './provisioning-proofs.ts';
import type { ProvisioningOutcome } from './enrolment-messages.ts';

/**
 * Non-repudiation check of a stored provisioning outcome, by anyone holding the public keys (no Secure
 * Environment needed): the node's receipt signature with its asymmetric bootstrap key, and with its new asymmetric
 * credential, over the recorded transcript hash. PSK receipts are MACs: only a holder of the PSK can check them,
 * so they prove the exchange to the Enrolment Function, not to a third party.
 */
export const verifyProvisioningReceipt = (
  outcome: ProvisioningOutcome,
  bootstrap: CredentialDescriptor,
): { readonly bootstrapSignature: boolean | 'mac'; readonly credentialSignature: boolean | 'mac' } => {
  const th = fromBase64url(outcome.transcriptHash);
  const check = (d: CredentialDescriptor, purpose: string, proof: string): boolean | 'mac' =>
    d.kind === 'psk256' ? 'mac' : verifySignature(d.kind, fromBase64url(d.publicKey), proofFor('node', purpose, th), fromBase64url(proof));
  return {
    bootstrapSignature: bootstrap.fingerprint === outcome.bootstrapFingerprint && check(bootstrap, 'receipt', outcome.receipt.bootstrapProof),
    credentialSignature: check(outcome.credential, 'receipt-credential', outcome.receipt.credentialProof),
  };
};
