/**
 * Review 26 (Low): a request signature is valid over [issuedAt - skew, expiresAt + skew), its end exclusive as a
 * JWT's `exp`, a credential's and an association's are. The engine accepted one at exactly expiresAt + skew. An event
 * an engine accepted there before this fix stays `verified` when its stored signature is judged again.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock, SECOND } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { requestVerifier, signCommand, storedSignatureCheck, type RequestSigningPolicyInput } from '../domain/signing/index.ts';
import { decodeStored } from '../domain/stored.ts';
import { cmd, footprint, operator, T0 } from './support/fleet.ts';

const AUDIENCE = 'credence:city-utilities';
const alice = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const policyWithSkew = (clockSkewSeconds: number): RequestSigningPolicyInput => ({
  audience: AUDIENCE,
  require: 'all',
  maxLifetimeSeconds: 300,
  clockSkewSeconds,
  keys: [{ actorId: operator.id, roles: ['operator'], algorithm: 'ed25519', publicKey: toBase64url(alice.publicKey) }],
});

type Input = { type: string; data: unknown; metadata: Record<string, unknown> };
const signed = <C extends Input>(c: C, issuedAt: Date) =>
  signCommand({ ...c, metadata: { ...c.metadata, commandId: crypto.randomUUID() } }, { algorithm: 'ed25519', secretKey: alice.secretKey }, { audience: AUDIENCE, issuedAt, lifetimeSeconds: 60 });

const setup = (policy: RequestSigningPolicyInput | undefined) => {
  const store = openSqliteStore({ memory: true });
  const clock = new FakeClock(T0);
  return { store, clock, engine: createEngine({ store, clock, ...(policy === undefined ? {} : { verifyRequest: requestVerifier(policy) }) }) };
};

const refusal = async (promise: Promise<unknown>) => promise.then(() => undefined, (e: unknown) => e);

describe('a request signature is refused from expiresAt + skew on (review 26)', () => {
  for (const skew of [0, 60]) {
    it(`with a clock skew of ${skew} s: accepted its last millisecond before, refused at the instant, writing nothing`, async () => {
      // Given a command signed at T0 for 60 s
      const { engine, store, clock } = setup(policyWithSkew(skew));
      const issuedAt = clock.now();
      await engine.execute(signed(cmd.createSubscription(), issuedAt));
      const atExpiry = signed(cmd.registerNode('meter-1'), issuedAt);
      const justBefore = signed(cmd.registerNode('meter-2'), issuedAt);

      // When it arrives at exactly expiresAt + skew, Then it is refused as expired, and nothing is written
      clock.advance((60 + skew) * SECOND - 1);
      await engine.execute(justBefore);
      const before = await footprint(store);
      clock.advance(1);
      const error = await refusal(engine.execute(atExpiry));
      expect(isCredenceError(error, 'bad_signature'), String(error)).toBe(true);
      expect(String(error)).toMatch(/expired at 2026-01-01T00:01:00\.000Z/);
      expect(await footprint(store)).toEqual(before);
    });
  }

  it('keeps its start inclusive: accepted from issuedAt - skew, refused the millisecond before', async () => {
    const { engine, clock } = setup(policyWithSkew(60));
    const now = clock.now().getTime();
    await engine.execute(signed(cmd.createSubscription(), new Date(now)));
    const early = await refusal(engine.execute(signed(cmd.registerNode('meter-1'), new Date(now + 60 * SECOND + 1))));
    expect(isCredenceError(early, 'bad_signature') && /not yet valid/.test(String(early)), String(early)).toBe(true);
    await engine.execute(signed(cmd.registerNode('meter-1'), new Date(now + 60 * SECOND)));
  });

  it('an event an engine accepted at exactly expiresAt + skew (before this fix) is still verified when judged again', async () => {
    // Given an event stored at the instant its signature ends (an engine recording signatures unchecked stands in for
    // the engine before this fix)
    const { engine, store, clock } = setup(undefined);
    const command = signed(cmd.createSubscription(), clock.now());
    clock.advance(60 * SECOND);
    await engine.execute(command);
    const [record] = await store.readStream('subscription-sub-1');
    const event = decodeStored(record!);
    if (!event.ok) throw new Error(event.reason);
    expect(event.value.metadata.occurredAt).toBe('2026-01-01T00:01:00.000Z');

    // When its stored signature is judged again, Then it is verified
    expect(storedSignatureCheck(policyWithSkew(0))(event.value)).toBe('verified');
  });
});
