/**
 * Found in adversarial review (seeds 002/004 unobservability; SER-001): the Registrar's challenge answers a hello that
 * no one has authenticated (a Registree id and a public credential fingerprint are enough to send one), yet it carried
 * the granted `lifetimeSeconds` and `expiresAt`, min(requested, notAfter - margin). A stranger asking for the longest
 * lifetime read the credential's notAfter to the second. The challenge now carries nothing of the credential; the
 * lifetime is granted in the confirm, once the Registree's proof has verified.
 */
import { describe, expect, it } from 'vitest';
import { handshakeWorld } from './handshake.fixtures.ts';

const KINDS = ['psk256', 'ed25519', 'p256'] as const;
/** The longest lifetime a hello may ask for (ten years, association-messages.ts). */
const LONGEST = 10 * 366 * 24 * 3600;
const CHALLENGE_FIELDS = ['type', 'version', 'sessionId', 'registrarId', 'registreeId', 'registreeNonce', 'registrarNonce', 'ephemeral', 'proof'];

/** The hello and its challenge for a credential ending at `notAfter`, all else the same (seeds, clock, keys). */
const challengeFor = async (kind: (typeof KINDS)[number], notAfter: string) => {
  const world = await handshakeWorld({ kind, seed: `when-it-ends-${kind}`, validity: { notBefore: '2029-01-01T00:00:00.000Z', notAfter } });
  const handshake = await world.registree.start({ lifetimeSeconds: LONGEST });
  return { hello: handshake.hello, challenge: await world.registrar.acceptHello(handshake.hello) };
};

describe('the challenge to a hello asking for the longest lifetime', () => {
  for (const kind of KINDS) {
    it(`${kind}: is the same for two credentials ending years apart, and has no lifetime or expiry`, async () => {
      const soon = await challengeFor(kind, '2030-01-01T00:30:00.000Z');
      const late = await challengeFor(kind, '2039-06-01T00:00:00.000Z');
      expect(soon.hello).toEqual(late.hello);
      expect(soon.challenge).toEqual(late.challenge);
      expect(Object.keys(soon.challenge).sort()).toEqual([...CHALLENGE_FIELDS].sort());
      for (const notAfter of ['2030-01-01T00:30:00.000Z', '2030-01-01T00:29:00.000Z', '2030-01-01T00:28:59.000Z']) {
        expect(JSON.stringify(soon.challenge)).not.toContain(notAfter);
      }
    });

    it(`${kind}: is the same for a credential that leaves no lifetime at all: its hello is answered as any other`, async () => {
      const spent = await challengeFor(kind, '2030-01-01T00:00:30.000Z');
      const late = await challengeFor(kind, '2039-06-01T00:00:00.000Z');
      expect(spent.challenge).toEqual(late.challenge);
    });
  }
});
