import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { validationError } from '../../../domain/errors.ts';
import { constantTimeEqual } from '../../../domain/crypto/bytes.ts';
import { fromBase64url, toBase64url } from '../../../domain/crypto/base64url.ts';
import type { OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import type { CaId, IssuingCa } from '../../../domain/x509/issuing-ca.ts';
import {
  buildCertificationRequest,
  certifiedPublicKey,
  issuerOf,
  selfSignedCaCertificate,
  SERIAL_LENGTH,
  serialFromRandom,
} from '../../../domain/x509/issuance/index.ts';
import { readCaFile, writeCaFile, type CaFile } from './ca-file.ts';
import { issuingCaOf, namingMissingCaKey } from './load.ts';
import { seSigner } from './se-signer.ts';

type ActiveCa = Extract<CaFile, { state: 'active' }>;

const refuse = (path: string, rule: string, message: string) => validationError([{ path, rule, message }], 'issuing CA');

const DAY_MS = 86_400_000;
/** X.509 times are whole seconds. */
const wholeSeconds = (at: Date): Date => new Date(Math.floor(at.getTime() / 1000) * 1000);

/** The CA `id` with its certificate, or a refusal naming why there is none to renew. */
const activeCa = (dataDir: string, id: CaId): ActiveCa => {
  const file = readCaFile(dataDir, id);
  if (file === undefined) throw refuse('caId', 'exists', `no CA ${id} in ${dataDir}`);
  if (file.state !== 'active') throw refuse('caId', 'state', `CA ${id} is awaiting its first certificate: credence ca install gives it one`);
  return file;
};

/**
 * What a renewed certificate of an active CA keeps, so that every certificate and CRL it signed before still chains
 * to it (RFC 5280 6.1: issuer name and key; OpenSSL also matches the authorityKeyIdentifier to the subjectKeyIdentifier):
 * the same subject, as encoded, and the same key identifier; and what makes it a renewal: a later end.
 */
export const assertRenews = (current: Uint8Array, renewed: Uint8Array, id: CaId, path: string): void => {
  const was = issuerOf(current);
  const now = issuerOf(renewed);
  if (!constantTimeEqual(was.name, now.name)) throw refuse(path, 'same_subject', `names another subject than CA ${id}'s certificate: what it issued would no longer chain to it`);
  if (!constantTimeEqual(was.keyId, now.keyId)) {
    throw refuse(path, 'same_key_identifier', `has another subjectKeyIdentifier than CA ${id}'s certificate: what it issued names the current one`);
  }
  if (now.notAfter.getTime() <= was.notAfter.getTime()) {
    throw refuse(path, 'extends', `ends ${now.notAfter.toISOString()}, not after CA ${id}'s certificate, which ends ${was.notAfter.toISOString()}`);
  }
};

/**
 * What `ca install` adds for an active CA (review 114): a root is renewed in place (`ca renew`), never given a
 * certificate from another root, and an intermediate's renewal is signed by the CA that signed it, with that CA's
 * key and under its name (review 117: labels alone, the issuer name and the authorityKeyIdentifier, refused a renewal
 * that added an AKI and let through one of another root of the same name), so that the chain relying parties hold
 * (`chain.pem`, the trust bundle) still leads to the root they trust; above that CA, `assertSameTrustAnchor` keeps it.
 */
export const assertRenewedBySameIssuer = async (file: ActiveCa, renewed: Uint8Array): Promise<void> => {
  const [nearest] = file.chain;
  if (nearest === undefined) {
    throw refuse('caId', 'root', `CA ${file.id} is a self-signed root: credence ca renew --id ${file.id} renews it in place; a certificate from another root would change what relying parties trust`);
  }
  const issuer = new x509.X509Certificate(fromBase64url(nearest));
  const certificate = new x509.X509Certificate(Uint8Array.from(renewed));
  const sameName = Buffer.from(certificate.issuerName.toArrayBuffer()).equals(Buffer.from(issuer.subjectName.toArrayBuffer()));
  if (!sameName || !(await certificate.verify({ publicKey: issuer.publicKey, signatureOnly: true }).catch(() => false))) {
    throw refuse('certificate', 'same_issuer', `is not signed by the CA that signed CA ${file.id}'s certificate (${issuer.subject}): its renewal comes from that CA, so that what relying parties trust still leads to it`);
  }
};

/** The certificate a chain ends at, by what a relying party trusts it for: its name as encoded and its key. */
const anchorOf = (der: Uint8Array) => {
  const certificate = new x509.X509Certificate(Uint8Array.from(der));
  return { subject: certificate.subject, name: new Uint8Array(certificate.subjectName.toArrayBuffer()), key: new Uint8Array(certificate.publicKey.rawData) };
};

/**
 * Review 124: `assertRenewedBySameIssuer` pins the nearest issuer only, so a renewal's chain could go on through a
 * certificate of that issuer's key and name from another root, and `chain.pem` and the trust bundle would follow it.
 * The renewed chain (`ordered`, nearest first, as `checkInstalledCa` validated it) ends at the trust anchor the
 * current one ends at: the same name and key (RFC 5280 6.1.1 (d): a trust anchor is a name and a key), so the root
 * re-issued with the same key and subject is accepted. The levels between are left to path validation under it.
 */
export const assertSameTrustAnchor = (file: ActiveCa, ordered: readonly Uint8Array[]): void => {
  const current = file.chain[file.chain.length - 1];
  const renewed = ordered[ordered.length - 1];
  if (current === undefined || renewed === undefined) return; // a root: refused by assertRenewedBySameIssuer
  const was = anchorOf(fromBase64url(current));
  const now = anchorOf(renewed);
  const sameName = constantTimeEqual(was.name, now.name);
  if (!sameName || !constantTimeEqual(was.key, now.key)) {
    throw refuse('chain', 'same_root', `ends at ${now.subject}${sameName ? ' with another key' : ''}, not at ${was.subject}, the root CA ${file.id}'s current chain ends at: its relying parties trust that root, so its renewal leads there (that root re-issued with the same key and subject is accepted)`);
  }
};

/**
 * When a renewed root begins (review 231): when its first certificate began, not at the renewal. What it issued
 * began no earlier than that, and validators that require each certificate's validity within its issuer's (as
 * `ca_not_yet_valid` does for new issuance) would refuse all of it under a root that began later. The current
 * certificate's start, or the CA's making when that is earlier: a renewal before review 231 moved the start to its own
 * moment, after certificates the root had issued, and the root's first certificate began when the CA was made.
 */
const rootStart = (file: ActiveCa, current: Uint8Array): Date =>
  new Date(Math.min(issuerOf(current).notBefore.getTime(), wholeSeconds(new Date(file.createdAt)).getTime()));

/**
 * Renews a self-signed root in place: a new certificate of the same key and subject, a new serial, valid from the
 * root's start (`rootStart`) until `validityDays` after `now`, which must be after the current end. Its key never
 * changes, so every certificate, CRL and OCSP responder certificate it signed validates under either certificate.
 * Nothing is written when it is refused.
 */
export const renewRootCa = async (o: {
  readonly dataDir: string;
  readonly se: OwnedSecureEnvironment;
  readonly id: CaId;
  readonly validityDays: number;
  readonly now: Date;
  readonly random: RandomSource;
}): Promise<IssuingCa> => {
  const file = activeCa(o.dataDir, o.id);
  if (file.chain.length > 0) {
    throw refuse('caId', 'root', `CA ${o.id} is an intermediate: its root signs its renewal (credence ca renew --id ${o.id} --csr-out FILE, then credence ca install)`);
  }
  const current = fromBase64url(file.certificate);
  const signer = await namingMissingCaKey(file, seSigner(o.se, file.keyHandle, file.keyKind));
  const certified = certifiedPublicKey(current);
  if (certified === undefined || !constantTimeEqual(certified.bytes, signer.publicKey)) {
    throw refuse('caId', 'certifies_ca_key', `CA ${o.id}'s certificate does not certify the key its file names: it is not renewed`);
  }
  const certificate = await selfSignedCaCertificate({
    name: issuerOf(current).name,
    signer,
    serial: serialFromRandom(o.random(SERIAL_LENGTH)),
    notBefore: rootStart(file, current),
    notAfter: new Date(wholeSeconds(o.now).getTime() + o.validityDays * DAY_MS),
  });
  assertRenews(current, certificate, o.id, 'validityDays');
  const renewed = { ...file, certificate: toBase64url(certificate) };
  writeCaFile(o.dataDir, renewed, 'replace');
  return issuingCaOf(renewed, o.se);
};

/**
 * A CSR for an active intermediate's renewal: its key and its certificate's subject, signed in the Secure Environment.
 * The CA goes on issuing under its certificate until `installCaCertificate` installs the renewed one; nothing is
 * written here.
 */
export const renewalRequest = async (o: { readonly dataDir: string; readonly se: OwnedSecureEnvironment; readonly id: CaId }): Promise<Uint8Array> => {
  const file = activeCa(o.dataDir, o.id);
  if (file.chain.length === 0) throw refuse('caId', 'intermediate', `CA ${o.id} is a self-signed root: renew it without --csr-out`);
  const signer = await namingMissingCaKey(file, seSigner(o.se, file.keyHandle, file.keyKind));
  return buildCertificationRequest({ key: { kind: file.keyKind, bytes: signer.publicKey }, subject: issuerOf(fromBase64url(file.certificate)).name, uris: [], sign: signer.sign });
};
