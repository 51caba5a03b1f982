import { afterAll, describe, expect, it } from 'vitest';
import { toBase64url } from '../domain/crypto/index.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import { verifyCertificationRequest } from '../domain/x509/issuance/index.ts';
import { certificateToIssue } from '../adapters/protocols/enrolment/certificate-issuance.ts';
import { seededRandom } from './crypto-fixtures.ts';
import { hasOpenssl, OpenSslDir } from './support/openssl.ts';

/*
 * Found in review 287 (4): a CSR of a P-384 key, or of a P-256 key with a compressed point, was refused
 * `unsupported_key: key algorithm "1.2.840.10045.2.1"`, the id-ecPublicKey OID a supported P-256 key carries too: the
 * node's operator could not tell what was wrong with the key. The refusal now names the curve (its OID, and its name
 * where known) and the point's form, and what is accepted. CSRs made by `openssl req`.
 */
const files = new OpenSslDir('credence-csr-curve-');
afterAll(() => files.remove());

const ACCEPTED = 'only P-256 (prime256v1) with an uncompressed point is accepted';

const ecKey = async (name: string, curve: string, extra: readonly string[] = []): Promise<string> => {
  await files.ok(['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`, ...extra, '-out', name]);
  return files.file(name);
};

const refusalOf = (csr: Uint8Array): { problem?: { code: string; reason: string; message: string } } => {
  try {
    certificateToIssue({ issuingCa: () => ({ id: 'default' }) as unknown as IssuingCa, baseUrl: () => 'https://credence.example' }, seededRandom('curve'), {
      csr: toBase64url(csr),
      credentialKey: { kind: 'p256', bytes: new Uint8Array(65) },
      nodeId: 'meter-9',
      serviceParameters: {},
      validity: { notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2027-01-01T00:00:00.000Z' },
    });
  } catch (error) {
    return error as { problem?: { code: string; reason: string; message: string } };
  }
  throw new Error('expected the CSR to be refused');
};

describe.runIf(hasOpenssl())('a CSR whose EC key is not P-256 with an uncompressed point', () => {
  it.each([
    ['a P-384 key', () => ecKey('p384.pem', 'P-384'), `EC key on secp384r1 (1.3.132.0.34); ${ACCEPTED}`],
    ['a secp256k1 key', () => ecKey('k1.pem', 'secp256k1'), `EC key on secp256k1 (1.3.132.0.10); ${ACCEPTED}`],
    [
      'a P-256 key with a compressed point',
      async () => {
        const key = await ecKey('p256-full.pem', 'P-256');
        await files.ok(['ec', '-in', key, '-conv_form', 'compressed', '-out', 'p256-compressed.pem']);
        return files.file('p256-compressed.pem');
      },
      `EC key on prime256v1 (1.2.840.10045.3.1.7) with a compressed point; ${ACCEPTED}`,
    ],
    [
      'a P-256 key with explicit curve parameters',
      () => ecKey('p256-explicit.pem', 'P-256', ['-pkeyopt', 'ec_param_enc:explicit']),
      `EC key with explicit curve parameters, not a named curve; ${ACCEPTED}`,
    ],
  ] as const)('%s is refused unsupported_key naming the curve and the point form', async (_what, key, detail) => {
    const csr = await files.csr(await key(), '/CN=meter-9');
    const checked = verifyCertificationRequest(csr);
    expect(checked).toEqual({ ok: false, reason: 'unsupported_key', detail });
    // The node's operator reads it in the protocol refusal.
    const refused = refusalOf(csr);
    expect(refused.problem).toMatchObject({ code: 'protocol', reason: 'unsupported' });
    expect(refused.problem?.message).toContain(`csr: unsupported_key: ${detail}`);
  });

  it('an RSA key is still refused naming its algorithm', async () => {
    const checked = verifyCertificationRequest(await files.csr(await files.genkey('rsa.pem', 'rsa'), '/CN=meter-9'));
    expect(checked).toMatchObject({ ok: false, reason: 'unsupported_key' });
    expect(!checked.ok && checked.detail).toContain('"1.2.840.113549.1.1.1"');
  });

  it('a P-256 key with an uncompressed point passes', async () => {
    expect(verifyCertificationRequest(await files.csr(await ecKey('p256.pem', 'P-256'), '/CN=meter-9')).ok).toBe(true);
  });
});
