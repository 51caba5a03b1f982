/**
 * The OCSP answer cache was keyed by the request's raw bytes (security review, F1, reachable without a token): one
 * good certificate's serial (public) and a non-critical request extension whose payload changed every time made
 * every request a new entry, 1,710 B of heap each up to the 100,000 cap, all under one serial, pushing out the
 * answers cached for other certificates (each then signed again); and an entry past its freshness stayed until pushed
 * out. It is keyed by what decides the answer, the CertID (RFC 6960 4.1.1), and serves an answer only to a request
 * naming that CertID with the same bytes (4.2.1: the SingleResponse carries the CertID as asked).
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryPublishedRevocations } from '../adapters/driven/pki/published-revocations.ts';
import { openCredence, systemClock, type Credence } from '../adapters/runtime/index.ts';
import { openCommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { MAX_CACHED_PER_SERIAL, MAX_REMEMBERED_OCSP_REQUESTS } from '../adapters/runtime/pki-ocsp-cache.ts';
import { OcspResponder } from '../adapters/runtime/pki-ocsp-responder.ts';
import { PublishedLedger } from '../adapters/runtime/pki-published.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import { ocspStatus } from './support/ocsp-client.ts';
import { PKI_TEST_URL } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, testCa, testResponder, type TestLeaf } from './support/pki-test-ca.ts';

type Hash = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';
const HASHES: readonly Hash[] = ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'];
/** A private-arc OID no responder understands: non-critical, so it is ignored (RFC 5280 4.2). */
const JUNK_EXTENSION = '1.3.6.1.4.1.55555.1';
/** A whole second, so that `producedAt` (whole seconds) equals it. */
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
/** The responder's validity: an answer is served from the cache for a quarter of it, 1 s. */
const VALIDITY_MS = 4000;

/** A CertID about `leaf`, its hash algorithm's parameters NULL (as OpenSSL and pkijs send) or absent. */
const certIdOf = async (leaf: TestLeaf, ca: IssuingCa, hash: Hash, params: 'null' | 'absent' = 'null'): Promise<pkijs.CertID> => {
  const id = await pkijs.CertID.create(pkijs.Certificate.fromBER(Uint8Array.from(leaf.der)), {
    hashAlgorithm: hash,
    issuerCertificate: pkijs.Certificate.fromBER(Uint8Array.from(ca.certificate)),
  });
  if (params === 'absent') id.hashAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: id.hashAlgorithm.algorithmId });
  return id;
};

/** An OCSPRequest without nonce about `certId`, with a non-critical extension carrying `payload` when given. */
const requestAbout = (certId: pkijs.CertID, payload?: Uint8Array): Uint8Array => {
  const tbsRequest = new pkijs.TBSRequest({ requestList: [new pkijs.Request({ reqCert: certId })] });
  if (payload !== undefined) {
    tbsRequest.requestExtensions = [new pkijs.Extension({ extnID: JUNK_EXTENSION, critical: false, extnValue: new asn1js.OctetString({ valueHex: payload }).toBER() })];
  }
  return new Uint8Array(new pkijs.OCSPRequest({ tbsRequest }).toSchema(true).toBER());
};

/** 200 octets that differ for every `i`: the request stays under 512 bytes and is byte-distinct from every other. */
const payloadOf = (i: number): Uint8Array => {
  const bytes = new Uint8Array(200);
  new DataView(bytes.buffer).setUint32(0, i);
  return bytes;
};

const basicOf = (der: Uint8Array): pkijs.BasicOCSPResponse =>
  pkijs.BasicOCSPResponse.fromBER(pkijs.OCSPResponse.fromBER(Uint8Array.from(der)).responseBytes!.response.valueBlock.valueHexView);

/** The DER of each CertID the answer's SingleResponses carry. */
const answeredCertIds = (der: Uint8Array): string[] =>
  basicOf(der).tbsResponseData.responses.map((r) => Buffer.from(r.certID.toSchema().toBER()).toString('hex'));

const hexOf = (certId: pkijs.CertID): string => Buffer.from(certId.toSchema().toBER()).toString('hex');

