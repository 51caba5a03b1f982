/**
 * Review 137: since review 133, `credence token rotate-key` took a current signing key the PKCS#11 token does not hold
 * for one destroyed there. Given another token than the folder's (CREDENCE_SECURE_ENVIRONMENT naming it), it exited 0,
 * withdrew the folder's real key, revoked every token it signed, made the new key in the wrong token and recorded it
 * as current: the folder's own token then refused `token create` and `serve`. Now such a key is withdrawn only on the
 * operator's word (`--withdraw-missing <its handle>`), and never by a token shown not to be the folder's (it holds
 * none of the other keys the folder names: a retired signing key of access.db, the log key transparency.handle names).
 */
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { signingKeyHandles } from '../adapters/driven/access/signing-key-handles.ts';
import { serviceConfig } from '../adapters/http/config.ts';
import { startService } from '../adapters/http/start.ts';
import { capture } from './support/cli.ts';
import { softHsm, softHsmMissing, type TestToken } from './support/softhsm.ts';

type Env = Readonly<Record<string, string>>;
const run = async (args: string[], env: Env) => {
  const c = capture();
  const code = await main(args, { ...c.io, env });
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};
const states = async (data: string, env: Env): Promise<Record<string, string>> => {
  const list = await run(['token', 'list', '--all', '--json', '--data', data], env);
  expect(list.code).toBe(0);
  return Object.fromEntries((JSON.parse(list.out) as { tokens: { subject: string; state: string }[] }).tokens.map((t) => [t.subject, t.state]));
};
const current = (data: string): string => signingKeyHandles(data).find((k) => k.retiredAt === undefined)!.handle;

