import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { Command } from '../../domain/commands/index.ts';
import { fromBase64url } from '../../domain/crypto/base64url.ts';
import { validationError } from '../../domain/errors.ts';
import { sameBytes, signedBy } from '../../domain/x509/certificate.ts';
import type { IssuingCa } from '../../domain/x509/issuing-ca.ts';

type Issue = Extract<Command, { type: 'issueCredential' }>;

/**
 * A credential recorded with a certificate of one of this service's CAs (`certificate.issuingCa`) carries a
 * certificate that CA's key signed: the `pki` read model lists it as the CA's, and OCSP and the CRLs answer for its
 * serial (found in review: a summary written by hand made OCSP say `good` for a serial the CA never signed). The
 * command's own rules (domain/commands/certificate-rules.ts) have checked that the summary is the DER's and the DER
 * certifies the credential's key; only the signature needs the CAs, so it is an admission step of the engine, before
 * anything is read or written. A CA this service does not hold cannot vouch for anything here. Nor is a certificate
 * for the key of any of its CAs a credential's (rule `certificate_of_ca_key`): the command's rules refuse a CA's and
 * an OCSP responder's certificate by what they say, and this the key itself, should a CA ever have signed an end-entity
 * certificate for its own key (found in review: the CA's certificate was recorded with the CA's key as the credential's,
 * and revoking the credential listed the CA's serial on its own CRL). Other commands pass without a promise.
 */
export const issuedByOurCa = (cas: readonly IssuingCa[]) => {
  // Each CA's certificate parsed once, not at every command.
  const issuers = new Map(cas.map((ca) => [ca.id, new x509.X509Certificate(Uint8Array.from(ca.certificate))]));
  // Each CA's key as its SubjectPublicKeyInfo DER, the form a certificate states a key in.
  const caKeys = [...issuers.values()].map((c) => new Uint8Array(c.publicKey.rawData));
  return (command: Command): Promise<void> | undefined =>
    command.type !== 'issueCredential' || command.data.certificate?.issuingCa === undefined ? undefined : checkIssued(issuers, caKeys, command as Issue);
};

const checkIssued = async (issuers: ReadonlyMap<string, x509.X509Certificate>, caKeys: readonly Uint8Array[], { data }: Issue): Promise<void> => {
  const { issuingCa, der } = data.certificate!;
  const issuer = issuers.get(issuingCa!);
  if (issuer === undefined) {
    throw validationError(
      [{ path: 'data.certificate.issuingCa', rule: 'issuing_ca', message: `no issuing CA ${issuingCa!} here: a certificate is recorded as the CA's only where that CA is` }],
      'command',
    );
  }
  // The command's rules refused a summary without a DER that parses; `!` stands on them.
  const certificate = new x509.X509Certificate(fromBase64url(der!));
  if (!(await signedBy(certificate, issuer))) {
    throw validationError(
      [{ path: 'data.certificate.der', rule: 'signed_by_issuing_ca', message: `must be a certificate issuing CA ${issuingCa!} signed` }],
      'command',
    );
  }
  const key = new Uint8Array(certificate.publicKey.rawData);
  if (caKeys.some((caKey) => sameBytes(caKey, key))) {
    throw validationError(
      [{ path: 'data.certificate.der', rule: 'certificate_of_ca_key', message: "must certify a credential's key, not the key of one of the CAs" }],
      'command',
    );
  }
};
