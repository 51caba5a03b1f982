import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { sameBytes, type ParsedCertificate } from './certificate.ts';
import { certificateRejected } from './rejection.ts';

/** Extensions whose semantics path validation processes; any other one marked critical is refused (RFC 5280 6.1.4 (o)). */
export const PROCESSED_EXTENSIONS: ReadonlySet<string> = new Set([
  '2.5.29.14', // subjectKeyIdentifier
  '2.5.29.15', // keyUsage
  '2.5.29.17', // subjectAltName (critical when the subject is empty, 4.2.1.6)
  '2.5.29.19', // basicConstraints
  '2.5.29.30', // nameConstraints
  '2.5.29.32', // certificatePolicies
  '2.5.29.33', // policyMappings
  '2.5.29.35', // authorityKeyIdentifier
  '2.5.29.36', // policyConstraints
  '2.5.29.37', // extKeyUsage
  '2.5.29.54', // inhibitAnyPolicy
]);

/**
 * The certificate profile of RFC 5280 section 4, for every certificate of a path including the anchor: version 3
 * (4.1.2.1), a positive serial number of at most 20 octets (4.1.2.2), the same signature algorithm inside and outside
 * the signed part (4.1.1.2), each extension at most once (4.2), and no critical extension left unprocessed (6.1.4 (o)).
 */
export const checkProfile = (c: ParsedCertificate): void => {
  const name = c.cert.subject;
  if (c.raw.version !== 2) throw certificateRejected('bad_version', name);
  const serial = c.raw.serial;
  const positive = serial.length > 0 && ((serial[0] ?? 0) & 0x80) === 0 && serial.some((b) => b !== 0);
  const octets = serial[0] === 0 && serial.length > 1 ? serial.length - 1 : serial.length;
  if (!positive || octets > 20) throw certificateRejected('bad_serial_number', name);
  if (!sameBytes(c.raw.innerAlgorithm, c.raw.outerAlgorithm)) throw certificateRejected('signature_algorithm_mismatch', name);
  const ids = (c.pki.extensions ?? []).map((e) => e.extnID);
  if (new Set(ids).size !== ids.length) throw certificateRejected('duplicate_extension', name);
  for (const e of c.pki.extensions ?? []) {
    if (e.critical && !PROCESSED_EXTENSIONS.has(e.extnID)) throw certificateRejected('unknown_critical_extension', name);
  }
};

const RSA = '1.2.840.113549.1.1.1';
const EC = '1.2.840.10045.2.1';
const ED25519 = '1.3.101.112';
const MIN_RSA_BITS = 2048;
/** P-256, P-384, P-521. */
const CURVES: ReadonlySet<string> = new Set(['1.2.840.10045.3.1.7', '1.3.132.0.34', '1.3.132.0.35']);

const rsaBits = (modulus: asn1js.Integer): number => {
  const view = modulus.valueBlock.valueHexView;
  let i = 0;
  while (i < view.length && view[i] === 0) i++;
  const top = view[i] ?? 0;
  return top === 0 ? 0 : (view.length - i - 1) * 8 + (32 - Math.clz32(top));
};

/** Issuer keys must be at least RSA-2048, P-256 (or P-384, P-521) or Ed25519: a weaker key signs nothing we trust. */
export const checkIssuerKey = (c: ParsedCertificate): void => {
  const spki = c.pki.subjectPublicKeyInfo;
  const oid = spki.algorithm.algorithmId;
  const params = spki.algorithm.algorithmParams as unknown;
  const strong =
    oid === ED25519 ||
    (oid === EC && params instanceof asn1js.ObjectIdentifier && CURVES.has(params.valueBlock.toString())) ||
    (oid === RSA && spki.parsedKey instanceof pkijs.RSAPublicKey && rsaBits(spki.parsedKey.modulus) >= MIN_RSA_BITS);
  if (!strong) throw certificateRejected('weak_issuer_key', c.cert.subject);
};

/** CA: basicConstraints cA=true and, where keyUsage is present, keyCertSign (4.2.1.9, 4.2.1.3). */
export const isCa = (cert: x509.X509Certificate): boolean => {
  const constraints = cert.getExtension(x509.BasicConstraintsExtension);
  const usages = cert.getExtension(x509.KeyUsagesExtension);
  return constraints?.ca === true && (usages === null || (usages.usages & x509.KeyUsageFlags.keyCertSign) !== 0);
};

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_EKU = '2.5.29.37.0';

/**
 * The leaf is used by the device to authenticate to the Enrolment Function: an end-entity certificate (not a CA),
 * whose keyUsage, where present, allows digitalSignature and whose extKeyUsage, where present, allows clientAuth.
 */
export const checkLeafPurpose = (c: ParsedCertificate): void => {
  const name = c.cert.subject;
  const constraints = c.cert.getExtension(x509.BasicConstraintsExtension);
  const usages = c.cert.getExtension(x509.KeyUsagesExtension);
  if (constraints?.ca === true || (usages !== null && (usages.usages & x509.KeyUsageFlags.keyCertSign) !== 0)) {
    throw certificateRejected('leaf_is_ca', name);
  }
  if (usages !== null && (usages.usages & x509.KeyUsageFlags.digitalSignature) === 0) throw certificateRejected('leaf_key_usage', name);
  const extended = c.cert.getExtension(x509.ExtendedKeyUsageExtension);
  if (extended !== null && !extended.usages.some((u) => u === CLIENT_AUTH || u === ANY_EKU)) {
    throw certificateRejected('leaf_extended_key_usage', name);
  }
};
