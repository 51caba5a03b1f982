import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { fromBase64url } from '../domain/crypto/index.ts';
import { certificateFingerprint } from '../domain/crypto/fingerprint.ts';
import { certifiedPublicKey } from '../domain/x509/issuance/index.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { epochSeconds, pkiWorld } from './pki-issuance-fixtures.ts';
import { T0 } from './support/fleet.ts';

/**
 * Issue 13: remote provisioning of an asymmetric credential with an issuing CA. The node's client sends a CSR made
 * in its Secure Environment; the Enrolment Function checks it at the auth step and signs the certificate once the
 * receipt is verified; the engine records it with the credential (public facts only) and only then does the node get
 * it; a rotation's successor gets its own certificate.
 */
let world: Awaited<ReturnType<typeof pkiWorld>> | undefined;
const files = new OpenSslDir();
afterAll(() => files.remove());
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const SUMMARY_FIELDS = ['der', 'fingerprint', 'issuer', 'issuingCa', 'notAfter', 'notBefore', 'serialNumber', 'subject'];

describe.each([
  ['ed25519', 'ed25519'],
  ['ed25519', 'p256'],
  ['p256', 'ed25519'],
  ['p256', 'p256'],
] as const)('a %s CA certifies a %s service credential provisioned remotely', (caKind, kind) => {
  it('the node gets the certificate, the event records it, OpenSSL verifies it', async () => {
    world = await pkiWorld(caKind);
    const device = await world.registered('meter-1');
    const { outcome } = await world.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind });
    const issued = await world.issued('meter-1-svc');
    const summary = issued.certificate!;
    expect(Object.keys(summary).sort()).toEqual(SUMMARY_FIELDS);
    expect(summary.issuingCa).toBe('default');
    expect(summary.subject).toBe('CN=meter-1');
    expect(summary.issuer).toBe('CN=Credence CA default');
    expect(summary.serialNumber).toMatch(/^[0-7][0-9a-f]{31}$/);
    // The credential's validity: whole seconds, granted in the challenge, ending at the last second of its window.
    expect(summary.notBefore).toBe(issued.notBefore);
    expect(summary.notAfter).toBe(new Date(Date.parse(issued.notAfter) - 1000).toISOString());
    expect(issued.notBefore).toBe(T0);
    const der = fromBase64url(summary.der!);
    expect(summary.fingerprint).toBe(certificateFingerprint(der));
    // It certifies the credential's public key, and nothing else is in the event: the key stays on the node.
    expect(certifiedPublicKey(der)).toEqual({ kind, bytes: fromBase64url(issued.publicKey!) });
    // The node holds the same certificate, given once recorded (its CSR is bound by the receipt's transcript hash).
    const held = device.credentials.get('meter-1-svc')!.descriptor;
    expect(held.kind !== 'psk256' && held.certificate).toBe(summary.der);
    expect(outcome.issuingCa).toBe('default');

    if (!hasOpenssl()) return;
    files.write('root.pem', pem('CERTIFICATE', world.ca.certificate));
    files.write('node.pem', pem('CERTIFICATE', der));
    const verified = await files.run(['verify', '-attime', epochSeconds(T0), '-purpose', 'sslclient', '-CAfile', 'root.pem', 'node.pem']);
    expect(verified.stdout.trim(), verified.stderr).toBe('node.pem: OK');
    const text = await files.ok(['x509', '-in', 'node.pem', '-noout', '-text']);
    expect(text).toContain('URI:urn:onem2m:node:meter-1');
    expect(text).toContain('URI:urn:onem2m:cse:%2Fmeter-1-cse');
    expect(text).toContain('OCSP - URI:https://credence.example/pki/default/ocsp');
  });
});

describe('rotation and the choices around it', () => {
  it("a rotation's successor gets its own certificate, from its own CSR", async () => {
    world = await pkiWorld('p256');
    const device = await world.registered('meter-2');
    await world.procedures.provisionRemotely({ device, credentialId: 'meter-2-svc', kind: 'p256' });
    world.clock.advance(30 * 86_400_000 + 123); // not on a whole second: the successor's validity still is
    await world.procedures.rotate({ device, credentialId: 'meter-2-svc', successorId: 'meter-2-svc-2', kind: 'ed25519', overlapSeconds: 3600, associations: [] });
    const first = (await world.issued('meter-2-svc')).certificate!;
    const successor = await world.issued('meter-2-svc-2');
    expect(successor.predecessorId).toBe('meter-2-svc');
    expect(successor.certificate?.issuingCa).toBe('default');
    expect(successor.certificate?.serialNumber).not.toBe(first.serialNumber);
    expect(successor.certificate?.notBefore).toBe(successor.notBefore);
    expect(successor.notBefore).toMatch(/\.000Z$/);
    expect(certifiedPublicKey(fromBase64url(successor.certificate!.der!))).toEqual({ kind: 'ed25519', bytes: fromBase64url(successor.publicKey!) });
  });

  it('a PSK credential gets no certificate; neither does a node without a CA for it', async () => {
    world = await pkiWorld('ed25519', { cas: 'none' });
    const device = await world.registered('meter-3');
    await world.procedures.provisionRemotely({ device, credentialId: 'meter-3-psk', kind: 'psk256' });
    await world.procedures.provisionRemotely({ device, credentialId: 'meter-3-svc', kind: 'ed25519' });
    expect((await world.issued('meter-3-psk')).certificate).toBeUndefined();
    expect((await world.issued('meter-3-svc')).certificate).toBeUndefined();
  });
});
