/**
 * Review 304 (high): review 297 refused a hello whose manufacturer chain carried a certificate off the first path that
 * validated (certificate_on_no_path), never trying another path, so legitimate chains were refused while
 * pre-provisioning (domain/x509/factory.ts) accepted them: a device recorded that could never provision. Certificates
 * off the validated path are ignored again, as RFC 4158 path building does; what review 297 feared of them (a flood of
 * pending runs each holding the chain) is met by the run keeping its hello without the chain.
 */
import { describe, expect, it } from 'vitest';
import type { KeptHello } from '../adapters/protocols/enrolment/enrolment-runs.ts';
import { certificateFingerprint } from '../domain/crypto/fingerprint.ts';
import { TrustAnchors } from '../domain/x509/chain.ts';
import { NODE_ID, provision, provisioningWorld } from './provisioning-protocol.fixtures.ts';
import { der, importPublicKey, intermediateCa, issue, rootCa, type Issuer } from './x509-fixtures.ts';

const SUBJECT = `CN=${NODE_ID}, O=Acme Meters`;

/**
 * Provisions end to end a p256 device certified by `issuer`, sending `[leaf, ...rest]`, against `anchors`; returns
 * the recorded manufacturer certificate and the hellos the runs kept.
 */
const provisionWith = async (seed: string, issuer: Issuer, rest: readonly Uint8Array[], anchors: readonly Issuer[]) => {
  const kept: KeptHello[] = [];
  const world = await provisioningWorld({
    bootstrapKind: 'p256',
    seed,
    certificate: async (publicKey) => {
      const leaf = der(await issue(issuer, { subject: SUBJECT, publicKey: await importPublicKey('p256', publicKey) }));
      return { leaf, chain: [leaf, ...rest] };
    },
    trustAnchors: TrustAnchors.fromDer(anchors.map((a) => der(a.cert))),
    ef: { runEnded: ({ hello }) => kept.push(hello) },
  });
  const { outcome, session } = await provision(world, 'p256');
  return { outcome, sent: session.hello.certificateChain ?? [], kept, world };
};

/** `ca`'s subject and key certified by `by` instead: a cross-certificate. */
const crossCertified = async (ca: Issuer, by: Issuer): Promise<Issuer> => ({
  cert: await issue(by, { subject: ca.cert.subject, publicKey: ca.keys.publicKey, ca: true }),
  keys: ca.keys,
});

describe('provisioning with a manufacturer chain holding certificates off the path it validates by', async () => {
  const root = await rootCa();
  const deviceCa = await intermediateCa(root, 'CN=Acme Device CA, O=Acme');

  it('(a) the operator trusts the device CA, the device sends [leaf, device CA, root]: provisions', async () => {
    const { outcome, sent } = await provisionWith('off-path-a', deviceCa, [der(deviceCa.cert), der(root.cert)], [deviceCa]);
    expect(sent).toHaveLength(3);
    expect(outcome.manufacturerCertificate).toMatchObject({ subject: SUBJECT });
    expect(outcome.manufacturerCertificate?.anchorFingerprint).toBe(certificateFingerprint(der(deviceCa.cert)));
  });

  it('(b) a cross-certified intermediate [leaf, I by R1, I by R2] with only R1 trusted: provisions', async () => {
    const r2 = await rootCa('CN=Acme Partner Root CA, O=Acme Partner');
    const byR2 = await crossCertified(deviceCa, r2);
    for (const [seed, rest] of [
      ['off-path-b', [der(deviceCa.cert), der(byR2.cert)]],
      ['off-path-b-reversed', [der(byR2.cert), der(deviceCa.cert)]],
    ] as const) {
      const { outcome } = await provisionWith(seed, deviceCa, rest, [root]);
      expect(outcome.manufacturerCertificate).toMatchObject({ subject: SUBJECT });
    }
  });

  it('(c) a root migration [leaf, I, R1 cross-signed by R2] with R1 and R2 trusted: provisions', async () => {
    const r2 = await rootCa('CN=Acme Meters Root CA 2, O=Acme');
    const r1ByR2 = await crossCertified(root, r2);
    const { outcome } = await provisionWith('off-path-c', deviceCa, [der(deviceCa.cert), der(r1ByR2.cert)], [root, r2]);
    expect(outcome.manufacturerCertificate).toMatchObject({ subject: SUBJECT });
  });

  it('(d) a duplicate intermediate [leaf, I, I]: provisions', async () => {
    const { outcome } = await provisionWith('off-path-d', deviceCa, [der(deviceCa.cert), der(deviceCa.cert)], [root]);
    expect(outcome.manufacturerCertificate).toMatchObject({ subject: SUBJECT });
  });

  it('junk certificates added to a genuine chain: the hello gets its challenge, recorded node or not, and no run keeps the chain', async () => {
    const otherRoot = await rootCa('CN=Other Manufacturer Root, O=Other');
    const unrelatedCa = await intermediateCa(otherRoot, 'CN=Unrelated CA, O=Other');
    const { outcome, sent, kept, world } = await provisionWith('off-path-junk', deviceCa, [der(deviceCa.cert), der(unrelatedCa.cert), der(otherRoot.cert)], [
      root,
      otherRoot,
    ]);
    expect(sent).toHaveLength(4);
    expect(outcome.manufacturerCertificate).toMatchObject({ subject: SUBJECT });
    // The same hello under a made-up Node-ID: a challenge too (a decoy), its run pending without the chain.
    const { hello } = await world.client.start({ credentialKind: 'p256' });
    const challenge = await world.ef.acceptHello({ ...hello, nodeId: 'node-made-up-7' });
    expect(challenge).toMatchObject({ type: 'provisioning.challenge' });
    expect(world.ef.sessionCount).toBe(1);
    expect(await world.ef.endRun(challenge.sessionId)).toBe(true);
    expect(kept.map((h) => h.nodeId).sort()).toEqual([NODE_ID, 'node-made-up-7']);
    for (const h of kept) expect('certificateChain' in h).toBe(false);
  });
});

