/** The PKCS#11 Secure Environment (SER-023, issue 16): keys in an HSM, proven on SoftHSM2 (docs/hsm.md). */
export { Pkcs11SecureEnvironment } from './pkcs11-secure-environment.ts';
export { Pkcs11SecureEnvironmentConfig } from './pkcs11-config.ts';
export type { Pkcs11SecureEnvironmentDeps } from './pkcs11-config.ts';
export { parsePkcs11Uri, PIN_ENVIRONMENT_VARIABLE, type Pkcs11Uri } from './uri.ts';
