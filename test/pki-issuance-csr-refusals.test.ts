import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { isCredenceError } from '../domain/errors.ts';
import { toBase64url } from '../domain/crypto/index.ts';
import { withoutFields } from '../domain/crypto/transcript.ts';
import { proofFor, PROVISIONING_PROTOCOL, transcriptFromHello } from '../domain/protocols/index.ts';
import {
  buildCertificationRequest,
  checkCsrNamesNode,
  nameOf,
  nodeSubject,
  nodeUris,
  publicKeyInfo,
  subjectAltNameUris,
  verifyCertificationRequest,
  x509Signature,
} from '../domain/x509/issuance/index.ts';
import { MAX_CSR_LENGTH } from '../domain/crypto/sizes.ts';
import { prove } from '../adapters/protocols/shared/proof.ts';
import { certificateToIssue } from '../adapters/protocols/enrolment/certificate-issuance.ts';
import type { Device } from '../adapters/protocols/procedures/index.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { epochSeconds, pkiWorld } from './pki-issuance-fixtures.ts';
import { seededRandom } from './crypto-fixtures.ts';
import { T0 } from './support/fleet.ts';

/**
 * Issue 13: the Enrolment Function's CSR check. CSRs made by `openssl req` (Ed25519 and P-256 keys from `openssl
 * genpkey`) pass the check and are certified; bad CSRs (no proof of possession, an unsupported key, oversized, naming
 * another node, another key than the credential's) are refused at the auth step with a typed `protocol` error, and
 * nothing is written.
 */
const files = new OpenSslDir();
afterAll(() => files.remove());

describe.runIf(hasOpenssl())('CSRs made by OpenSSL', () => {
  let world: Awaited<ReturnType<typeof pkiWorld>>;
  beforeAll(async () => {
    world = await pkiWorld('p256');
  });
  afterAll(() => world.close());

  it.each(['ed25519', 'p256'] as const)('an openssl req CSR of a %s key passes the check, names the node, and is certified', async (kind) => {
    // Several P-256 requests: OpenSSL's ECDSA signatures are high-S about half of the time, and must pass too.
    for (let i = 0; i < (kind === 'p256' ? 6 : 1); i++) {
      const key = await files.genkey(`${kind}-${i}.pem`, kind);
      const csr = await files.csr(key, '/CN=meter-9', ['-addext', 'subjectAltName=URI:urn:onem2m:node:meter-9']);
      const checked = verifyCertificationRequest(csr);
      expect(checked.ok).toBe(true);
      if (!checked.ok) return;
      expect(checked.value.commonNames).toEqual(['meter-9']);
      const certified = await certificateToIssue(
        { issuingCa: () => world.ca, baseUrl: () => 'https://credence.example' },
        seededRandom(`serial-${kind}-${i}`),
        { csr: toBase64url(csr), credentialKey: checked.value.publicKey, nodeId: 'meter-9', serviceParameters: {}, validity: { notBefore: T0, notAfter: '2027-01-01T00:00:00.000Z' } },
      )!.issue();
      files.write('root.pem', pem('CERTIFICATE', world.ca.certificate));
      files.write(`cert-${kind}-${i}.pem`, pem('CERTIFICATE', Buffer.from(certified!.certificate, 'base64url')));
      const verified = await files.run(['verify', '-attime', epochSeconds(T0), '-CAfile', 'root.pem', `cert-${kind}-${i}.pem`]);
      expect(verified.stdout.trim(), verified.stderr).toBe(`cert-${kind}-${i}.pem: OK`);
      // The certificate certifies the openssl key: its private key signs what the certificate's key verifies.
      const pub = await files.ok(['x509', '-in', `cert-${kind}-${i}.pem`, '-noout', '-pubkey']);
      expect(pub).toBe(await files.ok(['pkey', '-in', key, '-pubout']));
    }
  });

  it.each([
    ['rsa', 'unsupported_key'],
    ['p384', 'unsupported_key'],
  ] as const)('a CSR of an %s key is refused as %s', async (kind, reason) => {
    const key = await files.genkey(`${kind}.pem`, kind);
    const checked = verifyCertificationRequest(await files.csr(key, '/CN=meter-9'));
    expect(checked.ok === false && checked.reason).toBe(reason);
  });

  it('a CSR with one flipped signature bit, or one that is not DER, is refused', async () => {
    const key = await files.genkey('flip.pem', 'ed25519');
    const csr = await files.csr(key, '/CN=meter-9');
    const flipped = Uint8Array.from(csr);
    flipped[flipped.length - 1]! ^= 0x01;
    expect(verifyCertificationRequest(flipped)).toMatchObject({ ok: false, reason: 'bad_csr_signature' });
    expect(verifyCertificationRequest(csr.slice(0, -3))).toMatchObject({ ok: false, reason: 'malformed_csr' });
    expect(verifyCertificationRequest(Uint8Array.of(...csr, 0))).toMatchObject({ ok: false, reason: 'malformed_csr' });
  });
});

