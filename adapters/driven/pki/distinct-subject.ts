import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { validationError } from '../../../domain/errors.ts';
import { fromBase64url } from '../../../domain/crypto/base64url.ts';
import type { CaId } from '../../../domain/x509/issuing-ca.ts';
import { issuerOf, sameName } from '../../../domain/x509/issuance/index.ts';
import { caIds, readCaFile, type CaFile } from './ca-file.ts';

/**
 * Review 231: two CAs of one folder under one subject are two issuers of one name with different keys, and two sets
 * of CRLs under one issuer name; a client that finds an issuer or a CRL by name alone may take the wrong one. So a
 * CA's subject is distinct from every other CA's of its folder: a CA awaiting its certificate holds the subject of its
 * CSR, an active one that of its certificate.
 */

/** The subject a CA file names, as encoded. */
const subjectOf = (file: CaFile): Uint8Array =>
  file.state === 'active'
    ? issuerOf(fromBase64url(file.certificate)).name
    : new Uint8Array(new x509.Pkcs10CertificateRequest(Uint8Array.from(fromBase64url(file.csr))).subjectName.toArrayBuffer());

/**
 * Refuses `name` (as encoded) for CA `id` when another CA of `dataDir` has it, as encoded or equal by RFC 5280 7.1:
 * a `validation` refusal at `path`, rule `distinct_subject`, naming that CA (never the value) and what to do
 * (`remedy`). Called before anything is made or written.
 */
export const assertSubjectUnused = (dataDir: string, id: CaId, name: Uint8Array, at: { readonly path: string; readonly remedy: string }): void => {
  for (const other of caIds(dataDir)) {
    if (other === id) continue;
    const file = readCaFile(dataDir, other);
    if (file === undefined || !sameName(subjectOf(file), name)) continue;
    throw validationError(
      [{ path: at.path, rule: 'distinct_subject', message: `is CA ${other}'s subject: two CAs of one name would be two issuers (and two sets of CRLs) that relying parties cannot tell apart; ${at.remedy}` }],
      'issuing CA',
    );
  }
};