describe('the OCSP answer cache is keyed by the CertID it answers, not by the request bytes (review F1)', () => {
  let opened: Credence;
  let ca: IssuingCa;
  let leaves: TestLeaf[];
  beforeAll(async () => {
    opened = openCredence({ location: { memory: true }, clock: systemClock });
    ca = await testCa('keyed', 'p256');
    leaves = [];
    for (const n of [1, 2, 3]) leaves.push(await issueCertifiedCredentialWith(opened, ca, PKI_TEST_URL, `cred-${n}`));
    await opened.settle();
  }, 60_000);
  afterAll(() => opened.close());

  /** A responder on a clock the test sets, counting its signatures. */
  const responderAt = async (o: { maxCached?: number } = {}) => {
    const reads = openCommittedReadModel(opened.readModels);
    const credential = await testResponder(ca);
    const clock = { now: T0, signatures: 0 };
    const responder = new OcspResponder({
      reads,
      ca,
      published: new PublishedLedger(memoryPublishedRevocations()),
      credential: () => ({ ...credential, sign: (tbs: Uint8Array) => (clock.signatures++, credential.sign(tbs)) }),
      now: () => clock.now,
      validityMs: VALIDITY_MS,
      ...(o.maxCached !== undefined ? { maxCached: o.maxCached } : {}),
    });
    return { responder, clock, close: () => reads.close() };
  };

  it('300 requests differing only in a non-critical extension share one entry and one signature, each answered good with its CertID', async () => {
    const { responder, clock, close } = await responderAt();
    try {
      const certId = await certIdOf(leaves[0]!, ca, 'SHA-256');
      const answers: Uint8Array[] = [];
      for (let i = 0; i < 300; i++) {
        const request = requestAbout(certId, payloadOf(i));
        expect(request.length).toBeLessThanOrEqual(512);
        const answer = await responder.respond(request);
        expect(answer.outcome).toBe('successful');
        answers.push(answer.der);
      }
      expect(clock.signatures).toBe(1);
      expect(responder.cacheSize.answers).toBe(1);
      expect(responder.cacheSize.serials).toBe(1);
      expect(responder.cacheSize.requests).toBeLessThanOrEqual(MAX_REMEMBERED_OCSP_REQUESTS);
      for (const der of answers) {
        expect(ocspStatus(der)).toBe('good');
        expect(answeredCertIds(der)).toEqual([hexOf(certId)]);
      }
      // Signed by the CA's delegated responder: verifies with the CA certificate as the only trust anchor.
      const verified = await basicOf(answers.at(-1)!).verify({ trustedCerts: [pkijs.Certificate.fromBER(Uint8Array.from(ca.certificate))] });
      expect(verified).toBe(true);
    } finally {
      close();
    }
  });

  it(`keeps at most ${MAX_CACHED_PER_SERIAL} answers per certificate, each served only to the CertID bytes it carries`, async () => {
    const { responder, close } = await responderAt();
    try {
      // The two spellings of one CertID differ in their bytes (NULL parameters or none): both are sent below.
      expect(hexOf(await certIdOf(leaves[0]!, ca, 'SHA-256', 'null'))).not.toBe(hexOf(await certIdOf(leaves[0]!, ca, 'SHA-256', 'absent')));
      let i = 0;
      for (const params of ['null', 'absent'] as const) {
        for (const hash of HASHES) {
          const certId = await certIdOf(leaves[0]!, ca, hash, params);
          for (let n = 0; n < 20; n++) {
            const answer = await responder.respond(requestAbout(certId, payloadOf(i++)));
            expect(ocspStatus(answer.der)).toBe('good');
            // The CertID as asked, parameters included: never the cached answer to the other spelling of it.
            expect(answeredCertIds(answer.der)).toEqual([hexOf(certId)]);
          }
        }
      }
      expect(i).toBe(160);
      expect(responder.cacheSize).toMatchObject({ answers: MAX_CACHED_PER_SERIAL, serials: 1 });
    } finally {
      close();
    }
  });

  it("a flood of extension variants about one certificate does not push out another certificate's cached answer", async () => {
    const { responder, clock, close } = await responderAt({ maxCached: 8 });
    try {
      const other = requestAbout(await certIdOf(leaves[1]!, ca, 'SHA-1'));
      const first = await responder.respond(other);
      expect(clock.signatures).toBe(1);
      const flooded = await certIdOf(leaves[0]!, ca, 'SHA-256');
      for (let i = 0; i < 100; i++) await responder.respond(requestAbout(flooded, payloadOf(i)));
      expect(clock.signatures).toBe(2);
      const again = await responder.respond(other);
      expect(Buffer.from(again.der).equals(Buffer.from(first.der))).toBe(true);
      expect(clock.signatures).toBe(2);
    } finally {
      close();
    }
  });

  it('an answer past its freshness is neither served from the cache nor kept once another is added', async () => {
    const { responder, clock, close } = await responderAt();
    try {
      const [one, two, three] = await Promise.all(leaves.map(async (leaf) => requestAbout(await certIdOf(leaf, ca, 'SHA-256'))));
      const first = await responder.respond(one!);
      await responder.respond(two!);
      expect(responder.cacheSize.answers).toBe(2);
      clock.now = T0 + VALIDITY_MS / 4 - 1;
      expect(Buffer.from((await responder.respond(one!)).der).equals(Buffer.from(first.der))).toBe(true);
      expect(clock.signatures).toBe(2);
      // A quarter of the validity after it was produced: signed again, the stale answer about `two` dropped.
      clock.now = T0 + VALIDITY_MS / 4;
      const later = await responder.respond(one!);
      expect(clock.signatures).toBe(3);
      expect(later.producedAt).toBe(T0 + VALIDITY_MS / 4);
      expect(Buffer.from(later.der).equals(Buffer.from(first.der))).toBe(false);
      await responder.respond(three!);
      expect(responder.cacheSize).toMatchObject({ answers: 2, serials: 2 });
    } finally {
      close();
    }
  });

  it('a request with a nonce is answered with its nonce and not cached', async () => {
    const { responder, clock, close } = await responderAt();
    try {
      const certId = await certIdOf(leaves[2]!, ca, 'SHA-256');
      const tbsRequest = new pkijs.TBSRequest({ requestList: [new pkijs.Request({ reqCert: certId })] });
      tbsRequest.requestExtensions = [
        new pkijs.Extension({ extnID: '1.3.6.1.5.5.7.48.1.2', extnValue: new asn1js.OctetString({ valueHex: new Uint8Array(16).fill(7) }).toBER() }),
      ];
      const request = new Uint8Array(new pkijs.OCSPRequest({ tbsRequest }).toSchema(true).toBER());
      for (let i = 0; i < 3; i++) expect(ocspStatus((await responder.respond(request)).der)).toBe('good');
      expect(clock.signatures).toBe(3);
      expect(responder.cacheSize).toMatchObject({ answers: 0, requests: 0 });
    } finally {
      close();
    }
  });
});
