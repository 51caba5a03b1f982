/** The Secure Environment port (seed 004) and its embedded, sealed-at-rest implementation. */
export { KeyHandle } from './port.ts';
export type {
  DeriveKeySpec,
  GeneratedKeyKind,
  KeyDescription,
  KeyKind,
  KeyOptions,
  SecureEnvironment,
  SymmetricKeyKind,
  UnwrapSpec,
} from './port.ts';
export {
  EmbeddedSecureEnvironment,
  EmbeddedSecureEnvironmentConfig,
  secureEnvironmentConfigForDataDir,
} from './embedded.ts';
export type { EmbeddedSecureEnvironmentDeps } from './embedded.ts';
export { KEK_LENGTH, KekSource } from './kek.ts';
export { checkProof, proofFailure, prove } from './proof.ts';
export { agreeOrRefuse } from './agree-or-refuse.ts';
export { destroyQuietly } from './destroy-quietly.ts';
export type { CredentialKey, ProofVerifier } from './proof.ts';
