/**
 * Found in review (seeds 002 and 004 unobservability; SER-001): an association hello never answers
 * `unknown_credential` any more (a decoy challenge, adapters/protocols/shared/decoy.ts), yet a finish whose PSK
 * was shredded after the challenge (the credential revoked during the run) still did, via the session table's
 * `keyGoneBeforeProof`; a finish with a bogus proof then told anyone who opened a run that the credential became
 * unusable during it, where a decoy finish or a real run's bad proof is `bad_mac`. It now gets what a failed proof
 * gets, word for word; the real reason stays behind it for the service's log. Review 393: it also ended the run at
 * once, where a failed proof leaves it going up to the third, so a second junk finish (`unknown_session`) told the
 * same; the run is now kept as for any failed proof, its keys destroyed when it ends (the third, or the sweep).
 */
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { concealedRefusal } from '../domain/protocols/protocol.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { handshakeWorld, REGISTRAR_OWNER, type HandshakeWorld } from './handshake.fixtures.ts';
import { seededRandom, toBase64url } from './crypto-fixtures.ts';
import { keysMadeBy } from './support/keys-made.ts';
import { rememberedBy } from './support/protocol-answers.ts';

/** The refusal thrown: what the peer is told (all an answer is made from) and what the service's log is given. */
const refusal = async (run: () => Promise<unknown>) => {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isCredenceError(error, 'protocol')) throw new Error(`expected a protocol refusal, got ${String(error)}`);
  return { told: { message: error.message, problem: error.problem }, logged: concealedRefusal(error) };
};

/** A finish of `world`'s Registree whose proof is bogus: the rest as the real client made it. */
const bogusFinish = async (world: HandshakeWorld) => {
  const handshake = await world.registree.start({ lifetimeSeconds: 600 });
  const { finish } = await handshake.acceptChallenge(await world.registrar.acceptHello(handshake.hello));
  return { handshake, finish: { ...finish, proof: toBase64url(seededRandom('bogus-proof')(32)) } };
};

describe('an association finish whose PSK credential ended after the challenge', () => {
  it('with a bogus proof, is answered exactly as a failed proof of a real run, the run kept until the third; the reason stays for the log, and the run leaves nothing', async () => {
    // Given what a bogus proof gets in a real run of a usable credential
    const real = await handshakeWorld({ kind: 'psk256', seed: 'ended-real' });
    const failed = await bogusFinish(real);
    const failedProof = await refusal(() => real.registrar.acceptFinish(failed.finish));
    await failed.handshake.abort();
    expect(failedProof.told.problem).toMatchObject({ step: 'association.finish', reason: 'bad_mac' });

    // and a run whose credential is revoked after the challenge, its PSK shredded at the Registrar
    const world = await handshakeWorld({ kind: 'psk256', seed: 'ended-mid-run' });
    const made = keysMadeBy(world.registrarSe, ['generate', 'agree', 'deriveKey', 'unwrap']);
    const remembered = rememberedBy(world.cache);
    const run = await bogusFinish(world);
    await world.registrarSe.destroy(REGISTRAR_OWNER, world.registrarHandle as KeyHandle);

    // When a finish with a bogus proof arrives
    const answer = await refusal(() => world.registrar.acceptFinish(run.finish));

    // Then it is told what the failed proof was told, not unknown_credential
    expect(answer.told).toEqual(failedProof.told);
    // and the service's log is given the real reason, naming no key handle
    expect(failedProof.logged).toBeUndefined();
    expect(answer.logged).toMatchObject({ step: 'association.finish', reason: 'credential_revoked', told: 'bad_mac' });
    expect(answer.logged?.message).not.toMatch(/key_[A-Za-z0-9_-]{24}/);
    // and the run goes on, as after any failed proof: a second junk finish is told the same, not unknown_session
    expect(world.registrar.sessionCount).toBe(1);
    expect((await refusal(() => world.registrar.acceptFinish(run.finish))).told).toEqual(failedProof.told);
    expect(world.registrar.sessionCount).toBe(1);
    // until the third, which ends it as the third failed proof of any run does
    const third = await refusal(() => world.registrar.acceptFinish(run.finish));
    await run.handshake.abort();
    expect(third.told).toEqual(failedProof.told);
    expect(third.logged).toMatchObject({ step: 'association.finish', reason: 'credential_revoked', told: 'bad_mac' });
    // and nothing is remembered, the run is gone, and none of its keys is left
    expect(remembered).toEqual([]);
    expect(world.registrar.sessionCount).toBe(0);
    expect(made.length).toBeGreaterThan(0);
    const alive = (await Promise.all(made.map((h) => world.registrarSe.describe(REGISTRAR_OWNER, h).then(() => h, () => undefined)))).filter(Boolean);
    expect(alive).toEqual([]);
  });

  it('with one bogus proof and no more, leaves nothing once the sweep ends its run', async () => {
    const world = await handshakeWorld({ kind: 'psk256', seed: 'ended-mid-run-swept' });
    const made = keysMadeBy(world.registrarSe, ['generate', 'agree', 'deriveKey', 'unwrap']);
    const run = await bogusFinish(world);
    await world.registrarSe.destroy(REGISTRAR_OWNER, world.registrarHandle as KeyHandle);
    const answer = await refusal(() => world.registrar.acceptFinish(run.finish));
    await run.handshake.abort();
    expect(answer.told.problem).toMatchObject({ step: 'association.finish', reason: 'bad_mac' });
    // The run is kept, its ephemeral key with it, until its timeout passes and the sweep ends it.
    expect(world.registrar.sessionCount).toBe(1);
    world.clock.advance(61_000);
    expect(await world.registrar.sweepExpired()).toBe(1);
    expect(world.registrar.sessionCount).toBe(0);
    expect(made.length).toBeGreaterThan(0);
    const alive = (await Promise.all(made.map((h) => world.registrarSe.describe(REGISTRAR_OWNER, h).then(() => h, () => undefined)))).filter(Boolean);
    expect(alive).toEqual([]);
  });
});
