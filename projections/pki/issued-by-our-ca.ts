import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { Command } from '../../domain/commands/index.ts';
import { fromBase64url } from '../../domain/crypto/base64url.ts';
import { validationError } from '../../domain/errors.ts';
import { signedBy } from '../../domain/x509/certificate.ts';
import type { IssuingCa } from '../../domain/x509/issuing-ca.ts';

type Issue = Extract<Command, { type: 'issueCredential' }>;

/**
 * A credential recorded with a certificate of one of this service's CAs (`certificate.issuingCa`) carries a
 * certificate that CA's key signed: the `pki` read model lists it as the CA's, and OCSP and the CRLs answer for its
 * serial (found in review: a summary written by hand made OCSP say `good` for a serial the CA never signed). The
 * command's own rules (domain/commands/certificate-rules.ts) have checked that the summary is the DER's and the DER
 * certifies the credential's key; only the signature needs the CAs, so it is an admission step of the engine, before
 * anything is read or written. A CA this service does not hold cannot vouch for anything here. Other commands pass
 * without a promise.
 */
export const issuedByOurCa = (cas: readonly IssuingCa[]) => {
  // Each CA's certificate parsed once, not at every command.
  const issuers = new Map(cas.map((ca) => [ca.id, new x509.X509Certificate(Uint8Array.from(ca.certificate))]));
  return (command: Command): Promise<void> | undefined =>
    command.type !== 'issueCredential' || command.data.certificate?.issuingCa === undefined ? undefined : checkSigned(issuers, command as Issue);
};

const checkSigned = async (issuers: ReadonlyMap<string, x509.X509Certificate>, { data }: Issue): Promise<void> => {
  const { issuingCa, der } = data.certificate!;
  const issuer = issuers.get(issuingCa!);
  if (issuer === undefined) {
    throw validationError(
      [{ path: 'data.certificate.issuingCa', rule: 'issuing_ca', message: `no issuing CA ${issuingCa!} here: a certificate is recorded as the CA's only where that CA is` }],
      'command',
    );
  }
  // The command's rules refused a summary without a DER that parses; `!` stands on them.
  if (await signedBy(new x509.X509Certificate(fromBase64url(der!)), issuer)) return;
  throw validationError(
    [{ path: 'data.certificate.der', rule: 'signed_by_issuing_ca', message: `must be a certificate issuing CA ${issuingCa!} signed` }],
    'command',
  );
};
