/**
 * Review 81: `credence token list --data shared` on an existing folder no token was ever issued in (a 0755 folder
 * holding someone's readme) made access.db, a signing key and the embedded Secure Environment's files (its KEK among
 * them) in it; `token revoke` and `token rotate-key` did the same. Only `token create` makes them now: the others
 * are refused, naming the folder and what makes access.db, and the folder is left as it was.
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-token-no-access-db-');

describe('a token command other than create, on a folder without access.db', () => {
  it.each([
    ['list', ['token', 'list']],
    ['revoke', ['token', 'revoke', 'tok_AAAAAAAAAAAAAAAAAAAAAA']],
    ['rotate-key', ['token', 'rotate-key']],
  ])('%s is refused (exit 2) and writes nothing in the folder', async (_, args) => {
    const shared = join(scratch(), 'shared');
    mkdirSync(shared, { mode: 0o755 });
    writeFileSync(join(shared, 'readme.txt'), 'not a data folder\n');
    const mode = statSync(shared).mode;
    const refused = await runCli([...args, '--data', shared]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`--data: ${shared} holds no access.db: no token was issued with this data folder (credence token create makes it)`);
    expect(readdirSync(shared)).toEqual(['readme.txt']);
    expect(statSync(shared).mode).toBe(mode);
  });

  it('create still makes the folder what the others then read', async () => {
    const data = join(scratch(), 'data');
    expect((await runCli(['token', 'create', '--role', 'admin', '--subject', 'first-admin', '--ttl', '1h', '--data', data])).code).toBe(0);
    const listed = await runCli(['token', 'list', '--data', data]);
    expect(listed.code, listed.err).toBe(0);
    expect(listed.out).toContain('first-admin');
  });
});
