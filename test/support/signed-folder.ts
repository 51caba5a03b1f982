import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { FakeClock } from '../../adapters/driven/clock/index.ts';
import { openReadModels } from '../../adapters/driven/readmodels/index.ts';
import { openCredence } from '../../adapters/runtime/index.ts';
import { generateSigningKey, toBase64url } from '../../domain/crypto/index.ts';
import type { RequestSigningPolicyInput } from '../../domain/signing/index.ts';
import { timeline } from '../../projections/audit/index.ts';
import { operator, T0 } from './fleet.ts';
import { AUDIENCE, recordSignedAndAltered } from './signed-fleet.ts';

/** A data folder whose audit trail a signing policy built, and what tests compare it by. */
const alice = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const bob = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const keyOf = (publicKey: Uint8Array) => ({ actorId: operator.id, roles: ['operator' as const], algorithm: 'ed25519' as const, publicKey: toBase64url(publicKey) });

/** The deployment's policy (Alice's key trusted), and another one (Bob's instead). */
export const policy: RequestSigningPolicyInput = { audience: AUDIENCE, require: 'all', keys: [keyOf(alice.publicKey)] };
export const otherPolicy: RequestSigningPolicyInput = { ...policy, keys: [keyOf(bob.publicKey)] };

/** The audit trail's signature statuses of sub-1 (signed by Alice) and sub-2 (altered after signing). */
export const statuses = (dir: string): string[][] => {
  const db = openReadModels({ dir });
  try {
    return ['subscription-sub-1', 'subscription-sub-2'].map((s) => timeline(db, s).map((e) => e.signature.status));
  } finally {
    db.close();
  }
};

/** Every row of every table of the folder's read models: what "nothing written" compares. */
export const readModelRows = (dir: string): Record<string, unknown[]> => {
  const db = openReadModels({ dir });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
    return Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT * FROM "${t}"`).all()]));
  } finally {
    db.close();
  }
};

/** `dir` as the service under `policy` leaves it: sub-1 verified, sub-2 invalid, every read model at the head. */
export const folderBuiltUnderThePolicy = async (dir: string): Promise<string> => {
  const c = openCredence({ location: { dir }, clock: new FakeClock(T0), signing: policy });
  await recordSignedAndAltered(c, alice.secretKey);
  await c.settle();
  await c.close();
  expect(statuses(dir)).toEqual([['verified'], ['invalid']]);
  return dir;
};

/** `signing` as the JSON file `--signing` reads, in `dir`. */
export const policyFile = (dir: string, signing: RequestSigningPolicyInput, name = 'signing-policy.json'): string => {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(signing));
  return file;
};
