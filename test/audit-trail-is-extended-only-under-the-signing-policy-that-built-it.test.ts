/**
 * Adversarial review: the audit trail records each command's signature status by the signing policy its runner was
 * given, with INSERT OR IGNORE and a checkpoint. A `credence query --data DIR` without `--signing` caught it up with no
 * policy: events stored while nothing projected them (the service killed before its read models caught up) were
 * recorded `signed` instead of `invalid`, for good, since the service's later catch-up starts past them. The policy's
 * rules are now recorded with the read model: a reader given other rules is refused and writes nothing; the service
 * (openCredence with onReadModelRulesChanged: 'rebuild', as startService opens it) rebuilds the audit trail under its own.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openReadModels } from '../adapters/driven/readmodels/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { ExpectedRevision, type EventStore } from '../domain/ports/index.ts';
import { storedSignatureRules, type RequestSigningPolicyInput } from '../domain/signing/index.ts';
import { timeline } from '../projections/audit/index.ts';
import { capture } from './support/cli.ts';
import { operator, T0 } from './support/fleet.ts';
import { AUDIENCE, recordSignedAndAltered } from './support/signed-fleet.ts';
import { readModelRows } from './support/signed-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-audit-rules-');
const alice = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const bob = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const keyOf = (publicKey: Uint8Array) => ({ actorId: operator.id, roles: ['operator' as const], algorithm: 'ed25519' as const, publicKey: toBase64url(publicKey) });
const policy = { audience: AUDIENCE, require: 'all' as const, keys: [keyOf(alice.publicKey)] };
const STREAMS = ['subscription-sub-1', 'subscription-sub-2', 'subscription-sub-3'];

const statuses = (dir: string, streams: readonly string[] = STREAMS) => {
  const db = openReadModels({ dir });
  try {
    return streams.map((s) => timeline(db, s).map((e) => e.signature.status));
  } finally {
    db.close();
  }
};

/** Another copy of sub-1's signed request on other data, like sub-2: its signature does not verify. */
const appendAlteredCopy = async (store: EventStore, subscriptionId: string): Promise<void> => {
  const [stored] = await store.readStream('subscription-sub-1');
  await store.appendToStream(
    `subscription-${subscriptionId}`,
    [{ id: crypto.randomUUID(), type: 'SubscriptionCreated', data: { ...stored!.data, subscriptionId }, metadata: stored!.metadata }],
    { expectedRevision: ExpectedRevision.noStream },
  );
};

/**
 * The reproduced scenario: the library under the policy records sub-1 (verified) and sub-2 (altered: invalid); an
 * identically altered sub-3 is stored and the process ends before its read models catch up.
 */
const folderWithAnUnprojectedEvent = async (): Promise<string> => {
  const dir = folder();
  const c = openCredence({ location: { dir }, clock: new FakeClock(T0), signing: policy });
  await recordSignedAndAltered(c, alice.secretKey);
  await c.settle();
  await appendAlteredCopy(c.store, 'sub-3');
  await c.close();
  expect(statuses(dir)).toEqual([['verified'], ['invalid'], []]);
  return dir;
};

/** Opened as the service opens it: the process holding the deployment's policy, which rebuilds under it. */
const reopened = async (dir: string, signing?: RequestSigningPolicyInput) => {
  const c = openCredence({ location: { dir }, clock: new FakeClock(T0), ...(signing !== undefined ? { signing } : {}), onReadModelRulesChanged: 'rebuild' });
  const rebuilt = await c.runner.checkRules();
  await c.settle();
  await c.close();
  return rebuilt;
};

const policyFile = (dir: string, signing: RequestSigningPolicyInput): string => {
  const file = join(dir, 'signing-policy.json');
  writeFileSync(file, JSON.stringify(signing));
  return file;
};

