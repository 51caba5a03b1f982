/**
 * Review 133: a PKCS#11 token is no part of the data folder, so a whole-folder restore from before a rotation whose
 * old key the token has destroyed since brings back an access.db naming, as current, a key the token no longer holds.
 * The folder was locked: `serve`, `token create` and even `token rotate-key --withdraw-previous` (README restore step
 * 3) were refused `access_signing_key_present` with the embedded Secure Environment's advice (restore
 * secure-environment.sqlite, .wrapping-keys, the KEK; "give this command the same" PKCS#11 one, which it was). Now
 * they say the token in use does not hold the key, and why (another token than the folder's, or the key destroyed
 * there, which a restore cannot bring back), and `token rotate-key --withdraw-missing <handle>` makes a new key and
 * withdraws the missing one (its tokens revoked). Review 137: only with that flag naming it; without, the rotation is
 * refused, as it must be with another token (test/pkcs11-token-rotate-key-with-another-token-withdraws-nothing.test.ts).
 * With the embedded Secure Environment, a key its key database does not hold is refused as before, rotation included:
 * restoring its files brings the key back.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { startServe } from './support/serve-process.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';

type Env = Readonly<Record<string, string>>;
const run = async (args: string[], env: Env) => {
  const c = capture();
  const code = await main(args, { ...c.io, env });
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};
const listed = async (data: string, env: Env): Promise<{ tokenId: string; subject: string; state: string }[]> => {
  const list = await run(['token', 'list', '--all', '--json', '--data', data], env);
  expect(list.code).toBe(0);
  return (JSON.parse(list.out) as { tokens: { tokenId: string; subject: string; state: string }[] }).tokens;
};
/** Each token's state by its subject. */
const states = async (data: string, env: Env): Promise<Record<string, string>> => Object.fromEntries((await listed(data, env)).map((t) => [t.subject, t.state]));
const EMBEDDED_ADVICE = /secure-environment\.sqlite|CREDENCE_KEK_FILE|give this command the same one/;

describe.skipIf(softHsmMissing !== undefined)('access.db restored from before its current signing key was destroyed in the token', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('access-restore');
  const uri = token.uri().replace(/&pin-source=[^&]*/, '');
  const env = { CREDENCE_SECURE_ENVIRONMENT: uri, CREDENCE_PKCS11_PIN: token.pin };

  it('is refused saying the token does not hold it, and token rotate-key --withdraw-missing replaces it, withdrawing its tokens', async () => {
    const data = join(hsm.dir, 'data');
    const backup = join(hsm.dir, 'data.backup');
    for (const subject of ['alice', 'carol']) expect((await run(['token', 'create', '--role', 'auditor', '--subject', subject, '--ttl', '1h', '--data', data], env)).code).toBe(0);
    cpSync(data, backup, { recursive: true, preserveTimestamps: true });
    // Withdrawn: the tokens revoked and the key destroyed in the token at once (as a plain rotation's prune does
    // once its last token ends).
    expect((await run(['token', 'rotate-key', '--withdraw-previous', '--data', data], env)).code).toBe(0);
    // The whole folder restored from the backup; the token is as it is.
    rmSync(data, { recursive: true });
    cpSync(backup, data, { recursive: true, preserveTimestamps: true });

    const create = await run(['token', 'create', '--role', 'auditor', '--subject', 'bob', '--ttl', '1h', '--data', data], env);
    expect(create.code).toBe(1); // a refusal by the folder, as serve answers it (review 230: it was exit 2)
    expect(create.err).toMatch(/signing key key_\S+ that access\.db records as current is not in the PKCS#11 token/);
    expect(create.err).toMatch(/a restore of the data folder brings back no key of a token.*run credence token rotate-key --withdraw-missing key_/);
    const handle = /signing key (key_\S+) that/.exec(create.err)![1]!;
    expect(create.err).not.toMatch(EMBEDDED_ADVICE);

    const serve = startServe(['--data', data, '--port', '0', '--secure-environment', uri], { PORT: '', CREDENCE_PKCS11_PIN: token.pin }, /^Credence listening on /m);
    await expect(serve.ready).rejects.toThrow(/signing key key_\S+ that access\.db records as current is not in the PKCS#11 token/);
    expect(await serve.exitCode()).not.toBe(0);
    expect(serve.err).not.toMatch(EMBEDDED_ADVICE);

    // README restore step 2 (revoking again) and step 3 (the rotation) run.
    const carol = (await listed(data, env)).find((t) => t.subject === 'carol')!.tokenId;
    expect((await run(['token', 'revoke', carol, '--data', data], env)).code).toBe(0);
    expect(await states(data, env)).toEqual({ alice: 'active', carol: 'revoked' });
    // Review 137: not on the command's guess (the token could be another than the folder's), nothing written.
    const accessDb = readFileSync(join(data, 'access.db'));
    const refused = await run(['token', 'rotate-key', '--data', data], env);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`run credence token rotate-key --withdraw-missing ${handle}`);
    expect(readFileSync(join(data, 'access.db'))).toEqual(accessDb);
    expect(await states(data, env)).toEqual({ alice: 'active', carol: 'revoked' });
    const rotated = await run(['token', 'rotate-key', '--withdraw-missing', handle, '--data', data], env);
    expect(rotated.code).toBe(0);
    expect(rotated.err).toContain(`key ${handle}, not in the token (destroyed there, as --withdraw-missing says; a restore brings no key of a token back): withdrawn`);
    expect(rotated.err).toContain('1 token(s) signed with the previous key(s) revoked');
    expect(await states(data, env)).toEqual({ alice: 'revoked', carol: 'revoked' });
    expect((await run(['token', 'create', '--role', 'auditor', '--subject', 'bob', '--ttl', '1h', '--data', data], env)).code).toBe(0);
    expect(await states(data, env)).toEqual({ alice: 'revoked', carol: 'revoked', bob: 'active' });
  });

  it('with the embedded Secure Environment, a current key its key database does not hold is still refused, rotation too', async () => {
    const [a, b] = [mkdtempSync(join(tmpdir(), 'credence-access-a-')), mkdtempSync(join(tmpdir(), 'credence-access-b-'))];
    try {
      for (const data of [a, b]) expect((await run(['token', 'create', '--role', 'auditor', '--subject', 'alice', '--ttl', '1h', '--data', data], {})).code).toBe(0);
      // b's key database with a's access.db: the key is in a's files, which a restore of them brings back.
      cpSync(join(a, 'access.db'), join(b, 'access.db'));
      for (const args of [['token', 'rotate-key'], ['token', 'rotate-key', '--withdraw-previous']]) {
        const refused = await run([...args, '--data', b], {});
        expect(refused.code).toBe(1);
        expect(refused.err).toMatch(/is missing from the data folder's Secure Environment \(secure-environment\.sqlite/);
      }
      expect(await states(b, {})).toEqual({ alice: 'active' });
    } finally {
      for (const dir of [a, b]) rmSync(dir, { recursive: true, force: true });
    }
  });
});
