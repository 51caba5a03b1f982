import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as pkijs from 'pkijs';
import { isSelfIssued, signedBy, type ParsedCertificate } from './certificate.ts';
import type { CandidatePath } from './path-building.ts';
import { checkIssuerKey, checkLeafPurpose, checkProfile, isCa } from './profile.ts';
import { checkExtensionsReadable } from './readable-extensions.ts';
import { certificateRejected, type CertificateRejection } from './rejection.ts';


export const checkValidity = (cert: x509.X509Certificate, at: Date): void => {
  if (at < cert.notBefore) throw certificateRejected('certificate_not_yet_valid', cert.subject);
  if (at > cert.notAfter) throw certificateRejected('certificate_expired', cert.subject);
};

/** RFC 5280 4.2.1.1 / 4.2.1.2: issued certificates name their issuer's key, and that must be the key that is there. */
const checkKeyIdentifiers = (subject: ParsedCertificate, issuer: ParsedCertificate, issuerIsAnchor: boolean): void => {
  const aki = subject.cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
  const ski = issuer.cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  if (aki === undefined || (ski === undefined && !issuerIsAnchor)) throw certificateRejected('missing_key_identifier', subject.cert.subject);
  if (ski !== undefined && aki.toLowerCase() !== ski.toLowerCase()) throw certificateRejected('key_identifier_mismatch', subject.cert.subject);
};

/** 6.1.4 (l), (m): each CA's pathLenConstraint bounds the non-self-issued intermediates below it. */
const checkPathLength = (all: readonly ParsedCertificate[], j: number): void => {
  const limit = all[j]?.cert.getExtension(x509.BasicConstraintsExtension)?.pathLength;
  if (limit === undefined) return;
  const below = all.slice(1, j).filter((c) => !isSelfIssued(c)).length;
  if (below > limit) throw certificateRejected('path_length_exceeded', all[j]?.cert.subject ?? '');
};

/**
 * The anchor's own name constraints. Its extensions were found readable (checkExtensionsReadable): a value pkijs
 * could not parse comes back as an empty NameConstraints with `parsingError`, which must never read as "no subtrees".
 */
const nameConstraintsOf = (anchor: ParsedCertificate) => {
  const extension = anchor.pki.extensions?.find((e) => e.extnID === '2.5.29.30');
  if (extension === undefined) return { permitted: [], excluded: [] };
  const value = extension.parsedValue as (pkijs.NameConstraints & { parsingError?: string }) | undefined;
  if (!(value instanceof pkijs.NameConstraints) || value.parsingError !== undefined) throw certificateRejected('malformed_certificate', `${anchor.cert.subject}: extension 2.5.29.30 not its ASN.1 type`);
  return { permitted: value.permittedSubtrees ?? [], excluded: value.excludedSubtrees ?? [] };
};

const engineRejection = (code: number | undefined): CertificateRejection => {
  if (code === 21 || code === 41 || code === 42) return 'name_constraints_violated';
  if (code === 0 || code === 98 || code === 99) return 'policy_constraints_violated';
  return 'path_validation_failed';
};

/**
 * Name constraints (6.1.3 (b), (c), 6.1.4 (g)) and certificate policies with policy constraints, policy mappings and
 * inhibitAnyPolicy (6.1.3 (d)-(f), 6.1.4 (a)-(b), (h)-(j), 6.1.5) by pkijs's CertificateChainValidationEngine, on the
 * path already built and verified here: its issuer search is replaced by that path, so it verifies no signature
 * (its crypto engine lacks Ed25519) and cannot recurse. The anchor's own name constraints are its initial subtrees.
 */
const checkPoliciesAndNames = async (all: readonly ParsedCertificate[], at: Date): Promise<void> => {
  const pkis = all.map((c) => c.pki);
  const anchor = pkis[pkis.length - 1] as pkijs.Certificate;
  const issuerOf = new Map(pkis.slice(0, -1).map((c, i) => [c, pkis[i + 1] as pkijs.Certificate]));
  const { permitted, excluded } = nameConstraintsOf(all[all.length - 1] as ParsedCertificate);
  const engine = new pkijs.CertificateChainValidationEngine({
    trustedCerts: [anchor],
    certs: [...pkis.slice(1, -1), pkis[0] as pkijs.Certificate], // the engine takes the last one as the leaf
    checkDate: at,
    findIssuer: async (cert) => {
      const issuer = issuerOf.get(cert);
      return issuer ? [issuer] : [];
    },
  });
  let result: pkijs.CertificateChainValidationEngineVerifyResult;
  try {
    result = await engine.verify({ initialPermittedSubtreesSet: permitted, initialExcludedSubtreesSet: excluded });
  } catch {
    throw certificateRejected('path_validation_failed', all[0]?.cert.subject ?? 'leaf');
  }
  if (!result.result) throw certificateRejected(engineRejection(result.resultCode), all[0]?.cert.subject ?? 'leaf');
};

/**
 * RFC 5280 section 6.1 over one candidate path, leaf first and the anchor last. Throws the first rule broken as a
 * typed rejection; returns when the path is valid for the IDevID purpose at `at`.
 */
export const validatePath = async ({ certs, anchor }: CandidatePath, at: Date): Promise<void> => {
  const all = [...certs, anchor];
  // First: every later rule, and pkijs's engine, reads these extensions, and must not read an unreadable one as absent.
  for (const c of all) checkExtensionsReadable(c);
  for (const c of all) {
    checkValidity(c.cert, at); // 6.1.3 (a)(2)
    checkProfile(c);
  }
  checkLeafPurpose(certs[0] as ParsedCertificate);
  for (let j = 1; j < all.length; j++) {
    const issuer = all[j] as ParsedCertificate;
    const subject = all[j - 1] as ParsedCertificate;
    const isAnchor = j === all.length - 1;
    if (!isCa(issuer.cert)) throw certificateRejected('issuer_not_ca', issuer.cert.subject); // 6.1.4 (k), (n)
    if (!isAnchor && issuer.cert.getExtension(x509.BasicConstraintsExtension)?.critical !== true) {
      throw certificateRejected('basic_constraints_not_critical', issuer.cert.subject);
    }
    checkIssuerKey(issuer);
    checkKeyIdentifiers(subject, issuer, isAnchor);
    if (!(await signedBy(subject.cert, issuer.cert))) throw certificateRejected('bad_certificate_signature', subject.cert.subject); // 6.1.3 (a)(1)
    checkPathLength(all, j);
  }
  await checkPoliciesAndNames(all, at);
};
