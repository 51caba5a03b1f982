import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_CLOCK_SKEW_SECONDS } from '../domain/protocols/clock-skew.ts';
import { ENROLMENT_SESSION_TIMEOUT_SECONDS } from '../adapters/protocols/procedures/cut-provisioning.ts';
import { provision, provisioningWorld, type ProvisioningWorld } from './provisioning-protocol.fixtures.ts';
import { refusalWithMessage } from './support/protocol-refusal.ts';

/*
 * Found in review 207: the Enrolment Function accepts a hello from a node whose clock is up to 300 s off its own, but
 * the node judged the challenge's expiry (the Enrolment Function's time + 120 s) by its own clock alone: a node 121 to
 * 300 s ahead refused every challenge as `stale`, with no detail, and could never provision. The node now allows the
 * skew the protocol accepts, and a challenge it still refuses names the expiry and the node's time.
 */
describe('a node whose clock is off the Enrolment Function\'s', () => {
  /** Both ends on one fake clock, the Enrolment Function's reading `offsetMs` off the node's (negative: the node is ahead). */
  const skewed = async (offsetMs: number): Promise<ProvisioningWorld> => {
    const held: { world?: ProvisioningWorld } = {};
    held.world = await provisioningWorld({
      bootstrapKind: 'ed25519',
      seed: `clock-skew-${offsetMs}`,
      ef: { now: () => new Date((held.world as ProvisioningWorld).clock.now().getTime() + offsetMs) },
    });
    return held.world;
  };

  it.each([
    ['121 s ahead', -121_000],
    ['250 s ahead', -250_000],
    [`${DEFAULT_MAX_CLOCK_SKEW_SECONDS} s ahead`, -DEFAULT_MAX_CLOCK_SKEW_SECONDS * 1000],
    ['250 s behind', 250_000],
  ])('%s, within the skew the Enrolment Function accepts: provisions', async (_case, offsetMs) => {
    const world = await skewed(offsetMs);
    const { outcome, result } = await provision(world, 'ed25519');
    expect(result.credential.fingerprint).toBe(outcome.credential.fingerprint);
  });

  it('a challenge past its expiry even allowing for the skew: refused as stale, naming the expiry and the node\'s time', async () => {
    const world = await skewed(0);
    const session = await world.client.start({ credentialKind: 'ed25519' });
    const challenge = await world.ef.acceptHello(session.hello);
    world.clock.advance((ENROLMENT_SESSION_TIMEOUT_SECONDS + DEFAULT_MAX_CLOCK_SKEW_SECONDS) * 1000);
    const refused = await refusalWithMessage(() => session.acceptChallenge(challenge));
    expect(refused).toMatchObject({ step: 'provisioning.challenge', reason: 'stale' });
    expect(refused.message).toContain(challenge.expiresAt);
    expect(refused.message).toContain(world.clock.now().toISOString());
  });

  it('a challenge just inside its expiry allowing for the skew is accepted by the node', async () => {
    const world = await skewed(0);
    const session = await world.client.start({ credentialKind: 'ed25519' });
    const challenge = await world.ef.acceptHello(session.hello);
    world.clock.advance((ENROLMENT_SESSION_TIMEOUT_SECONDS + DEFAULT_MAX_CLOCK_SKEW_SECONDS) * 1000 - 1);
    await expect(session.acceptChallenge(challenge)).resolves.toMatchObject({ type: 'provisioning.auth' });
  });
});