describe.skipIf(softHsmMissing !== undefined)('token rotate-key with a PKCS#11 token that does not hold the current signing key', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  // Both made before the module is first opened in this process (support/softhsm.ts).
  const folders = hsm.token('folders');
  const another = hsm.token('another');
  const envOf = (t: TestToken): Env => ({ CREDENCE_SECURE_ENVIRONMENT: t.uri().replace(/&pin-source=[^&]*/, ''), CREDENCE_PKCS11_PIN: t.pin });
  const [right, wrong] = [envOf(folders), envOf(another)];
  /** What a refused command must leave as it was: access.db, and what each token holds. */
  const snapshot = (data: string) => ({
    accessDb: createHash('sha256').update(readFileSync(join(data, 'access.db'))).digest('hex'),
    keys: signingKeyHandles(data),
    folders: hsm.listObjects(folders),
    another: hsm.listObjects(another),
  });

  it('is refused by default, naming the key and both causes; another handle is bad usage; nothing written', async () => {
    const data = join(hsm.dir, 'plain');
    expect((await run(['token', 'create', '--role', 'auditor', '--subject', 'alice', '--ttl', '1h', '--data', data], right)).code).toBe(0);
    const handle = current(data);
    const before = snapshot(data);

    const refused = await run(['token', 'rotate-key', '--data', data], wrong);
    // A refusal by the folder, exit 1 as serve answers it (review 230: the token commands said exit 2).
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`signing key ${handle} that access.db records as current is not in the PKCS#11 token`);
    expect(refused.err).toMatch(/Either that token is not the folder's: .*check CREDENCE_SECURE_ENVIRONMENT, or the --config file/);
    expect(refused.err).toContain(`or the key was destroyed there`);
    expect(refused.err).toContain(`credence token rotate-key --withdraw-missing ${handle}`);
    // Review 133's message asserted the cause as fact.
    expect(refused.err).not.toMatch(/: it was destroyed there|no longer in the PKCS#11 token/);
    expect((await run(['token', 'rotate-key', '--withdraw-previous', '--data', data], wrong)).code).toBe(1);
    expect((await run(['token', 'rotate-key', '--withdraw-missing', 'key_AAAAAAAAAAAAAAAAAAAAAAAA', '--data', data], wrong)).code).toBe(2);
    expect((await run(['token', 'rotate-key', '--withdraw-missing', 'key_AAAAAAAAAAAAAAAAAAAAAAAA', '--data', data], wrong)).err).toContain(
      `--withdraw-missing: key_AAAAAAAAAAAAAAAAAAAAAAAA is not the current API token signing key the Secure Environment does not hold: that is ${handle}`,
    );
    expect(snapshot(data)).toEqual(before);
    expect(await states(data, right)).toEqual({ alice: 'active' });
    // The folder's own token still signs: nothing was withdrawn.
    expect((await run(['token', 'create', '--role', 'auditor', '--subject', 'bob', '--ttl', '1h', '--data', data], right)).code).toBe(0);
    // With the folder's token, --withdraw-missing of a key it holds is bad usage.
    const held = await run(['token', 'rotate-key', '--withdraw-missing', handle, '--data', data], right);
    expect(held.code).toBe(2);
    expect(held.err).toContain(`holds the current API token signing key access.db names (${handle}), nothing is missing`);
  });

  it('with --withdraw-missing, is refused when the token holds none of the retired keys access.db names', async () => {
    const data = join(hsm.dir, 'retired');
    expect((await run(['token', 'create', '--role', 'auditor', '--subject', 'alice', '--ttl', '1h', '--data', data], right)).code).toBe(0);
    // The first key retired, still verifying alice's token: a key of the folder the folder's token holds.
    expect((await run(['token', 'rotate-key', '--data', data], right)).code).toBe(0);
    const handle = current(data);
    const before = snapshot(data);

    const refused = await run(['token', 'rotate-key', '--withdraw-missing', handle, '--data', data], wrong);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(new RegExp(`signing key ${handle} .*, and neither is any other key the data folder names \\(a retired API token signing key access\\.db names, key_`));
    expect(refused.err).toContain("this token is not the folder's, and nothing was withdrawn");
    expect(snapshot(data)).toEqual(before);
    expect(await states(data, right)).toEqual({ alice: 'active' });
  });

  it('with --withdraw-missing, is refused when the token does not hold the log key transparency.handle names; the folder token withdraws', async () => {
    const data = join(hsm.dir, 'served');
    const backup = join(hsm.dir, 'served.backup');
    // Served once: the log key made in the folder's token, transparency.handle naming it.
    const service = await startService(serviceConfig({ host: '127.0.0.1', port: 0, logLevel: 'error', durability: 'normal', data, secureEnvironment: folders.uri() }));
    await service.close();
    expect((await run(['token', 'create', '--role', 'auditor', '--subject', 'alice', '--ttl', '1h', '--data', data], right)).code).toBe(0);
    cpSync(data, backup, { recursive: true, preserveTimestamps: true });
    // The current key withdrawn (destroyed in the token), then the folder restored from before.
    expect((await run(['token', 'rotate-key', '--withdraw-previous', '--data', data], right)).code).toBe(0);
    rmSync(data, { recursive: true });
    cpSync(backup, data, { recursive: true, preserveTimestamps: true });
    const handle = current(data);
    const before = snapshot(data);

    const refused = await run(['token', 'rotate-key', '--withdraw-missing', handle, '--data', data], wrong);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/neither is any other key the data folder names \(the log key transparency\.handle names, key_\S+\): this token is not the folder's/);
    expect(snapshot(data)).toEqual(before);

    // The folder's token holds the log key: the operator's word is taken there.
    const withdrawn = await run(['token', 'rotate-key', '--withdraw-missing', handle, '--data', data], right);
    expect(withdrawn.code).toBe(0);
    expect(withdrawn.err).toContain(`key ${handle}, not in the token (destroyed there, as --withdraw-missing says`);
    expect(await states(data, right)).toEqual({ alice: 'revoked' });
    expect((await run(['token', 'create', '--role', 'auditor', '--subject', 'bob', '--ttl', '1h', '--data', data], right)).code).toBe(0);
  });
});
