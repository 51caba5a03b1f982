/**
 * The data folder's issuing CAs (issue 13): created or installed by `credence ca`, loaded by the service at start.
 * Keys stay in the Secure Environment; the files under `<data>/pki/` hold handles and public certificates.
 */
export { caFilePath, caIds, pkiDir, readCaFile, PKI_DIR } from './ca-file.ts';
export type { CaFile } from './ca-file.ts';
export { caKeyHeld, caKeyMissing, caSigningKeyMissing, missingCaKeyRemedy } from './ca-key.ts';
export {
  createRootCa,
  DEFAULT_CA_VALIDITY_DAYS,
  defaultCaSubject,
  installCaCertificate,
  MAX_CA_VALIDITY_DAYS,
  requestIntermediateCa,
} from './create.ts';
export type { CaInitOptions } from './create.ts';
export { caSigningKeyMissingNow, issuingCaOf, loadIssuingCas } from './load.ts';
export { renewalRequest, renewRootCa } from './renew.ts';
export { seSigner } from './se-signer.ts';
