/**
 * Review 182, finding 1: the service reads its request-signing policy file once, at start. A key given `retiredAt`
 * in the file of a running service still signed new commands (201, `verified`) until a restart, and nothing said so.
 * The documents now say a change takes effect at the next start, the start says at info which policy is in force
 * (how many keys, never a key), and a running service says at warn, once, that its file changed since it was read.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import type { RequestSigningPolicyInput } from '../domain/signing/index.ts';
import { startTestService, type TestService } from './support/service.ts';

const key = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const publicKey = toBase64url(key.publicKey);
const policy: RequestSigningPolicyInput = {
  audience: 'credence:policy-change-test',
  require: ['revokeNode'],
  keys: [{ actorId: 'test-operator', roles: ['operator'], algorithm: 'ed25519', publicKey }],
};

let folder: string;
let file: string;
let svc: TestService;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'credence-policy-change-'));
  file = join(folder, 'signing.json');
  writeFileSync(file, JSON.stringify(policy));
  svc = await startTestService({ config: { signing: file } });
}, 60_000);

afterAll(async () => {
  await svc?.close();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

const logged = () => svc.logs().map((line) => JSON.parse(line) as { level: number; msg: string; [k: string]: unknown });
const policyLines = () => logged().filter((l) => /request-signing policy/.test(l.msg));
const until = async (done: () => boolean, ms = 5_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
};

describe('a signing policy changed under a running service (review 182, finding 1)', () => {
  it('the policy in force is said at info, by its key count, never a key', async () => {
    await until(() => policyLines().length > 0);
    const [inForce] = policyLines();
    expect(inForce).toMatchObject({ level: 30, signing: file, keys: 1, retiredKeys: 0, audience: policy.audience });
    expect(JSON.stringify(svc.logs())).not.toContain(publicKey);
  });

  it('a change to the file is warned of once, as taking effect at the next start', async () => {
    const retired = { ...policy, keys: [{ ...policy.keys![0]!, retiredAt: new Date().toISOString() }] };
    writeFileSync(file, JSON.stringify(retired, null, 2));
    const warned = () => policyLines().filter((l) => l.level === 40);
    await until(() => warned().length > 0);
    expect(warned()).toHaveLength(1);
    expect(warned()[0]).toMatchObject({ signing: file });
    expect(warned()[0]!.msg).toMatch(/changed since.*restart/);

    // Changed again: said already, not again.
    writeFileSync(file, JSON.stringify(policy));
    await new Promise((r) => setTimeout(r, 2_500));
    expect(warned()).toHaveLength(1);
  });
});
