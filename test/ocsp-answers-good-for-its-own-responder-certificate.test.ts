import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openCommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { OcspResponder } from '../adapters/runtime/pki-ocsp-responder.ts';
import { pkiProjection } from '../projections/pki/index.ts';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { PKI_TEST_URL } from './support/pki-instance.ts';
import { testCa, testLeaf, testResponder, type TestLeaf } from './support/pki-test-ca.ts';

/*
 * Review 306: the responder's own certificate (its serial in `<ca>.ocsp.json`) was answered `unknown`, though the CA
 * issued it. It carries id-pkix-ocsp-nocheck and is never revoked: `good`. A certificate the CA never issued stays
 * `unknown`.
 */
describe("the OCSP responder asked about its own certificate", () => {
  it('answers good for it, unknown for a certificate of the CA it does not know', async () => {
    const ca = await testCa('default', 'p256');
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    pkiProjection().setup?.(db);
    const reads = openCommittedReadModel(db);
    const credential = await testResponder(ca);
    const responder = new OcspResponder({ reads, ca, credential: () => credential, now: Date.now });
    try {
      const own = await responder.respond(await ocspRequest({ der: credential.certificate } as TestLeaf, ca));
      expect([own.outcome, ocspStatus(own.der), own.cacheable]).toEqual(['successful', 'good', true]);
      const stranger = await responder.respond(await ocspRequest(await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'meter-1' }), ca));
      expect([stranger.outcome, ocspStatus(stranger.der)]).toEqual(['successful', 'unknown']);
    } finally {
      reads.close();
      db.close();
    }
  }, 60_000);
});
