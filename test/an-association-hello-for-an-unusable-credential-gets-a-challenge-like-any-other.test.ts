/**
 * Found in review (seeds 002 and 004 unobservability; SER-001): an association hello for a credential the Registrar
 * cannot use (unknown, revoked, expired) was refused `422 unknown_credential`, a usable one answered with a
 * challenge: the refusal said no more than `unknown_credential`, yet refused-or-not itself told anyone holding a
 * Registree id and a public fingerprint whether that credential was revoked. Such a hello now gets a decoy challenge
 * of the same shape (adapters/protocols/shared/decoy.ts); its finish gets what any failed proof gets, unless its
 * proof verifies with the credential, when the holder is told the real reason. Nothing of a decoy run is remembered,
 * and it leaves no key of its own in the Registrar's Secure Environment (a PSK-mode decoy's challenge is MACed with
 * the one stand-in PSK all of them share, shared/stand-in-psk.ts).
 */
import { describe, expect, it } from 'vitest';
import type { CredentialKind } from '../domain/crypto/credential.ts';
import { proofInput, Transcript, withoutFields } from '../domain/crypto/transcript.ts';
import type { AssociationChallenge, AssociationHello } from '../domain/protocols/association-messages.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { handshakeWorld, REGISTREE_OWNER, type HandshakeWorld, type HandshakeWorldOptions } from './handshake.fixtures.ts';
import { seededRandom, toBase64url } from './crypto-fixtures.ts';
import { keysMadeBy } from './support/keys-made.ts';
import { rememberedBy, shape, told } from './support/protocol-answers.ts';

/**
 * A finish for `challenge` proved with `key` in the Registree's Secure Environment: the holder's credential, or a
 * stranger's key of the same kind. The key confirmation is random: a decoy run is refused before it is looked at.
 */
const finishProvedWith = async (world: HandshakeWorld, key: { kind: CredentialKind; handle: KeyHandle }, hello: AssociationHello, challenge: AssociationChallenge) => {
  const transcript = new Transcript('association');
  transcript.absorb(hello.type, hello);
  transcript.absorb(challenge.type, withoutFields(challenge, 'proof'));
  const unsigned = { type: 'association.finish' as const, version: 2 as const, sessionId: challenge.sessionId, registrarNonce: challenge.registrarNonce };
  const input = proofInput('association', 'registree', 'finish', transcript.absorb(unsigned.type, unsigned));
  const proof = key.kind === 'psk256' ? await world.registreeSe.mac(REGISTREE_OWNER, key.handle, input) : await world.registreeSe.sign(REGISTREE_OWNER, key.handle, input);
  return { ...unsigned, proof: toBase64url(proof), keyConfirmation: toBase64url(seededRandom('any-key-confirmation')(32)) };
};

/** A key of `kind` the Registrar has never seen, in the Registree's Secure Environment. */
const strangersKey = async (world: HandshakeWorld, kind: CredentialKind) => ({ kind, handle: await world.registreeSe.generate(REGISTREE_OWNER, kind) });

/** What a stranger's finish gets in a real run (a usable credential): the answer a decoy run must give it too. */
const failedProofOfARealRun = async (kind: CredentialKind) => {
  const world = await handshakeWorld({ kind, seed: `real-${kind}` });
  const handshake = await world.registree.start({ lifetimeSeconds: 600 });
  const challenge = await world.registrar.acceptHello(handshake.hello);
  const finish = await finishProvedWith(world, await strangersKey(world, kind), handshake.hello, challenge);
  return { challenge, answer: await told(() => world.registrar.acceptFinish(finish)) };
};

/** Ends while both runs wait to be sent (the Registree starts no run of an expired credential): `EXPIRED_AT`. */
const EXPIRED = { notBefore: '2029-01-01T00:00:00.000Z', notAfter: '2030-01-01T00:10:00.000Z' };
const EXPIRED_AT = '2030-01-01T00:10:00.000Z';

const cases: readonly (readonly [string, CredentialKind, Partial<HandshakeWorldOptions>, string | undefined, string | undefined])[] = [
  // case, kind, world, hello's registreeId (another: unknown to the Registrar), what the holder is told (undefined: a failed proof)
  ['a revoked credential (signatures)', 'p256', { revoked: true }, undefined, 'credential_revoked'],
  ['a revoked credential (PSK)', 'psk256', { revoked: true }, undefined, 'credential_revoked'],
  ['an expired credential', 'ed25519', { validity: EXPIRED }, undefined, 'credential_expired'],
  ['a credential unknown to the Registrar (signatures)', 'ed25519', {}, 'CSE-MN-8', undefined],
  ['a credential unknown to the Registrar (PSK)', 'psk256', {}, 'CSE-MN-8', undefined],
];

