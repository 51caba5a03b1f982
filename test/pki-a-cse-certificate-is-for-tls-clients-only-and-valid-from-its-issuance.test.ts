import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueNodeCertificate } from '../domain/x509/issuance/index.ts';
import { seSigner } from '../adapters/driven/pki/index.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { epochSeconds, rootCaWorld } from './pki-issuance-fixtures.ts';
import { seededRandom } from './crypto-fixtures.ts';

/**
 * Review 312, what docs/pki.md "Relying parties" says of the profile: a node certificate naming a CSE-ID
 * (`urn:onem2m:cse:`) is a TLS client certificate and nothing else (extendedKeyUsage id-kp-clientAuth only, issue 13),
 * so `openssl verify -purpose sslclient` accepts it and `-purpose sslserver` refuses it: a CSE serving TLS needs a
 * server certificate from the operator's own TLS PKI. Its notBefore is the credential's, not backdated (the recorded
 * certificate must keep the credential's window, rule `certificate_validity`), so a relying party whose clock is one
 * second behind finds it not yet valid.
 */
const CA_NOW = new Date('2026-03-01T09:00:00.000Z');
const VALIDITY = { notBefore: new Date('2026-03-01T10:00:00.000Z'), notAfter: new Date('2027-03-01T10:00:00.000Z') };

describe.runIf(hasOpenssl())('a node certificate naming a CSE-ID', () => {
  let world: Awaited<ReturnType<typeof rootCaWorld>>;
  const files = new OpenSslDir();
  let der: Uint8Array;
  beforeAll(async () => {
    world = await rootCaWorld('p256', () => CA_NOW);
    const node = await seSigner(world.infra, await world.infra.generate('p256', { usage: 'sign' }), 'p256');
    const issued = await issueNodeCertificate({
      ca: world.ca,
      baseUrl: 'https://credence.example:8443/',
      naming: { nodeId: 'gateway-7', cseId: '/gateway-7-cse' },
      key: { kind: 'p256', bytes: node.publicKey },
      validity: VALIDITY,
      serialRandom: seededRandom('cse-profile/serial')(16),
    });
    if (!issued.ok) throw new Error(issued.reason);
    der = issued.der;
    files.write('root.pem', pem('CERTIFICATE', world.ca.certificate));
    files.write('cse.pem', pem('CERTIFICATE', der));
  });
  afterAll(() => {
    world.close();
    files.remove();
  });

  it('names the CSE and carries extendedKeyUsage id-kp-clientAuth only', () => {
    const cert = new x509.X509Certificate(Uint8Array.from(der));
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    expect(san?.names.items.map((n) => n.value)).toContain('urn:onem2m:cse:%2Fgateway-7-cse');
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
    expect(eku?.usages).toEqual(['1.3.6.1.5.5.7.3.2']);
  });

  it('verifies as a TLS client certificate and is refused as a TLS server certificate', async () => {
    const asClient = await files.run(['verify', '-attime', epochSeconds(VALIDITY.notBefore), '-purpose', 'sslclient', '-CAfile', 'root.pem', 'cse.pem']);
    expect(asClient.stdout.trim(), asClient.stderr).toBe('cse.pem: OK');
    const asServer = await files.run(['verify', '-attime', epochSeconds(VALIDITY.notBefore), '-purpose', 'sslserver', '-CAfile', 'root.pem', 'cse.pem']);
    expect(asServer.status).not.toBe(0);
    // OpenSSL 3 says "unsuitable", 1.1 "unsupported" (error 26, X509_V_ERR_INVALID_PURPOSE).
    expect(asServer.stdout + asServer.stderr).toMatch(/error 26 at 0 depth.*(unsuitable|unsupported) certificate purpose/);
  });

  it("starts at the credential's notBefore: valid from that second, not yet valid one second before", async () => {
    expect(new x509.X509Certificate(Uint8Array.from(der)).notBefore.toISOString()).toBe(VALIDITY.notBefore.toISOString());
    const at = await files.run(['verify', '-attime', epochSeconds(VALIDITY.notBefore), '-CAfile', 'root.pem', 'cse.pem']);
    expect(at.stdout.trim(), at.stderr).toBe('cse.pem: OK');
    const before = await files.run(['verify', '-attime', String(Number(epochSeconds(VALIDITY.notBefore)) - 1), '-CAfile', 'root.pem', 'cse.pem']);
    expect(before.status).not.toBe(0);
    expect(before.stdout + before.stderr).toContain('certificate is not yet valid');
  });
});
