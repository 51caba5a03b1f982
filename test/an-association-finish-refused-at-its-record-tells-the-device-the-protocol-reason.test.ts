/**
 * Review 345: the window between the Registrar re-reading the credential at the finish (registrar-finish.ts,
 * assertCredentialStillUsable) and the engine recording `AssociationEstablished`.
 *
 * 1. (low-medium) A credential revoked in that window got its device the engine's raw `409 illegal_transition`
 *    (state, allowed, stream id, "credential … is revoked") as the finish's answer, instead of the documented protocol
 *    refusal (`credential_revoked`): RegistrarEndpoint mapped a machine refusal only through associationClosedFor,
 *    which never looks at the credential. Now the record's refusal reads the credential again, as the finish does.
 * 2. (low; seed 003 11.3.2) A rotation started in that window let the association outlive the overlap; the engine now
 *    refuses it (endsWithinOverlap, machines v14), and the device is told a protocol refusal, never the engine's 409.
 *
 * Each case wraps the Infrastructure's `run` so that the operator's command executes just before the
 * `establishAssociation` append; nothing is established and the device is told a protocol reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpDeviceTransport, provisionOverHttp } from '../adapters/client/device/index.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { cmd } from './support/fleet.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';

let world: DeviceServiceWorld;
let sim: SimulatedDevice;
beforeAll(async () => {
  world = await deviceServiceWorld();
  sim = await world.enrolledDevice('zz-window', 'ed25519');
  const transport = httpDeviceTransport(world.service.url);
  await provisionOverHttp(transport, sim.device, { credentialId: 'zz-window-svc', kind: 'ed25519', enrolmentFunction: sim.state.pinned.enrolmentFunction });
  await provisionOverHttp(transport, sim.device, { credentialId: 'zz-window-rot', kind: 'ed25519', enrolmentFunction: sim.state.pinned.enrolmentFunction });
  // The successor of zz-window-rot, for the rotation the second case starts in the window.
  await provisionOverHttp(transport, sim.device, {
    credentialId: 'zz-window-rot-2', kind: 'ed25519', enrolmentFunction: sim.state.pinned.enrolmentFunction, predecessorId: 'zz-window-rot',
  });
  await world.configure('zz-window-revoked', sim, 'zz-window-svc');
  await world.configure('zz-window-rotated', sim, 'zz-window-rot');
}, 60_000);
afterAll(async () => {
  await world?.close();
});

/**
 * Runs `before` once, just before the next `establishAssociation` the Infrastructure runs: after the finish's last read
 * of the credential, before the engine records the association.
 */
const beforeTheRecord = async (before: () => Promise<unknown>): Promise<() => void> => {
  const infra = await world.infrastructure();
  const run = infra.run.bind(infra);
  let armed = true;
  infra.run = (async (type, data, correlationId) => {
    if (type === 'establishAssociation' && armed) {
      armed = false;
      await before();
    }
    return run(type, data, correlationId);
  }) as typeof infra.run;
  return () => {
    infra.run = run;
  };
};

const handshakeOf = async (associationId: string, credentialId: string, lifetimeSeconds: number) => {
  const path = (step: 'hello' | 'finish') => `/v1/registrar/associations/${associationId}/${step}`;
  const handshake = await sim.device
    .registree(credentialId, sim.device.cseId!, { id: sim.state.pinned.registrar.id, key: sim.state.pinned.registrar.publicKey })
    .start({ lifetimeSeconds, associationId });
  const challenge = await world.post(path('hello'), handshake.hello);
  expect(challenge.status).toBe(200);
  const { finish } = await handshake.acceptChallenge(challenge.body);
  return { handshake, finish, post: () => world.post(path('finish'), finish) };
};

const stateOf = async (associationId: string) => String((await (await world.infrastructure()).o.engine.entity('association', associationId)).snapshot.value);

describe('an association finish whose record the engine refuses', () => {
  it('credential revoked after the finish read it: 422 credential_revoked to its holder, nothing established, no session key kept', async () => {
    const { handshake, post } = await handshakeOf('zz-window-revoked', 'zz-window-svc', 3600);
    // Straight to the engine, so the record comes before the cascade revokes the waiting association (the window).
    const { engine } = (await world.infrastructure()).o;
    const restore = await beforeTheRecord(() => engine.execute(cmd.revokeCredential('zz-window-svc')));
    try {
      const answer = await post();

      expect(answer, JSON.stringify(answer.body)).toMatchObject({
        status: 422, body: { type: 'https://credence.dev/problems/protocol', step: 'association.finish', reason: 'credential_revoked' },
      });
      expect(answer.body).not.toHaveProperty('keyConfirmation');
      expect(JSON.stringify(answer.body)).not.toContain('illegal_transition');
      expect(await stateOf('zz-window-revoked')).not.toBe('associated');
      expect((await world.infrastructure()).o.registry.live('association-zz-window-revoked', 'session')).toEqual([]);
    } finally {
      restore();
      await handshake.abort();
    }
  });

  it('rotation started after the finish read the credential, its overlap ending before the grant: a protocol refusal, nothing established', async () => {
    const { handshake, post } = await handshakeOf('zz-window-rotated', 'zz-window-rot', 7 * 86_400);
    const overlapEndsAt = new Date(Date.now() + 3600_000).toISOString();
    const restore = await beforeTheRecord(() =>
      operatorCommand(world.operator, 'startCredentialRotation', { credentialId: 'zz-window-rot', successorId: 'zz-window-rot-2', overlapEndsAt }),
    );
    try {
      const answer = await post();

      expect(answer, JSON.stringify(answer.body)).toMatchObject({
        status: 422, body: { type: 'https://credence.dev/problems/protocol', step: 'association.finish', reason: 'lifetime_exceeds_credential' },
      });
      expect(String(answer.body['detail'])).toContain(overlapEndsAt);
      expect(JSON.stringify(answer.body)).not.toContain('illegal_transition');
      expect(await stateOf('zz-window-rotated')).toBe('initialized');
      expect((await world.infrastructure()).o.registry.live('association-zz-window-rotated', 'session')).toEqual([]);
    } finally {
      restore();
      await handshake.abort();
    }
  });
});
