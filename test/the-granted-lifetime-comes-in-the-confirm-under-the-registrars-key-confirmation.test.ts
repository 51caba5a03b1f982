/**
 * Found in adversarial review (seeds 002/004; SER-001): the lifetime was granted in the challenge, before the
 * Registree's proof, and told a stranger when the credential ends. It is now granted once the finish has verified and
 * sent in the confirm, whose key confirmation (the Registrar's Finished MAC, RFC 8446 4.4.4) is over the transcript
 * through the confirm: a grant changed on the path, lifetime or expiry, fails the Registree's check of that MAC, and
 * the Registree keeps nothing of the run.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { Transcript, withoutFields } from '../domain/crypto/transcript.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { keysMadeBy } from './support/keys-made.ts';
import { toBase64url } from './crypto-fixtures.ts';
import { handshakeWorld, REGISTREE_OWNER, type HandshakeWorld } from './handshake.fixtures.ts';
import { refusal } from './support/protocol-refusal.ts';
import { securityWorld } from './support/security-world.ts';

const KINDS = ['psk256', 'ed25519', 'p256'] as const;

const isDestroyed = async (se: HandshakeWorld['registreeSe'], handle: KeyHandle) =>
  isCredenceError(await se.describe(REGISTREE_OWNER, handle).catch((e: unknown) => e), 'not_found');

/** A run up to the Registrar's confirm, asking for `requested` seconds. */
const upToConfirm = async (world: HandshakeWorld, requested: number) => {
  const handshake = await world.registree.start({ lifetimeSeconds: requested });
  const challenge = await world.registrar.acceptHello(handshake.hello);
  const { finish } = await handshake.acceptChallenge(challenge);
  const { confirm, outcome } = await world.registrar.acceptFinish(finish);
  return { handshake, challenge, finish, confirm, outcome };
};

describe('the confirm carries the grant', () => {
  for (const kind of KINDS) {
    it(`${kind}: the lifetime and expiry the Registrar grants, which both outcomes and the final transcript hash hold`, async () => {
      const world = await handshakeWorld({ kind, validity: { notBefore: '2029-01-01T00:00:00.000Z', notAfter: '2030-01-01T00:30:00.000Z' } });
      const { handshake, challenge, finish, confirm, outcome } = await upToConfirm(world, 7200);
      expect(confirm).toMatchObject({ type: 'association.confirm', version: 2, lifetimeSeconds: 1739, expiresAt: '2030-01-01T00:28:59.000Z' });
      const mine = await handshake.acceptConfirm(confirm);
      expect(mine).toMatchObject({ lifetimeSeconds: 1739, expiresAt: '2030-01-01T00:28:59.000Z', transcriptHash: outcome.transcriptHash });
      expect(outcome).toMatchObject({ lifetimeSeconds: 1739, expiresAt: '2030-01-01T00:28:59.000Z' });
      // The recorded transcript hash is over the confirm with its grant.
      const transcript = new Transcript('association');
      transcript.absorb(handshake.hello.type, handshake.hello);
      transcript.absorb(challenge.type, withoutFields(challenge, 'proof'));
      transcript.absorb(finish.type, withoutFields(finish, 'proof', 'keyConfirmation'));
      expect(toBase64url(transcript.absorb(confirm.type, withoutFields(confirm, 'keyConfirmation')))).toBe(outcome.transcriptHash);
    });
  }
});

describe('a grant changed on the path', () => {
  for (const kind of KINDS) {
    for (const [field, change] of [
      ['a shorter lifetime', { lifetimeSeconds: 599 }],
      ['a longer lifetime', { lifetimeSeconds: 601 }],
      ['an earlier expiry', { expiresAt: '2030-01-01T00:09:59.000Z' }],
      ['a later expiry', { expiresAt: '2030-01-01T00:10:00.001Z' }],
    ] as const) {
      it(`${kind}: ${field} is refused by the Registree (bad_mac), which keeps no key of the run and cannot be completed afterwards`, async () => {
        const world = await handshakeWorld({ kind });
        const derived = keysMadeBy(world.registreeSe, ['deriveKey']);
        const { handshake, confirm } = await upToConfirm(world, 600);
        expect(confirm).toMatchObject({ lifetimeSeconds: 600, expiresAt: '2030-01-01T00:10:00.000Z' });
        expect(await refusal(() => handshake.acceptConfirm({ ...confirm, ...change }))).toEqual({ step: 'association.confirm', reason: 'bad_mac' });
        expect(derived.length).toBe(3); // hs and the two Finished keys: no session key was ever derived
        for (const handle of derived) expect(await isDestroyed(world.registreeSe, handle)).toBe(true);
        expect(await refusal(() => handshake.acceptConfirm(confirm))).toEqual({ step: 'association.confirm', reason: 'unknown_session' });
      });
    }
  }
});

describe('a grant changed on the path, through the security procedures', () => {
  let world: Awaited<ReturnType<typeof securityWorld>> | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it('the device refuses the confirm, nothing is recorded, and neither end keeps a session key', async () => {
    world = await securityWorld('tampered-grant');
    const w = world;
    const device = await w.provisioned('meter-1', 'ed25519', 'psk256');
    const registrar = w.infrastructure.registrar;
    const acceptFinish = registrar.acceptFinish.bind(registrar);
    registrar.acceptFinish = async (finish, association) => {
      const answer = await acceptFinish(finish, association);
      return { ...answer, confirm: { ...answer.confirm, lifetimeSeconds: answer.confirm.lifetimeSeconds - 1 } };
    };
    const stored: string[] = [];
    for (const se of [w.infraSe, w.seOf(device)]) {
      const deriveKey = se.deriveKey.bind(se);
      se.deriveKey = async (owner, spec) => {
        const handle = await deriveKey(owner, spec);
        if (spec.ephemeral !== true) stored.push(`${owner}:${handle}`);
        return handle;
      };
    }
    const error = await w.procedures.associate({ device, associationId: 'sa-1', credentialId: 'meter-1-svc', lifetimeSeconds: 3600 }).catch((e: unknown) => e);
    expect(isCredenceError(error, 'protocol') && error.problem).toMatchObject({ step: 'association.confirm', reason: 'bad_mac' });
    const association = await w.credence.engine.entity('association', 'sa-1');
    expect(association.events.map((e) => e.event.type)).toEqual(['AssociationConfigured']);
    expect(w.credence.keyRegistry?.live('association-sa-1')).toEqual([]);
    // The Registrar's two session keys only (destroyed when the device refused): the device derived none.
    expect(stored.every((s) => s.startsWith(`${w.infrastructure.owner}:`))).toBe(true);
    expect(stored.length).toBe(2);
  });
});
