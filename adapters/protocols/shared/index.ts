/** What both oneM2M protocols (remote provisioning, association handshake) use alike. */
export { assertFresh, assertUsableCredential, newNonce, Nonce, NONCE_LENGTH, parseMessage, Proof, protocolFailure, SessionId } from './protocol.ts';
export type { ProtocolReason } from './protocol.ts';
export { assertProof, checkProof, proofFailure, prove } from './proof.ts';
export type { CredentialKey, ProofVerifier } from './proof.ts';
export { initiatorVerifier, responderSigner, responderVerifier } from './credential-keys.ts';
export { acceptEphemeralAnswer, assertValidEphemeral, Ephemeral, ephemeralGroup, wireEphemeral } from './ephemeral.ts';
export { assertNewHello } from './hello-checks.ts';
export { rememberOnce } from './replay.ts';
export { acceptedClockSkew, DEFAULT_MAX_CLOCK_SKEW_SECONDS } from './clock-skew.ts';
export { transcriptFromHello } from './run-transcript.ts';
export { agreeOrRefuse } from './agree-or-refuse.ts';
export { destroyQuietly } from './destroy-quietly.ts';
export { SessionTable } from './session-table.ts';
export type { SessionBase } from './session-table.ts';
