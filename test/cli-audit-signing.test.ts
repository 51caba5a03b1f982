import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openReadModels } from '../adapters/driven/readmodels/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { timeline } from '../projections/audit/index.ts';
import { capture } from './support/cli.ts';
import { operator, T0 } from './support/fleet.ts';
import { AUDIENCE, recordSignedAndAltered } from './support/signed-fleet.ts';

const alice = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const policy = { audience: AUDIENCE, require: 'all' as const, keys: [{ actorId: operator.id, roles: ['operator' as const], algorithm: 'ed25519' as const, publicKey: toBase64url(alice.publicKey) }] };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'credence-cli-signing-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const statuses = (streams: readonly string[]) => {
  const db = openReadModels({ dir });
  try {
    return streams.map((s) => timeline(db, s).map((e) => e.signature.status));
  } finally {
    db.close();
  }
};

/** A data folder holding one validly signed event and one whose recorded data was altered after signing. */
const signedFleet = async (): Promise<void> => {
  const c = openCredence({ location: { dir }, clock: new FakeClock(T0), signing: policy });
  await recordSignedAndAltered(c, alice.secretKey);
  await c.settle();
  await c.close();
};

describe('the audit trail has one wiring for the library and the CLI (regression: the CLI dropped the signature check)', () => {
  it('a rebuild through `credence projections rebuild audit --signing` records what the library recorded', async () => {
    await signedFleet();
    const library = statuses(['subscription-sub-1', 'subscription-sub-2']);
    expect(library).toEqual([['verified'], ['invalid']]);

    const policyFile = join(dir, 'signing-policy.json');
    writeFileSync(policyFile, JSON.stringify(policy));
    const { io, err } = capture();
    expect(await main(['projections', 'rebuild', 'audit', '--data', dir, '--signing', policyFile], io), err.join('\n')).toBe(0);
    expect(statuses(['subscription-sub-1', 'subscription-sub-2'])).toEqual(library);
  });

  it('`credence query` catches the audit trail up with the same signature check', async () => {
    await signedFleet();
    // Forget the read models: the query rebuilds them through the CLI path alone.
    rmSync(join(dir, 'readmodels.db'), { force: true });
    rmSync(join(dir, 'readmodels.db-wal'), { force: true });
    rmSync(join(dir, 'readmodels.db-shm'), { force: true });
    const policyFile = join(dir, 'signing-policy.json');
    writeFileSync(policyFile, JSON.stringify(policy));
    const { io, err } = capture();
    expect(await main(['query', 'actions', '--actor', operator.id, '--data', dir, '--signing', policyFile], io), err.join('\n')).toBe(0);
    expect(statuses(['subscription-sub-1', 'subscription-sub-2'])).toEqual([['verified'], ['invalid']]);
  });

  it('refuses an unusable --signing file with exit 2, naming the field', async () => {
    await signedFleet();
    const policyFile = join(dir, 'bad-policy.json');
    writeFileSync(policyFile, JSON.stringify({ keys: [{ actorId: operator.id, algorithm: 'rsa', publicKey: 'x' }] }));
    const { io, err } = capture();
    expect(await main(['projections', 'rebuild', 'audit', '--data', dir, '--signing', policyFile], io)).toBe(2);
    expect(err.join('\n')).toMatch(/--signing: keys\.0\.algorithm/);
  });
});
