/** The embedded Secure Environment (seed 004): keys sealed at rest under a key-encryption key. */
export { EmbeddedSecureEnvironment } from './embedded.ts';
export type { EmbeddedSecureEnvironmentDeps } from './embedded.ts';
export { EmbeddedSecureEnvironmentConfig, secureEnvironmentConfigForDataDir, wrappingKeysPath } from './embedded-config.ts';
export { ownerView } from '../../../domain/ports/owner-view.ts';
export { KEK_LENGTH, KekSource } from './kek.ts';
export { KEK_MATCHES_DATABASE } from './key-vault.ts';
// Keys a whole-folder restore brings back though destroyed since the backup (README "Restoring a whole data folder").
export { copyKekFileOpens, kekOfRestored, keysDestroyedSince } from './destroyed-since.ts';
export type { KeyDatabaseFiles, KeyDestroyedSince, KeysSinceBackup } from './destroyed-since.ts';
// Keys in an HSM over PKCS#11 (SER-023, issue 16; docs/hsm.md).
export { parsePkcs11Uri, PIN_ENVIRONMENT_VARIABLE, Pkcs11SecureEnvironment, Pkcs11SecureEnvironmentConfig } from './pkcs11/index.ts';
export type { Pkcs11SecureEnvironmentDeps, Pkcs11Uri } from './pkcs11/index.ts';
