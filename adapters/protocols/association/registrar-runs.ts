import type { KeyHandle } from '../../../domain/ports/secure-environment.ts';
import type { AssociationChallenge, AssociationHello } from '../../../domain/protocols/association-messages.ts';
import type { CredentialKey, ProofVerifier } from '../shared/proof.ts';
import type { Decoy } from '../shared/decoy.ts';
import type { SessionBase } from '../shared/session-table.ts';
import type { CountsFailedProofs } from '../shared/failed-proofs.ts';
import type { RunTranscript } from '../shared/run-transcript.ts';
import type { RegistreeCredential } from './registrar-options.ts';
import type { CredentialLookup } from './registrar-still-usable.ts';

/** A handshake run as the Registrar CSE keeps it in its session table, from the challenge to the finish. */
interface RunBase extends SessionBase, CountsFailedProofs {
  stage: 'challenged';
  readonly hello: AssociationHello;
  readonly association: string | undefined;
  readonly transcript: RunTranscript;
  readonly challenge: AssociationChallenge;
  /** When the run's timeout passes (SessionTable.expiry at its hello): how long its finish's answer is kept. */
  readonly expiresAt: string;
  readonly challengeTranscript: Uint8Array;
  readonly ephemeral: KeyHandle;
}

export interface RealRun extends RunBase {
  readonly decoy?: undefined;
  /**
   * When the Registree's credential ends for its associations (`credentialEnd`): the grant is cut to it at the finish,
   * once the Registree has proved itself.
   */
  readonly credentialEndsAt: string;
  readonly verifier: ProofVerifier;
  readonly psk?: KeyHandle;
  /** How the hello found the credential: read again so once the Registree's proof verifies (registrar-still-usable.ts). */
  readonly lookup: CredentialLookup;
}

/** A run answering a hello whose credential cannot be used (decoy.ts): refused at its finish, never recorded. */
interface DecoyRun extends RunBase {
  readonly decoy: Decoy;
  /**
   * How the hello looked the credential up: asked again, past the holder's proof only, why an association whose
   * credential can be used takes no handshake (registrar-still-usable.ts `refusalToHolder`).
   */
  readonly lookup?: CredentialLookup;
}

export type Session = RealRun | DecoyRun;

/** How a challenge is proved, and what its run keeps to check the finish. */
export type Opening =
  | { readonly signer: CredentialKey; readonly run: Pick<RealRun, 'credentialEndsAt' | 'verifier' | 'psk' | 'lookup'> }
  | { readonly signer: CredentialKey; readonly run: Pick<DecoyRun, 'decoy' | 'lookup'> };

/**
 * When an association on `credential` must end by: the earliest of its notAfter, the end of its rotation's overlap
 * (HLR-212) and the end of its node's M2M service subscription (seed 003 11.2.1). Cut only to notAfter, the grant
 * outlived the overlap: the cascade revoked the association when the predecessor was superseded, and the device, told
 * a longer lifetime, never learnt of it (review 64 F5); the same past the subscription's end (review 195).
 */
export const credentialEnd = (credential: Pick<RegistreeCredential, 'descriptor' | 'overlapEndsAt' | 'subscriptionEndsAt'>): string => {
  const ends = [credential.descriptor.validity.notAfter, credential.overlapEndsAt, credential.subscriptionEndsAt];
  return ends.reduce<string>((earliest, end) => (end !== undefined && Date.parse(end) < Date.parse(earliest) ? end : earliest), ends[0]!);
};