describe('an association hello, in process, for a credential the Registrar cannot use', () => {
  it.each(cases)('%s is answered with a challenge shaped as a real one, and its run keeps nothing', async (_case, kind, options, registreeId, holderIsTold) => {
    const real = await failedProofOfARealRun(kind);
    const world = await handshakeWorld({ kind, ...options });
    const made = keysMadeBy(world.registrarSe, ['generate', 'agree', 'deriveKey', 'unwrap']);
    const remembered = rememberedBy(world.cache);
    const alive = async () => (await Promise.all(made.map((h) => world.registrarSe.describe('cse:CSE-IN-1', h).then(() => h, () => undefined)))).filter(Boolean);

    // Given two hellos for it (sent once the credential has expired, in that case)
    const handshake = await world.registree.start({ lifetimeSeconds: 600 });
    const again = await world.registree.start({ lifetimeSeconds: 600 });
    const sent = (h: AssociationHello): AssociationHello => ({
      ...h,
      ...(registreeId !== undefined ? { registreeId } : {}),
      ...(options.validity === EXPIRED ? { sentAt: EXPIRED_AT } : {}),
    });
    if (options.validity === EXPIRED) world.clock.set(EXPIRED_AT);
    const hello = sent(handshake.hello);
    // When the Registrar answers it, and a stranger finishes the run
    const strangers = await world.registrar.acceptHello(hello);
    // Then the challenge is a real one's shape, with its own session id, nonce and ephemeral key, and takes a pending slot
    expect(shape(strangers)).toEqual(shape(real.challenge));
    expect(strangers.registreeNonce).toBe(hello.registreeNonce);
    expect(world.registrar.sessionCount).toBe(1);
    expect(made.length).toBeGreaterThan(0);
    if (kind !== 'psk256' && registreeId === undefined && options.validity === undefined) {
      // Signature mode: the Registrar's own signature over the transcript, which the Registree verifies as any other.
      await expect(handshake.acceptChallenge(strangers)).resolves.toBeDefined();
    }
    // and a stranger's finish gets exactly what a failed proof gets in a real run
    expect(await told(async () => world.registrar.acceptFinish(await finishProvedWith(world, await strangersKey(world, kind), hello, strangers)))).toEqual(real.answer);

    // When the holder of the credential runs it again, and proves itself
    const helloAgain = sent(again.hello);
    const holders = await world.registrar.acceptHello(helloAgain);
    const finish = await finishProvedWith(world, { kind, handle: world.registreeHandle }, helloAgain, holders);
    const answer = await told(() => world.registrar.acceptFinish(finish));
    // Then it alone is told why, at the finish; a credential the Registrar does not know is a failed proof still
    if (holderIsTold === undefined) expect(answer).toEqual(real.answer);
    else expect(answer.problem).toMatchObject({ step: 'association.finish', reason: holderIsTold });

    // And nothing was remembered; a failed proof leaves its run going, a decoy run's as a real one's (review 238), and
    // at its expiry no run is left, and no key the runs made is left in the Secure Environment: a PSK-mode decoy for a
    // credential the Registrar holds no key of leaves the one stand-in PSK all such decoys share
    expect(remembered).toEqual([]);
    expect(world.registrar.sessionCount).toBe(holderIsTold === undefined ? 2 : 1);
    world.clock.advance(61_000);
    await world.registrar.sweepExpired();
    expect(world.registrar.sessionCount).toBe(0);
    const kindsLeft = await Promise.all((await alive()).map(async (h) => (await world.registrarSe.describe('cse:CSE-IN-1', h!)).kind));
    expect(kindsLeft).toEqual(kind === 'psk256' && registreeId !== undefined ? ['psk256'] : []);
    await handshake.abort();
    await again.abort();
  });

  it('a decoy run never finished has its keys destroyed at its expiry, as a real run has, and makes none of its own', async () => {
    const world = await handshakeWorld({ kind: 'psk256', revoked: true });
    const made = keysMadeBy(world.registrarSe, ['generate', 'agree', 'deriveKey']);
    // A PSK credential the Registrar does not know: its decoy challenge is MACed under the stand-in PSK, made at the first
    const handshake = await world.registree.start({ lifetimeSeconds: 600 });
    await world.registrar.acceptHello({ ...handshake.hello, registreeId: 'CSE-MN-8' });
    // The stand-in and the ephemeral key
    expect(made).toHaveLength(2);
    const standIn = made[0]!;
    expect(await world.registrarSe.describe('cse:CSE-IN-1', standIn)).toMatchObject({ kind: 'psk256', ephemeral: true, extractable: false });
    // and one revoked whose PSK the Registrar still holds: MACed with that key, so only the ephemeral key is made
    const revoked = await world.registree.start({ lifetimeSeconds: 600 });
    await world.registrar.acceptHello(revoked.hello);
    expect(made).toHaveLength(3);
    // and another unknown one (review 64 F2): the same stand-in, so only its ephemeral key, as a real run
    const another = await world.registree.start({ lifetimeSeconds: 600 });
    await world.registrar.acceptHello({ ...another.hello, registreeId: 'CSE-MN-9' });
    expect(made).toHaveLength(4);
    world.clock.advance(61_000);
    const later = await world.registree.start({ lifetimeSeconds: 600 });
    await world.registrar.acceptHello(later.hello);
    const runs = made.slice(1, 4);
    const alive = await Promise.all(runs.map((h) => world.registrarSe.describe('cse:CSE-IN-1', h).then(() => true, () => false)));
    expect(alive).toEqual([false, false, false]);
    // The stand-in is no run's to destroy, nor the credential's own key
    await expect(world.registrarSe.describe('cse:CSE-IN-1', standIn)).resolves.toBeDefined();
    await expect(world.registrarSe.describe('cse:CSE-IN-1', world.registrarHandle as KeyHandle)).resolves.toBeDefined();
    await handshake.abort();
    await revoked.abort();
    await another.abort();
    await later.abort();
  });
});

