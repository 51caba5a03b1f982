/**
 * Review 64 F2: a PSK-mode hello for a credential whose key the responder does not hold (a node never recorded, a
 * revoked one whose PSK was shredded, an unknown association) got a decoy challenge MACed under a random key made
 * for that run (one more Secure Environment `generate`, then a `destroy`), where a real run makes none: the decoy
 * hello took measurably longer (some 0.5 ms against 0.6 ms), telling a stranger what became of an id. Every such
 * decoy now uses the one stand-in PSK of the Secure Environment view (adapters/protocols/shared/stand-in-psk.ts),
 * made at the first: after it, a decoy hello and its finish make the same Secure Environment calls as a real one's.
 * Structural, not timed. The stand-in authenticates nothing: a finish proved with it is still a failed proof.
 */
import { describe, expect, it } from 'vitest';
import { proofInput, Transcript, withoutFields } from '../domain/crypto/transcript.ts';
import type { AssociationChallenge, AssociationHello } from '../domain/protocols/association-messages.ts';
import type { KeyHandle, SecureEnvironment } from '../domain/ports/secure-environment.ts';
import { handshakeWorld, REGISTRAR_OWNER, REGISTREE_OWNER, type HandshakeWorld } from './handshake.fixtures.ts';
import { EF_OWNER, provisioningWorld } from './provisioning-protocol.fixtures.ts';
import { seededRandom, toBase64url } from './crypto-fixtures.ts';
import { keysMadeBy } from './support/keys-made.ts';
import { shape, told } from './support/protocol-answers.ts';

const PORT_CALLS = ['generate', 'describe', 'sign', 'agree', 'deriveKey', 'mac', 'macMany', 'verifyMac', 'seal', 'open', 'wrap', 'unwrap', 'destroy', 'listKeys'] as const;

/**
 * Counts the calls `se` answers from now on, by method (and, for `generate`, by the kind and options of the key):
 * wraps this one instance. `during(run)` answers the counts of what `run` called.
 */
const callsOf = (se: SecureEnvironment) => {
  let counts: Record<string, number> = {};
  const methods = se as unknown as Record<string, ((...args: unknown[]) => Promise<unknown>) | undefined>;
  for (const call of PORT_CALLS) {
    const original = methods[call]?.bind(se);
    if (original === undefined) continue;
    methods[call] = async (...args: unknown[]) => {
      const label = call === 'generate' ? `generate ${String(args[1])} ${JSON.stringify(args[2] ?? {})}` : call;
      counts[label] = (counts[label] ?? 0) + 1;
      return original(...args);
    };
  }
  return async (run: () => Promise<unknown>): Promise<Record<string, number>> => {
    counts = {};
    await run().catch(() => undefined);
    return counts;
  };
};

/** A finish for `challenge` whose proof is a MAC under `mac` (a stranger's key, or the Registrar's stand-in itself). */
const finishMacedWith = async (mac: (input: Uint8Array) => Promise<Uint8Array>, hello: AssociationHello, challenge: AssociationChallenge) => {
  const transcript = new Transcript('association');
  transcript.absorb(hello.type, hello);
  transcript.absorb(challenge.type, withoutFields(challenge, 'proof'));
  const unsigned = { type: 'association.finish' as const, version: 2 as const, sessionId: challenge.sessionId, registrarNonce: challenge.registrarNonce };
  const input = proofInput('association', 'registree', 'finish', transcript.absorb(unsigned.type, unsigned));
  return { ...unsigned, proof: toBase64url(await mac(input)), keyConfirmation: toBase64url(seededRandom('any-key-confirmation')(32)) };
};

/** A MAC under a PSK of the Registree's the Registrar has never seen. */
const strangersMac = async (world: HandshakeWorld) => {
  const handle = await world.registreeSe.generate(REGISTREE_OWNER, 'psk256');
  return (input: Uint8Array) => world.registreeSe.mac(REGISTREE_OWNER, handle, input);
};

describe('a PSK-mode decoy hello, after the first, makes the Secure Environment calls a real hello makes', () => {
  it('provisioning: a hello naming a node never recorded, against a real one', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'psk256', seed: 'decoy-calls' });
    const during = callsOf(world.efSe);
    const helloOf = async (nodeId?: string) => {
      const { hello } = await world.client.start({ credentialKind: 'psk256' });
      return nodeId === undefined ? hello : { ...hello, nodeId };
    };
    // Given a first decoy (it makes the stand-in PSK)
    const first = await helloOf('node-9990');
    await world.ef.acceptHello(first);
    // When a real hello and a decoy hello are answered
    const real = await helloOf();
    const decoy = await helloOf('node-9999');
    const realCalls = await during(() => world.ef.acceptHello(real));
    const decoyCalls = await during(() => world.ef.acceptHello(decoy));
    // Then they made the same calls, of each kind, as many times
    expect(realCalls.mac).toBe(1);
    expect(decoyCalls).toEqual(realCalls);
  });

  it('association: a hello and a stranger\'s finish for an unknown Registree, against a real run\'s', async () => {
    const world = await handshakeWorld({ kind: 'psk256', seed: 'decoy-calls' });
    const during = callsOf(world.registrarSe);
    const mac = await strangersMac(world);
    const helloOf = async (registreeId?: string) => {
      const { hello } = await world.registree.start({ lifetimeSeconds: 600 });
      return registreeId === undefined ? hello : { ...hello, registreeId };
    };
    await world.registrar.acceptHello(await helloOf('CSE-MN-1'));
    const run = async (hello: AssociationHello) => {
      let challenge: AssociationChallenge | undefined;
      const atHello = await during(async () => (challenge = await world.registrar.acceptHello(hello)));
      const finish = await finishMacedWith(mac, hello, challenge!);
      const atFinish = await during(() => world.registrar.acceptFinish(finish));
      return { atHello, atFinish };
    };
    const real = await run(await helloOf());
    const decoy = await run(await helloOf('CSE-MN-8'));
    expect(real.atHello.mac).toBe(1);
    expect(real.atFinish.verifyMac).toBe(1);
    expect(decoy).toEqual(real);
  });
});

