import { describe, expect, it } from 'vitest';
import { generateAgreementKey } from '../domain/crypto/agreement.ts';
import { AssociationOutcome } from '../domain/protocols/association-messages.ts';
import { seededRandom, toBase64url } from './crypto-fixtures.ts';
import { associate, handshakeWorld, REGISTRAR_ID, REGISTRAR_OWNER, REGISTREE_OWNER, rogueConfirm } from './handshake.fixtures.ts';
import { refusal } from './support/protocol-refusal.ts';

const KINDS = ['psk256', 'ed25519', 'p256'] as const;
const text = (s: string) => new TextEncoder().encode(s);


describe('association handshake (seed 003 clause 11.3), both ends', () => {
  for (const kind of KINDS) {
    it(`${kind}: each direction has its key at both ends: what one end sends the other opens, both ways`, async () => {
      const world = await handshakeWorld({ kind });
      const { registreeOutcome, registrarOutcome } = await associate(world);
      const registree = registreeOutcome.sessionKeys;
      const registrar = registrarOutcome.sessionKeys;
      const up = await world.registreeSe.seal(REGISTREE_OWNER, registree.send, text('reading 42'), text('aad'));
      expect(new TextDecoder().decode(await world.registrarSe.open(REGISTRAR_OWNER, registrar.receive, up, text('aad')))).toBe('reading 42');
      const down = await world.registrarSe.seal(REGISTRAR_OWNER, registrar.send, text('ack'), text('aad'));
      expect(new TextDecoder().decode(await world.registreeSe.open(REGISTREE_OWNER, registree.receive, down, text('aad')))).toBe('ack');
    });

    it(`${kind}: both outcomes describe the same association, parse as AssociationOutcome, and carry no key bytes`, async () => {
      const world = await handshakeWorld({ kind });
      const { registreeOutcome, registrarOutcome } = await associate(world);
      expect(AssociationOutcome.parse(registrarOutcome)).toEqual(registrarOutcome);
      expect(AssociationOutcome.parse(registreeOutcome)).toEqual(registreeOutcome);
      const { sessionKeys: a, side: sa, ...registrarFacts } = registrarOutcome;
      const { sessionKeys: b, side: sb, ...registreeFacts } = registreeOutcome;
      expect(registrarFacts).toEqual(registreeFacts);
      expect([sa, sb]).toEqual(['registrar', 'registree']);
      expect(registrarFacts).toMatchObject({ registrarId: REGISTRAR_ID, lifetimeSeconds: 3600, expiresAt: '2030-01-01T01:00:00.000Z' });
      for (const handle of [a.send, a.receive]) {
        expect(JSON.stringify(registrarOutcome)).not.toContain(Buffer.from(world.registrarSe.exportForTest(handle)).toString('base64url'));
      }
      expect(b.send).not.toBe(a.receive);
    });
  }

  it('two runs with the same credential give different session keys (fresh nonces and ephemerals)', async () => {
    const world = await handshakeWorld({ kind: 'psk256' });
    const first = await associate(world);
    const second = await associate(world);
    for (const direction of ['send', 'receive'] as const) {
      expect(world.registrarSe.exportForTest(first.registrarOutcome.sessionKeys[direction])).not.toEqual(
        world.registrarSe.exportForTest(second.registrarOutcome.sessionKeys[direction]),
      );
    }
  });

  it('an Ed25519 Registree can run its ECDH on P-256, and an Ed25519-signing Registrar works with a P-256 Registree', async () => {
    const world = await handshakeWorld({ kind: 'ed25519', registrarSigningKind: 'ed25519' });
    const handshake = await world.registree.start({ lifetimeSeconds: 600, agreementGroup: 'p256' });
    const challenge = await world.registrar.acceptHello(handshake.hello);
    expect(challenge.ephemeral?.group).toBe('p256');
    const { finish } = await handshake.acceptChallenge(challenge);
    const { confirm, outcome } = await world.registrar.acceptFinish(finish);
    expect(outcome.lifetimeSeconds).toBe(600);
    expect((await handshake.acceptConfirm(confirm)).lifetimeSeconds).toBe(600);
    const other = await handshakeWorld({ kind: 'p256', registrarSigningKind: 'ed25519', seed: 'mixed' });
    expect((await associate(other)).registrarOutcome.credential.kind).toBe('p256');
  });
});

