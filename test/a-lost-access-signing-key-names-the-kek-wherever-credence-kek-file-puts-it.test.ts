/**
 * access.db naming a signing key the Secure Environment does not hold says which files to restore. It named
 * secure-environment.kek as one of the folder's files, which is untrue when CREDENCE_KEK_FILE keeps the KEK outside
 * the folder (review 47 item 4): an operator restoring the folder's files would look for a KEK that was never there.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openAccessControl } from '../adapters/http/auth/open-access-control.ts';
import { secureEnvironmentConfigForDataDir } from '../adapters/runtime/index.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-lost-signing-key-');

describe('the refusal of a token signing key the Secure Environment does not hold', () => {
  it('names the KEK as the folder file or the file CREDENCE_KEK_FILE names, not as a folder file only', async () => {
    const dir = join(scratch(), 'data');
    const kek = join(scratch(), 'outside.kek');
    const env = { CREDENCE_KEK_FILE: kek };
    (await openAccessControl(dir, { env })).close();
    // The folder's Secure Environment files are lost; the KEK outside it is not.
    const se = secureEnvironmentConfigForDataDir(dir);
    for (const file of [se.database, se.wrappingKeys!]) rmSync(file, { force: true });
    const refusal = await openAccessControl(dir, { env }).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(refusal?.message).toMatch(/missing from the data folder's Secure Environment/);
    expect(refusal?.message).toContain('secure-environment.sqlite, secure-environment.wrapping-keys, and the KEK: secure-environment.kek, or the file CREDENCE_KEK_FILE names');
    expect(refusal?.message).not.toMatch(/secure-environment\.wrapping-keys, secure-environment\.kek\)/);
  });
});
