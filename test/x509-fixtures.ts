import { isCredenceError } from '../domain/errors.ts';
/** Test certificates made with @peculiar/x509 over Node's WebCrypto: a manufacturer CA, intermediates, IDevIDs. */
import { webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

const subtle = webcrypto.subtle;
const ECDSA = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
let serial = 1;

export interface Issuer {
  readonly cert: x509.X509Certificate;
  readonly keys: webcrypto.CryptoKeyPair;
}

/** Key pairs a CA may hold: the strong ones, and RSA-1024 and P-192-like weak ones for the minimum-size rule. */
export type CaKeyKind = 'p256' | 'ed25519' | 'rsa2048' | 'rsa1024';

const rsa = (modulusLength: number) => ({ name: 'RSASSA-PKCS1-v1_5', modulusLength, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' });
const generation: Record<CaKeyKind, webcrypto.AlgorithmIdentifier | webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams> = {
  p256: ECDSA,
  ed25519: { name: 'Ed25519' },
  rsa2048: rsa(2048),
  rsa1024: rsa(1024),
};

export const generateKeys = async (kind: CaKeyKind = 'p256'): Promise<webcrypto.CryptoKeyPair> =>
  (await subtle.generateKey(generation[kind], true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;

/** The signature algorithm a key signs with: ECDSA with SHA-256, Ed25519, or RSASSA-PKCS1-v1_5 with SHA-256. */
export const signingAlgorithmOf = (key: webcrypto.CryptoKey) =>
  key.algorithm.name === 'ECDSA' ? ECDSA : key.algorithm.name === 'Ed25519' ? { name: 'Ed25519' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };

export interface CaOptions {
  readonly kind?: CaKeyKind;
  readonly pathLength?: number;
  /** basicConstraints critical (RFC 5280 requires it); false to make a non-conforming CA. */
  readonly basicConstraintsCritical?: boolean;
  /** Added to the CA extensions (name constraints, policies, policy constraints ...). */
  readonly extraExtensions?: readonly x509.Extension[];
}

const caExtensions = async (publicKey: webcrypto.CryptoKey, options: CaOptions = {}): Promise<x509.Extension[]> => [
  new x509.BasicConstraintsExtension(true, options.pathLength, options.basicConstraintsCritical ?? true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
  await x509.SubjectKeyIdentifierExtension.create(publicKey),
  ...(options.extraExtensions ?? []),
];

export const der = (cert: x509.X509Certificate): Uint8Array => new Uint8Array(cert.rawData);

export const rootCa = async (
  name = 'CN=Acme Meters Manufacturer Root CA, O=Acme', notBefore = '2020-01-01', notAfter = '2045-01-01', options: CaOptions = {},
): Promise<Issuer> => {
  const keys = await generateKeys(options.kind);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: (serial++).toString(16).padStart(2, '0'),
    name,
    notBefore: new Date(notBefore),
    notAfter: new Date(notAfter),
    keys,
    signingAlgorithm: signingAlgorithmOf(keys.privateKey),
    extensions: await caExtensions(keys.publicKey, options),
  });
  return { cert, keys };
};

export interface IssueOptions extends CaOptions {
  readonly subject: string;
  readonly publicKey: webcrypto.CryptoKey;
  readonly notBefore?: string;
  readonly notAfter?: string;
  readonly ca?: boolean;
  /** Sign with this key while naming `issuer` as the issuer (a forged certificate). */
  readonly signingKey?: webcrypto.CryptoKey;
  /** Hex serial number; a fresh small one by default. */
  readonly serialNumber?: string;
  /** Replaces the default extensions (keyUsage digitalSignature for a leaf, the CA set for a CA); AKI is still added. */
  readonly extensions?: readonly x509.Extension[];
  /** Leave out the authorityKeyIdentifier. */
  readonly omitAuthorityKeyIdentifier?: boolean;
}

export const issue = async (issuer: Issuer, options: IssueOptions): Promise<x509.X509Certificate> => {
  const base = options.extensions
    ? [...options.extensions]
    : options.ca
      ? await caExtensions(options.publicKey, options)
      : [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), ...(options.extraExtensions ?? [])];
  const aki = options.omitAuthorityKeyIdentifier ? [] : [await x509.AuthorityKeyIdentifierExtension.create(issuer.cert.publicKey)];
  const signingKey = options.signingKey ?? issuer.keys.privateKey;
  return x509.X509CertificateGenerator.create({
    serialNumber: options.serialNumber ?? (serial++).toString(16).padStart(2, '0'),
    subject: options.subject,
    issuer: issuer.cert.subject,
    notBefore: new Date(options.notBefore ?? '2021-01-01'),
    notAfter: new Date(options.notAfter ?? '2041-01-01'),
    publicKey: options.publicKey,
    signingKey,
    signingAlgorithm: signingAlgorithmOf(signingKey),
    extensions: [...base, ...aki],
  });
};

export const intermediateCa = async (root: Issuer, name: string, notAfter?: string, options: CaOptions = {}): Promise<Issuer> => {
  const keys = await generateKeys(options.kind);
  const cert = await issue(root, { ...options, subject: name, publicKey: keys.publicKey, ca: true, ...(notAfter ? { notAfter } : {}) });
  return { cert, keys };
};

/** Imports a raw public key (e.g. from a Secure Environment) so a CA can certify it. */
export const importPublicKey = async (kind: 'ed25519' | 'p256', raw: Uint8Array): Promise<webcrypto.CryptoKey> =>
  subtle.importKey('raw', raw, kind === 'p256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'Ed25519' }, true, ['verify']);

export const freshKey = async (): Promise<webcrypto.CryptoKey> => (await generateKeys('p256')).publicKey;

/** Runs a chain check that must be refused; returns the rejection reason (anything else fails the test). */
export const chainRejection = async (run: () => Promise<unknown>): Promise<string> => {
  try {
    await run();
  } catch (error) {
    if (isCredenceError(error, 'bad_signature') && error.problem.code === 'bad_signature') return error.problem.reason;
    throw error;
  }
  throw new Error('expected the chain to be rejected');
};
