/**
 * Found in review (seeds 002 and 004 unobservability; SER-001): the association hello stopped refusing a credential
 * it cannot use, yet a provisioning hello for a bootstrap credential the Enrolment Function cannot use (unknown,
 * revoked, expired) was still refused `422 unknown_credential`, a usable one answered with a challenge: refused-or-not
 * told anyone holding a Node-ID and a public fingerprint whether a device's bootstrap was revoked. Such a hello now
 * gets a decoy challenge of the same shape (adapters/protocols/shared/decoy.ts); its auth gets what any failed proof
 * gets, unless its proof verifies with the bootstrap credential, when the holder is told the real reason. Nothing of
 * a decoy run is remembered, and it leaves no key of its own in the Enrolment Function's Secure Environment (a
 * PSK-mode decoy's challenge is MACed with the one stand-in PSK all of them share, shared/stand-in-psk.ts).
 */
import { describe, expect, it } from 'vitest';
import type { CredentialKind } from '../domain/crypto/credential.ts';
import type { ProvisioningChallenge } from '../domain/protocols/enrolment-messages.ts';
import { EF_OWNER, provisioningWorld, type ProvisioningWorld, type WorldOptions } from './provisioning-protocol.fixtures.ts';
import { replayCache } from './crypto-fixtures.ts';
import { keysMadeBy } from './support/keys-made.ts';
import { rememberedBy, shape, told, withStrangersProof } from './support/protocol-answers.ts';

/** The answer a stranger's auth gets in a real run (a usable bootstrap), and a real challenge: what a decoy must match. */
const realRun = async (kind: CredentialKind) => {
  const world = await provisioningWorld({ bootstrapKind: kind, seed: `real-${kind}` });
  const session = await world.client.start({ credentialKind: kind });
  const challenge = await world.ef.acceptHello(session.hello);
  const auth = await session.acceptChallenge(challenge);
  return { challenge, failedProof: await told(() => world.ef.acceptAuth(withStrangersProof(auth))) };
};

/** A world whose Enrolment Function's replay cache says what it was asked to remember, and whose keys are watched. */
const watchedWorld = async (options: WorldOptions) => {
  const cache = replayCache();
  const remembered = rememberedBy(cache);
  const world = await provisioningWorld({ ...options, ef: { replayCache: cache } });
  const made = keysMadeBy(world.efSe, ['generate', 'agree', 'deriveKey', 'unwrap']);
  const alive = async () => (await Promise.all(made.map((h) => world.efSe.describe(EF_OWNER, h).then(() => h, () => undefined)))).filter(Boolean);
  return { world, remembered, made, alive };
};

const EXPIRED = { notBefore: '2020-01-01T00:00:00.000Z', notAfter: '2029-12-31T00:00:00.000Z' };
const OTHER_FINGERPRINT = { tamperBootstrap: (d: ProvisioningWorld['bootstrap']['descriptor']) => ({ ...d, fingerprint: `sha256:${'0'.repeat(64)}` }) };

const cases: readonly (readonly [string, CredentialKind, Partial<WorldOptions>, string | undefined])[] = [
  // case, bootstrap kind, world, what the holder is told (undefined: a failed proof)
  ['a revoked bootstrap (signatures)', 'p256', { bootstrapRevoked: true }, 'credential_revoked'],
  ['a revoked bootstrap (PSK)', 'psk256', { bootstrapRevoked: true }, 'credential_revoked'],
  ['an expired bootstrap', 'ed25519', { bootstrapValidity: EXPIRED }, 'credential_expired'],
  ['a bootstrap the Enrolment Function does not know', 'ed25519', OTHER_FINGERPRINT, undefined],
];

