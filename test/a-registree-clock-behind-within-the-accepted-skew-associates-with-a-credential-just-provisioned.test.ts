import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_CLOCK_SKEW_SECONDS } from '../domain/protocols/clock-skew.ts';
import { associate, handshakeWorld, type HandshakeWorld } from './handshake.fixtures.ts';
import { refusalWithMessage } from './support/protocol-refusal.ts';

/*
 * Found with review 207 (the node side judged the infrastructure's times by its own clock alone): a credential is
 * dated from the moment the Enrolment Function provisioned it, on the infrastructure's clock, and the Registree refused
 * to start a handshake with it while its own clock, behind the Registrar's by less than the skew the Registrar
 * accepts, said it was not valid yet. The Registree allows that skew; the Registrar still judges the credential.
 */
describe('a Registree whose clock is behind the Registrar\'s', () => {
  const START = Date.parse('2030-01-01T00:00:00.000Z'); // handshake.fixtures.ts's fake clock
  /** The Registrar's clock `aheadMs` past the Registree's; the credential provisioned 10 s ago on the Registrar's. */
  const behind = async (aheadMs: number): Promise<HandshakeWorld> => {
    const held: { world?: HandshakeWorld } = {};
    held.world = await handshakeWorld({
      kind: 'ed25519',
      seed: `registree-behind-${aheadMs}`,
      validity: { notBefore: new Date(START + aheadMs - 10_000).toISOString(), notAfter: '2031-01-01T00:00:00.000Z' },
      registrar: { now: () => new Date((held.world as HandshakeWorld).clock.now().getTime() + aheadMs) },
    });
    return held.world;
  };

  it.each([
    ['20 s', 20_000],
    ['200 s', 200_000],
    [`${DEFAULT_MAX_CLOCK_SKEW_SECONDS} s`, DEFAULT_MAX_CLOCK_SKEW_SECONDS * 1000],
  ])('%s behind: associates with a credential the Registrar holds valid', async (_case, aheadMs) => {
    const { registreeOutcome, registrarOutcome } = await associate(await behind(aheadMs));
    expect(registreeOutcome.associationId).toBe(registrarOutcome.associationId);
  });

  it('a credential not valid for longer than the skew is still refused at the start, naming when it starts', async () => {
    const world = await handshakeWorld({
      kind: 'ed25519',
      seed: 'registree-far-behind',
      validity: { notBefore: new Date(START + (DEFAULT_MAX_CLOCK_SKEW_SECONDS + 1) * 1000).toISOString(), notAfter: '2031-01-01T00:00:00.000Z' },
    });
    const refused = await refusalWithMessage(() => world.registree.start({ lifetimeSeconds: 60 }));
    expect(refused).toMatchObject({ step: 'association.start', reason: 'credential_not_yet_valid' });
    expect(refused.message).toContain(new Date(START + (DEFAULT_MAX_CLOCK_SKEW_SECONDS + 1) * 1000).toISOString());
  });
});
