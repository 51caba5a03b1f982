/**
 * Found in review (seeds 002 and 004 unobservability; SER-001): the finish of a decoy run for a credential the
 * Registrar does not know skipped the proof check, a couple of milliseconds less than a finish that verifies a
 * signature: a stranger could tell an unknown credential by the time its finish took. It now checks the proof as a
 * real finish does, against a stand-in of the claimed kind (a fixed valid public key; in PSK mode the decoy's random
 * key), and is refused as a failed proof whatever that check says. No timing is asserted: the check is counted.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { standInVerifier } from '../adapters/protocols/shared/decoy.ts';
import type { CredentialKind } from '../domain/crypto/credential.ts';
import { sha256 } from '../domain/crypto/hash.ts';
import * as signatures from '../domain/crypto/signatures.ts';
import { isCredenceError } from '../domain/errors.ts';
import { proofInput, Transcript, withoutFields } from '../domain/crypto/transcript.ts';
import type { AssociationChallenge, AssociationHello } from '../domain/protocols/association-messages.ts';
import { handshakeWorld, type HandshakeWorld } from './handshake.fixtures.ts';
import { seededRandom, toBase64url } from './crypto-fixtures.ts';

vi.mock('../domain/crypto/signatures.ts', async (original) => {
  const real = await original<typeof import('../domain/crypto/signatures.ts')>();
  return { ...real, verifySignature: vi.fn(real.verifySignature) };
});
const verifySignature = vi.mocked(signatures.verifySignature);

/** The input a finish's proof covers, for `hello` and `challenge`. */
const finishInput = (hello: AssociationHello, challenge: AssociationChallenge) => {
  const transcript = new Transcript('association');
  transcript.absorb(hello.type, hello);
  transcript.absorb(challenge.type, withoutFields(challenge, 'proof'));
  const unsigned = { type: 'association.finish' as const, version: 2 as const, sessionId: challenge.sessionId, registrarNonce: challenge.registrarNonce };
  return { unsigned, input: proofInput('association', 'registree', 'finish', transcript.absorb(unsigned.type, unsigned)) };
};

/** What the peer is told. */
const told = async (run: () => Promise<unknown>) => {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isCredenceError(error, 'protocol')) throw new Error(`expected a protocol refusal, got ${String(error)}`);
  return error.problem;
};

/** A decoy run for a credential the Registrar does not know (another Registree id), up to its challenge. */
const unknownCredentialRun = async (kind: CredentialKind): Promise<{ world: HandshakeWorld; hello: AssociationHello; challenge: AssociationChallenge }> => {
  const world = await handshakeWorld({ kind, seed: `stand-in-${kind}` });
  const hello = { ...(await world.registree.start({ lifetimeSeconds: 600 })).hello, registreeId: 'CSE-MN-8' };
  return { world, hello, challenge: await world.registrar.acceptHello(hello) };
};

beforeEach(() => {
  verifySignature.mockClear();
});

describe('the finish of a decoy run for a credential the Registrar does not know', () => {
  it.each(['ed25519', 'p256'] as const)('%s: verifies the proof once, against a stand-in public key, and is refused as a failed proof', async (kind) => {
    // Given a decoy run for an unknown credential
    const { world, hello, challenge } = await unknownCredentialRun(kind);
    const { unsigned } = finishInput(hello, challenge);
    const finish = { ...unsigned, proof: toBase64url(seededRandom('any-proof')(64)), keyConfirmation: toBase64url(seededRandom('kc')(32)) };
    verifySignature.mockClear();
    // When its finish arrives
    const answer = await told(() => world.registrar.acceptFinish(finish));
    // Then the proof was checked as a real finish checks one, against a valid public key of the claimed kind
    expect(verifySignature).toHaveBeenCalledTimes(1);
    const [calledKind, publicKey] = verifySignature.mock.calls[0]!;
    expect(calledKind).toBe(kind);
    expect(signatures.isValidSigningPublicKey(kind, publicKey)).toBe(true);
    // and it is refused as a failed proof
    expect(answer).toMatchObject({ step: 'association.finish', reason: 'bad_signature' });
  });

  it.each(['ed25519', 'p256'] as const)('%s: a proof made with the stand-in\'s own secret still gets the failed-proof answer', async (kind) => {
    const { world, hello, challenge } = await unknownCredentialRun(kind);
    const { unsigned, input } = finishInput(hello, challenge);
    const secret = sha256(new TextEncoder().encode(`credence association decoy stand-in ${kind}`));
    const verifier = standInVerifier(kind, undefined);
    expect(verifier).toEqual({ kind, publicKey: signatures.signingPublicKey(kind, secret) });
    const finish = { ...unsigned, proof: toBase64url(signatures.sign(kind, secret, input)), keyConfirmation: toBase64url(seededRandom('kc')(32)) };
    expect(await told(() => world.registrar.acceptFinish(finish))).toMatchObject({ step: 'association.finish', reason: 'bad_signature' });
  });

  it('psk256: checks the MAC under the decoy\'s random key once, and is refused as a failed proof', async () => {
    const { world, hello, challenge } = await unknownCredentialRun('psk256');
    const { unsigned } = finishInput(hello, challenge);
    const finish = { ...unsigned, proof: toBase64url(seededRandom('any-proof')(32)), keyConfirmation: toBase64url(seededRandom('kc')(32)) };
    const checked: string[] = [];
    const verifyMac = world.registrarSe.verifyMac.bind(world.registrarSe);
    world.registrarSe.verifyMac = async (owner, handle, data, tag) => {
      checked.push(handle);
      return verifyMac(owner, handle, data, tag);
    };
    const answer = await told(() => world.registrar.acceptFinish(finish));
    expect(checked).toHaveLength(1);
    expect(checked[0]).not.toBe(world.registrarHandle);
    expect(answer).toMatchObject({ step: 'association.finish', reason: 'bad_mac' });
    // A failed proof leaves the run going, a decoy run's as a real one's (review 238).
    expect(world.registrar.sessionCount).toBe(1);
  });
});
