/**
 * Security issue 11 item 9 ("`owner` is a caller-supplied string"): components no longer take `{ se, owner }`.
 * Whoever wires them (the composition root, a device for its own Secure Environment, a test fixture) binds the
 * owner once with `ownerView`; a component holding the view cannot act as any other owner, and cannot re-point it.
 */
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { bindOwner, ownerView } from '../domain/ports/owner-view.ts';
import type { OwnedSecureEnvironment, SecureEnvironment } from '../domain/ports/secure-environment.ts';
import { Device } from '../adapters/protocols/procedures/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { associate, handshakeWorld, REGISTRAR_OWNER } from './handshake.fixtures.ts';
import { fakeClock, memorySecureEnvironment, seededRandom } from './crypto-fixtures.ts';
import { operator } from './support/fleet.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/embedded.ts';

const OTHER = 'maf:someone-else';
const text = (s: string) => new TextEncoder().encode(s);
const isUnauthorised = (e: unknown) => isCredenceError(e, 'unauthorised');

/** Any port implementation, seen only through the port: no `forOwner` (a future PKCS#11 one, say). */
const plainPort = (se: SecureEnvironment): SecureEnvironment => ({
  generate: (...a) => se.generate(...a),
  describe: (...a) => se.describe(...a),
  sign: (...a) => se.sign(...a),
  agree: (...a) => se.agree(...a),
  deriveKey: (...a) => se.deriveKey(...a),
  mac: (...a) => se.mac(...a),
  verifyMac: (...a) => se.verifyMac(...a),
  seal: (...a) => se.seal(...a),
  open: (...a) => se.open(...a),
  wrap: (...a) => se.wrap(...a),
  unwrap: (...a) => se.unwrap(...a),
  destroy: (...a) => se.destroy(...a),
  listKeys: (...a) => se.listKeys(...a),
});

const expectFrozenTo = (view: OwnedSecureEnvironment, owner: string) => {
  expect(view.owner).toBe(owner);
  expect(Object.isFrozen(view)).toBe(true);
  expect(() => {
    (view as { owner: string }).owner = OTHER;
  }).toThrow(TypeError);
  expect(() => {
    (view as { mac: unknown }).mac = () => undefined;
  }).toThrow(TypeError);
  expect(() => Object.defineProperty(view, 'owner', { value: OTHER })).toThrow(TypeError);
  expect(view.owner).toBe(owner);
};

describe('a component given an owner view', () => {
  it("a Registrar CSE whose view is its owner's cannot sign with another owner's key: unauthorised", async () => {
    const clock = fakeClock();
    const registrarSe = memorySecureEnvironment('owner-view/registrar', clock.now);
    const foreign = await registrarSe.generate(OTHER, 'ed25519');
    const world = await handshakeWorld({
      kind: 'ed25519',
      seed: 'owner-view',
      se: { registrar: registrarSe, registree: memorySecureEnvironment('owner-view/registree', clock.now) },
      registrar: { signingKey: { kind: 'ed25519', handle: foreign } },
    });
    const error = await associate(world).catch((e: unknown) => e);
    expect(isUnauthorised(error) && error.problem.code === 'unauthorised' && error.problem.actor).toBe(REGISTRAR_OWNER);
    // The key is intact, and usable by its owner only.
    await expect(registrarSe.sign(OTHER, foreign, text('x'))).resolves.toHaveLength(64);
  });

  it("a Device acts in its Secure Environment only as node:<id>, through a frozen view; another owner's key is refused", async () => {
    const clock = fakeClock();
    const shared = memorySecureEnvironment('owner-view/device', clock.now);
    const infraKey = await shared.generate('maf:infrastructure', 'psk256');
    const device = new Device({ nodeId: 'meter-1', se: shared, now: clock.now, random: seededRandom('owner-view/device/protocol') });
    expectFrozenTo(device.se, 'node:meter-1');
    await expect(device.se.mac(infraKey, text('x'))).rejects.toSatisfy(isUnauthorised);
    await expect(device.se.destroy(infraKey)).rejects.toSatisfy(isUnauthorised);
    const own = await device.generateBootstrap('p256', { notBefore: '2030-01-01T00:00:00.000Z', notAfter: '2031-01-01T00:00:00.000Z' });
    expect((await shared.describe('node:meter-1', own.handle)).usage).toBe('sign');
  });
});

describe('ownerView', () => {
  it('binds the owner over any port implementation: frozen, and the environment still refuses a foreign handle', async () => {
    const clock = fakeClock();
    const embedded = memorySecureEnvironment('owner-view/plain', clock.now);
    const port = plainPort(embedded);
    const foreign = await port.generate(OTHER, 'psk256');
    const view = ownerView(port, 'node:alice');
    expectFrozenTo(view, 'node:alice');
    const mine = await view.generate('psk256');
    expect((await embedded.describe('node:alice', mine)).kind).toBe('psk256');
    await expect(view.mac(foreign, text('x'))).rejects.toSatisfy(isUnauthorised);
    await expect(view.describe(foreign)).rejects.toSatisfy(isUnauthorised);
    expect(() => bindOwner(port, '')).toThrow(/owner/);
  });

  it("uses the implementation's forOwner when it has one, so an allow-list refuses an owner it does not serve", () => {
    const clock = fakeClock();
    const se = EmbeddedSecureEnvironment.open(
      { database: ':memory:', kek: { source: 'ephemeral' }, owners: ['node:alice'] },
      { now: clock.now, random: seededRandom('owner-view/allow-list') },
    );
    expect(() => ownerView(se, 'node:mallory')).toThrow(expect.objectContaining({ code: 'unauthorised' }));
    expectFrozenTo(ownerView(se, 'node:alice'), 'node:alice');
    se.close();
  });

  it('openCredence binds the infrastructure owner once, up front: an environment that does not serve it is refused', () => {
    const clock = fakeClock();
    const se = EmbeddedSecureEnvironment.open(
      { database: ':memory:', kek: { source: 'ephemeral' }, owners: ['node:alice'] },
      { now: clock.now, random: seededRandom('owner-view/open') },
    );
    const open = () =>
      openCredence({ location: { memory: true }, clock: { now: clock.now }, security: { se, random: seededRandom('owner-view/open/random'), actor: operator } });
    expect(open).toThrow(expect.objectContaining({ code: 'unauthorised' }));
    se.close();
  });
});