describe('the stand-in PSK of PSK-mode decoys', () => {
  it('is one key per Secure Environment view, however many decoys (concurrent first ones too), and proves nothing', async () => {
    const world = await handshakeWorld({ kind: 'psk256', seed: 'stand-in-one' });
    const made = keysMadeBy(world.registrarSe, ['generate']);
    const psks = async () => (await Promise.all(made.map(async (h) => ((await world.registrarSe.describe(REGISTRAR_OWNER, h).catch(() => undefined))?.kind === 'psk256' ? h : undefined)))).filter(Boolean);
    const hellos = await Promise.all(['CSE-MN-1', 'CSE-MN-2', 'CSE-MN-3'].map(async (registreeId) => ({ ...(await world.registree.start({ lifetimeSeconds: 600 })).hello, registreeId })));
    const challenges = await Promise.all(hellos.map((hello) => world.registrar.acceptHello(hello)));
    expect(await psks()).toHaveLength(1);
    const standIn = (await psks())[0] as KeyHandle;
    // A finish proved with the stand-in itself (as none but this Secure Environment could) is a failed proof still
    const withStandIn = await finishMacedWith((input) => world.registrarSe.mac(REGISTRAR_OWNER, standIn, input), hellos[0]!, challenges[0]!);
    const answer = await told(() => world.registrar.acceptFinish(withStandIn));
    expect(answer.problem).toMatchObject({ step: 'association.finish', reason: 'bad_mac' });
    expect(answer.message).not.toContain(standIn);
  });

  it('lost while a decoy run waits: its finish is the failed proof a real one gets, and the next decoy makes a new one at once', async () => {
    const world = await handshakeWorld({ kind: 'psk256', seed: 'stand-in-lost-at-finish' });
    const made = keysMadeBy(world.registrarSe, ['generate']);
    const during = callsOf(world.registrarSe);
    const mac = await strangersMac(world);
    const helloOf = async (registreeId?: string) => {
      const { hello } = await world.registree.start({ lifetimeSeconds: 600 });
      return registreeId === undefined ? hello : { ...hello, registreeId };
    };
    const realHello = await helloOf();
    const realFinish = await finishMacedWith(mac, realHello, await world.registrar.acceptHello(realHello));
    const failedProof = await told(() => world.registrar.acceptFinish(realFinish));
    const decoyHello = await helloOf('CSE-MN-8');
    const challenge = await world.registrar.acceptHello(decoyHello);
    const standIn = made.at(-2)!;
    expect((await world.registrarSe.describe(REGISTRAR_OWNER, standIn)).kind).toBe('psk256');
    // Given the stand-in destroyed while the decoy run waits for its finish
    await world.registrarSe.destroy(REGISTRAR_OWNER, standIn);
    // When a stranger finishes it, Then it gets the failed proof a real run's stranger gets, word for word
    expect(await told(async () => world.registrar.acceptFinish(await finishMacedWith(mac, decoyHello, challenge)))).toEqual(failedProof);
    // and the next decoy hello makes a new stand-in and MACs once, with no failed attempt under the lost one
    const next = await helloOf('CSE-MN-9');
    const calls = await during(() => world.registrar.acceptHello(next));
    expect(calls.mac).toBe(1);
    expect(calls['generate psk256 {"ephemeral":true}']).toBe(1);
  });

  it('is made again when the Secure Environment has lost it, and the decoy answers as before', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'psk256', seed: 'stand-in-lost' });
    const made = keysMadeBy(world.efSe, ['generate']);
    const psksMade = async () => (await Promise.all(made.map(async (h) => ((await world.efSe.describe(EF_OWNER, h).catch(() => undefined))?.kind === 'psk256' ? h : undefined)))).filter(Boolean);
    const hello = async (nodeId: string) => ({ ...(await world.client.start({ credentialKind: 'psk256' })).hello, nodeId });
    const before = await world.ef.acceptHello(await hello('node-9990'));
    const [standIn] = await psksMade();
    // Given the stand-in destroyed behind the Enrolment Function's back (an operator, a token that dropped it)
    await world.efSe.destroy(EF_OWNER, standIn!);
    // When another decoy hello comes, Then it is answered with a challenge shaped as before, under a new stand-in
    const after = await world.ef.acceptHello(await hello('node-9991'));
    expect(shape(after)).toEqual(shape(before));
    const renewed = await psksMade();
    expect(renewed).toHaveLength(1);
    expect(renewed[0]).not.toBe(standIn);
    // and the next decoy makes no other
    await world.ef.acceptHello(await hello('node-9992'));
    expect(await psksMade()).toEqual(renewed);
  });
});
