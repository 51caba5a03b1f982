import { isKeyNotFound, secureEnvironmentUnavailable, validationError, type CredenceError } from '../../../domain/errors.ts';
import type { OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';
import type { CaId } from '../../../domain/x509/issuing-ca.ts';
import { PKI_DIR, type CaFile } from './ca-file.ts';

/**
 * What an operator can do about a CA whose key the Secure Environment no longer holds (deleted, or the Secure
 * Environment restored from a backup older than the CA): nothing makes the key again, so either it comes back from
 * the backup that holds it, or the CA is retired as docs/pki.md says. Public facts only: the CA id and file names.
 */
export const missingCaKeyRemedy = (id: CaId): string =>
  `restore the Secure Environment from a backup that holds the key (embedded: secure-environment.sqlite with its ` +
  `.wrapping-keys and KEK, README "Restoring a whole data folder"; an HSM: that token's backup), or retire CA ${id}: ` +
  `the service stopped, move ${PKI_DIR}/${id}.* out of the data folder's ${PKI_DIR}/ (docs/pki.md, "A CA key is compromised", step 6)`;

/** The refusal of a CA file whose key is gone, naming the CA, its file and field, and what to do (review 203). */
export const caKeyMissing = (file: Pick<CaFile, 'id' | 'keyHandle'>) =>
  validationError(
    [
      {
        path: `${PKI_DIR}/${file.id}.ca.json: keyHandle`,
        rule: 'ca_key_held',
        message: `the Secure Environment does not hold the key ${file.keyHandle} of CA ${file.id}, so it cannot sign: ${missingCaKeyRemedy(file.id)}`,
      },
    ],
    'issuing CA file',
  );

/**
 * A CA key gone from the Secure Environment while the service runs (review 332: deleted from the token behind its
 * back): a Secure Environment fault of the service's own (503 `ca_signing_key_missing` to what needs it, /readyz
 * unready), not the caller's, naming the CA, its file and what to do, as `caKeyMissing` does at a start.
 */
export const caSigningKeyMissing = (file: Pick<CaFile, 'id' | 'keyHandle'>): CredenceError =>
  secureEnvironmentUnavailable(
    'ca_signing_key_missing',
    `the key ${file.keyHandle} of CA ${file.id} (${PKI_DIR}/${file.id}.ca.json: keyHandle) is not in the service's Secure Environment, ` +
      `so the CA signs no certificate nor CRL (nor a new OCSP responder certificate): ${missingCaKeyRemedy(file.id)}`,
  );

/**
 * Whether the Secure Environment holds the CA file's key; false only when it says that key is not there (`not_found`).
 * Anything else (the token gone, the PIN refused) is not an answer about the key, and is thrown.
 */
export const caKeyHeld = async (se: OwnedSecureEnvironment, file: Pick<CaFile, 'keyHandle'>): Promise<boolean> => {
  try {
    await se.describe(file.keyHandle);
    return true;
  } catch (error) {
    if (isKeyNotFound(error, file.keyHandle)) return false;
    throw error;
  }
};
