import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { describe, expect, it } from 'vitest';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { OcspSigningKey } from '../adapters/driven/pki/ocsp-signing-key.ts';
import { systemRandom } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { nameText, sameName } from '../domain/x509/issuance/index.ts';
import { memorySecureEnvironment } from './crypto-fixtures.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Found in review 351: the OCSP responder certificate's subject was `CN=Credence OCSP responder <caId>`, encoded
 * unchecked, so a CA id of more than 40 characters (ids run to 63) gave a CN past ub-common-name (64, RFC 5280
 * Appendix A): 69 characters for an id of 45. And the name was never compared with the CA's own: a CA made with
 * `--subject 'CN=Credence OCSP responder default'` got a responder certificate whose issuer was its subject
 * (self-issued, which path validation takes for a CA's own). The name is kept when it fits and differs from the CA's;
 * otherwise one that always fits (`CN=Credence OCSP responder, OU=<caId>`), or another still if that is the CA's.
 */
const folder = temporaryFolders('credence-ocsp-responder-name-');

/** RFC 5280 Appendix A bounds of the attribute types a responder name may carry (any other type fails the check). */
const UPPER_BOUND: Readonly<Record<string, number>> = { '2.5.4.3': 64, '2.5.4.10': 64, '2.5.4.11': 64 };

/** Every attribute of a DER Name, its type and value as characters. */
const attributesOf = (name: Uint8Array): { type: string; value: string }[] =>
  new pkijs.RelativeDistinguishedNames({ schema: asn1js.fromBER(Uint8Array.from(name)).result }).typesAndValues.map((tv) => ({
    type: tv.type,
    value: String(tv.value.valueBlock.value),
  }));

const ca = async (id: string, subject?: string) => {
  const se = ownerView(memorySecureEnvironment('ocsp-responder-name', () => new Date()), 'maf:infrastructure');
  const issuing = await createRootCa({ dataDir: folder(), se, id, kind: 'p256', subject, now: new Date(), random: systemRandom });
  const signer = await OcspSigningKey.open({ se, ca: issuing, random: systemRandom, now: () => Date.now() });
  const responder = pkijs.Certificate.fromBER(Uint8Array.from(signer.current.certificate));
  const caCertificate = pkijs.Certificate.fromBER(Uint8Array.from(issuing.certificate));
  return {
    issuing,
    responder,
    responderDer: signer.current.certificate,
    subject: new Uint8Array(responder.subject.toSchema().toBER()),
    caSubject: new Uint8Array(caCertificate.subject.toSchema().toBER()),
    verified: () => responder.verify(caCertificate),
  };
};

describe('the OCSP responder certificate of a CA', () => {
  it('of an id of 63 characters has every attribute within its bound, and pkijs verifies it under the CA', async () => {
    const id = 'b'.repeat(63);
    const r = await ca(id, 'CN=Grid Issuing CA,O=City Utilities');
    const attributes = attributesOf(r.subject);
    expect(attributes.length).toBeGreaterThan(0);
    for (const a of attributes) expect(a.value.length, `${a.type}=${a.value}`).toBeLessThanOrEqual(UPPER_BOUND[a.type] ?? -1);
    // The CA's id is still in the name, so responders of two CAs are told apart.
    expect(attributes.map((a) => a.value)).toContain(id);
    expect(nameText(r.subject)).toBe(`CN=Credence OCSP responder, OU=${id}`);
    expect(await r.verified()).toBe(true);
  });

  it('of an id whose name fits keeps the name it always had', async () => {
    const id = 'c'.repeat(40);
    const r = await ca(id, 'CN=Grid Issuing CA');
    expect(nameText(r.subject)).toBe(`CN=Credence OCSP responder ${id}`);
  });

  it.runIf(hasOpenssl())('of an id of 63 characters is verified by OpenSSL as an OCSP helper under the CA', async () => {
    const r = await ca('d'.repeat(63), 'CN=Grid Issuing CA');
    const files = new OpenSslDir('credence-ocsp-responder-name-');
    try {
      files.write('ca.pem', pem('CERTIFICATE', r.issuing.certificate));
      files.write('responder.pem', pem('CERTIFICATE', r.responderDer));
      const verified = await files.run(['verify', '-purpose', 'ocsphelper', '-CAfile', 'ca.pem', 'responder.pem']);
      expect(verified.stdout + verified.stderr).toContain('responder.pem: OK');
    } finally {
      files.remove();
    }
  });

  it.each([
    ['default', 'CN=Credence OCSP responder default'],
    ['default', 'CN=Credence OCSP responder, OU=default'],
    ['e'.repeat(63), `CN=Credence OCSP responder, OU=${'e'.repeat(63)}`],
    ['default', 'cn=CREDENCE OCSP  Responder default'],
  ])('of CA %s whose subject is %s is another name than the CA\'s, and not self-issued', async (id, subject) => {
    const r = await ca(id, subject);
    expect(sameName(r.subject, r.caSubject)).toBe(false);
    for (const a of attributesOf(r.subject)) expect(a.value.length).toBeLessThanOrEqual(UPPER_BOUND[a.type] ?? -1);
    expect(await r.verified()).toBe(true);
  });
});
