/**
 * Review 187 (follow-up at the device routes): a provisioning whose Enrolment Function ephemeral key its Secure
 * Environment lost (a token session lost between the hello and the auth) is told `unknown_session`, the Secure
 * Environment's `not_found` kept behind it as its `cause` for the service's log. But the device routes logged no 422
 * refusal at all, so that cause never reached the log: the operator saw devices start anew and never why. Now a
 * device-route refusal carrying a cause is logged at warn with it (handles and the token's label, never key
 * material); the answer is unchanged.
 */
import { describe, expect, it, vi } from 'vitest';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import { LOG_KEY_OWNER } from '../adapters/driven/transparency/secure-environment-signer.ts';
import { keyNotFound } from '../domain/errors.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { pinnedEf, useEnrolledDevice } from './support/enrolled-device-world.ts';

const served = useEnrolledDevice('meter-lost');

/** The key as the PKCS#11 Secure Environment answers a session object its lost session took (key-lookup.ts). */
const lostWithItsSession = (handle: KeyHandle): Error => {
  const gone = keyNotFound(handle);
  const why = `key ${handle} was a session object (an ephemeral key or an ECDH secret) of a session with token "tok-lost" that was lost`;
  Object.defineProperty(gone, 'cause', { value: new Error(why), enumerable: false, writable: true, configurable: true });
  return gone;
};

describe('a provisioning auth whose Enrolment Function ephemeral key is gone', () => {
  it('is told unknown_session, as before, and the service logs why at warn, naming the handle', async () => {
    const session = await served.sim.device.provisioningClient(pinnedEf(served.sim)).start({ credentialKind: 'psk256', credentialId: 'c-lost-ephemeral' });
    const challenge = await served.world.post('/v1/enrolment/hello', session.hello);
    expect(challenge.status).toBe(200);
    const auth = await session.acceptChallenge(challenge.body);
    const named: KeyHandle[] = [];
    vi.spyOn(EmbeddedSecureEnvironment.prototype, 'agree').mockImplementation(async (owner: string, handle: KeyHandle) => {
      if (owner === LOG_KEY_OWNER) throw new Error('the log key agrees nothing');
      named.push(handle);
      throw lostWithItsSession(handle);
    });
    const answered = await served.world.post('/v1/enrolment/auth', auth);
    vi.restoreAllMocks();
    await session.abort();

    expect(named).toHaveLength(1);
    expect(answered.status).toBe(422);
    expect(answered.body).toMatchObject({ step: 'provisioning.auth', reason: 'unknown_session' });
    expect(JSON.stringify(answered.body)).not.toMatch(new RegExp(`${named[0]}|tok-lost`));

    const warned = served.world.service.logs().map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 40 && JSON.stringify(l).includes(named[0]!));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ step: 'provisioning.auth', reason: 'unknown_session' });
    expect(JSON.stringify(warned[0])).toContain('tok-lost');
  });
});
