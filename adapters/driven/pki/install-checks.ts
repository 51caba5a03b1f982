import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { CredenceError, validationError } from '../../../domain/errors.ts';
import { constantTimeEqual } from '../../../domain/crypto/bytes.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import { TrustAnchors, verifyCertificateChain } from '../../../domain/x509/index.ts';
import type { CaId, X509Signer } from '../../../domain/x509/issuing-ca.ts';
import { issueNodeCertificate, KEY_PURPOSE, NODE_URN_PREFIX, SERIAL_LENGTH } from '../../../domain/x509/issuance/index.ts';

const refuse = (path: string, rule: string, message: string) => validationError([{ path, rule, message }], 'CA certificate');

const names = (der: Uint8Array) => {
  const cert = new x509.X509Certificate(Uint8Array.from(der));
  return { cert, subject: new Uint8Array(cert.subjectName.toArrayBuffer()), issuer: new Uint8Array(cert.issuerName.toArrayBuffer()) };
};
const sameName = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && constantTimeEqual(a, b);

/** The chain from the CA's issuer up to the root, following encoded issuer names (RFC 5280 4.1.2.4). */
const orderChain = (certificate: Uint8Array, chain: readonly Uint8Array[]): Uint8Array[] => {
  const ordered: Uint8Array[] = [];
  let current = names(certificate);
  while (!sameName(current.subject, current.issuer)) {
    if (ordered.length > chain.length) break;
    const issuer = chain.find((c) => !ordered.includes(c) && sameName(names(c).subject, current.issuer));
    if (issuer === undefined) throw refuse('chain', 'complete', `no certificate for ${current.cert.issuer} (the chain must hold every CA above this one, up to the root)`);
    ordered.push(issuer);
    current = names(issuer);
  }
  if (ordered.length === 0) throw refuse('certificate', 'not_self_signed', 'an intermediate certificate is signed by another CA: give that CA and the root with --chain');
  return ordered;
};

/**
 * The purposes of what Credence issues under a CA: node certificates are clientAuth, the delegated OCSP responder's
 * certificate OCSPSigning (domain/x509/revocation/ocsp-signing-certificate.ts).
 */
const ISSUED_PURPOSES = [
  { oid: KEY_PURPOSE.clientAuth, name: 'clientAuth', for: 'the node certificates' },
  { oid: KEY_PURPOSE.ocspSigning, name: 'OCSPSigning', for: 'the OCSP responder certificate' },
] as const;

/**
 * RFC 5280 4.2.1.12 defines extendedKeyUsage for end entities, but relying parties read it in a CA certificate as a
 * bound on everything below it (OpenSSL's purpose checks, Go crypto/x509, Windows CryptoAPI): found in review, an
 * intermediate with `serverAuth,OCSPSigning` was installed and its node certificates failed
 * `openssl verify -purpose sslclient` ("unsupported certificate purpose"), as TLS servers and MQTT brokers fail them.
 * So every CA certificate of the path that has the extension must name each purpose issued under it. Absent, it
 * bounds nothing. anyExtendedKeyUsage does not stand in: OpenSSL refuses it for sslclient in a CA certificate.
 * OCSPSigning is required too although OpenSSL 3.0 accepts a delegated responder under a CA without it: relying
 * parties that chain EKU for every purpose (Windows CryptoAPI) refuse the responder, and its answers with it.
 */
const checkExtendedKeyUsage = (certificates: readonly { readonly der: Uint8Array; readonly path: string }[]): void => {
  for (const { der, path } of certificates) {
    const eku = new x509.X509Certificate(Uint8Array.from(der)).getExtension(x509.ExtendedKeyUsageExtension);
    if (eku === null) continue;
    const usages = new Set(eku.usages.map(String));
    const missing = ISSUED_PURPOSES.filter((p) => !usages.has(p.oid));
    if (missing.length > 0) {
      throw refuse(
        path,
        'extended_key_usage',
        `its extendedKeyUsage lacks ${missing.map((p) => `${p.name} (for ${p.for})`).join(' and ')}: relying parties refuse what the CA issues under it; have it signed without extendedKeyUsage or with clientAuth and OCSPSigning`,
      );
    }
  }
};

