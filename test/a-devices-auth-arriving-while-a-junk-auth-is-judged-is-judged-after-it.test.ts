/**
 * Review 297 (low): a session is out of its table while one of its messages is judged, so a device's genuine auth
 * that came while a junk auth (anyone who saw the challenge) was being judged was refused `unknown_session`, which
 * ends the device's run, where a failed proof is meant to leave it going (review 238). The auth step now waits for
 * the run's message in flight, as the receipt and the finish do over HTTP, keeping no answers: the genuine auth is
 * judged after the junk, and answered.
 */
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { provisioningWorld } from './provisioning-protocol.fixtures.ts';

const JUNK_MAC = 'A'.repeat(43);

const outcomeOf = async (answer: Promise<unknown>): Promise<string> => {
  try {
    await answer;
    return 'ok';
  } catch (error) {
    if (isCredenceError(error, 'protocol') && error.problem.code === 'protocol') return error.problem.reason;
    throw error;
  }
};

describe('an auth arriving while another of its run is judged', () => {
  it('is judged after it: a junk auth first is bad_mac, the device\'s own then gets its delivery', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'psk256' });
    const session = await world.client.start({ credentialKind: 'psk256' });
    const auth = await session.acceptChallenge(await world.ef.acceptHello(session.hello));
    const junk = { ...auth, proof: JUNK_MAC };
    expect(await Promise.all([outcomeOf(world.ef.acceptAuth(junk)), outcomeOf(world.ef.acceptAuth(auth))])).toEqual(['bad_mac', 'ok']);
    expect(world.ef.sessionCount).toBe(1);
  });

  it('finds the run as the one in flight left it: past its auth after the genuine one, ended after a third junk', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'psk256', seed: 'auth-in-flight-twice' });
    const session = await world.client.start({ credentialKind: 'psk256' });
    const auth = await session.acceptChallenge(await world.ef.acceptHello(session.hello));
    // A copy behind the genuine auth finds the run past its auth (refused before any proof: the run goes on).
    expect(await Promise.all([outcomeOf(world.ef.acceptAuth(auth)), outcomeOf(world.ef.acceptAuth(auth))])).toEqual(['ok', 'unknown_session']);
    expect(world.ef.sessionCount).toBe(1);

    const other = await provisioningWorld({ bootstrapKind: 'psk256', seed: 'auth-in-flight-three-junk' });
    const victim = await other.client.start({ credentialKind: 'psk256' });
    const genuine = await victim.acceptChallenge(await other.ef.acceptHello(victim.hello));
    const junk = { ...genuine, proof: JUNK_MAC };
    const answers = [junk, junk, junk, genuine].map((message) => outcomeOf(other.ef.acceptAuth(message)));
    // The third failed proof ends the run (failed-proofs.ts): the genuine auth behind them finds none.
    expect(await Promise.all(answers)).toEqual(['bad_mac', 'bad_mac', 'bad_mac', 'unknown_session']);
  });
});
