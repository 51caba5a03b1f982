/**
 * Review 166: a token integrity fault (here the API token signing key's public half deleted from the token, as
 * `pkcs11-tool --delete-object --type pubkey` does) is the token's condition, `secure_environment_unavailable`. Typed as
 * a `validation` issue, `credence token create` took it for a bad setting and exited 2 (usage), telling a script the
 * command line was wrong; now it is a refusal, exit 1, naming the reason.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { softHsm, softHsmMissing, SOFTHSM_MODULE } from './support/softhsm.ts';

type Env = Readonly<Record<string, string>>;
const run = async (args: string[], env: Env) => {
  const c = capture();
  const code = await main(args, { ...c.io, env });
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

describe.skipIf(softHsmMissing !== undefined)('credence token create with a key pair of the token missing its public half', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('cli-halfpair');
  const env = { CREDENCE_SECURE_ENVIRONMENT: token.uri().replace(/&pin-source=[^&]*/, ''), CREDENCE_PKCS11_PIN: token.pin };

  /** Every public key object's CKA_ID (hex) that pkcs11-tool lists: the folder's signing keys. */
  const publicKeyIds = (): string[] =>
    hsm
      .listObjects(token)
      .split(/\n(?=\S)/)
      .filter((block) => block.startsWith('Public Key Object'))
      .map((block) => /^\s*ID:\s*([0-9a-f]+)/m.exec(block)?.[1])
      .filter((id): id is string => id !== undefined);

  it('exits 1 as a refusal of the Secure Environment (token_integrity), not 2 as bad usage', async () => {
    const data = join(hsm.dir, 'data');
    const create = ['token', 'create', '--role', 'auditor', '--subject', 'alice', '--ttl', '1h', '--data', data];
    expect((await run(create, env)).code).toBe(0);
    const ids = publicKeyIds();
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) {
      execFileSync('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', token.label, '--login', '--pin', token.pin, '--delete-object', '--type', 'pubkey', '--id', id], { stdio: 'ignore' });
    }

    const refused = await run(create, env);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/refused \(secure_environment_unavailable\)/);
    expect(refused.err).toMatch(/public key object is missing/);
  }, 60_000);
});
