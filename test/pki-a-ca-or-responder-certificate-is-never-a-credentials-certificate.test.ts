import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCredence, systemClock, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { streamIdOf } from '../domain/streams.ts';
import {
  credentialCertificateRefusal,
  endEntityCertificate,
  KEY_PURPOSE,
  nameOf,
  serialFromRandom,
  SERIAL_LENGTH,
} from '../domain/x509/issuance/index.ts';
import { pkiUrls } from '../domain/x509/issuing-ca.ts';
import { cmd, operator } from './support/fleet.ts';
import { ocspRequest } from './support/ocsp-client.ts';
import { PKI_TEST_URL, serialsOf } from './support/pki-instance.ts';
import { certifiedCredentialData, issueCertifiedCredential, pkiOf, revokeAndSettle, startPkiService, testCa, testLeaf, testResponder } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

/*
 * Found in review, against a running service: an operator recorded the CA's own certificate (GET /pki/default/ca.crt)
 * and the OCSP responder's (certs[0] of an OCSP answer) as credentials' certificates, each with the key inside it as
 * the credential's `publicKey`. Both were accepted (201), OCSP answered `good` for both, and revoking the credentials
 * (keyCompromise) listed the CA's and the responder's serials on the CA's CRL. The certificate-rules only asked that
 * the CA signed the DER and that it certifies the credential's key, which both do. A certificate recorded as one of
 * the CAs' is now one the CA issues for a credential: an end entity with id-kp-clientAuth (issueNodeCertificate), for
 * a key that is none of the CAs'.
 */

/** The issueCredential data recording `der` (issued by `caId`) for `credentialId`, with the P-256 key it certifies. */
const issueData = (credentialId: string, der: Uint8Array, caId = 'default') => certifiedCredentialData(credentialId, der, caId);

/** The delegated responder's certificate an OCSP answer carries (certs[0] of its BasicOCSPResponse). */
const responderCertificateOf = (answer: Uint8Array): Uint8Array => {
  const response = pkijs.OCSPResponse.fromBER(Uint8Array.from(answer));
  const basic = pkijs.BasicOCSPResponse.fromBER(response.responseBytes!.response.valueBlock.valueHexView);
  return new Uint8Array(basic.certs![0]!.toSchema(true).toBER());
};

const serialOf = (der: Uint8Array): string => new x509.X509Certificate(Uint8Array.from(der)).serialNumber.toLowerCase();

describe('which certificates have the purpose of a credential certificate (domain/x509/issuance)', () => {
  it('refuses a CA certificate, an OCSP responder certificate and one without clientAuth; takes a node certificate', async () => {
    const ca = await testCa('default');
    const responder = await testResponder(ca);
    const server = await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'broker.example', purpose: 'server' });
    const client = await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'meter-1' });
    const rule = (der: Uint8Array) => credentialCertificateRefusal(new x509.X509Certificate(Uint8Array.from(der)))?.rule;
    expect(rule(ca.certificate)).toBe('certificate_is_ca');
    expect(rule(responder.certificate)).toBe('certificate_is_ocsp_responder');
    expect(rule(server.der)).toBe('certificate_lacks_client_auth');
    expect(rule(client.der)).toBeUndefined();
  });
});

