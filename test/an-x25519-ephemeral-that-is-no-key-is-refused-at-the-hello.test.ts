import { x25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { isValidAgreementPublicKey } from '../domain/crypto/agreement.ts';
import { toBase64url } from './crypto-fixtures.ts';
import { handshakeWorld } from './handshake.fixtures.ts';
import { provisioningWorld } from './provisioning-protocol.fixtures.ts';
import { keysMadeBy } from './support/keys-made.ts';
import { refusal } from './support/protocol-refusal.ts';

/*
 * Review 207 finding 6: at the hello only the length of an X25519 ephemeral was checked, so u = 0, a u with the top bit
 * set and an all-0xff u each got a challenge (and a run's keys) and were refused only after the proof, at
 * provisioning.auth or association.finish. checkPublicKey's X25519 rules (u below p, top bit clear, no small order)
 * now gate the hello, for provisioning and the association handshake alike, and for a decoy run (a credential that
 * cannot be used) as for a real one: the check is on the hello's own bytes, so the answer tells nothing else.
 */
const x25519Key = x25519.getPublicKey(new Uint8Array(32).fill(9));
const NO_KEYS = [
  ['u = 0 (small order)', new Uint8Array(32)],
  ['a u with the top bit set', Uint8Array.from(x25519Key, (b, i) => (i === 31 ? b | 0x80 : b))],
  ['an all-0xff u', new Uint8Array(32).fill(0xff)],
] as const;
const asEphemeral = (u: Uint8Array) => ({ group: 'x25519' as const, publicKey: toBase64url(u) });

describe('an X25519 ephemeral that is no key', () => {
  it.each(NO_KEYS)('%s is not a valid agreement key; a real one is', (_what, u) => {
    expect(isValidAgreementPublicKey('x25519', u)).toBe(false);
    expect(isValidAgreementPublicKey('x25519', x25519Key)).toBe(true);
  });

  describe.each([false, true])('in a provisioning hello (bootstrap revoked, a decoy run: %s)', (bootstrapRevoked) => {
    it.each(NO_KEYS)('%s is refused at the hello, invalid_ephemeral_key, before any key is made', async (_what, u) => {
      const world = await provisioningWorld({ bootstrapKind: 'ed25519', bootstrapRevoked });
      const made = keysMadeBy(world.efSe, ['generate']);
      const session = await world.client.start({ credentialKind: 'psk256', agreementGroup: 'x25519' });
      const hello = { ...session.hello, ephemeral: asEphemeral(u) };
      expect(await refusal(() => world.ef.acceptHello(hello))).toEqual({ step: 'provisioning.hello', reason: 'invalid_ephemeral_key' });
      expect(made).toEqual([]);
    });
  });

  describe.each([false, true])('in an association hello (credential revoked, a decoy run: %s)', (revoked) => {
    it.each(NO_KEYS)('%s is refused at the hello, invalid_ephemeral_key', async (_what, u) => {
      const world = await handshakeWorld({ kind: 'ed25519', revoked });
      const handshake = await world.registree.start({ lifetimeSeconds: 3600, agreementGroup: 'x25519' });
      const hello = { ...handshake.hello, ephemeral: asEphemeral(u) };
      expect(await refusal(() => world.registrar.acceptHello(hello))).toEqual({ step: 'association.hello', reason: 'invalid_ephemeral_key' });
    });
  });
});
