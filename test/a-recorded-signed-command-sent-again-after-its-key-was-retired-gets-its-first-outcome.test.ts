import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock, MINUTE } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { requestVerifier, signCommand } from '../domain/signing/index.ts';
import { cmd, footprint, operator, T0 } from './support/fleet.ts';

/**
 * Review 182: the engine looked for an earlier recording of a signed command only once its signature's `expiresAt`
 * had passed. Within the lifetime, a repeat of a recorded command (same id, same signature) after its key was retired
 * in the policy was refused `bad_signature … was retired at …`, though it was recorded (README: "a second send returns
 * the first outcome"), and a client that re-signed it under a new id recorded it twice. Any signature refusal now
 * looks for that very signature recorded under the command id, expired or not.
 */
const AUDIENCE = 'credence:city-utilities';
const alice = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const key = { actorId: operator.id, roles: ['operator' as const], algorithm: 'ed25519' as const, publicKey: toBase64url(alice.publicKey) };
const policy = (retiredAt?: string) => ({
  audience: AUDIENCE,
  require: 'all' as const,
  maxLifetimeSeconds: 300,
  clockSkewSeconds: 60,
  keys: [retiredAt === undefined ? key : { ...key, retiredAt }],
});

type Input = { type: string; data: unknown; metadata: Record<string, unknown> };
const withId = <C extends Input>(c: C, commandId: string = crypto.randomUUID()): C => ({ ...c, metadata: { ...c.metadata, commandId } });
const signedAt = <C extends Input>(c: C, issuedAt: Date) =>
  signCommand(c, { algorithm: 'ed25519', secretKey: alice.secretKey }, { audience: AUDIENCE, issuedAt, lifetimeSeconds: 300 });
const refusal = async (promise: Promise<unknown>) => promise.then(() => undefined, (e: unknown) => e);

describe('a recorded signed command sent again after its key was retired gets its first outcome', () => {
  it('answers the repeat within its lifetime with the first outcome, and refuses any other command of the retired key', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const engine = createEngine({ store, clock, verifyRequest: requestVerifier(policy()) });
    await engine.execute(signedAt(withId(cmd.createSubscription()), clock.now()));
    const signed = signedAt(withId(cmd.registerNode('meter-1')), clock.now());
    const first = await engine.execute(signed);
    expect(first.deduplicated).toBe(false);

    // The key is retired a minute later (a rotation); the client, its answer lost, sends the very same request within
    // its lifetime, to an engine under the new policy.
    clock.advance(2 * MINUTE);
    const retiredAt = new Date(Date.parse(T0) + MINUTE).toISOString();
    const rotated = createEngine({ store, clock, verifyRequest: requestVerifier(policy(retiredAt)) });
    const before = await footprint(store);
    const again = await rotated.execute(signed);
    expect(again.deduplicated).toBe(true);
    expect(again.events.map((e) => e.position)).toEqual(first.events.map((e) => e.position));
    expect(await footprint(store)).toEqual(before);

    // Not the same signature, or not recorded: the retired key signs nothing now.
    const resigned = signedAt(withId(cmd.registerNode('meter-1'), signed.metadata.commandId), clock.now());
    const refusedResigned = await refusal(rotated.execute(resigned));
    expect(isCredenceError(refusedResigned, 'bad_signature') && /was retired at/.test(String(refusedResigned)), String(refusedResigned)).toBe(true);
    const refusedNew = await refusal(rotated.execute(signedAt(withId(cmd.registerNode('meter-2')), clock.now())));
    expect(isCredenceError(refusedNew, 'bad_signature') && /was retired at/.test(String(refusedNew)), String(refusedNew)).toBe(true);
    // The same signature over other data under the recorded id does not verify.
    const changed = await refusal(rotated.execute({ ...signed, data: { ...signed.data, nodeId: 'meter-2' } }));
    expect(isCredenceError(changed, 'bad_signature'), String(changed)).toBe(true);
    expect(await footprint(store)).toEqual(before);
  });

  it('refuses the repeat when the key was retired before the command was recorded (as known compromised since)', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const engine = createEngine({ store, clock, verifyRequest: requestVerifier(policy()) });
    await engine.execute(signedAt(withId(cmd.createSubscription()), clock.now()));
    clock.advance(MINUTE);
    const signed = signedAt(withId(cmd.registerNode('meter-1')), clock.now());
    await engine.execute(signed);
    const before = await footprint(store);

    const compromised = createEngine({ store, clock, verifyRequest: requestVerifier(policy(T0)) });
    const error = await refusal(compromised.execute(signed));
    expect(isCredenceError(error, 'bad_signature') && /was retired at/.test(String(error)), String(error)).toBe(true);
    expect(await footprint(store)).toEqual(before);
  });
});
