import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { createRootCa } from '../../adapters/driven/pki/index.ts';
import { openDataFolderSecureEnvironment, systemRandom, type Credence, type PkiRevocation } from '../../adapters/runtime/index.ts';
import { command } from '../../domain/commands/index.ts';
import { publicKeyFingerprint, toBase64url } from '../../domain/crypto/index.ts';
import { ownerView } from '../../domain/ports/index.ts';
import { certificateSummary } from '../../domain/x509/issuance/index.ts';
import { operator, profile } from './fleet.ts';
import { startTestService, type TestService } from './service.ts';
import { generateSigningKey, sign } from '../../domain/crypto/index.ts';
import {
  endEntityCertificate,
  KEY_PURPOSE,
  nameOf,
  selfSignedCaCertificate,
  serialFromRandom,
  SERIAL_LENGTH,
  x509Signature,
} from '../../domain/x509/issuance/index.ts';
import { pkiUrls, type CaKeyKind, type IssuingCa, type X509Signer } from '../../domain/x509/issuing-ca.ts';
import { serialHexOf } from '../../domain/x509/revocation/index.ts';
import type { OcspResponderCredential } from '../../adapters/driven/pki/ocsp-signing-key.ts';
import { issueOcspSigningCertificate, keyHash } from '../../domain/x509/revocation/index.ts';
import { pem } from './openssl.ts';

/**
 * A CA for revocation tests whose key is a plain in-memory key (@noble/curves through domain/crypto), not a Secure
 * Environment one: the CRL and OCSP code sees only the X509Signer port, exactly as with an SE-backed CA.
 */
export const testSigner = (kind: CaKeyKind): X509Signer => {
  const { secretKey, publicKey } = generateSigningKey(kind, (n) => new Uint8Array(randomBytes(n)));
  return { kind, publicKey, sign: async (tbs) => x509Signature(kind, sign(kind, secretKey, tbs)) };
};

const COMMON_NAME = '2.5.4.3';
const wholeSecond = (ms: number): Date => new Date(Math.floor(ms / 1000) * 1000);
const DAY = 86_400_000;

export const testCa = async (id = 'default', kind: CaKeyKind = 'p256', now = Date.now()): Promise<IssuingCa & { readonly pem: string }> => {
  const signer = testSigner(kind);
  const certificate = await selfSignedCaCertificate({
    name: nameOf([{ type: COMMON_NAME, value: `Credence test CA ${id}` }]),
    signer,
    serial: serialFromRandom(new Uint8Array(randomBytes(SERIAL_LENGTH))),
    notBefore: wholeSecond(now - DAY),
    notAfter: wholeSecond(now + 365 * DAY),
  });
  return { id, certificate, chain: [], signer, pem: pem('CERTIFICATE', certificate) };
};

/** A P-256 key made by node:crypto: its raw public key for the certificate and its PEM for TLS. */
const p256Key = (): { bytes: Uint8Array; privateKey: KeyObject; keyPem: string } => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const bytes = new Uint8Array([4, ...Buffer.from(jwk.x!, 'base64url'), ...Buffer.from(jwk.y!, 'base64url')]);
  return { bytes, privateKey, keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
};