/** The auth message a node would send with `csr`, built by hand so its proofs are valid whatever the CSR holds. */
const authWith = async (
  world: Awaited<ReturnType<typeof pkiWorld>>,
  device: Device,
  credentialId: string,
  csrFor: (key: { kind: 'p256'; bytes: Uint8Array }, sign: (info: Uint8Array) => Promise<Uint8Array>) => Promise<Uint8Array | string | undefined>,
) => {
  const ef = world.infrastructure.enrolmentFunction;
  const client = device.provisioningClient({ id: world.infrastructure.enrolmentFunctionId, publicKey: { kind: world.infrastructure.signing.kind, bytes: world.infrastructure.signing.efPublicKey } });
  const session = await client.start({ credentialKind: 'p256', credentialId });
  const challenge = await ef.acceptHello(session.hello);
  const transcript = transcriptFromHello(PROVISIONING_PROTOCOL, session.hello);
  transcript.absorb(challenge.type, withoutFields(challenge, 'proof'));
  const handle = await device.se.generate('p256', { usage: 'sign' });
  const bytes = (await device.se.describe(handle)).publicKey!;
  const made = await csrFor({ kind: 'p256', bytes }, async (info) => x509Signature('p256', await device.se.sign(handle, info)));
  const unsigned = {
    type: 'provisioning.auth' as const,
    version: 1 as const,
    sessionId: challenge.sessionId,
    enrolmentNonce: challenge.enrolmentNonce,
    credentialPublicKey: toBase64url(bytes),
    ...(made !== undefined ? { csr: typeof made === 'string' ? made : toBase64url(made) } : {}),
  };
  const th = transcript.absorb(unsigned.type, unsigned);
  const bootstrap = device.bootstrap!;
  return {
    ...unsigned,
    proofOfPossession: await prove(device.se, { kind: 'p256', handle }, proofFor('node', 'proof-of-possession', th)),
    proof: await prove(device.se, { kind: bootstrap.descriptor.kind, handle: bootstrap.handle }, proofFor('node', 'auth', th)),
  };
};

const own = (uris: (nodeId: string) => string[], cn: string) => (key: { kind: 'p256'; bytes: Uint8Array }, sign: (info: Uint8Array) => Promise<Uint8Array>) =>
  buildCertificationRequest({ key, subject: nameOf([{ type: '2.5.4.3', value: cn }]), uris: uris(cn), sign });

describe('bad CSRs in a protocol run: a typed refusal at the auth step, nothing written', () => {
  let world: Awaited<ReturnType<typeof pkiWorld>>;
  afterEach(async () => world?.close());

  const refusals: [string, Parameters<typeof authWith>[3], string, boolean?][] = [
    ['a subject naming another node', own(() => [], 'meter-other'), 'bad_csr'],
    ['a URI naming another node', own(() => nodeUris({ nodeId: 'meter-other' }), 'meter-7'), 'bad_csr'],
    ['a URI naming another CSE', own(() => nodeUris({ nodeId: 'meter-7', cseId: '/elsewhere' }), 'meter-7'), 'bad_csr'],
    [
      'a signature that does not verify (no proof of possession)',
      async (key, sign) => {
        const csr = await buildCertificationRequest({ key, subject: nodeSubject('meter-7').name, uris: [], sign });
        csr[csr.length - 2]! ^= 0x01;
        return csr;
      },
      'bad_csr',
    ],
    ['a CSR that is not DER', async () => Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00), 'bad_csr'],
    ['an oversized CSR', async () => 'A'.repeat(6000), 'malformed'],
    ['a CSR of another key than credentialPublicKey', async () => (hasOpenssl() ? files.csr(await files.genkey('other.pem', 'p256'), '/CN=meter-7') : undefined), 'credential_mismatch', true],
    ['an RSA CSR from openssl', async () => (hasOpenssl() ? files.csr(await files.genkey('rsa-run.pem', 'rsa'), '/CN=meter-7') : undefined), 'unsupported', true],
    ['a P-384 CSR from openssl', async () => (hasOpenssl() ? files.csr(await files.genkey('p384-run.pem', 'p384'), '/CN=meter-7') : undefined), 'unsupported', true],
  ];

  it.each(refusals)('%s', async (_name, csrFor, reason, needsOpenssl) => {
    if (needsOpenssl === true && !hasOpenssl()) return;
    world = await pkiWorld('ed25519');
    const device = await world.registered('meter-7');
    const head = await world.credence.store.headPosition();
    const auth = await authWith(world, device, 'meter-7-svc', csrFor);
    const refused = await world.infrastructure.enrolmentFunction.acceptAuth(auth).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isCredenceError(refused, 'protocol')).toBe(true);
    expect(isCredenceError(refused, 'protocol') && refused.problem.code === 'protocol' && refused.problem).toMatchObject({ step: 'provisioning.auth', reason });
    expect(await world.credence.store.headPosition()).toBe(head);
    expect((await world.credence.engine.entity('credential', 'meter-7-svc')).events).toHaveLength(0);
  });

  it('with requireCsr, an asymmetric credential without a CSR is refused (certificate_not_issued); without it, provisioned uncertified', async () => {
    world = await pkiWorld('ed25519', { requireCsr: true });
    const device = await world.registered('meter-8');
    const head = await world.credence.store.headPosition();
    const auth = await authWith(world, device, 'meter-8-svc', async () => undefined);
    await expect(world.infrastructure.enrolmentFunction.acceptAuth(auth)).rejects.toMatchObject({ problem: { code: 'protocol', reason: 'certificate_not_issued' } });
    expect(await world.credence.store.headPosition()).toBe(head);
    await world.close();

    world = await pkiWorld('ed25519');
    const other = await world.registered('meter-8');
    const client = other.provisioningClient({ id: world.infrastructure.enrolmentFunctionId, publicKey: { kind: world.infrastructure.signing.kind, bytes: world.infrastructure.signing.efPublicKey } });
    const session = await client.start({ credentialKind: 'p256', credentialId: 'meter-8-svc', requestCertificate: false });
    const ef = world.infrastructure.enrolmentFunction;
    const auth2 = await session.acceptChallenge(await ef.acceptHello(session.hello));
    expect(auth2.csr).toBeUndefined();
    const { receipt } = await session.acceptDelivery(await ef.acceptAuth(auth2));
    const outcome = await ef.acceptReceipt(receipt);
    expect(outcome.credential.kind !== 'psk256' && outcome.credential.certificate).toBe(undefined);
  });
});

