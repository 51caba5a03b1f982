/** The embedded Secure Environment (seed 004): keys sealed at rest under a key-encryption key. */
export {
  EmbeddedSecureEnvironment,
  EmbeddedSecureEnvironmentConfig,
  secureEnvironmentConfigForDataDir,
} from './embedded.ts';
export type { EmbeddedSecureEnvironmentDeps } from './embedded.ts';
export { ownerView } from '../../../domain/ports/owner-view.ts';
export { KEK_LENGTH, KekSource } from './kek.ts';
