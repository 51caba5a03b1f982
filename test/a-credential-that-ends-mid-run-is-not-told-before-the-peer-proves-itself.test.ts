/**
 * Found in review (seeds 002 and 004 unobservability; SER-001): a hello tells a peer that has not authenticated only
 * `unknown_credential` for any credential it cannot use, yet a PSK shredded during a run (its credential revoked)
 * was answered `credential_revoked` at `provisioning.auth` and `association.finish`, both answered before the peer's
 * proof verifies: anyone who opened a run with a Node-ID and a public fingerprint learned that the credential was
 * revoked. Before the proof, the answer is now the hello's; the real reason reaches the service's log only. Once
 * the peer has proved itself (a later step), it is still told `credential_revoked`. Found in a later review: an
 * association hello never answers `unknown_credential` (it gets a decoy challenge), so at the association finish it
 * told a stranger exactly that the credential became unusable during its run; that finish now answers what a failed
 * proof gets (`bad_mac`), the reason still in the log; and so, once its hello got a decoy challenge too, does the
 * provisioning auth.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpDeviceTransport, provisionOverHttp } from '../adapters/client/device/index.ts';
import { SessionTable, type SessionBase } from '../adapters/protocols/shared/session-table.ts';
import { isCredenceError, keyNotFound } from '../domain/errors.ts';
import { concealedRefusal } from '../domain/protocols/protocol.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { EF_OWNER, provisioningWorld } from './provisioning-protocol.fixtures.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';

/** What the peer is told (all an answer is made from) and the refusal kept for the service's log. */
const refused = async (run: () => Promise<unknown>) => {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isCredenceError(error, 'protocol')) throw new Error(`expected a protocol refusal, got ${String(error)}`);
  return { told: { message: error.message, problem: error.problem }, logged: concealedRefusal(error) };
};

interface TestSession extends SessionBase {
  stage: 'challenged' | 'delivered';
}

describe('a session step whose peer\'s key is gone (the credential ended during the run)', () => {
  const now = new Date(Date.UTC(2030, 0, 1));
  const table = async () => {
    const sessions = new SessionTable<TestSession>({ timeoutSeconds: 60, cleanup: async () => {}, peerKeys: () => ['peer-psk'] });
    await sessions.add('hello', now, { id: 's1', stage: 'challenged' }, { claimant: 'node-a', nonce: 'n1' });
    return sessions;
  };
  const keyGone = (handle: string) => async (): Promise<never> => {
    throw keyNotFound(handle);
  };

  it('before the peer\'s proof verified, is told as any unusable credential, the real reason kept for the log', async () => {
    const sessions = await table();
    const { told, logged } = await refused(() => sessions.step('s1', 'auth', 'challenged', now, keyGone('peer-psk')));
    expect(told).toEqual({ message: 'auth rejected: unknown_credential', problem: { code: 'protocol', step: 'auth', reason: 'unknown_credential', message: 'auth rejected: unknown_credential' } });
    expect(logged).toMatchObject({ step: 'auth', reason: 'credential_revoked' });
  });

  it('once the peer has proved itself, is told credential_revoked', async () => {
    const sessions = await table();
    await sessions.step('s1', 'auth', 'challenged', now, async (s) => {
      s.authenticated = true;
      s.stage = 'delivered';
    });
    const { told, logged } = await refused(() => sessions.step('s1', 'receipt', 'delivered', now, keyGone('peer-psk')));
    expect(told.problem).toMatchObject({ step: 'receipt', reason: 'credential_revoked' });
    expect(logged).toBeUndefined();
  });

  it('a key of the service\'s own stays an internal error, told as nothing about the credential', async () => {
    const sessions = await table();
    const error = await sessions.step('s1', 'auth', 'challenged', now, keyGone('own-key')).catch((e: unknown) => e);
    expect(isCredenceError(error)).toBe(false);
    expect((error as Error).message).toMatch(/^auth: a key of this service is missing/);
  });
});