describe('association lifetime (clause 11.3.2: shorter than the credential)', () => {
  const shortCredential = { notBefore: '2029-01-01T00:00:00.000Z', notAfter: '2030-01-01T00:30:00.000Z' };

  it('a request longer than the credential is cut to its remaining lifetime minus the margin, ending strictly earlier', async () => {
    const world = await handshakeWorld({ kind: 'ed25519', validity: shortCredential });
    const { registrarOutcome } = await associate(world, 7200);
    expect(registrarOutcome.lifetimeSeconds).toBe(1739); // 1800 s left, 60 s margin, strictly below
    expect(Date.parse(registrarOutcome.expiresAt)).toBeLessThan(Date.parse(shortCredential.notAfter));
  });

  it('a request of exactly the remaining lifetime is cut too, even with no margin', async () => {
    const world = await handshakeWorld({ kind: 'psk256', validity: shortCredential, registrar: { lifetimeMarginSeconds: 0 } });
    const { registrarOutcome, registreeOutcome } = await associate(world, 1800);
    expect(registrarOutcome.lifetimeSeconds).toBe(1799);
    expect(registreeOutcome.expiresAt).toBe('2030-01-01T00:29:59.000Z');
  });

  // A credential with no lifetime left is refused at the finish, once its holder has proved itself; the hello is
  // answered as any other (test/a-credential-with-no-lifetime-left-is-refused-after-its-proof.test.ts).

  it('the Registree refuses a validly authenticated grant longer than it asked for', async () => {
    const world = await handshakeWorld({ kind: 'psk256' });
    const { handshake, confirm, forged } = await rogueConfirm(world, 600);
    expect(forged({ lifetimeSeconds: confirm.lifetimeSeconds, expiresAt: confirm.expiresAt })).toEqual(confirm);
    const rogue = forged({ lifetimeSeconds: 601, expiresAt: '2030-01-01T00:10:01.000Z' });
    expect(await refusal(() => handshake.acceptConfirm(rogue))).toEqual({ step: 'association.confirm', reason: 'lifetime_exceeds_request' });
  });

  it('the Registree refuses a validly authenticated expiry later than the granted lifetime allows', async () => {
    const world = await handshakeWorld({ kind: 'psk256' });
    const { handshake, forged } = await rogueConfirm(world, 600);
    const rogue = forged({ lifetimeSeconds: 600, expiresAt: '2030-01-01T01:00:00.000Z' });
    expect(await refusal(() => handshake.acceptConfirm(rogue))).toEqual({ step: 'association.confirm', reason: 'lifetime_exceeds_request' });
  });

  it('the Registree refuses a validly authenticated association ending at or after its credential', async () => {
    const world = await handshakeWorld({ kind: 'psk256', validity: { notBefore: '2029-01-01T00:00:00.000Z', notAfter: '2030-01-01T00:05:00.000Z' } });
    const { handshake, forged } = await rogueConfirm(world, 600);
    const rogue = forged({ lifetimeSeconds: 300, expiresAt: '2030-01-01T00:05:00.000Z' });
    expect(await refusal(() => handshake.acceptConfirm(rogue))).toEqual({ step: 'association.confirm', reason: 'lifetime_exceeds_credential' });
  });
});

