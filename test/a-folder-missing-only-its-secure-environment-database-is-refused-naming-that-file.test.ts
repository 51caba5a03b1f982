import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { startTestService } from './support/service.ts';
import { folderSnapshot, servedFolderWith } from './support/served-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 286 L2: a served folder whose secure-environment.sqlite alone was lost (its KEK and wrapping-key file in
 * place) was refused `log_key_in_secure_environment` with advice for an HSM ("open the folder with that Secure
 * Environment, --secure-environment"), never naming the missing file. It is the embedded Secure Environment's database
 * that is missing: the refusal names it and says to restore it with keys.db from one backup.
 */
const scratch = temporaryFolders('credence-secure-environment-database-missing-');

describe('a served folder missing only secure-environment.sqlite', () => {
  it('is refused naming that file and restoring it with keys.db from one backup; nothing is written', async () => {
    const dir = scratch();
    await servedFolderWith(dir, ['meter-1']);
    expect(existsSync(join(dir, 'transparency.handle'))).toBe(true);
    expect(existsSync(join(dir, 'secure-environment.kek'))).toBe(true);
    expect(existsSync(join(dir, 'secure-environment.wrapping-keys'))).toBe(true);
    for (const name of readdirSync(dir).filter((n) => n.startsWith('secure-environment.sqlite'))) rmSync(join(dir, name));
    const before = folderSnapshot(dir);

    await expect(startTestService({ dir })).rejects.toThrow(
      expect.objectContaining({
        problem: expect.objectContaining({ issues: [expect.objectContaining({ path: 'data', rule: 'secure_environment_database_missing' })] }),
      }),
    );
    expect(folderSnapshot(dir)).toEqual(before);

    const served = await runCli(['serve', '--data', dir, '--port', '0', '--log-level', 'silent']);
    expect(served.code).not.toBe(0);
    expect(served.err).toContain(join(dir, 'secure-environment.sqlite'));
    expect(served.err).toMatch(/missing/);
    expect(served.err).toMatch(/keys\.db[^.]*one backup|one backup[^.]*keys\.db/);
    expect(served.err).not.toMatch(/open the folder with that Secure Environment/);
    expect(folderSnapshot(dir)).toEqual(before);
  }, 120_000);

  it('with none of the embedded Secure Environment\'s files there (its key in an HSM, say), still says to open it with that Secure Environment', async () => {
    const dir = scratch();
    await servedFolderWith(dir, ['meter-1']);
    for (const name of readdirSync(dir).filter((n) => n.startsWith('secure-environment.'))) rmSync(join(dir, name));

    const served = await runCli(['serve', '--data', dir, '--port', '0', '--log-level', 'silent']);
    expect(served.code).not.toBe(0);
    expect(served.err).toMatch(/open the folder with that Secure Environment/);
  }, 120_000);
});
