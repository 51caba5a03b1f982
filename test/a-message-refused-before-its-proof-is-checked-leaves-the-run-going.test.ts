/**
 * Review 224 (low): any refused message naming a session id ended that run, before any proof of it was checked, so
 * anyone who saw a session id could end the run: a captured auth replayed after the delivery was refused
 * `unknown_session` and took with it the delivered PSK's copy, the node's genuine receipt then refused; an association
 * finish with the right session id and a junk registrarNonce (`nonce_mismatch`) made the genuine finish
 * `unknown_session`. Now a message refused before any proof is checked (wrong stage, wrong nonce, wrong credential
 * fingerprint, another association) leaves its run as it was, expiry included, however many (review 227: the eighth
 * ended it, and eight replays did what one did); a refusal once the proof verified still ends it, and since review 238
 * a failed proof does only at the run's third (test/a-junk-proof-does-not-end-a-devices-run.test.ts).
 * Steps of one session stay
 * one at a time: two genuine messages never both proceed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpDeviceTransport, provisionOverHttp } from '../adapters/client/device/index.ts';
import { fromBase64url } from '../domain/crypto/index.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { handshakeWorld } from './handshake.fixtures.ts';
import { refusal } from './support/protocol-refusal.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';

/** A nonce, proof or MAC with its first character changed: still base64url, no longer the sender's. */
const flipped = (value: string): string => `${value[0] === 'A' ? 'B' : 'A'}${value.slice(1)}`;

describe('over HTTP', () => {
  let world: DeviceServiceWorld;
  let sim: SimulatedDevice;
  beforeAll(async () => {
    world = await deviceServiceWorld();
    sim = await world.enrolledDevice('meter-junk', 'ed25519');
    await provisionOverHttp(httpDeviceTransport(world.service.url), sim.device, {
      credentialId: 'svc-junk', kind: 'ed25519', enrolmentFunction: sim.state.pinned.enrolmentFunction,
    });
    for (const id of ['sa-junk-nonce', 'sa-junk-proof']) await world.configure(id, sim, 'svc-junk');
  }, 60_000);
  afterAll(async () => {
    await world?.close();
  });

  const pinnedEf = () => {
    const { id, publicKey } = sim.state.pinned.enrolmentFunction;
    return { id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } };
  };
  const expectRefused = (response: Awaited<ReturnType<DeviceServiceWorld['post']>>, step: string, reason: string) =>
    expect(response).toMatchObject({ status: 422, body: { type: 'https://credence.dev/problems/protocol', step, reason } });
  const path = (associationId: string, step: 'hello' | 'finish') => `/v1/registrar/associations/${associationId}/${step}`;
  const registree = () => sim.device.registree('svc-junk', sim.device.cseId!, { id: sim.state.pinned.registrar.id, key: sim.state.pinned.registrar.publicKey });

  it('a captured auth replayed after a PSK\'s delivery is refused, and the node\'s genuine receipt is then recorded', async () => {
    const session = await sim.device.provisioningClient(pinnedEf()).start({ credentialKind: 'psk256', credentialId: 'c-junk-psk' });
    try {
      const auth = await session.acceptChallenge((await world.post('/v1/enrolment/hello', session.hello)).body);
      const delivery = await world.post('/v1/enrolment/auth', auth);
      expect(delivery.status).toBe(200);
      const { receipt } = await session.acceptDelivery(delivery.body);

      expectRefused(await world.post('/v1/enrolment/auth', auth), 'provisioning.auth', 'unknown_session');
      expectRefused(await world.post('/v1/enrolment/receipt', { ...receipt, credentialFingerprint: `sha256:${'a'.repeat(64)}` }), 'provisioning.receipt', 'credential_mismatch');

      expect((await world.post('/v1/enrolment/receipt', receipt)).status).toBe(201);
    } finally {
      await session.abort();
    }
  });

  it('an auth with a junk enrolment nonce is refused, and the genuine auth is then answered', async () => {
    const session = await sim.device.provisioningClient(pinnedEf()).start({ credentialKind: 'ed25519', credentialId: 'c-junk-nonce' });
    try {
      const auth = await session.acceptChallenge((await world.post('/v1/enrolment/hello', session.hello)).body);
      expectRefused(await world.post('/v1/enrolment/auth', { ...auth, enrolmentNonce: flipped(auth.enrolmentNonce) }), 'provisioning.auth', 'nonce_mismatch');
      expect((await world.post('/v1/enrolment/auth', auth)).status).toBe(200);
    } finally {
      await session.abort();
    }
  });

  it('a finish with the right session id and a junk registrarNonce is refused, and the genuine finish then establishes', async () => {
    const handshake = await registree().start({ lifetimeSeconds: 3600, associationId: 'sa-junk-nonce' });
    try {
      const { finish } = await handshake.acceptChallenge((await world.post(path('sa-junk-nonce', 'hello'), handshake.hello)).body);
      expectRefused(await world.post(path('sa-junk-nonce', 'finish'), { ...finish, registrarNonce: flipped(finish.registrarNonce) }), 'association.finish', 'nonce_mismatch');
      const confirm = await world.post(path('sa-junk-nonce', 'finish'), finish);
      expect(confirm.status).toBe(201);
      await handshake.acceptConfirm(confirm.body);
    } finally {
      await handshake.abort();
    }
  });

  it('a finish whose proof fails leaves the run going too (review 238): the genuine finish then establishes', async () => {
    const handshake = await registree().start({ lifetimeSeconds: 3600, associationId: 'sa-junk-proof' });
    try {
      const { finish } = await handshake.acceptChallenge((await world.post(path('sa-junk-proof', 'hello'), handshake.hello)).body);
      expectRefused(await world.post(path('sa-junk-proof', 'finish'), { ...finish, proof: flipped(finish.proof) }), 'association.finish', 'bad_signature');
      const confirm = await world.post(path('sa-junk-proof', 'finish'), finish);
      expect(confirm.status).toBe(201);
      await handshake.acceptConfirm(confirm.body);
    } finally {
      await handshake.abort();
    }
  });
});

