import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { RequestSigningPolicy, requestVerifier, signCommand } from '../domain/signing/index.ts';
import { cmd, footprint, operator, T0 } from './support/fleet.ts';
import { AUDIENCE, recordSignedAndAltered } from './support/signed-fleet.ts';

const alice = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const mallory = generateSigningKey('p256', (n) => new Uint8Array(randomBytes(n)));

const setup = (require: RequestSigningPolicy['require'] = 'all') => {
  const store = openSqliteStore({ memory: true });
  const policy = RequestSigningPolicy.parse({
    audience: AUDIENCE,
    require,
    keys: [
      { actorId: operator.id, roles: ['operator'], algorithm: 'ed25519', publicKey: toBase64url(alice.publicKey) },
      { actorId: 'operator:mallory', roles: ['operator'], algorithm: 'p256-ecdsa-sha256', publicKey: toBase64url(mallory.publicKey) },
    ],
  });
  return { store, engine: createEngine({ store, clock: new FakeClock(T0), verifyRequest: requestVerifier(policy) }) };
};

const withId = <C extends { metadata: Record<string, unknown> }>(c: C): C => ({ ...c, metadata: { ...c.metadata, commandId: crypto.randomUUID() } });
const signed = <C extends { type: string; data: unknown; metadata: Record<string, unknown> }>(c: C, key = alice, algorithm: 'ed25519' | 'p256-ecdsa-sha256' = 'ed25519') =>
  signCommand(withId(c), { algorithm, secretKey: key.secretKey }, { audience: AUDIENCE, issuedAt: new Date(T0), lifetimeSeconds: 300 });

const rejected = async (promise: Promise<unknown>) => {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(isCredenceError(error, 'bad_signature'), String(error)).toBe(true);
  return error as { message: string };
};

describe('signed requests (SER-016 non-repudiation)', () => {
  it('a command signed over its RFC 8785 form is accepted and the signature is recorded in the event metadata', async () => {
    const { engine } = setup();
    const request = signed(cmd.createSubscription());
    const outcome = await engine.execute(request);
    expect(outcome.events[0]?.metadata['signature']).toEqual(request.metadata.signature);
    expect(request.metadata.signature).toMatchObject({ version: 2, algorithm: 'ed25519', keyFingerprint: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), audience: AUDIENCE });
  });

  it('rejects, writing nothing: a flipped signature byte, altered data, a missing signature, an unknown key, another actor\'s key', async () => {
    const { engine, store } = setup();
    await engine.execute(signed(cmd.createSubscription()));
    const before = await footprint(store);

    const good = signed(cmd.registerNode());
    const sig = good.metadata.signature!;
    const flipped = sig.value.startsWith('A') ? `B${sig.value.slice(1)}` : `A${sig.value.slice(1)}`;
    await rejected(engine.execute({ ...good, metadata: { ...good.metadata, signature: { ...sig, value: flipped } } }));
    await rejected(engine.execute({ ...good, data: { ...good.data, nodeId: 'meter-666' } }));
    const missing = await rejected(engine.execute(withId(cmd.registerNode())));
    expect(missing.message).toContain('registerNode must be signed by operator:alice');
    const stranger = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
    const unknown = await rejected(engine.execute(signed(cmd.registerNode(), stranger)));
    expect(unknown.message).toContain('is not registered');
    // Mallory's registered key cannot sign for Alice.
    const impersonation = await rejected(engine.execute(signed(cmd.registerNode(), mallory, 'p256-ecdsa-sha256')));
    expect(impersonation.message).toContain('registered for operator:mallory');
    // A signature lifted onto the same command under a new command id does not verify.
    await rejected(engine.execute({ ...good, metadata: { ...good.metadata, commandId: crypto.randomUUID() } }));

    expect(await footprint(store)).toEqual(before);
  });

  it('a policy naming commands requires signatures only for those', async () => {
    const { engine } = setup(['revokeCredential']);
    await engine.execute(cmd.createSubscription());
    await engine.execute(cmd.registerNode());
    const error = await engine.execute(withId(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }))).then(() => 'ok');
    expect(error).toBe('ok');
    await rejected(engine.execute(withId(cmd.revokeCredential())));
  });
});

describe('stored request signatures, re-checked by the audit trail', () => {
  it('records verified for a good signature and invalid for one altered in the store', async () => {
    const { openCredence } = await import('../adapters/runtime/index.ts');
    const { timeline } = await import('../projections/audit/index.ts');
    const policy = { audience: AUDIENCE, require: 'all' as const, keys: [{ actorId: operator.id, roles: ['operator' as const], algorithm: 'ed25519' as const, publicKey: toBase64url(alice.publicKey) }] };
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0), signing: policy });
    await recordSignedAndAltered(c, alice.secretKey);
    await c.settle();
    expect(timeline(c.readModels, 'subscription-sub-1').map((e) => e.signature.status)).toEqual(['verified']);
    expect(timeline(c.readModels, 'subscription-sub-2').map((e) => e.signature.status)).toEqual(['invalid']);
    await c.close();
  });
});
