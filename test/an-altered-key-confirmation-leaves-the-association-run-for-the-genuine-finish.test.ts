/**
 * Found in review 274: a finish whose proof checks but whose key confirmation does not is a failed proof that keeps the
 * run (failed-proofs.ts, review 238), yet checking the key confirmation had made the Registrar destroy its ephemeral
 * key (session-key.ts `deriveHandshake`). The run stayed in the session table unable to finish: the device's genuine
 * finish was answered `422 unknown_session` ("this end's key for the run is gone"), blaming the service, and anyone who
 * can inject on the device's network did it with one altered copy of the finish. The Registrar's ephemeral key now
 * lives as long as the run (the session table's `cleanup` destroys it when the run ends); only the ECDH secret and the
 * keys derived from it go with a key confirmation that does not check.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpDeviceTransport, provisionOverHttp } from '../adapters/client/device/index.ts';
import { RegistrarEndpoint } from '../adapters/protocols/procedures/index.ts';
import { MAX_FAILED_PROOFS } from '../adapters/protocols/shared/failed-proofs.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../domain/ports/secure-environment.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';
import { operator } from './support/fleet.ts';
import { told } from './support/protocol-answers.ts';
import { restartableWorld } from './support/restartable-world.ts';

/** A MAC with one base64url character changed: still well formed, no longer the sender's. */
const altered = (mac: string): string => `${mac.slice(0, 5)}${mac[5] === 'A' ? 'B' : 'A'}${mac.slice(6)}`;

/** Every key the Secure Environment's owner holds now, ephemeral ones included. */
const keysHeld = async (se: OwnedSecureEnvironment): Promise<Set<KeyHandle>> => {
  const held = new Set<KeyHandle>();
  let after: KeyHandle | undefined;
  do {
    const page = await se.listKeys({ limit: 1000, ...(after !== undefined ? { after } : {}) });
    for (const key of page.keys) held.add(key.handle);
    after = page.next;
  } while (after !== undefined);
  return held;
};

const madeSince = async (se: OwnedSecureEnvironment, before: Set<KeyHandle>): Promise<KeyHandle[]> =>
  [...(await keysHeld(se))].filter((h) => !before.has(h)).sort();