export interface TestLeaf {
  readonly der: Uint8Array;
  readonly pem: string;
  readonly keyPem: string;
  /** The event form of its serial number. */
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** An end-entity certificate of `ca` (clientAuth for a device, serverAuth for a TLS server), with CDP and AIA at `baseUrl`. */
export const testLeaf = async (
  ca: IssuingCa,
  options: { readonly baseUrl: string; readonly name: string; readonly purpose?: 'client' | 'server'; readonly now?: number; readonly validityMs?: number },
): Promise<TestLeaf> => {
  const key = p256Key();
  const serial = serialFromRandom(new Uint8Array(randomBytes(SERIAL_LENGTH)));
  const now = options.now ?? Date.now();
  const notBefore = wholeSecond(now - 60_000);
  const notAfter = wholeSecond(now + (options.validityMs ?? 30 * DAY));
  const server = options.purpose === 'server';
  const der = await endEntityCertificate({
    ca,
    serial,
    subject: nameOf([{ type: COMMON_NAME, value: options.name }]),
    subjectEmpty: false,
    subjectKey: { kind: 'p256', bytes: key.bytes },
    uris: server ? [] : [`urn:example:node:${options.name}`],
    notBefore,
    notAfter,
    purposes: [server ? KEY_PURPOSE.serverAuth : KEY_PURPOSE.clientAuth],
    urls: pkiUrls(options.baseUrl, ca.id),
  });
  return { der, pem: pem('CERTIFICATE', der), keyPem: key.keyPem, serialNumber: serialHexOf(serial), notBefore, notAfter };
};

/** A delegated OCSP responder credential for `ca` with an in-memory key. */
export const testResponder = async (ca: IssuingCa, now = Date.now()): Promise<Omit<OcspResponderCredential, 'notBefore' | 'notAfter'> & { readonly pem: string }> => {
  const signer = testSigner(ca.signer.kind);
  const certificate = await issueOcspSigningCertificate({
    ca,
    serial: serialFromRandom(new Uint8Array(randomBytes(SERIAL_LENGTH))),
    commonName: `Credence test OCSP responder ${ca.id}`,
    responderKey: { kind: signer.kind, bytes: signer.publicKey },
    notBefore: wholeSecond(now - 60_000),
    notAfter: wholeSecond(now + 7 * DAY),
  });
  return { kind: signer.kind, certificate, keyHash: keyHash(signer.publicKey), sign: (tbs) => signer.sign(tbs), pem: pem('CERTIFICATE', certificate) };
};

/** The raw P-256 public key inside a leaf certificate (what the credential records as its public key). */
export const leafPublicKey = (der: Uint8Array): Uint8Array => {
  const spki = pkijs.Certificate.fromBER(Uint8Array.from(der)).subjectPublicKeyInfo;
  return spki.subjectPublicKey.valueBlock.valueHexView.slice();
};

/**
 * The end of the credential a certificate ending at `certificateNotAfter` is recorded for: one second later, as the
 * certificate's inclusive notAfter is the last whole second of the credential's half-open window (certificateValidityOf).
 */
const credentialEnd = (certificateNotAfter: Date): Date => new Date(certificateNotAfter.getTime() + 1000);

/**
 * The issueCredential data recording the P-256 certificate `der` (of CA `caId`) for `credentialId`: the key and the
 * validity it derives from (credentialEnd), and `certificate` as given (default: its true summary).
 */
export const certifiedCredentialData = (credentialId: string, der: Uint8Array, caId = 'default', certificate?: Record<string, unknown>) => {
  const key = leafPublicKey(der);
  const { notBefore, notAfter } = pkijs.Certificate.fromBER(Uint8Array.from(der));
  return {
    credentialId,
    kind: 'p256',
    purpose: 'service',
    owner: { kind: 'node', id: 'meter-1' },
    publicKey: toBase64url(key),
    fingerprint: publicKeyFingerprint('p256', key),
    notBefore: notBefore.value.toISOString(),
    notAfter: credentialEnd(notAfter.value).toISOString(),
    certificate: certificate ?? certificateSummary(der, caId),
  };
};

/**
 * A service whose data folder has a root CA made by `credence ca init`'s code (createRootCa: the key in the data
 * folder's embedded Secure Environment), started on 127.0.0.1.
 */
export const startPkiService = async (kind: CaKeyKind = 'p256', options: { readonly dir?: string } = {}): Promise<TestService> => {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'credence-pki-service-'));
  const se = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
  try {
    await createRootCa({ dataDir: dir, se: ownerView(se, 'maf:infrastructure'), id: 'default', kind, now: new Date(), random: systemRandom });
  } finally {
    se.close();
  }
  const svc = await startTestService({ dir });
  const close = svc.close.bind(svc);
  return Object.assign(svc, {
    close: async () => {
      await close();
      if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  });
};

