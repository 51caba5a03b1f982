/**
 * Found in review 400 (F1; seeds 002/004 unobservability; SER-001), as at the provisioning auth (review 393): a receipt
 * whose bootstrap PSK was shredded after the delivery (the node revoked) threw "key not found" at its bootstrap proof
 * check, which the session table, the run being authenticated, answered `credential_revoked` and ended the run at once,
 * where a wrong proof on a usable bootstrap is answered `bad_mac` and leaves the run going up to the third
 * (failed-proofs.ts). Anyone who saw the delivery could copy the receipt, spoil its bootstrap proof and learn that the
 * bootstrap was revoked, ending the node's run with it. A bootstrap key gone at the proof check is now a failed proof
 * like any other, the run kept until the third, the real reason still for the log.
 *
 * Found in review 405 (F1): a copy of the genuine receipt with only its credential proof altered passed the bootstrap
 * proof on a usable bootstrap and was told `receipt not made with the new credential`, where on a shredded one the
 * bootstrap check failed first (`receipt not made with the bootstrap credential`). The new credential's verifier (its
 * session copy, or its public key) is one revocation cannot take away: it is checked first.
 */
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { concealedRefusal } from '../domain/protocols/protocol.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { EF_OWNER, provisioningWorld, type ProvisioningWorld } from './provisioning-protocol.fixtures.ts';
import { keysMadeBy } from './support/keys-made.ts';

/** What the peer is told for `receipt` (all an answer is made from) and what the service's log is given. */
const refused = async (world: ProvisioningWorld, receipt: unknown) => {
  const error = await world.ef.acceptReceipt(receipt).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isCredenceError(error, 'protocol')) throw new Error(`expected a protocol refusal, got ${String(error)}`);
  return { told: { message: error.message, problem: error.problem }, logged: concealedRefusal(error) };
};

/** Three copies of the genuine receipt of a `credentialKind` run of `world` with only its credential proof altered. */
const threeAlteredCredentialProofs = async (world: ProvisioningWorld, credentialKind: 'psk256' | 'ed25519', afterTheDelivery: () => Promise<void>) => {
  const session = await world.client.start({ credentialKind });
  const auth = await session.acceptChallenge(await world.ef.acceptHello(session.hello));
  const { receipt } = await session.acceptDelivery(await world.ef.acceptAuth(auth));
  const altered = { ...receipt, credentialProof: `${receipt.credentialProof[0] === 'A' ? 'B' : 'A'}${receipt.credentialProof.slice(1)}` };
  await afterTheDelivery();
  const answers = [];
  const runs = [];
  for (let i = 0; i < 3; i++) {
    answers.push(await refused(world, altered));
    runs.push(world.ef.sessionCount);
  }
  return { answers, runs };
};

/** Three junk receipts (a bogus bootstrap proof, the rest as the real node made it) on one run of `world`. */
const threeJunkReceipts = async (world: ProvisioningWorld, afterTheDelivery: () => Promise<void>) => {
  const session = await world.client.start({ credentialKind: 'psk256' });
  const auth = await session.acceptChallenge(await world.ef.acceptHello(session.hello));
  const { receipt } = await session.acceptDelivery(await world.ef.acceptAuth(auth));
  const junk = { ...receipt, bootstrapProof: `${receipt.bootstrapProof[0] === 'A' ? 'B' : 'A'}${receipt.bootstrapProof.slice(1)}` };
  await afterTheDelivery();
  const answers = [];
  const runs = [];
  for (let i = 0; i < 3; i++) {
    answers.push(await refused(world, junk));
    runs.push(world.ef.sessionCount);
  }
  return { answers, runs };
};

/** The answer as the node reads it, less the refusal proof: each is over its own run's transcript. */
const told = ({ message, problem }: { message: string; problem: object }) => {
  const { refusalProof: _proof, ...rest } = problem as { refusalProof?: string };
  return { message, problem: rest, signed: typeof _proof === 'string' };
};

describe('junk enrolment receipts on a run whose bootstrap PSK is shredded after the delivery', () => {
  it('are answered exactly as on a run whose bootstrap is still usable, the run kept until the third; the log has the real reason; no key is left', async () => {
    // Given a delivered run of a usable PSK bootstrap
    const usable = await provisioningWorld({ bootstrapKind: 'psk256' });
    // and a delivered run whose bootstrap is revoked after the delivery, its PSK shredded at the Enrolment Function
    const shredded = await provisioningWorld({ bootstrapKind: 'psk256' });
    const made = keysMadeBy(shredded.efSe, ['generate', 'agree', 'deriveKey', 'unwrap']);

    // When each gets three receipts copied from the node's with the bootstrap proof spoiled
    const a = await threeJunkReceipts(usable, async () => {});
    const b = await threeJunkReceipts(shredded, () => shredded.efSe.destroy(EF_OWNER, shredded.bootstrap.efHandle as KeyHandle));

    // Then both are told the same: three failed proofs, not `credential_revoked` ending the run
    expect(a.answers.map((x) => x.told.problem)).toEqual(
      Array(3).fill(expect.objectContaining({ step: 'provisioning.receipt', reason: 'bad_mac' })),
    );
    expect(b.answers.map((x) => told(x.told))).toEqual(a.answers.map((x) => told(x.told)));
    // and each run stays through the second and ends at the third
    expect(a.runs).toEqual([1, 1, 0]);
    expect(b.runs).toEqual(a.runs);
    // The service's log is given the real reason at each, naming no key handle; a wrong proof conceals nothing.
    expect(a.answers.map((x) => x.logged)).toEqual([undefined, undefined, undefined]);
    for (const { logged } of b.answers) {
      expect(logged).toMatchObject({ step: 'provisioning.receipt', reason: 'credential_revoked', told: 'bad_mac' });
      expect(logged?.message).not.toMatch(/key_[A-Za-z0-9_-]{24}/);
    }
    // and the ended run left none of its keys
    const alive = (await Promise.all(made.map((h) => shredded.efSe.describe(EF_OWNER, h).then(() => h, () => undefined)))).filter(Boolean);
    expect(alive).toEqual([]);
  });

  it.each([
    { credentialKind: 'psk256' as const, reason: 'bad_mac' },
    { credentialKind: 'ed25519' as const, reason: 'bad_signature' },
  ])('copies of the genuine receipt of a $credentialKind run with only the credential proof altered are answered word for word alike', async ({ credentialKind, reason }) => {
    // Given a delivered run of a usable PSK bootstrap and one whose bootstrap PSK is shredded after the delivery
    const usable = await provisioningWorld({ bootstrapKind: 'psk256' });
    const shredded = await provisioningWorld({ bootstrapKind: 'psk256' });

    // When each gets three copies of its genuine receipt with the credential proof altered
    const a = await threeAlteredCredentialProofs(usable, credentialKind, async () => {});
    const b = await threeAlteredCredentialProofs(shredded, credentialKind, () => shredded.efSe.destroy(EF_OWNER, shredded.bootstrap.efHandle as KeyHandle));

    // Then both are told the same, word for word: the new credential's proof refused, not the bootstrap's on the shredded one
    expect(a.answers.map((x) => x.told)).toEqual(
      Array(3).fill({
        message: expect.stringContaining('receipt not made with the new credential'),
        problem: expect.objectContaining({ step: 'provisioning.receipt', reason }),
      }),
    );
    expect(b.answers.map((x) => told(x.told))).toEqual(a.answers.map((x) => told(x.told)));
    // and each run stays through the second and ends at the third
    expect(a.runs).toEqual([1, 1, 0]);
    expect(b.runs).toEqual(a.runs);
  });
});
