/**
 * Found after review 64 (as remote provisioning's F4, commit 2683646; seed 003 11.3.2): an asymmetric credential
 * revoked between an association hello and its finish still had its finish answered: the Registrar checked only that
 * a PSK was still there (the shredder ends a PSK's run), granted the lifetime, derived the session keys and
 * remembered the run, and over HTTP only the engine's refusal to record it ended the run. Now the finish reads the
 * credential again, by the hello's own lookup, once the Registree's proof verifies, and refuses its holder with the
 * reason (`credential_revoked`), as a decoy run's holder is told: no grant, no session key, nothing remembered or
 * appended, the run ended.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpDeviceTransport, provisionOverHttp } from '../adapters/client/device/index.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { handshakeWorld, type HandshakeWorldOptions } from './handshake.fixtures.ts';
import { keysMadeBy } from './support/keys-made.ts';
import { rememberedBy, told } from './support/protocol-answers.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';

describe('an association finish, in process, whose credential was revoked after the hello', () => {
  it.each(['ed25519', 'p256'] as const)('(%s) is refused credential_revoked to the holder: no grant, no session key, nothing remembered, the run ended', async (kind) => {
    // The world's lookup reads `revoked` on every call: the operator's revocation between the two messages.
    const options: { -readonly [K in keyof HandshakeWorldOptions]: HandshakeWorldOptions[K] } = { kind };
    const world = await handshakeWorld(options);
    const handshake = await world.registree.start({ lifetimeSeconds: 600 });
    const challenge = await world.registrar.acceptHello(handshake.hello);
    const { finish } = await handshake.acceptChallenge(challenge);
    options.revoked = true;
    const made = keysMadeBy(world.registrarSe, ['generate', 'agree', 'deriveKey']);
    const remembered = rememberedBy(world.cache);

    const answer = await told(() => world.registrar.acceptFinish(finish));

    expect(answer.problem).toMatchObject({ code: 'protocol', step: 'association.finish', reason: 'credential_revoked' });
    expect(made).toEqual([]);
    expect(remembered).toEqual([]);
    expect(world.registrar.sessionCount).toBe(0);
    await handshake.abort();
  });

  it('a stranger\'s finish of such a run still gets what a failed proof gets', async () => {
    const options: { -readonly [K in keyof HandshakeWorldOptions]: HandshakeWorldOptions[K] } = { kind: 'ed25519' };
    const world = await handshakeWorld(options);
    const handshake = await world.registree.start({ lifetimeSeconds: 600 });
    const { finish } = await handshake.acceptChallenge(await world.registrar.acceptHello(handshake.hello));
    options.revoked = true;

    const answer = await told(() => world.registrar.acceptFinish({ ...finish, proof: `${finish.proof[0] === 'A' ? 'B' : 'A'}${finish.proof.slice(1)}` }));

    expect(answer.problem).toMatchObject({ step: 'association.finish', reason: 'bad_signature' });
    await handshake.abort();
  });
});

describe('an association finish over HTTP whose credential was revoked after the hello', () => {
  let world: DeviceServiceWorld;
  let sim: SimulatedDevice;
  beforeAll(async () => {
    world = await deviceServiceWorld();
    sim = await world.enrolledDevice('zz-midassoc', 'ed25519');
    await provisionOverHttp(httpDeviceTransport(world.service.url), sim.device, {
      credentialId: 'zz-midassoc-svc', kind: 'ed25519', enrolmentFunction: sim.state.pinned.enrolmentFunction,
    });
    await world.configure('zz-midassoc-sa', sim, 'zz-midassoc-svc');
  }, 60_000);
  afterAll(async () => {
    await world?.close();
  });

  it('is 422 credential_revoked to the Registree that proved it holds it: no confirm, nothing appended, the run ended', async () => {
    const path = (step: 'hello' | 'finish') => `/v1/registrar/associations/zz-midassoc-sa/${step}`;
    const handshake = await sim.device
      .registree('zz-midassoc-svc', sim.device.cseId!, { id: sim.state.pinned.registrar.id, key: sim.state.pinned.registrar.publicKey })
      .start({ lifetimeSeconds: 3600, associationId: 'zz-midassoc-sa' });
    try {
      const challenge = await world.post(path('hello'), handshake.hello);
      expect(challenge.status).toBe(200);
      const { finish } = await handshake.acceptChallenge(challenge.body);
      const beforeRevocation = await world.head();
      await operatorCommand(world.operator, 'revokeCredential', { credentialId: 'zz-midassoc-svc', reason: 'keyCompromise' });
      // The cascade revokes the waiting association after the command's answer: settled before counting what the finish appends.
      await expect.poll(async () => world.streamsWrittenSince(beforeRevocation), { timeout: 10_000 }).toContain('association-zz-midassoc-sa');
      const infra = await world.infrastructure();
      expect(infra.registrar.sessionCount).toBe(1);
      const head = await world.head();

      const answer = await world.post(path('finish'), finish);

      expect(answer).toMatchObject({ status: 422, body: { type: 'https://credence.dev/problems/protocol', step: 'association.finish', reason: 'credential_revoked' } });
      expect(answer.body).not.toHaveProperty('keyConfirmation');
      expect(answer.body).not.toHaveProperty('expiresAt');
      expect((await world.streamsWrittenSince(head)).filter((s) => !s.startsWith('pseudonym-'))).toEqual([]);
      expect(infra.registrar.sessionCount).toBe(0);
      // The run is over: the same finish again finds no session, since only a run that recorded something is answered
      // again (review 244), and nothing more.
      expect(await world.post(path('finish'), finish)).toMatchObject({ status: 422, body: { step: 'association.finish', reason: 'unknown_session' } });
      expect(await world.post(path('finish'), { ...finish, keyConfirmation: `${finish.keyConfirmation[0] === 'A' ? 'B' : 'A'}${finish.keyConfirmation.slice(1)}` })).toMatchObject({ status: 422, body: { step: 'association.finish', reason: 'unknown_session' } });
      expect((await world.streamsWrittenSince(head)).filter((s) => !s.startsWith('pseudonym-'))).toEqual([]);
    } finally {
      await handshake.abort();
    }
  });
});
