import { signaturesFailure } from '../bin/commands/verify-signatures.ts';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { requestVerifier, type RequestSigningPolicyInput } from '../domain/signing/index.ts';
import { capture } from './support/cli.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { AUDIENCE, recordSignedAndAltered } from './support/signed-fleet.ts';
import { tempDirs } from './transparency-fixtures.ts';

/*
 * Review 387: `credence verify FILE.json` never re-checked the request signatures (SER-016) its events carry, where the
 * console does against a pasted signing policy. With --signing FILE (the policy, read as the service reads it) it
 * judges each event's stored signature as the console does, names every one that is not `verified`, and fails (1) on
 * an `invalid` one.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const alice = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const policy: RequestSigningPolicyInput = {
  audience: AUDIENCE,
  require: 'none',
  keys: [{ actorId: operator.id, roles: ['operator'], algorithm: 'ed25519', publicKey: toBase64url(alice.publicKey) }],
};

/** sub-1 signed by alice, sub-2 the same metadata on altered data, sub-3 unsigned; each exported as a bundle. */
const exported = async () => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  const engine = createEngine({ store, clock: new FakeClock(T0), verifyRequest: requestVerifier(policy) });
  await recordSignedAndAltered({ engine, store }, alice.secretKey);
  const unsigned = cmd.createSubscription();
  await engine.execute({ ...unsigned, data: { ...unsigned.data, subscriptionId: 'sub-3' } });
  await store.close();
  const out = dirs.make();
  const bundles: Record<string, string> = {};
  for (const sub of ['sub-1', 'sub-2', 'sub-3']) {
    const file = join(out, `${sub}.json`);
    const c = capture();
    expect(await exportCommand([`subscription-${sub}`, '--out', file, '--data', dir], c.io), c.err.join('\n')).toBe(0);
    bundles[sub] = file;
  }
  const signing = join(out, 'signing.json');
  writeFileSync(signing, JSON.stringify(policy), { mode: 0o600 });
  return { bundles, pub: join(dir, 'transparency.pub'), signing };
};

const verify = async (args: string[]) => {
  const c = capture();
  const code = await verifyCommand(args, c.io);
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

describe('credence verify FILE.json --signing FILE judges its request signatures (SER-016)', () => {
  it('a genuinely signed event verifies, an altered one is invalid naming why (exit 1), an unsigned one is said', async () => {
    const { bundles, pub, signing } = await exported();

    const genuine = await verify([bundles['sub-1']!, '--key', pub, '--signing', signing]);
    expect(genuine.code, genuine.err).toBe(0);
    expect(genuine.out).toContain('request signatures');
    expect(`${genuine.out}${genuine.err}`).not.toContain('invalid');

    const altered = await verify([bundles['sub-2']!, '--key', pub, '--signing', signing]);
    expect(altered.code).toBe(1);
    expect(`${altered.out}\n${altered.err}`).toMatch(/SubscriptionCreated.*invalid \(does_not_verify\)/);

    const unsigned = await verify([bundles['sub-3']!, '--key', pub, '--signing', signing]);
    expect(unsigned.code, unsigned.err).toBe(0);
    expect(unsigned.out).toMatch(/SubscriptionCreated.*unsigned/);

    // Without --signing, nothing is judged: the altered bundle is still the log's record of what was asked.
    expect((await verify([bundles['sub-2']!, '--key', pub])).code).toBe(0);
  });

  it('--json carries each judgement, and --signing goes with a bundle only', async () => {
    const { bundles, pub, signing } = await exported();
    const altered = await verify([bundles['sub-2']!, '--key', pub, '--signing', signing, '--json']);
    expect(altered.code).toBe(1);
    const doc = JSON.parse(altered.out) as { ok: boolean; signatures: { status: string; reason?: string }[] };
    expect(doc.signatures).toEqual([expect.objectContaining({ status: 'invalid', reason: 'does_not_verify' })]);
    // Its ok says the verdict the exit code gives (review 390: ok: true beside exit 1).
    expect(doc).toMatchObject({ ok: false, reason: 'signature_invalid' });
    const genuine = JSON.parse((await verify([bundles['sub-1']!, '--key', pub, '--signing', signing, '--json'])).out) as { ok: boolean };
    expect(genuine.ok).toBe(true);
    const misplaced = await verify(['--data', dirs.make(), '--signing', signing]);
    expect(misplaced.code).toBe(2);
    expect(misplaced.err).toContain('signing');
  });
});

describe('signaturesFailure', () => {
  it('fails on an invalid signature, and on an event this version could not read (review 390), not on unsigned ones', () => {
    const base = { position: '1', type: 'NodeRegistered', actor: 'operator:alice' };
    expect(signaturesFailure([{ ...base, status: 'verified' }, { ...base, status: 'unsigned' }])).toBeUndefined();
    expect(signaturesFailure([{ ...base, status: 'invalid', reason: 'does_not_verify' }])?.reason).toBe('signature_invalid');
    expect(signaturesFailure([{ ...base, status: 'verified' }, { ...base, status: 'unreadable', detail: 'a newer type' }])?.reason).toBe('signature_unjudged');
  });
});
