import { concatBytes, utf8 } from '../crypto/bytes.ts';
import type { CredentialDescriptor } from '../crypto/credential.ts';
import { sha256 } from '../crypto/hash.ts';
import { canonicalJson, proofInput } from '../crypto/transcript.ts';

/** What each side of remote provisioning signs or MACs, and the AAD a delivered PSK is sealed under (seed 003 clause 11.2.1). */
export const deliveryAad = (authTranscriptHash: Uint8Array, credential: CredentialDescriptor): Uint8Array =>
  concatBytes(authTranscriptHash, sha256(utf8(canonicalJson(credential))));

export const PROTOCOL = 'provisioning';
export const proofFor = (role: 'node' | 'enrolment-function', purpose: string, transcriptHash: Uint8Array): Uint8Array =>
  proofInput(PROTOCOL, role, purpose, transcriptHash);