describe('over HTTP, an altered copy of a finish leaves the association run for the genuine finish', () => {
  let world: DeviceServiceWorld;
  let sim: SimulatedDevice;
  beforeAll(async () => {
    world = await deviceServiceWorld();
    sim = await world.enrolledDevice('meter-k', 'ed25519');
    for (const kind of ['ed25519', 'psk256'] as const) {
      await provisionOverHttp(httpDeviceTransport(world.service.url), sim.device, { credentialId: `k-${kind}`, kind, enrolmentFunction: sim.state.pinned.enrolmentFunction });
    }
  }, 60_000);
  afterAll(async () => {
    await world?.close();
  });

  const registree = (credentialId: string) =>
    sim.device.registree(credentialId, sim.device.cseId!, { id: sim.state.pinned.registrar.id, key: sim.state.pinned.registrar.publicKey });
  const path = (associationId: string, step: 'hello' | 'finish') => `/v1/registrar/associations/${associationId}/${step}`;
  const state = async (associationId: string) => String((await world.service.service.context.credence.engine.entity('association', associationId)).snapshot.value);

  it.each(['ed25519', 'psk256'] as const)('%s: the altered copy is refused as a failed proof, the genuine finish is 201 and associates; the run leaves only the association\'s session keys', async (kind) => {
    const associationId = `sa-k-${kind}`;
    await world.configure(associationId, sim, `k-${kind}`);
    const infra = await world.infrastructure();
    const se = infra.signing.se;
    const before = await keysHeld(se);

    // Given a run whose finish an attacker on the device's network has seen
    const handshake = await registree(`k-${kind}`).start({ lifetimeSeconds: 3600, associationId });
    const challenge = await world.post(path(associationId, 'hello'), handshake.hello);
    expect(challenge.status).toBe(200);
    const { finish } = await handshake.acceptChallenge(challenge.body);

    // When it sends a copy with one character of the key confirmation changed, ahead of the device's
    const refused = await world.post(path(associationId, 'finish'), { ...finish, keyConfirmation: altered(finish.keyConfirmation) });
    expect(refused.status).toBe(422);
    // answered as a failed proof of the credential's kind (review 405 F1)
    expect(refused.body).toMatchObject({ step: 'association.finish', reason: kind === 'psk256' ? 'bad_mac' : 'bad_signature', detail: expect.stringContaining('Registree authentication failed') });

    // Then the device's genuine finish completes the run
    const confirm = await world.post(path(associationId, 'finish'), finish);
    expect(confirm.status).toBe(201);
    await handshake.acceptConfirm(confirm.body);
    expect(await state(associationId)).toBe('associated');
    // and of every key the run made on the Registrar's side, only the association's two session keys are left
    const sessionKeys = infra.o.registry.live(`association-${associationId}`, 'session');
    expect(sessionKeys).toHaveLength(2);
    expect(await madeSince(se, before)).toEqual([...sessionKeys].sort());
    expect(infra.registrar.sessionCount).toBe(0);
  });

  it(`a run whose every finish is altered ends at the ${MAX_FAILED_PROOFS}rd with every key it made destroyed, nothing recorded`, async () => {
    const associationId = 'sa-k-ends';
    await world.configure(associationId, sim, 'k-psk256');
    const infra = await world.infrastructure();
    const se = infra.signing.se;
    const before = await keysHeld(se);
    const handshake = await registree('k-psk256').start({ lifetimeSeconds: 3600, associationId });
    const { finish } = await handshake.acceptChallenge((await world.post(path(associationId, 'hello'), handshake.hello)).body);
    for (let i = 0; i < MAX_FAILED_PROOFS; i++) {
      const refused = await world.post(path(associationId, 'finish'), { ...finish, keyConfirmation: altered(finish.keyConfirmation) });
      expect(refused.body).toMatchObject({ step: 'association.finish', reason: 'bad_mac' });
    }
    expect((await world.post(path(associationId, 'finish'), finish)).body).toMatchObject({ reason: 'unknown_session' });
    await handshake.abort();
    expect(await state(associationId)).toBe('initialized');
    expect(await madeSince(se, before)).toEqual([]);
  });
});

describe('in process, a run left after an altered finish', () => {
  it('ends at its expiry with every key it made destroyed, its ephemeral key included', async () => {
    const w = await restartableWorld('altered-finish-expires');
    try {
      const device = await w.provisioned('meter-1', 'ed25519', 'psk256');
      await w.credence.engine.execute({
        type: 'configureAssociation',
        data: { associationId: 'sa-1', nodeId: 'meter-1', credentialId: 'meter-1-svc', registree: { kind: 'cse', id: device.cseId }, registrarCseId: w.infrastructure.registrarCseId },
        metadata: { actor: operator },
      });
      const endpoint = new RegistrarEndpoint(w.infrastructure);
      const pinned = await w.infrastructure.pinned('registrar');
      const handshake = await device.registree('meter-1-svc', device.cseId!, { id: pinned.id, key: pinned.publicKey }).start({ lifetimeSeconds: 600, associationId: 'sa-1' });
      const se = w.infrastructure.signing.se;
      await w.credence.tick(); // the service's own key made at a first tick (the pseudonym key) is no run's
      const before = await keysHeld(se);
      const { finish } = await handshake.acceptChallenge(await endpoint.acceptHello('sa-1', handshake.hello));
      await handshake.abort();
      expect((await told(() => endpoint.acceptFinish('sa-1', { ...finish, keyConfirmation: altered(finish.keyConfirmation) }))).problem).toMatchObject({ reason: 'bad_mac' });
      // The run holds its ephemeral key until it ends
      expect(w.infrastructure.registrar.sessionCount).toBe(1);
      expect(await madeSince(se, before)).toHaveLength(1);

      w.clock.advance(61_000);
      await w.credence.tick();

      expect(w.infrastructure.registrar.sessionCount).toBe(0);
      expect(await madeSince(se, before)).toEqual([]);
    } finally {
      await w.close();
    }
  });
});