/**
 * Found in a later review: a PSK-mode decoy challenge was MACed under a random key, so the Registree that holds the
 * credential refused it (`bad_mac`, Registrar CSE authentication failed) and never reached the finish where it is told
 * why its credential cannot be used. When the Registrar knows the claimed PSK credential and still holds its key, the
 * decoy challenge is MACed with that key; only otherwise under the stand-in PSK. A stranger can verify neither.
 */
describe('the holder of a PSK credential the Registrar still holds but cannot use, running the real Registree', () => {
  const cases = [
    ['revoked', { revoked: true }, 'credential_revoked'],
    ['expired', { validity: EXPIRED }, 'credential_expired'],
  ] as const;

  it.each(cases)('%s: accepts the challenge, and is told why at the finish; nothing is recorded, no key is left', async (_case, options, reason) => {
    // Given a PSK credential the Registrar still holds a key for, which cannot be used
    const world = await handshakeWorld({ kind: 'psk256', seed: `holder-${reason}`, ...options });
    const made = keysMadeBy(world.registrarSe, ['generate', 'agree', 'deriveKey', 'unwrap']);
    const madeByRegistree = keysMadeBy(world.registreeSe, ['generate', 'agree', 'deriveKey', 'unwrap']);
    const remembered = rememberedBy(world.cache);
    // (the expired one: its hello sent two seconds before it ends, answered once it has)
    if (reason === 'credential_expired') world.clock.set('2030-01-01T00:09:58.000Z');
    const handshake = await world.registree.start({ lifetimeSeconds: 600 });
    const { hello } = handshake;
    if (reason === 'credential_expired') world.clock.set(EXPIRED_AT);

    // When the Registree runs the handshake with the real client
    const challenge = await world.registrar.acceptHello(hello);
    const { finish } = await handshake.acceptChallenge(challenge);
    const answer = await told(() => world.registrar.acceptFinish(finish));
    await handshake.abort();

    // Then it is told the real reason at the finish
    expect(answer.problem).toMatchObject({ step: 'association.finish', reason });
    // and nothing was remembered, no run is left, and no key of the run is left on either side
    expect(remembered).toEqual([]);
    expect(world.registrar.sessionCount).toBe(0);
    const alive = async (se: typeof world.registrarSe, owner: string, handles: readonly KeyHandle[]) =>
      (await Promise.all(handles.map((h) => se.describe(owner, h).then(() => h, () => undefined)))).filter(Boolean);
    expect(made.length).toBeGreaterThan(0);
    expect(await alive(world.registrarSe, 'cse:CSE-IN-1', made)).toEqual([]);
    expect(await alive(world.registreeSe, REGISTREE_OWNER, madeByRegistree)).toEqual([]);
    // and the credential's key stays the shredder's to destroy
    await expect(world.registrarSe.describe('cse:CSE-IN-1', world.registrarHandle as KeyHandle)).resolves.toBeDefined();
  });
});
