import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueNodeCertificate } from '../domain/x509/issuance/index.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { epochSeconds, rootCaWorld } from './pki-issuance-fixtures.ts';
import { seededRandom } from './crypto-fixtures.ts';

/**
 * Issue 13: an operational certificate as a relying party's tools read it. `openssl x509 -text` shows the node's
 * subject and URI SANs, the credential's validity to the second, digitalSignature, clientAuth, CA:FALSE, the CRL
 * distribution point, the OCSP and caIssuers URLs and a 16-octet serial; `openssl verify -CAfile` accepts it.
 */
const NOW = new Date('2026-03-01T10:00:00.000Z');
const VALIDITY = { notBefore: new Date('2026-03-01T10:00:00.000Z'), notAfter: new Date('2027-03-01T10:00:00.000Z') };

describe.runIf(hasOpenssl()).each(['ed25519', 'p256'] as const)('a %s CA issues a node certificate OpenSSL accepts', (kind) => {
  let world: Awaited<ReturnType<typeof rootCaWorld>>;
  const files = new OpenSslDir();
  beforeAll(async () => {
    world = await rootCaWorld(kind, () => NOW, { subject: 'CN=Credence Test Root,O=Example Utilities' });
  });
  afterAll(() => {
    world.close();
    files.remove();
  });

  const issue = async (nodeKind: 'ed25519' | 'p256') => {
    const nodeSigner = await (await import('../adapters/driven/pki/index.ts')).seSigner(
      world.infra, await world.infra.generate(nodeKind, { usage: 'sign' }), nodeKind,
    );
    const issued = await issueNodeCertificate({
      ca: world.ca,
      baseUrl: 'https://credence.example:8443/',
      naming: { nodeId: 'meter-001', cseId: '/meter-001-cse' },
      key: { kind: nodeKind, bytes: nodeSigner.publicKey },
      validity: VALIDITY,
      serialRandom: seededRandom(`serial-${kind}-${nodeKind}`)(16),
    });
    if (!issued.ok) throw new Error(issued.reason);
    return issued.der;
  };

  it.each(['ed25519', 'p256'] as const)('for a %s node key: the fields are there and it verifies', async (nodeKind) => {
    const der = await issue(nodeKind);
    files.write('root.pem', pem('CERTIFICATE', world.ca.certificate));
    files.write(`node-${nodeKind}.pem`, pem('CERTIFICATE', der));
    const text = await files.ok(['x509', '-in', `node-${nodeKind}.pem`, '-noout', '-text']);
    expect(text).toContain('Subject: CN = meter-001');
    expect(text).toContain('Issuer: CN = Credence Test Root, O = Example Utilities');
    expect(text).toContain('URI:urn:onem2m:node:meter-001');
    expect(text).toContain('URI:urn:onem2m:cse:%2Fmeter-001-cse');
    expect(text).toContain('Not Before: Mar  1 10:00:00 2026 GMT');
    // The last whole second of the credential's [notBefore, notAfter): X.509 notAfter is inclusive.
    expect(text).toContain('Not After : Mar  1 09:59:59 2027 GMT');
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Client Authentication\n/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toContain('URI:https://credence.example:8443/pki/default/crl');
    expect(text).toContain('URI:https://credence.example:8443/pki/default/delta-crl');
    expect(text).toContain('OCSP - URI:https://credence.example:8443/pki/default/ocsp');
    expect(text).toContain('CA Issuers - URI:https://credence.example:8443/pki/default/ca.crt');
    expect(text).toContain('X509v3 Subject Key Identifier');
    expect(text).toContain('X509v3 Authority Key Identifier');
    expect(text).toContain(kind === 'ed25519' ? 'Signature Algorithm: ED25519' : 'Signature Algorithm: ecdsa-with-SHA256');
    // 16 content octets, positive: `Serial Number:` then 16 colon-separated hex bytes, the first below 0x80.
    const serial = /Serial Number:\s*\n\s*((?:[0-9a-f]{2}:){15}[0-9a-f]{2})\n/.exec(text)?.[1];
    expect(serial).toBeDefined();
    expect(parseInt(serial!.slice(0, 2), 16)).toBeLessThan(0x80);
    expect(parseInt(serial!.slice(0, 2), 16)).toBeGreaterThan(0);

    const verified = await files.run(['verify', '-attime', epochSeconds(NOW), '-purpose', 'sslclient', '-CAfile', 'root.pem', `node-${nodeKind}.pem`]);
    expect(verified.stdout.trim(), verified.stderr).toBe(`node-${nodeKind}.pem: OK`);
  });

  it('the root itself: self-signed, CA:TRUE critical, keyCertSign and cRLSign', async () => {
    files.write('root.pem', pem('CERTIFICATE', world.ca.certificate));
    const text = await files.ok(['x509', '-in', 'root.pem', '-noout', '-text']);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(text).toContain('Subject: CN = Credence Test Root, O = Example Utilities');
    expect((await files.run(['verify', '-attime', epochSeconds(NOW), '-CAfile', 'root.pem', 'root.pem'])).stdout.trim()).toBe('root.pem: OK');
  });

  it('a tampered certificate does not verify', async () => {
    const der = await issue('p256');
    const bad = Uint8Array.from(der);
    bad[bad.length - 10]! ^= 0x01; // inside the signature
    files.write('bad.pem', pem('CERTIFICATE', bad));
    const r = await files.run(['verify', '-attime', epochSeconds(NOW), '-CAfile', 'root.pem', 'bad.pem']);
    expect(r.status).not.toBe(0);
  });
});