describe('a provisioning hello, in process, for a bootstrap credential the Enrolment Function cannot use', () => {
  it.each(cases)('%s is answered with a challenge shaped as a real one, and its run keeps nothing', async (_case, kind, options, holderIsTold) => {
    const real = await realRun(kind);
    const { world, remembered, made, alive } = await watchedWorld({ bootstrapKind: kind, ...options });

    // Given a hello for it, and another from its holder
    const stranger = await world.client.start({ credentialKind: kind });
    const holder = await world.client.start({ credentialKind: kind });
    // When the Enrolment Function answers it, and a stranger sends its auth
    const challenge = await world.ef.acceptHello(stranger.hello);
    // Then the challenge is a real one's shape, with its own session id, nonce (and ephemeral key), in a pending slot
    expect(shape(challenge)).toEqual(shape(real.challenge));
    expect(challenge.nodeNonce).toBe(stranger.hello.nodeNonce);
    expect(world.ef.sessionCount).toBe(1);
    // PSK mode: an ephemeral key for the delivery, as a real run's (signature mode makes none at the hello)
    if (kind === 'psk256') expect(made.length).toBeGreaterThan(0);
    // and the node's client accepts it as any other (the Enrolment Function's signature, or a MAC under the known PSK)
    const auth = await stranger.acceptChallenge(challenge);
    // and a stranger's auth gets exactly what a failed proof gets in a real run
    expect(await told(() => world.ef.acceptAuth(withStrangersProof(auth)))).toEqual(real.failedProof);

    // When the holder of the bootstrap runs it, and proves itself
    const holdersAuth = await holder.acceptChallenge(await world.ef.acceptHello(holder.hello));
    const answer = await told(() => world.ef.acceptAuth(holdersAuth));
    // Then it alone is told why, at the auth; a bootstrap the Enrolment Function does not know is a failed proof still
    if (holderIsTold === undefined) expect(answer).toEqual(real.failedProof);
    else expect(answer.problem).toMatchObject({ step: 'provisioning.auth', reason: holderIsTold });

    // And nothing was remembered; a failed proof leaves its run going, a decoy run's as a real one's (review 238), and
    // at its expiry no run is left, and no key the runs made is left in the Secure Environment
    expect(remembered).toEqual([]);
    expect(world.ef.sessionCount).toBe(holderIsTold === undefined ? 2 : 1);
    world.clock.advance(121_000);
    await world.ef.sweepExpired();
    expect(world.ef.sessionCount).toBe(0);
    expect(await alive()).toEqual([]);
    await stranger.abort();
    await holder.abort();
  });

  it('a hello naming an unknown node (PSK) gets a challenge shaped as a real one, makes no key per run, and its keys go at its expiry', async () => {
    const real = await realRun('psk256');
    const { world, remembered, made, alive } = await watchedWorld({ bootstrapKind: 'psk256' });
    const session = await world.client.start({ credentialKind: 'psk256' });
    const challenge: ProvisioningChallenge = await world.ef.acceptHello({ ...session.hello, nodeId: 'node-9999' });
    expect(shape(challenge)).toEqual(shape(real.challenge));
    // The first such decoy makes the stand-in PSK every such challenge is MACed with (shared/stand-in-psk.ts), and its
    // ephemeral key; the stand-in stays in the Secure Environment only, never extractable
    expect(made).toHaveLength(2);
    const standIn = made[0]!;
    expect(await world.efSe.describe(EF_OWNER, standIn)).toMatchObject({ kind: 'psk256', ephemeral: true, extractable: false });
    // Review 64 F2: any later decoy makes its ephemeral key only, as a real run does, not a random key per run
    const another = await world.client.start({ credentialKind: 'psk256' });
    await world.ef.acceptHello({ ...another.hello, nodeId: 'node-9998' });
    expect(made).toHaveLength(3);
    world.clock.advance(121_000);
    const later = await world.client.start({ credentialKind: 'psk256' });
    await world.ef.acceptHello(later.hello);
    // The decoy runs' keys go at their expiry; the stand-in, no run's, stays
    expect(await Promise.all(made.slice(1, 3).map((h) => world.efSe.describe(EF_OWNER, h).then(() => true, () => false)))).toEqual([false, false]);
    await expect(world.efSe.describe(EF_OWNER, standIn)).resolves.toBeDefined();
    // The bootstrap's own key is never a decoy run's to destroy
    await expect(world.efSe.describe(EF_OWNER, world.bootstrap.efHandle!)).resolves.toBeDefined();
    expect(remembered).toEqual([]);
    await session.abort();
    await another.abort();
    await later.abort();
    // The later run (a real one) ends with its session table: besides the stand-in, at most its own key is left
    expect((await alive()).filter((h) => h !== standIn).length).toBeLessThanOrEqual(1);
  });
});
