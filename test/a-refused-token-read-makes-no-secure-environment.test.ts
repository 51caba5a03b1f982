/**
 * Review 46: `credence token list --data D` on a folder whose access.db names a signing key its data folder does not
 * hold (a folder served with PKCS#11, the command not given CREDENCE_SECURE_ENVIRONMENT) made a fresh, empty embedded
 * Secure Environment in it (secure-environment.kek, .sqlite, .wrapping-keys), then refused, asking to restore the
 * Secure Environment files it had just made. It is now refused before anything is opened: the folder is unchanged.
 * Review 131: `token list` reads access.db alone, read-only (a listing needs no key), so it lists such a folder.
 */
import { mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-token-no-se-');

/** A data folder with an access.db naming its signing key, and no embedded Secure Environment (moved aside). */
const folderWithoutItsSecureEnvironment = async (): Promise<string> => {
  const dir = scratch();
  const data = join(dir, 'data');
  const made = await runCli(['token', 'create', '--role', 'admin', '--subject', 'first-admin', '--ttl', '1h', '--data', data]);
  expect(made.code, made.err).toBe(0);
  mkdirSync(join(dir, 'elsewhere'));
  for (const name of readdirSync(data).filter((n) => n.startsWith('secure-environment'))) renameSync(join(data, name), join(dir, 'elsewhere', name));
  return data;
};

describe('a token command on a folder whose signing key no Secure Environment of it holds', () => {
  it('list lists its tokens without opening a Secure Environment, and leaves the folder as it was', async () => {
    const data = await folderWithoutItsSecureEnvironment();
    const before = readdirSync(data).sort();
    const listed = await runCli(['token', 'list', '--data', data]);
    expect(listed.code, listed.err).toBe(0);
    expect(listed.out).toContain('first-admin');
    expect(readdirSync(data).sort()).toEqual(before);
  });

  it.each([
    ['create', ['token', 'create', '--role', 'auditor', '--subject', 'a', '--ttl', '1h']],
    ['revoke', ['token', 'revoke', 'tok_AAAAAAAAAAAAAAAAAAAAAA']],
  ])('%s is refused naming the missing key, and leaves the folder as it was', async (_, args) => {
    const data = await folderWithoutItsSecureEnvironment();
    const before = readdirSync(data).sort();
    const refused = await runCli([...args, '--data', data]);
    expect(refused.err).toContain('recorded in access.db is missing');
    expect(refused.err).toContain('CREDENCE_SECURE_ENVIRONMENT');
    // A refusal by the folder, exit 1 as serve and every other command answer it (review 230: it was exit 2).
    expect(refused.code).toBe(1);
    expect(readdirSync(data).sort()).toEqual(before);
    expect(before.some((n) => n.startsWith('secure-environment'))).toBe(false);
  });
});
