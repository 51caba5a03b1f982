import { afterEach, describe, expect, it } from 'vitest';
import { ownerView, type KeyHandle } from '../domain/ports/index.ts';
import { keysMadeBy } from './support/keys-made.ts';
import { restartableWorld, type RestartableWorld } from './support/restartable-world.ts';

/*
 * Review 53 finding 5, in the procedures an operator runs in process (SecurityProcedures): the bootstrap PSK copy and
 * the Registrar's session keys were bound in the key registry before the `try` that discards them, so a registry that
 * refused the binding (a locked or full keys.db) left them in the Secure Environment, named by nothing.
 */
const LOCKED = 'keys.db: database is locked (simulated)';
let world: RestartableWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

/** The world's registry refuses to bind keys of `purpose`; every key the infrastructure makes from now on is listed. */
const refuseBinding = (w: RestartableWorld, purpose: string) => {
  const registry = w.infrastructure.o.registry;
  const register = registry.register.bind(registry);
  registry.register = (stream, handle, p, options) => {
    if (p === purpose) throw new Error(LOCKED);
    register(stream, handle, p, options);
  };
  return keysMadeBy(w.se, ['generate', 'agree', 'deriveKey', 'unwrap']);
};

const heldByInfrastructure = async (w: RestartableWorld, handles: readonly KeyHandle[]) => {
  const se = ownerView(w.se, w.infrastructure.owner);
  const held = await Promise.all(handles.map(async (h) => ((await se.describe(h).then(() => true, () => false)) ? [h] : [])));
  return held.flat();
};

describe('an in-process procedure whose key the registry cannot record leaves no key behind', () => {
  it('pre-provisioning: the infrastructure copy of the bootstrap PSK is destroyed', async () => {
    world = await restartableWorld('unbound-bootstrap-psk');
    const made = refuseBinding(world, 'psk');
    await expect(world.enrolled('meter-1', 'psk256')).rejects.toThrow(LOCKED);
    expect(made.length).toBeGreaterThan(0);
    expect(await heldByInfrastructure(world, made)).toEqual([]);
  });

  it("association: the Registrar's session keys are destroyed", async () => {
    world = await restartableWorld('unbound-session-keys');
    const device = await world.provisioned('meter-1', 'ed25519', 'psk256');
    const made = refuseBinding(world, 'session');
    await expect(world.procedures.associate({ device, associationId: 'a-1', credentialId: 'meter-1-svc', lifetimeSeconds: 3600 })).rejects.toThrow(LOCKED);
    expect(made.length).toBeGreaterThan(0);
    expect(await heldByInfrastructure(world, made)).toEqual([]);
  });
});
