import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { caFilePath, createRootCa, loadIssuingCas, renewRootCa, seSigner } from '../adapters/driven/pki/index.ts';
import { systemRandom } from '../adapters/runtime/index.ts';
import { toBase64url } from '../domain/crypto/base64url.ts';
import { ownerView } from '../domain/ports/index.ts';
import { TrustAnchors, verifyCertificateChain } from '../domain/x509/index.ts';
import { issueNodeCertificate, issuerOf, selfSignedCaCertificate, serialFromRandom } from '../domain/x509/issuance/index.ts';
import { memorySecureEnvironment, seededRandom } from './crypto-fixtures.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Found in review 231: `ca renew` gave a root a certificate valid from the moment of renewal, so every certificate it
 * had issued before began before its issuer (meter-2 from 02:28:09, the root renewed at 02:31:04 from 02:31:04).
 * Validators that require each certificate's validity within its issuer's refuse such a path; Credence refuses it
 * for what it issues (`ca_not_yet_valid`) and for its OCSP responder (review 203). The renewed root now keeps the
 * start of the root's first certificate, and only its end moves.
 */
const folder = temporaryFolders('credence-ca-renew-start-');
const MINUTE = 60_000;
const DAY = 86_400_000;
const T0 = Math.floor(Date.now() / 1000) * 1000 - 10 * MINUTE;

const setUp = async (name: string) => {
  const dataDir = folder();
  const se = ownerView(memorySecureEnvironment(name, () => new Date(T0 + 9 * MINUTE)), 'maf:infrastructure');
  await createRootCa({ dataDir, se, id: 'default', kind: 'p256', now: new Date(T0), random: systemRandom, validityDays: 30 });
  return { dataDir, se };
};

/** A node certificate the folder's root issues from `at` for a day. */
const issueAt = async (dataDir: string, se: Awaited<ReturnType<typeof setUp>>['se'], at: number, nodeId: string) => {
  const [ca] = await loadIssuingCas(dataDir, se);
  const key = await se.generate('p256', { usage: 'sign' });
  const issued = await issueNodeCertificate({
    ca: ca!, baseUrl: 'https://credence.example', naming: { nodeId },
    key: { kind: 'p256', bytes: (await se.describe(key)).publicKey! },
    validity: { notBefore: new Date(at), notAfter: new Date(at + DAY) }, serialRandom: seededRandom(`renew-start-${nodeId}`)(16),
  });
  if (!issued.ok) throw new Error(`not issued: ${issued.reason}`);
  return issued.der;
};

const rootOf = async (dataDir: string, se: Awaited<ReturnType<typeof setUp>>['se']) => (await loadIssuingCas(dataDir, se))[0]!.certificate;

describe('a renewed root', () => {
  it('keeps its start, so a certificate it issued before the renewal lies within it and validates under it', async () => {
    const { dataDir, se } = await setUp('renew-keeps-start');
    const first = issuerOf(await rootOf(dataDir, se));
    const node = await issueAt(dataDir, se, T0 + 3 * MINUTE, 'meter-2');

    await renewRootCa({ dataDir, se, id: 'default', validityDays: 60, now: new Date(T0 + 6 * MINUTE), random: systemRandom });
    const root = await rootOf(dataDir, se);
    const renewed = issuerOf(root);
    expect(renewed.notBefore.getTime()).toBe(first.notBefore.getTime());
    expect(renewed.notBefore.getTime()).toBeLessThanOrEqual(issuerOf(node).notBefore.getTime());
    // Only the end moves: N days from the renewal
    expect(renewed.notAfter.getTime()).toBe(T0 + 6 * MINUTE + 60 * DAY);
    const verified = await verifyCertificateChain([node], TrustAnchors.fromDer([root]), new Date(T0 + 7 * MINUTE));
    expect(verified.subject).toContain('meter-2');

    // A second renewal keeps it too
    await renewRootCa({ dataDir, se, id: 'default', validityDays: 90, now: new Date(T0 + 8 * MINUTE), random: systemRandom });
    expect(issuerOf(await rootOf(dataDir, se)).notBefore.getTime()).toBe(first.notBefore.getTime());
  });

  it('goes back to when the CA was made when an earlier renewal had moved its start', async () => {
    const { dataDir, se } = await setUp('renew-repairs-start');
    const node = await issueAt(dataDir, se, T0 + 1 * MINUTE, 'meter-3');
    // As `ca renew` left a root before review 231: re-signed from the renewal, after what it had issued
    const path = caFilePath(dataDir, 'default');
    const file = JSON.parse(readFileSync(path, 'utf8')) as { keyHandle: string; certificate: string };
    const current = (await loadIssuingCas(dataDir, se))[0]!.certificate;
    const moved = await selfSignedCaCertificate({
      name: issuerOf(current).name, signer: await seSigner(se, file.keyHandle as never, 'p256'),
      serial: serialFromRandom(seededRandom('moved')(16)), notBefore: new Date(T0 + 2 * MINUTE), notAfter: new Date(T0 + 40 * DAY),
    });
    writeFileSync(path, JSON.stringify({ ...file, certificate: toBase64url(moved) }));

    await renewRootCa({ dataDir, se, id: 'default', validityDays: 60, now: new Date(T0 + 6 * MINUTE), random: systemRandom });
    const renewed = issuerOf(await rootOf(dataDir, se));
    expect(renewed.notBefore.getTime()).toBe(T0);
    expect(renewed.notBefore.getTime()).toBeLessThanOrEqual(issuerOf(node).notBefore.getTime());
  });
});
