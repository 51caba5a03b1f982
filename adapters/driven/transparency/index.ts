export { SqliteTransparencyLog, openTransparencyLog, openTransparencyLogForAudit, openTransparencyLogInDir, TRANSPARENCY_DB_FILE } from './sqlite-log.ts';
export {
  KEY_FILE,
  PUBLIC_KEY_FILE,
  openKeyFileSigner,
  openKeyFileSignerInDir,
  signerVerifierKey,
} from './key-file-signer.ts';
export { rebuildStoredSubtrees } from './rebuild-nodes.ts';
export { DEFAULT_LOG_ORIGIN, openTransparencyInDir, hasTransparencyLog, refuseLogKeyInSecureEnvironment, refuseLogKeyWithoutItsLog } from './data-dir.ts';
export {
  LOG_KEY_OWNER,
  KEY_HANDLE_FILE,
  secureEnvironmentSigner,
  openSecureEnvironmentSignerInDir,
} from './secure-environment-signer.ts';