describe('in process, at the Registrar', () => {
  const opened = async () => {
    const world = await handshakeWorld({ kind: 'ed25519' });
    const handshake = await world.registree.start({ lifetimeSeconds: 600 });
    const challenge = await world.registrar.acceptHello(handshake.hello);
    const { finish } = await handshake.acceptChallenge(challenge);
    return { world, handshake, finish, junk: { ...finish, registrarNonce: flipped(finish.registrarNonce) } };
  };

  it('junk finishes, however many (review 227), leave the run going; the genuine one then establishes, and the hello is still a replay', async () => {
    const { world, handshake, finish, junk } = await opened();
    for (let i = 0; i < 20; i++) expect(await refusal(() => world.registrar.acceptFinish(junk))).toEqual({ step: 'association.finish', reason: 'nonce_mismatch' });
    expect(world.registrar.sessionCount).toBe(1);
    expect(await refusal(() => world.registrar.acceptHello(handshake.hello))).toEqual({ step: 'association.hello', reason: 'replayed_nonce' });
    const { confirm } = await world.registrar.acceptFinish(finish);
    await handshake.acceptConfirm(confirm);
  });

  it('a junk finish does not extend the run: the genuine one past the first expiry is stale', async () => {
    const { world, handshake, finish, junk } = await opened();
    world.clock.advance(50_000);
    expect(await refusal(() => world.registrar.acceptFinish(junk))).toEqual({ step: 'association.finish', reason: 'nonce_mismatch' });
    world.clock.advance(11_000);
    expect(await refusal(() => world.registrar.acceptFinish(finish))).toEqual({ step: 'association.finish', reason: 'stale' });
    await handshake.abort();
  });

  it('a junk finish sent alongside the genuine one never keeps it from establishing; two genuine finishes at once, one proceeds', async () => {
    const first = await opened();
    const [junkAnswer, genuine] = await Promise.allSettled([first.world.registrar.acceptFinish(first.junk), first.world.registrar.acceptFinish(first.finish)]);
    expect(junkAnswer.status).toBe('rejected');
    expect(genuine.status).toBe('fulfilled');
    await first.handshake.abort();

    const second = await opened();
    const answers = await Promise.allSettled([second.world.registrar.acceptFinish(second.finish), second.world.registrar.acceptFinish(second.finish)]);
    expect(answers.map((a) => a.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = answers.find((a) => a.status === 'rejected') as PromiseRejectedResult;
    expect(await refusal(() => Promise.reject(refused.reason))).toEqual({ step: 'association.finish', reason: 'unknown_session' });
    await second.handshake.abort();
  });
});
