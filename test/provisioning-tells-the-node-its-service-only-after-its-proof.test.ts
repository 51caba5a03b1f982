import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { ProvisioningChallenge, ProvisioningDelivery } from '../domain/protocols/enrolment-messages.ts';
import { provision, provisioningWorld } from './provisioning-protocol.fixtures.ts';

/*
 * Found in review of the device-facing surface: a hello is unauthenticated. Anyone who knew a Node-ID and its bootstrap
 * credential's fingerprint (a factory certificate shows it) got the node's CSE-ID and M2M-Sub-ID in the challenge,
 * before proving anything: which CSE the node is and which subscriber it serves. They now come in the delivery,
 * after the node's auth proof has verified (challenge and delivery version 2), under the Enrolment Function's proof.
 */
const SERVICE = { cseId: 'CSE-IN-1', m2mSubId: 'sub-42' };
const names = (message: unknown): boolean => {
  const text = JSON.stringify(message);
  return text.includes(SERVICE.cseId) || text.includes(SERVICE.m2mSubId);
};

describe('remote provisioning tells a node its service parameters only once it has proved its bootstrap key', () => {
  for (const bootstrapKind of ['psk256', 'ed25519', 'p256'] as const) {
    it(`${bootstrapKind}: the challenge to a hello names neither the CSE-ID nor the M2M-Sub-ID, and an auth without the key gets no delivery`, async () => {
      const world = await provisioningWorld({ bootstrapKind, seed: `service-after-proof-${bootstrapKind}` });
      // What anyone can send: the node's id and its bootstrap fingerprint, in a well-formed hello.
      const session = await world.client.start({ credentialKind: 'ed25519' });
      const challenge = await world.ef.acceptHello(session.hello);
      expect(ProvisioningChallenge.parse(challenge)).toEqual(challenge);
      expect(challenge).not.toHaveProperty('serviceParameters');
      expect(names(challenge)).toBe(false);
      // An auth whose proof was not made with the bootstrap key is refused, and the refusal names nothing either.
      const auth = await session.acceptChallenge(challenge);
      const forged = { ...auth, proof: auth.proof.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) };
      const refusal = await world.ef.acceptAuth(forged).then(() => undefined, (error: unknown) => error);
      expect(isCredenceError(refusal, 'protocol')).toBe(true);
      expect(names((refusal as Error).message) || names((refusal as { problem: unknown }).problem)).toBe(false);
    });
  }

  it('the node learns them from the delivery, under the Enrolment Function\'s proof, and the receipt binds them', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'p256', seed: 'service-after-proof-delivery' });
    const { messages, result, outcome } = await provision(world, 'psk256');
    expect(ProvisioningDelivery.parse(messages.delivery)).toMatchObject({ version: 2, serviceParameters: SERVICE });
    expect(result.serviceParameters).toEqual(SERVICE);
    expect(outcome.serviceParameters).toEqual(SERVICE);
    expect(names(messages.hello) || names(messages.challenge) || names(messages.auth)).toBe(false);
  });

  it('service parameters changed on the path fail the delivery\'s proof, and the node keeps nothing', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'ed25519', seed: 'service-after-proof-tamper' });
    const session = await world.client.start({ credentialKind: 'ed25519' });
    const auth = await session.acceptChallenge(await world.ef.acceptHello(session.hello));
    const delivery = await world.ef.acceptAuth(auth);
    const moved = { ...delivery, serviceParameters: { ...delivery.serviceParameters, cseId: 'CSE-IN-2' } };
    await expect(session.acceptDelivery(moved)).rejects.toMatchObject({ problem: { step: 'provisioning.delivery', reason: 'bad_signature' } });
  });
});
