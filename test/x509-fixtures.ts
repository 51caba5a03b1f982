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

const caExtensions = () => [
  new x509.BasicConstraintsExtension(true, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
];

export const der = (cert: x509.X509Certificate): Uint8Array => new Uint8Array(cert.rawData);

export const rootCa = async (name = 'CN=Acme Meters Manufacturer Root CA, O=Acme', notBefore = '2020-01-01', notAfter = '2045-01-01'): Promise<Issuer> => {
  const keys = (await subtle.generateKey(ECDSA, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: (serial++).toString(16).padStart(2, '0'),
    name,
    notBefore: new Date(notBefore),
    notAfter: new Date(notAfter),
    keys,
    signingAlgorithm: ECDSA,
    extensions: caExtensions(),
  });
  return { cert, keys };
};

export interface IssueOptions {
  readonly subject: string;
  readonly publicKey: webcrypto.CryptoKey;
  readonly notBefore?: string;
  readonly notAfter?: string;
  readonly ca?: boolean;
  /** Sign with this key while naming `issuer` as the issuer (a forged certificate). */
  readonly signingKey?: webcrypto.CryptoKey;
}

export const issue = async (issuer: Issuer, options: IssueOptions): Promise<x509.X509Certificate> =>
  x509.X509CertificateGenerator.create({
    serialNumber: (serial++).toString(16).padStart(2, '0'),
    subject: options.subject,
    issuer: issuer.cert.subject,
    notBefore: new Date(options.notBefore ?? '2021-01-01'),
    notAfter: new Date(options.notAfter ?? '2041-01-01'),
    publicKey: options.publicKey,
    signingKey: options.signingKey ?? issuer.keys.privateKey,
    signingAlgorithm: ECDSA,
    extensions: options.ca ? caExtensions() : [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });

export const intermediateCa = async (root: Issuer, name: string, notAfter?: string): Promise<Issuer> => {
  const keys = (await subtle.generateKey(ECDSA, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await issue(root, { subject: name, publicKey: keys.publicKey, ca: true, ...(notAfter ? { notAfter } : {}) });
  return { cert, keys };
};

/** Imports a raw public key (e.g. from a Secure Environment) so a CA can certify it. */
export const importPublicKey = async (kind: 'ed25519' | 'p256', raw: Uint8Array): Promise<webcrypto.CryptoKey> =>
  subtle.importKey('raw', raw, kind === 'p256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'Ed25519' }, true, ['verify']);

export const freshKey = async (): Promise<webcrypto.CryptoKey> =>
  ((await subtle.generateKey(ECDSA, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair).publicKey;
