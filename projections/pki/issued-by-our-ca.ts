import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { Command } from '../../domain/commands/index.ts';
import { fromBase64url } from '../../domain/crypto/base64url.ts';
import { validationError } from '../../domain/errors.ts';
import { sameBytes, signedBy } from '../../domain/x509/certificate.ts';
import type { SubscriptionCa } from '../../domain/x509/issuance/index.ts';

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
 *
 * The subscription the certificate says its CA certifies (`issuingCaCertifies`, rule `issuing_ca_certifies`) is the one
 * that CA names, or absent with it (review 357): the cascade revokes a node's certificates on its move off that
 * subscription by the recorded field alone, so a certificate of `sub-a-ca` (naming Sub-A) recorded again without it, or
 * claiming sub-2, stayed live once its node left Sub-A.
 */
export const issuedByOurCa = (cas: readonly SubscriptionCa[]) => {
  // Each CA's certificate parsed once, not at every command.
  const issuers = new Map(cas.map((ca) => [ca.id, { certificate: new x509.X509Certificate(Uint8Array.from(ca.certificate)), subscription: ca.subscription }]));
  // Each CA's key as its SubjectPublicKeyInfo DER, the form a certificate states a key in.
  const caKeys = [...issuers.values()].map((c) => new Uint8Array(c.certificate.publicKey.rawData));
  return (command: Command): Promise<void> | undefined =>
    command.type !== 'issueCredential' || command.data.certificate?.issuingCa === undefined ? undefined : checkIssued(issuers, caKeys, command as Issue);
};

interface Issuer {
  readonly certificate: x509.X509Certificate;
  readonly subscription: string | undefined;
}

/** Why `certifies` is not what CA `caId`, naming `named` (or none), has a certificate say; undefined when it is. */
const certifiesRefusal = (caId: string, named: string | undefined, certifies: string | undefined): string | undefined => {
  if (certifies === named) return undefined;
  if (named === undefined) return `CA ${caId} names no M2M Service Subscription (it certifies the one of its id, or for default the nodes no other CA does): leave issuingCaCertifies out`;
  return certifies === undefined
    ? `must be ${named}, the M2M Service Subscription CA ${caId} certifies; a line of its issued-certificates journal written before certificates recorded it has none: add "issuingCaCertifies": "${named}" to the certificate of its issue before recording it again`
    : `must be ${named}, the M2M Service Subscription CA ${caId} certifies, not ${certifies}`;
};

const checkIssued = async (issuers: ReadonlyMap<string, Issuer>, caKeys: readonly Uint8Array[], { data }: Issue): Promise<void> => {
  const { issuingCa, issuingCaCertifies, der } = data.certificate!;
  const found = issuers.get(issuingCa!);
  if (found === undefined) {
    throw validationError(
      [{ path: 'data.certificate.issuingCa', rule: 'issuing_ca', message: `no issuing CA ${issuingCa!} here: a certificate is recorded as the CA's only where that CA is` }],
      'command',
    );
  }
  const wrongSubscription = certifiesRefusal(issuingCa!, found.subscription, issuingCaCertifies);
  if (wrongSubscription !== undefined) {
    throw validationError([{ path: 'data.certificate.issuingCaCertifies', rule: 'issuing_ca_certifies', message: wrongSubscription }], 'command');
  }
  const issuer = found.certificate;
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
