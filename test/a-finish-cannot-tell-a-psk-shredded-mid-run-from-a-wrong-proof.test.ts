/**
 * Found in review 393 (seeds 002/004 unobservability; SER-001): an association finish whose PSK credential was
 * shredded during the run (revoked after the challenge) was answered `bad_mac`, as a failed proof is, but it ended the
 * run at once, where a wrong proof on a usable credential leaves the run going up to the third (failed-proofs.ts). Two
 * junk finishes then answered `bad_mac, bad_mac` for a usable credential and `bad_mac, unknown_session` for one that
 * ended during the run: a stranger who saw the challenge learned that the credential was revoked. A peer key gone at
 * the proof check is now a failed proof like any other, the run kept until the third.
 *
 * Found in review 405 (F1): a copy of the genuine finish with only its key confirmation altered passed the proof on a
 * usable credential and was told `Registree key confirmation failed`, where on a shredded one the proof check failed
 * first (`Registree authentication failed`). The key confirmation needs keys derived from the PSK, so it cannot be
 * checked first: a failed one is answered exactly as a failed proof, the real detail for the log.
 */
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { concealedRefusal } from '../domain/protocols/protocol.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { handshakeWorld, REGISTRAR_OWNER, type HandshakeWorld } from './handshake.fixtures.ts';
import { seededRandom, toBase64url } from './crypto-fixtures.ts';

/** What the peer is told for `finish` (all an answer is made from), or that it was accepted. */
const told = async (world: HandshakeWorld, finish: unknown) => {
  const error = await world.registrar.acceptFinish(finish as never).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error === undefined) return 'accepted';
  if (!isCredenceError(error, 'protocol')) throw new Error(`expected a protocol refusal, got ${String(error)}`);
  return { message: error.message, problem: error.problem };
};

/** Three copies of the genuine finish with its key confirmation altered, on one run of `world`: what each is told and logged. */
const threeAlteredKeyConfirmations = async (world: HandshakeWorld, beforeTheFinishes: () => Promise<void>) => {
  const handshake = await world.registree.start({ lifetimeSeconds: 600 });
  const { finish } = await handshake.acceptChallenge(await world.registrar.acceptHello(handshake.hello));
  const kc = finish.keyConfirmation;
  const altered = { ...finish, keyConfirmation: `${kc[0] === 'A' ? 'B' : 'A'}${kc.slice(1)}` };
  await beforeTheFinishes();
  const answers = [];
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const error = await world.registrar.acceptFinish(altered as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!isCredenceError(error, 'protocol')) throw new Error(`expected a protocol refusal, got ${String(error)}`);
    answers.push({ told: { message: error.message, problem: error.problem }, logged: concealedRefusal(error) });
    runs.push(world.registrar.sessionCount);
  }
  await handshake.abort();
  return { answers, runs };
};

/** Three junk finishes (a bogus proof, the rest as the real client made it) on one run of `world`: what each is told. */
const threeJunkFinishes = async (world: HandshakeWorld, beforeTheFinishes: () => Promise<void>) => {
  const handshake = await world.registree.start({ lifetimeSeconds: 600 });
  const { finish } = await handshake.acceptChallenge(await world.registrar.acceptHello(handshake.hello));
  const junk = { ...finish, proof: toBase64url(seededRandom('junk-proof')(32)) };
  await beforeTheFinishes();
  const answers = [];
  const runs = [];
  for (let i = 0; i < 3; i++) {
    answers.push(await told(world, junk));
    runs.push(world.registrar.sessionCount);
  }
  await handshake.abort();
  return { answers, runs };
};

describe('junk association finishes on a run whose PSK credential is shredded after the challenge', () => {
  it('are answered exactly as on a run whose credential is still usable: failed proofs, the run kept until the third', async () => {
    // Given a run of a usable PSK credential
    const usable = await handshakeWorld({ kind: 'psk256', seed: 'shredded-vs-wrong/usable' });
    // and a run whose credential is revoked after the challenge, its PSK shredded at the Registrar
    const shredded = await handshakeWorld({ kind: 'psk256', seed: 'shredded-vs-wrong/shredded' });

    // When each gets three junk finishes
    const a = await threeJunkFinishes(usable, async () => {});
    const b = await threeJunkFinishes(shredded, () => shredded.registrarSe.destroy(REGISTRAR_OWNER, shredded.registrarHandle as KeyHandle));

    // Then both are told the same, word for word: three failed proofs, not a failed proof then `unknown_session`
    expect(a.answers).toEqual(Array(3).fill(expect.objectContaining({ problem: expect.objectContaining({ step: 'association.finish', reason: 'bad_mac' }) })));
    expect(b.answers).toEqual(a.answers);
    // and each run stays through the second and ends at the third
    expect(a.runs).toEqual([1, 1, 0]);
    expect(b.runs).toEqual(a.runs);
  });

  it('copies of the genuine finish with only the key confirmation altered are answered word for word alike, as failed proofs; the log has the real detail', async () => {
    // Given a run of a usable PSK credential and one whose PSK is shredded after the challenge
    const usable = await handshakeWorld({ kind: 'psk256', seed: 'shredded-vs-wrong-kc/usable' });
    const shredded = await handshakeWorld({ kind: 'psk256', seed: 'shredded-vs-wrong-kc/shredded' });

    // When each gets three copies of its genuine finish with the key confirmation altered (the part checked second)
    const a = await threeAlteredKeyConfirmations(usable, async () => {});
    const b = await threeAlteredKeyConfirmations(shredded, () => shredded.registrarSe.destroy(REGISTRAR_OWNER, shredded.registrarHandle as KeyHandle));

    // Then both are told the same, word for word: a failed proof, not the key confirmation named on the usable one
    expect(a.answers.map((x) => x.told)).toEqual(
      Array(3).fill({
        message: expect.stringContaining('Registree authentication failed'),
        problem: expect.objectContaining({ step: 'association.finish', reason: 'bad_mac' }),
      }),
    );
    expect(b.answers.map((x) => x.told)).toEqual(a.answers.map((x) => x.told));
    // each run kept until the third
    expect(a.runs).toEqual([1, 1, 0]);
    expect(b.runs).toEqual(a.runs);
    // and the service's log has the real detail: the key confirmation on the usable run, the credential ended on the other
    for (const { logged } of a.answers) expect(logged).toMatchObject({ step: 'association.finish', reason: 'bad_mac', message: expect.stringContaining('key confirmation failed') });
    for (const { logged } of b.answers) expect(logged).toMatchObject({ step: 'association.finish', reason: 'credential_revoked', told: 'bad_mac' });
  });
});
