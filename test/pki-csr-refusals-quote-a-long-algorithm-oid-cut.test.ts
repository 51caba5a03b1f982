/**
 * A CSR refusal explains, it does not echo (adversarial review, D6): a signature algorithm or key algorithm OID of
 * thousands of arcs (it fits in MAX_CSR_LENGTH) was quoted whole, 5,898 characters, in the `protocol` error. The rule
 * is domain/protocols/protocol.ts's: a detail explains the refusal and quotes at most a cut of the input.
 */
import { describe, expect, it } from 'vitest';
import { toBase64url } from '../domain/crypto/index.ts';
import { MAX_CSR_LENGTH } from '../domain/crypto/sizes.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import { verifyCertificationRequest } from '../domain/x509/issuance/index.ts';
import { certificateToIssue } from '../adapters/protocols/enrolment/certificate-issuance.ts';
import { seededRandom } from './crypto-fixtures.ts';
import { handMadeCsr } from './pki-csr-hand-made.ts';

/** 1.2 followed by 2,900 arcs of 1: 5,803 characters as text, about 2.9 KB encoded. */
const LONG_OID = `1.2${'.1'.repeat(2900)}`;

const refusalOf = (csr: Uint8Array): unknown => {
  try {
    certificateToIssue({ issuingCa: () => ({ id: 'ca-1' }) as unknown as IssuingCa, baseUrl: () => 'https://credence.example' }, seededRandom('d6'), {
      csr: toBase64url(csr),
      credentialKey: { kind: 'ed25519', bytes: new Uint8Array(32) },
      nodeId: 'meter-7',
      serviceParameters: {},
      validity: { notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2027-01-01T00:00:00.000Z' },
    });
  } catch (error) {
    return error;
  }
  throw new Error('expected the CSR to be refused');
};

describe('a CSR refusal quotes at most a cut of the algorithm OID it names', () => {
  it.each([
    ['signature algorithm', { signatureAlgorithm: LONG_OID }, 'unsupported_signature_algorithm'],
    ['key algorithm', { keyAlgorithm: LONG_OID }, 'unsupported_key'],
  ] as const)('a %s OID of 2,900 arcs is refused with a detail of at most 120 characters', (_what, shape, reason) => {
    const csr = handMadeCsr(shape);
    expect(csr.byteLength).toBeLessThanOrEqual(MAX_CSR_LENGTH);
    const checked = verifyCertificationRequest(csr);
    expect(checked).toMatchObject({ ok: false, reason });
    expect(!checked.ok && checked.detail.length).toBeLessThanOrEqual(120);
    expect(!checked.ok && checked.detail).toContain('"1.2.1.1.1');

    const refused = refusalOf(csr) as { problem?: { code: string; reason: string; message: string } };
    expect(refused.problem).toMatchObject({ code: 'protocol', reason: 'unsupported' });
    expect(refused.problem?.message.length).toBeLessThanOrEqual(200);
  });
});