/**
 * RFC 5280 4.2.1.1, 4.2.1.2: a CA's subjectKeyIdentifier is how the certificates it issues name its key (their
 * authorityKeyIdentifier), and each certificate below the root names its issuer's so. Path validation refuses a path
 * without them; checked here first (review 231), so that the refusal names the certificate that lacks one, not the
 * install's throw-away probe as a bad signature. The root, the trust anchor, needs neither.
 */
const checkKeyIdentifiers = (certificates: readonly { readonly der: Uint8Array; readonly path: string }[]): void => {
  for (const { der, path } of certificates) {
    const cert = new x509.X509Certificate(Uint8Array.from(der));
    if (cert.getExtension(x509.SubjectKeyIdentifierExtension) === null) {
      throw refuse(
        path,
        'subject_key_identifier',
        `${cert.subject} has no subjectKeyIdentifier: the certificates it issues name its key by it (authorityKeyIdentifier, RFC 5280 4.2.1.1, 4.2.1.2), and relying parties refuse them without it; have it signed again with subjectKeyIdentifier=hash`,
      );
    }
    if (cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId === undefined) {
      throw refuse(
        path,
        'authority_key_identifier',
        `${cert.subject} has no authorityKeyIdentifier key id: it names its issuer's key by it (RFC 5280 4.2.1.1), and relying parties refuse a path without it; have it signed again with authorityKeyIdentifier=keyid`,
      );
    }
  }
};

/**
 * A CA certificate that ends after a certificate above it is refused, not cut short in silence (found in review: an
 * intermediate signed for 10 years by a root valid for 2 days was installed, and 365-day node certificates failed
 * `openssl verify` once the root had ended). RFC 5280 6.1.3 (a)(2) checks every certificate of a path at validation
 * time, so the CA could only ever issue up to the earliest end (issuance is bounded so, `chainValidity`), while its
 * certificate, `ca install` and `ca show` would state a later one. As a node certificate outliving its CA is refused
 * (`ca_expires_first`) rather than shortened, so is this: the operator has it signed again to end no later.
 */
const checkEndsWithinChain = (certificate: Uint8Array, ordered: readonly Uint8Array[]): void => {
  const ends = new x509.X509Certificate(Uint8Array.from(certificate)).notAfter;
  const above = ordered.map((der, level) => ({ level, notAfter: new x509.X509Certificate(Uint8Array.from(der)).notAfter }));
  const first = above.reduce((a, b) => (b.notAfter < a.notAfter ? b : a));
  if (first.notAfter >= ends) return;
  const which = first.level === ordered.length - 1 ? 'the root' : first.level === 0 ? 'its issuer' : `the CA ${first.level + 1} levels above it`;
  throw refuse(
    'certificate',
    'outlives_chain',
    `it ends ${ends.toISOString()}, after ${which} (${first.notAfter.toISOString()}): nothing it issued could validate past that (RFC 5280 6.1.3); have it signed again to end no later than ${first.notAfter.toISOString()}`,
  );
};

/** The extensions by which a certificate constrains the paths below it, by the rejection each can cause. */
const CONSTRAINING: Readonly<Record<string, readonly string[]>> = {
  name_constraints_violated: ['2.5.29.30'],
  policy_constraints_violated: ['2.5.29.32', '2.5.29.33', '2.5.29.36', '2.5.29.54'],
};

/**
 * Review 419: path validation of the install's probe failing was thrown as it came, a `bad_signature` "Bad request
 * signature" naming the throw-away probe. It is the chain that is refused: a `validation` error whose rule is the
 * rejection's reason, at `certificate` when the CA certificate is the cause, at `chain` when one above it is (a
 * constraint it carries and the CA certificate does not, or the certificate the rejection names), saying what a
 * certificate the CA issues is rather than naming the probe.
 */
