import { afterEach, describe, expect, it } from 'vitest';
import { createAccessControl } from '../adapters/http/auth/access-control.ts';
import { ACCESS_OWNER } from '../adapters/http/auth/open-access-control.ts';
import { openSigningKeys } from '../adapters/http/auth/signing-keys.ts';
import { FakeClock, openAccessRegistry, systemRandom, type AccessRegistry } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { memorySecureEnvironment } from './crypto-fixtures.ts';
import { refusingDestroy } from './support/refusing-destroy.ts';

/*
 * Review 53 findings 4, 5 and 6 on the API token signing keys: the first key was made and then claimed in access.db with
 * no cleanup when the claim failed; a rotation whose record failed dropped the new key when the Secure Environment
 * refused to destroy it; and a `--withdraw` rotation whose destroy of the withdrawn key failed answered a failure after
 * the rotation was committed (an operator retrying rotated twice).
 */
const HOUR_S = 3_600;
const opened: AccessRegistry[] = [];
afterEach(() => {
  for (const r of opened.splice(0)) r.close();
});

const world = () => {
  const clock = new FakeClock('2026-12-01T00:00:00Z');
  const raw = memorySecureEnvironment('access-keys-named', () => clock.now());
  const se = refusingDestroy(ownerView(raw, ACCESS_OWNER));
  const registry = openAccessRegistry({ memory: true });
  opened.push(registry);
  return { clock, se, registry };
};

/** `registry` whose `method` throws (a full disk, a busy database), the rest as it is. */
const failing = (registry: AccessRegistry, method: 'claimSigningKey' | 'rotateSigningKey'): AccessRegistry =>
  ({
    ...Object.fromEntries(Object.entries(registry)),
    [method]: () => {
      throw new Error(`access.db: ${method} failed (simulated)`);
    },
  }) as AccessRegistry;

describe('the API token signing keys leave no key in the Secure Environment named by nothing', () => {
  it('destroys the first key when access.db cannot record it', async () => {
    const w = world();
    await expect(openSigningKeys(w.se.se, failing(w.registry, 'claimSigningKey'), w.clock)).rejects.toThrow(/claimSigningKey failed/);
    expect(w.se.made).toHaveLength(1);
    expect(await w.se.held(w.se.made[0]!)).toBe(false);
  });

  it('names the first key in the error when access.db cannot record it and the Secure Environment will not destroy it', async () => {
    const w = world();
    w.se.refuse();
    const error = await openSigningKeys(w.se.se, failing(w.registry, 'claimSigningKey'), w.clock).catch((e: unknown) => e);
    const [created] = w.se.made;
    expect(await w.se.held(created!)).toBe(true);
    expect(error).toBeInstanceOf(AggregateError);
    expect((error as Error).message).toContain('claimSigningKey failed');
    expect((error as Error).message).toContain(`the new API token signing key ${created} is left in the Secure Environment`);
    expect((error as AggregateError).errors.map(String).join(' ')).toContain('CKR_DEVICE_ERROR');
  });

  it('names a rotation key in the error when access.db cannot record the rotation and the Secure Environment will not destroy it', async () => {
    const w = world();
    const keys = await openSigningKeys(w.se.se, failing(w.registry, 'rotateSigningKey'), w.clock);
    w.se.refuse();
    const error = await keys.rotate('cli:ops', { withdrawPrevious: false }).catch((e: unknown) => e);
    const created = w.se.made.at(-1)!;
    expect(w.se.made).toHaveLength(2);
    expect(await w.se.held(created)).toBe(true);
    expect((error as Error).message).toContain('rotateSigningKey failed');
    expect((error as Error).message).toContain(`the new API token signing key ${created} is left in the Secure Environment`);
  });

  it('answers a withdrawing rotation whose destroy failed with the withdrawn key retired, and a later prune destroys it', async () => {
    const w = world();
    const access = await createAccessControl({
      se: w.se.se,
      registry: w.registry,
      clock: w.clock,
      random: systemRandom,
      issuer: 'credence',
      audience: 'credence-api',
      maxTtlSeconds: 24 * HOUR_S,
      maxActivePerSubject: 10,
    });
    const issued = await access.issue({ subject: 'alice', role: 'admin', ttlSeconds: HOUR_S, issuedBy: 'test' });
    const withdrawn = w.registry.currentSigningKey()!;
    w.se.refuse();

    const rotated = await access.rotateSigningKey('cli:ops', { withdrawPrevious: true });
    // Committed, and said so: the token is revoked, the new key signs, the withdrawn key is retired, not a failure.
    expect(rotated.revoked).toEqual([issued.tokenId]);
    expect(rotated.previous).toEqual([{ kid: expect.any(String), state: 'retired', liveTokens: 0 }]);
    expect(w.registry.currentSigningKey()).not.toBe(withdrawn);
    expect(w.registry.signingKeys().map((k) => ({ handle: k.handle, retired: k.retiredAt !== undefined }))).toContainEqual({ handle: withdrawn, retired: true });
    expect(await w.se.held(withdrawn)).toBe(true);
    await expect(access.verify(issued.token)).rejects.toMatchObject({ problem: { code: 'unauthorised', reason: 'revoked' } });

    // The Secure Environment answers again: the next prune (a service start, the next token command) destroys it.
    w.se.refuse(false);
    const keys = await openSigningKeys(w.se.se, w.registry, w.clock);
    expect(await keys.prune()).toEqual([rotated.previous[0]!.kid]);
    expect(await w.se.held(withdrawn)).toBe(false);
    expect(w.registry.signingKeys().map((k) => k.handle)).not.toContain(withdrawn);
  });
});