describe('a CA or OCSP responder certificate recorded as a credential', () => {
  describe("by the command's own rules, on any instance", () => {
    let credence: Credence;
    beforeAll(async () => {
      credence = openCredence({ location: { memory: true }, clock: systemClock });
      await credence.engine.execute(cmd.registerNode('meter-1'));
    });
    afterAll(() => credence.close());

    /** The validation issues refusing `data`, after checking that nothing was written. */
    const refusedWith = async (data: ReturnType<typeof issueData>) => {
      const head = await credence.store.headPosition();
      const error = await credence.engine.execute(command('issueCredential', data, { actor: operator })).then(
        () => undefined,
        (e: unknown) => e as { code?: string; problem?: { issues?: { path: string; rule: string }[] } },
      );
      expect(await credence.store.readStream(streamIdOf('credential', data.credentialId))).toEqual([]);
      expect(await credence.store.headPosition()).toBe(head);
      expect(error?.code).toBe('validation');
      return (error?.problem?.issues ?? []).map(({ path, rule }) => ({ path, rule }));
    };

    it("is refused when it is the CA's own certificate, recorded with the CA's key", async () => {
      const ca = await testCa('default');
      expect(await refusedWith(issueData('cred-ca', ca.certificate))).toEqual([{ path: 'data.certificate.der', rule: 'certificate_is_ca' }]);
    });

    it("is refused when it is the OCSP responder's certificate, recorded with the responder's key", async () => {
      const responder = await testResponder(await testCa('default'));
      expect(await refusedWith(issueData('cred-responder', responder.certificate))).toEqual([
        { path: 'data.certificate.der', rule: 'certificate_is_ocsp_responder' },
      ]);
    });

    it('is refused when the CA signed it without clientAuth (a TLS server certificate)', async () => {
      const server = await testLeaf(await testCa('default'), { baseUrl: PKI_TEST_URL, name: 'meter-1', purpose: 'server' });
      expect(await refusedWith(issueData('cred-server', server.der))).toEqual([{ path: 'data.certificate.der', rule: 'certificate_lacks_client_auth' }]);
    });

    it('records a node certificate (clientAuth, not a CA) for the key it certifies', async () => {
      const leaf = await testLeaf(await testCa('default'), { baseUrl: PKI_TEST_URL, name: 'meter-1' });
      const outcome = await credence.engine.execute(command('issueCredential', issueData('cred-node', leaf.der), { actor: operator }));
      expect(outcome.events.map((e) => e.type)).toEqual(['CredentialIssued']);
    });
  });

  describe('through the service, whose CAs are known', () => {
    let svc: TestService;
    let ocspAnswer: Uint8Array;
    beforeAll(async () => {
      svc = await startPkiService('p256');
      const real = await issueCertifiedCredential(svc, 'cred-real');
      const request = await ocspRequest(real, pkiOf(svc).cas[0]!);
      const answer = await fetch(`${svc.url}/pki/default/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.from(request) });
      ocspAnswer = new Uint8Array(await answer.arrayBuffer());
    }, 60_000);
    afterAll(() => svc.close());

    /** POSTs `data` as an operator's issueCredential and returns the refusal's errors, after checking nothing was written. */
    const refusedWith = async (data: ReturnType<typeof issueData>) => {
      const store = svc.service.context.credence.store;
      const head = await store.headPosition();
      const response = await fetch(`${svc.url}/v1/commands`, {
        method: 'POST',
        headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'issueCredential', data }),
      });
      const body = (await response.json()) as { errors?: { path: string; rule: string }[] };
      expect(response.status).toBe(400);
      expect(await store.readStream(streamIdOf('credential', data.credentialId))).toEqual([]);
      expect(await store.headPosition()).toBe(head);
      return (body.errors ?? []).map(({ path, rule }) => ({ path, rule }));
    };

    it("refuses the CA's certificate as served at ca.crt, and the CRL never lists the CA's serial", async () => {
      const served = new Uint8Array(await (await fetch(`${svc.url}/pki/default/ca.crt`)).arrayBuffer());
      expect(await refusedWith(issueData('cred-ca', served))).toEqual([{ path: 'body.data.certificate.der', rule: 'certificate_is_ca' }]);
      await revokeAndSettle(svc, 'cred-real', 'keyCompromise');
      const crl = new Uint8Array(await (await fetch(`${svc.url}/pki/default/crl`)).arrayBuffer());
      expect(serialsOf(crl)).not.toContain(serialOf(served));
    });

    it("refuses the OCSP responder's certificate taken from an OCSP answer", async () => {
      const responder = responderCertificateOf(ocspAnswer);
      expect(await refusedWith(issueData('cred-responder', responder))).toEqual([{ path: 'body.data.certificate.der', rule: 'certificate_is_ocsp_responder' }]);
    });

    it("refuses a clientAuth certificate the CA signed for the CA's own key", async () => {
      const ca = pkiOf(svc).cas[0]!;
      const now = Math.floor(Date.now() / 1000) * 1000;
      const der = await endEntityCertificate({
        ca,
        serial: serialFromRandom(new Uint8Array(SERIAL_LENGTH).fill(0x5a)),
        subject: nameOf([{ type: '2.5.4.3', value: 'meter-1' }]),
        subjectEmpty: false,
        subjectKey: { kind: ca.signer.kind, bytes: ca.signer.publicKey },
        uris: ['urn:onem2m:node:meter-1'],
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 86_400_000),
        purposes: [KEY_PURPOSE.clientAuth],
        urls: pkiUrls(svc.url, ca.id),
      });
      expect(await refusedWith(issueData('cred-ca-key', der))).toEqual([{ path: 'body.data.certificate.der', rule: 'certificate_of_ca_key' }]);
    });
  });
});
