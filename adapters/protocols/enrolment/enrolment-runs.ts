import type { CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import type { KeyHandle } from '../../../domain/ports/secure-environment.ts';
import type { ProvisioningChallenge, ProvisioningHello, ProvisioningOutcome, ServiceParameters } from '../../../domain/protocols/enrolment-messages.ts';
import type { CredentialKey, ProofVerifier } from '../shared/proof.ts';
import type { Decoy } from '../shared/decoy.ts';
import type { SessionBase } from '../shared/session-table.ts';
import type { CountsFailedProofs } from '../shared/failed-proofs.ts';
import type { RunTranscript } from '../shared/run-transcript.ts';
import type { CertificateToIssue } from './certificate-issuance.ts';

/**
 * What the caller of `acceptHello` keeps with a run until its receipt: never sent, never proven, only handed back
 * with the outcome (`acceptReceiptInContext`), so a caller driven one message per request (HTTP) needs no state of
 * its own between the messages, and none an unauthenticated hello could grow.
 */
export type RunContext = Readonly<Record<string, string>>;

/**
 * The hello as its run keeps it: all but the manufacturer chain, up to 4 certificates of 16 KB that nothing after the
 * hello reads (the run keeps `manufacturerCertificate`, the summary the outcome records, and its transcript goes on
 * from the hash after the hello): a flood of pending runs under made-up Node-IDs held ~50 KB each (review 297).
 */
export type KeptHello = Omit<ProvisioningHello, 'certificateChain'>;

/** `hello` without its manufacturer chain, for its run to keep. */
export const keptHello = (hello: ProvisioningHello): KeptHello => {
  const { certificateChain, ...kept } = hello;
  void certificateChain;
  return kept;
};

/** A provisioning run as the Enrolment Function keeps it in its session table, from the challenge to the receipt. */
export interface RunBase extends SessionBase, CountsFailedProofs {
  stage: 'challenged' | 'delivered';
  readonly hello: KeptHello;
  readonly context: RunContext;
  readonly transcript: RunTranscript;
  readonly enrolmentNonce: string;
  readonly signer: CredentialKey;
  readonly challenge: ProvisioningChallenge;
  readonly ephemeral?: KeyHandle;
  readonly manufacturerCertificate?: ProvisioningOutcome['manufacturerCertificate'];
  credential?: CredentialDescriptor;
  /** What the node is told it serves, once its auth proof verified (the challenge tells nothing about the node). */
  serviceParameters?: ServiceParameters;
  /** The certificate the CSR asks for, checked at the auth step and signed only after the receipt was verified. */
  certificate?: CertificateToIssue;
  /** psk256: the infrastructure's copy as a session key (never stored), for key confirmation at the receipt. */
  credentialKeyHandle?: KeyHandle;
  /** psk256: the delivered PSK and its delivery key (ephemeral), to store the copy once the receipt confirms it. */
  delivery?: { readonly kek: KeyHandle; readonly wrapped: Uint8Array; readonly aad: Uint8Array };
}

/** A run whose hello's bootstrap credential can be used. */
export interface RealRun extends RunBase {
  readonly nodeVerifier: ProofVerifier;
  readonly decoy?: undefined;
}

/** A run answering a hello whose bootstrap credential cannot be used (shared/decoy.ts): refused at its auth, never recorded. */
export interface DecoyRun extends RunBase {
  readonly decoy: Decoy;
}

export type Session = RealRun | DecoyRun;

/** How a challenge is proved, and what its run keeps to check the node's proofs. */
export type Opening =
  | { readonly signer: CredentialKey; readonly run: Pick<RealRun, 'nodeVerifier'> }
  | { readonly signer: CredentialKey; readonly run: Pick<DecoyRun, 'decoy'> };
