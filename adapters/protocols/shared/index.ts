/** What both protocol ends do alike over the Secure Environment and the replay cache (the pure rules are in domain/protocols). */
export { assertProof, checkProof, proofFailure, prove } from './proof.ts';
export type { CredentialKey, ProofVerifier } from './proof.ts';
export { initiatorVerifier, responderSigner, responderVerifier } from './credential-keys.ts';
export { wireEphemeral } from './wire-ephemeral.ts';
export { assertNewHello } from './hello-checks.ts';
export { rememberAuthenticatedRun, rememberOnce, replayNamespace } from './replay.ts';
export { agreeOrRefuse } from './agree-or-refuse.ts';
export { destroyQuietly } from './destroy-quietly.ts';
export { decoyChallenge, decoySigner, knownVerifier, realRefusal, refuseDecoyFinish, standInVerifier } from './decoy.ts';
export type { Decoy } from './decoy.ts';
export { SessionTable } from './session-table.ts';
export type { Claim, SessionBase } from './session-table.ts';
