/**
 * Found in review 393 (seeds 002/004 unobservability; SER-001), as at the association finish: a provisioning auth whose
 * bootstrap PSK was shredded during the run (revoked after the challenge) was answered `bad_mac`, as a failed proof is,
 * but it ended the run at once, where a wrong proof on a usable bootstrap leaves the run going up to the third
 * (failed-proofs.ts). Two junk auths then answered `bad_mac, bad_mac` for a usable bootstrap and `bad_mac,
 * unknown_session` for one that ended during the run. A peer key gone at the proof check is now a failed proof like
 * any other, the run kept until the third, the real reason still for the log.
 *
 * Found in review 405 (F1): a copy of the genuine auth with only its proof of possession altered (or one added to a
 * PSK run's auth) passed the bootstrap proof on a usable bootstrap and was told `bad_proof_of_possession` (or
 * `unsupported`), where on a shredded one the proof check failed first (`bad_mac`). The proof of possession needs only
 * the key the auth carries: it is checked first, on every run, a decoy run's too.
 */
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { concealedRefusal } from '../domain/protocols/protocol.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { EF_OWNER, provisioningWorld, type ProvisioningWorld } from './provisioning-protocol.fixtures.ts';
import { keysMadeBy } from './support/keys-made.ts';

/** What the peer is told for `auth` (all an answer is made from) and what the service's log is given. */
const refused = async (world: ProvisioningWorld, auth: unknown) => {
  const error = await world.ef.acceptAuth(auth).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isCredenceError(error, 'protocol')) throw new Error(`expected a protocol refusal, got ${String(error)}`);
  return { told: { message: error.message, problem: error.problem }, logged: concealedRefusal(error) };
};

/** Three copies of the genuine auth of a `credentialKind` run of `world` with only `alter` applied: what each is told. */
const threeAlteredAuths = async (
  world: ProvisioningWorld,
  credentialKind: 'ed25519' | 'psk256',
  alter: (auth: { proofOfPossession?: string }) => object,
  beforeTheAuths: () => Promise<void>,
) => {
  const session = await world.client.start({ credentialKind });
  const auth = await session.acceptChallenge(await world.ef.acceptHello(session.hello));
  const altered = { ...auth, ...alter(auth) };
  await beforeTheAuths();
  const answers = [];
  const runs = [];
  for (let i = 0; i < 3; i++) {
    answers.push(await refused(world, altered));
    runs.push(world.ef.sessionCount);
  }
  return { answers, runs };
};

const flipped = (value: string | undefined) => (value === undefined ? undefined : `${value[0] === 'A' ? 'B' : 'A'}${value.slice(1)}`);

/** Three junk auths (a bogus proof, the rest as the real node made it) on one run of `world`. */
const threeJunkAuths = async (world: ProvisioningWorld, beforeTheAuths: () => Promise<void>) => {
  const session = await world.client.start({ credentialKind: 'psk256' });
  const auth = await session.acceptChallenge(await world.ef.acceptHello(session.hello));
  const junk = { ...auth, proof: `${auth.proof[0] === 'A' ? 'B' : 'A'}${auth.proof.slice(1)}` };
  await beforeTheAuths();
  const answers = [];
  const runs = [];
  for (let i = 0; i < 3; i++) {
    answers.push(await refused(world, junk));
    runs.push(world.ef.sessionCount);
  }
  return { answers, runs };
};

describe('junk provisioning auths on a run whose bootstrap PSK is shredded after the challenge', () => {
  it('are answered exactly as on a run whose bootstrap is still usable, the run kept until the third; the log has the real reason; no key is left', async () => {
    // Given a run of a usable PSK bootstrap
    const usable = await provisioningWorld({ bootstrapKind: 'psk256' });
    // and a run whose bootstrap is revoked after the challenge, its PSK shredded at the Enrolment Function
    const shredded = await provisioningWorld({ bootstrapKind: 'psk256' });
    const made = keysMadeBy(shredded.efSe, ['generate', 'agree', 'deriveKey', 'unwrap']);

    // When each gets three junk auths
    const a = await threeJunkAuths(usable, async () => {});
    const b = await threeJunkAuths(shredded, () => shredded.efSe.destroy(EF_OWNER, shredded.bootstrap.efHandle as KeyHandle));

    // Then both are told the same, word for word: three failed proofs, not a failed proof then `unknown_session`
    expect(a.answers.map((x) => x.told.problem)).toEqual(Array(3).fill(expect.objectContaining({ step: 'provisioning.auth', reason: 'bad_mac' })));
    expect(b.answers.map((x) => x.told)).toEqual(a.answers.map((x) => x.told));
    // and each run stays through the second and ends at the third
    expect(a.runs).toEqual([1, 1, 0]);
    expect(b.runs).toEqual(a.runs);
    // The service's log is given the real reason at each, naming no key handle; a wrong proof conceals nothing.
    expect(a.answers.map((x) => x.logged)).toEqual([undefined, undefined, undefined]);
    for (const { logged } of b.answers) {
      expect(logged).toMatchObject({ step: 'provisioning.auth', reason: 'credential_revoked', told: 'bad_mac' });
      expect(logged?.message).not.toMatch(/key_[A-Za-z0-9_-]{24}/);
    }
    // and the ended run left none of its keys
    const alive = (await Promise.all(made.map((h) => shredded.efSe.describe(EF_OWNER, h).then(() => h, () => undefined)))).filter(Boolean);
    expect(alive).toEqual([]);
  });

  it.each([
    { case: 'an ed25519 run, its proof of possession altered', credentialKind: 'ed25519' as const, alter: (a: { proofOfPossession?: string }) => ({ proofOfPossession: flipped(a.proofOfPossession) }), reason: 'bad_proof_of_possession' },
    { case: 'a PSK run, a proof of possession added', credentialKind: 'psk256' as const, alter: () => ({ proofOfPossession: 'AAAA' }), reason: 'unsupported' },
  ])('copies of the genuine auth of $case are answered word for word alike on a usable, a shredded and a decoy bootstrap', async ({ credentialKind, alter, reason }) => {
    // Given a run of a usable PSK bootstrap, one whose PSK is shredded after the challenge, and a decoy run (revoked at the hello)
    const usable = await provisioningWorld({ bootstrapKind: 'psk256' });
    const shredded = await provisioningWorld({ bootstrapKind: 'psk256' });
    const decoy = await provisioningWorld({ bootstrapKind: 'psk256', bootstrapRevoked: true });

    // When each gets three copies of its genuine auth with only the part checked after the bootstrap proof altered
    const a = await threeAlteredAuths(usable, credentialKind, alter, async () => {});
    const b = await threeAlteredAuths(shredded, credentialKind, alter, () => shredded.efSe.destroy(EF_OWNER, shredded.bootstrap.efHandle as KeyHandle));
    const c = await threeAlteredAuths(decoy, credentialKind, alter, async () => {});

    // Then all are told the same, word for word: the proof of possession refused, not the bootstrap proof on the shredded one
    expect(a.answers.map((x) => x.told.problem)).toEqual(Array(3).fill(expect.objectContaining({ step: 'provisioning.auth', reason })));
    expect(b.answers.map((x) => x.told)).toEqual(a.answers.map((x) => x.told));
    expect(c.answers.map((x) => x.told)).toEqual(a.answers.map((x) => x.told));
    // and each run stays through the second and ends at the third
    expect(a.runs).toEqual([1, 1, 0]);
    expect(b.runs).toEqual(a.runs);
    expect(c.runs).toEqual(a.runs);
  });
});
