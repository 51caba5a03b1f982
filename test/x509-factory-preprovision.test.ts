/** preProvision verifies the manufacturer certificate before recording it (security issue 11, item 6). */
import { afterEach, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { generateSigningKey } from '../domain/crypto/signatures.ts';
import { seededRandom } from './crypto-fixtures.ts';
import { TrustAnchors } from '../domain/x509/index.ts';
import { footprint, profile, T0, at } from './support/fleet.ts';
import { securityWorld } from './support/security-world.ts';
import { der, importPublicKey, intermediateCa, issue, rootCa } from './x509-fixtures.ts';

type World = Awaited<ReturnType<typeof securityWorld>>;
let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe('preProvision verifies the factory certificate it records (SER-SWIR-04)', async () => {
  const root = await rootCa();
  const deviceCa = await intermediateCa(root, 'CN=Acme Meters Device CA, O=Acme');
  const certify = async (kind: 'ed25519' | 'p256', publicKey: Uint8Array) => [
    der(await issue(deviceCa, { subject: 'CN=meter-1, O=Acme Meters', publicKey: await importPublicKey(kind, publicKey) })),
    der(deviceCa.cert),
  ];
  const preProvision = (w: World, certifyWith = certify) =>
    w.procedures.preProvision({
      device: w.device('meter-1'), profile, bootstrapCredentialId: 'meter-1-boot', kind: 'p256',
      validity: { notBefore: T0, notAfter: at(5 * 365) }, certify: certifyWith,
    });

  it('records a certificate whose chain validates against the configured anchors', async () => {
    world = await securityWorld('factory-verified', { trustAnchors: TrustAnchors.fromDer([der(root.cert)]) });
    await preProvision(world);
    const boot = await world.credence.engine.entity('credential', 'meter-1-boot');
    expect(boot.events[0]!.event.data).toMatchObject({ certificate: { subject: 'CN=meter-1, O=Acme Meters' } });
  });

  it('refuses a chain to an unknown root and records nothing: unknown_trust_anchor', async () => {
    const otherRoot = await rootCa('CN=Someone Else Root');
    world = await securityWorld('factory-unknown-root', { trustAnchors: TrustAnchors.fromDer([der(otherRoot.cert)]) });
    const before = await footprint(world.credence.store);
    const error = await preProvision(world).catch((e: unknown) => e);
    expect(isCredenceError(error, 'bad_signature') && error.problem.code === 'bad_signature' && error.problem.reason).toBe('unknown_trust_anchor');
    expect(await footprint(world.credence.store)).toEqual(before);
  });

  it('refuses a certificate for another key than the bootstrap key: certified_key_mismatch', async () => {
    world = await securityWorld('factory-other-key', { trustAnchors: TrustAnchors.fromDer([der(root.cert)]) });
    const certifyOther = async (kind: 'ed25519' | 'p256') => certify(kind, generateSigningKey(kind, seededRandom('other-key')).publicKey);
    const error = await preProvision(world, certifyOther).catch((e: unknown) => e);
    expect(isCredenceError(error, 'bad_signature') && error.problem.code === 'bad_signature' && error.problem.reason).toBe('certified_key_mismatch');
  });
});