describe('a provisioning auth whose bootstrap PSK was shredded after the hello', () => {
  // A provisioning hello never answers `unknown_credential` any more (a decoy challenge): the auth answers what a
  // failed proof gets, as the association finish does.
  it('is told what a failed proof is told (bad_mac); credential_revoked is for the log, naming no key handle', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'psk256' });
    const failing = await world.client.start({ credentialKind: 'psk256' });
    const forged = await failing.acceptChallenge(await world.ef.acceptHello(failing.hello));
    const failedProof = await refused(() => world.ef.acceptAuth({ ...forged, proof: `${forged.proof[0] === 'A' ? 'B' : 'A'}${forged.proof.slice(1)}` }));
    const session = await world.client.start({ credentialKind: 'psk256' });
    const auth = await session.acceptChallenge(await world.ef.acceptHello(session.hello));
    await world.efSe.destroy(EF_OWNER, world.bootstrap.efHandle as KeyHandle);

    const { told, logged } = await refused(() => world.ef.acceptAuth(auth));
    expect(told.problem).toMatchObject({ step: 'provisioning.auth', reason: 'bad_mac' });
    expect(told).toEqual(failedProof.told);
    expect(logged).toMatchObject({ step: 'provisioning.auth', reason: 'credential_revoked' });
    expect(logged?.message).not.toMatch(/key_[A-Za-z0-9_-]{24}/);
    // Both runs go on: one whose bootstrap ended mid-run is kept as a failed proof is (review 393), so its run's
    // lifetime cannot tell the end apart from a wrong proof either.
    expect(world.ef.sessionCount).toBe(2);
  });
});

describe('an association finish over HTTP whose PSK credential was revoked after the hello', () => {
  let world: DeviceServiceWorld;
  let sim: SimulatedDevice;
  beforeAll(async () => {
    world = await deviceServiceWorld();
    sim = await world.enrolledDevice('zz-ended', 'ed25519');
    await provisionOverHttp(httpDeviceTransport(world.service.url), sim.device, { credentialId: 'zz-ended-svc', kind: 'psk256', enrolmentFunction: sim.state.pinned.enrolmentFunction });
    await world.configure('zz-ended-sa', sim, 'zz-ended-svc');
  }, 60_000);
  afterAll(async () => {
    await world?.close();
  });

  it('is 422 bad_mac, word for word what a failed proof gets, with nothing of the credential, and the log says finish refused, credential_revoked', async () => {
    const registree = sim.device.registree('zz-ended-svc', sim.device.cseId!, { id: sim.state.pinned.registrar.id, key: sim.state.pinned.registrar.publicKey });
    const handshake = await registree.start({ lifetimeSeconds: 600, associationId: 'zz-ended-sa' });
    try {
      const challenge = await world.post('/v1/registrar/associations/zz-ended-sa/hello', handshake.hello);
      expect(challenge.status).toBe(200);
      const { finish } = await handshake.acceptChallenge(challenge.body);
      await operatorCommand(world.operator, 'revokeCredential', { credentialId: 'zz-ended-svc', reason: 'keyCompromise' });
      // The shredder destroys the service's copy of the PSK once it reads the revocation.
      const keys = world.service.service.context.credence.keyRegistry!;
      for (let i = 0; i < 200 && keys.live('credential-zz-ended-svc', 'psk').length > 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect(keys.live('credential-zz-ended-svc', 'psk')).toEqual([]);

      const answer = await world.post('/v1/registrar/associations/zz-ended-sa/finish', finish);
      // Not unknown_credential: since a hello never answers that, here it would tell a stranger that the credential
      // became unusable during its run. A failed proof's answer (the Registrar's assertProof), the same for anyone.
      expect(answer).toMatchObject({
        status: 422,
        body: { step: 'association.finish', reason: 'bad_mac', detail: 'association.finish rejected: bad_mac (Registree authentication failed)' },
      });
      expect(JSON.stringify(answer.body)).not.toMatch(/revoked|sha256:|key_[A-Za-z0-9_-]{24}/);

      const logged = world.service
        .logs()
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((entry) => entry['reqId'] === answer.body['requestId'] && entry['msg'] === 'finish refused as bad_mac');
      expect(logged).toEqual([expect.objectContaining({ level: 30, step: 'association.finish', reason: 'credential_revoked' })]);
    } finally {
      await handshake.abort();
    }
  });
});