/** The running service's PKI (its SE-backed CA, CRL publisher and OCSP responder). */
export const pkiOf = (svc: TestService): PkiRevocation => {
  const current = svc.service.context.pkiRevocation?.current;
  if (current === undefined) throw new Error('the service has no PKI revocation running');
  return current;
};

const fleetReady = new WeakSet<object>();

/**
 * A node's credential whose certificate the service's CA issued, recorded through the engine as a CredentialIssued
 * event carrying the certificate summary (issuingCa, serialNumber): what remote provisioning records.
 */
export const issueCertifiedCredential = async (svc: TestService, credentialId: string, nodeId = 'meter-1'): Promise<TestLeaf & { credentialId: string }> => {
  const issued = await issueCertifiedCredentialWith(svc.service.context.credence, pkiOf(svc).cas[0]!, svc.url, credentialId, nodeId);
  // The issue is acknowledged once stored; OCSP and CRLs know the certificate once the `pki` projection has it.
  if (!(await svc.service.context.live.caughtUp(issued.position, 30_000))) throw new Error('the live runtime did not catch up with the issue');
  return issued;
};

/** The same, on any instance: `ca` issues the certificate, `baseUrl` is where it says its status is. */
export const issueCertifiedCredentialWith = async (
  credence: Pick<Credence, 'engine'>,
  ca: IssuingCa,
  baseUrl: string,
  credentialId: string,
  nodeId = 'meter-1',
  leafOptions: { readonly validityMs?: number; readonly leaf?: TestLeaf } = {},
): Promise<TestLeaf & { credentialId: string; position: bigint }> => {
  const now = Date.now();
  const day = (n: number) => new Date(Math.floor(now / 1000) * 1000 + n * DAY).toISOString();
  if (!fleetReady.has(credence)) {
    for (const c of [
      command('createSubscription', { subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: day(-1), notAfter: day(365) }, { actor: operator }),
      command('registerNode', { nodeId, profile }, { actor: operator }),
      command('enrolNode', { nodeId, subscriptionId: 'sub-1', cseId: `/cse-${nodeId}` }, { actor: operator }),
    ]) {
      await credence.engine.execute(c);
    }
    fleetReady.add(credence);
  }
  const leaf = leafOptions.leaf ?? (await testLeaf(ca, { baseUrl, name: nodeId, ...(leafOptions.validityMs !== undefined ? { validityMs: leafOptions.validityMs } : {}) }));
  const outcome = await credence.engine.execute(
    command(
      'issueCredential',
      {
        credentialId,
        kind: 'p256',
        purpose: 'service',
        owner: { kind: 'node', id: nodeId },
        publicKey: toBase64url(leafPublicKey(leaf.der)),
        fingerprint: publicKeyFingerprint('p256', leafPublicKey(leaf.der)),
        notBefore: leaf.notBefore.toISOString(),
        notAfter: credentialEnd(leaf.notAfter).toISOString(),
        certificate: certificateSummary(leaf.der, ca.id),
      },
      { actor: operator },
    ),
  );
  return { ...leaf, credentialId, position: outcome.events[outcome.events.length - 1]!.position };
};

/** Revokes through the engine and waits until every live component (the `pki` projection included) handled it. */
export const revokeAndSettle = async (svc: TestService, credentialId: string, reason = 'keyCompromise'): Promise<void> => {
  const { credence, live } = svc.service.context;
  const outcome = await credence.engine.execute(command('revokeCredential', { credentialId, reason }, { actor: operator }));
  const position = outcome.events[outcome.events.length - 1]!.position;
  if (!(await live.caughtUp(position, 30_000))) throw new Error('the live runtime did not catch up with the revocation');
};
