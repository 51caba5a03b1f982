import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { describe, expect, it } from 'vitest';
import { withoutFields } from '../domain/crypto/transcript.ts';
import { checkPublicKey } from '../domain/crypto/public-key.ts';
import { proofFor, PROVISIONING_PROTOCOL, transcriptFromHello } from '../domain/protocols/index.ts';
import { toBase64url } from './crypto-fixtures.ts';
import { NODE_OWNER, provisioningWorld } from './provisioning-protocol.fixtures.ts';
import { refusalWithMessage } from './support/protocol-refusal.ts';

/*
 * Review 207 finding 5: a new key at `provisioning.auth` that checkPublicKey refuses (a compressed or hybrid P-256
 * point, one off the curve, an Ed25519 point of small order) was answered `credential_mismatch (no valid p256 public
 * key)`, the reason a key already certified or the bootstrap key reused gets, and the rule was lost. It concerns the
 * bytes the device itself sent, nothing about another node's keys (SER-010 keeps `credential_mismatch` for those), so
 * it is told apart: `malformed`, naming the field, the rule and what the rule wants, as README.md says such keys are
 * refused everywhere.
 */
const p256Secret = p256.utils.randomSecretKey(new Uint8Array(48).fill(11));
const uncompressed = p256.getPublicKey(p256Secret, false);
const hybrid = Uint8Array.from(uncompressed);
hybrid[0] = 0x06 | ((uncompressed[64] as number) & 1);
const offCurve = Uint8Array.from(uncompressed);
offCurve[64] = (offCurve[64] as number) ^ 1;
const ed25519Key = ed25519.getPublicKey(new Uint8Array(32).fill(12));

const CASES = [
  ['p256', 'compressed', 'canonical_key', p256.getPublicKey(p256Secret, true)],
  ['p256', 'hybrid', 'canonical_key', hybrid],
  ['p256', 'off the curve', 'invalid_public_key', offCurve],
  ['ed25519', 'the identity (small order)', 'small_order_key', Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0))],
  ['ed25519', 'of order 4', 'small_order_key', new Uint8Array(32)],
  ['ed25519', 'a y with no x', 'invalid_public_key', Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 2 : 0))],
  ['ed25519', '31 bytes', 'canonical_key', ed25519Key.subarray(0, 31)],
] as const;

/** A node's auth whose proofs are sound, carrying `credentialPublicKey` as given: only the key is at fault. */
const authWithKey = async (kind: 'p256' | 'ed25519', credentialPublicKey: Uint8Array | undefined) => {
  const world = await provisioningWorld({ bootstrapKind: 'ed25519', seed: `refused-new-key-${kind}` });
  const session = await world.client.start({ credentialKind: kind });
  const challenge = await world.ef.acceptHello(session.hello);
  const transcript = transcriptFromHello(PROVISIONING_PROTOCOL, session.hello);
  transcript.absorb(challenge.type, withoutFields(challenge, 'proof'));
  const unsigned = {
    type: 'provisioning.auth' as const,
    version: 1 as const,
    sessionId: challenge.sessionId,
    enrolmentNonce: challenge.enrolmentNonce,
    ...(credentialPublicKey === undefined ? {} : { credentialPublicKey: toBase64url(credentialPublicKey) }),
  };
  const th = transcript.absorb(unsigned.type, unsigned);
  const proof = await world.nodeSe.sign(NODE_OWNER, world.bootstrap.nodeHandle, proofFor('node', 'auth', th));
  const auth = { ...unsigned, proofOfPossession: toBase64url(new Uint8Array(64)), proof: toBase64url(proof) };
  return () => world.ef.acceptAuth(auth);
};

describe('a new key refused at provisioning.auth', () => {
  it.each(CASES)('a %s key %s is refused malformed, naming credentialPublicKey and rule %s', async (kind, _what, rule, key) => {
    const checked = checkPublicKey(kind, key);
    expect(checked).toMatchObject({ ok: false, rule });
    const refused = await refusalWithMessage(await authWithKey(kind, key));
    expect(refused).toEqual({
      step: 'provisioning.auth',
      reason: 'malformed',
      message: `provisioning.auth rejected: malformed (credentialPublicKey: ${rule}: ${checked.ok ? '' : checked.message})`,
    });
  });

  it('a signing credential with no key at all is refused malformed, naming credentialPublicKey', async () => {
    const refused = await refusalWithMessage(await authWithKey('p256', undefined));
    expect(refused).toMatchObject({ step: 'provisioning.auth', reason: 'malformed' });
    expect(refused.message).toContain('credentialPublicKey');
  });

  it('a key in its one encoding passes the key check (refused only for the zero proof of possession sent with it)', async () => {
    expect(await refusalWithMessage(await authWithKey('p256', uncompressed))).toMatchObject({ reason: 'bad_proof_of_possession' });
    expect(await refusalWithMessage(await authWithKey('ed25519', ed25519Key))).toMatchObject({ reason: 'bad_proof_of_possession' });
  });
});