describe('association handshake refusals', () => {
  for (const kind of ['ed25519', 'p256'] as const) {
    it(`${kind}: a Registrar that knows another key for this fingerprint refuses the Registree at finish (bad_signature)`, async () => {
      const world = await handshakeWorld({ kind, wrongCredentialAtRegistrar: true });
      const handshake = await world.registree.start({ lifetimeSeconds: 600 });
      const { finish } = await handshake.acceptChallenge(await world.registrar.acceptHello(handshake.hello));
      expect(await refusal(() => world.registrar.acceptFinish(finish))).toEqual({ step: 'association.finish', reason: 'bad_signature' });
    });
  }

  it('psk256: with different PSKs the Registree refuses the Registrar at the challenge (bad_mac)', async () => {
    const world = await handshakeWorld({ kind: 'psk256', wrongCredentialAtRegistrar: true });
    const handshake = await world.registree.start({ lifetimeSeconds: 600 });
    const challenge = await world.registrar.acceptHello(handshake.hello);
    expect(await refusal(() => handshake.acceptChallenge(challenge))).toEqual({ step: 'association.challenge', reason: 'bad_mac' });
  });

  for (const kind of KINDS) {
    it(`${kind}: a replayed hello is refused for its reused nonce (SER-012)`, async () => {
      const world = await handshakeWorld({ kind });
      const { messages } = await associate(world);
      expect(await refusal(() => world.registrar.acceptHello(messages.hello))).toEqual({ step: 'association.hello', reason: 'replayed_nonce' });
    });

    it(`${kind}: a replayed finish finds no session`, async () => {
      const world = await handshakeWorld({ kind });
      const { messages } = await associate(world);
      expect(await refusal(() => world.registrar.acceptFinish(messages.finish))).toEqual({ step: 'association.finish', reason: 'unknown_session' });
    });
  }

  for (const kind of ['ed25519', 'p256'] as const) {
    const group = kind === 'p256' ? 'p256' : 'x25519';
    it(`${kind}: a swapped Registree ephemeral key is detected by the Registree (bad_signature)`, async () => {
      const world = await handshakeWorld({ kind });
      const handshake = await world.registree.start({ lifetimeSeconds: 600 });
      const attacker = generateAgreementKey(group, seededRandom('attacker'));
      const challenge = await world.registrar.acceptHello({ ...handshake.hello, ephemeral: { group, publicKey: toBase64url(attacker.publicKey) } });
      expect(await refusal(() => handshake.acceptChallenge(challenge))).toEqual({ step: 'association.challenge', reason: 'bad_signature' });
    });

    it(`${kind}: a swapped Registrar ephemeral key is refused by the Registree (bad_signature)`, async () => {
      const world = await handshakeWorld({ kind });
      const handshake = await world.registree.start({ lifetimeSeconds: 600 });
      const challenge = await world.registrar.acceptHello(handshake.hello);
      const attacker = generateAgreementKey(group, seededRandom('attacker'));
      const swapped = { ...challenge, ephemeral: { group, publicKey: toBase64url(attacker.publicKey) } };
      expect(await refusal(() => handshake.acceptChallenge(swapped))).toEqual({ step: 'association.challenge', reason: 'bad_signature' });
    });
  }

  it('an expired credential gets a decoy challenge from the Registrar, and the Registree does not even start', async () => {
    const validity = { notBefore: '2029-01-01T00:00:00.000Z', notAfter: '2030-01-01T00:10:00.000Z' };
    const world = await handshakeWorld({ kind: 'ed25519', validity });
    const handshake = await world.registree.start({ lifetimeSeconds: 60 });
    world.clock.set('2030-01-01T00:10:00.000Z');
    // Answered as any hello (shared/decoy.ts); refused at the finish, told why only to the holder.
    expect(await world.registrar.acceptHello({ ...handshake.hello, sentAt: '2030-01-01T00:10:00.000Z' })).toMatchObject({ type: 'association.challenge' });
    expect(await refusal(() => world.registree.start({ lifetimeSeconds: 60 }))).toEqual({ step: 'association.start', reason: 'credential_expired' });
  });

  it('a revoked credential gets a decoy challenge, and its holder is told credential_revoked at the finish', async () => {
    const world = await handshakeWorld({ kind: 'p256', revoked: true });
    const handshake = await world.registree.start({ lifetimeSeconds: 60 });
    const { finish } = await handshake.acceptChallenge(await world.registrar.acceptHello(handshake.hello));
    expect(await refusal(() => world.registrar.acceptFinish(finish))).toEqual({ step: 'association.finish', reason: 'credential_revoked' });
  });

  it('a hello for another Registrar CSE or sent too long ago is refused; one from an unknown Registree gets a decoy challenge', async () => {
    const world = await handshakeWorld({ kind: 'psk256' });
    const handshake = await world.registree.start({ lifetimeSeconds: 60 });
    expect(await refusal(() => world.registrar.acceptHello({ ...handshake.hello, registrarId: 'CSE-IN-2' }))).toMatchObject({ reason: 'wrong_identity' });
    expect(await world.registrar.acceptHello({ ...handshake.hello, registreeId: 'CSE-MN-8' })).toMatchObject({ type: 'association.challenge', registreeId: 'CSE-MN-8' });
    world.clock.advance(301_000);
    expect(await refusal(() => world.registrar.acceptHello(handshake.hello))).toMatchObject({ reason: 'stale' });
  });

  it('a finish after the session timeout is stale', async () => {
    const world = await handshakeWorld({ kind: 'ed25519' });
    const handshake = await world.registree.start({ lifetimeSeconds: 600 });
    const { finish } = await handshake.acceptChallenge(await world.registrar.acceptHello(handshake.hello));
    world.clock.advance(61_000);
    expect(await refusal(() => world.registrar.acceptFinish(finish))).toEqual({ step: 'association.finish', reason: 'stale' });
  });

  it('a refused handshake cannot be continued by the Registree', async () => {
    const world = await handshakeWorld({ kind: 'ed25519' });
    const handshake = await world.registree.start({ lifetimeSeconds: 600 });
    const challenge = await world.registrar.acceptHello(handshake.hello);
    await refusal(() => handshake.acceptChallenge({ ...challenge, proof: toBase64url(new Uint8Array(64)) }));
    expect(await refusal(() => handshake.acceptChallenge(challenge))).toMatchObject({ reason: 'unknown_session' });
  });
});
