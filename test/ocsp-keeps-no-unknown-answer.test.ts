import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryPublishedRevocations } from '../adapters/driven/pki/published-revocations.ts';
import { openCredence, systemClock, type Credence } from '../adapters/runtime/index.ts';
import { PublishedLedger } from '../adapters/runtime/pki-published.ts';
import { ocspRequest, ocspSingles, ocspStatus, ocspTimes } from './support/ocsp-client.ts';
import { ocspResponderOver, PKI_TEST_URL } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, testCa, testLeaf } from './support/pki-test-ca.ts';

/*
 * The OCSP responder cached its `unknown` answers (and let HTTP caches keep them until nextUpdate), and nothing
 * dropped them when the certificate was issued: a device whose certificate a relying party checked before the `pki`
 * read model had projected its issuance stayed `unknown` for a quarter of the validity (an hour for HTTP caches).
 * Its signed nextUpdate said an hour too, for caches that keep an answer by it (review 247).
 */
describe('an OCSP answer of unknown', () => {
  let opened: Credence;
  beforeAll(() => {
    opened = openCredence({ location: { memory: true }, clock: systemClock });
  });
  afterAll(() => opened.close());

  it('does not keep an unknown answer: a certificate issued after it was asked about is good at the next request', async () => {
    const ca = await testCa('later', 'ed25519');
    await issueCertifiedCredentialWith(opened, ca, PKI_TEST_URL, 'cred-first');
    const leaf = await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'meter-1' });
    const answering = await ocspResponderOver(opened, ca, new PublishedLedger(memoryPublishedRevocations()));
    try {
      const request = await ocspRequest(leaf, ca);
      const before = await answering.responder.respond(request);
      expect(ocspStatus(before.der)).toBe('unknown');
      expect(before.cacheable).toBe(false);
      // Nor does the signed answer tell a relying party that caches by nextUpdate (a stapling server) to keep it: one
      // second on, the least a time in whole seconds says, as a handover pending (review 247: it said an hour).
      const { producedAt } = ocspTimes(before.der);
      expect(ocspSingles(before.der)).toEqual([{ status: 'unknown', nextUpdate: producedAt + 1000 }]);
      await issueCertifiedCredentialWith(opened, ca, PKI_TEST_URL, 'cred-later', 'meter-1', { leaf });
      await opened.settle();
      expect(ocspStatus((await answering.responder.respond(request)).der)).toBe('good');
    } finally {
      answering.close();
    }
  }, 60_000);
});
