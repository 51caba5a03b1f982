/**
 * Issue 12 review: the Enrolment Function's caller refused runs at the hello (a credential id in use, a predecessor
 * that does not qualify), before the Enrolment Function's own checks, so an unauthenticated sender learned which ids
 * exist and cost a read per hello. `admitAuthenticatedRun` is asked once the node's auth proof has verified, and
 * before any key is made for the run.
 */
import { describe, expect, it } from 'vitest';
import { isCredenceError, validationError } from '../domain/errors.ts';
import type { ProvisioningHello } from '../domain/protocols/enrolment-messages.ts';
import type { RunContext } from '../adapters/protocols/enrolment/enrolment-function.ts';
import { provisioningWorld } from './provisioning-protocol.fixtures.ts';

const flipped = (proof: string): string => `${proof[0] === 'A' ? 'B' : 'A'}${proof.slice(1)}`;

/** Counts the keys `se` generates from now on. */
const countGenerated = (se: { generate: (...args: never[]) => unknown }) => {
  const generate = se.generate.bind(se) as (...args: unknown[]) => unknown;
  const counter = { count: 0 };
  se.generate = ((...args: unknown[]) => {
    counter.count++;
    return generate(...args);
  }) as typeof se.generate;
  return counter;
};

/** A world whose Enrolment Function records every run it is asked to admit, and refuses them when told to. */
const admittingWorld = async (refuse: boolean) => {
  const asked: { hello: ProvisioningHello; context: RunContext }[] = [];
  const world = await provisioningWorld({
    bootstrapKind: 'ed25519',
    ef: {
      admitAuthenticatedRun: async (run) => {
        asked.push(run);
        if (refuse) throw validationError([{ path: 'credentialId', rule: 'unused', message: 'not available for a new credential' }], 'provisioning run');
      },
    },
  });
  return { world, asked };
};

describe('the caller admits a run only once the node has authenticated', () => {
  it('is not asked at the hello; asked once at the auth, with the hello and the context the hello was accepted in', async () => {
    const { world, asked } = await admittingWorld(false);
    const session = await world.client.start({ credentialKind: 'psk256', credentialId: 'c-1' });
    const challenge = await world.ef.acceptHello(session.hello, { predecessorId: 'c-0' });
    expect(asked).toEqual([]);
    const generated = countGenerated(world.efSe);
    const delivery = await world.ef.acceptAuth(await session.acceptChallenge(challenge));
    expect(generated.count).toBeGreaterThan(0); // an admitted PSK run makes its keys at the auth
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({ hello: { credentialId: 'c-1', nodeId: session.hello.nodeId }, context: { predecessorId: 'c-0' } });
    expect(delivery.wrappedKey).toBeDefined();
  });

  it('is never asked for an auth whose proof does not verify', async () => {
    const { world, asked } = await admittingWorld(false);
    const session = await world.client.start({ credentialKind: 'ed25519', credentialId: 'c-1' });
    const auth = await session.acceptChallenge(await world.ef.acceptHello(session.hello));
    const refused = await world.ef.acceptAuth({ ...auth, proof: flipped(auth.proof) }).catch((e: unknown) => e);
    expect(isCredenceError(refused, 'protocol')).toBe(true);
    expect(asked).toEqual([]);
  });

  it('a refusal ends the run before any key is made or delivered for it', async () => {
    const { world, asked } = await admittingWorld(true);
    const session = await world.client.start({ credentialKind: 'psk256', credentialId: 'c-1' });
    const auth = await session.acceptChallenge(await world.ef.acceptHello(session.hello));
    const generated = countGenerated(world.efSe);
    const refused = await world.ef.acceptAuth(auth).catch((e: unknown) => e);
    expect(isCredenceError(refused, 'validation')).toBe(true);
    expect(asked).toHaveLength(1);
    expect(generated.count).toBe(0);
    expect(world.ef.sessionCount).toBe(0);
    const again = await world.ef.acceptAuth(auth).catch((e: unknown) => e);
    expect(isCredenceError(again, 'protocol') && again.message).toContain('unknown_session');
  });
});