describe('the audit trail of a data folder is extended only under the signing policy that built it', () => {
  it('a query without --signing is refused, naming both policies, and writes nothing; the service then records the unprojected event invalid', async () => {
    const dir = await folderWithAnUnprojectedEvent();
    const before = readModelRows(dir);

    const { io, out, err } = capture();
    expect(await main(['query', 'actions', '--actor', operator.id, '--data', dir], io)).toBe(1);
    const said = err.join('\n');
    expect(said).toMatch(/refused \(read_model_rules_changed\)/);
    expect(said).toContain(storedSignatureRules(policy).description);
    expect(said).toMatch(/not under no request-signing policy/);
    expect(said).toMatch(/give --signing the policy file the service of this folder runs with/);
    expect(out).toEqual([]);
    expect(readModelRows(dir)).toEqual(before);

    expect(await reopened(dir, policy)).toEqual([]);
    expect(statuses(dir)).toEqual([['verified'], ['invalid'], ['invalid']]);
  });

  it('a query with --signing giving another policy is refused as well', async () => {
    const dir = await folderWithAnUnprojectedEvent();
    const before = readModelRows(dir);
    const other = { ...policy, keys: [keyOf(bob.publicKey)] };
    const { io, out, err } = capture();
    expect(await main(['query', 'actions', '--actor', operator.id, '--data', dir, '--signing', policyFile(dir, other), '--json'], io)).toBe(1);
    expect(err).toEqual([]);
    expect(JSON.parse(out.join('\n'))).toMatchObject({
      code: 'read_model_rules_changed',
      projection: 'audit',
      recorded: storedSignatureRules(policy).description,
      given: storedSignatureRules(other).description,
    });
    expect(readModelRows(dir)).toEqual(before);
  });

  it('a query with the policy that built the audit trail extends it: the unprojected event is recorded invalid', async () => {
    const dir = await folderWithAnUnprojectedEvent();
    const { io, err } = capture();
    expect(await main(['query', 'actions', '--actor', operator.id, '--data', dir, '--signing', policyFile(dir, policy)], io), err.join('\n')).toBe(0);
    expect(statuses(dir)).toEqual([['verified'], ['invalid'], ['invalid']]);
  });

  it('rebuilding another read model without --signing leaves the audit trail as its policy built it', async () => {
    const dir = await folderWithAnUnprojectedEvent();
    const audit = readModelRows(dir)['audit_events'];
    const { io, err } = capture();
    expect(await main(['projections', 'rebuild', 'compliance', '--data', dir], io), err.join('\n')).toBe(0);
    expect(readModelRows(dir)['audit_events']).toEqual(audit);
  });

  it('a service restarted with another trusted key rebuilds the audit trail from position 0 and judges every stored signature by it', async () => {
    const dir = await folderWithAnUnprojectedEvent();
    expect(await reopened(dir, policy)).toEqual([]);
    expect(statuses(dir)).toEqual([['verified'], ['invalid'], ['invalid']]);

    // Alice's key retired, Bob's trusted: her signature no longer verifies under the deployment's policy.
    const rotated = { ...policy, keys: [keyOf(bob.publicKey)] };
    const rebuilt = await reopened(dir, rotated);
    expect(rebuilt).toEqual([{ name: 'audit', recorded: storedSignatureRules(policy), given: storedSignatureRules(rotated) }]);
    expect(statuses(dir)).toEqual([['invalid'], ['invalid'], ['invalid']]);

    // The same policy again: nothing to rebuild.
    expect(await reopened(dir, rotated)).toEqual([]);
  });

  it('an audit trail an earlier version built, with no policy recorded, is refused to a query and rebuilt by the service', async () => {
    const dir = await folderWithAnUnprojectedEvent();
    const db = openReadModels({ dir });
    db.exec('DROP TABLE projection_rules');
    db.close();
    const before = readModelRows(dir);

    const { io, err } = capture();
    expect(await main(['query', 'actions', '--actor', operator.id, '--data', dir, '--signing', policyFile(dir, policy)], io)).toBe(1);
    expect(err.join('\n')).toMatch(/built under rules it did not record \(an earlier version of Credence built it\)/);
    expect(readModelRows(dir)).toEqual(before);

    expect((await reopened(dir, policy)).map((c) => [c.name, c.recorded])).toEqual([['audit', undefined]]);
    expect(statuses(dir)).toEqual([['verified'], ['invalid'], ['invalid']]);
  });
});

describe('the rules of a stored signature check name what decides its statuses, and nothing else', () => {
  const rules = storedSignatureRules(policy);

  it('the fingerprint changes with the audience, a key or its retirement', () => {
    for (const changed of [
      { ...policy, audience: 'credence:elsewhere' },
      { ...policy, keys: [keyOf(bob.publicKey)] },
      { ...policy, keys: [{ ...keyOf(alice.publicKey), actorId: 'someone-else' }] },
      { ...policy, keys: [{ ...keyOf(alice.publicKey), roles: ['operator' as const, 'auditor' as const] }] },
      { ...policy, keys: [{ ...keyOf(alice.publicKey), retiredAt: '2026-06-01T00:00:00Z' }] },
    ]) {
      expect(storedSignatureRules(changed).fingerprint).not.toBe(rules.fingerprint);
    }
  });

  it('the fingerprint ignores what only the engine enforces (require, exemptRoles, lifetime, clock skew) and the order of roles (review 145)', () => {
    const twoRoles = (roles: ('operator' | 'auditor')[]) => storedSignatureRules({ ...policy, keys: [{ ...keyOf(alice.publicKey), roles }] }).fingerprint;
    expect(storedSignatureRules({ ...policy, require: 'none', exemptRoles: ['auditor'] })).toEqual(rules);
    expect(storedSignatureRules({ ...policy, maxLifetimeSeconds: 120, clockSkewSeconds: 5 })).toEqual(rules);
    expect(twoRoles(['operator', 'auditor'])).toBe(twoRoles(['auditor', 'operator']));
    expect(rules.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(rules.description).toBe(`the request-signing policy of "${AUDIENCE}" (1 key; fingerprint ${rules.fingerprint.slice(0, 16)})`);
  });
});
