/** What both oneM2M protocols (remote provisioning, association handshake) use alike. */
export { assertFresh, assertUsableCredential, Nonce, NONCE_LENGTH, parseMessage, Proof, protocolFailure, SessionId } from './protocol.ts';
export type { ProtocolReason } from './protocol.ts';
export { checkProof, proofFailure, prove } from './proof.ts';
export type { CredentialKey, ProofVerifier } from './proof.ts';
export { agreeOrRefuse } from './agree-or-refuse.ts';
export { destroyQuietly } from './destroy-quietly.ts';
export { SessionTable } from './session-table.ts';
export type { SessionBase } from './session-table.ts';