const probeRefused = (id: CaId, certificate: Uint8Array, ordered: readonly Uint8Array[], reason: string, message: string) => {
  const has = (der: Uint8Array, oids: readonly string[]) => new x509.X509Certificate(Uint8Array.from(der)).extensions.some((e) => oids.includes(e.type));
  const constraints = CONSTRAINING[reason];
  // certificateRejected's message ends with the subject of the certificate it refused, in parentheses.
  const named = / \((.*)\)$/su.exec(message)?.[1];
  const names = (der: Uint8Array) => {
    const subject = new x509.X509Certificate(Uint8Array.from(der)).subject;
    return named !== undefined && (named === subject || named.startsWith(`${subject}: `));
  };
  const above =
    constraints !== undefined
      ? !has(certificate, constraints) && ordered.some((der) => has(der, constraints))
      : !names(certificate) && ordered.some(names);
  const remedy = constraints !== undefined ? 'have it signed without constraints that exclude node certificates' : 'have the certificate that breaks it signed again';
  return refuse(
    above ? 'chain' : 'certificate',
    reason,
    `a certificate CA ${id} would issue (subject CN=<Node-ID>, URI SAN ${NODE_URN_PREFIX}<Node-ID>, clientAuth) fails path validation under this chain: ${reason}${above ? ' above the CA certificate' : ''}; ${remedy}`,
  );
};

/**
 * What an installed CA certificate must be (issue 13): a CA (basicConstraints cA, keyUsage keyCertSign for the
 * certificates it issues and cRLSign for its CRLs), chained to a root among `chain`, no certificate of that path with
 * an extendedKeyUsage that excludes what Credence issues, each below the root with its key identifiers, ending no
 * later than any certificate above it, and able to issue: a probe certificate signed through the Secure Environment key, exactly as a node's would be, must pass
 * RFC 5280 path validation (domain/x509) from the probe through this CA to the root at `now`. That one check covers
 * the signatures, validity periods, key identifiers, path length and name constraints of the whole chain, and that
 * the Secure Environment key is the key certified. The probe is thrown away. Returns the chain ordered nearest first.
 */
export const checkInstalledCa = async (o: {
  readonly id: CaId;
  readonly certificate: Uint8Array;
  readonly chain: readonly Uint8Array[];
  readonly signer: X509Signer;
  readonly now: Date;
  readonly random: RandomSource;
}): Promise<Uint8Array[]> => {
  const { cert } = names(o.certificate);
  if (cert.getExtension(x509.BasicConstraintsExtension)?.ca !== true) throw refuse('certificate', 'ca', 'not a CA certificate (basicConstraints cA is not set)');
  const usages = cert.getExtension(x509.KeyUsagesExtension)?.usages ?? 0;
  const needed = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;
  if ((usages & needed) !== needed) throw refuse('certificate', 'key_usage', 'keyUsage must allow keyCertSign and cRLSign (the CA signs certificates and CRLs)');
  const ordered = orderChain(o.certificate, o.chain);
  const named = [{ der: o.certificate, path: 'certificate' }, ...ordered.map((der) => ({ der, path: `chain[${o.chain.indexOf(der)}]` }))];
  checkExtendedKeyUsage(named);
  // From the top down: a certificate without a subjectKeyIdentifier leaves none below it a key id to name.
  checkKeyIdentifiers(named.slice(0, -1).reverse());
  const root = ordered[ordered.length - 1] as Uint8Array;
  const notBefore = new Date(Math.floor(o.now.getTime() / 1000) * 1000);
  const probe = await issueNodeCertificate({
    ca: { id: o.id, certificate: o.certificate, chain: ordered, signer: o.signer },
    baseUrl: 'http://probe.invalid',
    naming: { nodeId: 'credence-ca-install-probe' },
    key: { kind: o.signer.kind, bytes: o.signer.publicKey },
    validity: { notBefore, notAfter: new Date(notBefore.getTime() + 60_000) },
    serialRandom: o.random(SERIAL_LENGTH),
  });
  if (!probe.ok) throw refuse('certificate', 'validity', `the CA certificate, or one above it, is not valid now (${probe.reason})`);
  await verifyCertificateChain([probe.der, o.certificate, ...ordered.slice(0, -1)], TrustAnchors.fromDer([root]), o.now).catch((error: unknown) => {
    if (error instanceof CredenceError && error.problem.code === 'bad_signature') throw probeRefused(o.id, o.certificate, ordered, error.problem.reason, error.problem.message);
    throw error;
  });
  // After the probe: a certificate above it that has already ended is refused by path validation, as not valid now.
  checkEndsWithinChain(o.certificate, ordered);
  return ordered;
};