/**
 * A CSR built by hand with pkijs around a noble Ed25519 key, so its structure can be what no well-behaved client
 * makes: several extensionRequest attributes, algorithm parameters.
 */
const handMadeCsr = (shape: { readonly extensionRequests: readonly (readonly string[])[]; readonly nullParameters?: boolean }) => {
  const secret = new Uint8Array(32).fill(7);
  const request = new pkijs.CertificationRequest();
  request.version = 0;
  request.subject = new pkijs.RelativeDistinguishedNames({ schema: asn1js.fromBER(nodeSubject('meter-7').name).result });
  request.subjectPublicKeyInfo = publicKeyInfo('ed25519', ed25519.getPublicKey(secret));
  request.attributes = shape.extensionRequests.map(
    (uris) => new pkijs.Attribute({ type: '1.2.840.113549.1.9.14', values: [new pkijs.Extensions({ extensions: [subjectAltNameUris(uris, false)] }).toSchema()] }),
  );
  request.signatureAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: '1.3.101.112', ...(shape.nullParameters === true ? { algorithmParams: new asn1js.Null() } : {}) });
  const info = new Uint8Array((request.toSchema(true).valueBlock.value[0] as asn1js.Sequence).toBER());
  request.tbsView = info;
  request.signatureValue = new asn1js.BitString({ valueHex: ed25519.sign(info, secret) });
  return new Uint8Array(request.toSchema(false).toBER());
};

describe('CSR structure: every name is read, algorithm identifiers are exact, size is bounded first', () => {
  const naming = { nodeId: 'meter-7', cseId: '/meter-7-cse' };
  const check = (csr: Uint8Array) => {
    const verified = verifyCertificationRequest(csr);
    return verified.ok ? checkCsrNamesNode(verified.value, naming) : verified;
  };

  it("the node's own names in two extensionRequest attributes pass", () => {
    expect(check(handMadeCsr({ extensionRequests: [nodeUris({ nodeId: 'meter-7' }), nodeUris(naming).slice(1)] }))).toMatchObject({ ok: true });
  });

  it('a foreign URI in a second extensionRequest attribute is refused as subject_mismatch', () => {
    const csr = handMadeCsr({ extensionRequests: [nodeUris({ nodeId: 'meter-7' }), nodeUris({ nodeId: 'meter-other' })] });
    expect(check(csr)).toMatchObject({ ok: false, reason: 'subject_mismatch' });
  });

  it('an Ed25519 signature algorithm with NULL parameters is refused (RFC 8410: absent)', () => {
    const csr = handMadeCsr({ extensionRequests: [nodeUris(naming)], nullParameters: true });
    expect(verifyCertificationRequest(csr)).toMatchObject({ ok: false, reason: 'unsupported_signature_algorithm' });
  });

  it('more than MAX_CSR_LENGTH bytes is refused before parsing', () => {
    expect(verifyCertificationRequest(new Uint8Array(MAX_CSR_LENGTH + 1))).toMatchObject({ ok: false, reason: 'malformed_csr', detail: expect.stringContaining(`at most ${MAX_CSR_LENGTH}`) });
  });
});
