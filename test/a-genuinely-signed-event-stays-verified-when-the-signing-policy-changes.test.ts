/**
 * Review 145, finding 1: the audit trail is rebuilt when the signing policy changes, and every stored signature was
 * judged again by today's policy: a key removed in a routine rotation, or a smaller maxLifetimeSeconds or
 * clockSkewSeconds, turned genuinely signed history `invalid`, a forgery's word. Now a rotation retires the old key
 * (`retiredAt`: nothing new signed by it is accepted, what it signed before stays verified), and a stored request is
 * held to the maxima any policy allows, not to today's freshness settings: admission already judged it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock, MINUTE } from '../adapters/driven/clock/index.ts';
import { openReadModels } from '../adapters/driven/readmodels/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { signCommand, storedSignatureCheck, type RequestSigningPolicyInput } from '../domain/signing/index.ts';
import { decodeStored } from '../domain/stored.ts';
import { timeline } from '../projections/audit/index.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { AUDIENCE } from './support/signed-fleet.ts';

const alice = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const bob = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const keyOf = (publicKey: Uint8Array) => ({ actorId: operator.id, roles: ['operator' as const], algorithm: 'ed25519' as const, publicKey: toBase64url(publicKey) });

/** The policy Alice's request was admitted under: a lifetime of 300 s, 60 s of clock skew. */
const before: RequestSigningPolicyInput = { audience: AUDIENCE, require: 'all', maxLifetimeSeconds: 300, clockSkewSeconds: 60, keys: [keyOf(alice.publicKey)] };
const RETIRED_AT = new Date(Date.parse(T0) + 60 * MINUTE);
/** A rotation done as documented (Bob's key added, Alice's retired), with stricter freshness settings. */
const after: RequestSigningPolicyInput = {
  ...before,
  maxLifetimeSeconds: 60,
  clockSkewSeconds: 0,
  keys: [{ ...keyOf(alice.publicKey), retiredAt: RETIRED_AT.toISOString() }, keyOf(bob.publicKey)],
};

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const signed = (request: ReturnType<typeof cmd.createSubscription>, secretKey: Uint8Array, issuedAt: Date, lifetimeSeconds: number) =>
  signCommand({ ...request, metadata: { ...request.metadata, commandId: crypto.randomUUID() } }, { algorithm: 'ed25519', secretKey }, { audience: AUDIENCE, issuedAt, lifetimeSeconds });

const statusOf = (dir: string, stream: string): string[] => {
  const db = openReadModels({ dir });
  try {
    return timeline(db, stream).map((e) => e.signature.status);
  } finally {
    db.close();
  }
};

describe('a genuinely signed event stays verified when the signing policy changes (review 145)', () => {
  it('after a key rotation with retiredAt and a shorter lifetime and clock skew, the rebuilt audit trail still says verified', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-policy-change-'));
    dirs.push(dir);
    const clock = new FakeClock(T0);
    const first = openCredence({ location: { dir }, clock, signing: before, onReadModelRulesChanged: 'rebuild' });
    // Signed on a clock 30 s ahead of the engine's and valid for 300 s: within the policy of its day, not today's.
    await first.engine.execute(signed(cmd.createSubscription(), alice.secretKey, new Date(Date.parse(T0) + 30_000), 300));
    await first.settle();
    await first.close();
    expect(statusOf(dir, 'subscription-sub-1')).toEqual(['verified']);

    // The service restarted under the new policy rebuilds the audit trail under it.
    clock.set(new Date(RETIRED_AT.getTime() + MINUTE));
    const second = openCredence({ location: { dir }, clock, signing: after, onReadModelRulesChanged: 'rebuild' });
    expect((await second.runner.checkRules()).map((c) => c.name)).toEqual(['audit']);
    await second.settle();
    expect(statusOf(dir, 'subscription-sub-1')).toEqual(['verified']);

    // Retired, Alice's key signs nothing new, and the refusal says which key and since when.
    const refused = await second.engine
      .execute(signed(cmd.createSubscription('sub-2'), alice.secretKey, clock.now(), 60))
      .then(() => undefined, (e: unknown) => e);
    expect(isCredenceError(refused, 'bad_signature'), String(refused)).toBe(true);
    expect(String(refused)).toContain(`of ${operator.id} was retired at ${RETIRED_AT.toISOString()}`);
    // Bob's key, added by the rotation, does.
    await second.engine.execute(signed(cmd.createSubscription('sub-3'), bob.secretKey, clock.now(), 60));
    await second.settle();
    expect(statusOf(dir, 'subscription-sub-3')).toEqual(['verified']);

    // Retirement is no blanket pass: an event Alice's key signed at or after its retiredAt is not verified.
    const [stored] = await second.store.readStream('subscription-sub-1');
    const decoded = decodeStored(stored!);
    if (!decoded.ok) throw new Error(decoded.reason);
    const retiredThen = { ...after, keys: [{ ...keyOf(alice.publicKey), retiredAt: decoded.value.metadata.occurredAt }] };
    expect(storedSignatureCheck(retiredThen)(decoded.value)).toBe('invalid');
    expect(storedSignatureCheck(after)(decoded.value)).toBe('verified');
    await second.close();
  });
});
